//! Session guarantees on registers: unique writes per key, version order inferred from
//! real time (see the module above).

use std::collections::HashSet;

use faultline_core::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::{prior, Ctx, Guarantee, Report};
use crate::digraph::Graph;
use crate::operation::{key_name, secs, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

/// What a read saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ver {
    Init,
    W(u32),
}

enum Resolved {
    Ver(Ver),
    /// Two writes wrote this value to this key.
    Ambiguous,
    /// No write wrote it (a failed write's value, or garbage).
    Unknown,
}

struct Writes<'h>(Unique<'h>);

impl<'h> Writes<'h> {
    fn new(ctx: &Ctx<'h>) -> Writes<'h> {
        Writes(Unique::new(&ctx.mops, MopKind::Write))
    }

    fn resolve(&self, key: &'h Value, value: &'h Value) -> Resolved {
        match self.0.get(key, value) {
            Lookup::One(w) => Resolved::Ver(Ver::W(w)),
            Lookup::Many => Resolved::Ambiguous,
            Lookup::None if value.is_nil() => Resolved::Ver(Ver::Init),
            Lookup::None => Resolved::Unknown,
        }
    }

    fn op(&self, w: u32) -> usize {
        self.0.op(w)
    }

    fn value(&self, v: Ver) -> String {
        match v {
            Ver::Init => "nil".to_string(),
            Ver::W(w) => self.0.value(w).to_string(),
        }
    }
}

/// Whether version `u` is strictly older than write `w` in the inferred order.
fn older(ctx: &Ctx<'_>, writes: &Writes<'_>, u: Ver, w: u32) -> bool {
    match u {
        Ver::Init => true,
        Ver::W(a) => ctx.ops[writes.op(a)]
            .complete_index()
            .filter(|_| ctx.ops[writes.op(a)].is_ok())
            .is_some_and(|c| c < ctx.ops[writes.op(w)].invoke_index()),
    }
}

/// Why `u` is older than write `w`, in words.
fn why_older(ctx: &Ctx<'_>, writes: &Writes<'_>, key: &Value, u: Ver, w: u32) -> String {
    match u {
        Ver::Init => format!("nil is {}'s initial value", key_name(key)),
        Ver::W(a) => format!(
            "the write of {} was acknowledged at {}, before the write of {} began at {}",
            writes.value(u),
            secs(ctx.ops[writes.op(a)].complete_time().unwrap_or(0)),
            writes.value(Ver::W(w)),
            secs(ctx.ops[writes.op(w)].invoke_time()),
        ),
    }
}

/// A scope's writes to a key: (completion index, (write, the write with the latest
/// invocation so far)).
type WriteLog = Vec<(u64, (u32, u32))>;
/// A scope's reads of a key: (completion index, (read op, the latest-invoked write seen so
/// far and the read that saw it)).
type ReadLog = Vec<(u64, (usize, Option<(u32, usize)>))>;

pub(super) fn check(
    ctx: &Ctx<'_>,
    report: &mut Report,
    pace: &mut Pace<'_>,
) -> Result<Vec<(&'static str, serde_json::Value)>, Exhausted> {
    let writes = Writes::new(ctx);
    let invoked = |w: u32| ctx.ops[writes.op(w)].invoke_index();

    let mut wlog: FxHashMap<(u32, &Value), WriteLog> = FxHashMap::default();
    let mut rlog: FxHashMap<(u32, &Value), ReadLog> = FxHashMap::default();
    for &i in &ctx.by_completion {
        pace.tick()?;
        let done = ctx.ops[i].cite();
        for s in ctx.scopes_of(i) {
            for m in &ctx.mops[i] {
                match (m.kind, writes.resolve(m.key, m.value)) {
                    (MopKind::Write, Resolved::Ver(Ver::W(w))) => {
                        let log = wlog.entry((s, m.key)).or_default();
                        let best = match log.last() {
                            Some(&(_, (_, b))) if invoked(b) > invoked(w) => b,
                            _ => w,
                        };
                        log.push((done, (w, best)));
                    }
                    (MopKind::Read, Resolved::Ver(v)) => {
                        let log = rlog.entry((s, m.key)).or_default();
                        let mut best = log.last().and_then(|&(_, (_, b))| b);
                        if let Ver::W(w) = v {
                            if best.is_none_or(|(b, _)| invoked(w) > invoked(b)) {
                                best = Some((w, i));
                            }
                        }
                        log.push((done, (i, best)));
                    }
                    _ => {}
                }
            }
        }
    }

    let (mut reads, mut ambiguous, mut unknown) = (0u64, 0u64, 0u64);
    // Reads already reported as going back in the inferred order.
    let mut went_back: FxHashSet<usize> = FxHashSet::default();
    let mut read_sets: HashSet<Vec<(&Value, &Value)>> = HashSet::new();
    for &r in &ctx.by_completion {
        pace.tick()?;
        let rop = &ctx.ops[r];
        let mut seen: Vec<(&Value, &Value, Ver)> = Vec::new();
        for m in ctx.reads(r) {
            reads += 1;
            match writes.resolve(m.key, m.value) {
                Resolved::Ver(v) => seen.push((m.key, m.value, v)),
                Resolved::Ambiguous => ambiguous += 1,
                Resolved::Unknown => unknown += 1,
            }
        }
        for &(key, value, ver) in &seen {
            for s in ctx.scopes_of(r) {
                let pre = ctx.preamble(s);
                let own = if ctx.is_declared(s) {
                    "the session's"
                } else {
                    "its own"
                };
                if let Some(&(_, (_, w))) = wlog
                    .get(&(s, key))
                    .and_then(|l| prior(l, rop.invoke_index()).last())
                {
                    report.check(Guarantee::ReadYourWrites);
                    let wop = writes.op(w);
                    if older(ctx, &writes, ver, w) && ctx.spans(s, wop, r) {
                        report.found(Guarantee::ReadYourWrites, ctx.is_declared(s), None, || {
                            Anomaly::new(
                                Guarantee::ReadYourWrites.name(),
                                vec![ctx.ops[wop].cite(), rop.cite()],
                                format!(
                                    "{pre}{} wrote {} to {}{}; then {} and saw {value}, a value \
                                     older than {own} write ({}).",
                                    ctx.ops[wop].who(),
                                    writes.value(Ver::W(w)),
                                    key_name(key),
                                    ctx.ack(wop),
                                    ctx.read_at(r, key),
                                    why_older(ctx, &writes, key, ver, w),
                                ),
                            )
                            .with_key(key.clone())
                        });
                    }
                }
                if let Some(&(_, (_, best))) = rlog
                    .get(&(s, key))
                    .and_then(|l| prior(l, rop.invoke_index()).last())
                {
                    report.check(Guarantee::MonotonicReads);
                    if let Some((u, r1)) = best {
                        if older(ctx, &writes, ver, u) && ctx.spans(s, r1, r) {
                            went_back.insert(r);
                            report.found(
                                Guarantee::MonotonicReads,
                                ctx.is_declared(s),
                                None,
                                || {
                                    Anomaly::new(
                                        Guarantee::MonotonicReads.name(),
                                        vec![ctx.ops[r1].cite(), rop.cite()],
                                        format!(
                                        "{pre}{} and saw {}; then {} and saw {value}, an older \
                                         value ({}).",
                                        ctx.read_at(r1, key),
                                        writes.value(Ver::W(u)),
                                        ctx.read_at(r, key),
                                        why_older(ctx, &writes, key, ver, u),
                                    ),
                                    )
                                    .with_key(key.clone())
                                },
                            );
                        }
                    }
                }
            }
        }

        // Monotonic writes and writes-follow-reads across the keys of one snapshot read.
        let keys: HashSet<&Value> = seen.iter().map(|s| s.0).collect();
        if keys.len() < 2 || !read_sets.insert(seen.iter().map(|s| (s.0, s.1)).collect()) {
            continue;
        }
        for &(kb, vb, verb) in &seen {
            let Ver::W(b) = verb else { continue };
            let bop = writes.op(b);
            if bop == r {
                continue;
            }
            let binv = ctx.ops[bop].invoke_index();
            for s in ctx.scopes_of(bop) {
                let pre = ctx.preamble(s);
                for &(ka, va, vera) in seen.iter().filter(|x| x.0 != kb) {
                    let saw = |earlier: String, what: &str, why: String| {
                        format!(
                            "{pre}{earlier}; then {} wrote {vb} to {}{}; {}'s transaction at {} \
                             saw {vb} in {} but {va} in {}, older than {what} ({why}).",
                            ctx.ops[bop].who(),
                            key_name(kb),
                            ctx.ack(bop),
                            rop.who(),
                            secs(rop.invoke_time()),
                            key_name(kb),
                            key_name(ka),
                        )
                    };
                    if let Some(&(_, (w1, _))) =
                        wlog.get(&(s, ka)).and_then(|l| prior(l, binv).last())
                    {
                        report.check(Guarantee::MonotonicWrites);
                        let w1op = writes.op(w1);
                        if older(ctx, &writes, vera, w1) && ctx.spans(s, w1op, bop) {
                            let pair = Some((ctx.ops[w1op].cite(), ctx.ops[bop].cite()));
                            report.found(
                                Guarantee::MonotonicWrites,
                                ctx.is_declared(s),
                                pair,
                                || {
                                    Anomaly::new(
                                        Guarantee::MonotonicWrites.name(),
                                        vec![ctx.ops[w1op].cite(), ctx.ops[bop].cite(), rop.cite()],
                                        saw(
                                            format!(
                                                "{} wrote {} to {}{}",
                                                ctx.ops[w1op].who(),
                                                writes.value(Ver::W(w1)),
                                                key_name(ka),
                                                ctx.ack(w1op)
                                            ),
                                            "that earlier write",
                                            why_older(ctx, &writes, ka, vera, w1),
                                        ),
                                    )
                                    .with_key(ka.clone())
                                },
                            );
                        }
                    }
                    if let Some(&(_, (_, Some((u1, r1))))) =
                        rlog.get(&(s, ka)).and_then(|l| prior(l, binv).last())
                    {
                        report.check(Guarantee::WritesFollowReads);
                        if older(ctx, &writes, vera, u1) && ctx.spans(s, r1, bop) {
                            let pair = Some((ctx.ops[r1].cite(), ctx.ops[bop].cite()));
                            report.found(
                                Guarantee::WritesFollowReads,
                                ctx.is_declared(s),
                                pair,
                                || {
                                    Anomaly::new(
                                        Guarantee::WritesFollowReads.name(),
                                        vec![ctx.ops[r1].cite(), ctx.ops[bop].cite(), rop.cite()],
                                        saw(
                                            format!(
                                                "{} and saw {}",
                                                ctx.read_at(r1, ka),
                                                writes.value(Ver::W(u1))
                                            ),
                                            "the value read before that write",
                                            why_older(ctx, &writes, ka, vera, u1),
                                        ),
                                    )
                                    .with_key(ka.clone())
                                },
                            );
                        }
                    }
                }
            }
        }
    }
    observed_cycles(ctx, &writes, report, pace, &went_back)?;
    Ok(vec![
        ("reads", json!(reads)),
        ("ambiguous_reads", json!(ambiguous)),
        ("reads_of_unknown_values", json!(unknown)),
    ])
}

/// Why one version precedes another in a process's observations.
#[derive(Clone, Copy)]
enum Why {
    /// A process read the source's value (op `.0`) and later the target's (op `.1`).
    Observed(usize, usize),
    /// The initial value precedes every write.
    Initial,
}

/// Monotonic reads without a version order: each process that read `a` and later `b` of a
/// key says `a` precedes `b` (and `nil` precedes every write). A cycle in these orders means
/// that whichever order the writes took, some process read an older value after a newer
/// one, even when the writes were concurrent and the inferred order leaves them unordered.
/// Cycles through a read already reported are left out.
fn observed_cycles(
    ctx: &Ctx<'_>,
    writes: &Writes<'_>,
    report: &mut Report,
    pace: &mut Pace<'_>,
    went_back: &FxHashSet<usize>,
) -> Result<(), Exhausted> {
    let mut graph: Graph<Why> = Graph::new();
    let mut nodes: FxHashMap<(&Value, Ver), u32> = FxHashMap::default();
    let mut last: FxHashMap<(u64, &Value), (u32, usize)> = FxHashMap::default();
    // Each process's ops in invocation order are its program order.
    for (r, op) in ctx.ops.iter().enumerate() {
        if !op.is_ok() {
            continue;
        }
        for m in ctx.reads(r) {
            pace.tick()?;
            let Resolved::Ver(ver) = writes.resolve(m.key, m.value) else {
                continue;
            };
            let n = *nodes.entry((m.key, ver)).or_insert_with(|| graph.node());
            if let Some(&(prev, r1)) = last.get(&(op.process(), m.key)) {
                if prev != n {
                    graph.edge(prev, n, Why::Observed(r1, r));
                }
            }
            last.insert((op.process(), m.key), (n, r));
        }
    }
    let initial: Vec<(u32, u32)> = nodes
        .iter()
        .filter(|((_, v), _)| *v != Ver::Init)
        .filter_map(|((k, _), &n)| nodes.get(&(*k, Ver::Init)).map(|&i| (i, n)))
        .collect();
    for (init, n) in initial {
        graph.edge(init, n, Why::Initial);
    }
    let mut label: Vec<(&Value, Ver)> = vec![(&crate::operation::NIL, Ver::Init); graph.adj.len()];
    for (&(k, v), &n) in &nodes {
        label[n as usize] = (k, v);
    }
    for comp in graph.cyclic_components() {
        pace.tick()?;
        let cycle = graph.cycle_in(&comp);
        let reported = cycle.iter().any(|&e| match graph.edges[e as usize].2 {
            Why::Observed(_, r2) => went_back.contains(&r2),
            Why::Initial => false,
        });
        if reported || cycle.is_empty() {
            continue;
        }
        report.check(Guarantee::MonotonicReads);
        let key = label[comp[0] as usize].0;
        report.found(Guarantee::MonotonicReads, false, None, || {
            let mut ops: Vec<u64> = Vec::new();
            let steps: Vec<String> = cycle
                .iter()
                .map(|&e| {
                    let (a, b, why) = graph.edges[e as usize];
                    let (va, vb) = (
                        writes.value(label[a as usize].1),
                        writes.value(label[b as usize].1),
                    );
                    match why {
                        Why::Observed(r1, r2) => {
                            for c in [ctx.ops[r1].cite(), ctx.ops[r2].cite()] {
                                if !ops.contains(&c) {
                                    ops.push(c);
                                }
                            }
                            format!(
                                "{} read {} = {va} at {}, then {vb} at {}",
                                ctx.ops[r2].who(),
                                key_name(key),
                                secs(ctx.ops[r1].invoke_time()),
                                secs(ctx.ops[r2].invoke_time())
                            )
                        }
                        Why::Initial => {
                            format!("nil, the initial value, precedes the write of {vb}")
                        }
                    }
                })
                .collect();
            Anomaly::new(
                Guarantee::MonotonicReads.name(),
                ops,
                format!(
                    "{}; whichever order {}'s writes took, one of these processes read an older \
                     value after a newer one.",
                    steps.join("; "),
                    key_name(key)
                ),
            )
            .with_key(key.clone())
        });
    }
    Ok(())
}
