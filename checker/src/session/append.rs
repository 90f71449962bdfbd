//! Session guarantees on list-append histories, where every read lists the appends it saw.

use std::collections::HashSet;

use faultline_core::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::{prior, Ctx, Guarantee, Report};
use crate::operation::{key_name, list_values, secs, show_list, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

/// A read's list, or None if the value is not one (nil reads as empty).
fn as_list(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Nil => Some(&[]),
        other => other.as_list(),
    }
}

/// The list op `r` read from `key`.
fn list_of<'h>(ctx: &Ctx<'h>, r: usize, key: &Value) -> &'h [Value] {
    ctx.reads(r)
        .find(|m| m.key == key)
        .and_then(|m| as_list(m.value))
        .unwrap_or(&[])
}

type AppendLog = Vec<(u64, u32)>;
type SeenLog<'h> = Vec<(u64, (&'h Value, usize))>;
type ReadLog<'h> = Vec<(u64, (usize, &'h [Value]))>;

pub(super) fn check(
    ctx: &Ctx<'_>,
    report: &mut Report,
    pace: &mut Pace<'_>,
) -> Result<Vec<(&'static str, serde_json::Value)>, Exhausted> {
    let appends = Unique::new(&ctx.mops, MopKind::Append);
    let duplicates = appends.duplicates();

    // Per (scope, key): acknowledged appends, elements in the order the scope first saw
    // them, and reads; all in completion order.
    let mut alog: FxHashMap<(u32, &Value), AppendLog> = FxHashMap::default();
    let mut seen: FxHashMap<(u32, &Value), SeenLog<'_>> = FxHashMap::default();
    let mut rlog: FxHashMap<(u32, &Value), ReadLog<'_>> = FxHashMap::default();
    let mut seen_set: FxHashMap<(u32, &Value), FxHashSet<&Value>> = FxHashMap::default();
    for &i in &ctx.by_completion {
        pace.tick()?;
        let done = ctx.ops[i].cite();
        for s in ctx.scopes_of(i) {
            for m in &ctx.mops[i] {
                match m.kind {
                    MopKind::Append => {
                        if let Lookup::One(a) = appends.get(m.key, m.value) {
                            alog.entry((s, m.key)).or_default().push((done, a));
                        }
                    }
                    MopKind::Read => {
                        let Some(list) = as_list(m.value) else {
                            continue;
                        };
                        rlog.entry((s, m.key)).or_default().push((done, (i, list)));
                        let set = seen_set.entry((s, m.key)).or_default();
                        let log = seen.entry((s, m.key)).or_default();
                        for e in list {
                            if set.insert(e) {
                                log.push((done, (e, i)));
                            }
                        }
                    }
                    MopKind::Write => {}
                }
            }
        }
    }
    drop(seen_set);

    let (mut reads, mut unreadable) = (0u64, 0u64);
    let mut read_sets: HashSet<Vec<(&Value, &Value)>> = HashSet::new();
    for &r in &ctx.by_completion {
        pace.tick()?;
        let rop = &ctx.ops[r];
        let mut lists: Vec<(&Value, &[Value], FxHashMap<&Value, usize>)> = Vec::new();
        for m in ctx.reads(r) {
            reads += 1;
            let Some(list) = as_list(m.value) else {
                unreadable += 1;
                continue;
            };
            let mut pos = FxHashMap::default();
            for (p, e) in list.iter().enumerate() {
                pos.entry(e).or_insert(p);
            }
            lists.push((m.key, list, pos));
        }

        for (key, list, pos) in &lists {
            let k = key_name(key);
            for s in ctx.scopes_of(r) {
                let pre = ctx.preamble(s);
                if let Some(p) = alog.get(&(s, *key)).map(|l| prior(l, rop.invoke_index())) {
                    if !p.is_empty() {
                        report.check(Guarantee::ReadYourWrites);
                    }
                    let missing: Vec<u32> = p
                        .iter()
                        .map(|&(_, a)| a)
                        .filter(|&a| {
                            let (aop, _, e) = appends.all[a as usize];
                            !pos.contains_key(e) && ctx.spans(s, aop, r)
                        })
                        .collect();
                    if let Some(&last) = missing.last() {
                        report.found(Guarantee::ReadYourWrites, ctx.is_declared(s), None, || {
                            let elems: Vec<&Value> =
                                missing.iter().map(|&a| appends.all[a as usize].2).collect();
                            let last_op = appends.all[last as usize].0;
                            let mut ops: Vec<u64> = missing
                                .iter()
                                .rev()
                                .take(3)
                                .map(|&a| ctx.ops[appends.all[a as usize].0].cite())
                                .collect();
                            ops.reverse();
                            ops.dedup();
                            ops.push(rop.cite());
                            let own = if ctx.is_declared(s) {
                                "the session's"
                            } else {
                                "its own"
                            };
                            Anomaly::new(
                                Guarantee::ReadYourWrites.name(),
                                ops,
                                format!(
                                    "{pre}{} appended {} to {k}{}; then {} and saw {}, which \
                                     lacks {own} {}.",
                                    ctx.ops[last_op].who(),
                                    list_values(&elems, 5),
                                    if elems.len() > 1 {
                                        format!(" (the last {})", ctx.ack_time(last_op))
                                    } else {
                                        ctx.ack(last_op)
                                    },
                                    ctx.read_at(r, key),
                                    show_list(list),
                                    if elems.len() > 1 { "appends" } else { "append" },
                                ),
                            )
                            .with_key((*key).clone())
                        });
                    }
                }
                if let Some(p) = seen.get(&(s, *key)).map(|l| prior(l, rop.invoke_index())) {
                    if rlog
                        .get(&(s, *key))
                        .is_some_and(|l| !prior(l, rop.invoke_index()).is_empty())
                    {
                        report.check(Guarantee::MonotonicReads);
                    }
                    let missing: Vec<(&Value, usize)> = p
                        .iter()
                        .map(|&(_, x)| x)
                        .filter(|&(e, r1)| !pos.contains_key(e) && ctx.spans(s, r1, r))
                        .collect();
                    if let Some(&(_, r1)) = missing.iter().max_by_key(|(_, r1)| ctx.ops[*r1].cite())
                    {
                        report.found(Guarantee::MonotonicReads, ctx.is_declared(s), None, || {
                            let elems: Vec<&Value> = missing.iter().map(|m| m.0).collect();
                            Anomaly::new(
                                Guarantee::MonotonicReads.name(),
                                vec![ctx.ops[r1].cite(), rop.cite()],
                                format!(
                                    "{pre}{} and saw {}; then {} and saw {}, which lacks {} that \
                                     {} had seen.",
                                    ctx.read_at(r1, key),
                                    show_list(list_of(ctx, r1, key)),
                                    ctx.read_at(r, key),
                                    show_list(list),
                                    list_values(&elems, 5),
                                    if elems.len() > 1 {
                                        "earlier reads"
                                    } else {
                                        "the earlier read"
                                    },
                                ),
                            )
                            .with_key((*key).clone())
                        });
                    }
                }
            }
        }

        // Monotonic writes and writes-follow-reads: each element read names the append that
        // made it, and that append's session history says what must be seen with it.
        let set: Vec<(&Value, &Value)> = ctx.reads(r).map(|m| (m.key, m.value)).collect();
        if !read_sets.insert(set) {
            continue;
        }
        for (key, list, _) in &lists {
            for (i, b) in list.iter().enumerate() {
                pace.tick()?;
                let Lookup::One(bid) = appends.get(key, b) else {
                    continue;
                };
                let bop = appends.op(bid);
                if bop == r {
                    continue;
                }
                let binv = ctx.ops[bop].invoke_index();
                for s in ctx.scopes_of(bop) {
                    let pre = ctx.preamble(s);
                    let then_b = || {
                        format!(
                            "then {} appended {b} to {}{}",
                            ctx.ops[bop].who(),
                            key_name(key),
                            ctx.ack(bop)
                        )
                    };
                    for (k2, l2, pos2) in &lists {
                        let same = k2 == key;
                        let shows = || {
                            if same {
                                format!("then {} and saw {}", ctx.read_at(r, key), show_list(list))
                            } else {
                                format!(
                                    "{}'s transaction at {} saw {b} in {} but {} = {}",
                                    rop.who(),
                                    secs(rop.invoke_time()),
                                    key_name(key),
                                    key_name(k2),
                                    show_list(l2)
                                )
                            }
                        };
                        if let Some(&(_, a)) =
                            alog.get(&(s, *k2)).and_then(|l| prior(l, binv).last())
                        {
                            report.check(Guarantee::MonotonicWrites);
                            let (aop, _, ea) = appends.all[a as usize];
                            let at = pos2.get(ea);
                            let bad = if same {
                                at.is_none_or(|&p| p > i)
                            } else {
                                at.is_none()
                            };
                            if bad && ctx.spans(s, aop, bop) {
                                let pair = Some((ctx.ops[aop].cite(), ctx.ops[bop].cite()));
                                report.found(
                                    Guarantee::MonotonicWrites,
                                    ctx.is_declared(s),
                                    pair,
                                    || {
                                        let what = if at.is_some() {
                                            format!(
                                                "which puts {b} before the earlier append of {ea}"
                                            )
                                        } else if same {
                                            format!(
                                                "which has {b} without the earlier append of {ea}"
                                            )
                                        } else {
                                            format!("which lacks the earlier append of {ea}")
                                        };
                                        Anomaly::new(
                                            Guarantee::MonotonicWrites.name(),
                                            vec![
                                                ctx.ops[aop].cite(),
                                                ctx.ops[bop].cite(),
                                                rop.cite(),
                                            ],
                                            format!(
                                                "{pre}{} appended {ea} to {}{}; {}; {}, {what}.",
                                                ctx.ops[aop].who(),
                                                key_name(k2),
                                                ctx.ack(aop),
                                                then_b(),
                                                shows(),
                                            ),
                                        )
                                        .with_key((*k2).clone())
                                    },
                                );
                            }
                        }
                        if let Some(&(_, (r1, l1))) =
                            rlog.get(&(s, *k2)).and_then(|l| prior(l, binv).last())
                        {
                            let Some(e1) = l1.last() else { continue };
                            report.check(Guarantee::WritesFollowReads);
                            let before = if same { i } else { l2.len() };
                            let at = pos2.get(e1);
                            let bad = at.is_none_or(|&p| p >= before) || l1.len() > before;
                            if bad && ctx.spans(s, r1, bop) {
                                let pair = Some((ctx.ops[r1].cite(), ctx.ops[bop].cite()));
                                report.found(
                                    Guarantee::WritesFollowReads,
                                    ctx.is_declared(s),
                                    pair,
                                    || {
                                        Anomaly::new(
                                            Guarantee::WritesFollowReads.name(),
                                            vec![
                                                ctx.ops[r1].cite(),
                                                ctx.ops[bop].cite(),
                                                rop.cite(),
                                            ],
                                            format!(
                                            "{pre}{} and saw {}; {}; {}, which lacks part of what \
                                             was read before that append.",
                                            ctx.read_at(r1, k2),
                                            show_list(l1),
                                            then_b(),
                                            shows(),
                                        ),
                                        )
                                        .with_key((*k2).clone())
                                    },
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(vec![
        ("reads", json!(reads)),
        ("unreadable_reads", json!(unreadable)),
        ("duplicate_appends", json!(duplicates)),
    ])
}
