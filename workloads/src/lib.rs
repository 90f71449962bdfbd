//! Workloads: what clients do during a test, and which checkers follow from it.
//!
//! | name          | ops                                              | checked by |
//! |---------------|--------------------------------------------------|------------|
//! | `register`    | `read`, `write` (unique values), `cas [from to]` on independent keys, recorded as Jepsen `[key value]` tuples | `linearizable` (cas-register, per key) |
//! | `list-append` | `txn` of Elle micro-ops `["append", k, v]` (unique v) and `["r", k, null]` | `elle-list-append`, `session`, `prefix`, `lost` |
//! | `rw-register` | `txn` of Elle micro-ops `["w", k, v]` (unique v) and `["r", k, null]` | `elle-rw-register`, `session` |
//! | `counter`     | `add` of a delta 1–5 and `read` of the total, keys `c0`, `c1`; final reads | `lost` (counter) |
//! | `set`         | `add` of a unique element and `read` of the set, key `s`; final reads | `lost` (set-full) |
//! | `bank`        | `transfer {from, to, amount}` between 5 accounts of 100, `read` (no key) of every balance; final read | `bank` |
//! | `causal`      | `write` question `q{w}.{p}` then answer `a{w}.{p}`; `read` another's answer, then its question | `prefix` (causal), `session` |
//!
//! `counter`, `set` and `bank` come with an [`adapter::Adapter`] that speaks their ops
//! through the primitives every store has (`read`, `cas`, `append`, `txn`): wrap the target
//! with [`Bundle::wrap`]. The others use the primitives directly.
//!
//! Keys rotate: each worker moves to a fresh group of keys every few dozen ops, so every
//! key's history stays small enough to check exhaustively (Jepsen's `independent`).
//!
//! ```
//! use faultline_workloads::{by_name, Options};
//! let b = by_name("register", &Options::default()).unwrap();
//! assert!(b.independent);
//! assert!(!b.checkers.is_empty());
//! ```

pub mod adapter;
pub mod bank;
pub mod causal;
pub mod counter;
pub mod list_append;
pub mod register;
pub mod rw_register;
pub mod set;

use std::sync::Arc;

use faultline_checker::Checker;
use faultline_core::run::Workload;
use faultline_core::target::Target;

/// The workload names `--workload` accepts.
pub const NAMES: &[&str] = &[
    "register",
    "list-append",
    "rw-register",
    "counter",
    "set",
    "bank",
    "causal",
];

/// Knobs shared by the workloads.
#[derive(Clone, Debug)]
pub struct Options {
    /// Keys each worker uses at a time.
    pub keys_per_group: u64,
    /// Ops a worker issues before moving to the next group of keys.
    pub ops_per_group: u64,
    /// Largest number of micro-ops in a list-append transaction.
    pub max_txn_len: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keys_per_group: 2,
            ops_per_group: 40,
            max_txn_len: 4,
        }
    }
}

/// A workload with its checkers.
pub struct Bundle {
    pub workload: Arc<dyn Workload>,
    pub checkers: Vec<Box<dyn Checker>>,
    /// Single ops are recorded as `[key value]` tuples.
    pub independent: bool,
    /// How the workload's ops map onto a store's primitives, when they are not primitives.
    pub adapter: Option<Arc<dyn adapter::Adapter>>,
}

impl Bundle {
    /// The target whose clients speak this workload's ops (the target itself if they are
    /// primitives already).
    pub fn wrap(&self, target: Arc<dyn Target>) -> Arc<dyn Target> {
        match &self.adapter {
            Some(a) => Arc::new(adapter::Mapped::new(target, a.clone())),
            None => target,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown workload {0:?}; the workloads are {names}", names = NAMES.join(", "))]
pub struct UnknownWorkload(pub String);

pub fn by_name(name: &str, options: &Options) -> Result<Bundle, UnknownWorkload> {
    match name {
        "register" => Ok(register::bundle(options)),
        "list-append" => Ok(list_append::bundle(options)),
        "rw-register" => Ok(rw_register::bundle(options)),
        "counter" => Ok(counter::bundle(options)),
        "set" => Ok(set::bundle(options)),
        "bank" => Ok(bank::bundle(options)),
        "causal" => Ok(causal::bundle(options)),
        other => Err(UnknownWorkload(other.to_string())),
    }
}

/// The key group worker's `n`th op falls in, given the options: workers at the same pace
/// share groups, so ops on one key are concurrent.
pub(crate) fn key_for(options: &Options, n: u64, rng: &mut faultline_core::rng::Rng) -> u64 {
    let group = n / options.ops_per_group.max(1);
    group * options.keys_per_group.max(1) + rng.below(options.keys_per_group.max(1))
}

#[cfg(test)]
mod adapter_tests;
