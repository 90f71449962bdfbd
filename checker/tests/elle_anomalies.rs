//! One hand-written history per anomaly kind, written with the history DSL, asserting the
//! exact kinds, the ops that prove them, the models ruled out, and (for a few) the whole
//! explanation.

use faultline_checker::elle::{ListAppend, Options, RwRegister};
use faultline_checker::{Budget, Checker, Evidence, Validity, Verdict};
use faultline_core::dsl::{la, rw, Builder};
use faultline_core::{History, Value};

/// Transactions on processes 0.. invoked together and then completed in order (`!` before
/// a transaction makes it fail), followed by `after`, one at a time on fresh processes.
fn history(parse: fn(&str) -> Value, together: &[&str], after: &[&str]) -> History {
    let mut b = Builder::new();
    for (p, t) in together.iter().enumerate() {
        b.txn(p as u64, parse(t.trim_start_matches('!')));
    }
    for (p, t) in together.iter().enumerate() {
        match t.strip_prefix('!') {
            Some(t) => b.fail(p as u64, parse(t)),
            None => b.ok(p as u64, parse(t)),
        };
    }
    for (i, t) in after.iter().enumerate() {
        b.txn_ok((together.len() + i) as u64, parse(t));
    }
    b.build()
}

fn list_append(together: &[&str], after: &[&str]) -> Verdict {
    ListAppend::default().check(&history(la, together, after), &Budget::unlimited())
}

fn register(together: &[&str], after: &[&str]) -> Verdict {
    RwRegister::default().check(&history(rw, together, after), &Budget::unlimited())
}

fn ruled_out(v: &Verdict, m: &str) -> bool {
    v.models.ruled_out.iter().any(|x| x == m)
}

fn kept(v: &Verdict, m: &str) -> bool {
    v.models.kept.iter().any(|x| x == m)
}

fn only(v: &Verdict, kind: &str) -> Vec<u64> {
    assert_eq!(v.kinds(), vec![kind], "{v:#?}");
    assert_eq!(v.valid, Validity::Invalid);
    v.anomalies[0].ops.clone()
}

// Completion indices: with n transactions together, transaction i completes at n + i.

#[test]
fn g0_write_cycle() {
    let v = list_append(&["ax1 ay1", "ax2 ay2"], &["rx12 ry21"]);
    assert_eq!(only(&v, "G0"), vec![2, 3]);
    assert_eq!(
        v.anomalies[0].explanation,
        "Let T1 = {index 2, process 0: append x 1, append y 1}; T2 = {index 3, process 1: \
         append x 2, append y 2}. Then: T1 < T2 because T2 appended 2 after T1 appended 1 \
         to x (ww); T2 < T1 because T1 appended 1 after T2 appended 2 to y (ww). A \
         contradiction!"
    );
    assert!(ruled_out(&v, "read-uncommitted"));
    assert!(v.models.kept.is_empty());
}

#[test]
fn g1c_circular_information_flow() {
    let v = list_append(&["ax1 ry1", "ay1 rx1"], &[]);
    assert_eq!(only(&v, "G1c"), vec![2, 3]);
    assert!(ruled_out(&v, "read-committed"));
    assert!(kept(&v, "read-uncommitted"));
}

#[test]
fn g_single_read_skew() {
    let v = list_append(&["rx_ ry1", "ax1 ay1"], &[]);
    assert_eq!(only(&v, "G-single"), vec![2, 3]);
    assert_eq!(
        v.anomalies[0].explanation,
        "Let T1 = {index 2, process 0: r x [], r y [1]}; T2 = {index 3, process 1: append x \
         1, append y 1}. Then: T1 < T2 because T1 observed the initial (empty) state of x, \
         which T2 changed by appending 1 (rw); T2 < T1 because T1 observed T2's append of 1 \
         to y (wr). A contradiction!"
    );
    let Evidence::Cycle { steps } = &v.anomalies[0].evidence else {
        panic!("no cycle evidence");
    };
    assert_eq!(steps.len(), 2);
    assert_eq!(
        (steps[0].from, steps[0].to, steps[0].edge.as_str()),
        (2, 3, "rw")
    );
    assert_eq!(
        (steps[1].from, steps[1].to, steps[1].edge.as_str()),
        (3, 2, "wr")
    );
    assert!(ruled_out(&v, "snapshot-isolation"));
    assert!(ruled_out(&v, "repeatable-read"));
    assert!(kept(&v, "read-committed"));
}

#[test]
fn g_nonadjacent_rw_edges() {
    let v = list_append(&["rx_ rw1", "ax1 ay1", "ry1 rz_", "az1 aw1"], &[]);
    assert_eq!(only(&v, "G-nonadjacent"), vec![4, 5, 6, 7]);
    assert!(ruled_out(&v, "snapshot-isolation"));
    assert!(kept(&v, "read-committed"));
}

#[test]
fn g2_item_write_skew() {
    let v = list_append(&["rx_ ry_ ax1", "rx_ ry_ ay1"], &["rx1 ry1"]);
    assert_eq!(only(&v, "G2-item"), vec![2, 3]);
    assert!(v.anomalies[0].explanation.contains(
        "T1 < T2 because T1 observed the initial (empty) state of y, which T2 changed by \
         appending 1 (rw)"
    ));
    assert!(ruled_out(&v, "serializable"));
    assert!(ruled_out(&v, "repeatable-read"));
    assert!(kept(&v, "snapshot-isolation"));
    assert!(kept(&v, "strong-snapshot-isolation"));
}

#[test]
fn g0_process_needs_process_order() {
    // One process appends 1 then 2, but a reader sees 2 before 1.
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1"))
        .txn_ok(0, la("ax2"))
        .txn_ok(1, la("rx21"));
    let h = b.build();
    let v = ListAppend::default().check(&h, &Budget::unlimited());
    assert_eq!(only(&v, "G0-process"), vec![1, 3]);
    assert!(v.anomalies[0]
        .explanation
        .contains("T1 < T2 because process 0 executed T1 before T2 (process)"));
    assert!(ruled_out(&v, "strong-session-read-uncommitted"));
    assert!(kept(&v, "serializable"));
    // Without process edges the same cycle is found through real time.
    let v = ListAppend::new(Options::default().process(false)).check(&h, &Budget::unlimited());
    assert_eq!(only(&v, "G0-realtime"), vec![1, 3]);
    assert!(v.anomalies[0]
        .explanation
        .contains("T1 < T2 because T1 completed at index 1, 0.001 seconds before the invocation of T2, at index 2 (realtime)"));
}

#[test]
fn g1c_realtime_reads_from_the_future() {
    // T0 completes, then T1 starts and appends y 1, which T0 had already read.
    let mut b = Builder::new();
    b.txn_ok(0, la("ry1")).txn_ok(1, la("ay1"));
    let v = ListAppend::default().check(&b.build(), &Budget::unlimited());
    assert_eq!(only(&v, "G1c-realtime"), vec![1, 3]);
    assert!(ruled_out(&v, "strict-serializable"));
    assert!(kept(&v, "serializable"));
}

#[test]
fn g_single_realtime_stale_read() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1")).txn_ok(1, la("rx_"));
    let v = ListAppend::default().check(&b.build(), &Budget::unlimited());
    assert_eq!(only(&v, "G-single-realtime"), vec![1, 3]);
    assert_eq!(
        v.models.ruled_out,
        vec!["strict-serializable", "strong-snapshot-isolation"]
    );
    // Checked against serializability, the stale read is allowed.
    let v = ListAppend::new(Options::default().models(["serializable"]))
        .check(&b.build(), &Budget::unlimited());
    assert_eq!(v.valid, Validity::Valid);
    assert!(v.anomalies.is_empty());
    assert!(ruled_out(&v, "strong-snapshot-isolation"));
}

#[test]
fn g1a_aborted_read() {
    let v = list_append(&["!ax1", "rx1"], &[]);
    assert_eq!(only(&v, "G1a"), vec![3, 2]);
    assert!(v.anomalies[0]
        .explanation
        .contains("which failed: an aborted read"));
    assert_eq!(v.anomalies[0].key, Some(Value::from("x")));
    assert!(kept(&v, "read-uncommitted"));
    assert!(ruled_out(&v, "read-committed"));
}

#[test]
fn g1b_intermediate_read() {
    let v = list_append(&["ax1 ax2", "rx1"], &[]);
    assert_eq!(v.kinds(), vec!["G-single", "G1b"]);
    let g1b = v.anomalies.iter().find(|a| a.kind == "G1b").unwrap();
    assert_eq!(g1b.ops, vec![3, 2]);
}

#[test]
fn internal_inconsistency() {
    let v = list_append(&["ax1 rx_"], &[]);
    assert_eq!(only(&v, "internal"), vec![1]);
    assert!(v.anomalies[0].explanation.contains(
        "read x = [], but its own earlier micro-ops on x mean it should have seen [... 1]"
    ));
    assert!(ruled_out(&v, "serializable"));
    assert!(kept(&v, "read-committed"));
}

#[test]
fn future_read() {
    let v = list_append(&["rx1 ax1"], &[]);
    assert_eq!(only(&v, "future-read"), vec![1]);
    assert!(ruled_out(&v, "read-committed"));
}

#[test]
fn duplicate_elements() {
    let v = list_append(&["ax1"], &["rx11"]);
    assert_eq!(only(&v, "duplicate-elements"), vec![3]);
    assert!(ruled_out(&v, "read-uncommitted"));
}

#[test]
fn incompatible_order() {
    let v = list_append(&["ax1", "ax2", "ax3", "rx12", "rx13"], &[]);
    assert_eq!(only(&v, "incompatible-order"), vec![9, 8]);
    assert!(ruled_out(&v, "read-committed"));
}

#[test]
fn dirty_update() {
    let v = list_append(&["!ax1", "ax2", "rx12"], &[]);
    assert_eq!(v.kinds(), vec!["G1a", "dirty-update"]);
    let d = v
        .anomalies
        .iter()
        .find(|a| a.kind == "dirty-update")
        .unwrap();
    assert_eq!(d.ops, vec![3, 4]);
}

#[test]
fn lost_update() {
    let v = list_append(&["rx_ ax1", "rx_ ax2"], &["rx12"]);
    assert_eq!(v.kinds(), vec!["G-single", "lost-update"]);
    let l = v
        .anomalies
        .iter()
        .find(|a| a.kind == "lost-update")
        .unwrap();
    assert_eq!(l.ops, vec![2, 3]);
    assert!(ruled_out(&v, "snapshot-isolation"));
}

#[test]
fn garbage_read() {
    let v = list_append(&["rx9"], &[]);
    assert_eq!(only(&v, "garbage-read"), vec![1]);
}

#[test]
fn a_serial_history_is_valid_and_keeps_every_model() {
    let mut b = Builder::new();
    b.txn_ok(0, la("ax1 ry_"))
        .txn_ok(1, la("rx1 ay1"))
        .txn_ok(0, la("rx1 ry1 ax2"));
    let v = ListAppend::default().check(&b.build(), &Budget::unlimited());
    assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    assert!(v.models.ruled_out.is_empty());
    assert!(kept(&v, "strict-serializable"));
    assert_eq!(v.stats["txns"], 3);
}

// rw-register

#[test]
fn register_write_skew() {
    let v = register(&["rx_ ry_ wx1", "rx_ ry_ wy1"], &[]);
    assert_eq!(only(&v, "G2-item"), vec![2, 3]);
    assert!(v.anomalies[0].explanation.contains(
        "T1 < T2 because T1 read the initial (nil) state of y, which T2 overwrote with 1 (rw)"
    ));
}

#[test]
fn register_aborted_and_intermediate_reads() {
    let v = register(&["!wx1", "ry1 rx1", "wy1 wy2"], &[]);
    assert_eq!(v.kinds(), vec!["G1a", "G1b"]);
}

#[test]
fn register_internal_and_lost_update() {
    let v = register(&["wx1 rx2"], &[]);
    assert_eq!(only(&v, "internal"), vec![1]);
    let v = register(&["rx_ wx1", "rx_ wx2"], &[]);
    assert!(v.kinds().contains(&"lost-update"), "{v:#?}");
}

#[test]
fn register_cyclic_versions() {
    let v = register(&["rx1 wx2", "rx2 wx1"], &[]);
    assert!(v.kinds().contains(&"cyclic-versions"), "{v:#?}");
    assert!(v.kinds().contains(&"G1c"), "{v:#?}");
    let c = v
        .anomalies
        .iter()
        .find(|a| a.kind == "cyclic-versions")
        .unwrap();
    assert_eq!(c.ops, vec![2, 3]);
}

#[test]
fn register_stale_read_uses_writes_follow_reads() {
    // T1 reads 1 and writes 2, so 1 < 2; T2 later still reads 1.
    let mut b = Builder::new();
    b.txn_ok(0, rw("wx1"))
        .txn_ok(1, rw("rx1 wx2"))
        .txn_ok(2, rw("rx1"));
    let v = RwRegister::default().check(&b.build(), &Budget::unlimited());
    assert_eq!(only(&v, "G-single-realtime"), vec![3, 5]);
    assert!(v.anomalies[0]
        .explanation
        .contains("which came later in the version order"));
    let without = RwRegister {
        writes_follow_reads: false,
        ..RwRegister::default()
    };
    let v = without.check(&b.build(), &Budget::unlimited());
    assert_eq!(
        v.valid,
        Validity::Valid,
        "without the rule nothing orders 1 < 2"
    );
}

// Unknown, never valid, when the check cannot be done.

#[test]
fn duplicate_appends_make_the_verdict_unknown() {
    let v = list_append(&["ax1", "ax1"], &[]);
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.as_deref().unwrap_or("").contains("unique"));
    let v = register(&["wx1", "wx1"], &[]);
    assert_eq!(v.valid, Validity::Unknown);
}

#[test]
fn malformed_transactions_are_unknown_and_named() {
    let mut b = Builder::new();
    b.op_ok(0, "txn", Value::Nil, Value::Int(3));
    let v = ListAppend::default().check(&b.build(), &Budget::unlimited());
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v
        .unknown_reason
        .as_deref()
        .unwrap_or("")
        .contains("event 1"));
    let v = ListAppend::default().check(&Builder::new().build(), &Budget::unlimited());
    assert_eq!(v.valid, Validity::Unknown);
    let v = ListAppend::new(Options::default().models(["acid"]))
        .check(&history(la, &["ax1"], &[]), &Budget::unlimited());
    assert!(v
        .unknown_reason
        .as_deref()
        .unwrap_or("")
        .contains("unknown consistency model"));
}

#[test]
fn realtime_models_without_realtime_edges_are_unknown() {
    let h = history(la, &["ax1"], &["rx1"]);
    let v = ListAppend::new(Options::default().realtime(false)).check(&h, &Budget::unlimited());
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v
        .unknown_reason
        .as_deref()
        .unwrap_or("")
        .contains("G1c-realtime"));
    assert!(kept(&v, "strong-session-serializable"));
    assert!(!kept(&v, "strict-serializable"));
}

#[test]
fn budgets_give_unknown() {
    let h = history(la, &["ax1"], &["rx1"]);
    let v = ListAppend::default().check(
        &h,
        &Budget::unlimited().with_timeout(std::time::Duration::ZERO),
    );
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.as_deref().unwrap_or("").contains("time"));
    let v = ListAppend::default().check(&h, &Budget::unlimited().with_max_memory(10));
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.as_deref().unwrap_or("").contains("memory"));
}

#[test]
fn a_cycle_search_out_of_states_is_unknown() {
    let h = history(la, &["rx_ ry_ ax1", "rx_ ry_ ay1"], &["rx1 ry1"]);
    // Reading transactions and inferring edges spend states too, so the smallest budgets run
    // out before the cycle search; some budget between those and unlimited must stop the
    // search itself, and every one of them gives unknown, never valid.
    let mut search_stopped = false;
    for n in 1..200 {
        let v = ListAppend::default().check(&h, &Budget::unlimited().with_max_states(n));
        if v.valid == Validity::Invalid {
            break;
        }
        assert_eq!(v.valid, Validity::Unknown, "max_states {n}");
        let reason = v.unknown_reason.unwrap_or_default();
        assert!(
            reason.contains(&format!("the budget of {n} search states ran out")),
            "{reason}"
        );
        search_stopped |= reason.contains("the cycle search stopped");
    }
    assert!(search_stopped, "no budget stopped the cycle search itself");
    let v = ListAppend::default().check(&h, &Budget::unlimited());
    assert_eq!(v.valid, Validity::Invalid);
}
