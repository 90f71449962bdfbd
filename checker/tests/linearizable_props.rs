//! Property tests of the linearizability checker:
//! - histories recorded from a simulated atomic register (ops take effect at one instant
//!   between invocation and completion; some crash to `info` before or after) are
//!   linearizable;
//! - on random mutations of small histories, a brute-force checker (every order of the ops
//!   consistent with real time, indeterminate ops optional) agrees with the search;
//! - the kv verdict is the same split by key and unsplit.

use faultline_checker::linearizable::models::{Kv, Register, RegisterKind};
use faultline_checker::linearizable::{check_named, Model, OpView, Options};
use faultline_checker::{Budget, Validity};
use faultline_core::{History, Op, OpType, Value};
use proptest::prelude::*;

/// What a simulated process is doing.
#[derive(Clone)]
enum Proc {
    Idle,
    /// Invoked; not yet taken effect.
    Invoked(Op),
    /// Took effect (or crashed without); the completion to record.
    Done(Op),
}

/// Runs a plan of (process pick, choice) steps against an atomic object and records the
/// history. `apply` performs an op atomically and returns its completion (type and value).
fn simulate(
    plan: &[(u8, u8)],
    nproc: usize,
    mut new_op: impl FnMut(u64, u8) -> Op,
    mut apply: impl FnMut(&Op) -> (OpType, Value),
) -> History {
    let mut procs = vec![Proc::Idle; nproc];
    let mut ids: Vec<u64> = (0..nproc as u64).collect();
    let mut events = Vec::new();
    for &(pick, choice) in plan {
        let p = pick as usize % nproc;
        procs[p] = match std::mem::replace(&mut procs[p], Proc::Idle) {
            Proc::Idle => {
                let op = new_op(ids[p], choice);
                events.push(op.clone());
                Proc::Invoked(op)
            }
            Proc::Invoked(inv) if choice % 11 == 0 => {
                // A crash before taking effect: info, never happened.
                Proc::Done(inv.complete(OpType::Info, inv.value.clone()))
            }
            Proc::Invoked(inv) => {
                let (kind, value) = apply(&inv);
                // Sometimes the client loses the answer of an op that did take effect.
                let kind = if choice % 7 == 0 && kind == OpType::Ok {
                    OpType::Info
                } else {
                    kind
                };
                Proc::Done(inv.complete(kind, value))
            }
            Proc::Done(c) => {
                if c.kind == OpType::Info {
                    ids[p] += nproc as u64; // Jepsen retires the process
                }
                events.push(c);
                Proc::Idle
            }
        };
    }
    History::from_ops(events).expect("the simulation pairs its events")
}

fn small(v: u8) -> Value {
    Value::Int(i64::from(v % 3))
}

fn register_history(plan: &[(u8, u8)], nproc: usize) -> History {
    let mut reg = Value::Nil;
    simulate(
        plan,
        nproc,
        |p, c| match c % 3 {
            0 => Op::invoke(p, "read", Value::Nil),
            1 => Op::invoke(p, "write", small(c / 3)),
            _ => Op::invoke(p, "cas", Value::List(vec![small(c / 3), small(c / 9)])),
        },
        |op| match op.f.as_str() {
            "read" => (OpType::Ok, reg.clone()),
            "write" => {
                reg = op.value.clone();
                (OpType::Ok, op.value.clone())
            }
            _ => {
                let (from, to) = (
                    &op.value.as_list().unwrap()[0],
                    &op.value.as_list().unwrap()[1],
                );
                if *from == reg {
                    reg = to.clone();
                    (OpType::Ok, op.value.clone())
                } else {
                    (OpType::Fail, op.value.clone())
                }
            }
        },
    )
}

fn kv_history(plan: &[(u8, u8)], nproc: usize) -> History {
    let mut map: std::collections::BTreeMap<String, String> = Default::default();
    let mut n = 0;
    simulate(
        plan,
        nproc,
        |p, c| {
            n += 1;
            let key = Value::from(["a", "b", "c"][usize::from(c / 3) % 3]);
            let (f, v) = match c % 3 {
                0 => ("get", Value::Nil),
                1 => ("put", Value::from(format!("{n} "))),
                _ => ("append", Value::from(format!("{n} "))),
            };
            Op::invoke(p, f, Value::List(vec![key, v]))
        },
        |op| {
            let [k, v] = op.value.as_list().unwrap() else {
                unreachable!()
            };
            let k = k.as_str().unwrap().to_string();
            match op.f.as_str() {
                "get" => {
                    let got = map.get(&k).cloned().unwrap_or_default();
                    (
                        OpType::Ok,
                        Value::List(vec![Value::from(k), Value::from(got)]),
                    )
                }
                "put" => {
                    map.insert(k, v.as_str().unwrap().to_string());
                    (OpType::Ok, op.value.clone())
                }
                _ => {
                    map.entry(k).or_default().push_str(v.as_str().unwrap());
                    (OpType::Ok, op.value.clone())
                }
            }
        },
    )
}

/// Every order of the ops consistent with real time, indeterminate ops optional.
fn brute_force<M: Model>(model: &M, h: &History) -> bool {
    struct Call<I, O> {
        io: (I, O),
        call: u64,
        ret: Option<u64>,
    }
    let mut ops = Vec::new();
    for (inv, done) in h.client_pairs() {
        let outcome = done.map_or(OpType::Info, |c| c.kind);
        let view = OpView {
            f: &inv.f,
            outcome,
            invoke_value: &inv.value,
            complete_value: done.map(|c| &c.value),
            process: inv.process.client().unwrap(),
        };
        if let Some(io) = model.op(&view).unwrap() {
            let determinate = matches!(outcome, OpType::Ok | OpType::Fail);
            ops.push(Call {
                io,
                call: inv.index,
                ret: if determinate {
                    done.map(|c| c.index)
                } else {
                    None
                },
            });
        }
    }
    fn go<M: Model>(
        model: &M,
        ops: &[Call<M::Input, M::Output>],
        placed: u32,
        state: &M::State,
    ) -> bool {
        if ops
            .iter()
            .enumerate()
            .all(|(i, o)| placed & (1 << i) != 0 || o.ret.is_none())
        {
            return true;
        }
        for (i, o) in ops.iter().enumerate() {
            if placed & (1 << i) != 0 {
                continue;
            }
            let blocked = ops.iter().enumerate().any(|(j, p)| {
                j != i && placed & (1 << j) == 0 && p.ret.is_some_and(|r| r < o.call)
            });
            if blocked {
                continue;
            }
            if let Some(s) = model.step(state, &o.io.0, &o.io.1) {
                if go(model, ops, placed | (1 << i), &s) {
                    return true;
                }
            }
        }
        false
    }
    go(model, &ops, 0, &model.init())
}

/// Changes one completion of a history: a read's value, an outcome.
fn mutate(h: &History, at: usize, how: u8) -> History {
    let mut ops: Vec<Op> = h.ops().to_vec();
    let completions: Vec<usize> = (0..ops.len())
        .filter(|&i| ops[i].kind != OpType::Invoke)
        .collect();
    if completions.is_empty() {
        return h.clone();
    }
    let c = completions[at % completions.len()];
    match how % 4 {
        0 if ops[c].f == "read" => ops[c].value = small(how / 4),
        1 if ops[c].f == "read" => ops[c].value = Value::Nil,
        2 => {
            ops[c].kind = if ops[c].kind == OpType::Ok {
                OpType::Fail
            } else {
                OpType::Ok
            }
        }
        _ => ops[c].kind = OpType::Info,
    }
    History::from_ops(ops).unwrap()
}

fn verdict(model: &str, h: &History, options: &Options) -> Validity {
    check_named(model, h, options, &Budget::unlimited())
        .unwrap()
        .valid
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn linearizable_simulated_register_histories_are_linearizable(
        plan in prop::collection::vec((any::<u8>(), any::<u8>()), 0..120),
        nproc in 1usize..6,
    ) {
        let h = register_history(&plan, nproc);
        prop_assert_eq!(verdict("cas-register", &h, &Options::default()), Validity::Valid);
        prop_assert_eq!(verdict("etcd", &h, &Options::default()), Validity::Valid);
    }

    #[test]
    fn linearizable_agrees_with_brute_force_on_mutated_histories(
        plan in prop::collection::vec((any::<u8>(), any::<u8>()), 0..24),
        nproc in 1usize..5,
        mutations in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        etcd in any::<bool>(),
    ) {
        let mut h = register_history(&plan, nproc);
        for (at, how) in mutations {
            h = mutate(&h, at, how);
        }
        prop_assume!(h.client_pairs().count() <= 8);
        let (name, kind) = if etcd { ("etcd", RegisterKind::Etcd) } else { ("cas-register", RegisterKind::Cas) };
        let want = brute_force(&Register(kind), &h);
        let got = verdict(name, &h, &Options::default());
        prop_assert_eq!(got, if want { Validity::Valid } else { Validity::Invalid });
    }

    #[test]
    fn linearizable_kv_split_and_unsplit_agree(
        plan in prop::collection::vec((any::<u8>(), any::<u8>()), 0..60),
        nproc in 1usize..5,
        mutations in prop::collection::vec((any::<usize>(), any::<u8>()), 0..2),
    ) {
        let mut h = kv_history(&plan, nproc);
        for (at, how) in mutations {
            h = mutate(&h, at, how);
        }
        let split = verdict("kv", &h, &Options::default());
        let unsplit = verdict("kv", &h, &Options { partition: false, ..Options::default() });
        prop_assert_eq!(split, unsplit);
        if h.client_pairs().count() <= 8 {
            let want = brute_force(&Kv, &h);
            prop_assert_eq!(split, if want { Validity::Valid } else { Validity::Invalid });
        }
    }
}

/// The mutations do make non-linearizable histories, so the agreement above is not only
/// about valid ones.
#[test]
fn linearizable_mutations_reach_both_verdicts() {
    let mut seed = 42u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) as u8
    };
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..300 {
        let plan: Vec<(u8, u8)> = (0..20).map(|_| (next(), next())).collect();
        let h = mutate(&register_history(&plan, 3), usize::from(next()), next());
        if h.client_pairs().count() > 8 {
            continue;
        }
        let want = brute_force(&Register(RegisterKind::Cas), &h);
        let got = verdict("cas-register", &h, &Options::default());
        assert_eq!(
            got,
            if want {
                Validity::Valid
            } else {
                Validity::Invalid
            }
        );
        if want {
            valid += 1
        } else {
            invalid += 1
        }
    }
    assert!(
        valid > 10 && invalid > 10,
        "valid {valid}, invalid {invalid}"
    );
}
