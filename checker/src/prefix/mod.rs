//! Consistent prefix reads: every read of a key shows a prefix of one order of that key's
//! writes (Kleppmann, *Designing Data-Intensive Applications*, ch. 5, "Consistent Prefix
//! Reads"), and its causal form across keys: an observer who sees an effect also sees its
//! cause (the question-and-answer example of the same section; Ahamad et al., "Causal
//! memory", 1995).
//!
//! # Per key
//! - **list-append**: every read lists appends in order, so all reads of a key must be
//!   prefixes of one list. Reads neither of which is a prefix of the other are a
//!   `divergent-reads` anomaly (found as branches of a trie of the reads); a read that lists
//!   an element twice is `duplicate-elements`.
//! - **registers**: a read of one value is the last write of *some* prefix of any order of
//!   the key's writes, so one key's reads alone cannot break consistent prefix; a process that
//!   reads a newer value and then an older one breaks monotonic reads, which `session`
//!   reports. Register histories are checked for the causal form below.
//!
//! # Causal prefix (registers; the `causal` workload)
//! Op vocabulary: `write` of a unique value to a key and `read` of a key (the key in the
//! extra field `key`), or rw `txn`s of `w`/`r` micro-ops (see [`crate::operation`]). Causal
//! order is the transitive closure of process order (each ok op of a process precedes its
//! next op) and reads-from (a write precedes every op that read its value), computed with
//! vector clocks. A read of key `k` that returns a value older than a write to `k` in its
//! causal past — `nil`, or a write that itself causally precedes that write — is a
//! `causal-prefix` anomaly: process 1 wrote the question `x`, process 2 read it and wrote the
//! answer `y`, process 3 read the answer and then found no question. A transaction's reads
//! are one snapshot, so seeing the answer and missing the question inside one transaction
//! counts too. A cycle of process order and reads-from (a read that saw a write depending on
//! the read itself) is a `causal-cycle`. List-append histories are not checked for causal
//! prefix here: their cross-key order is what `elle`'s cycle search examines.

mod causal;
mod divergence;

use faultline_core::History;

pub(crate) use crate::found::Found;
use crate::operation::{operations_independent, working_bytes, Mop, Operation, Pace, Workload};
use crate::{Budget, Checker, Exhausted, Models, Validity, Verdict};

/// Checks consistent prefix per key and causal prefix across keys.
#[derive(Clone, Debug)]
pub struct PrefixChecker {
    pub workload: Workload,
    /// Anomalies reported per kind; the stats count them all.
    pub max_reported: usize,
    /// Single ops carry Jepsen's `independent` `[key value]` tuples.
    pub independent: bool,
}

impl Default for PrefixChecker {
    fn default() -> Self {
        PrefixChecker {
            workload: Workload::Auto,
            max_reported: 100,
            independent: false,
        }
    }
}

/// The history's client ops and their micro-ops.
pub(crate) struct Prepared<'h> {
    pub ops: Vec<Operation<'h>>,
    pub mops: Vec<Vec<Mop<'h>>>,
    /// Ok ops in completion order.
    pub by_completion: Vec<usize>,
}

impl PrefixChecker {
    fn run(&self, history: &History, budget: &Budget) -> Result<Verdict, Exhausted> {
        let mut pace = Pace::new(budget);
        let ops = operations_independent(history, self.independent);
        let mut malformed = Vec::new();
        let mops: Vec<Vec<Mop<'_>>> = ops
            .iter()
            .map(|op| {
                op.mops().unwrap_or_else(|e| {
                    malformed.push((op.cite(), e));
                    Vec::new()
                })
            })
            .collect();
        let mut by_completion: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].is_ok()).collect();
        by_completion.sort_by_key(|&i| ops[i].cite());
        let p = Prepared {
            ops,
            mops,
            by_completion,
        };
        let n_mops = p.mops.iter().map(Vec::len).sum();
        pace.hold(working_bytes(p.ops.len(), n_mops))?;
        let workload = self.workload.resolve(&p.mops);
        let mut found = Found::new(self.max_reported);
        let mut v = Verdict::valid(self.name());
        v.stat("workload", workload.name());
        let mut models = Models::default();
        let (per_key, causal_checked) = match workload {
            Workload::ListAppend => {
                let keys = divergence::check(&p, &mut found, &mut pace)?;
                v.stat("keys", keys);
                v.stat(
                    "causal",
                    "not checked: list-append histories are examined across keys by elle",
                );
                (keys, 0)
            }
            _ => {
                v.stat(
                    "consistent_prefix",
                    "not checked per key: a register read shows the end of some prefix of any \
                     order; see session's monotonic reads",
                );
                let c = causal::check(&p, &mut found, &mut pace, budget)?;
                for (k, n) in c.stats {
                    v.stat(k, n);
                }
                (0, c.checked)
            }
        };
        let mut sort = |name: &str, bad: u64, checked: u64| {
            if bad > 0 {
                models.ruled_out.push(name.to_string());
            } else if checked > 0 {
                models.kept.push(name.to_string());
            }
        };
        sort(
            "consistent-prefix",
            found.count(&["divergent-reads", "duplicate-elements"]),
            per_key as u64,
        );
        sort(
            "causal-prefix",
            found.count(&["causal-prefix", "causal-cycle"]),
            causal_checked,
        );
        found.into_verdict(&mut v);
        v.models = models;
        if v.valid == Validity::Valid {
            if let Some((at, why)) = malformed.first() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(format!(
                    "{} op(s) could not be read (the first, at index {at}: {why}); they were skipped",
                    malformed.len()
                ));
            } else if v.models.kept.is_empty() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some("the history has no reads to check".to_string());
            }
        }
        Ok(v)
    }
}

impl Checker for PrefixChecker {
    fn name(&self) -> &str {
        "prefix"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        self.run(history, budget)
            .unwrap_or_else(|e| Verdict::unknown(self.name(), e.to_string()))
    }
}

#[cfg(test)]
mod tests;
