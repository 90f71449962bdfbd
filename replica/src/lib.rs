//! The built-in replicated key-value store served by `faultline node`.
//!
//! One process is one node; its replication mode is a flag (`config::Mode`): primary/backup log
//! shipping (`leader`), multi-leader (`multi`), Dynamo-style (`leaderless`) and consensus
//! (`raft`, via openraft). Every mode speaks the same line-delimited JSON client protocol
//! (`protocol`, docs/replica-protocol.md) on one port and talks to its peers on another
//! (`peer`), so client and replication traffic can be cut separately. Time comes from one
//! offsettable `clock`; durable state lives in a `wal` in the data directory.

pub mod client;
pub mod clock;
pub mod config;
pub mod kv;
pub mod leader;
pub mod leaderless;
pub mod multi;
pub mod node;
pub mod peer;
pub mod protocol;
pub mod raft;
pub mod ring;
pub mod server;
pub mod versioned;
pub mod wal;

pub use config::{Config, Mode};
pub use node::run;
