//! Simulated transactional stores that produce histories with known anomalies, for tests and
//! the benchmark: Elle's own testing approach (Kingsbury & Alvaro 2020, §5), in pure,
//! deterministic, seeded Rust.
//!
//! Clients are `concurrency` single-threaded processes; at every tick one process, chosen at
//! random, takes its next step, so transactions overlap in real time. Transactions are
//! generated as Elle's `wr-txns` does: 1 to `max_txn_len` micro-ops, each a read or a write
//! (an append, for list-append) of a key drawn from a small pool of active keys, skewed
//! exponentially towards the newest; a key is retired once it has been written
//! `max_writes_per_key` times, and every value written to a key is unique.
//!
//! The stores:
//! - [`Isolation::StrictSerializable`]: each transaction runs atomically at one instant
//!   between its invocation and completion. Every history must check valid.
//! - [`Isolation::SnapshotIsolation`]: reads from a snapshot taken at the first step, writes
//!   buffered, first committer wins (a loser fails). Allows write skew (G2-item), never G1.
//! - [`Isolation::ReadCommitted`]: each read sees the latest committed state (plus the
//!   transaction's own writes); a write takes the key's lock until commit, and a transaction
//!   that finds the lock taken aborts (no-wait locking). Allows read skew (G-single),
//!   non-repeatable reads and lost updates, never G1.
//! - [`Isolation::AbortedReads`]: strictly serializable, but reports some committed
//!   transactions as failed, so readers of their writes show G1a.
//! - [`Isolation::StaleReads`]: transactions run atomically; read-only ones are served by
//!   an asynchronous replica that is `stale_lag` commits behind, the rest by the leader.
//!   Serializable, not strictly: real-time anomalies such as G-single-realtime.

use faultline_core::{History, HistoryBuilder, Op, OpType, Value};
use rustc_hash::FxHashMap;

use super::txns::Workload;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    StrictSerializable,
    SnapshotIsolation,
    ReadCommitted,
    AbortedReads,
    StaleReads,
}

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Sim {
    pub workload: Workload,
    pub isolation: Isolation,
    pub txns: usize,
    pub concurrency: usize,
    /// Keys in the active pool at any time.
    pub active_keys: usize,
    pub max_txn_len: usize,
    pub max_writes_per_key: usize,
    /// Fraction of transactions whose client times out (completes `info`); half of those
    /// took effect.
    pub info_rate: f64,
    /// For [`Isolation::AbortedReads`]: fraction of committed transactions reported `fail`.
    pub fail_rate: f64,
    /// For [`Isolation::StaleReads`]: how many commits behind reads are.
    pub stale_lag: u64,
    pub seed: u64,
}

impl Default for Sim {
    fn default() -> Self {
        Sim {
            workload: Workload::ListAppend,
            isolation: Isolation::StrictSerializable,
            txns: 1000,
            concurrency: 10,
            active_keys: 10,
            max_txn_len: 4,
            max_writes_per_key: 32,
            info_rate: 0.0,
            fail_rate: 0.1,
            stale_lag: 20,
            seed: 0,
        }
    }
}

/// SplitMix64: small, fast, and good enough to shuffle a simulation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum F {
    Read,
    Write,
}

#[derive(Clone, Copy)]
struct GenMop {
    f: F,
    key: i64,
    value: i64,
}

/// Elle's `wr-txns`: a pool of active keys, retired after enough writes.
struct TxnGen {
    pool: Vec<i64>,
    writes: Vec<usize>,
    next_key: i64,
    max_len: usize,
    max_writes: usize,
}

impl TxnGen {
    fn new(sim: &Sim) -> TxnGen {
        let n = sim.active_keys.max(1);
        TxnGen {
            pool: (0..n as i64).collect(),
            writes: vec![0; n],
            next_key: n as i64,
            max_len: sim.max_txn_len.max(1),
            max_writes: sim.max_writes_per_key.max(1),
        }
    }

    fn key_slot(&self, rng: &mut Rng) -> usize {
        // Slot i is twice as likely as slot i - 1 (Elle's exponential key distribution).
        let n = self.pool.len().min(60);
        let x = rng.next_u64() % ((1u64 << n) - 1) + 1;
        (63 - x.leading_zeros() as usize).min(n - 1)
    }

    fn txn(&mut self, rng: &mut Rng) -> Vec<GenMop> {
        let len = 1 + rng.below(self.max_len);
        (0..len)
            .map(|_| {
                let slot = self.key_slot(rng);
                let key = self.pool[slot];
                if rng.chance(0.5) {
                    GenMop {
                        f: F::Read,
                        key,
                        value: 0,
                    }
                } else {
                    self.writes[slot] += 1;
                    let value = self.writes[slot] as i64;
                    if self.writes[slot] >= self.max_writes {
                        self.pool[slot] = self.next_key;
                        self.writes[slot] = 0;
                        self.next_key += 1;
                    }
                    GenMop {
                        f: F::Write,
                        key,
                        value,
                    }
                }
            })
            .collect()
    }
}

/// Committed state: per key, its versions (commit time, value), or just the latest.
struct Store {
    ts: u64,
    keep_versions: bool,
    lists: FxHashMap<i64, Vec<(u64, Vec<i64>)>>,
    regs: FxHashMap<i64, Vec<(u64, Option<i64>)>>,
}

impl Store {
    fn list(&self, key: i64, at: Option<u64>) -> &[i64] {
        let versions = self.lists.get(&key).map_or(&[][..], |v| &v[..]);
        let v = match at {
            Some(ts) => versions.iter().rev().find(|(t, _)| *t <= ts),
            None => versions.last(),
        };
        v.map_or(&[][..], |(_, l)| &l[..])
    }

    fn reg(&self, key: i64, at: Option<u64>) -> Option<i64> {
        let versions = self.regs.get(&key).map_or(&[][..], |v| &v[..]);
        let v = match at {
            Some(ts) => versions.iter().rev().find(|(t, _)| *t <= ts),
            None => versions.last(),
        };
        v.and_then(|(_, x)| *x)
    }

    fn last_commit(&self, key: i64) -> u64 {
        let l = self.lists.get(&key).and_then(|v| v.last()).map(|v| v.0);
        let r = self.regs.get(&key).and_then(|v| v.last()).map(|v| v.0);
        l.or(r).unwrap_or(0)
    }

    fn commit(&mut self, workload: Workload, writes: &[GenMop]) {
        self.ts += 1;
        let ts = self.ts;
        for w in writes {
            match workload {
                Workload::ListAppend => {
                    let mut list = self.list(w.key, None).to_vec();
                    list.push(w.value);
                    let versions = self.lists.entry(w.key).or_default();
                    if !self.keep_versions {
                        versions.clear();
                    }
                    versions.push((ts, list));
                }
                Workload::RwRegister => {
                    let versions = self.regs.entry(w.key).or_default();
                    if !self.keep_versions {
                        versions.clear();
                    }
                    versions.push((ts, Some(w.value)));
                }
            }
        }
    }
}

/// A transaction in flight.
struct Running {
    process: u64,
    mops: Vec<GenMop>,
    /// Micro-ops executed so far (for stores that run them one step at a time).
    pc: usize,
    started: bool,
    snapshot: Option<u64>,
    reads: Vec<Value>,
    buffer: Vec<GenMop>,
    /// The client will time out; `applied` says whether the store committed anyway.
    info: bool,
    applied: bool,
    /// Committed, but to be reported as failed.
    lie_fail: bool,
    aborted: bool,
    done: bool,
}

fn mop_value(workload: Workload, m: &GenMop, read: Option<Value>) -> Value {
    let (f, v) = match (workload, m.f) {
        (Workload::ListAppend, F::Write) => ("append", Value::Int(m.value)),
        (Workload::RwRegister, F::Write) => ("w", Value::Int(m.value)),
        (_, F::Read) => ("r", read.unwrap_or(Value::Nil)),
    };
    Value::List(vec![Value::from(f), Value::Int(m.key), v])
}

impl Running {
    /// Executes micro-op `pc`: a read sees the store's state (at the snapshot, if any) plus
    /// this transaction's own earlier writes; a write is buffered.
    fn exec(&mut self, store: &Store, workload: Workload) {
        let m = self.mops[self.pc];
        self.pc += 1;
        match m.f {
            F::Write => self.buffer.push(m),
            F::Read => {
                let own = self.buffer.iter().filter(|w| w.key == m.key);
                let v = match workload {
                    Workload::ListAppend => {
                        let mut l: Vec<Value> = store
                            .list(m.key, self.snapshot)
                            .iter()
                            .map(|&x| Value::Int(x))
                            .collect();
                        l.extend(own.map(|w| Value::Int(w.value)));
                        Value::List(l)
                    }
                    Workload::RwRegister => match self.buffer.iter().rev().find(|w| w.key == m.key)
                    {
                        Some(w) => Value::Int(w.value),
                        None => store
                            .reg(m.key, self.snapshot)
                            .map_or(Value::Nil, Value::Int),
                    },
                };
                self.reads.push(v);
            }
        }
    }

    fn value(&self, workload: Workload, with_reads: bool) -> Value {
        let mut reads = self.reads.iter();
        Value::List(
            self.mops
                .iter()
                .map(|m| {
                    let r = if m.f == F::Read && with_reads {
                        reads.next().cloned()
                    } else {
                        None
                    };
                    mop_value(workload, m, r)
                })
                .collect(),
        )
    }
}

/// Runs the simulation and returns its history.
pub fn generate(sim: &Sim) -> History {
    let mut rng = Rng::new(sim.seed);
    let mut gen = TxnGen::new(sim);
    let mut store = Store {
        ts: 0,
        keep_versions: matches!(
            sim.isolation,
            Isolation::SnapshotIsolation | Isolation::StaleReads
        ),
        lists: FxHashMap::default(),
        regs: FxHashMap::default(),
    };
    // Key -> the slot whose transaction holds its write lock (read committed only).
    let mut locks: FxHashMap<i64, usize> = FxHashMap::default();
    let concurrency = sim.concurrency.max(1);
    let mut slots: Vec<Option<Running>> = (0..concurrency).map(|_| None).collect();
    let mut process: Vec<u64> = (0..concurrency as u64).collect();
    let mut next_process = concurrency as u64;
    let mut b = HistoryBuilder::new();
    let mut tick: u64 = 0;
    let mut started = 0usize;
    let mut active = 0usize;
    let push = |b: &mut HistoryBuilder, mut op: Op, tick: u64| {
        op.index = b.len() as u64;
        op.time = tick * 1_000;
        // The simulation pairs every completion with its invocation.
        let _ = b.push(op);
    };
    while started < sim.txns || active > 0 {
        tick += 1;
        let s = rng.below(concurrency);
        let Some(run) = slots[s].as_mut() else {
            if started < sim.txns {
                let mops = gen.txn(&mut rng);
                let info = rng.chance(sim.info_rate);
                let applied = !info || rng.chance(0.5);
                let lie_fail =
                    sim.isolation == Isolation::AbortedReads && !info && rng.chance(sim.fail_rate);
                let run = Running {
                    process: process[s],
                    mops,
                    pc: 0,
                    started: false,
                    snapshot: None,
                    reads: Vec::new(),
                    buffer: Vec::new(),
                    info,
                    applied,
                    lie_fail,
                    aborted: false,
                    done: false,
                };
                let inv = Op::invoke(run.process, "txn", run.value(sim.workload, false));
                push(&mut b, inv, tick);
                slots[s] = Some(run);
                started += 1;
                active += 1;
            }
            continue;
        };
        let workload = sim.workload;
        if !run.done {
            match sim.isolation {
                Isolation::StrictSerializable | Isolation::AbortedReads | Isolation::StaleReads => {
                    if sim.isolation == Isolation::StaleReads
                        && run.mops.iter().all(|m| m.f == F::Read)
                    {
                        run.snapshot = Some(store.ts.saturating_sub(sim.stale_lag));
                    }
                    while run.pc < run.mops.len() {
                        run.exec(&store, workload);
                    }
                    if run.applied {
                        store.commit(workload, &run.buffer);
                    }
                    run.done = true;
                }
                Isolation::SnapshotIsolation | Isolation::ReadCommitted => {
                    if !run.started {
                        run.started = true;
                        if sim.isolation == Isolation::SnapshotIsolation {
                            run.snapshot = Some(store.ts);
                        }
                    } else if run.pc < run.mops.len() {
                        let m = run.mops[run.pc];
                        let locking = sim.isolation == Isolation::ReadCommitted && m.f == F::Write;
                        if locking && locks.get(&m.key).is_some_and(|&o| o != s) {
                            run.aborted = true;
                            run.done = true;
                            locks.retain(|_, o| *o != s);
                        } else {
                            if locking {
                                locks.insert(m.key, s);
                            }
                            run.exec(&store, workload);
                        }
                    } else {
                        let conflict = run.snapshot.is_some_and(|snap| {
                            run.buffer.iter().any(|w| store.last_commit(w.key) > snap)
                        });
                        if conflict {
                            run.aborted = true;
                        } else if run.applied {
                            store.commit(workload, &run.buffer);
                        }
                        locks.retain(|_, o| *o != s);
                        run.done = true;
                    }
                }
            }
            if !run.done {
                continue;
            }
            // Completion follows on a later tick, except for the step-wise stores, whose
            // commit is their last step.
            if matches!(
                sim.isolation,
                Isolation::StrictSerializable | Isolation::AbortedReads | Isolation::StaleReads
            ) {
                continue;
            }
        }
        let (kind, value) = if run.info {
            (OpType::Info, run.value(workload, false))
        } else if run.aborted || run.lie_fail {
            (OpType::Fail, run.value(workload, false))
        } else {
            (OpType::Ok, run.value(workload, true))
        };
        let done = Op::invoke(run.process, "txn", Value::Nil).complete(kind, value);
        push(&mut b, done, tick);
        if kind == OpType::Info {
            // Jepsen retires a process whose op is indeterminate.
            process[s] = next_process;
            next_process += 1;
        }
        slots[s] = None;
        active -= 1;
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let sim = Sim {
            txns: 50,
            seed: 7,
            info_rate: 0.1,
            ..Sim::default()
        };
        let a = generate(&sim);
        let b = generate(&sim);
        assert_eq!(a.ops(), b.ops());
        assert_eq!(a.client_pairs().count(), 50);
        assert!(a.client_pairs().all(|(_, c)| c.is_some()));
    }

    #[test]
    fn keys_retire_after_their_writes() {
        let sim = Sim {
            txns: 400,
            active_keys: 2,
            max_writes_per_key: 3,
            ..Sim::default()
        };
        let h = generate(&sim);
        let keys: std::collections::BTreeSet<String> = h
            .ops()
            .iter()
            .flat_map(|op| op.value.as_list().unwrap_or(&[]).to_vec())
            .filter_map(|m| m.as_list().map(|m| m[1].to_string()))
            .collect();
        assert!(keys.len() > 20, "{}", keys.len());
    }

    #[test]
    fn snapshot_isolation_aborts_conflicting_writers() {
        let sim = Sim {
            txns: 300,
            isolation: Isolation::SnapshotIsolation,
            active_keys: 2,
            ..Sim::default()
        };
        let h = generate(&sim);
        assert!(h.ops().iter().any(|op| op.kind == OpType::Fail));
    }
}
