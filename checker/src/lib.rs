//! faultline-checker: every checker, each a pure function from a history to a [`Verdict`].
//!
//! Checkers never do I/O and never round an unchecked history up to valid: a [`Budget`]
//! that runs out gives [`Validity::Unknown`] with the reason.
//!
//! ```
//! use faultline_checker::session::SessionChecker;
//! use faultline_checker::{Budget, Checker, Validity};
//! use faultline_core::dsl::{la, Builder};
//!
//! // Process 0 appends 1 to x, then reads x and does not see it.
//! let mut b = Builder::new();
//! b.txn_ok(0, la("ax1")).txn_ok(0, la("rx_"));
//! let v = SessionChecker::default().check(&b.build(), &Budget::unlimited());
//! assert_eq!(v.valid, Validity::Invalid);
//! assert_eq!(v.anomalies[0].kind, "read-your-writes");
//! assert_eq!(v.anomalies[0].ops, vec![1, 3]);
//! assert_eq!(v.models.ruled_out, vec!["read-your-writes"]);
//! ```

pub mod bank;
pub mod convergence;
mod digraph;
pub mod elle;
pub mod faults;
mod found;
pub mod linearizable;
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
