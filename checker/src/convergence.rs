//! Convergence: after the faults heal and the cluster settles, every replica returns the
//! same value for every key (eventual consistency's promise, Vogels 2009; Terry et al.'s
//! Bayou anti-entropy).
//!
//! The controller reads every key from every node at the end. A *final read* is an op whose
//! `f` is `final-read` or that carries the extra field `final: true`
//! ([`crate::operation::Operation::is_final_read`]); the replica is the op's `node` (or
//! "process N" when the node is not recorded). What a final read returns, per key:
//! - a `txn`: each `r` micro-op's key and value;
//! - an op with a `key` field: that key and the op's value;
//! - otherwise a map value is a whole-store read (every key and its value; a key it does not
//!   list is absent, `nil`), and any other value is the one unnamed object's (key `nil`).
//!
//! When a node read a key more than once, its last ok read counts. Lists compare in order,
//! or as multisets with `order_insensitive` (sets stored as lists). Nodes that disagree on a
//! key are a `replicas-diverge` anomaly; a node whose final read failed or is indeterminate,
//! or that never read a key another node read, makes the verdict unknown for that part.

use std::collections::BTreeMap;

use faultline_core::{History, Value};

use crate::found::Found;
use crate::operation::{
    key_name, operations_independent, working_bytes, MopKind, Operation, Pace, NIL,
};
use crate::{Anomaly, Budget, Checker, Exhausted, Validity, Verdict};

/// Checks that the final reads of every node agree.
#[derive(Clone, Debug)]
pub struct ConvergenceChecker {
    /// Compare list values as multisets (set workloads).
    pub order_insensitive: bool,
    pub max_reported: usize,
    /// Single ops carry Jepsen's `independent` `[key value]` tuples.
    pub independent: bool,
}

impl Default for ConvergenceChecker {
    fn default() -> Self {
        ConvergenceChecker {
            order_insensitive: false,
            max_reported: 100,
            independent: false,
        }
    }
}

/// What one final read returned: (key, value) pairs, and whether it read the whole store.
type Returned<'h> = (Vec<(&'h Value, &'h Value)>, bool);
/// Per node: key -> (value, the read that returned it), and whether it read the whole store.
type NodeReads<'h> = (BTreeMap<&'h Value, (&'h Value, u64)>, bool);
/// Nodes grouped by the value they returned for one key: (node, the read).
type Groups<'n> = Vec<(Value, Vec<(&'n str, Option<u64>)>)>;

fn pairs<'h>(op: &Operation<'h>) -> Result<Returned<'h>, String> {
    let v = op.value();
    if op.f() == "txn" {
        let mops = op.mops()?;
        return Ok((
            mops.iter()
                .filter(|m| m.kind == MopKind::Read)
                .map(|m| (m.key, m.value))
                .collect(),
            false,
        ));
    }
    if !op.key().is_nil() {
        return Ok((vec![(op.key(), v)], false));
    }
    match v {
        Value::Map(m) => Ok((m.iter().map(|(k, v)| (k, v)).collect(), true)),
        _ => Ok((vec![(&NIL, v)], false)),
    }
}

fn normal(v: &Value, order_insensitive: bool) -> Value {
    match v {
        Value::List(l) if order_insensitive => {
            let mut l = l.clone();
            l.sort();
            Value::List(l)
        }
        other => other.clone(),
    }
}

impl ConvergenceChecker {
    fn run(&self, history: &History, budget: &Budget) -> Result<Verdict, Exhausted> {
        let mut pace = Pace::new(budget);
        let mut v = Verdict::valid(self.name());
        let ops = operations_independent(history, self.independent);
        pace.hold(working_bytes(ops.len(), 0))?;
        // node -> key -> (value, the read), and whether the node read the whole store.
        let mut nodes: BTreeMap<String, NodeReads<'_>> = BTreeMap::new();
        let mut unsure: Vec<String> = Vec::new();
        // Nodes already known to be unsure, so each is named once.
        let mut unsure_nodes: std::collections::BTreeSet<String> = Default::default();
        let mut malformed: Vec<String> = Vec::new();
        let mut finals: Vec<&Operation<'_>> = ops.iter().filter(|o| o.is_final_read()).collect();
        finals.sort_by_key(|o| o.cite());
        for op in &finals {
            pace.tick()?;
            let node = op.node().map_or_else(|| op.who(), str::to_string);
            if !op.is_ok() {
                unsure.push(format!(
                    "the final read by {} on {node} did not complete ok",
                    op.who()
                ));
                unsure_nodes.insert(node.clone());
                nodes.entry(node).or_default();
                continue;
            }
            match pairs(op) {
                Ok((kv, whole)) => {
                    let entry = nodes.entry(node).or_default();
                    entry.1 |= whole;
                    for (k, val) in kv {
                        entry.0.insert(k, (val, op.cite()));
                    }
                }
                Err(e) => malformed.push(format!("index {}: {e}", op.cite())),
            }
        }
        let mut keys: Vec<&Value> = nodes
            .values()
            .flat_map(|(m, _)| m.keys().copied())
            .collect();
        keys.sort();
        keys.dedup();
        let mut found = Found::new(self.max_reported);
        for key in &keys {
            pace.tick()?;
            // value -> nodes and their reads
            let mut groups: Groups<'_> = Vec::new();
            for (node, (m, whole)) in &nodes {
                let (val, at) = match m.get(key) {
                    Some(&(val, at)) => (val, Some(at)),
                    None if *whole => (&NIL, None),
                    None => {
                        if unsure_nodes.insert(node.clone()) {
                            unsure.push(format!("{node} has no final read of {}", key_name(key)));
                        }
                        continue;
                    }
                };
                let val = normal(val, self.order_insensitive);
                match groups.iter_mut().find(|g| g.0 == val) {
                    Some(g) => g.1.push((node, at)),
                    None => groups.push((val, vec![(node, at)])),
                }
            }
            if groups.len() < 2 {
                continue;
            }
            // The largest group first: the majority view, then the dissenters.
            groups.sort_by_key(|g| std::cmp::Reverse(g.1.len()));
            found.add("replicas-diverge", || {
                let ops: Vec<u64> = groups
                    .iter()
                    .flat_map(|g| g.1.iter().filter_map(|n| n.1))
                    .collect();
                let parts: Vec<String> = groups
                    .iter()
                    .map(|(val, ns)| {
                        let names: Vec<&str> = ns.iter().map(|n| n.0).collect();
                        format!(
                            "{} returned {val}",
                            crate::operation::list_values(&names, 6)
                        )
                    })
                    .collect();
                Anomaly::new(
                    "replicas-diverge",
                    ops,
                    format!(
                        "After the final reads the replicas disagree on {}: {}.",
                        key_name(key),
                        parts.join("; ")
                    ),
                )
                .with_key((*key).clone())
            });
        }
        v.stat("nodes", nodes.len());
        v.stat("keys", keys.len());
        v.stat("final_reads", finals.len());
        found.into_verdict(&mut v);
        if v.valid == Validity::Valid {
            let reason = if finals.is_empty() {
                Some(
                    "the history has no final reads (f = \"final-read\", or final: true)"
                        .to_string(),
                )
            } else if let Some(m) = malformed.first() {
                Some(format!(
                    "{} final read(s) could not be read ({m})",
                    malformed.len()
                ))
            } else if !unsure.is_empty() {
                Some(crate::operation::list_values(&unsure, 3))
            } else {
                None
            };
            if let Some(r) = reason {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(r);
            }
        }
        if nodes.len() == 1 {
            v.stat(
                "note",
                "only one node was read; convergence is trivially kept",
            );
        }
        Ok(v)
    }
}

impl Checker for ConvergenceChecker {
    fn name(&self) -> &str {
        "convergence"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        self.run(history, budget)
            .unwrap_or_else(|e| Verdict::unknown(self.name(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use faultline_core::dsl::{la, Builder};

    use super::*;

    /// Marks ops at these positions final and served by these nodes.
    fn finals(b: &Builder, at: &[(usize, &str)]) -> History {
        let mut ops = b.build().into_ops();
        for &(i, node) in at {
            ops[i].extra.insert("final", true.into());
            ops[i].node = Some(node.into());
        }
        History::from_ops(ops).unwrap()
    }

    fn check(h: &History) -> Verdict {
        ConvergenceChecker::default().check(h, &Budget::unlimited())
    }

    #[test]
    fn agreeing_replicas_converge() {
        let mut b = Builder::new();
        b.txn_ok(0, la("ax1"))
            .txn_ok(1, la("rx1 ry_"))
            .txn_ok(2, la("rx1 ry_"));
        let v = check(&finals(&b, &[(2, "n1"), (3, "n1"), (4, "n2"), (5, "n2")]));
        assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
        assert_eq!(v.stats["nodes"], 2);
    }

    #[test]
    fn disagreeing_replicas_are_named_with_what_they_returned() {
        let mut b = Builder::new();
        b.txn_ok(0, la("rx12"))
            .txn_ok(1, la("rx12"))
            .txn_ok(2, la("rx1"));
        let h = finals(
            &b,
            &[
                (0, "n1"),
                (1, "n1"),
                (2, "n2"),
                (3, "n2"),
                (4, "n3"),
                (5, "n3"),
            ],
        );
        let v = check(&h);
        assert_eq!(v.kinds(), vec!["replicas-diverge"]);
        assert_eq!(v.anomalies[0].ops, vec![1, 3, 5]);
        assert_eq!(
            v.anomalies[0].explanation,
            "After the final reads the replicas disagree on x: n1 and n2 returned [1 2]; n3 returned [1]."
        );
    }

    #[test]
    fn whole_store_reads_count_missing_keys_as_absent() {
        let mut b = Builder::new();
        let store = |pairs: Vec<(&str, i64)>| {
            Value::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Value::from(k), Value::Int(v)))
                    .collect(),
            )
        };
        b.invoke(0, "final-read", Value::Nil)
            .ok(0, store(vec![("x", 1), ("y", 2)]));
        b.invoke(1, "final-read", Value::Nil)
            .ok(1, store(vec![("x", 1)]));
        let mut ops = b.build().into_ops();
        ops[1].node = Some("n1".into());
        ops[3].node = Some("n2".into());
        let v = check(&History::from_ops(ops).unwrap());
        assert_eq!(v.anomalies.len(), 1);
        assert_eq!(v.anomalies[0].key, Some(Value::from("y")));
        assert!(v.anomalies[0]
            .explanation
            .ends_with("n1 returned 2; n2 returned nil."));
    }

    #[test]
    fn sets_compare_without_order_when_asked() {
        let mut b = Builder::new();
        b.txn_ok(0, la("rx12")).txn_ok(1, la("rx21"));
        let h = finals(&b, &[(0, "n1"), (1, "n1"), (2, "n2"), (3, "n2")]);
        assert_eq!(check(&h).valid, Validity::Invalid);
        let sets = ConvergenceChecker {
            order_insensitive: true,
            ..ConvergenceChecker::default()
        };
        assert_eq!(sets.check(&h, &Budget::unlimited()).valid, Validity::Valid);
    }

    #[test]
    fn a_failed_final_read_or_no_final_reads_is_unknown() {
        let mut b = Builder::new();
        b.txn_ok(0, la("rx1"));
        b.txn(1, la("rx_")).info(1, Value::Nil);
        let v = check(&finals(&b, &[(0, "n1"), (1, "n1"), (2, "n2"), (3, "n2")]));
        assert_eq!(v.valid, Validity::Unknown);
        assert!(v.unknown_reason.unwrap().contains("n2 did not complete ok"));
        let mut b = Builder::new();
        b.txn_ok(0, la("rx1"));
        assert!(check(&b.build())
            .unknown_reason
            .unwrap()
            .contains("no final reads"));
    }
}
