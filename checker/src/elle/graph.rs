//! The transaction dependency graph: vertices are transactions, an edge `a -> b` carries
//! the set of reasons `a` must precede `b` (Adya's direct dependencies ww, wr and rw, plus
//! process order and real-time order), stored as bits in a petgraph [`Csr`].
//!
//! Real-time edges follow Elle's `realtime-graph`: instead of every pair (a completes before
//! b is invoked), which is quadratic, each invocation gets an edge from every completion not
//! already covered by a later completion that itself follows it: a transitive reduction
//! with the same cycles. Strongly connected components are found with Tarjan's algorithm,
//! iteratively, since dependency chains in a million-transaction history are deeper than any
//! thread's stack.

use std::collections::VecDeque;

use faultline_core::{History, OpType, Process};
use petgraph::csr::Csr;

use super::txns::{Outcome, TxnId, Txns};

/// Edge kinds, as bits so one edge can carry several.
pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;
pub const DATA: u8 = WW | WR | RW;
pub const ALL: u8 = DATA | PROCESS | REALTIME;

/// The name of a single edge kind bit, as `CycleStep::edge` spells it.
pub fn kind_name(bit: u8) -> &'static str {
    match bit {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        REALTIME => "realtime",
        _ => "?",
    }
}

/// Edges gathered before the graph is frozen: (from, to, kinds).
#[derive(Default)]
pub struct EdgeList {
    edges: Vec<(u32, u32, u8)>,
}

impl EdgeList {
    pub fn add(&mut self, from: TxnId, to: TxnId, kind: u8) {
        // A transaction never depends on itself.
        if from != to {
            self.edges.push((from, to, kind));
        }
    }

    pub fn len(&self) -> usize {
        self.edges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.edges.is_empty()
    }

    pub fn bytes(&self) -> u64 {
        (self.edges.capacity() * 12) as u64
    }
}

/// A frozen dependency graph over `n` vertices.
pub struct DepGraph {
    csr: Csr<(), u8>,
    n: usize,
}

impl DepGraph {
    /// Sorts, merges parallel edges' kinds, and freezes.
    pub fn new(n: usize, list: EdgeList) -> DepGraph {
        let mut edges = list.edges;
        edges.sort_unstable_by_key(|&(a, b, _)| ((a as u64) << 32) | b as u64);
        let mut merged: Vec<(u32, u32, u8)> = Vec::with_capacity(edges.len());
        for (a, b, k) in edges {
            match merged.last_mut() {
                Some(last) if last.0 == a && last.1 == b => last.2 |= k,
                _ => merged.push((a, b, k)),
            }
        }
        let mut csr: Csr<(), u8> = match Csr::from_sorted_edges(&merged) {
            Ok(csr) => csr,
            // Unreachable: `merged` is sorted and unique by construction.
            Err(_) => Csr::with_nodes(n),
        };
        while csr.node_count() < n {
            csr.add_node(());
        }
        DepGraph { csr, n }
    }

    pub fn node_count(&self) -> usize {
        self.n
    }

    pub fn edge_count(&self) -> usize {
        self.csr.edge_count()
    }

    /// Out-neighbours of `v` and the kinds of each edge.
    pub fn out(&self, v: u32) -> (&[u32], &[u8]) {
        (self.csr.neighbors_slice(v), self.csr.edges_slice(v))
    }

    /// The kinds of the edge `a -> b`, or 0.
    pub fn kinds(&self, a: u32, b: u32) -> u8 {
        let (to, kinds) = self.out(a);
        match to.binary_search(&b) {
            Ok(i) => kinds[i],
            Err(_) => 0,
        }
    }

    /// Edges per kind, for stats.
    pub fn count_kinds(&self) -> [(u8, usize); 5] {
        let mut counts = [(WW, 0), (WR, 0), (RW, 0), (PROCESS, 0), (REALTIME, 0)];
        for v in 0..self.n as u32 {
            for &k in self.out(v).1 {
                for c in counts.iter_mut() {
                    if k & c.0 != 0 {
                        c.1 += 1;
                    }
                }
            }
        }
        counts
    }

    pub fn bytes(&self) -> u64 {
        (self.csr.edge_count() * 5 + self.n * 8) as u64
    }

    /// The subgraph induced by `vertices`, renumbered 0.. in the order given, keeping only
    /// edges whose kinds meet `mask` (and only those kinds).
    pub fn induced(&self, vertices: &[u32], mask: u8) -> DepGraph {
        let mut local = rustc_hash::FxHashMap::default();
        for (i, &v) in vertices.iter().enumerate() {
            local.insert(v, i as u32);
        }
        let mut list = EdgeList::default();
        for (i, &v) in vertices.iter().enumerate() {
            let (to, kinds) = self.out(v);
            for (w, &k) in to.iter().zip(kinds) {
                if k & mask != 0 {
                    if let Some(&j) = local.get(w) {
                        list.add(i as u32, j, k & mask);
                    }
                }
            }
        }
        DepGraph::new(vertices.len(), list)
    }
}

/// Process order: each committed transaction precedes its process's next committed one
/// (Elle's `process-graph`: ok transactions only; a process is single-threaded).
pub fn process_edges(txns: &Txns, edges: &mut EdgeList) {
    let mut last: rustc_hash::FxHashMap<u64, TxnId> = Default::default();
    for (i, t) in txns.txns.iter().enumerate() {
        if t.outcome != Outcome::Ok {
            continue;
        }
        if let Some(prev) = last.insert(t.process, i as TxnId) {
            edges.add(prev, i as TxnId, PROCESS);
        }
    }
}

/// Real-time order, transitively reduced: `a -> b` when `a` completed ok before `b` was
/// invoked and no completion between them already follows `a`.
pub fn realtime_edges(history: &History, txns: &Txns, edges: &mut EdgeList) {
    // History position -> transaction, for invocations and completions of txn ops.
    const NONE: TxnId = TxnId::MAX;
    let mut at: Vec<TxnId> = vec![NONE; history.len()];
    for (i, t) in txns.txns.iter().enumerate() {
        at[t.invoke as usize] = i as TxnId;
        if let Some(c) = t.complete {
            at[c as usize] = i as TxnId;
        }
    }
    // Completions not yet covered, each with the sequence number it was added under; a
    // transaction invoked at sequence s covers everything added before s once it completes.
    let mut frontier: VecDeque<(u64, TxnId)> = VecDeque::new();
    let mut seq: u64 = 0;
    let mut invoked_at: Vec<u64> = vec![0; txns.len()];
    for op in history.ops() {
        if !matches!(op.process, Process::Client(_)) || op.f != "txn" {
            continue;
        }
        let t = at[op.index as usize];
        if t == NONE {
            continue;
        }
        let txn = &txns.txns[t as usize];
        match op.kind {
            OpType::Invoke => {
                invoked_at[t as usize] = seq;
                if txn.possible() {
                    for &(_, a) in &frontier {
                        edges.add(a, t, REALTIME);
                    }
                }
            }
            OpType::Ok => {
                let covered = invoked_at[t as usize];
                while frontier.front().is_some_and(|&(s, _)| s < covered) {
                    frontier.pop_front();
                }
                frontier.push_back((seq, t));
                seq += 1;
            }
            // A failed transaction did not happen; an indeterminate one never completed,
            // so nothing follows it in real time.
            OpType::Fail | OpType::Info => {}
        }
    }
}

/// Strongly connected components of the subgraph of `g` whose edges meet `mask`, each with
/// at least two vertices (there are no self-edges), largest first. Tarjan's algorithm with an
/// explicit stack.
pub fn sccs(g: &DepGraph, mask: u8) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = g.node_count();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    // (vertex, next out-edge position)
    let mut call: Vec<(u32, usize)> = Vec::new();
    let mut next = 0u32;
    let mut out = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        call.push((root, 0));
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut pos)) = call.last_mut() {
            let (to, kinds) = g.out(v);
            let mut descended = false;
            while *pos < to.len() {
                let (w, k) = (to[*pos], kinds[*pos]);
                *pos += 1;
                if k & mask == 0 {
                    continue;
                }
                if index[w as usize] == UNSEEN {
                    index[w as usize] = next;
                    low[w as usize] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w as usize] = true;
                    call.push((w, 0));
                    descended = true;
                    break;
                } else if on_stack[w as usize] {
                    low[v as usize] = low[v as usize].min(index[w as usize]);
                }
            }
            if descended {
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent as usize] = low[parent as usize].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut comp = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    comp.push(w);
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort_unstable();
                    out.push(comp);
                }
            }
        }
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::dsl::{la, Builder};
    use proptest::prelude::*;

    fn graph(n: usize, edges: &[(u32, u32, u8)]) -> DepGraph {
        let mut l = EdgeList::default();
        for &(a, b, k) in edges {
            l.add(a, b, k);
        }
        DepGraph::new(n, l)
    }

    #[test]
    fn parallel_edges_merge_their_kinds() {
        let g = graph(3, &[(0, 1, WW), (0, 1, RW), (1, 2, WR)]);
        assert_eq!(g.kinds(0, 1), WW | RW);
        assert_eq!(g.kinds(1, 0), 0);
        assert_eq!(g.edge_count(), 2);
        assert_eq!(g.node_count(), 3);
    }

    #[test]
    fn sccs_respect_the_mask() {
        let g = graph(4, &[(0, 1, WW), (1, 0, RW), (2, 3, WW), (3, 2, WW)]);
        assert_eq!(sccs(&g, ALL), vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(sccs(&g, WW), vec![vec![2, 3]]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000u32;
        let edges: Vec<_> = (0..n - 1)
            .map(|i| (i, i + 1, WW))
            .chain([(n - 1, 0, RW)])
            .collect();
        let g = graph(n as usize, &edges);
        assert_eq!(sccs(&g, ALL)[0].len(), n as usize);
        assert!(sccs(&g, WW).is_empty());
    }

    #[test]
    fn realtime_edges_are_a_transitive_reduction() {
        // a and b overlap; both finish before c; c before d.
        let mut b = Builder::new();
        b.txn(0, la("ax1"))
            .txn(1, la("ax2"))
            .ok(0, la("ax1"))
            .ok(1, la("ax2"))
            .txn_ok(2, la("ax3"))
            .txn_ok(3, la("ax4"));
        let h = b.build();
        let t = Txns::from_history(&h, super::super::txns::Workload::ListAppend).unwrap();
        let mut l = EdgeList::default();
        realtime_edges(&h, &t, &mut l);
        let g = DepGraph::new(t.len(), l);
        assert_eq!(g.kinds(0, 2), REALTIME);
        assert_eq!(g.kinds(1, 2), REALTIME);
        assert_eq!(g.kinds(2, 3), REALTIME);
        assert_eq!(g.kinds(0, 3), 0, "covered by 2");
        assert_eq!(g.kinds(0, 1), 0, "concurrent");
    }

    proptest! {
        #[test]
        fn tarjan_agrees_with_petgraph(
            n in 1usize..12,
            raw in proptest::collection::vec((0u32..12, 0u32..12, 1u8..32), 0..40),
        ) {
            let edges: Vec<_> = raw.into_iter()
                .filter(|&(a, b, _)| (a as usize) < n && (b as usize) < n)
                .collect();
            let g = graph(n, &edges);
            let mut ours = sccs(&g, ALL);
            ours.sort();
            let mut pg = petgraph::Graph::<(), ()>::new();
            let nodes: Vec<_> = (0..n).map(|_| pg.add_node(())).collect();
            for &(a, b, _) in &edges {
                if a != b {
                    pg.add_edge(nodes[a as usize], nodes[b as usize], ());
                }
            }
            let mut theirs: Vec<Vec<u32>> = petgraph::algo::tarjan_scc(&pg)
                .into_iter()
                .filter(|c| c.len() > 1)
                .map(|c| { let mut c: Vec<u32> = c.iter().map(|x| x.index() as u32).collect(); c.sort(); c })
                .collect();
            theirs.sort();
            prop_assert_eq!(ours, theirs);
        }
    }
}
