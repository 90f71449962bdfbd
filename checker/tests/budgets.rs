//! Every checker honours its [`Budget`]: a tiny time, state or memory budget on a big
//! generated history gives `unknown` with the reason, never `valid`, and returns (issue 9).
//! The histories are valid, so a checker that ignored its budget would say `valid`.
//!
//! Also the pathological linearizability history: many concurrent writes of the same value
//! and a read of a value never written. Each subset of the writes is its own search state,
//! so an unbudgeted search would take ~2^40 steps; a budgeted one gives up with `unknown`.

use std::time::Duration;

use faultline_checker::bank::{BankChecker, Total};
use faultline_checker::convergence::ConvergenceChecker;
use faultline_checker::elle::{ListAppend, Options as ElleOptions};
use faultline_checker::linearizable::{by_name, Options as LinOptions};
use faultline_checker::lost::LostChecker;
use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_checker::{Budget, Checker, Validity};
use faultline_core::dsl::Builder;
use faultline_core::{History, OpType, Value};

fn mop(f: &str, k: i64, v: Value) -> Value {
    Value::List(vec![Value::Str(f.into()), Value::Int(k), v])
}

/// A valid serial list-append history: 5 processes take turns; transaction i appends i to
/// key i/16 and reads that key back (so lists stay short).
fn list_append(txns: i64) -> History {
    let mut b = Builder::new();
    let mut list: Vec<Value> = Vec::new();
    for i in 0..txns {
        let key = i / 16;
        if i % 16 == 0 {
            list.clear();
        }
        list.push(Value::Int(i));
        let p = (i % 5) as u64;
        let invoke = Value::List(vec![
            mop("append", key, Value::Int(i)),
            mop("r", key, Value::Nil),
        ]);
        let done = Value::List(vec![
            mop("append", key, Value::Int(i)),
            mop("r", key, Value::List(list.clone())),
        ]);
        b.invoke(p, "txn", invoke).complete(p, OpType::Ok, done);
    }
    b.build()
}

/// A valid bank history: reads of two accounts that always sum to 100.
fn bank(reads: i64) -> History {
    let mut b = Builder::new();
    for i in 0..reads {
        let a = i % 100;
        let snapshot = Value::Map(vec![
            (Value::Str("a".into()), Value::Int(a)),
            (Value::Str("b".into()), Value::Int(100 - a)),
        ]);
        b.op_ok((i % 5) as u64, "read", Value::Nil, snapshot);
    }
    b.build()
}

/// Five nodes' final reads of the same 5,000-key store: converged.
fn converged(keys: i64) -> History {
    let store = Value::Map(
        (0..keys)
            .map(|k| (Value::Int(k), Value::Int(k * 7)))
            .collect(),
    );
    let mut b = Builder::new();
    for n in 0..5u64 {
        b.op_ok(n, "final-read", Value::Nil, store.clone());
    }
    let mut ops = b.build().into_ops();
    for op in &mut ops {
        op.node = Some(format!("n{}", op.process));
    }
    History::from_ops(ops).unwrap()
}

/// A valid serial register history over one key: write i, read i.
fn register(n: i64) -> History {
    let mut b = Builder::new();
    for i in 0..n {
        let p = (i % 5) as u64;
        b.op_ok(p, "write", Value::Int(i), Value::Int(i));
        b.op_ok(p, "read", Value::Nil, Value::Int(i));
    }
    b.build()
}

fn budgets() -> [(&'static str, Budget); 3] {
    [
        ("time", Budget::unlimited().with_timeout(Duration::ZERO)),
        ("search states", Budget::unlimited().with_max_states(1)),
        ("memory", Budget::unlimited().with_max_memory(1)),
    ]
}

/// Checks that `checker` is valid without a budget, and unknown under each tiny one with a
/// reason naming the budget.
fn assert_honours_budgets(checker: &dyn Checker, history: &History, skip: &[&str]) {
    let v = checker.check(history, &Budget::unlimited());
    assert_eq!(
        v.valid,
        Validity::Valid,
        "{}: the generated history should be valid: {:?} {:?}",
        checker.name(),
        v.unknown_reason,
        v.anomalies.first()
    );
    for (what, budget) in budgets() {
        if skip.contains(&what) {
            continue;
        }
        let v = checker.check(history, &budget);
        assert_eq!(
            v.valid,
            Validity::Unknown,
            "{} under a tiny {what} budget",
            checker.name()
        );
        let reason = v.unknown_reason.unwrap_or_default();
        assert!(
            reason.contains(what),
            "{}: the reason {reason:?} should name the {what} budget",
            checker.name()
        );
    }
}

#[test]
fn elle_list_append_honours_its_budget() {
    let h = list_append(20_000);
    assert_honours_budgets(&ListAppend::new(ElleOptions::default()), &h, &[]);
}

#[test]
fn session_honours_its_budget() {
    assert_honours_budgets(&SessionChecker::default(), &list_append(20_000), &[]);
}

#[test]
fn prefix_honours_its_budget() {
    assert_honours_budgets(&PrefixChecker::default(), &list_append(20_000), &[]);
}

#[test]
fn lost_honours_its_budget() {
    assert_honours_budgets(&LostChecker::default(), &list_append(20_000), &[]);
}

#[test]
fn bank_honours_its_budget() {
    assert_honours_budgets(&BankChecker::new(Total::Fixed(100)), &bank(20_000), &[]);
}

#[test]
fn convergence_honours_its_budget() {
    assert_honours_budgets(&ConvergenceChecker::default(), &converged(5_000), &[]);
}

#[test]
fn linearizable_honours_its_budget() {
    let checker = by_name("register", LinOptions::default()).unwrap();
    // 40,000 events: more than the search's 16,384 steps between budget checks, and few
    // enough that the unbudgeted check stays quick (its memo hashes an n-bit set per step).
    assert_honours_budgets(checker.as_ref(), &register(20_000), &[]);
}

/// `writes` concurrent writes of 1, all acknowledged, then a read of 2 (never written).
pub fn pathological(writes: u64) -> History {
    let mut b = Builder::new();
    for p in 0..writes {
        b.invoke(p, "write", Value::Int(1));
    }
    for p in 0..writes {
        b.complete(p, OpType::Ok, Value::Int(1));
    }
    b.op_ok(writes, "read", Value::Nil, Value::Int(2));
    b.build()
}

#[test]
fn many_concurrent_equal_writes_give_unknown_not_a_hang() {
    let checker = by_name("register", LinOptions::default()).unwrap();
    let h = pathological(40);
    for budget in [
        Budget::unlimited().with_max_states(200_000),
        Budget::unlimited().with_timeout(Duration::from_millis(300)),
        Budget::unlimited().with_max_memory(1 << 20),
    ] {
        let v = checker.check(&h, &budget);
        assert_eq!(v.valid, Validity::Unknown, "{budget:?}: {v:?}");
        assert!(v.unknown_reason.is_some());
    }
}
