//! The checkers against small simulated stores with known behaviour (Elle's approach): a
//! store that serves stale reads must fail monotonic reads, a store that drops acknowledged
//! adds must show exactly those elements lost, and a linearizable store must pass every
//! checker. Every run is seeded; a failure names its seed.

mod sim;

use std::collections::BTreeSet;

use faultline_checker::bank::{BankChecker, Total};
use faultline_checker::convergence::ConvergenceChecker;
use faultline_checker::lost::LostChecker;
use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_checker::stats::StatsChecker;
use faultline_checker::{Budget, Checker, Validity, Verdict};
use faultline_core::{History, OpType, Value};
use sim::{final_reads, mop, plan, run, s, Mode, Mutation, Rng, State, Store};

const KEYS: [&str; 3] = ["x", "y", "z"];

fn check(c: &dyn Checker, h: &History) -> Verdict {
    c.check(h, &Budget::unlimited())
}

/// Register transactions: a unique write, a read, or a read-then-write, of one key.
fn register_ops(rng: &mut Rng, next: &mut i64) -> (String, Option<Value>, Value) {
    let k = *rng.pick(&KEYS);
    let txn = match rng.below(3) {
        0 => vec![mop("r", k, Value::Nil)],
        1 => {
            *next += 1;
            vec![mop("w", k, (*next).into())]
        }
        _ => {
            *next += 1;
            vec![mop("r", k, Value::Nil), mop("w", k, (*next).into())]
        }
    };
    ("txn".into(), None, Value::List(txn))
}

/// List-append transactions of one to three micro-ops.
fn append_ops(rng: &mut Rng, next: &mut i64) -> (String, Option<Value>, Value) {
    let n = 1 + rng.below(3);
    let txn = (0..n)
        .map(|_| {
            let k = *rng.pick(&KEYS);
            if rng.chance(0.5) {
                mop("r", k, Value::List(vec![]))
            } else {
                *next += 1;
                mop("append", k, (*next).into())
            }
        })
        .collect();
    ("txn".into(), None, Value::List(txn))
}

fn final_list_read() -> Value {
    Value::List(
        KEYS.iter()
            .map(|k| mop("r", k, Value::List(vec![])))
            .collect(),
    )
}

/// The leader-log position of each written value, the truth about write order.
fn write_order(store: &Store) -> std::collections::BTreeMap<Value, usize> {
    store
        .log
        .iter()
        .enumerate()
        .filter_map(|(i, (_, m))| match m {
            Mutation::Write(_, v) => Some((v.clone(), i)),
            _ => None,
        })
        .collect()
}

/// The value a single-read register txn completed with.
fn read_value(h: &History, at: u64) -> Value {
    let op = &h.ops()[at as usize];
    op.value.as_list().unwrap()[0].as_list().unwrap()[2].clone()
}

#[test]
fn a_stale_replica_register_fails_monotonic_reads() {
    for seed in 1..=5 {
        let mut rng = Rng::new(seed);
        let mut next = 0;
        let p = plan(&mut rng, 4, 400, |r, _| register_ops(r, &mut next));
        let mut store = Store::new(
            Mode::StaleReplicas {
                replicas: 3,
                lag: 8_000_000,
            },
            State::default(),
        );
        let h = run(&p, &mut store, &mut rng);
        let v = check(
            &SessionChecker {
                max_reported: 10_000,
                ..Default::default()
            },
            &h,
        );
        assert_eq!(v.valid, Validity::Invalid, "seed {seed}");
        assert!(
            v.models.ruled_out.contains(&"monotonic-reads".to_string()),
            "seed {seed}: {:?}",
            v.models
        );
        // Every inferred monotonic-reads anomaly is true of the store's real write order:
        // the later read saw a value the leader applied before the earlier read's.
        let order = write_order(&store);
        let pos = |v: &Value| if v.is_nil() { -1 } else { order[v] as i64 };
        let mut confirmed = 0;
        for a in v
            .anomalies
            .iter()
            .filter(|a| a.kind == "monotonic-reads" && a.ops.len() == 2)
        {
            let (r1, r2) = (a.ops[0], a.ops[1]);
            assert_eq!(
                h.ops()[r1 as usize].process,
                h.ops()[r2 as usize].process,
                "seed {seed}"
            );
            assert!(r1 < r2);
            assert!(
                pos(&read_value(&h, r2)) < pos(&read_value(&h, r1)),
                "seed {seed}: {}",
                a.explanation
            );
            confirmed += 1;
        }
        assert!(confirmed > 0, "seed {seed}");
    }
}

#[test]
fn a_stale_replica_keeps_consistent_prefix_but_not_monotonic_reads() {
    // Followers apply the leader's log in order, so every list read is a prefix of it.
    for seed in 1..=5 {
        let mut rng = Rng::new(100 + seed);
        let mut next = 0;
        let p = plan(&mut rng, 4, 400, |r, _| append_ops(r, &mut next));
        let mut store = Store::new(
            Mode::StaleReplicas {
                replicas: 3,
                lag: 8_000_000,
            },
            State::default(),
        );
        let h = run(&p, &mut store, &mut rng);
        let prefix = check(&PrefixChecker::default(), &h);
        assert_eq!(
            prefix.valid,
            Validity::Valid,
            "seed {seed}: {:?}",
            prefix.anomalies.first()
        );
        assert_eq!(prefix.models.kept, vec!["consistent-prefix"]);
        let session = check(&SessionChecker::default(), &h);
        assert!(
            session.kinds().contains(&"monotonic-reads"),
            "seed {seed}: {:?}",
            session.kinds()
        );
    }
}

#[test]
fn a_store_dropping_acknowledged_adds_loses_exactly_those_elements() {
    for seed in 1..=5 {
        let mut rng = Rng::new(200 + seed);
        let mut next = 0;
        let p0 = plan(&mut rng, 4, 300, |r, _| {
            if r.chance(0.6) {
                next += 1;
                ("add".into(), None, Value::Int(next))
            } else {
                ("read".into(), None, s("set"))
            }
        });
        let mut p = p0;
        final_reads(&mut p, 1, 1_000, "read", s("set"));
        let mut store = Store::new(Mode::DropsAcked(0.05), State::default());
        let h = run(&p, &mut store, &mut rng);
        let v = check(
            &LostChecker {
                max_reported: 10_000,
                ..Default::default()
            },
            &h,
        );
        let lost: BTreeSet<Value> = v
            .anomalies
            .iter()
            .filter(|a| a.kind == "lost-element")
            .map(|a| a.key.clone().unwrap())
            .collect();
        let dropped: BTreeSet<Value> = store
            .dropped
            .iter()
            .map(|m| match m {
                Mutation::SetAdd(e) => e.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(!dropped.is_empty(), "seed {seed}: nothing dropped");
        assert_eq!(lost, dropped, "seed {seed}");
        assert_eq!(v.kinds(), vec!["lost-element"], "seed {seed}");
    }
}

#[test]
fn a_store_dropping_acknowledged_appends_and_increments() {
    for seed in 1..=3 {
        let mut rng = Rng::new(300 + seed);
        let mut next = 0;
        let mut p = plan(&mut rng, 4, 300, |r, _| append_ops(r, &mut next));
        final_reads(&mut p, 1, 1_000, "txn", final_list_read());
        let mut store = Store::new(Mode::DropsAcked(0.05), State::default());
        let h = run(&p, &mut store, &mut rng);
        let v = check(
            &LostChecker {
                max_reported: 10_000,
                ..Default::default()
            },
            &h,
        );
        let lost: BTreeSet<(Value, String)> = v
            .anomalies
            .iter()
            .filter(|a| a.kind == "lost-append")
            .map(|a| {
                let e = a
                    .explanation
                    .split(" appended ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap();
                (a.key.clone().unwrap(), e.to_string())
            })
            .collect();
        let dropped: BTreeSet<(Value, String)> = store
            .dropped
            .iter()
            .map(|m| match m {
                Mutation::Append(k, e) => (k.clone(), e.to_string()),
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(!dropped.is_empty(), "seed {seed}");
        assert_eq!(lost, dropped, "seed {seed}");

        // Counters: the final read falls short by exactly the dropped increments.
        let mut p = plan(&mut rng, 4, 300, |r, _| {
            if r.chance(0.7) {
                ("incr".into(), None, Value::Int(1 + r.below(3) as i64))
            } else {
                ("read".into(), None, s("counter"))
            }
        });
        final_reads(&mut p, 1, 1_000, "read", s("counter"));
        let mut store = Store::new(Mode::DropsAcked(0.05), State::default());
        let h = run(&p, &mut store, &mut rng);
        let v = check(&LostChecker::default(), &h);
        let short: i64 = store
            .dropped
            .iter()
            .map(|m| if let Mutation::Add(_, d) = m { *d } else { 0 })
            .sum();
        assert!(short > 0, "seed {seed}");
        assert!(
            v.kinds().contains(&"lost-increments"),
            "seed {seed}: {:?}",
            v.kinds()
        );
        let f = &v.stats["final_reads"][0];
        assert_eq!(
            f["lower"].as_i64().unwrap() - f["value"].as_i64().unwrap(),
            short,
            "seed {seed}"
        );
    }
}

/// The bank's accounts: five with 20 each.
fn bank_state() -> State {
    let mut st = State::default();
    for a in ["a", "b", "c", "d", "e"] {
        st.accounts.insert(s(a), 20);
    }
    st
}

#[test]
fn a_linearizable_store_passes_every_checker() {
    for seed in 1..=4 {
        let mut rng = Rng::new(400 + seed);
        let all_valid = |name: &str, v: Verdict| {
            assert_eq!(
                v.valid,
                Validity::Valid,
                "seed {seed}, {name}: {:?} {:?}",
                v.unknown_reason,
                v.anomalies.first()
            );
        };
        let store = |info| {
            let mut s = Store::new(Mode::Linearizable, State::default());
            s.info_rate = info;
            s
        };

        // Registers: session guarantees, causal prefix (as keyed single ops), lost updates.
        let mut next = 0;
        let p = plan(&mut rng, 5, 500, |r, _| register_ops(r, &mut next));
        let h = run(&p, &mut store(0.02), &mut rng);
        all_valid("session/register", check(&SessionChecker::default(), &h));
        all_valid("lost/register", check(&LostChecker::default(), &h));
        all_valid("stats", check(&StatsChecker::default(), &h));
        let p = plan(&mut rng, 5, 500, |r, _| {
            let k = *r.pick(&KEYS);
            if r.chance(0.4) {
                next += 1;
                ("write".into(), Some(s(k)), Value::Int(next))
            } else {
                ("read".into(), Some(s(k)), Value::Nil)
            }
        });
        let h = run(&p, &mut store(0.02), &mut rng);
        all_valid("prefix/causal", check(&PrefixChecker::default(), &h));
        all_valid("session/keyed", check(&SessionChecker::default(), &h));

        // List-append, with final reads from three nodes of the one copy.
        let mut p = plan(&mut rng, 5, 500, |r, _| append_ops(r, &mut next));
        final_reads(&mut p, 3, 1_000, "txn", final_list_read());
        let h = run(&p, &mut store(0.02), &mut rng);
        all_valid("session/list-append", check(&SessionChecker::default(), &h));
        all_valid("prefix/list-append", check(&PrefixChecker::default(), &h));
        all_valid("lost/list-append", check(&LostChecker::default(), &h));
        all_valid("convergence", check(&ConvergenceChecker::default(), &h));

        // Counter and set, with indeterminate ops.
        let mut p = plan(&mut rng, 5, 400, |r, _| {
            if r.chance(0.6) {
                ("incr".into(), None, Value::Int(r.below(4) as i64 - 1))
            } else {
                ("read".into(), None, s("counter"))
            }
        });
        final_reads(&mut p, 1, 1_000, "read", s("counter"));
        all_valid(
            "lost/counter",
            check(
                &LostChecker::default(),
                &run(&p, &mut store(0.05), &mut rng),
            ),
        );
        let mut p = plan(&mut rng, 5, 400, |r, _| {
            if r.chance(0.6) {
                next += 1;
                ("add".into(), None, Value::Int(next))
            } else {
                ("read".into(), None, s("set"))
            }
        });
        final_reads(&mut p, 1, 1_000, "read", s("set"));
        let strict = LostChecker {
            stale_is_anomaly: true,
            ..Default::default()
        };
        all_valid(
            "lost/set",
            check(&strict, &run(&p, &mut store(0.05), &mut rng)),
        );

        // Bank.
        let p = plan(&mut rng, 5, 400, |r, _| {
            if r.chance(0.6) {
                let from = *r.pick(&["a", "b", "c", "d", "e"]);
                let to = *r.pick(&["a", "b", "c", "d", "e"]);
                let t = Value::Map(vec![
                    (s("from"), s(from)),
                    (s("to"), s(to)),
                    (s("amount"), Value::Int(1 + r.below(10) as i64)),
                ]);
                ("transfer".into(), None, t)
            } else {
                ("read".into(), None, s("accounts"))
            }
        });
        let mut st = Store::new(Mode::Linearizable, bank_state());
        st.info_rate = 0.03;
        let h = run(&p, &mut st, &mut rng);
        assert!(
            h.ops().iter().any(|o| o.kind == OpType::Fail),
            "seed {seed}: no transfer failed"
        );
        all_valid("bank", check(&BankChecker::new(Total::Fixed(100)), &h));
    }
}

#[test]
fn stale_replicas_converge_after_settling_and_a_stuck_one_is_named() {
    let mut rng = Rng::new(500);
    let mut next = 0;
    let mut p = plan(&mut rng, 4, 200, |r, _| append_ops(r, &mut next));
    let lag = 8_000_000;
    final_reads(&mut p, 3, 3 * lag, "txn", final_list_read());
    let h = run(
        &p,
        &mut Store::new(Mode::StaleReplicas { replicas: 3, lag }, State::default()),
        &mut rng,
    );
    let v = check(&ConvergenceChecker::default(), &h);
    assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies.first());
    assert_eq!(v.stats["nodes"], 3);

    // Final reads before the slowest follower caught up: n3 is behind.
    let mut p = plan(&mut rng, 4, 200, |r, _| append_ops(r, &mut next));
    final_reads(&mut p, 3, lag + 1, "txn", final_list_read());
    let h = run(
        &p,
        &mut Store::new(Mode::StaleReplicas { replicas: 3, lag }, State::default()),
        &mut rng,
    );
    let v = check(&ConvergenceChecker::default(), &h);
    assert_eq!(v.kinds(), vec!["replicas-diverge"]);
    assert!(
        v.anomalies
            .iter()
            .all(|a| a.explanation.contains("n3 returned")),
        "{:?}",
        v.anomalies
    );
}

#[test]
fn every_checker_gives_unknown_when_the_budget_runs_out() {
    let mut rng = Rng::new(600);
    let mut next = 0;
    let mut p = plan(&mut rng, 5, 3000, |r, _| append_ops(r, &mut next));
    final_reads(&mut p, 2, 1_000, "txn", final_list_read());
    let h = run(
        &p,
        &mut Store::new(Mode::Linearizable, State::default()),
        &mut rng,
    );
    let checkers: Vec<Box<dyn Checker>> = vec![
        Box::new(SessionChecker::default()),
        Box::new(PrefixChecker::default()),
        Box::new(LostChecker::default()),
        Box::new(ConvergenceChecker::default()),
        Box::new(BankChecker::new(Total::FirstRead)),
        Box::new(StatsChecker::default()),
    ];
    let cancelled = Budget::unlimited();
    cancelled.cancel();
    let expired = Budget::unlimited().with_timeout(std::time::Duration::ZERO);
    for c in &checkers {
        for (budget, why) in [(&cancelled, "cancelled"), (&expired, "time budget")] {
            let v = c.check(&h, budget);
            assert_eq!(v.valid, Validity::Unknown, "{}", c.name());
            let reason = v.unknown_reason.unwrap_or_default();
            assert!(reason.contains(why), "{}: {reason}", c.name());
        }
    }
}
