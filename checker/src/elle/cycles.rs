//! Cycle search inside one strongly connected component.
//!
//! For each shape of [`SPECS`] in order, as Elle's `cycle-cases-in-scc` does: skip it if a
//! shape already found implies it; restrict the component to the edge kinds the shape
//! allows and split that into its own components (no component, no such cycle: this is
//! Elle's `cycle-exists` pruning); then search breadth-first from vertices where the
//! shape's anchor edges arrive, over (vertex, automaton state) pairs, for the shortest
//! closed walk the shape's automaton accepts. A closed walk that revisits a vertex is split
//! into simple cycles and a simple one of the right shape kept.
//!
//! The search is bounded by a work limit per shape and component (edges examined), and by
//! the [`Budget`]: a shape whose search hit the limit without a cycle is reported as
//! incomplete, never as absent.

use rustc_hash::FxHashMap;

use super::classify::{classify, Spec, State, Step, SPECS};
use super::graph::{sccs, DepGraph, ALL, DATA, PROCESS, WR, WW};
use super::models::implied_anomalies;
use crate::verdict::{Budget, Exhausted};

/// A cycle found, in global vertex ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    pub kind: &'static str,
    pub steps: Vec<Step>,
}

/// Levels of edge kinds, weakest first: a cycle within each level that has one is always
/// reported.
pub const LEVELS: [u8; 5] = [WW, WW | WR, DATA, DATA | PROCESS, ALL];

/// Rotates a cycle to start at its lowest vertex, so the same cycle always reads the same.
fn canonical(scc: &[u32], steps: Vec<Step>) -> Vec<Step> {
    let mut steps: Vec<Step> = steps
        .into_iter()
        .map(|s| Step {
            from: scc[s.from as usize],
            to: scc[s.to as usize],
            kind: s.kind,
        })
        .collect();
    if let Some(first) = (0..steps.len()).min_by_key(|&i| steps[i].from) {
        steps.rotate_left(first);
    }
    steps
}

/// What the search of one component found, and which shapes it could not finish.
#[derive(Default, Debug)]
pub struct SccResult {
    pub cycles: Vec<Cycle>,
    pub incomplete: Vec<&'static str>,
}

/// Search settings.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Edge kinds present in the graph; shapes needing others are not searched.
    pub present: u8,
    /// Edges examined per shape per component before giving up, at least.
    pub work: u64,
}

/// Searches the component `scc` (vertices of `g`) for one shortest cycle of each shape.
pub fn search_scc(
    g: &DepGraph,
    scc: &[u32],
    limits: Limits,
    budget: &Budget,
) -> Result<SccResult, Exhausted> {
    let local = g.induced(scc, ALL);
    let mut bfs = Bfs::new(local.node_count());
    let mut out = SccResult::default();
    let mut implied: Vec<&'static str> = Vec::new();
    let work_limit = limits.work.max(4 * local.edge_count() as u64);
    for spec in SPECS {
        if implied.contains(&spec.kind) || spec.allowed() & !limits.present & !DATA != 0 {
            continue;
        }
        budget.check()?;
        match search_spec(&local, &spec, &mut bfs, work_limit, budget)? {
            Search::Found(steps) => {
                out.cycles.push(Cycle {
                    kind: spec.kind,
                    steps: canonical(scc, steps),
                });
                implied.extend(implied_anomalies([spec.kind]));
            }
            Search::Absent => {}
            Search::GaveUp => out.incomplete.push(spec.kind),
        }
    }
    // Elle's cycle-exists guarantee: whenever the component restricted to a level of edge
    // kinds has a cycle, some cycle within that level is reported, even if every shape
    // search above missed it (out of work, or walks that split into the wrong shapes).
    for mask in LEVELS {
        let mask = mask & limits.present;
        let covered = out
            .cycles
            .iter()
            .any(|c| c.steps.iter().all(|s| s.kind & mask != 0));
        if covered {
            continue;
        }
        if let Some(steps) = any_cycle(&local, mask, &mut bfs) {
            if let Some(kind) = classify(&steps) {
                out.cycles.push(Cycle {
                    kind,
                    steps: canonical(scc, steps),
                });
            }
        }
    }
    Ok(out)
}

enum Search {
    Found(Vec<Step>),
    Absent,
    GaveUp,
}

fn search_spec(
    g: &DepGraph,
    spec: &Spec,
    bfs: &mut Bfs,
    work_limit: u64,
    budget: &Budget,
) -> Result<Search, Exhausted> {
    let allowed = spec.allowed();
    let mut best: Option<Vec<Step>> = None;
    let mut work = 0u64;
    let mut gave_up = false;
    let mut comps = sccs(g, allowed);
    // Small components first: their cycles are short and cheap to find.
    comps.reverse();
    let mut comp_of = vec![u32::MAX; g.node_count()];
    for (c, comp) in comps.iter().enumerate() {
        for &v in comp {
            comp_of[v as usize] = c as u32;
        }
    }
    'comps: for (c, comp) in comps.iter().enumerate() {
        let starts: Vec<u32> = match spec.anchor() {
            None => comp.clone(),
            Some(anchor) => {
                let mut s: Vec<u32> = comp
                    .iter()
                    .flat_map(|&v| {
                        let (to, kinds) = g.out(v);
                        to.iter()
                            .zip(kinds)
                            .filter(|&(w, k)| k & anchor != 0 && comp_of[*w as usize] == c as u32)
                            .map(|(w, _)| *w)
                            .collect::<Vec<_>>()
                    })
                    .collect();
                s.sort_unstable();
                s.dedup();
                s
            }
        };
        for start in starts {
            if best.as_ref().is_some_and(|b| b.len() <= 2) {
                break 'comps;
            }
            let max_len = best.as_ref().map_or(usize::MAX, |b| b.len() - 1);
            let before = work;
            let walk = bfs.shortest(g, start, spec, allowed, max_len, &mut work, work_limit);
            budget.spend(work - before)?;
            match walk {
                Walk::Found(steps) => {
                    if let Some(cycle) = simple_of_shape(&steps, spec) {
                        if best.as_ref().is_none_or(|b| cycle.len() < b.len()) {
                            best = Some(cycle);
                        }
                    }
                }
                Walk::None => {}
                Walk::OutOfWork => {
                    gave_up = best.is_none();
                    break 'comps;
                }
            }
        }
    }
    Ok(match best {
        Some(steps) => Search::Found(steps),
        None if gave_up => Search::GaveUp,
        None => Search::Absent,
    })
}

/// Splits a closed walk into simple cycles and returns the shortest of `spec`'s shape.
fn simple_of_shape(walk: &[Step], spec: &Spec) -> Option<Vec<Step>> {
    let mut best: Option<Vec<Step>> = None;
    let mut stack: Vec<Step> = Vec::new();
    let mut pos: FxHashMap<u32, usize> = FxHashMap::default();
    if let Some(first) = walk.first() {
        pos.insert(first.from, 0);
    }
    for &s in walk {
        stack.push(s);
        if let Some(&p) = pos.get(&s.to) {
            let cycle: Vec<Step> = stack.drain(p..).collect();
            for c in &cycle[1..] {
                pos.remove(&c.from);
            }
            if classify(&cycle) == Some(spec.kind)
                && best.as_ref().is_none_or(|b| cycle.len() < b.len())
            {
                best = Some(cycle);
            }
        } else {
            pos.insert(s.to, stack.len());
        }
    }
    best
}

/// Any shortest cycle through the first vertex of a component of `g` restricted to `mask`.
fn any_cycle(g: &DepGraph, mask: u8, bfs: &mut Bfs) -> Option<Vec<Step>> {
    let comp = sccs(g, mask).pop()?;
    let any = Spec {
        kind: "any",
        base: super::classify::Base::Any,
        variant: super::classify::Variant::Plain,
    };
    let mut work = 0;
    match bfs.shortest(g, comp[0], &any, mask, usize::MAX, &mut work, u64::MAX) {
        Walk::Found(steps) => Some(steps),
        _ => None,
    }
}

enum Walk {
    Found(Vec<Step>),
    None,
    OutOfWork,
}

#[derive(Clone, Copy)]
struct Entry {
    v: u32,
    state: State,
    depth: u32,
    parent: u32,
    kind: u8,
}

/// Breadth-first search over (vertex, state), with visited sets that are reset in O(1)
/// between searches by a generation counter.
struct Bfs {
    generation: Vec<u32>,
    seen: Vec<[u128; 2]>,
    current: u32,
    arena: Vec<Entry>,
}

impl Bfs {
    fn new(n: usize) -> Bfs {
        Bfs {
            generation: vec![0; n],
            seen: vec![[0; 2]; n],
            current: 0,
            arena: Vec::new(),
        }
    }

    /// Marks (v, state) seen; false if it already was.
    fn visit(&mut self, v: u32, state: u8) -> bool {
        let v = v as usize;
        if self.generation[v] != self.current {
            self.generation[v] = self.current;
            self.seen[v] = [0; 2];
        }
        let (word, bit) = ((state >> 7) as usize, state & 127);
        let fresh = self.seen[v][word] & (1u128 << bit) == 0;
        self.seen[v][word] |= 1u128 << bit;
        fresh
    }

    /// The shortest closed walk from `start` back to it, of at most `max_len` edges, that
    /// `spec` accepts.
    #[allow(clippy::too_many_arguments)]
    fn shortest(
        &mut self,
        g: &DepGraph,
        start: u32,
        spec: &Spec,
        allowed: u8,
        max_len: usize,
        work: &mut u64,
        limit: u64,
    ) -> Walk {
        self.current = self.current.wrapping_add(1);
        if self.current == 0 {
            self.generation.iter_mut().for_each(|g| *g = 0);
            self.current = 1;
        }
        self.arena.clear();
        self.arena.push(Entry {
            v: start,
            state: 0,
            depth: 0,
            parent: u32::MAX,
            kind: 0,
        });
        let mut i = 0;
        while i < self.arena.len() {
            let e = self.arena[i];
            let len = e.depth as usize + 1;
            if len > max_len {
                break;
            }
            let (to, kinds) = g.out(e.v);
            for (&w, &k) in to.iter().zip(kinds) {
                *work += 1;
                if *work > limit {
                    return Walk::OutOfWork;
                }
                let mut bits = k & allowed;
                while bits != 0 {
                    let kind = bits & bits.wrapping_neg();
                    bits &= bits - 1;
                    let Some(state) = spec.step(e.state, kind, i == 0) else {
                        continue;
                    };
                    if w == start {
                        if spec.accepts(state) {
                            return Walk::Found(self.path(i, w, kind));
                        }
                        continue;
                    }
                    if len < max_len && self.visit(w, spec.dense(state)) {
                        self.arena.push(Entry {
                            v: w,
                            state,
                            depth: e.depth + 1,
                            parent: i as u32,
                            kind,
                        });
                    }
                }
            }
            i += 1;
        }
        Walk::None
    }

    /// The steps from the start to arena entry `i`, then `i -> to`.
    fn path(&self, mut i: usize, to: u32, kind: u8) -> Vec<Step> {
        let mut steps = vec![Step {
            from: self.arena[i].v,
            to,
            kind,
        }];
        while self.arena[i].parent != u32::MAX {
            let e = self.arena[i];
            let p = e.parent as usize;
            steps.push(Step {
                from: self.arena[p].v,
                to: e.v,
                kind: e.kind,
            });
            i = p;
        }
        steps.reverse();
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::graph::{EdgeList, PROCESS, REALTIME, RW};

    fn graph(n: usize, edges: &[(u32, u32, u8)]) -> DepGraph {
        let mut l = EdgeList::default();
        for &(a, b, k) in edges {
            l.add(a, b, k);
        }
        DepGraph::new(n, l)
    }

    fn kinds(g: &DepGraph) -> Vec<&'static str> {
        let all: Vec<u32> = (0..g.node_count() as u32).collect();
        let limits = Limits {
            present: ALL,
            work: 1_000_000,
        };
        let mut out = Vec::new();
        for scc in sccs(g, ALL) {
            let r = search_scc(g, &scc, limits, &Budget::unlimited()).unwrap();
            assert!(r.incomplete.is_empty());
            for c in r.cycles {
                // Every step is a real edge, and the steps close.
                for (a, b) in c.steps.iter().zip(c.steps.iter().cycle().skip(1)) {
                    assert_eq!(a.to, b.from);
                    assert!(g.kinds(a.from, a.to) & a.kind != 0);
                }
                assert_eq!(classify(&c.steps), Some(c.kind));
                out.push(c.kind);
            }
        }
        let _ = all;
        out
    }

    #[test]
    fn finds_write_skew() {
        let g = graph(2, &[(0, 1, RW), (1, 0, RW)]);
        assert_eq!(kinds(&g), vec!["G2-item"]);
    }

    #[test]
    fn g0_implies_the_rest_so_only_g0_is_reported() {
        let g = graph(2, &[(0, 1, WW), (1, 0, WW | WR)]);
        assert_eq!(kinds(&g), vec!["G0"]);
    }

    #[test]
    fn a_g_single_and_a_separate_g1c_are_both_reported() {
        // 0 <-> 1 by wr both ways; 1 -> 2 wr, 2 -> 1 rw.
        let g = graph(3, &[(0, 1, WR), (1, 0, WR), (1, 2, WR), (2, 1, RW)]);
        assert_eq!(kinds(&g), vec!["G1c", "G-single"]);
    }

    #[test]
    fn finds_nonadjacent_rw_edges() {
        // 0 -rw-> 1 -wr-> 2 -rw-> 3 -ww-> 0
        let g = graph(4, &[(0, 1, RW), (1, 2, WR), (2, 3, RW), (3, 0, WW)]);
        assert_eq!(kinds(&g), vec!["G-nonadjacent"]);
    }

    #[test]
    fn realtime_variants_need_a_realtime_edge() {
        let g = graph(2, &[(0, 1, RW), (1, 0, REALTIME)]);
        assert_eq!(kinds(&g), vec!["G-single-realtime"]);
        let g = graph(2, &[(0, 1, WW), (1, 0, PROCESS | REALTIME)]);
        assert_eq!(kinds(&g), vec!["G0-process"]);
    }

    #[test]
    fn the_shortest_cycle_is_chosen() {
        // A long ww cycle 0..5 and a short one 3 <-> 4.
        let g = graph(
            6,
            &[
                (0, 1, WW),
                (1, 2, WW),
                (2, 3, WW),
                (3, 4, WW),
                (4, 5, WW),
                (5, 0, WW),
                (4, 3, WW),
            ],
        );
        let scc = &sccs(&g, ALL)[0];
        let r = search_scc(
            &g,
            scc,
            Limits {
                present: ALL,
                work: 1000,
            },
            &Budget::unlimited(),
        )
        .unwrap();
        assert_eq!(r.cycles[0].steps.len(), 2);
    }

    #[test]
    fn the_work_limit_never_drops_below_the_components_size() {
        let n = 50u32;
        let mut edges: Vec<_> = (0..n - 1).map(|i| (i, i + 1, WR)).collect();
        edges.push((n - 1, 0, RW));
        let g = graph(n as usize, &edges);
        let scc = &sccs(&g, ALL)[0];
        let limits = Limits {
            present: DATA,
            work: 0,
        };
        let r = search_scc(&g, scc, limits, &Budget::unlimited()).unwrap();
        assert_eq!(r.cycles[0].kind, "G-single");
        assert!(r.incomplete.is_empty());
    }

    #[test]
    fn a_shape_search_out_of_work_gives_up_rather_than_saying_absent() {
        let n = 50u32;
        let mut edges: Vec<_> = (0..n - 1).map(|i| (i, i + 1, WR)).collect();
        edges.push((n - 1, 0, RW));
        let g = graph(n as usize, &edges);
        let spec = crate::elle::classify::spec_named("G-single").unwrap();
        let mut bfs = Bfs::new(g.node_count());
        let r = search_spec(&g, &spec, &mut bfs, 10, &Budget::unlimited()).unwrap();
        assert!(matches!(r, Search::GaveUp));
        let r = search_spec(&g, &spec, &mut bfs, 1000, &Budget::unlimited()).unwrap();
        assert!(matches!(r, Search::Found(ref c) if c.len() == 50));
    }

    #[test]
    fn walks_are_split_into_simple_cycles() {
        let spec = crate::elle::classify::spec_named("G-single").unwrap();
        // 0 -ww-> 1 -ww-> 0 -wr-> 2 -rw-> 0: the second loop is the G-single.
        let walk = [
            Step {
                from: 0,
                to: 1,
                kind: WW,
            },
            Step {
                from: 1,
                to: 0,
                kind: WW,
            },
            Step {
                from: 0,
                to: 2,
                kind: WR,
            },
            Step {
                from: 2,
                to: 0,
                kind: RW,
            },
        ];
        let c = simple_of_shape(&walk, &spec).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].kind, WR);
    }
}
