//! Sets, after Jepsen's `set-full`: the life of every element added.

use faultline_core::{OpType, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{Ctx, Outcome};
use crate::found::Found;
use crate::operation::{secs, Pace};
use crate::stats::quantile;
use crate::{Anomaly, Exhausted};

#[derive(Default)]
struct Element {
    /// The first add attempted that did not fail.
    add: Option<usize>,
    /// An ok add's completion (index, time), the earliest.
    acked: Option<(u64, u64)>,
    /// Reads (positions in `reads`) that saw it, in invocation order.
    present: Vec<u32>,
    /// The earliest completion (index, time, read) of a read that saw it.
    first_seen: Option<(u64, u64, usize)>,
    /// Largest multiplicity in one read, and that read.
    dup: Option<(usize, usize)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    Stable,
    Lost,
    NeverRead,
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e4).round() / 100.0
}

fn latencies(mut l: Vec<u64>) -> serde_json::Value {
    l.sort_unstable();
    let q = |p| quantile(&l, p).map(ms);
    json!({"count": l.len(), "p0": q(0.0), "p50": q(0.5), "p95": q(0.95), "p99": q(0.99), "max": q(1.0)})
}

pub(super) fn check(
    ctx: &Ctx<'_>,
    stale_is_anomaly: bool,
    found: &mut Found,
    pace: &mut Pace<'_>,
) -> Result<Outcome, Exhausted> {
    let mut elements: FxHashMap<&Value, Element> = FxHashMap::default();
    let mut order: Vec<&Value> = Vec::new();
    let mut reads: Vec<usize> = Vec::new();
    let mut unexpected: FxHashMap<&Value, usize> = FxHashMap::default();
    let mut attempts = 0u64;
    for (i, op) in ctx.ops.iter().enumerate() {
        pace.tick()?;
        if op.f() == "add" {
            let e = op.attempted();
            attempts += 1;
            if op.outcome() == OpType::Fail {
                continue;
            }
            let el = elements.entry(e).or_insert_with(|| {
                order.push(e);
                Element::default()
            });
            el.add.get_or_insert(i);
            if op.is_ok() {
                let c = (op.cite(), op.complete_time().unwrap_or(0));
                if el.acked.is_none_or(|a| c.0 < a.0) {
                    el.acked = Some(c);
                }
            }
        } else if ctx.is_read(i) && op.value().as_list().is_some() {
            reads.push(i);
        }
    }
    // Reads in invocation order (ops are), each element's present reads in that order.
    for (pos, &r) in reads.iter().enumerate() {
        let op = &ctx.ops[r];
        let list = op.value().as_list().unwrap_or(&[]);
        let mut counts: FxHashMap<&Value, usize> = FxHashMap::default();
        for e in list {
            pace.tick()?;
            *counts.entry(e).or_default() += 1;
        }
        for (e, n) in counts {
            let Some(el) = elements.get_mut(e) else {
                unexpected.entry(e).or_insert(r);
                continue;
            };
            el.present.push(pos as u32);
            let c = (op.cite(), op.complete_time().unwrap_or(0), r);
            if el.first_seen.is_none_or(|f| c.0 < f.0) {
                el.first_seen = Some(c);
            }
            if n > 1 && el.dup.is_none_or(|d| n > d.0) {
                el.dup = Some((n, r));
            }
        }
    }

    let (mut stable, mut lost, mut never, mut stale) = (0u64, 0u64, 0u64, 0u64);
    let (mut stable_lat, mut lost_lat) = (Vec::new(), Vec::new());
    let mut details = Vec::new();
    let mut worst_stale: Vec<(u64, &Value)> = Vec::new();
    for e in &order {
        pace.tick()?;
        let el = &elements[e];
        let Some(add) = el.add else { continue };
        let add_op = &ctx.ops[add];
        // Known to exist: the add's acknowledgement or the first read that saw it.
        let known = match (el.acked, el.first_seen) {
            (Some(a), Some(f)) if f.0 < a.0 => Some((f.0, f.1)),
            (Some(a), _) => Some(a),
            (None, Some(f)) => Some((f.0, f.1)),
            (None, None) => None,
        };
        let last_present = el.present.last().map(|&p| reads[p as usize]);
        // The latest-invoked read that missed it: walk back over the reads that saw it.
        let mut j = reads.len();
        let mut k = el.present.len();
        while j > 0 && k > 0 && el.present[k - 1] as usize == j - 1 {
            j -= 1;
            k -= 1;
        }
        let last_absent = (j > 0)
            .then(|| reads[j - 1])
            .filter(|&r| ctx.ops[r].cite() > add_op.invoke_index());
        let inv = |r: usize| ctx.ops[r].invoke_index();
        let fate = match (last_present, last_absent, known) {
            (Some(p), a, _) if a.is_none_or(|a| inv(a) < inv(p)) => Fate::Stable,
            (p, Some(a), Some(k)) if p.is_none_or(|p| inv(p) < inv(a)) && k.0 < inv(a) => {
                Fate::Lost
            }
            _ => Fate::NeverRead,
        };
        let known_t = known.map_or(0, |k| k.1);
        match fate {
            Fate::Stable => {
                stable += 1;
                // Stable from just after the last read that missed it (Jepsen's rule).
                let stable_t = last_absent.map_or(0, |a| ctx.ops[a].invoke_time() + 1);
                let lat = stable_t.saturating_sub(known_t);
                stable_lat.push(lat);
                if lat > 0 && known.is_some() {
                    stale += 1;
                    worst_stale.push((lat, e));
                    if stale_is_anomaly {
                        let a = last_absent.unwrap_or(add);
                        found.add("stale-element", || {
                            Anomaly::new(
                                "stale-element",
                                vec![add_op.cite(), ctx.ops[a].cite()],
                                format!(
                                    "{} added {e}, known to exist at {}; the read by {} begun at {} \
                                     missed it, and it was not seen by every read until {:.3} ms \
                                     after it was known.",
                                    add_op.who(),
                                    secs(known_t),
                                    ctx.ops[a].who(),
                                    secs(ctx.ops[a].invoke_time()),
                                    lat as f64 / 1e6
                                ),
                            )
                            .with_key((*e).clone())
                        });
                    }
                }
            }
            Fate::Lost => {
                lost += 1;
                let lost_t = last_present.map_or(0, |p| ctx.ops[p].invoke_time() + 1);
                lost_lat.push(lost_t.saturating_sub(known_t));
                let a = last_absent.unwrap_or(add);
                found.add("lost-element", || {
                    let mut ops = vec![add_op.cite()];
                    let seen = match last_present {
                        Some(p) => {
                            ops.push(ctx.ops[p].cite());
                            format!(
                                "the read by {} begun at {} was the last to see it",
                                ctx.ops[p].who(),
                                secs(ctx.ops[p].invoke_time())
                            )
                        }
                        None => "no read ever saw it".to_string(),
                    };
                    ops.push(ctx.ops[a].cite());
                    Anomaly::new(
                        "lost-element",
                        ops,
                        format!(
                            "{} added {e}{}; {seen}; every read begun later missed it, up to the \
                             read by {} at {}, although it was known to exist from {}.",
                            add_op.who(),
                            match el.acked {
                                Some((_, t)) => format!(" (acknowledged at {})", secs(t)),
                                None => " (its outcome unknown)".to_string(),
                            },
                            ctx.ops[a].who(),
                            secs(ctx.ops[a].invoke_time()),
                            secs(known_t),
                        ),
                    )
                    .with_key((*e).clone())
                });
            }
            Fate::NeverRead => never += 1,
        }
        if let Some((n, r)) = el.dup {
            found.add("duplicate-element", || {
                Anomaly::new(
                    "duplicate-element",
                    vec![ctx.ops[r].cite()],
                    format!(
                        "{} read the set at {} and saw {e} {n} times; a set holds it once.",
                        ctx.ops[r].who(),
                        secs(ctx.ops[r].invoke_time())
                    ),
                )
                .with_key((*e).clone())
            });
        }
        if fate != Fate::Stable || details.len() < 50 {
            details.push(json!({
                "element": e,
                "outcome": match fate { Fate::Stable => "stable", Fate::Lost => "lost", Fate::NeverRead => "never-read" },
                "known_s": known.map(|k| k.1 as f64 / 1e9),
                "first_seen_s": el.first_seen.map(|f| f.1 as f64 / 1e9),
                "last_absent_s": last_absent.map(|a| ctx.ops[a].invoke_time() as f64 / 1e9),
            }));
        }
    }
    let mut unexpected: Vec<(&Value, usize)> = unexpected.into_iter().collect();
    unexpected.sort_by_key(|&(_, r)| r);
    for (e, r) in unexpected {
        found.add("unexpected-element", || {
            Anomaly::new(
                "unexpected-element",
                vec![ctx.ops[r].cite()],
                format!(
                    "{} read the set at {} and saw {e}, which no add that did not fail ever added.",
                    ctx.ops[r].who(),
                    secs(ctx.ops[r].invoke_time())
                ),
            )
            .with_key(e.clone())
        });
    }
    worst_stale.sort_by_key(|w| std::cmp::Reverse(w.0));
    details.truncate(1000);
    Ok(Outcome {
        unchecked: (stable + lost == 0).then(|| {
            "no element was ever seen stable or lost (nothing added, or never read after adding)"
                .to_string()
        }),
        stats: vec![
            ("reads", json!(reads.len())),
            ("attempt_count", json!(attempts)),
            ("stable_count", json!(stable)),
            ("lost_count", json!(lost)),
            ("never_read_count", json!(never)),
            ("stale_count", json!(stale)),
            ("stable_latencies_ms", latencies(stable_lat)),
            ("lost_latencies_ms", latencies(lost_lat)),
            (
                "worst_stale",
                json!(worst_stale
                    .iter()
                    .take(8)
                    .map(|(l, e)| json!({"element": e, "stable_latency_ms": ms(*l)}))
                    .collect::<Vec<_>>()),
            ),
            ("elements", json!(details)),
        ],
    })
}
