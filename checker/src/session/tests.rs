//! One hand-written history per anomaly kind, with the exact ops asserted.

use faultline_core::dsl::{la, rw, Builder};
use faultline_core::{History, Process, Value};

use super::*;
use crate::Validity;

fn check(h: &History) -> Verdict {
    SessionChecker::default().check(h, &Budget::unlimited())
}

/// Puts every op of process `p` in declared session `s`.
fn sessions(h: History, of: &[(u64, &str)]) -> History {
    let mut ops = h.into_ops();
    for op in &mut ops {
        if let Some(&(_, s)) = of.iter().find(|(p, _)| op.process == Process::Client(*p)) {
            op.extra.insert("session", s.into());
        }
    }
    History::from_ops(ops).unwrap()
}

/// (kind, ops) of every anomaly.
fn found(v: &Verdict) -> Vec<(&str, Vec<u64>)> {
    v.anomalies
        .iter()
        .map(|a| (a.kind.as_str(), a.ops.clone()))
        .collect()
}

#[test]
fn register_read_of_a_value_older_than_ones_own_write() {
    let mut b = Builder::new();
    b.txn_ok(1, rw("wx1")); // 0, 1
    b.txn_ok(0, rw("wx2")); // 2, 3
    b.txn_ok(0, rw("rx1")); // 4, 5
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("read-your-writes", vec![3, 5])]);
    assert_eq!(v.anomalies[0].key, Some(Value::from("x")));
    let e = &v.anomalies[0].explanation;
    assert!(e.starts_with("process 0 wrote 2 to x (acknowledged at 0.004 s); then process 0 read x at 0.005 s and saw 1, a value older than its own write"), "{e}");
    assert!(
        e.contains(
            "the write of 1 was acknowledged at 0.002 s, before the write of 2 began at 0.003 s"
        ),
        "{e}"
    );
    assert_eq!(v.models.ruled_out, vec!["read-your-writes"]);
    // No session read twice: monotonic reads had no chance to fail, so it is not kept.
    assert!(v.stats["not_checked"]
        .as_array()
        .unwrap()
        .contains(&"monotonic-reads".into()));
    assert_eq!(v.valid, Validity::Invalid);
}

#[test]
fn register_read_of_the_initial_value_after_a_write() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(0, rw("rx_"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("read-your-writes", vec![1, 3])]);
    assert!(v.anomalies[0]
        .explanation
        .contains("nil is x's initial value"));
}

#[test]
fn register_concurrent_writes_are_not_ordered() {
    // Process 1's write of 1 overlaps process 0's write of 2: either may be newer.
    let mut b = Builder::new();
    b.txn(1, rw("wx1")); // 0
    b.txn_ok(0, rw("wx2")); // 1, 2
    b.ok(1, rw("wx1")); // 3
    b.txn_ok(0, rw("rx1")); // 4, 5
    let v = check(&b.build());
    assert!(v.anomalies.is_empty(), "{:?}", v.anomalies);
    assert_eq!(v.valid, Validity::Valid);
    assert!(v.models.kept.contains(&"read-your-writes".to_string()));
}

#[test]
fn register_going_back_in_time_breaks_monotonic_reads() {
    let mut b = Builder::new();
    b.txn_ok(1, rw("wx1")).txn_ok(1, rw("wx2")); // 0-3
    b.txn_ok(0, rw("rx2")).txn_ok(0, rw("rx1")); // 4-7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-reads", vec![5, 7])]);
    assert!(v.anomalies[0].explanation.starts_with(
        "process 0 read x at 0.005 s and saw 2; then process 0 read x at 0.007 s and saw 1, an older value"
    ));
    assert_eq!(v.models.ruled_out, vec!["monotonic-reads"]);
}

#[test]
fn register_observers_disagreeing_on_the_order_of_concurrent_writes() {
    // The writes of 1 and 2 overlap, so real time does not order them; but process 2 saw 1
    // then 2 and process 3 saw 2 then 1: in either order, one of them read backwards.
    let mut b = Builder::new();
    b.txn(0, rw("wx1"))
        .txn(1, rw("wx2"))
        .ok(0, rw("wx1"))
        .ok(1, rw("wx2")); // 0-3
    b.txn_ok(2, rw("rx1")).txn_ok(2, rw("rx2")); // 4-7
    b.txn_ok(3, rw("rx2")).txn_ok(3, rw("rx1")); // 8-11
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-reads", vec![5, 7, 9, 11])]);
    let e = &v.anomalies[0].explanation;
    assert!(e.starts_with("process 2 read x = 1 at 0.005 s, then 2 at 0.007 s; process 3 read x = 2 at 0.009 s, then 1 at 0.011 s; whichever order x's writes took"), "{e}");
}

#[test]
fn register_monotonic_writes_across_keys_in_one_snapshot() {
    let mut b = Builder::new();
    b.txn_ok(1, rw("wx1")).txn_ok(1, rw("wy2")); // 0-3
    b.txn_ok(2, rw("ry2 rx_")); // 4, 5
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-writes", vec![1, 3, 5])]);
    assert_eq!(v.anomalies[0].key, Some(Value::from("x")));
    let e = &v.anomalies[0].explanation;
    assert!(
        e.contains("process 2's transaction at 0.005 s saw 2 in y but nil in x"),
        "{e}"
    );
}

#[test]
fn register_writes_follow_reads_across_keys() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")); // 0, 1
    b.txn_ok(1, rw("rx1")).txn_ok(1, rw("wy2")); // 2-5
    b.txn_ok(2, rw("ry2 rx_")); // 6, 7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("writes-follow-reads", vec![3, 5, 7])]);
}

#[test]
fn register_declared_session_spans_processes() {
    // A user writes from one device (process 0) and reads from another (process 1).
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(1, rw("rx_"));
    let h = sessions(b.build(), &[(0, "alice"), (1, "alice")]);
    let v = check(&h);
    assert_eq!(found(&v), vec![("read-your-writes", vec![1, 3])]);
    assert!(v.anomalies[0]
        .explanation
        .starts_with("In session \"alice\", process 0 wrote 1"));
    assert_eq!(v.stats["guarantees"]["read-your-writes"]["session"], 1);
    assert_eq!(v.stats["declared_sessions"], 1);
    // Without the declaration there is no session to keep.
    assert!(check(&b.build()).anomalies.is_empty());
}

#[test]
fn a_declared_session_does_not_repeat_what_its_process_reported() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(0, rw("rx_"));
    let v = check(&sessions(b.build(), &[(0, "alice")]));
    assert_eq!(v.anomalies.len(), 1);
    assert_eq!(v.stats["guarantees"]["read-your-writes"]["process"], 1);
    assert_eq!(v.stats["guarantees"]["read-your-writes"]["session"], 0);
}

#[test]
fn list_append_read_lacking_ones_own_append() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(0, la("rx_"));
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("read-your-writes", vec![1, 3])]);
    assert_eq!(v.stats["workload"], "list-append");
    let e = &v.anomalies[0].explanation;
    assert!(e.starts_with("process 0 appended 1 to x (acknowledged at 0.002 s); then process 0 read x at 0.003 s and saw [], which lacks its own append."), "{e}");
}

#[test]
fn list_append_read_losing_what_an_earlier_read_saw() {
    let mut b = Builder::new();
    b.txn_ok(1, la("ax1")).txn_ok(1, la("ax2")); // 0-3
    b.txn_ok(0, la("rx12")).txn_ok(0, la("rx1")); // 4-7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-reads", vec![5, 7])]);
    let e = &v.anomalies[0].explanation;
    assert!(e.contains("saw [1 2]; then process 0 read x at 0.007 s and saw [1], which lacks 2 that the earlier read had seen."), "{e}");
}

#[test]
fn list_append_later_append_without_the_earlier() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(0, la("ax2")); // 0-3
    b.txn_ok(1, la("rx2")); // 4, 5
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-writes", vec![1, 3, 5])]);
    assert!(v.anomalies[0]
        .explanation
        .ends_with("which has 2 without the earlier append of 1."));
}

#[test]
fn list_append_later_append_ordered_first() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(0, la("ax2")); // 0-3
    b.txn_ok(1, la("rx21")); // 4, 5
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-writes", vec![1, 3, 5])]);
    assert!(v.anomalies[0]
        .explanation
        .ends_with("which puts 2 before the earlier append of 1."));
}

#[test]
fn list_append_monotonic_writes_across_keys() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(0, la("ay2")); // 0-3
    b.txn_ok(1, la("ry2 rx_")); // 4, 5
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("monotonic-writes", vec![1, 3, 5])]);
    assert_eq!(v.anomalies[0].key, Some(Value::from("x")));
}

#[test]
fn list_append_writes_follow_reads_same_key() {
    let mut b = Builder::new();
    b.txn_ok(1, la("ax1")); // 0, 1
    b.txn_ok(0, la("rx1")).txn_ok(0, la("ax2")); // 2-5
    b.txn_ok(2, la("rx2")); // 6, 7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("writes-follow-reads", vec![3, 5, 7])]);
}

#[test]
fn list_append_writes_follow_reads_across_keys() {
    let mut b = Builder::new();
    b.txn_ok(1, la("ax1")); // 0, 1
    b.txn_ok(0, la("rx1")).txn_ok(0, la("ay2")); // 2-5
    b.txn_ok(2, la("ry2 rx_")); // 6, 7
    let v = check(&b.build());
    assert_eq!(found(&v), vec![("writes-follow-reads", vec![3, 5, 7])]);
}

#[test]
fn a_good_list_append_history_keeps_all_four() {
    let mut b = Builder::new();
    b.txn_ok(1, la("ax1")); // 0, 1
    b.txn_ok(0, la("rx1")).txn_ok(0, la("ax2 ay3")); // 2-5
    b.txn_ok(0, la("ax4")).txn_ok(2, la("rx124 ry3")); // 6-9
    b.txn_ok(0, la("rx124"));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
    let mut kept = v.models.kept.clone();
    kept.sort();
    assert_eq!(
        kept,
        vec![
            "monotonic-reads",
            "monotonic-writes",
            "read-your-writes",
            "writes-follow-reads"
        ]
    );
}

#[test]
fn nothing_to_check_is_unknown() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(1, rw("rx1"));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Unknown);
    assert_eq!(v.stats["not_checked"].as_array().unwrap().len(), 4);
}

#[test]
fn malformed_ops_make_a_clean_verdict_unknown() {
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1")).txn_ok(0, rw("rx1"));
    b.op_ok(1, "txn", Value::Int(3), Value::Int(3));
    let v = check(&b.build());
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.unwrap().contains("index 5"));
}

#[test]
fn a_cancelled_budget_is_unknown() {
    let mut b = Builder::new();
    for i in 0..2000 {
        b.txn_ok(0, rw(&format!("wx{i}")));
    }
    let budget = Budget::unlimited();
    budget.cancel();
    let v = SessionChecker::default().check(&b.build(), &budget);
    assert_eq!(v.valid, Validity::Unknown);
}
