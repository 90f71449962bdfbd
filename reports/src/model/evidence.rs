//! The data behind the two drawings an anomaly can have: a linearizability failure's ops as
//! intervals (what Porcupine draws) and a dependency cycle as a small graph (what Elle
//! describes in words).

use faultline_checker::Evidence;
use faultline_core::{History, OpType};
use serde::Serialize;

use super::{describe, secs, Outcome};
use crate::escape::truncate;

/// Ops drawn around a linearizability failure at most.
const MAX_WINDOW: usize = 60;

#[derive(Clone, Debug, Default, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EvidenceView {
    #[default]
    None,
    Linearization(LinView),
    Cycle(CycleView),
}

#[derive(Clone, Debug, Serialize)]
pub struct LinView {
    /// Model state after the longest linearizable prefix.
    pub state: String,
    /// One row per process, labelled.
    pub processes: Vec<String>,
    pub ops: Vec<LinOp>,
    pub t0_s: f64,
    pub t1_s: f64,
    pub prefix_len: usize,
    /// Set when the window had to be cut.
    pub note: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinOp {
    pub index: u64,
    pub row: usize,
    pub label: String,
    pub title: String,
    pub start_s: f64,
    /// `None`: never completed (may take effect any time after its invocation).
    pub end_s: Option<f64>,
    pub outcome: Outcome,
    /// 1-based position in the linearizable prefix.
    pub order: Option<usize>,
    /// The model's state after this op, when the checker recorded it.
    pub state_after: Option<String>,
    /// A point in the op's interval consistent with the prefix order, for the line that
    /// joins the linearization points.
    pub point_s: Option<f64>,
    pub unplaceable: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct CycleView {
    pub nodes: Vec<CycleNode>,
    pub edges: Vec<CycleEdge>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CycleNode {
    /// `T1`, `T2`, ...
    pub name: String,
    pub index: u64,
    pub text: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CycleEdge {
    pub from: usize,
    pub to: usize,
    /// `ww`, `wr`, `rw`, `process`, `realtime`.
    pub edge: String,
    pub why: String,
}

impl EvidenceView {
    pub fn build(history: &History, evidence: &Evidence) -> EvidenceView {
        match evidence {
            Evidence::None => EvidenceView::None,
            Evidence::Linearization {
                prefix,
                states,
                state,
                unplaceable,
                window,
            } => lin_view(history, prefix, states, state, unplaceable, window)
                .map_or(EvidenceView::None, EvidenceView::Linearization),
            Evidence::Cycle { steps } => {
                let mut nodes: Vec<CycleNode> = Vec::new();
                let node = |i: u64, nodes: &mut Vec<CycleNode>| -> usize {
                    if let Some(n) = nodes.iter().position(|n| n.index == i) {
                        return n;
                    }
                    nodes.push(CycleNode {
                        name: format!("T{}", nodes.len() + 1),
                        index: i,
                        text: history
                            .get(i as usize)
                            .map(|op| {
                                truncate(&format!("process {} {}", op.process, op.value), 160)
                            })
                            .unwrap_or_else(|| format!("event {i}")),
                    });
                    nodes.len() - 1
                };
                let edges = steps
                    .iter()
                    .take(64)
                    .map(|s| CycleEdge {
                        from: node(s.from, &mut nodes),
                        to: node(s.to, &mut nodes),
                        edge: truncate(&s.edge, 20),
                        why: truncate(&s.why, 1_000),
                    })
                    .collect();
                EvidenceView::Cycle(CycleView { nodes, edges })
            }
        }
    }
}

/// The invocation an index names (a completion's partner, or itself).
fn invocation(history: &History, i: u64) -> Option<u64> {
    let op = history.get(i as usize)?;
    if op.kind == OpType::Invoke {
        Some(i)
    } else {
        history.partner(i as usize).map(|p| p as u64)
    }
}

fn lin_view(
    history: &History,
    prefix: &[u64],
    states: &[String],
    state: &str,
    unplaceable: &[u64],
    window: &[u64],
) -> Option<LinView> {
    let prefix: Vec<u64> = prefix
        .iter()
        .filter_map(|&i| invocation(history, i))
        .collect();
    let unplaceable: Vec<u64> = unplaceable
        .iter()
        .filter_map(|&i| invocation(history, i))
        .collect();
    let mut ops: Vec<u64> = window
        .iter()
        .chain(&unplaceable)
        .filter_map(|&i| invocation(history, i))
        .collect();
    if window.is_empty() {
        ops.extend(&prefix);
    }
    ops.sort_unstable();
    ops.dedup();
    let mut note = None;
    if ops.len() > MAX_WINDOW {
        // Keep the ops nearest the first unplaceable one.
        let centre = unplaceable.first().copied().unwrap_or(ops[ops.len() / 2]);
        ops.sort_unstable_by_key(|&i| i.abs_diff(centre));
        ops.truncate(MAX_WINDOW);
        ops.sort_unstable();
        note = Some(format!(
            "Showing the {MAX_WINDOW} ops nearest the op that cannot be placed."
        ));
    }
    if ops.is_empty() {
        return None;
    }
    let mut procs: Vec<faultline_core::Process> = ops
        .iter()
        .filter_map(|&i| history.get(i as usize).map(|o| o.process))
        .collect();
    procs.sort_unstable();
    procs.dedup();

    let mut t0 = u64::MAX;
    let mut t1 = 0;
    let mut lin_ops: Vec<LinOp> = ops
        .iter()
        .filter_map(|&i| {
            let inv = history.get(i as usize)?;
            let done = history.completion(i as usize);
            t0 = t0.min(inv.time);
            t1 = t1.max(done.map_or(inv.time, |d| d.time));
            let label = match done {
                Some(d) if d.kind != OpType::Ok => format!("{} {} ({})", inv.f, inv.value, d.kind),
                _ => super::timeline::op_label(inv, done),
            };
            let order = prefix.iter().position(|&p| p == i);
            let state_after = order.and_then(|n| states.get(n)).map(|s| truncate(s, 120));
            let mut title = format!("op {i}: {}", describe(inv));
            if let Some(s) = &state_after {
                title.push_str(&format!("\nstate after it: {s}"));
            }
            Some(LinOp {
                index: i,
                row: procs.binary_search(&inv.process).unwrap_or(0),
                label: truncate(&label, 40),
                title,
                start_s: secs(inv.time),
                end_s: done.map(|d| secs(d.time)),
                outcome: Outcome::of(done),
                order: order.map(|p| p + 1),
                state_after,
                point_s: None,
                unplaceable: unplaceable.contains(&i),
            })
        })
        .collect();
    if t0 == u64::MAX {
        return None;
    }
    // Linearization points: each as early as its invocation and the previous point allow.
    let mut at = f64::MIN;
    let mut ordered: Vec<&mut LinOp> = lin_ops.iter_mut().filter(|o| o.order.is_some()).collect();
    ordered.sort_unstable_by_key(|o| o.order);
    for o in ordered {
        let mut p = at.max(o.start_s);
        if let Some(e) = o.end_s {
            p = p.min(e);
        }
        o.point_s = Some(p);
        at = p;
    }
    Some(LinView {
        state: truncate(state, 300),
        processes: procs
            .iter()
            .map(|p| match p.client() {
                Some(c) => format!("process {c}"),
                None => "nemesis".to_string(),
            })
            .collect(),
        prefix_len: prefix.len(),
        ops: lin_ops,
        t0_s: secs(t0),
        t1_s: secs(t1.max(t0)),
        note,
    })
}
