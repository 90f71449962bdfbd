//! A small directed graph with labelled edges: Tarjan's strongly connected components and a
//! shortest cycle through a component, for the checkers that look for impossible orders.

use rustc_hash::{FxHashMap, FxHashSet};

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
        let inside: FxHashSet<u32> = comp.iter().copied().collect();
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
