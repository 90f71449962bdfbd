//! List-append: acknowledged appends missing from the final reads of their key.

use faultline_core::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{Ctx, Outcome};
use crate::found::Found;
use crate::operation::{key_name, node_suffix, secs, show_list, MopKind, Pace};
use crate::{Anomaly, Exhausted};

/// An append known to have happened.
struct Known {
    op: usize,
    /// When it was first known to exist: its acknowledgement or the first read to see it.
    since: u64,
    /// The last read (by completion) that saw it.
    last_seen: Option<usize>,
}

pub(super) fn check(
    ctx: &Ctx<'_>,
    found: &mut Found,
    pace: &mut Pace<'_>,
) -> Result<Outcome, Exhausted> {
    // Per key: element -> what is known of its append; and the reads of the key.
    let mut appends: FxHashMap<&Value, FxHashMap<&Value, Known>> = FxHashMap::default();
    let mut reads: FxHashMap<&Value, Vec<(usize, &[Value])>> = FxHashMap::default();
    let mut keys: Vec<&Value> = Vec::new();
    for (i, op) in ctx.ops.iter().enumerate() {
        for m in &ctx.mops[i] {
            if !appends.contains_key(m.key) {
                keys.push(m.key);
                appends.insert(m.key, FxHashMap::default());
            }
            if m.kind == MopKind::Append && op.is_ok() {
                if let Some(a) = appends.get_mut(m.key) {
                    a.entry(m.value).or_insert(Known {
                        op: i,
                        since: op.cite(),
                        last_seen: None,
                    });
                }
            }
        }
    }
    // Reads in completion order, so `last_seen` ends as the latest.
    let mut by_completion: Vec<usize> =
        (0..ctx.ops.len()).filter(|&i| ctx.ops[i].is_ok()).collect();
    by_completion.sort_by_key(|&i| ctx.ops[i].cite());
    let attempted: FxHashMap<(&Value, &Value), usize> = ctx
        .mops
        .iter()
        .enumerate()
        .flat_map(|(i, ms)| {
            ms.iter()
                .filter(|m| m.kind == MopKind::Append)
                .map(move |m| ((m.key, m.value), i))
        })
        .collect();
    for &r in &by_completion {
        for m in ctx.mops[r].iter().filter(|m| m.kind == MopKind::Read) {
            let list = match m.value {
                Value::Nil => &[][..],
                v => match v.as_list() {
                    Some(l) => l,
                    None => continue,
                },
            };
            reads.entry(m.key).or_default().push((r, list));
            let Some(known) = appends.get_mut(m.key) else {
                continue;
            };
            for e in list {
                pace.tick()?;
                if let Some(k) = known.get_mut(e) {
                    k.last_seen = Some(r);
                    k.since = k.since.min(ctx.ops[r].cite());
                } else if let Some(&op) = attempted.get(&(m.key, e)) {
                    // An indeterminate append, now known to have happened.
                    known.insert(
                        e,
                        Known {
                            op,
                            since: ctx.ops[r].cite(),
                            last_seen: Some(r),
                        },
                    );
                }
            }
        }
    }

    let (mut finals, mut checked, mut lost) = (0u64, 0u64, 0u64);
    for key in &keys {
        let Some(rs) = reads.get(key) else { continue };
        let marked: Vec<&(usize, &[Value])> = rs
            .iter()
            .filter(|(r, _)| ctx.ops[*r].is_final_read())
            .collect();
        let final_reads: Vec<&(usize, &[Value])> = if marked.is_empty() {
            rs.last().into_iter().collect()
        } else {
            marked
        };
        finals += final_reads.len() as u64;
        let mut known: Vec<(&&Value, &Known)> = appends[key].iter().collect();
        known.sort_by_key(|(_, k)| ctx.ops[k.op].cite());
        for (e, k) in known {
            pace.tick()?;
            let missing: Vec<usize> = final_reads
                .iter()
                .filter(|(r, l)| k.since < ctx.ops[*r].invoke_index() && !l.contains(e))
                .map(|(r, _)| *r)
                .collect();
            checked += 1;
            if missing.is_empty() {
                continue;
            }
            lost += 1;
            found.add("lost-append", || {
                let aop = &ctx.ops[k.op];
                let mut ops = vec![aop.cite()];
                let seen = match k.last_seen {
                    Some(s) => {
                        ops.push(ctx.ops[s].cite());
                        format!(
                            "; the read by {} at {} was the last to see it",
                            ctx.ops[s].who(),
                            secs(ctx.ops[s].invoke_time())
                        )
                    }
                    None => String::new(),
                };
                let finals: Vec<String> = missing
                    .iter()
                    .map(|&r| {
                        ops.push(ctx.ops[r].cite());
                        format!(
                            "{}{} at {} saw {}",
                            ctx.ops[r].who(),
                            node_suffix(ctx.ops[r].node()),
                            secs(ctx.ops[r].invoke_time()),
                            show_list(rs.iter().find(|x| x.0 == r).map_or(&[][..], |x| x.1))
                        )
                    })
                    .collect();
                Anomaly::new(
                    "lost-append",
                    ops,
                    format!(
                        "{} appended {e} to {}{}{seen}; the final read{} of {} ({}) lack{} it.",
                        aop.who(),
                        key_name(key),
                        if aop.is_ok() {
                            format!(
                                " (acknowledged at {})",
                                secs(aop.complete_time().unwrap_or(0))
                            )
                        } else {
                            " (its outcome unknown until a read saw it)".to_string()
                        },
                        if missing.len() > 1 { "s" } else { "" },
                        key_name(key),
                        finals.join("; "),
                        if missing.len() > 1 { "" } else { "s" },
                    ),
                )
                .with_key((*key).clone())
            });
        }
    }
    Ok(Outcome {
        unchecked: (finals == 0)
            .then(|| "no key was read, so no append could be found lost".to_string()),
        stats: vec![
            ("final_reads", json!(finals)),
            ("appends_checked", json!(checked)),
            ("lost_appends", json!(lost)),
        ],
    })
}
