//! Turning search results into a [`Verdict`]: evidence (the longest linearizable prefix and
//! the ops that cannot follow it) and the sentence a person reads.

use super::search::{Search, Stuck};
use super::{Meta, Model, Part, PartResult};
use crate::operation::{key_name, list_values, secs};
use crate::verdict::{Anomaly, Evidence, Exhausted, Verdict};

/// When an op ran: times when the history has them, else event positions.
fn when(m: &Meta, timed: bool) -> String {
    match (timed, m.complete, m.complete_time) {
        (true, Some(_), Some(t)) if m.determinate => format!(
            "invoked at {}, completed at {}",
            secs(m.invoke_time),
            secs(t)
        ),
        (true, _, _) => format!("invoked at {}, never completed", secs(m.invoke_time)),
        (false, Some(c), _) if m.determinate => format!("events {}-{c}", m.invoke),
        (false, _, _) => format!("invoked at event {}, never completed", m.invoke),
    }
}

/// The anomaly for a part the search found illegal.
pub(super) fn anomaly<M: Model>(
    model: &M,
    search: &Search<'_, M>,
    part: &Part<M::Input, M::Output>,
    stuck: &Stuck,
    timed: bool,
) -> Anomaly {
    let desc = |op: usize| {
        let (i, o) = &part.ops[op];
        format!(
            "process {}'s {}",
            part.meta[op].process,
            model.describe_op(i, o)
        )
    };
    let b = stuck.blocked;
    let state = model.describe_state(search.state(stuck.state));
    let others: Vec<String> = stuck
        .open
        .iter()
        .filter(|&&o| o != b)
        .map(|&o| desc(o))
        .collect();
    let on_key = part
        .key
        .as_ref()
        .map(|k| format!("On key {}: n", key_name(k)))
        .unwrap_or_else(|| "N".into());
    let placed = match stuck.prefix.last() {
        None => format!("no op can be placed first, when {state}"),
        Some(&last) => format!(
            "the longest linearizable prefix found places {} of them, ending with {}, after which {state}",
            stuck.prefix.len(),
            desc(last)
        ),
    };
    let nor = match others.len() {
        0 => String::new(),
        n => format!(
            ", nor can the {} other op{} open at that point ({})",
            n,
            if n == 1 { "" } else { "s" },
            list_values(&others, 4)
        ),
    };
    let explanation = format!(
        "{on_key}o order of these {} ops explains {} ({}): {placed}; it cannot take effect there{nor}.",
        part.ops.len(),
        desc(b),
        when(&part.meta[b], timed),
    );
    let inv = |op: usize| part.meta[op].invoke;
    let mut unplaceable = vec![inv(b)];
    unplaceable.extend(stuck.open.iter().filter(|&&o| o != b).map(|&o| inv(o)));
    // The ops to draw: the end of the prefix, the open ops, and whatever overlaps them.
    let mut window: Vec<u64> = stuck.prefix.iter().rev().take(8).map(|&o| inv(o)).collect();
    window.extend(&unplaceable);
    let lo = stuck
        .open
        .iter()
        .map(|&o| part.meta[o].invoke)
        .min()
        .unwrap_or(0);
    let hi = part.meta[b].complete.unwrap_or(u64::MAX);
    window.extend(
        part.meta
            .iter()
            .filter(|m| m.invoke <= hi && m.complete.is_none_or(|c| c >= lo))
            .take(32)
            .map(|m| m.invoke),
    );
    window.sort_unstable();
    window.dedup();
    let mut ops = vec![part.meta[b].invoke];
    ops.extend(part.meta[b].complete);
    if let Some(&last) = stuck.prefix.last() {
        ops.push(part.meta[last].complete.unwrap_or(part.meta[last].invoke));
    }
    let evidence = Evidence::Linearization {
        prefix: stuck.prefix.iter().map(|&o| inv(o)).collect(),
        states: stuck
            .states
            .iter()
            .map(|&s| model.describe_state(search.state(s)))
            .collect(),
        state,
        unplaceable,
        window,
    };
    let a = Anomaly::new("nonlinearizable", ops, explanation).with_evidence(evidence);
    match &part.key {
        Some(k) => a.with_key(k.clone()),
        None => a,
    }
}

/// The verdict over every part; `None` results are parts not checked (stopped early).
pub(super) fn combine<I, O>(parts: &[Part<I, O>], results: Vec<Option<PartResult>>) -> Verdict {
    let mut v = Verdict::valid("linearizable");
    let mut explored = 0u64;
    let mut gave_up: Vec<String> = Vec::new();
    let mut unchecked = 0usize;
    let mut cancelled: Vec<String> = Vec::new();
    let mut invalid_keys = 0usize;
    for (part, r) in parts.iter().zip(results) {
        let name = part.key.as_ref().map(|k| format!("key {}: ", key_name(k)));
        match r {
            Some(PartResult::Ok(n)) => explored += n,
            Some(PartResult::Illegal(a, n)) => {
                explored += n;
                invalid_keys += 1;
                v.push(a);
            }
            Some(PartResult::GaveUp(why, n)) => {
                explored += n;
                let who = name.unwrap_or_default();
                if why == Exhausted::Cancelled {
                    // Stopped because another part was illegal, or cancelled from outside.
                    unchecked += 1;
                    cancelled.push(format!("{who}{why}"));
                } else {
                    gave_up.push(format!("{who}{why} after {n} search states"));
                }
            }
            None => unchecked += 1,
        }
    }
    let ops: usize = parts.iter().map(|p| p.ops.len()).sum();
    v.stat("ops", ops as u64);
    v.stat("keys", parts.len() as u64);
    v.stat("states", explored);
    if v.anomalies.is_empty() {
        gave_up.extend(cancelled);
        if !gave_up.is_empty() {
            let more = match gave_up.len() {
                1 => String::new(),
                n => format!(
                    " (and {} more part{})",
                    n - 1,
                    if n == 2 { "" } else { "s" }
                ),
            };
            v.valid = crate::verdict::Validity::Unknown;
            v.unknown_reason = Some(format!(
                "{}{more}; nothing illegal was found before that",
                gave_up[0]
            ));
        }
        if v.valid == crate::verdict::Validity::Valid {
            v.models.kept.push("linearizable".into());
        }
    } else {
        v.stat("keys_invalid", invalid_keys as u64);
        v.models.ruled_out.push("linearizable".into());
    }
    if unchecked > 0 {
        v.stat("keys_unchecked", unchecked as u64);
    }
    v
}
