//! Session guarantees on registers: unique writes per key, version order inferred from
//! real time (see the module above).

use std::collections::HashSet;

use faultline_core::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{prior, Ctx, Guarantee, Report};
use crate::operation::{key_name, secs, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

/// What a read saw.
#[derive(Clone, Copy, Debug, PartialEq)]
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
    Ok(vec![
        ("reads", json!(reads)),
        ("ambiguous_reads", json!(ambiguous)),
        ("reads_of_unknown_values", json!(unknown)),
    ])
}
