//! faultline-core: the history model every other crate speaks, its on-disk formats, and the
//! harness's contracts: [`client::Client`], [`target::Target`], [`env::Env`],
//! [`nemesis::Nemesis`], pure [`generator`]s, the seeded [`rng::Rng`] and the [`run`] loop.
//!
//! ```
//! use faultline_core::format::{read_str, Format};
//! let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
//!             {\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n";
//! let loaded = read_str(std::path::Path::new("h.jsonl"), text, None).unwrap();
//! assert_eq!(loaded.format, Format::Jsonl);
//! assert_eq!(loaded.history.completion(0).unwrap().kind.as_str(), "ok");
//! ```

pub mod client;
pub mod dsl;
pub mod env;
pub mod format;
pub mod generator;
pub mod history;
pub mod nemesis;
pub mod rng;
pub mod run;
pub mod target;
pub mod value;

/// A boxed future: the traits return these so they stay object-safe (`dyn Target`).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

pub use history::{History, HistoryBuilder, HistoryError, Op, OpType, Process};
pub use value::Value;
