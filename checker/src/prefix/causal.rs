//! Causal prefix on register histories, with vector clocks over process order and
//! reads-from (see the module above).

use std::collections::VecDeque;

use faultline_core::Value;
use rustc_hash::FxHashMap;
use serde_json::json;

use super::{Found, Prepared};
use crate::operation::{key_name, secs, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Budget, Exhausted};

/// Vector-clock memory allowed when the budget sets none.
const CLOCK_CEILING: u64 = 2 << 30;

pub(super) struct Causal {
    /// Reads checked against a write in their causal past.
    pub checked: u64,
    pub stats: Vec<(&'static str, serde_json::Value)>,
}

/// The causal graph: ops with effects, each with its process predecessor and the writers it
/// read from.
struct Dag<'p, 'h> {
    p: &'p Prepared<'h>,
    writes: Unique<'h>,
    /// Dense process id and 1-based position in its process, per op (nodes only).
    proc: Vec<u32>,
    seq: Vec<u32>,
    proc_pred: Vec<Option<usize>>,
    reads_from: Vec<Vec<usize>>,
    is_node: Vec<bool>,
}

impl<'p, 'h> Dag<'p, 'h> {
    fn new(p: &'p Prepared<'h>) -> (Dag<'p, 'h>, usize) {
        let n = p.ops.len();
        let writes = Unique::new(&p.mops, MopKind::Write);
        let mut dag = Dag {
            p,
            writes,
            proc: vec![0; n],
            seq: vec![0; n],
            proc_pred: vec![None; n],
            reads_from: vec![Vec::new(); n],
            is_node: vec![false; n],
        };
        let mut procs: FxHashMap<u64, (u32, u32, Option<usize>)> = FxHashMap::default();
        for (i, op) in p.ops.iter().enumerate() {
            if op.is_fail() || p.mops[i].is_empty() {
                continue;
            }
            dag.is_node[i] = true;
            let next = procs.len() as u32;
            let e = procs.entry(op.process()).or_insert((next, 0, None));
            e.1 += 1;
            dag.proc[i] = e.0;
            dag.seq[i] = e.1;
            dag.proc_pred[i] = e.2;
            e.2 = Some(i);
            for m in p.mops[i].iter().filter(|m| m.kind == MopKind::Read) {
                if let Lookup::One(w) = dag.writes.get(m.key, m.value) {
                    let wop = dag.writes.op(w);
                    if wop != i && !dag.reads_from[i].contains(&wop) {
                        dag.reads_from[i].push(wop);
                    }
                }
            }
        }
        (dag, procs.len())
    }

    fn preds(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.proc_pred[i]
            .into_iter()
            .chain(self.reads_from[i].iter().copied())
    }

    /// "process 2 read y = 2 and wrote 3 to z at 0.005 s".
    fn describe(&self, i: usize) -> String {
        let op = &self.p.ops[i];
        let parts: Vec<String> = self.p.mops[i]
            .iter()
            .take(4)
            .map(|m| match m.kind {
                MopKind::Read => format!("read {} = {}", key_name(m.key), m.value),
                _ => format!("wrote {} to {}", m.value, key_name(m.key)),
            })
            .collect();
        let more = if self.p.mops[i].len() > 4 {
            " and more"
        } else {
            ""
        };
        format!(
            "{} {}{more} at {}",
            op.who(),
            parts.join(" and "),
            secs(op.invoke_time())
        )
    }

    /// The shortest chain of causal steps from `from` to `to`, compressed to the ops where
    /// the chain changes process, in order.
    fn chain(&self, from: usize, to: usize) -> Vec<usize> {
        let mut parent: FxHashMap<usize, usize> = FxHashMap::default();
        let mut queue = VecDeque::from([to]);
        while let Some(v) = queue.pop_front() {
            if v == from {
                break;
            }
            for u in self.preds(v) {
                if u != to && !parent.contains_key(&u) {
                    parent.insert(u, v);
                    queue.push_back(u);
                }
            }
        }
        let mut path = vec![from];
        let mut at = from;
        while at != to {
            match parent.get(&at) {
                Some(&n) => {
                    path.push(n);
                    at = n;
                }
                None => return vec![from, to],
            }
        }
        let keep = |j: usize| {
            j == 0
                || j == path.len() - 1
                || self.proc[path[j - 1]] != self.proc[path[j]]
                || self.proc[path[j + 1]] != self.proc[path[j]]
        };
        (0..path.len())
            .filter(|&j| keep(j))
            .map(|j| path[j])
            .collect()
    }

    /// "process 1 wrote 1 to x at ...; then process 1 wrote 2 to y at ...; process 2 read ..."
    fn narrate(&self, chain: &[usize]) -> String {
        let mut out = String::new();
        for (j, &n) in chain.iter().enumerate() {
            if j > 0 {
                out.push_str(if self.proc[chain[j - 1]] == self.proc[n] {
                    "; then "
                } else {
                    "; "
                });
            }
            out.push_str(&self.describe(n));
        }
        out
    }
}

pub(super) fn check(
    p: &Prepared<'_>,
    found: &mut Found,
    pace: &mut Pace<'_>,
    budget: &Budget,
) -> Result<Causal, Exhausted> {
    let (dag, nprocs) = Dag::new(p);
    let n = p.ops.len();
    let writers =
        (0..n).filter(|&i| dag.is_node[i] && p.mops[i].iter().any(|m| m.kind == MopKind::Write));
    // Dense clocks: one u32 per process for every write. Jepsen retires a process at every
    // info, so a long faulty run can have thousands; past a ceiling, say so rather than
    // exhaust the machine.
    let bytes = ((writers.count() + nprocs) * nprocs * 4) as u64;
    budget.check_memory(bytes)?;
    if budget.max_memory.is_none() && bytes > CLOCK_CEILING {
        return Err(Exhausted::Memory(CLOCK_CEILING));
    }

    // Per (process, key): (position in process, write) in process order.
    let mut by_proc_key: FxHashMap<(u32, &Value), Vec<(u32, u32)>> = FxHashMap::default();
    for (w, &(op, key, _)) in dag.writes.all.iter().enumerate() {
        by_proc_key
            .entry((dag.proc[op], key))
            .or_default()
            .push((dag.seq[op], w as u32));
    }

    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indeg = vec![0u32; n];
    for i in (0..n).filter(|&i| dag.is_node[i]) {
        for u in dag.preds(i) {
            succs[u].push(i);
            indeg[i] += 1;
        }
    }
    let mut queue: VecDeque<usize> = (0..n)
        .filter(|&i| dag.is_node[i] && indeg[i] == 0)
        .collect();
    let mut proc_vc: Vec<Vec<u32>> = vec![vec![0; nprocs]; nprocs];
    let mut write_vc: FxHashMap<usize, Vec<u32>> = FxHashMap::default();
    let (mut done, mut checked) = (0usize, 0u64);
    while let Some(r) = queue.pop_front() {
        pace.tick()?;
        done += 1;
        let me = dag.proc[r] as usize;
        let mut past = proc_vc[me].clone();
        for w in &dag.reads_from[r] {
            if let Some(vc) = write_vc.get(w) {
                for (a, b) in past.iter_mut().zip(vc) {
                    *a = (*a).max(*b);
                }
            }
        }
        if p.ops[r].is_ok() {
            for m in p.mops[r].iter().filter(|m| m.kind == MopKind::Read) {
                let seen = match dag.writes.get(m.key, m.value) {
                    Lookup::One(u) => Some(u),
                    Lookup::None if m.value.is_nil() => None,
                    _ => continue,
                };
                let mut candidate = false;
                for (q, &upto) in past.iter().enumerate() {
                    if upto == 0 || q == me {
                        continue;
                    }
                    let Some(log) = by_proc_key.get(&(q as u32, m.key)) else {
                        continue;
                    };
                    let Some(&(_, a)) = log[..log.partition_point(|x| x.0 <= upto)].last() else {
                        continue;
                    };
                    let aop = dag.writes.op(a);
                    if aop == r {
                        continue;
                    }
                    candidate = true;
                    let older = match seen {
                        None => true,
                        Some(u) => {
                            let uop = dag.writes.op(u);
                            uop != aop
                                && write_vc
                                    .get(&aop)
                                    .is_some_and(|vc| vc[dag.proc[uop] as usize] >= dag.seq[uop])
                        }
                    };
                    if older {
                        found.add("causal-prefix", || {
                            let chain = dag.chain(aop, r);
                            let story = dag.narrate(&chain[..chain.len() - 1]);
                            let why = match seen {
                                None => format!("nil is {}'s initial value", key_name(m.key)),
                                Some(_) => format!(
                                    "the write of {} causally precedes the write of {}",
                                    m.value,
                                    dag.writes.value(a)
                                ),
                            };
                            Anomaly::new(
                                "causal-prefix",
                                chain.iter().map(|&c| p.ops[c].cite()).collect(),
                                format!(
                                    "{story}; then {} read {} at {} and saw {}, older than the \
                                     write of {} that causally precedes this read ({why}).",
                                    p.ops[r].who(),
                                    key_name(m.key),
                                    secs(p.ops[r].invoke_time()),
                                    m.value,
                                    dag.writes.value(a),
                                ),
                            )
                            .with_key(m.key.clone())
                        });
                        break;
                    }
                }
                checked += candidate as u64;
            }
        }
        past[me] = dag.seq[r];
        if p.mops[r].iter().any(|m| m.kind == MopKind::Write) {
            write_vc.insert(r, past.clone());
        }
        proc_vc[me] = past;
        for &s in &succs[r] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                queue.push_back(s);
            }
        }
    }

    let nodes = dag.is_node.iter().filter(|&&b| b).count();
    if done < nodes {
        // Every op left over waits on another left-over op: walk back to a repeat.
        let left = |i: usize| dag.is_node[i] && indeg[i] > 0;
        if let Some(start) = (0..n).find(|&i| left(i)) {
            let mut path = vec![start];
            let mut at = start;
            loop {
                let Some(u) = dag.preds(at).find(|&u| left(u)) else {
                    break;
                };
                if let Some(pos) = path.iter().position(|&x| x == u) {
                    let mut cycle: Vec<usize> = path[pos..].to_vec();
                    cycle.reverse();
                    found.add("causal-cycle", || {
                        Anomaly::new(
                            "causal-cycle",
                            cycle.iter().map(|&c| p.ops[c].cite()).collect(),
                            format!(
                                "{}; each step depends on the one before (process order or a read \
                                 of its write), and the last on the first, so no causal order \
                                 explains them.",
                                dag.narrate(&cycle)
                            ),
                        )
                    });
                    break;
                }
                path.push(u);
                at = u;
            }
        }
    }
    Ok(Causal {
        checked,
        stats: vec![
            ("causal_ops", json!(done)),
            ("causal_reads_checked", json!(checked)),
            ("causal_ops_in_cycles", json!(nodes - done)),
            ("processes", json!(nprocs)),
        ],
    })
}
