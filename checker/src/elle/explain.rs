//! Explanations: a cycle as data ([`Evidence::Cycle`], one step per edge with a reason)
//! and as Elle's sentence ("Let T1 = ...; T2 = .... Then: T1 < T2 because ...; T2 < T1
//! because .... A contradiction!"), and the small renderers the other anomalies share.
//!
//! Data edges are explained by the workload (it knows what was appended or written where);
//! process and real-time edges are explained here from the history.

use faultline_core::{History, Value};

use super::classify::Step;
use super::cycles::Cycle;
use super::graph::{kind_name, PROCESS, REALTIME};
use super::txns::{Mop, TxnId, Txns};
use crate::verdict::{Anomaly, CycleStep, Evidence};

/// Why one transaction precedes another by a data dependency, as the workload sees it.
pub trait DataExplainer {
    /// A clause such as "T2 observed T1's append of 3 to x", naming `a` and `b` as given;
    /// None if `a -> b` is not a `kind` edge.
    fn why(&self, a: TxnId, b: TxnId, kind: u8, a_name: &str, b_name: &str) -> Option<String>;
}

/// A key as a sentence shows it: plain identifiers bare (`x`), anything else named as a key
/// (`key 3`, `key "a b"`), so "appended 4 to key 0" cannot be misread.
pub fn key(k: &Value) -> String {
    match k {
        Value::Str(s)
            if !s.is_empty()
                && s.parse::<f64>().is_err()
                && !s.chars().any(|c| c.is_whitespace() || c == ',' || c == '"') =>
        {
            s.clone()
        }
        other => format!("key {other}"),
    }
}

/// A list of elements as `[1 2 3]`.
pub fn list(txns: &Txns, elems: &[u64]) -> String {
    let parts: Vec<String> = elems
        .iter()
        .map(|&e| txns.values.value(e).to_string())
        .collect();
    format!("[{}]", parts.join(" "))
}

/// "the transaction at index 12 (process 3)"
pub fn txn_ref(txns: &Txns, t: TxnId) -> String {
    let txn = &txns.txns[t as usize];
    format!(
        "the transaction at index {} (process {})",
        txn.index(),
        process(txn.process)
    )
}

fn process(p: u64) -> String {
    if p == u64::MAX {
        "nemesis".to_string()
    } else {
        p.to_string()
    }
}

/// A transaction's micro-ops as `append x 3, r y [1 2]`.
pub fn mops(txns: &Txns, t: TxnId) -> String {
    let parts: Vec<String> = txns
        .mops(t)
        .iter()
        .map(|m| match *m {
            Mop::Append { key: k, elem } => {
                format!("append {} {}", key(txns.key(k)), txns.values.value(elem))
            }
            Mop::Write { key: k, elem } => {
                format!("w {} {}", key(txns.key(k)), txns.values.value(elem))
            }
            Mop::ReadList { key: k, start, len } => {
                format!(
                    "r {} {}",
                    key(txns.key(k)),
                    list(txns, txns.read(start, len))
                )
            }
            Mop::ReadReg { key: k, elem } => {
                format!("r {} {}", key(txns.key(k)), txns.values.value(elem))
            }
            Mop::ReadUnknown { key: k } => format!("r {} ?", key(txns.key(k))),
        })
        .collect();
    parts.join(", ")
}

/// `{index 12, process 3: append x 3, r y [1 2]}`
pub fn txn_body(txns: &Txns, t: TxnId) -> String {
    let txn = &txns.txns[t as usize];
    format!(
        "{{index {}, process {}: {}}}",
        txn.index(),
        process(txn.process),
        mops(txns, t)
    )
}

/// Why `a` precedes `b` by the single edge kind `kind`.
fn why(
    history: &History,
    txns: &Txns,
    data: &dyn DataExplainer,
    step: &Step,
    a_name: &str,
    b_name: &str,
) -> String {
    let (a, b) = (step.from, step.to);
    match step.kind {
        PROCESS => format!(
            "process {} executed {a_name} before {b_name}",
            process(txns.txns[a as usize].process)
        ),
        REALTIME => {
            let done = txns.txns[a as usize].index();
            let invoked = txns.txns[b as usize].invoke;
            let time = |i: u64| history.get(i as usize).map(|op| op.time);
            let gap = match (time(done), time(invoked)) {
                (Some(x), Some(y)) if y > x => {
                    format!(" {:.3} seconds", (y - x) as f64 / 1e9)
                }
                _ => " just".to_string(),
            };
            format!(
                "{a_name} completed at index {done},{gap} before the invocation of {b_name}, at index {invoked}"
            )
        }
        kind => data
            .why(a, b, kind, a_name, b_name)
            .unwrap_or_else(|| format!("of a {} dependency", kind_name(kind))),
    }
}

/// Turns a cycle into an anomaly: evidence steps and Elle's sentence.
pub fn cycle_anomaly(
    history: &History,
    txns: &Txns,
    data: &dyn DataExplainer,
    cycle: &Cycle,
) -> Anomaly {
    let names: Vec<String> = (1..=cycle.steps.len()).map(|i| format!("T{i}")).collect();
    let members: Vec<TxnId> = cycle.steps.iter().map(|s| s.from).collect();
    let binding: Vec<String> = members
        .iter()
        .zip(&names)
        .map(|(&t, n)| format!("{n} = {}", txn_body(txns, t)))
        .collect();
    let mut steps = Vec::new();
    let mut clauses = Vec::new();
    for (i, s) in cycle.steps.iter().enumerate() {
        let (an, bn) = (&names[i], &names[(i + 1) % names.len()]);
        let w = why(history, txns, data, s, an, bn);
        clauses.push(format!("{an} < {bn} because {w} ({})", kind_name(s.kind)));
        steps.push(CycleStep {
            from: txns.txns[s.from as usize].index(),
            to: txns.txns[s.to as usize].index(),
            edge: kind_name(s.kind).to_string(),
            why: w,
        });
    }
    let explanation = format!(
        "Let {}. Then: {}. A contradiction!",
        binding.join("; "),
        clauses.join("; ")
    );
    let ops = members
        .iter()
        .map(|&t| txns.txns[t as usize].index())
        .collect();
    Anomaly::new(cycle.kind, ops, explanation).with_evidence(Evidence::Cycle { steps })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_bare_and_other_keys_are_values() {
        assert_eq!(key(&Value::from("x")), "x");
        assert_eq!(key(&Value::from("3")), "key \"3\"");
        assert_eq!(key(&Value::Int(3)), "key 3");
        assert_eq!(key(&Value::from("a b")), "key \"a b\"");
    }
}
