//! The timeline's data: Jepsen's view of a history, one lane per process, each op a bar from
//! its invocation to its completion. Rows are events, not seconds, so short ops stay readable
//! however long the run. Big histories are capped: the ops nearest an anomaly are kept first,
//! and long runs of omitted events become a marked gap.

use std::collections::HashMap;

use faultline_checker::faults::FaultWindow;
use faultline_core::{History, OpType, Process};
use serde::Serialize;

use super::{describe, secs, Outcome};
use crate::escape::truncate;

/// Omitted stretches shorter than this are folded silently; longer ones get a gap marker.
const GAP_MARK: u64 = 20;
/// A row label (the event's time) every this many rows.
const TIME_LABEL_EVERY: usize = 25;
/// Fault windows drawn at most.
const MAX_FAULTS: usize = 2_000;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Timeline {
    pub lanes: Vec<Lane>,
    /// Sub-lanes of the fault lane (overlapping faults sit side by side).
    pub fault_lanes: usize,
    pub rows: usize,
    pub ops: Vec<TlOp>,
    pub faults: Vec<TlFault>,
    pub gaps: Vec<Gap>,
    /// (row, "1.234 s") labels down the side.
    pub times: Vec<(usize, String)>,
    pub shown_ops: usize,
    pub total_ops: usize,
    pub capped: bool,
    /// Event positions drawn (sorted), to resolve `#op-N` links.
    #[serde(skip)]
    shown: Vec<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    /// `3`, or `3, 8, 13` when retired processes' successors share the lane.
    pub label: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlOp {
    pub lane: usize,
    pub row0: usize,
    /// The completion's row; for an op that never completed, the last row.
    pub row1: usize,
    pub index: u64,
    pub completion: Option<u64>,
    pub outcome: Outcome,
    /// Short text on the bar: `read nil → 5`.
    pub label: String,
    /// Full text for the tooltip.
    pub title: String,
    /// Named by an anomaly: outlined in red.
    pub flagged: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct TlFault {
    pub lane: usize,
    pub row0: usize,
    pub row1: usize,
    pub index: u64,
    pub end_index: Option<u64>,
    pub fault: String,
    pub title: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Gap {
    pub row: usize,
    pub omitted_events: u64,
}

impl Timeline {
    /// Whether event `index` is drawn, so a link to `#op-index` lands somewhere.
    pub fn shows(&self, index: u64) -> bool {
        self.shown.binary_search(&index).is_ok()
    }

    pub fn build(history: &History, windows: &[FaultWindow], focus: &[u64], cap: usize) -> Self {
        let pairs: Vec<(usize, Option<usize>)> = history
            .ops()
            .iter()
            .enumerate()
            .filter(|(_, op)| op.is_client() && op.kind == OpType::Invoke)
            .map(|(i, _)| (i, history.partner(i)))
            .collect();
        let total_ops = pairs.len();
        let capped = total_ops > cap;
        let chosen: Vec<(usize, Option<usize>)> = if capped {
            choose(&pairs, focus, cap)
        } else {
            pairs
        };

        // Rows: the events of the chosen ops and of the fault windows, in history order.
        let windows = &windows[..windows.len().min(MAX_FAULTS)];
        let mut events: Vec<u64> = Vec::with_capacity(chosen.len() * 2 + windows.len() * 2);
        for &(i, c) in &chosen {
            events.push(i as u64);
            events.extend(c.map(|c| c as u64));
        }
        for w in windows {
            events.push(w.start_index);
            events.extend(w.end_index);
        }
        events.sort_unstable();
        events.dedup();

        let mut row_of: HashMap<u64, usize> = HashMap::with_capacity(events.len());
        let mut gaps = Vec::new();
        let mut times = Vec::new();
        let mut row = 0usize;
        let mut prev: Option<u64> = None;
        for &e in &events {
            if let Some(p) = prev {
                if capped && e - p > GAP_MARK {
                    gaps.push(Gap {
                        row,
                        omitted_events: e - p - 1,
                    });
                    row += 1;
                }
            }
            if row % TIME_LABEL_EVERY == 0 {
                if let Some(op) = history.get(e as usize) {
                    times.push((row, format!("{:.3} s", secs(op.time))));
                }
            }
            row_of.insert(e, row);
            row += 1;
            prev = Some(e);
        }
        let rows = row.max(1);
        let last_row = rows - 1;

        // Lanes: a process keeps one lane; processes that never overlap (a retired process
        // and its successor) share one, so lanes stay as many as there were clients.
        let mut span: HashMap<Process, (usize, usize)> = HashMap::new();
        for &(i, c) in &chosen {
            let p = history.ops()[i].process;
            let r0 = row_of[&(i as u64)];
            let r1 = c.map_or(last_row, |c| row_of[&(c as u64)]);
            let s = span.entry(p).or_insert((r0, r1));
            s.0 = s.0.min(r0);
            s.1 = s.1.max(r1);
        }
        let mut procs: Vec<(Process, (usize, usize))> = span.into_iter().collect();
        procs.sort_unstable_by_key(|&(p, (r0, _))| (r0, p));
        let mut lane_end: Vec<usize> = Vec::new();
        let mut lane_procs: Vec<Vec<u64>> = Vec::new();
        let mut lane_of: HashMap<Process, usize> = HashMap::new();
        for (p, (r0, r1)) in procs {
            let lane = match lane_end.iter().position(|&end| end < r0) {
                Some(l) => l,
                None => {
                    lane_end.push(0);
                    lane_procs.push(Vec::new());
                    lane_end.len() - 1
                }
            };
            lane_end[lane] = r1;
            lane_procs[lane].extend(p.client());
            lane_of.insert(p, lane);
        }
        // Lanes read left to right by their first process id.
        let mut order: Vec<usize> = (0..lane_procs.len()).collect();
        order.sort_unstable_by_key(|&l| lane_procs[l].first().copied());
        let mut renumber = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old] = new;
        }
        let lanes = order
            .iter()
            .map(|&l| Lane {
                label: lane_label(&lane_procs[l]),
            })
            .collect();

        let mut sorted_focus = focus.to_vec();
        sorted_focus.sort_unstable();
        let flagged = |e: u64| sorted_focus.binary_search(&e).is_ok();
        let ops = chosen
            .iter()
            .map(|&(i, c)| {
                let inv = &history.ops()[i];
                let done = c.and_then(|c| history.get(c));
                let outcome = Outcome::of(done);
                TlOp {
                    lane: renumber[lane_of[&inv.process]],
                    row0: row_of[&(i as u64)],
                    row1: c.map_or(last_row, |c| row_of[&(c as u64)]),
                    index: i as u64,
                    completion: c.map(|c| c as u64),
                    outcome,
                    label: op_label(inv, done),
                    title: op_title(inv, done),
                    flagged: flagged(i as u64) || c.is_some_and(|c| flagged(c as u64)),
                }
            })
            .collect();

        // Faults: their own lane, overlapping windows side by side.
        let mut sub_end: Vec<usize> = Vec::new();
        let faults = windows
            .iter()
            .map(|w| {
                let row0 = row_of[&w.start_index];
                let row1 = w.end_index.map_or(last_row, |e| row_of[&e]);
                let lane = match sub_end.iter().position(|&end| end < row0) {
                    Some(l) => l,
                    None => {
                        sub_end.push(0);
                        sub_end.len() - 1
                    }
                };
                sub_end[lane] = row1;
                let end = w.end.map_or("the end of the history".to_string(), |e| {
                    format!("{:.3} s", secs(e))
                });
                TlFault {
                    lane,
                    row0,
                    row1,
                    index: w.start_index,
                    end_index: w.end_index,
                    fault: truncate(&w.fault, 40),
                    title: truncate(
                        &format!(
                            "{} from {:.3} s to {end} (events {}–{}): {}",
                            w.fault,
                            secs(w.start),
                            w.start_index,
                            w.end_index.map_or("end".to_string(), |e| e.to_string()),
                            w.value
                        ),
                        400,
                    ),
                }
            })
            .collect();

        Timeline {
            lanes,
            fault_lanes: sub_end.len(),
            rows,
            ops,
            faults,
            gaps,
            times,
            shown_ops: chosen.len(),
            total_ops,
            capped,
            shown: events,
        }
    }
}

/// The `cap` ops nearest (in events) to any focus event, in history order. With no focus,
/// the first `cap` ops.
fn choose(
    pairs: &[(usize, Option<usize>)],
    focus: &[u64],
    cap: usize,
) -> Vec<(usize, Option<usize>)> {
    let mut focus: Vec<u64> = focus.to_vec();
    focus.sort_unstable();
    focus.dedup();
    if focus.is_empty() {
        return pairs[..cap].to_vec();
    }
    let distance = |e: usize| -> u64 {
        let e = e as u64;
        let at = focus.partition_point(|&f| f < e);
        let after = focus.get(at).map_or(u64::MAX, |&f| f - e);
        let before = at.checked_sub(1).map_or(u64::MAX, |b| e - focus[b]);
        after.min(before)
    };
    let mut keyed: Vec<(u64, usize)> = pairs
        .iter()
        .enumerate()
        .map(|(n, &(i, c))| {
            let d = distance(i).min(c.map_or(u64::MAX, distance));
            (d, n)
        })
        .collect();
    keyed.select_nth_unstable(cap - 1);
    keyed.truncate(cap);
    let mut picked: Vec<usize> = keyed.into_iter().map(|(_, n)| n).collect();
    picked.sort_unstable();
    picked.into_iter().map(|n| pairs[n]).collect()
}

fn lane_label(procs: &[u64]) -> String {
    let shown: Vec<String> = procs.iter().take(3).map(|p| p.to_string()).collect();
    let mut label = shown.join(", ");
    if procs.len() > 3 {
        label.push_str(&format!(" +{}", procs.len() - 3));
    }
    label
}

/// What happened, in Jepsen's style: an ok op with its result (`read 3`, a transaction with
/// what it read), anything else with what was asked (`write 4`); the tooltip has both.
pub(super) fn op_label(inv: &faultline_core::Op, done: Option<&faultline_core::Op>) -> String {
    let text = match done {
        Some(d) if d.kind == OpType::Ok && !d.value.is_nil() => format!("{} {}", inv.f, d.value),
        _ => format!("{} {}", inv.f, inv.value),
    };
    truncate(&text, 60)
}

fn op_title(inv: &faultline_core::Op, done: Option<&faultline_core::Op>) -> String {
    let mut t = format!("op {}: {}", inv.index, describe(inv));
    match done {
        Some(d) => {
            t.push_str(&format!(
                "\n→ event {}: {} {}",
                d.index,
                d.kind,
                truncate(&d.value.to_string(), 200)
            ));
            if let Some(e) = &d.error {
                t.push_str(&format!(" (error {})", truncate(&e.to_string(), 200)));
            }
            t.push_str(&format!(
                "\ninvoked {:.3} s, completed {:.3} s, {:.3} ms",
                secs(inv.time),
                secs(d.time),
                d.time.saturating_sub(inv.time) as f64 / 1e6
            ));
            if let Some(n) = &d.node {
                t.push_str(&format!(", node {}", truncate(n, 60)));
            }
        }
        None => t.push_str(&format!(
            "\ninvoked {:.3} s, never completed (indeterminate)",
            secs(inv.time)
        )),
    }
    t
}
