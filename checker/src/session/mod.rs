//! Session guarantees (Terry, Demers, Petersen, Spreitzer, Theimer and Welch, "Session
//! Guarantees for Weakly Consistent Replicated Data", PDIS 1994): read-your-writes,
//! monotonic reads, monotonic writes and writes-follow-reads, checked per process and per
//! declared session.
//!
//! # Sessions
//! Every client process is a session (Jepsen retires a process after an `info`, so its
//! client continues as a new session). A *declared session* spans processes — a user on two
//! devices — and is named by the extra field `session` on its ops (see
//! [`crate::operation`]). Within a session, op `a` precedes op `b` when `a` completed (ok)
//! before `b` was invoked; for one process that is program order. Anomalies found within a
//! declared session are reported only when the two session ops involved come from different
//! processes: the same-process case is already reported for the process.
//!
//! # Versions
//! The checks need to know when one write is older than another on a key. Writes must be
//! unique per key, so every read names the write it saw.
//! - **list-append** (`append` micro-ops): the version order is known: a read returns the
//!   list of appends in order, and it has seen exactly the appends it lists.
//! - **registers** (`write`, `read`, `cas`, rw `txn`): the order is *inferred from real time*:
//!   `nil` (the initial value) precedes every write, and write `a` precedes write `b` when `a`
//!   was acknowledged before `b` was invoked. Writes concurrent in real time are unordered, so
//!   a read that saw either is never counted against a guarantee. A store whose write order
//!   does not follow real time (multi-leader last-write-wins with skewed clocks) is judged by
//!   this inferred order; the verdict states the inference in its `version_order` stat.
//!
//! # What is checked (for session `S`, per key unless said otherwise)
//! - **read-your-writes**: a read by `S` after `S`'s acknowledged write `w` sees `w` or a
//!   newer version.
//! - **monotonic reads**: a read by `S` after an earlier read by `S` sees nothing older than
//!   what the earlier read saw (list-append: every element the earlier read saw).
//! - **monotonic writes**: when `S` wrote `a` and then `b`, a read (by anyone) that sees `b`
//!   also sees `a`: on the same key, in order (list-append), and across keys within one
//!   transaction's reads, which are taken to be one snapshot (one server, one moment, as
//!   Terry's `DB(S, t)`).
//! - **writes-follow-reads**: when `S` read a version of key `k` and then wrote `b`, a read
//!   that sees `b` sees that version of `k` or a newer one (same key or within one transaction).
//!
//! Monotonic writes and writes-follow-reads are checked against the *latest* earlier write or
//! read of the session on each key; earlier ones follow by chaining. For list-append
//! writes-follow-reads checks the last element of the earlier read and the number of elements
//! before the new append; a different order of the same elements is a divergence that
//! `prefix` reports. Register histories show these two guarantees only in transactions that
//! read two or more keys; a sequence of single-key reads across servers is the business of
//! `prefix`'s causal check. A guarantee with no opportunity to fail is reported as not
//! checked, never as kept.

mod append;
mod register;

use std::collections::HashSet;

use faultline_core::{History, Value};
use rustc_hash::FxHashMap;

pub use crate::operation::Workload;
use crate::operation::{
    operations_independent, secs, working_bytes, Mop, MopKind, Operation, Pace,
};
use crate::{Anomaly, Budget, Checker, Exhausted, Models, Validity, Verdict};

/// Checks the four session guarantees of Terry et al.
#[derive(Clone, Debug)]
pub struct SessionChecker {
    pub workload: Workload,
    /// Anomalies reported per guarantee; the stats count them all.
    pub max_reported: usize,
    /// Single ops carry Jepsen's `independent` `[key value]` tuples.
    pub independent: bool,
    /// List-append: check every read the general way, without the shortcut for reads that
    /// are prefixes of their key's longest read. Same verdict, slower; for cross-checking.
    pub general_path: bool,
}

impl Default for SessionChecker {
    fn default() -> Self {
        SessionChecker {
            workload: Workload::Auto,
            max_reported: 100,
            independent: false,
            general_path: false,
        }
    }
}

/// One of Terry et al.'s four guarantees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Guarantee {
    ReadYourWrites,
    MonotonicReads,
    MonotonicWrites,
    WritesFollowReads,
}

impl Guarantee {
    pub const ALL: [Guarantee; 4] = [
        Guarantee::ReadYourWrites,
        Guarantee::MonotonicReads,
        Guarantee::MonotonicWrites,
        Guarantee::WritesFollowReads,
    ];

    /// The anomaly kind and model name: `read-your-writes`, ...
    pub fn name(self) -> &'static str {
        match self {
            Guarantee::ReadYourWrites => "read-your-writes",
            Guarantee::MonotonicReads => "monotonic-reads",
            Guarantee::MonotonicWrites => "monotonic-writes",
            Guarantee::WritesFollowReads => "writes-follow-reads",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// A session: a process, or a declared session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Scope<'h> {
    Process(u64),
    Declared(&'h Value),
}

/// The history prepared for both version semantics.
pub(crate) struct Ctx<'h> {
    pub ops: Vec<Operation<'h>>,
    /// Micro-ops per op (empty for ops the checker cannot read).
    pub mops: Vec<Vec<Mop<'h>>>,
    pub scopes: Vec<Scope<'h>>,
    /// Per op: its process scope and its declared scope, if any.
    pub op_scopes: Vec<(u32, Option<u32>)>,
    /// Ops that completed ok, in completion order.
    pub by_completion: Vec<usize>,
    pub malformed: Vec<(u64, String)>,
}

impl<'h> Ctx<'h> {
    fn new(history: &'h History, independent: bool) -> Ctx<'h> {
        let ops = operations_independent(history, independent);
        let mut malformed = Vec::new();
        let mops = ops
            .iter()
            .map(|op| {
                op.mops().unwrap_or_else(|e| {
                    malformed.push((op.cite(), e));
                    Vec::new()
                })
            })
            .collect();
        let mut scope_ids: FxHashMap<Scope<'h>, u32> = FxHashMap::default();
        let mut scopes = Vec::new();
        let mut id = |s: Scope<'h>| {
            *scope_ids.entry(s).or_insert_with(|| {
                scopes.push(s);
                scopes.len() as u32 - 1
            })
        };
        let op_scopes = ops
            .iter()
            .map(|op| {
                (
                    id(Scope::Process(op.process())),
                    op.session().map(|s| id(Scope::Declared(s))),
                )
            })
            .collect();
        let mut by_completion: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].is_ok()).collect();
        by_completion.sort_by_key(|&i| ops[i].cite());
        Ctx {
            ops,
            mops,
            scopes,
            op_scopes,
            by_completion,
            malformed,
        }
    }

    /// The scopes of op `i`: its process, then its declared session.
    pub fn scopes_of(&self, i: usize) -> impl Iterator<Item = u32> {
        let (p, d) = self.op_scopes[i];
        std::iter::once(p).chain(d)
    }

    pub fn is_declared(&self, scope: u32) -> bool {
        matches!(self.scopes[scope as usize], Scope::Declared(_))
    }

    /// "In session "alice", " for declared sessions, nothing for processes.
    pub fn preamble(&self, scope: u32) -> String {
        match self.scopes[scope as usize] {
            Scope::Declared(s) => format!("In session {s}, "),
            Scope::Process(_) => String::new(),
        }
    }

    /// Whether the anomaly is worth reporting in this scope: in a declared session only
    /// when its session ops span processes (the process scope reports the rest).
    pub fn spans(&self, scope: u32, a: usize, b: usize) -> bool {
        !self.is_declared(scope) || self.ops[a].process() != self.ops[b].process()
    }

    /// The read micro-ops of op `i`.
    pub fn reads(&self, i: usize) -> impl Iterator<Item = &Mop<'h>> {
        self.mops[i].iter().filter(|m| m.kind == MopKind::Read)
    }

    /// "process 3 read x at 1.200 s".
    pub fn read_at(&self, i: usize, key: &Value) -> String {
        format!(
            "{} read {} at {}",
            self.ops[i].who(),
            crate::operation::key_name(key),
            secs(self.ops[i].invoke_time())
        )
    }

    /// " (acknowledged at 1.200 s)" or " (invoked at 1.100 s; its outcome is unknown)".
    pub fn ack(&self, i: usize) -> String {
        format!(" ({})", self.ack_time(i))
    }

    /// "acknowledged at 1.200 s" or "invoked at 1.100 s; its outcome is unknown".
    pub fn ack_time(&self, i: usize) -> String {
        let op = &self.ops[i];
        match op.complete_time() {
            Some(t) if op.is_ok() => format!("acknowledged at {}", secs(t)),
            _ => format!(
                "invoked at {}; its outcome is unknown",
                secs(op.invoke_time())
            ),
        }
    }
}

/// Entries of a per-(scope, key) log sorted by completion index: those completed before
/// history index `before`.
pub(crate) fn prior<T>(log: &[(u64, T)], before: u64) -> &[(u64, T)] {
    &log[..log.partition_point(|(c, _)| *c < before)]
}

/// Collects anomalies with per-guarantee caps and counts.
pub(crate) struct Report {
    max: usize,
    /// Anomalies found per guarantee, in process scopes and declared scopes.
    found: [[u64; 2]; 4],
    /// Checks made per guarantee (an earlier write or read existed to check against).
    pub checked: [u64; 4],
    anomalies: Vec<Anomaly>,
    reported: [usize; 4],
    /// (guarantee, earlier session op, later session op) already reported, so one
    /// violation of monotonic writes is not reported once per read that shows it.
    seen: HashSet<(Guarantee, u64, u64)>,
    /// See [`SessionChecker::general_path`].
    pub general_path: bool,
}

impl Report {
    fn new(max: usize) -> Report {
        Report {
            max,
            found: [[0; 2]; 4],
            checked: [0; 4],
            anomalies: Vec::new(),
            reported: [0; 4],
            seen: HashSet::new(),
            general_path: false,
        }
    }

    pub fn check(&mut self, g: Guarantee) {
        self.checked[g.slot()] += 1;
    }

    /// Records an anomaly; `pair` dedupes writes-side anomalies by their session ops.
    pub fn found(
        &mut self,
        g: Guarantee,
        declared: bool,
        pair: Option<(u64, u64)>,
        make: impl FnOnce() -> Anomaly,
    ) {
        if let Some((a, b)) = pair {
            if !self.seen.insert((g, a, b)) {
                return;
            }
        }
        self.found[g.slot()][declared as usize] += 1;
        if self.reported[g.slot()] < self.max {
            self.reported[g.slot()] += 1;
            self.anomalies.push(make());
        }
    }
}

impl SessionChecker {
    fn run(&self, ctx: &Ctx<'_>, budget: &Budget) -> Result<Verdict, Exhausted> {
        let mut pace = Pace::new(budget);
        let mut report = Report::new(self.max_reported);
        report.general_path = self.general_path;
        let n_mops = ctx.mops.iter().map(Vec::len).sum();
        pace.hold(working_bytes(ctx.ops.len(), n_mops))?;
        let workload = self.workload.resolve(&ctx.mops);
        let mut v = Verdict::valid(self.name());
        let (name, order, notes) = match workload {
            Workload::ListAppend => (
                "list-append",
                "known: each read lists the appends it saw, in order",
                append::check(ctx, &mut report, &mut pace)?,
            ),
            _ => (
                "register",
                "inferred from real time: nil precedes every write, and a write acknowledged \
                 before another was invoked precedes it; concurrent writes are unordered",
                register::check(ctx, &mut report, &mut pace)?,
            ),
        };
        v.stat("workload", name);
        v.stat("version_order", order);
        for (k, n) in notes {
            v.stat(k, n);
        }
        v.stat(
            "declared_sessions",
            ctx.scopes
                .iter()
                .filter(|s| matches!(s, Scope::Declared(_)))
                .count(),
        );

        let mut models = Models::default();
        let mut not_checked = Vec::new();
        let mut counts = serde_json::Map::new();
        for g in Guarantee::ALL {
            let [p, d] = report.found[g.slot()];
            counts.insert(
                g.name().into(),
                serde_json::json!({"checked": report.checked[g.slot()], "process": p, "session": d}),
            );
            if p + d > 0 {
                models.ruled_out.push(g.name().to_string());
            } else if report.checked[g.slot()] > 0 {
                models.kept.push(g.name().to_string());
            } else {
                not_checked.push(g.name());
            }
        }
        v.stat("guarantees", serde_json::Value::Object(counts));
        v.stat("not_checked", not_checked);
        for a in report.anomalies {
            v.push(a);
        }
        v.models = models;
        if v.valid == Validity::Valid {
            if let Some((at, why)) = ctx.malformed.first() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(format!(
                    "{} op(s) could not be read as {name} ops (the first, at index {at}: {why}); \
                     they were skipped",
                    ctx.malformed.len()
                ));
            } else if v.models.kept.is_empty() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(
                    "no session read followed a write or read it could be checked against"
                        .to_string(),
                );
            }
        }
        Ok(v)
    }
}

impl Checker for SessionChecker {
    fn name(&self) -> &str {
        "session"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        let ctx = Ctx::new(history, self.independent);
        self.run(&ctx, budget)
            .unwrap_or_else(|e| Verdict::unknown(self.name(), e.to_string()))
    }
}

#[cfg(test)]
mod oracle;
#[cfg(test)]
mod tests;
