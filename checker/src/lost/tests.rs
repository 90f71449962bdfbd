use faultline_core::dsl::{la, rw, Builder};
use faultline_core::{History, Value};

use super::*;

fn check(h: &History) -> Verdict {
    LostChecker::default().check(h, &Budget::unlimited())
}

fn found(v: &Verdict) -> Vec<(&str, Vec<u64>)> {
    v.anomalies
        .iter()
        .map(|a| (a.kind.as_str(), a.ops.clone()))
        .collect()
}

/// Marks the ops at these history positions as final reads and sets their node.
fn finals(h: History, at: &[(usize, &str)]) -> History {
    let mut ops = h.into_ops();
    for &(i, node) in at {
        ops[i].extra.insert("final", true.into());
        ops[i].node = Some(node.to_string());
    }
    History::from_ops(ops).unwrap()
}

#[test]
fn counter_final_read_missing_acknowledged_increments() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into())
        .op_ok(1, "add", 1.into(), 1.into());
    b.op_ok(0, "add", 1.into(), 1.into()); // 0-5
    b.op_ok(2, "read", Value::Nil, 2.into()); // 6, 7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("lost-increments", vec![7])]);
    assert_eq!(v.stats["workload"], "counter");
    let e = &v.anomalies[0].explanation;
    assert!(e.contains("saw 2, outside the range [3, 3]"), "{e}");
    assert!(
        e.ends_with("acknowledged increments worth at least 1 are missing."),
        "{e}"
    );
}

#[test]
fn counter_reads_out_of_bounds_before_the_end() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 2.into(), 2.into()); // 0, 1
    b.op_ok(1, "read", Value::Nil, 0.into()); // 2, 3: too low
    b.invoke(0, "add", 5.into()).fail(0, 5.into()); // 4, 5: never happened
    b.op_ok(1, "read", Value::Nil, 7.into()); // 6, 7: too high
    b.op_ok(1, "read", Value::Nil, 2.into()); // 8, 9: the final read, fine
    let v = check(&b.build());
    assert_eq!(
        found(&v),
        vec![("counter-too-low", vec![3]), ("counter-too-high", vec![7])]
    );
}

#[test]
fn counter_indeterminate_adds_may_or_may_not_count() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into()); // 0, 1
    b.invoke(1, "add", 5.into()).info(1, Value::Nil); // 2, 3
    b.op_ok(2, "read", Value::Nil, 6.into()); // with the info add
    b.op_ok(2, "read", Value::Nil, 1.into()); // without it: still possible
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
    assert_eq!(v.stats["adds_indeterminate"], 1);
}

#[test]
fn counter_reads_concurrent_with_an_add_may_see_it_or_not() {
    let mut b = Builder::new();
    b.invoke(0, "add", 3.into()); // 0
    b.op_ok(1, "read", Value::Nil, 3.into()); // 1, 2
    b.op_ok(1, "read", Value::Nil, 0.into()); // 3, 4
    b.ok(0, 3.into()); // 5
    b.op_ok(1, "read", Value::Nil, 3.into()); // 6, 7
    assert_eq!(check(&b.build()).valid, Validity::Valid);
}

#[test]
fn set_element_acknowledged_then_lost() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into())
        .op_ok(0, "add", 2.into(), 2.into()); // 0-3
    b.op_ok(1, "read", Value::Nil, vec![1, 2].into()); // 4, 5
    b.op_ok(1, "read", Value::Nil, vec![1].into()); // 6, 7
    let v = check(&b.build());
    assert_eq!(v.stats["workload"], "set");
    assert_eq!(found(&v), vec![("lost-element", vec![3, 5, 7])]);
    assert_eq!(v.stats["lost_count"], 1);
    assert_eq!(v.stats["stable_count"], 1);
    let e = &v.anomalies[0].explanation;
    assert!(e.starts_with("process 0 added 2 (acknowledged at 0.004 s); the read by process 1 begun at 0.005 s was the last to see it; every read begun later missed it"), "{e}");
}

#[test]
fn set_element_never_seen_after_acknowledgement_is_lost() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into())
        .op_ok(1, "read", Value::Nil, Value::List(vec![]));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("lost-element", vec![1, 3])]);
    assert!(v.anomalies[0].explanation.contains("no read ever saw it"));
}

#[test]
fn set_stale_reads_are_counted_and_optionally_anomalies() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into()); // 0, 1
    b.op_ok(1, "read", Value::Nil, Value::List(vec![])); // 2, 3: stale
    b.op_ok(1, "read", Value::Nil, vec![1].into()); // 4, 5
    let h = b.build();
    let v = check(&h);
    assert_eq!(v.valid, Validity::Valid);
    assert_eq!(v.stats["stale_count"], 1);
    let strict = LostChecker {
        stale_is_anomaly: true,
        ..LostChecker::default()
    };
    let v = strict.check(&h, &Budget::unlimited());
    assert_eq!(found(&v), vec![("stale-element", vec![1, 3])]);
}

#[test]
fn set_duplicates_unexpected_and_never_read() {
    let mut b = Builder::new();
    b.op_ok(0, "add", 1.into(), 1.into()); // 0, 1
    b.op_ok(1, "read", Value::Nil, vec![1, 1, 9].into()); // 2, 3
    b.invoke(0, "add", 2.into()).info(0, Value::Nil); // 4, 5: never read after
    let v = check(&b.build());
    assert_eq!(
        found(&v),
        vec![
            ("duplicate-element", vec![3]),
            ("unexpected-element", vec![3])
        ]
    );
    assert_eq!(v.stats["never_read_count"], 1);
}

#[test]
fn list_append_acknowledged_append_missing_from_final_reads() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(1, la("ax2")); // 0-3
    b.txn_ok(2, la("rx12")); // 4, 5
    b.txn_ok(2, la("rx1")).txn_ok(3, la("rx12")); // 6-9: final reads from n1 and n2
    let v = check(&finals(
        b.build(),
        &[(6, "n1"), (7, "n1"), (8, "n2"), (9, "n2")],
    ));
    // The append, the last read to see it (n2's final read), the final read that lacks it.
    assert_eq!(found(&v), vec![("lost-append", vec![3, 9, 7])]);
    let e = &v.anomalies[0].explanation;
    assert!(
        e.contains("the final read of x (process 2 on n1 at 0.007 s saw [1]) lacks it."),
        "{e}"
    );
}

#[test]
fn list_append_indeterminate_append_seen_then_lost() {
    let mut b = Builder::new();
    b.txn(0, la("ax1")).info(0, la("ax1")); // 0, 1
    b.txn_ok(1, la("rx1")).txn_ok(1, la("rx_")); // 2-5: the last read is final
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("lost-append", vec![1, 3, 5])]);
}

#[test]
fn list_append_two_read_modify_writes_of_one_version() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1 ax2")); // 0, 1
    b.txn_ok(1, la("rx12 ax3")).txn_ok(2, la("rx12 ax4")); // 2-5
    b.txn_ok(3, la("rx1234")); // 6, 7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("lost-update", vec![3, 5])]);
    let e = &v.anomalies[0].explanation;
    assert!(e.starts_with("process 1's transaction at 0.003 s read x = [1 2] and then appended 3 to x; process 2's transaction at 0.005 s also read x = [1 2] and then appended 4 to x"), "{e}");
}

#[test]
fn register_cas_from_the_same_value_twice() {
    let mut b = Builder::new();
    b.op_ok(0, "write", 1.into(), 1.into()); // 0, 1
    b.op_ok(1, "cas", vec![1, 2].into(), vec![1, 2].into()); // 2, 3
    b.op_ok(2, "cas", vec![1, 3].into(), vec![1, 3].into()); // 4, 5
    b.invoke(3, "cas", vec![1, 4].into())
        .fail(3, vec![1, 4].into()); // 6, 7: did not happen
    let v = check(&b.build());
    assert_eq!(v.stats["workload"], "register");
    assert_eq!(found(&v), vec![("lost-update", vec![3, 5])]);
}

#[test]
fn register_rw_transactions_reading_the_initial_value() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("rx_ wx1"))
        .txn_ok(1, rw("rx_ wx2"))
        .txn_ok(2, rw("rx2 wx3"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("lost-update", vec![1, 3])]);
}

#[test]
fn an_internal_read_is_not_a_read_modify_write() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1 rx1 wx2")).txn_ok(1, rw("wx3 rx3 wx4"));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Unknown);
    assert_eq!(v.stats["read_modify_writes"], 0);
}

mod oracle {
    //! Counter bounds against brute force over every subset of the adds that may have
    //! applied.
    use std::collections::BTreeSet;

    use faultline_core::dsl::Builder;
    use faultline_core::{History, OpType, Value};
    use proptest::prelude::*;

    use super::super::LostChecker;
    use crate::{Budget, Checker};

    /// Steps: (process, delta, outcome 0 ok / 1 fail / 2 info, read value). Process 3 only
    /// reads; processes 0-2 add. Each step invokes or completes the process's op.
    fn history(steps: &[(u64, i64, u8, i64)]) -> History {
        let mut b = Builder::new();
        let mut open = [false; 4];
        let mut retired = [0u64; 4];
        for &(p, d, outcome, read) in steps {
            let proc = p + 4 * retired[p as usize];
            if open[p as usize] {
                open[p as usize] = false;
                if p == 3 {
                    b.ok(proc, read.into());
                } else {
                    match outcome {
                        0 => b.ok(proc, d.into()),
                        1 => b.fail(proc, d.into()),
                        _ => {
                            retired[p as usize] += 1;
                            b.info(proc, d.into())
                        }
                    };
                }
            } else {
                open[p as usize] = true;
                if p == 3 {
                    b.invoke(proc, "read", Value::Nil);
                } else {
                    b.invoke(proc, "add", d.into());
                }
            }
        }
        b.build()
    }

    /// Reads outside [min, max] over subsets of the possible adds: (completion, too high?).
    fn brute_force(h: &History) -> BTreeSet<(u64, bool)> {
        let pairs: Vec<_> = h.client_pairs().collect();
        let mut bad = BTreeSet::new();
        for (ri, rc) in pairs.iter().filter(|(i, _)| i.f == "read") {
            let Some(rc) = rc.filter(|c| c.kind == OpType::Ok) else {
                continue;
            };
            let (mut definite, mut possible) = (0i64, Vec::new());
            for (ai, ac) in pairs.iter().filter(|(i, _)| i.f == "add") {
                let d = ai.value.as_int().unwrap();
                match ac {
                    Some(c) if c.kind == OpType::Fail => {}
                    Some(c) if c.kind == OpType::Ok && c.index < ri.index => definite += d,
                    _ if ai.index < rc.index => possible.push(d),
                    _ => {}
                }
            }
            let (mut lo, mut hi) = (i64::MAX, i64::MIN);
            for mask in 0u32..(1 << possible.len()) {
                let s: i64 = (0..possible.len())
                    .filter(|b| mask >> b & 1 == 1)
                    .map(|b| possible[b])
                    .sum();
                lo = lo.min(definite + s);
                hi = hi.max(definite + s);
            }
            let v = rc.value.as_int().unwrap();
            if v < lo || v > hi {
                bad.insert((rc.index, v > hi));
            }
        }
        bad
    }

    fn checker_says(h: &History) -> BTreeSet<(u64, bool)> {
        let c = LostChecker {
            workload: super::super::LostWorkload::Counter,
            max_reported: usize::MAX,
            ..LostChecker::default()
        };
        c.check(h, &Budget::unlimited())
            .anomalies
            .iter()
            .map(|a| (a.ops[0], a.kind == "counter-too-high"))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn counter_bounds_match_brute_force(
            steps in prop::collection::vec((0u64..4, -3i64..5, 0u8..3, -4i64..12), 0..36)
        ) {
            let h = history(&steps);
            prop_assert_eq!(checker_says(&h), brute_force(&h));
        }
    }
}
