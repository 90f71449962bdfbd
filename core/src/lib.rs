//! faultline-core: the history model every other crate speaks, and its on-disk formats.
//!
//! ```
//! use faultline_core::format::{read_str, Format};
//! let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
//!             {\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n";
//! let loaded = read_str(std::path::Path::new("h.jsonl"), text, None).unwrap();
//! assert_eq!(loaded.format, Format::Jsonl);
//! assert_eq!(loaded.history.completion(0).unwrap().kind.as_str(), "ok");
//! ```

pub mod dsl;
pub mod format;
pub mod history;
pub mod value;

pub use history::{History, HistoryBuilder, HistoryError, Op, OpType, Process};
pub use value::Value;
