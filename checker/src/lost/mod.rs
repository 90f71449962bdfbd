//! Lost updates in their four forms:
//! - **counter** (Jepsen's `counter` checker): `add` ops carry a delta, `read` ops return the
//!   total. Every read must lie within the bounds possible at its time: at least the initial
//!   value plus every acknowledged add that completed before the read began (plus every
//!   negative delta that might have applied), at most that plus every positive delta that
//!   might have applied (any add invoked before the read completed, acknowledged or
//!   indeterminate; failed adds never apply). A final read below its lower bound is
//!   `lost-increments`; other reads out of bounds are `counter-too-low` / `counter-too-high`.
//! - **set** (Jepsen's `set-full`): `add` ops carry an element, `read` ops return every
//!   element present. Per element: when it was known to exist, when it first appeared, when
//!   it became stable (every read begun later saw it) or lost (every read begun later missed
//!   it, although it was known before they began), or never read; stale if a read begun after
//!   it was known missed it before it became stable. `lost-element`, `duplicate-element`,
//!   `unexpected-element`, and `stale-element` when stale reads are not allowed.
//! - **list-append**: an append that was acknowledged (or seen by some read) and is missing
//!   from a final read of its key that began after that is a `lost-append`.
//! - **read-modify-write** (Adya's P4, *lost update*): two committed transactions (or `cas`
//!   ops) that read the same version of a key and then both wrote it: `lost-update`.
//!
//! Final reads are ops marked final ([`crate::operation::Operation::is_final_read`]); when a
//! key has none, its last ok read stands in. Counter and set ops may carry a `key` field;
//! each key is checked on its own.

mod append;
mod counter;
mod rmw;
mod set;

use faultline_core::{History, Value};

use crate::found::Found;
use crate::operation::{operations_independent, working_bytes, Mop, MopKind, Operation, Pace};
use crate::{Budget, Checker, Exhausted, Validity, Verdict};

/// What the history's ops mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LostWorkload {
    /// `add` with integer reads: counter; `add` with list reads: set; any append:
    /// list-append; otherwise registers (`cas`, rw `txn`).
    #[default]
    Auto,
    Counter,
    Set,
    ListAppend,
    Register,
}

impl LostWorkload {
    pub fn name(self) -> &'static str {
        match self {
            LostWorkload::Auto => "auto",
            LostWorkload::Counter => "counter",
            LostWorkload::Set => "set",
            LostWorkload::ListAppend => "list-append",
            LostWorkload::Register => "register",
        }
    }
}

/// Finds acknowledged updates that were lost.
#[derive(Clone, Debug)]
pub struct LostChecker {
    pub workload: LostWorkload,
    /// The counter's value before the test.
    pub counter_initial: i64,
    /// Set: whether a read that misses a known element is an anomaly (Jepsen's
    /// `linearizable?`), rather than only counted as stale.
    pub stale_is_anomaly: bool,
    /// Anomalies reported per kind; the stats count them all.
    pub max_reported: usize,
    /// Single ops carry Jepsen's `independent` `[key value]` tuples.
    pub independent: bool,
}

impl Default for LostChecker {
    fn default() -> Self {
        LostChecker {
            workload: LostWorkload::Auto,
            counter_initial: 0,
            stale_is_anomaly: false,
            max_reported: 100,
            independent: false,
        }
    }
}

/// Ops, micro-ops and where to report.
pub(crate) struct Ctx<'h> {
    pub ops: Vec<Operation<'h>>,
    pub mops: Vec<Vec<Mop<'h>>>,
}

impl Ctx<'_> {
    /// Whether op `i` is a read that returned a value (`read` or `final-read`, ok).
    pub fn is_read(&self, i: usize) -> bool {
        matches!(self.ops[i].f(), "read" | "final-read") && self.ops[i].is_ok()
    }
}

/// What a sub-check found beyond anomalies.
pub(crate) struct Outcome {
    /// Whether anything could be checked at all; if not, why not.
    pub unchecked: Option<String>,
    pub stats: Vec<(&'static str, serde_json::Value)>,
}

fn detect(ctx: &Ctx<'_>) -> LostWorkload {
    if ctx.ops.iter().any(|o| o.f() == "add") {
        let list_read = (0..ctx.ops.len())
            .any(|i| ctx.is_read(i) && matches!(ctx.ops[i].value(), Value::List(_)));
        return if list_read {
            LostWorkload::Set
        } else {
            LostWorkload::Counter
        };
    }
    if ctx.mops.iter().flatten().any(|m| m.kind == MopKind::Append) {
        LostWorkload::ListAppend
    } else {
        LostWorkload::Register
    }
}

impl LostChecker {
    fn run(&self, history: &History, budget: &Budget) -> Result<Verdict, Exhausted> {
        let mut pace = Pace::new(budget);
        let ops = operations_independent(history, self.independent);
        let mut malformed: Vec<(u64, String)> = Vec::new();
        let mops = ops
            .iter()
            .map(|op| {
                op.mops().unwrap_or_else(|e| {
                    malformed.push((op.cite(), e));
                    Vec::new()
                })
            })
            .collect();
        let ctx = Ctx { ops, mops };
        let n_mops = ctx.mops.iter().map(Vec::len).sum();
        pace.hold(working_bytes(ctx.ops.len(), n_mops))?;
        let workload = match self.workload {
            LostWorkload::Auto => detect(&ctx),
            w => w,
        };
        let mut found = Found::new(self.max_reported);
        let mut v = Verdict::valid(self.name());
        v.stat("workload", workload.name());
        let outcomes = match workload {
            LostWorkload::Counter => {
                vec![counter::check(
                    &ctx,
                    self.counter_initial,
                    &mut found,
                    &mut pace,
                    &mut malformed,
                )?]
            }
            LostWorkload::Set => {
                vec![set::check(
                    &ctx,
                    self.stale_is_anomaly,
                    &mut found,
                    &mut pace,
                )?]
            }
            LostWorkload::ListAppend => {
                // A list-append history need not read before it appends; no candidates for a
                // lost update is then no reason to doubt the verdict.
                let mut rmw = rmw::check(&ctx, &mut found, &mut pace)?;
                rmw.unchecked = None;
                vec![append::check(&ctx, &mut found, &mut pace)?, rmw]
            }
            _ => vec![rmw::check(&ctx, &mut found, &mut pace)?],
        };
        let mut unchecked = Vec::new();
        for o in outcomes {
            unchecked.extend(o.unchecked);
            for (k, n) in o.stats {
                v.stat(k, n);
            }
        }
        found.into_verdict(&mut v);
        if v.valid == Validity::Valid {
            if let Some((at, why)) = malformed.first() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(format!(
                    "{} op(s) could not be read as {} ops (the first, at index {at}: {why}); they \
                     were skipped",
                    malformed.len(),
                    workload.name()
                ));
            } else if !unchecked.is_empty() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(unchecked.join("; "));
            }
        }
        Ok(v)
    }
}

impl Checker for LostChecker {
    fn name(&self) -> &str {
        "lost"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        self.run(history, budget)
            .unwrap_or_else(|e| Verdict::unknown(self.name(), e.to_string()))
    }
}

#[cfg(test)]
mod tests;
