//! Session guarantees on list-append histories, where every read lists the appends it saw.
//!
//! Most reads of a key are prefixes of one list, the key's longest read (its *canonical*
//! list). For those, membership and position come from the canonical positions without
//! hashing the read, and the per-element monotonic-writes and writes-follow-reads results
//! are the same in every such read, so each canonical position is checked once. Reads that
//! diverge from the canonical list take the general path, which builds their own positions.

use std::collections::HashSet;

use faultline_core::Value;
use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::json;

use super::{prior, Ctx, Guarantee, Report};
use crate::operation::{key_name, list_values, secs, show_list, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

const NONE: u32 = u32::MAX;

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

/// Where an element sits in one read.
enum View<'a, 'h> {
    /// A prefix of the key's canonical list, this long.
    Prefix(&'a FxHashMap<&'h Value, u32>, usize),
    /// A divergent list, with its own positions.
    Own(FxHashMap<&'h Value, usize>, usize),
}

impl View<'_, '_> {
    fn pos(&self, x: &Value) -> Option<usize> {
        match self {
            View::Prefix(cpos, len) => cpos.get(x).map(|&p| p as usize).filter(|p| p < len),
            View::Own(pos, _) => pos.get(x).copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            View::Prefix(_, l) | View::Own(_, l) => *l,
        }
    }
}

/// One read of a key within an op.
struct Read<'a, 'h> {
    key: u32,
    list: &'h [Value],
    view: View<'a, 'h>,
}

type AppendLog = Vec<(u64, (u32, u32))>;
type SeenLog<'h> = Vec<(u64, (&'h Value, usize, u32))>;
type ReadLog<'h> = Vec<(u64, (usize, &'h [Value]))>;

/// Everything the checks share.
struct Index<'c, 'h> {
    ctx: &'c Ctx<'h>,
    appends: Unique<'h>,
    keys: Vec<&'h Value>,
    key_ids: FxHashMap<&'h Value, u32>,
    canon: Vec<&'h [Value]>,
    cpos: Vec<FxHashMap<&'h Value, u32>>,
    /// Per append: its position in its key's canonical list, or NONE.
    acpos: Vec<u32>,
    /// Per (scope, key): acknowledged appends (with the largest canonical position so far),
    /// elements in the order the scope first saw them (likewise), and reads; all in
    /// completion order.
    alog: FxHashMap<u64, AppendLog>,
    seen: FxHashMap<u64, SeenLog<'h>>,
    rlog: FxHashMap<u64, ReadLog<'h>>,
}

fn lk(scope: u32, key: u32) -> u64 {
    (scope as u64) << 32 | key as u64
}

impl<'c, 'h> Index<'c, 'h> {
    fn new(ctx: &'c Ctx<'h>, pace: &mut Pace<'_>) -> Result<Index<'c, 'h>, Exhausted> {
        let appends = Unique::new(&ctx.mops, MopKind::Append);
        let mut ix = Index {
            ctx,
            appends,
            keys: Vec::new(),
            key_ids: FxHashMap::default(),
            canon: Vec::new(),
            cpos: Vec::new(),
            acpos: Vec::new(),
            alog: FxHashMap::default(),
            seen: FxHashMap::default(),
            rlog: FxHashMap::default(),
        };
        for m in ctx.mops.iter().flatten() {
            ix.key(m.key);
        }
        for &r in &ctx.by_completion {
            for m in ctx.reads(r) {
                let (Some(l), k) = (as_list(m.value), ix.key(m.key)) else {
                    continue;
                };
                if l.len() > ix.canon[k as usize].len() {
                    ix.canon[k as usize] = l;
                }
            }
        }
        for k in 0..ix.keys.len() {
            pace.tick()?;
            let mut pos = FxHashMap::default();
            for (p, e) in ix.canon[k].iter().enumerate() {
                pos.entry(e).or_insert(p as u32);
            }
            ix.cpos.push(pos);
        }
        ix.acpos = (0..ix.appends.all.len() as u32)
            .map(|a| {
                let k = ix.key_ids[ix.appends.all[a as usize].1];
                *ix.cpos[k as usize]
                    .get(ix.appends.value(a))
                    .unwrap_or(&NONE)
            })
            .collect();

        let mut seen_set: FxHashMap<u64, FxHashSet<&Value>> = FxHashMap::default();
        for &i in &ctx.by_completion {
            pace.tick()?;
            let done = ctx.ops[i].cite();
            for s in ctx.scopes_of(i) {
                for m in &ctx.mops[i] {
                    let k = ix.key_ids[m.key];
                    let at = lk(s, k);
                    match m.kind {
                        MopKind::Append => {
                            if let Lookup::One(a) = ix.appends.get(m.key, m.value) {
                                let log = ix.alog.entry(at).or_default();
                                let most =
                                    log.last().map_or(0, |e| e.1 .1).max(ix.acpos[a as usize]);
                                log.push((done, (a, most)));
                            }
                        }
                        MopKind::Read => {
                            let Some(list) = as_list(m.value) else {
                                continue;
                            };
                            ix.rlog.entry(at).or_default().push((done, (i, list)));
                            let set = seen_set.entry(at).or_default();
                            let log = ix.seen.entry(at).or_default();
                            for e in list {
                                if set.insert(e) {
                                    let c = *ix.cpos[k as usize].get(e).unwrap_or(&NONE);
                                    let most = log.last().map_or(0, |x| x.1 .2).max(c);
                                    log.push((done, (e, i, most)));
                                }
                            }
                        }
                        MopKind::Write => {}
                    }
                }
            }
        }
        Ok(ix)
    }

    fn key(&mut self, k: &'h Value) -> u32 {
        if let Some(&id) = self.key_ids.get(k) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(k);
        self.key_ids.insert(k, id);
        self.canon.push(&[]);
        id
    }

    /// The reads of op `r`, each with how to find positions in it.
    fn reads(&self, r: usize, general: bool) -> (Vec<Read<'_, 'h>>, u64) {
        let mut unreadable = 0;
        let mut out = Vec::new();
        for m in self.ctx.reads(r) {
            let Some(list) = as_list(m.value) else {
                unreadable += 1;
                continue;
            };
            let k = self.key_ids[m.key];
            let canon = self.canon[k as usize];
            let view = if !general && list.len() <= canon.len() && list == &canon[..list.len()] {
                View::Prefix(&self.cpos[k as usize], list.len())
            } else {
                let mut pos = FxHashMap::default();
                for (p, e) in list.iter().enumerate() {
                    pos.entry(e).or_insert(p);
                }
                View::Own(pos, list.len())
            };
            out.push(Read { key: k, list, view });
        }
        (out, unreadable)
    }

    /// The latest entry of a log completed before history index `before`.
    fn last<T: Copy>(log: Option<&Vec<(u64, T)>>, before: u64) -> Option<T> {
        log.and_then(|l| prior(l, before).last()).map(|e| e.1)
    }
}

/// Read-your-writes and monotonic reads for one read of op `r`.
fn reads_side(ix: &Index<'_, '_>, report: &mut Report, r: usize, read: &Read<'_, '_>) {
    let ctx = ix.ctx;
    let rop = &ctx.ops[r];
    let key = ix.keys[read.key as usize];
    let k = key_name(key);
    let fast =
        |most: u32| matches!(read.view, View::Prefix(..)) && (most as usize) < read.view.len();
    for s in ctx.scopes_of(r) {
        let pre = ctx.preamble(s);
        let at = lk(s, read.key);
        let p = ix
            .alog
            .get(&at)
            .map_or(&[][..], |l| prior(l, rop.invoke_index()));
        if let Some(&(_, (_, most))) = p.last() {
            report.check(Guarantee::ReadYourWrites);
            if !fast(most) {
                let missing: Vec<u32> = p
                    .iter()
                    .map(|&(_, (a, _))| a)
                    .filter(|&a| {
                        read.view.pos(ix.appends.value(a)).is_none()
                            && ctx.spans(s, ix.appends.op(a), r)
                    })
                    .collect();
                if let Some(&last) = missing.last() {
                    report.found(Guarantee::ReadYourWrites, ctx.is_declared(s), None, || {
                        let elems: Vec<&Value> = missing.iter().map(|&a| ix.appends.value(a)).collect();
                        let last_op = ix.appends.op(last);
                        let mut ops: Vec<u64> =
                            missing.iter().rev().take(3).map(|&a| ctx.ops[ix.appends.op(a)].cite()).collect();
                        ops.reverse();
                        ops.dedup();
                        ops.push(rop.cite());
                        let own = if ctx.is_declared(s) { "the session's" } else { "its own" };
                        Anomaly::new(
                            Guarantee::ReadYourWrites.name(),
                            ops,
                            format!(
                                "{pre}{} appended {} to {k}{}; then {} and saw {}, which lacks {own} {}.",
                                ctx.ops[last_op].who(),
                                list_values(&elems, 5),
                                if elems.len() > 1 {
                                    format!(" (the last {})", ctx.ack_time(last_op))
                                } else {
                                    ctx.ack(last_op)
                                },
                                ctx.read_at(r, key),
                                show_list(read.list),
                                if elems.len() > 1 { "appends" } else { "append" },
                            ),
                        )
                        .with_key(key.clone())
                    });
                }
            }
        }
        let p = ix
            .seen
            .get(&at)
            .map_or(&[][..], |l| prior(l, rop.invoke_index()));
        if ix
            .rlog
            .get(&at)
            .is_some_and(|l| !prior(l, rop.invoke_index()).is_empty())
        {
            report.check(Guarantee::MonotonicReads);
        }
        let Some(&(_, (_, _, most))) = p.last() else {
            continue;
        };
        if fast(most) {
            continue;
        }
        let missing: Vec<(&Value, usize)> = p
            .iter()
            .map(|&(_, (e, r1, _))| (e, r1))
            .filter(|&(e, r1)| read.view.pos(e).is_none() && ctx.spans(s, r1, r))
            .collect();
        if let Some(&(_, r1)) = missing.iter().max_by_key(|(_, r1)| ctx.ops[*r1].cite()) {
            report.found(Guarantee::MonotonicReads, ctx.is_declared(s), None, || {
                let elems: Vec<&Value> = missing.iter().map(|m| m.0).collect();
                Anomaly::new(
                    Guarantee::MonotonicReads.name(),
                    vec![ctx.ops[r1].cite(), rop.cite()],
                    format!(
                        "{pre}{} and saw {}; then {} and saw {}, which lacks {} that {} had seen.",
                        ctx.read_at(r1, key),
                        show_list(list_of(ctx, r1, key)),
                        ctx.read_at(r, key),
                        show_list(read.list),
                        list_values(&elems, 5),
                        if elems.len() > 1 {
                            "earlier reads"
                        } else {
                            "the earlier read"
                        },
                    ),
                )
                .with_key(key.clone())
            });
        }
    }
}

/// Monotonic writes and writes-follow-reads for the element at position `i` of `read` (op
/// `r`), against what `target` (a read of the same op; the same read for same-key checks)
/// shows of the appending session's earlier appends and reads.
fn element(
    ix: &Index<'_, '_>,
    report: &mut Report,
    r: usize,
    read: &Read<'_, '_>,
    i: usize,
    target: &Read<'_, '_>,
) {
    let ctx = ix.ctx;
    let (key, k2) = (ix.keys[read.key as usize], ix.keys[target.key as usize]);
    let b = &read.list[i];
    let Lookup::One(bid) = ix.appends.get(key, b) else {
        return;
    };
    let bop = ix.appends.op(bid);
    if bop == r {
        return;
    }
    let rop = &ctx.ops[r];
    let same = read.key == target.key;
    let binv = ctx.ops[bop].invoke_index();
    for s in ctx.scopes_of(bop) {
        let pre = ctx.preamble(s);
        let at = lk(s, target.key);
        let then_b = || {
            format!(
                "then {} appended {b} to {}{}",
                ctx.ops[bop].who(),
                key_name(key),
                ctx.ack(bop)
            )
        };
        let shows = || {
            if same {
                format!(
                    "then {} and saw {}",
                    ctx.read_at(r, key),
                    show_list(read.list)
                )
            } else {
                format!(
                    "{}'s transaction at {} saw {b} in {} but {} = {}",
                    rop.who(),
                    secs(rop.invoke_time()),
                    key_name(key),
                    key_name(k2),
                    show_list(target.list)
                )
            }
        };
        if let Some((a, _)) = Index::last(ix.alog.get(&at), binv) {
            report.check(Guarantee::MonotonicWrites);
            let (aop, ea) = (ix.appends.op(a), ix.appends.value(a));
            let pos = target.view.pos(ea);
            let bad = if same {
                pos.is_none_or(|p| p > i)
            } else {
                pos.is_none()
            };
            if bad && ctx.spans(s, aop, bop) {
                let pair = Some((ctx.ops[aop].cite(), ctx.ops[bop].cite()));
                report.found(Guarantee::MonotonicWrites, ctx.is_declared(s), pair, || {
                    let what = if pos.is_some() {
                        format!("which puts {b} before the earlier append of {ea}")
                    } else if same {
                        format!("which has {b} without the earlier append of {ea}")
                    } else {
                        format!("which lacks the earlier append of {ea}")
                    };
                    Anomaly::new(
                        Guarantee::MonotonicWrites.name(),
                        vec![ctx.ops[aop].cite(), ctx.ops[bop].cite(), rop.cite()],
                        format!(
                            "{pre}{} appended {ea} to {}{}; {}; {}, {what}.",
                            ctx.ops[aop].who(),
                            key_name(k2),
                            ctx.ack(aop),
                            then_b(),
                            shows(),
                        ),
                    )
                    .with_key(k2.clone())
                });
            }
        }
        if let Some((r1, l1)) = Index::last(ix.rlog.get(&at), binv) {
            let Some(e1) = l1.last() else { continue };
            report.check(Guarantee::WritesFollowReads);
            let before = if same { i } else { target.view.len() };
            let bad = target.view.pos(e1).is_none_or(|p| p >= before) || l1.len() > before;
            if bad && ctx.spans(s, r1, bop) {
                let pair = Some((ctx.ops[r1].cite(), ctx.ops[bop].cite()));
                report.found(
                    Guarantee::WritesFollowReads,
                    ctx.is_declared(s),
                    pair,
                    || {
                        Anomaly::new(
                            Guarantee::WritesFollowReads.name(),
                            vec![ctx.ops[r1].cite(), ctx.ops[bop].cite(), rop.cite()],
                            format!(
                            "{pre}{} and saw {}; {}; {}, which lacks part of what was read before \
                             that append.",
                            ctx.read_at(r1, k2),
                            show_list(l1),
                            then_b(),
                            shows(),
                        ),
                        )
                        .with_key(k2.clone())
                    },
                );
            }
        }
    }
}

/// For canonical position `i` of key `k`: the shortest prefix of key `k2`'s canonical list a
/// read of `k2` in the same snapshot must show, by monotonic writes and writes-follow-reads
/// (NONE when no prefix will do), and whether there was anything to require.
fn need_at(ix: &Index<'_, '_>, k: u32, i: usize, k2: u32) -> (u32, bool) {
    let ctx = ix.ctx;
    let Lookup::One(bid) = ix
        .appends
        .get(ix.keys[k as usize], &ix.canon[k as usize][i])
    else {
        return (0, false);
    };
    let bop = ix.appends.op(bid);
    let binv = ctx.ops[bop].invoke_index();
    let (mut need, mut any) = (0u32, false);
    let after = |p: u32| if p == NONE { NONE } else { p + 1 };
    for s in ctx.scopes_of(bop) {
        let at = lk(s, k2);
        if let Some((a, _)) = Index::last(ix.alog.get(&at), binv) {
            any = true;
            if ctx.spans(s, ix.appends.op(a), bop) {
                need = need.max(after(ix.acpos[a as usize]));
            }
        }
        if let Some((r1, l1)) = Index::last(ix.rlog.get(&at), binv) {
            let Some(e1) = l1.last() else { continue };
            any = true;
            if ctx.spans(s, r1, bop) {
                let c = *ix.cpos[k2 as usize].get(e1).unwrap_or(&NONE);
                need = need.max(after(c)).max(l1.len() as u32);
            }
        }
    }
    (need, any)
}

pub(super) fn check(
    ctx: &Ctx<'_>,
    report: &mut Report,
    pace: &mut Pace<'_>,
) -> Result<Vec<(&'static str, serde_json::Value)>, Exhausted> {
    let ix = Index::new(ctx, pace)?;
    let general = report.general_path;
    // Per key: canonical positions whose same-key checks are done.
    let mut done_upto: Vec<usize> = vec![0; ix.keys.len()];
    // Per (key, other key): prefix maxima of the snapshot requirement, and prefix counts of
    // positions that had one.
    let mut needs: FxHashMap<(u32, u32), (Vec<u32>, Vec<u32>)> = FxHashMap::default();
    let mut read_sets: HashSet<Vec<(&Value, &Value)>> = HashSet::new();
    let (mut reads, mut unreadable, mut divergent) = (0u64, 0u64, 0u64);
    for &r in &ctx.by_completion {
        pace.tick()?;
        let (lists, bad) = ix.reads(r, general);
        unreadable += bad;
        reads += lists.len() as u64;
        for read in &lists {
            reads_side(&ix, report, r, read);
        }
        let mut fresh: Option<bool> = None;
        let mut fresh = || {
            *fresh.get_or_insert_with(|| {
                read_sets.insert(ctx.reads(r).map(|m| (m.key, m.value)).collect())
            })
        };
        for read in &lists {
            match read.view {
                View::Prefix(_, len) => {
                    let from = done_upto[read.key as usize];
                    for i in from..len.max(from) {
                        pace.tick()?;
                        element(&ix, report, r, read, i, read);
                    }
                    done_upto[read.key as usize] = from.max(len);
                }
                View::Own(..) => {
                    divergent += 1;
                    if fresh() {
                        for i in 0..read.list.len() {
                            pace.tick()?;
                            element(&ix, report, r, read, i, read);
                        }
                    }
                }
            }
            for target in lists.iter().filter(|t| t.key != read.key) {
                if let (View::Prefix(_, len), View::Prefix(_, len2)) = (&read.view, &target.view) {
                    let (max, count) = needs.entry((read.key, target.key)).or_insert_with(|| {
                        let (mut max, mut count) = (vec![0u32], vec![0u32]);
                        for i in 0..ix.canon[read.key as usize].len() {
                            let (n, any) = need_at(&ix, read.key, i, target.key);
                            max.push(max[i].max(n));
                            count.push(count[i] + any as u32);
                        }
                        (max, count)
                    });
                    let checks = count[*len];
                    if checks > 0 {
                        report.check(Guarantee::MonotonicWrites);
                        report.check(Guarantee::WritesFollowReads);
                    }
                    if (max[*len] as usize) <= *len2 {
                        continue;
                    }
                }
                if fresh() {
                    for i in 0..read.list.len() {
                        pace.tick()?;
                        element(&ix, report, r, read, i, target);
                    }
                }
            }
        }
    }
    Ok(vec![
        ("reads", json!(reads)),
        ("reads_off_the_longest", json!(divergent)),
        ("unreadable_reads", json!(unreadable)),
        ("duplicate_appends", json!(ix.appends.duplicates())),
    ])
}
