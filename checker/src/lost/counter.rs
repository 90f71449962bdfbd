//! Counters: every read within the bounds possible at its time (Jepsen's `counter`).

use faultline_core::{OpType, Value};
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{Ctx, Outcome};
use crate::found::Found;
use crate::operation::{key_name, secs, Pace};
use crate::{Anomaly, Exhausted};

/// Prefix sums of (delta, positive part, negative part).
fn prefix(deltas: impl Iterator<Item = i64>) -> Vec<(i128, i128, i128)> {
    let mut out = vec![(0i128, 0i128, 0i128)];
    for d in deltas {
        let &(s, p, n) = out.last().unwrap_or(&(0, 0, 0));
        let d = d as i128;
        out.push((s + d, p + d.max(0), n + d.min(0)));
    }
    out
}

struct Key {
    /// Acknowledged adds: (completion index, delta), sorted.
    acked: Vec<(u64, i64)>,
    /// Adds that may have applied (acknowledged or indeterminate): (invocation index, delta).
    attempted: Vec<(u64, i64)>,
    reads: Vec<usize>,
    failed: u64,
}

pub(super) fn check(
    ctx: &Ctx<'_>,
    initial: i64,
    found: &mut Found,
    pace: &mut Pace<'_>,
    malformed: &mut Vec<(u64, String)>,
) -> Result<Outcome, Exhausted> {
    let mut keys: FxHashMap<&Value, Key> = FxHashMap::default();
    let mut order: Vec<&Value> = Vec::new();
    for (i, op) in ctx.ops.iter().enumerate() {
        pace.tick()?;
        let is_add = op.f() == "add";
        if !is_add && !ctx.is_read(i) {
            continue;
        }
        let key = keys.entry(op.key()).or_insert_with(|| {
            order.push(op.key());
            Key {
                acked: Vec::new(),
                attempted: Vec::new(),
                reads: Vec::new(),
                failed: 0,
            }
        });
        if !is_add {
            match op.value() {
                Value::Int(_) => key.reads.push(i),
                v => malformed.push((
                    op.cite(),
                    format!("a counter read returns an integer, not {v}"),
                )),
            }
            continue;
        }
        let Some(d) = op.attempted().as_int() else {
            malformed.push((
                op.cite(),
                format!("an add's value is an integer delta, not {}", op.attempted()),
            ));
            continue;
        };
        match op.outcome() {
            OpType::Fail => key.failed += 1,
            OpType::Ok => {
                key.acked.push((op.cite(), d));
                key.attempted.push((op.invoke_index(), d));
            }
            _ => key.attempted.push((op.invoke_index(), d)),
        }
    }

    let mut finals = Vec::new();
    let (mut reads, mut acked, mut attempted, mut failed) = (0, 0, 0, 0);
    for k in &order {
        let key = &keys[k];
        let mut by_completion = key.acked.clone();
        by_completion.sort_unstable();
        let done = prefix(by_completion.iter().map(|x| x.1));
        let maybe = prefix(key.attempted.iter().map(|x| x.1));
        let marked: Vec<usize> = key
            .reads
            .iter()
            .copied()
            .filter(|&r| ctx.ops[r].is_final_read())
            .collect();
        let last = key.reads.iter().copied().max_by_key(|&r| ctx.ops[r].cite());
        let final_reads = if marked.is_empty() {
            last.into_iter().collect()
        } else {
            marked
        };
        reads += key.reads.len();
        acked += key.acked.len();
        attempted += key.attempted.len() - key.acked.len();
        failed += key.failed;
        let name = match k {
            Value::Nil => "the counter".to_string(),
            other => format!("counter {}", key_name(other)),
        };
        for &r in &key.reads {
            pace.tick()?;
            let op = &ctx.ops[r];
            let value = op.value().as_int().unwrap_or(0) as i128;
            let (t0, t1) = (op.invoke_index(), op.cite());
            let a = by_completion.partition_point(|x| x.0 < t0);
            let b = key.attempted.partition_point(|x| x.0 < t1);
            let (sum, pos, neg) = done[a];
            let lower = initial as i128 + sum + (maybe[b].2 - neg);
            let upper = initial as i128 + sum + (maybe[b].1 - pos);
            let is_final = final_reads.contains(&r);
            if is_final {
                finals.push(json!({"key": k, "read": op.cite(), "value": value as i64,
                    "lower": lower as i64, "upper": upper as i64}));
            }
            if value >= lower && value <= upper {
                continue;
            }
            let kind = match (value < lower, is_final) {
                (true, true) => "lost-increments",
                (true, false) => "counter-too-low",
                (false, _) => "counter-too-high",
            };
            let in_flight = b - a.min(b);
            found.add(kind, || {
                let gap = if value < lower {
                    format!(
                        "; acknowledged increments worth at least {} {} missing",
                        lower - value,
                        if is_final { "are" } else { "were" }
                    )
                } else {
                    format!(
                        "; {} more than any combination of the adds made so far could give",
                        value - upper
                    )
                };
                Anomaly::new(
                    kind,
                    vec![op.cite()],
                    format!(
                        "{} read {name} at {} and saw {value}, outside the range [{lower}, {upper}] \
                         possible then: the initial {initial}, plus {sum} from the {a} acknowledged \
                         adds completed before the read began, plus any of {in_flight} add(s) that \
                         may have applied by its end{gap}.",
                        op.who(),
                        secs(op.invoke_time()),
                    ),
                )
                .with_key((*k).clone())
            });
        }
    }
    Ok(Outcome {
        unchecked: (reads == 0).then(|| "the counter was never read".to_string()),
        stats: vec![
            ("reads", json!(reads)),
            ("adds_acknowledged", json!(acked)),
            ("adds_indeterminate", json!(attempted)),
            ("adds_failed", json!(failed)),
            ("final_reads", json!(finals)),
        ],
    })
}
