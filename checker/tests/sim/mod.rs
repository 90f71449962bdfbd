//! Small simulated stores for the checkers' tests: a seeded schedule of client ops, a store
//! that applies each op at a point inside its interval, and the history that results.
//!
//! Modes: `Linearizable` (one copy, every op applied atomically), `StaleReplicas` (a leader
//! applies writes; followers apply the leader's log after a lag and serve reads; final reads
//! come after every lag), `DropsAcked` (one copy that acknowledges some adds and appends
//! without applying them, and remembers which).

#![allow(dead_code)]

use std::collections::BTreeMap;

use faultline_core::{History, Op, OpType, Value};

/// SplitMix64: small, seeded, good enough for schedules.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

pub fn s(x: &str) -> Value {
    Value::from(x)
}

pub fn mop(f: &str, k: &str, v: Value) -> Value {
    Value::List(vec![s(f), s(k), v])
}

/// One op to run: what the client asks, and when.
#[derive(Clone, Debug)]
pub struct Planned {
    pub thread: u64,
    pub f: String,
    pub key: Option<Value>,
    pub value: Value,
    /// Which replica serves it (final reads), or None for the store to choose.
    pub node: Option<usize>,
    pub final_read: bool,
    pub invoke: u64,
    pub apply: u64,
    pub complete: u64,
}

/// Plans `n` ops over `threads` client threads; `gen` says what each op is.
pub fn plan(
    rng: &mut Rng,
    threads: u64,
    n: usize,
    mut gen: impl FnMut(&mut Rng, u64) -> (String, Option<Value>, Value),
) -> Vec<Planned> {
    let mut free = vec![0u64; threads as usize];
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let t = (0..threads)
            .min_by_key(|&t| (free[t as usize], t))
            .unwrap_or(0);
        let invoke = free[t as usize] + rng.below(3_000_000);
        let apply = invoke + 1 + rng.below(2_000_000);
        let complete = apply + 1 + rng.below(2_000_000);
        free[t as usize] = complete + 1;
        let (f, key, value) = gen(rng, t);
        out.push(Planned {
            thread: t,
            f,
            key,
            value,
            node: None,
            final_read: false,
            invoke,
            apply,
            complete,
        });
    }
    out
}

/// Appends one final read per node after everything else (and after `settle` ns more).
pub fn final_reads(plan: &mut Vec<Planned>, nodes: usize, settle: u64, f: &str, value: Value) {
    let end = plan.iter().map(|p| p.complete).max().unwrap_or(0) + settle;
    for n in 0..nodes {
        let invoke = end + n as u64 * 10;
        plan.push(Planned {
            thread: 1000 + n as u64,
            f: f.to_string(),
            key: None,
            value: value.clone(),
            node: Some(n),
            final_read: true,
            invoke,
            apply: invoke + 1,
            complete: invoke + 2,
        });
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Linearizable,
    /// Followers apply the leader's log this many ns late; reads go to any replica.
    StaleReplicas {
        replicas: usize,
        lag: u64,
    },
    /// Acknowledges this fraction of adds and appends without applying them.
    DropsAcked(f64),
}

/// One copy of the data.
#[derive(Clone, Debug, Default)]
pub struct State {
    pub regs: BTreeMap<Value, Value>,
    pub lists: BTreeMap<Value, Vec<Value>>,
    pub counters: BTreeMap<Value, i64>,
    pub set: Vec<Value>,
    pub accounts: BTreeMap<Value, i64>,
    /// How many leader log entries this copy has applied.
    pub applied: usize,
}

#[derive(Clone, Debug)]
pub enum Mutation {
    Write(Value, Value),
    Append(Value, Value),
    Add(Value, i64),
    SetAdd(Value),
    Transfer(Value, Value, i64),
}

impl State {
    fn apply(&mut self, m: &Mutation) {
        match m {
            Mutation::Write(k, v) => {
                self.regs.insert(k.clone(), v.clone());
            }
            Mutation::Append(k, e) => self.lists.entry(k.clone()).or_default().push(e.clone()),
            Mutation::Add(k, d) => *self.counters.entry(k.clone()).or_default() += d,
            Mutation::SetAdd(e) => self.set.push(e.clone()),
            Mutation::Transfer(a, b, n) => {
                *self.accounts.entry(a.clone()).or_default() -= n;
                *self.accounts.entry(b.clone()).or_default() += n;
            }
        }
    }
}

pub struct Store {
    pub mode: Mode,
    /// replicas[0] is the leader.
    pub replicas: Vec<State>,
    /// The leader's log: (apply time, mutation), the ground truth of write order.
    pub log: Vec<(u64, Mutation)>,
    /// Mutations acknowledged but dropped (DropsAcked).
    pub dropped: Vec<Mutation>,
    /// Chance that an op times out (info); a timed-out op applies or not at random.
    pub info_rate: f64,
}

impl Store {
    pub fn new(mode: Mode, initial: State) -> Store {
        let n = match mode {
            Mode::StaleReplicas { replicas, .. } => replicas,
            _ => 1,
        };
        Store {
            mode,
            replicas: vec![initial; n],
            log: Vec::new(),
            dropped: Vec::new(),
            info_rate: 0.0,
        }
    }

    fn lag(&self, replica: usize) -> u64 {
        match self.mode {
            Mode::StaleReplicas { lag, .. } => lag * replica as u64,
            _ => 0,
        }
    }

    /// Brings a replica up to time `t`.
    fn catch_up(&mut self, r: usize, t: u64) {
        let lag = self.lag(r);
        while let Some((at, m)) = self.log.get(self.replicas[r].applied) {
            if r != 0 && at + lag > t {
                break;
            }
            let m = m.clone();
            self.replicas[r].apply(&m);
            self.replicas[r].applied += 1;
        }
    }

    fn mutate(&mut self, t: u64, m: Mutation, rng: &mut Rng) {
        if let Mode::DropsAcked(p) = self.mode {
            if matches!(
                m,
                Mutation::Append(..) | Mutation::SetAdd(_) | Mutation::Add(..)
            ) && rng.chance(p)
            {
                self.dropped.push(m);
                return;
            }
        }
        self.log.push((t, m));
        self.catch_up(0, t);
    }

    /// Runs one op at its apply time; returns its completion type and value.
    fn run(&mut self, p: &Planned, rng: &mut Rng) -> (OpType, Value) {
        let timed_out = !p.final_read && rng.chance(self.info_rate);
        if timed_out && rng.chance(0.5) {
            return (OpType::Info, p.value.clone());
        }
        let writes = (p.f == "txn"
            && p.value
                .as_list()
                .unwrap()
                .iter()
                .any(|m| m.as_list().unwrap()[0].as_str() != Some("r")))
            || matches!(p.f.as_str(), "write" | "add" | "incr" | "transfer");
        let r = match p.node {
            // Every node of a one-copy store serves the same copy.
            Some(n) => n.min(self.replicas.len() - 1),
            None if writes => 0,
            None => rng.below(self.replicas.len() as u64) as usize,
        };
        for i in 0..self.replicas.len() {
            self.catch_up(i, p.apply);
        }
        let key = p.key.clone().unwrap_or(Value::Nil);
        let out = match p.f.as_str() {
            "txn" => {
                let mut result = Vec::new();
                for m in p.value.as_list().unwrap() {
                    let [f, k, v] = <[Value; 3]>::try_from(m.as_list().unwrap().to_vec()).unwrap();
                    match f.as_str().unwrap() {
                        "r" => {
                            let st = &self.replicas[r];
                            let seen = if st.lists.contains_key(&k) || v.as_list().is_some() {
                                Value::List(st.lists.get(&k).cloned().unwrap_or_default())
                            } else {
                                st.regs.get(&k).cloned().unwrap_or(Value::Nil)
                            };
                            result.push(Value::List(vec![f, k, seen]));
                        }
                        "w" => {
                            self.mutate(p.apply, Mutation::Write(k.clone(), v.clone()), rng);
                            result.push(Value::List(vec![f, k, v]));
                        }
                        _ => {
                            self.mutate(p.apply, Mutation::Append(k.clone(), v.clone()), rng);
                            result.push(Value::List(vec![f, k, v]));
                        }
                    }
                }
                (OpType::Ok, Value::List(result))
            }
            "write" => {
                self.mutate(p.apply, Mutation::Write(key, p.value.clone()), rng);
                (OpType::Ok, p.value.clone())
            }
            "read" | "final-read" => {
                let st = &self.replicas[r];
                let v = match &p.value {
                    Value::Str(w) if w == "set" => Value::List(st.set.clone()),
                    Value::Str(w) if w == "counter" => {
                        Value::Int(*st.counters.get(&key).unwrap_or(&0))
                    }
                    Value::Str(w) if w == "accounts" => Value::Map(
                        st.accounts
                            .iter()
                            .map(|(k, b)| (k.clone(), Value::Int(*b)))
                            .collect(),
                    ),
                    _ => st.regs.get(&key).cloned().unwrap_or(Value::Nil),
                };
                (OpType::Ok, v)
            }
            "add" => {
                self.mutate(p.apply, Mutation::SetAdd(p.value.clone()), rng);
                (OpType::Ok, p.value.clone())
            }
            "incr" => {
                self.mutate(p.apply, Mutation::Add(key, p.value.as_int().unwrap()), rng);
                (OpType::Ok, p.value.clone())
            }
            "transfer" => {
                let (a, b, n) = (
                    p.value.get("from").unwrap().clone(),
                    p.value.get("to").unwrap().clone(),
                    p.value.get("amount").unwrap().as_int().unwrap(),
                );
                if *self.replicas[0].accounts.get(&a).unwrap_or(&0) < n {
                    (OpType::Fail, p.value.clone())
                } else {
                    self.mutate(p.apply, Mutation::Transfer(a, b, n), rng);
                    (OpType::Ok, p.value.clone())
                }
            }
            other => panic!("sim: no op {other}"),
        };
        if timed_out && out.0 == OpType::Ok {
            (OpType::Info, p.value.clone())
        } else {
            out
        }
    }
}

/// Runs the plan against the store and records the history. Counter adds are planned as
/// `incr` (so they are not taken for set adds) and recorded as `add`.
pub fn run(plan: &[Planned], store: &mut Store, rng: &mut Rng) -> History {
    let mut order: Vec<usize> = (0..plan.len()).collect();
    order.sort_by_key(|&i| (plan[i].apply, i));
    let mut results = vec![(OpType::Ok, Value::Nil); plan.len()];
    for i in order {
        results[i] = store.run(&plan[i], rng);
    }
    // Jepsen's rule: a thread whose op ended in info continues as a new process.
    let mut generation: BTreeMap<u64, u64> = BTreeMap::new();
    let mut events: Vec<(u64, usize, Op)> = Vec::new();
    let mut by_thread: Vec<usize> = (0..plan.len()).collect();
    by_thread.sort_by_key(|&i| (plan[i].thread, plan[i].invoke));
    for i in by_thread {
        let p = &plan[i];
        let g = generation.entry(p.thread).or_default();
        let process = p.thread + 10_000 * *g;
        if results[i].0 == OpType::Info {
            *g += 1;
        }
        let f = if p.f == "incr" { "add" } else { p.f.as_str() };
        let invoke_value = if p.f == "txn" {
            faultline_core::dsl::invocation(&p.value)
        } else if p.f == "read" || p.f == "final-read" {
            Value::Nil
        } else {
            p.value.clone()
        };
        let mut inv = Op::invoke(process, f, invoke_value);
        inv.time = p.invoke;
        if let Some(k) = &p.key {
            inv.extra.insert("key", k.clone());
        }
        if p.final_read {
            inv.extra.insert("final", true.into());
        }
        if let Some(n) = p.node {
            inv.node = Some(format!("n{}", n + 1));
        }
        let mut done = inv.complete(results[i].0, results[i].1.clone());
        done.time = p.complete;
        events.push((p.invoke, 2 * i, inv));
        events.push((p.complete, 2 * i + 1, done));
    }
    events.sort_by_key(|e| (e.0, e.1));
    History::from_ops(events.into_iter().map(|e| e.2)).expect("sim: a malformed history")
}
