//! Target adapters: what runs on the nodes. Each implements
//! [`faultline_core::target::Target`].
//!
//! - `memory`: an in-process, linearizable store; no nodes to start, trivially fast clients.
//!   For tests without root and for measuring the harness itself.
//! - `replica`: the built-in replicated store (`faultline node`), one process per node in
//!   the environment, spoken to over its line-delimited JSON protocol
//!   (CONTRACT-replica.md / docs/replica-protocol.md).
//! - `etcd`, `redis`, `postgres`: real systems from Debian's packages (docs/targets.md);
//!   `external`: a user's own system described in TOML. Built by [`real::build`].

pub mod memory;
pub mod replica;

pub mod etcd;
pub mod external;
pub mod faketime;
pub mod install;
pub mod ops;
pub mod outcome;
pub mod postgres;
pub mod real;
pub mod redis;

#[cfg(test)]
mod e2e_tests;
