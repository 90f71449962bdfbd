//! Read-modify-write lost updates (Adya's P4): two committed ops that read the same version
//! of a key and then both wrote it.

use faultline_core::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{Ctx, Outcome};
use crate::found::Found;
use crate::operation::{key_name, secs, show_list, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

static EMPTY: Value = Value::List(Vec::new());

/// One read-modify-write: the op, the version read, and the first write after it.
struct Rmw<'h> {
    op: usize,
    kind: MopKind,
    wrote: &'h Value,
}

fn show(v: &Value) -> String {
    match v.as_list() {
        Some(l) => show_list(l),
        None => v.to_string(),
    }
}

pub(super) fn check(
    ctx: &Ctx<'_>,
    found: &mut Found,
    pace: &mut Pace<'_>,
) -> Result<Outcome, Exhausted> {
    let writes = Unique::new(&ctx.mops, MopKind::Write);
    let mut groups: FxHashMap<(&Value, &Value), Vec<Rmw<'_>>> = FxHashMap::default();
    let mut order: Vec<(&Value, &Value)> = Vec::new();
    let (mut candidates, mut ambiguous) = (0u64, 0u64);
    for (i, op) in ctx.ops.iter().enumerate() {
        if !op.is_ok() {
            continue;
        }
        // Per key in this op: the version read before any write of it, and whether done.
        let mut state: Vec<(&Value, Option<&Value>, bool)> = Vec::new();
        for m in &ctx.mops[i] {
            pace.tick()?;
            let at = state.iter().position(|s| s.0 == m.key);
            match m.kind {
                MopKind::Read => {
                    if at.is_none() {
                        // nil is a register's initial value, or an empty list.
                        let appends = || ctx.mops[i].iter().any(|x| x.kind == MopKind::Append);
                        let v = if m.value.is_nil() && appends() {
                            &EMPTY
                        } else {
                            m.value
                        };
                        state.push((m.key, Some(v), false));
                    }
                }
                MopKind::Write | MopKind::Append => match at {
                    Some(a) if !state[a].2 => {
                        state[a].2 = true;
                        let Some(version) = state[a].1 else { continue };
                        if m.kind == MopKind::Write
                            && !version.is_nil()
                            && writes.get(m.key, version) == Lookup::Many
                        {
                            ambiguous += 1;
                            continue;
                        }
                        candidates += 1;
                        let g = groups.entry((m.key, version)).or_insert_with(|| {
                            order.push((m.key, version));
                            Vec::new()
                        });
                        g.push(Rmw {
                            op: i,
                            kind: m.kind,
                            wrote: m.value,
                        });
                    }
                    Some(_) => {}
                    None => state.push((m.key, None, true)),
                },
            }
        }
    }
    let mut lost = 0u64;
    for (key, version) in order {
        let g = &groups[&(key, version)];
        if g.len() < 2 {
            continue;
        }
        lost += 1;
        found.add("lost-update", || {
            let k = key_name(key);
            let parts: Vec<String> = g
                .iter()
                .take(4)
                .enumerate()
                .map(|(j, x)| {
                    let op = &ctx.ops[x.op];
                    let what = if op.f() == "txn" {
                        "transaction"
                    } else {
                        op.f()
                    };
                    let did = match x.kind {
                        MopKind::Append => format!("appended {} to {k}", x.wrote),
                        _ => format!("wrote {} to {k}", x.wrote),
                    };
                    format!(
                        "{}'s {what} at {} {}read {k} = {} and then {did}",
                        op.who(),
                        secs(op.invoke_time()),
                        if j > 0 { "also " } else { "" },
                        show(version),
                    )
                })
                .collect();
            let more = if g.len() > 4 {
                format!(" ({} more did the same)", g.len() - 4)
            } else {
                String::new()
            };
            Anomaly::new(
                "lost-update",
                g.iter().map(|x| ctx.ops[x.op].cite()).collect(),
                format!(
                    "{}{more}; all committed, each having modified a version of {k} that did not \
                     include the others' updates: a lost update.",
                    parts.join("; ")
                ),
            )
            .with_key(key.clone())
        });
    }
    Ok(Outcome {
        unchecked: (candidates == 0).then(|| {
            "no op read a key and then wrote it (cas, or a transaction reading before writing)"
                .to_string()
        }),
        stats: vec![
            ("read_modify_writes", json!(candidates)),
            ("read_modify_writes_of_ambiguous_versions", json!(ambiguous)),
            ("lost_updates", json!(lost)),
        ],
    })
}
