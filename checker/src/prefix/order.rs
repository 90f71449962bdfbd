//! Register keys: the orders in which processes observed a key's values must fit one order
//! of its writes. Each process that read `a` and later `b` (b ≠ a) says `a` precedes `b`;
//! the initial `nil` precedes every write. A cycle in these orders is an
//! `inconsistent-order` anomaly.

use faultline_core::Value;
use rustc_hash::FxHashMap;

use super::{Found, Prepared};
use crate::operation::{key_name, secs, MopKind, Pace};
use crate::unique::{Lookup, Unique};
use crate::{Anomaly, Exhausted};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Ver {
    Init,
    W(u32),
}

#[derive(Clone, Copy)]
enum Why {
    /// A process read the source's value (op `.0`) and later the target's (op `.1`).
    Observed(usize, usize),
    /// The initial value precedes every write.
    Initial,
}

/// A directed graph with labelled edges.
pub(crate) struct Graph<E> {
    pub adj: Vec<Vec<(u32, u32)>>,
    pub edges: Vec<(u32, u32, E)>,
    index: FxHashMap<(u32, u32), u32>,
}

impl<E> Graph<E> {
    pub fn new() -> Graph<E> {
        Graph {
            adj: Vec::new(),
            edges: Vec::new(),
            index: FxHashMap::default(),
        }
    }

    pub fn node(&mut self) -> u32 {
        self.adj.push(Vec::new());
        self.adj.len() as u32 - 1
    }

    /// Adds an edge unless one already joins the two nodes.
    pub fn edge(&mut self, from: u32, to: u32, label: E) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.index.entry((from, to)) {
            let id = self.edges.len() as u32;
            e.insert(id);
            self.edges.push((from, to, label));
            self.adj[from as usize].push((to, id));
        }
    }

    /// Strongly connected components with more than one node (Tarjan, iteratively).
    pub fn cyclic_components(&self) -> Vec<Vec<u32>> {
        const NONE: u32 = u32::MAX;
        struct T {
            index: Vec<u32>,
            low: Vec<u32>,
            on: Vec<bool>,
            stack: Vec<u32>,
            calls: Vec<(u32, usize)>,
            next: u32,
        }
        impl T {
            fn visit(&mut self, v: u32) {
                let i = v as usize;
                (self.index[i], self.low[i], self.on[i]) = (self.next, self.next, true);
                self.next += 1;
                self.stack.push(v);
                self.calls.push((v, 0));
            }
        }
        let n = self.adj.len();
        let mut t = T {
            index: vec![NONE; n],
            low: vec![0; n],
            on: vec![false; n],
            stack: Vec::new(),
            calls: Vec::new(),
            next: 0,
        };
        let mut out = Vec::new();
        for s in 0..n as u32 {
            if t.index[s as usize] != NONE {
                continue;
            }
            t.visit(s);
            while let Some(&(v, i)) = t.calls.last() {
                let vi = v as usize;
                if let Some(&(w, _)) = self.adj[vi].get(i) {
                    if let Some(top) = t.calls.last_mut() {
                        top.1 += 1;
                    }
                    let wi = w as usize;
                    if t.index[wi] == NONE {
                        t.visit(w);
                    } else if t.on[wi] {
                        t.low[vi] = t.low[vi].min(t.index[wi]);
                    }
                    continue;
                }
                t.calls.pop();
                if let Some(&(u, _)) = t.calls.last() {
                    t.low[u as usize] = t.low[u as usize].min(t.low[vi]);
                }
                if t.low[vi] == t.index[vi] {
                    let mut comp = Vec::new();
                    while let Some(w) = t.stack.pop() {
                        t.on[w as usize] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        comp.reverse();
                        out.push(comp);
                    }
                }
            }
        }
        out
    }

    /// A shortest cycle through the first node of a strongly connected component, as edge
    /// ids in order.
    pub fn cycle_in(&self, comp: &[u32]) -> Vec<u32> {
        let inside: rustc_hash::FxHashSet<u32> = comp.iter().copied().collect();
        let start = comp[0];
        let mut via: FxHashMap<u32, u32> = FxHashMap::default();
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(v) = queue.pop_front() {
            for &(w, e) in &self.adj[v as usize] {
                if !inside.contains(&w) || via.contains_key(&w) {
                    continue;
                }
                via.insert(w, e);
                if w == start {
                    let mut path = vec![e];
                    let mut at = self.edges[e as usize].0;
                    while at != start {
                        let e = via[&at];
                        path.push(e);
                        at = self.edges[e as usize].0;
                    }
                    path.reverse();
                    return path;
                }
                queue.push_back(w);
            }
        }
        Vec::new()
    }
}

/// Builds the observation orders of every register key and reports their cycles; returns
/// the number of keys read.
pub(super) fn check(
    p: &Prepared<'_>,
    found: &mut Found,
    pace: &mut Pace<'_>,
) -> Result<usize, Exhausted> {
    let writes = Unique::new(&p.mops, MopKind::Write);
    let mut graph: Graph<Why> = Graph::new();
    let mut nodes: FxHashMap<(&Value, Ver), u32> = FxHashMap::default();
    let mut last: FxHashMap<(u64, &Value), (u32, usize)> = FxHashMap::default();
    let mut keys: FxHashMap<&Value, ()> = FxHashMap::default();
    // Each process's ops in program order are its ops in invocation order.
    for (r, op) in p.ops.iter().enumerate() {
        if !op.is_ok() {
            continue;
        }
        for m in p.mops[r].iter().filter(|m| m.kind == MopKind::Read) {
            pace.tick()?;
            keys.insert(m.key, ());
            let ver = match writes.get(m.key, m.value) {
                Lookup::One(w) => Ver::W(w),
                Lookup::None if m.value.is_nil() => Ver::Init,
                _ => continue,
            };
            let n = *nodes.entry((m.key, ver)).or_insert_with(|| graph.node());
            if let Some(&(prev, r1)) = last.get(&(op.process(), m.key)) {
                if prev != n {
                    graph.edge(prev, n, Why::Observed(r1, r));
                }
            }
            last.insert((op.process(), m.key), (n, r));
        }
    }
    // nil precedes every write of a key whose nil was observed.
    let initial: Vec<(u32, u32)> = nodes
        .iter()
        .filter(|((_, v), _)| *v != Ver::Init)
        .filter_map(|((k, _), &n)| nodes.get(&(*k, Ver::Init)).map(|&i| (i, n)))
        .collect();
    for (init, n) in initial {
        graph.edge(init, n, Why::Initial);
    }
    pace.check()?;

    let mut value_of: Vec<String> = vec![String::new(); graph.adj.len()];
    let mut key_of: Vec<&Value> = vec![&crate::operation::NIL; graph.adj.len()];
    for (&(k, v), &n) in &nodes {
        value_of[n as usize] = match v {
            Ver::Init => "nil".to_string(),
            Ver::W(w) => writes.value(w).to_string(),
        };
        key_of[n as usize] = k;
    }
    for comp in graph.cyclic_components() {
        pace.tick()?;
        let cycle = graph.cycle_in(&comp);
        let key = key_of[comp[0] as usize];
        found.add("inconsistent-order", || {
            let mut ops: Vec<u64> = Vec::new();
            let steps: Vec<String> = cycle
                .iter()
                .map(|&e| {
                    let (a, b, why) = graph.edges[e as usize];
                    let (va, vb) = (&value_of[a as usize], &value_of[b as usize]);
                    match why {
                        Why::Observed(r1, r2) => {
                            for c in [p.ops[r1].cite(), p.ops[r2].cite()] {
                                if !ops.contains(&c) {
                                    ops.push(c);
                                }
                            }
                            format!(
                                "{} read {} = {va} at {}, then {vb} at {}",
                                p.ops[r2].who(),
                                key_name(key),
                                secs(p.ops[r1].invoke_time()),
                                secs(p.ops[r2].invoke_time())
                            )
                        }
                        Why::Initial => {
                            format!("nil, the initial value, precedes the write of {vb}")
                        }
                    }
                })
                .collect();
            let first = &value_of[graph.edges[cycle[0] as usize].0 as usize];
            Anomaly::new(
                "inconsistent-order",
                ops,
                format!(
                    "{}; no single order of {}'s writes fits these observations, since together \
                     they put {first} before itself.",
                    steps.join("; "),
                    key_name(key)
                ),
            )
            .with_key(key.clone())
        });
    }
    Ok(keys.len())
}
