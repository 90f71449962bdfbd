//! faultline-checker: every checker, each a pure function from a history to a [`Verdict`].
//!
//! Checkers never do I/O and never round an unchecked history up to valid: a [`Budget`]
//! that runs out gives [`Validity::Unknown`] with the reason.

pub mod bank;
pub mod convergence;
mod digraph;
pub mod elle;
pub mod faults;
mod found;
pub mod lost;
pub mod operation;
pub mod prefix;
pub mod session;
pub mod stats;
mod unique;
pub mod verdict;

use faultline_core::History;

pub use verdict::{Anomaly, Budget, CycleStep, Evidence, Exhausted, Models, Validity, Verdict};

/// A checker: a name and a pure function of the history.
pub trait Checker: Send + Sync {
    fn name(&self) -> &str;
    fn check(&self, history: &History, budget: &Budget) -> Verdict;
}
