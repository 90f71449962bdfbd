//! Property tests against brute-force oracles: monotonic reads against every pair of reads
//! of one process (the earlier completed before the later began) and against every order of
//! the writes; the list-append shortcut against the general path.

use std::collections::BTreeSet;

use faultline_core::dsl::{la, rw, Builder};
use faultline_core::{History, OpType, Value};
use proptest::prelude::*;

use super::SessionChecker;
use crate::{Budget, Checker};

/// (process, invoke-a-write?, which value to read) steps; each step invokes a new op on
/// the process or completes its open one.
fn history(steps: &[(u64, bool, usize)], list: bool) -> History {
    let mut b = Builder::new();
    let mut open: [Option<(bool, i64)>; 3] = [None; 3];
    let mut written: Vec<i64> = Vec::new();
    let mut next = 1;
    let txn = |s: String| if list { la(&s) } else { rw(&s) };
    let read_value = |written: &[i64], pick: usize| -> String {
        if list {
            // A list read: the first `pick` values written, possibly skipping one.
            let n = pick % (written.len() + 1);
            let mut l: Vec<i64> = written[..n].to_vec();
            if pick % 3 == 0 && !l.is_empty() {
                l.remove(pick % l.len());
            }
            if l.is_empty() {
                "rx_".into()
            } else {
                format!(
                    "rx{}",
                    l.iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        } else {
            match pick % (written.len() + 1) {
                0 => "rx_".into(),
                i => format!("rx{}", written[i - 1]),
            }
        }
    };
    let complete =
        |b: &mut Builder, p: u64, op: (bool, i64), pick: usize, written: &mut Vec<i64>| {
            if op.0 {
                written.push(op.1);
                b.ok(p, txn(format!("{}x{}", if list { "a" } else { "w" }, op.1)));
            } else {
                b.ok(p, txn(read_value(written, pick)));
            }
        };
    for &(p, write, pick) in steps {
        match open[p as usize].take() {
            Some(op) => complete(&mut b, p, op, pick, &mut written),
            None => {
                if write {
                    b.txn(p, txn(format!("{}x{next}", if list { "a" } else { "w" })));
                    open[p as usize] = Some((true, next));
                    next += 1;
                } else {
                    b.txn(p, txn("rx_".into()));
                    open[p as usize] = Some((false, 0));
                }
            }
        }
    }
    for p in 0..3 {
        if let Some(op) = open[p as usize].take() {
            complete(&mut b, p, op, p as usize * 7 + 1, &mut written);
        }
    }
    b.build()
}

/// Writes 1..=n all in flight together (so real time orders none of them), and reads
/// by processes 0-2 of any written value or nil while they are.
fn concurrent_writes(n: i64, reads: &[(u64, usize)]) -> History {
    let mut b = Builder::new();
    for v in 1..=n {
        b.txn(10 + v as u64, rw(&format!("wx{v}")));
    }
    for &(p, pick) in reads {
        let r = match pick as i64 % (n + 1) {
            0 => "rx_".to_string(),
            v => format!("rx{v}"),
        };
        b.txn_ok(p, rw(&r));
    }
    for v in 1..=n {
        b.ok(10 + v as u64, rw(&format!("wx{v}")));
    }
    b.build()
}

/// The read value of a completed single-read txn.
fn read_of(v: &Value) -> Option<&Value> {
    match v.as_list()? {
        [m] => match m.as_list()? {
            [f, _, v] if f.as_str() == Some("r") => Some(v),
            _ => None,
        },
        _ => None,
    }
}

/// Completion indices of reads that break monotonic reads against some earlier read.
fn brute_force(h: &History, list: bool) -> BTreeSet<u64> {
    let ops: Vec<_> = h
        .client_pairs()
        .filter_map(|(i, c)| Some((i, c?)))
        .collect();
    // Write value -> (invoke index, completion index).
    let writes: Vec<(i64, u64, u64)> = ops
        .iter()
        .filter(|(i, _)| read_of(&i.value).is_none())
        .map(|(i, c)| {
            let m = &i.value.as_list().unwrap()[0];
            (m.as_list().unwrap()[2].as_int().unwrap(), i.index, c.index)
        })
        .collect();
    let older = |u: &Value, w: &Value| -> bool {
        let Some(w) = w.as_int() else { return false };
        let (_, winv, _) = writes.iter().find(|x| x.0 == w).unwrap();
        match u.as_int() {
            None => true,
            Some(u) => writes.iter().find(|x| x.0 == u).unwrap().2 < *winv,
        }
    };
    let mut bad = BTreeSet::new();
    for (i2, c2) in &ops {
        let Some(v2) = read_of(&c2.value) else {
            continue;
        };
        for (i1, c1) in &ops {
            let Some(v1) = read_of(&c1.value) else {
                continue;
            };
            if i1.process != i2.process || c1.index >= i2.index || c1.kind != OpType::Ok {
                continue;
            }
            let violated = if list {
                let l2 = v2.as_list().unwrap();
                v1.as_list().unwrap().iter().any(|e| !l2.contains(e))
            } else {
                older(v2, v1)
            };
            if violated {
                bad.insert(c2.index);
            }
        }
    }
    bad
}

fn checker_says(h: &History) -> BTreeSet<u64> {
    let c = SessionChecker {
        max_reported: usize::MAX,
        ..SessionChecker::default()
    };
    c.check(h, &Budget::unlimited())
        .anomalies
        .iter()
        .filter(|a| a.kind == "monotonic-reads" && !a.explanation.contains("whichever order"))
        .map(|a| *a.ops.last().unwrap())
        .collect()
}

/// Whether every order of the writes (nil first) has some process read a value and
/// later an older one; None when there are too many writes to try every order.
fn every_order_goes_back(h: &History) -> Option<bool> {
    let ops: Vec<_> = h
        .client_pairs()
        .filter_map(|(i, c)| Some((i, c?)))
        .collect();
    let written: Vec<i64> = ops
        .iter()
        .filter(|(i, _)| read_of(&i.value).is_none())
        .map(|(i, _)| {
            i.value.as_list().unwrap()[0].as_list().unwrap()[2]
                .as_int()
                .unwrap()
        })
        .collect();
    if written.len() > 6 {
        return None;
    }
    let mut seqs: std::collections::BTreeMap<_, Vec<Option<i64>>> = Default::default();
    for (i, c) in &ops {
        if let Some(v) = read_of(&c.value) {
            seqs.entry(i.process).or_default().push(v.as_int());
        }
    }
    fn perms(v: &mut Vec<i64>, k: usize, out: &mut Vec<Vec<i64>>) {
        if k == v.len() {
            out.push(v.clone());
        }
        for i in k..v.len() {
            v.swap(k, i);
            perms(v, k + 1, out);
            v.swap(k, i);
        }
    }
    let mut all = Vec::new();
    perms(&mut written.clone(), 0, &mut all);
    Some(all.iter().all(|order| {
        let pos =
            |v: Option<i64>| v.map_or(-1, |v| order.iter().position(|&x| x == v).unwrap() as i64);
        seqs.values()
            .any(|s| s.windows(2).any(|w| pos(w[1]) < pos(w[0])))
    }))
}

fn checker_flags(h: &History) -> (bool, bool) {
    let v = SessionChecker::default().check(h, &Budget::unlimited());
    let mr: Vec<_> = v
        .anomalies
        .iter()
        .filter(|a| a.kind == "monotonic-reads")
        .collect();
    (
        !mr.is_empty(),
        mr.iter().any(|a| a.explanation.contains("whichever order")),
    )
}

fn mop(f: &str, k: &str, v: Value) -> Value {
    Value::List(vec![f.into(), k.into(), v])
}

/// Multi-key list-append transactions whose reads are prefixes of each key's append
/// order, sometimes with an element dropped or two swapped (divergent reads).
fn divergent_history(steps: &[(u64, u8, usize)]) -> History {
    let mut b = Builder::new();
    let mut open: [Option<Vec<(String, String, i64)>>; 3] = [None, None, None];
    let mut truth: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    let mut next = 0;
    for &(p, what, pick) in steps {
        let slot = &mut open[p as usize];
        match slot.take() {
            None => {
                let plan: Vec<(&str, &str)> = match what % 4 {
                    0 => vec![("append", "x")],
                    1 => vec![("append", "y")],
                    2 => vec![("r", "x"), ("r", "y")],
                    _ => vec![("r", "x"), ("append", "y")],
                };
                let plan: Vec<(String, String, i64)> = plan
                    .into_iter()
                    .map(|(f, k)| {
                        next += 1;
                        (f.to_string(), k.to_string(), next)
                    })
                    .collect();
                let inv = plan
                    .iter()
                    .map(|(f, k, v)| {
                        if f == "r" {
                            mop("r", k, Value::Nil)
                        } else {
                            mop(f, k, (*v).into())
                        }
                    })
                    .collect::<Vec<_>>();
                b.invoke(p, "txn", Value::List(inv));
                *slot = Some(plan);
            }
            Some(plan) => {
                let mut done = Vec::new();
                for (j, (f, k, v)) in plan.iter().enumerate() {
                    let order = truth.entry(k.clone()).or_default();
                    if f == "append" {
                        order.push(*v);
                        done.push(mop(f, k, (*v).into()));
                    } else {
                        let n = (pick + j) % (order.len() + 1);
                        let mut l: Vec<i64> = order[..n].to_vec();
                        if pick % 5 == 0 && !l.is_empty() {
                            l.remove(pick % l.len());
                        } else if pick % 7 == 0 && l.len() > 1 {
                            let at = pick % (l.len() - 1);
                            l.swap(at, at + 1);
                        }
                        done.push(mop("r", k, l.into()));
                    }
                }
                b.ok(p, Value::List(done));
            }
        }
    }
    b.build()
}

fn outcome(h: &History, general_path: bool) -> (BTreeSet<(String, Vec<u64>)>, Vec<String>) {
    let c = SessionChecker {
        max_reported: usize::MAX,
        general_path,
        ..SessionChecker::default()
    };
    let v = c.check(h, &Budget::unlimited());
    let found = v
        .anomalies
        .iter()
        .map(|a| (a.kind.clone(), a.ops.clone()))
        .collect();
    (found, v.models.ruled_out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// The shortcut for reads that are prefixes of the longest read finds exactly what
    /// the general path finds.
    #[test]
    fn list_append_shortcut_matches_the_general_path(
        steps in prop::collection::vec((0u64..3, any::<u8>(), 0usize..60), 0..60)
    ) {
        let h = divergent_history(&steps);
        prop_assert_eq!(outcome(&h, false), outcome(&h, true));
    }

    #[test]
    fn register_monotonic_reads_matches_brute_force(
        steps in prop::collection::vec((0u64..3, any::<bool>(), 0usize..50), 0..40)
    ) {
        let h = history(&steps, false);
        prop_assert_eq!(checker_says(&h), brute_force(&h, false));
    }

    /// Complete: when no order of the writes lets every process read forwards, some
    /// monotonic-reads anomaly is reported (by inference or order-free). Sound: an
    /// order-free anomaly is reported only then.
    #[test]
    fn register_order_free_monotonic_reads_matches_every_order(
        steps in prop::collection::vec((0u64..3, any::<bool>(), 0usize..50), 0..24)
    ) {
        let h = history(&steps, false);
        if let Some(broken) = every_order_goes_back(&h) {
            let (any_mr, cycle) = checker_flags(&h);
            prop_assert!(!broken || any_mr, "every order goes back, but nothing was reported");
            prop_assert!(!cycle || broken, "an order-free anomaly where some order is fine");
        }
    }

    /// With every write concurrent, only the order-free check can find a violation (bar
    /// reading nil after a write); it must find one exactly when every order goes back.
    #[test]
    fn register_order_free_with_concurrent_writes(
        n in 1i64..6,
        reads in prop::collection::vec((0u64..3, 0usize..50), 0..12)
    ) {
        let h = concurrent_writes(n, &reads);
        let broken = every_order_goes_back(&h).unwrap_or(false);
        let (any_mr, _) = checker_flags(&h);
        prop_assert_eq!(any_mr, broken);
    }

    #[test]
    fn list_append_monotonic_reads_matches_brute_force(
        steps in prop::collection::vec((0u64..3, any::<bool>(), 0usize..50), 0..40)
    ) {
        let h = history(&steps, true);
        prop_assert_eq!(checker_says(&h), brute_force(&h, true));
    }
}
