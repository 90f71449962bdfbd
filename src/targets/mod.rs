//! Target adapters: what runs on the nodes. Each implements
//! [`faultline_core::target::Target`].
//!
//! - `memory`: an in-process, linearizable store; no nodes to start, trivially fast clients.
//!   For tests without root and for measuring the harness itself.
//! - `replica`: the built-in replicated store (`faultline node`), one process per node in
//!   the environment, spoken to over its line-delimited JSON protocol
//!   (CONTRACT-replica.md / docs/replica-protocol.md).

pub mod memory;
pub mod replica;
