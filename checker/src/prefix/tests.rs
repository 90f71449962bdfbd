use faultline_core::dsl::{la, rw, Builder};
use faultline_core::{History, Value};

use super::*;

fn check(h: &History) -> Verdict {
    PrefixChecker::default().check(h, &Budget::unlimited())
}

fn found(v: &Verdict) -> Vec<(&str, Vec<u64>)> {
    v.anomalies
        .iter()
        .map(|a| (a.kind.as_str(), a.ops.clone()))
        .collect()
}

#[test]
fn prefix_reads_of_one_order_are_consistent() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1"))
        .txn_ok(1, la("ax2"))
        .txn_ok(2, la("rx1"));
    b.txn_ok(2, la("rx12")).txn_ok(0, la("rx_"));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
    assert_eq!(v.models.kept, vec!["consistent-prefix"]);
}

#[test]
fn reads_that_are_not_prefixes_of_each_other_diverge() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1"))
        .txn_ok(1, la("ax2"))
        .txn_ok(2, la("ax3")); // 0-5
    b.txn_ok(3, la("rx12")); // 6, 7
    b.txn_ok(4, la("rx13")); // 8, 9
    b.txn_ok(4, la("rx123")); // 10, 11: consistent with the first branch only
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("divergent-reads", vec![7, 9])]);
    let e = &v.anomalies[0].explanation;
    assert!(
        e.contains("after [1] one has 2 where the other has 3"),
        "{e}"
    );
    assert_eq!(v.models.ruled_out, vec!["consistent-prefix"]);
}

#[test]
fn reads_that_begin_differently_diverge() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(1, la("ax2"));
    b.txn_ok(3, la("rx1")).txn_ok(4, la("rx2"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("divergent-reads", vec![5, 7])]);
    assert!(v.anomalies[0]
        .explanation
        .contains("begin with different elements (1 and 2)"));
}

#[test]
fn a_read_listing_an_element_twice() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(1, la("rx11"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("duplicate-elements", vec![3])]);
}

#[test]
fn register_reading_nil_after_seeing_a_write_breaks_causal_prefix() {
    // Process 1's second read has the write of 1 in its causal past.
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1"))
        .txn_ok(1, rw("rx1"))
        .txn_ok(1, rw("rx_"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("causal-prefix", vec![1, 3, 5])]);
    assert!(v.stats["consistent_prefix"]
        .as_str()
        .unwrap()
        .starts_with("not checked"));
}

#[test]
fn answer_seen_then_question_missing_breaks_causal_prefix() {
    // Process 0 asks (x), process 1 reads the question and answers (y); process 2 reads the
    // answer, then finds no question.
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")); // 0, 1
    b.txn_ok(1, rw("rx1")).txn_ok(1, rw("wy2")); // 2-5
    b.txn_ok(2, rw("ry2")).txn_ok(2, rw("rx_")); // 6-9
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("causal-prefix", vec![1, 3, 5, 7, 9])]);
    let e = &v.anomalies[0].explanation;
    assert!(
        e.starts_with("process 0 wrote 1 to x at 0.001 s; process 1 read x = 1 at 0.003 s; then process 1 wrote 2 to y at 0.005 s; process 2 read y = 2 at 0.007 s; then process 2 read x at 0.009 s and saw nil"),
        "{e}"
    );
    assert_eq!(v.models.ruled_out, vec!["causal-prefix"]);
    assert!(v.models.kept.is_empty());
}

#[test]
fn wrote_a_then_b_seen_b_then_missing_a() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(0, rw("wy2")); // 0-3
    b.txn_ok(1, rw("ry2 rx_")); // 4, 5: one snapshot
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("causal-prefix", vec![1, 3, 5])]);
}

#[test]
fn an_older_write_by_the_cause_is_still_too_old() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1"))
        .txn_ok(0, rw("wx3"))
        .txn_ok(0, rw("wy2")); // 0-5
    b.txn_ok(1, rw("ry2")).txn_ok(1, rw("rx1")); // 6-9
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("causal-prefix", vec![3, 5, 7, 9])]);
    assert!(v.anomalies[0]
        .explanation
        .contains("the write of 1 causally precedes the write of 3"));
}

#[test]
fn concurrent_writes_are_not_causally_ordered() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1"))
        .txn_ok(1, rw("wx3"))
        .txn_ok(0, rw("wy2"));
    b.txn_ok(2, rw("ry2")).txn_ok(2, rw("rx3"));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
    assert_eq!(v.models.kept, vec!["causal-prefix"]);
}

#[test]
fn reads_that_see_each_others_effects_form_a_causal_cycle() {
    let mut b = Builder::new();
    b.txn(0, rw("ry2")).txn(1, rw("rx1"));
    b.ok(0, rw("ry2")).ok(1, rw("rx1")); // 0-3
    b.txn_ok(0, rw("wx1")).txn_ok(1, rw("wy2")); // 4-7
    let v = check(&b.build());
    assert_eq!(v.kinds(), vec!["causal-cycle"]);
    let mut ops = v.anomalies[0].ops.clone();
    ops.sort();
    assert_eq!(ops, vec![2, 3, 5, 7]);
}

#[test]
fn no_reads_is_unknown() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1"));
    assert_eq!(check(&b.build()).valid, Validity::Unknown);
}

#[test]
fn single_ops_with_key_fields_are_the_causal_workload() {
    let mut b = Builder::new();
    b.op_ok(0, "write", 1.into(), 1.into());
    b.op_ok(1, "read", Value::Nil, 1.into());
    b.op_ok(1, "write", 2.into(), 2.into());
    b.op_ok(2, "read", Value::Nil, 2.into());
    b.op_ok(2, "read", Value::Nil, Value::Nil);
    // Ops: 0-1 write x, 2-3 read x, 4-5 write y, 6-7 read y, 8-9 read x.
    let mut ops = b.build().into_ops();
    for (op, key) in ops
        .iter_mut()
        .zip(["x", "x", "x", "x", "y", "y", "y", "y", "x", "x"])
    {
        op.extra.insert("key", key.into());
    }
    let v = check(&History::from_ops(ops).unwrap());
    assert_eq!(found(&v), vec![("causal-prefix", vec![1, 3, 5, 7, 9])]);
}

#[test]
fn a_memory_budget_too_small_for_the_clocks_is_unknown() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(1, rw("rx1"));
    let budget = Budget::unlimited().with_max_memory(8);
    let v = PrefixChecker::default().check(&b.build(), &budget);
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.unwrap().contains("memory budget"));
}
