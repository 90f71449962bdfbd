//! Fault windows: the intervals `[start, end)` during which a nemesis fault was in force,
//! read from the nemesis events of a history. Pure history analysis, shared by `stats` and
//! the report's plots.
//!
//! # What is recognised
//! | opens                | closes                   | fault name          |
//! |----------------------|--------------------------|---------------------|
//! | `start-partition`    | `stop-partition`         | `partition`         |
//! | `start-X` (any X)    | `stop-X`                 | `X`                 |
//! | `kill`               | `start`, `restart`       | `kill`              |
//! | `pause`              | `resume`                 | `pause`             |
//! | `bump-clock`, `strobe-clock`, `skew-clock` | `reset-clock`    | `clock`    |
//! | `start` (no kill open) | `stop`                 | `start` (Jepsen's generic nemesis) |
//! | —                    | `heal`, `stop-all`       | closes every open window |
//!
//! Jepsen records a nemesis action either as an invocation and an `info` completion, or as
//! two `info` events with the same `f` (begin and end). A window opens at the first event of
//! the opening action and closes at the last event of the closing action, so it covers the
//! whole time the fault may have been in force. A second opening of a fault already open is
//! folded into the open window; a closing with nothing open is ignored. A window still open
//! when the history ends has no end (`end: None`): the fault lasted until the end.

use faultline_core::{History, Op, OpType, Value};
use serde::Serialize;

/// One fault in force over `[start, end)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultWindow {
    /// `partition`, `kill`, `pause`, `clock`, or `X` for `start-X`.
    pub fault: String,
    /// Nanoseconds since the test started.
    pub start: u64,
    /// `None`: still in force when the history ends.
    pub end: Option<u64>,
    /// History index of the event that opened the window.
    pub start_index: u64,
    /// History index of the event that closed it.
    pub end_index: Option<u64>,
    /// What the nemesis said it did (the opening action's last value: nodes, a grudge...).
    pub value: Value,
}

impl FaultWindow {
    /// Whether time `t` (ns) falls in the window.
    pub fn contains(&self, t: u64) -> bool {
        t >= self.start && self.end.is_none_or(|e| t < e)
    }

    /// The end, or `last` when the window never closed.
    pub fn end_or(&self, last: u64) -> u64 {
        self.end.unwrap_or(last)
    }
}

/// One nemesis action: its first and last events.
struct Action<'h> {
    f: &'h str,
    first: &'h Op,
    last: &'h Op,
}

/// Groups nemesis events into actions: an invocation with its completion, or two `info`
/// events with the same `f` (Jepsen's older begin/end logging), or a lone event.
fn actions(history: &History) -> Vec<Action<'_>> {
    let mut out: Vec<Action<'_>> = Vec::new();
    // A lone info waiting for a same-f partner.
    let mut lone: Option<&Op> = None;
    for op in history.nemesis_ops() {
        let paired = history.partner(op.index as usize).is_some();
        if op.kind == OpType::Invoke {
            if let Some(l) = lone.take() {
                out.push(Action {
                    f: &l.f,
                    first: l,
                    last: l,
                });
            }
            // Closed by its completion below; an invocation that never completes stands alone.
            out.push(Action {
                f: &op.f,
                first: op,
                last: op,
            });
            continue;
        }
        if paired {
            // The completion of the last pushed invocation.
            if let Some(a) = out
                .iter_mut()
                .rev()
                .find(|a| a.first.kind == OpType::Invoke)
            {
                if history.partner(a.first.index as usize) == Some(op.index as usize) {
                    a.last = op;
                    continue;
                }
            }
        }
        match lone.take() {
            Some(l) if l.f == op.f => out.push(Action {
                f: &l.f,
                first: l,
                last: op,
            }),
            Some(l) => {
                out.push(Action {
                    f: &l.f,
                    first: l,
                    last: l,
                });
                lone = Some(op);
            }
            None => lone = Some(op),
        }
    }
    if let Some(l) = lone {
        out.push(Action {
            f: &l.f,
            first: l,
            last: l,
        });
    }
    out.sort_by_key(|a| a.first.index);
    out
}

enum Role {
    Open(String),
    Close(String),
    CloseAll,
}

fn role(f: &str, kill_open: bool) -> Option<Role> {
    Some(match f {
        "kill" => Role::Open("kill".into()),
        "start" | "restart" if kill_open => Role::Close("kill".into()),
        "restart" => return None,
        "start" => Role::Open("start".into()),
        "stop" => Role::Close("start".into()),
        "pause" => Role::Open("pause".into()),
        "resume" => Role::Close("pause".into()),
        "bump-clock" | "strobe-clock" | "skew-clock" => Role::Open("clock".into()),
        "reset-clock" => Role::Close("clock".into()),
        "heal" | "stop-all" => Role::CloseAll,
        _ => {
            if let Some(x) = f.strip_prefix("start-") {
                Role::Open(x.into())
            } else if let Some(x) = f.strip_prefix("stop-") {
                Role::Close(x.into())
            } else {
                return None;
            }
        }
    })
}

/// The fault windows of a history, in the order they opened.
pub fn fault_windows(history: &History) -> Vec<FaultWindow> {
    let mut windows: Vec<FaultWindow> = Vec::new();
    // Indices into `windows` of the windows still open.
    let mut open: Vec<usize> = Vec::new();
    for a in actions(history) {
        let kill_open = open.iter().any(|&i| windows[i].fault == "kill");
        match role(a.f, kill_open) {
            Some(Role::Open(fault)) if !open.iter().any(|&i| windows[i].fault == fault) => {
                open.push(windows.len());
                windows.push(FaultWindow {
                    fault,
                    start: a.first.time,
                    end: None,
                    start_index: a.first.index,
                    end_index: None,
                    value: a.last.value.clone(),
                });
            }
            Some(Role::Close(fault)) => {
                if let Some(pos) = open.iter().position(|&i| windows[i].fault == fault) {
                    let w = &mut windows[open.remove(pos)];
                    w.end = Some(a.last.time.max(w.start));
                    w.end_index = Some(a.last.index);
                }
            }
            Some(Role::CloseAll) => {
                for i in open.drain(..) {
                    windows[i].end = Some(a.last.time.max(windows[i].start));
                    windows[i].end_index = Some(a.last.index);
                }
            }
            // A fault already open: folded into its window.
            Some(Role::Open(_)) | None => {}
        }
    }
    windows
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::dsl::Builder;
    use faultline_core::Process;

    fn nemesis_invoke(b: &mut Builder, f: &str) {
        b.nemesis(f, Value::Nil);
    }

    #[test]
    fn info_pairs_make_one_window_from_first_to_last_event() {
        let mut b = Builder::new();
        nemesis_invoke(&mut b, "start-partition"); // 1 ms
        nemesis_invoke(&mut b, "start-partition"); // 2 ms (Jepsen's end-of-action info)
        b.op_ok(0, "read", Value::Nil, 1.into()); // 3, 4 ms
        nemesis_invoke(&mut b, "stop-partition"); // 5 ms
        nemesis_invoke(&mut b, "stop-partition"); // 6 ms
        let w = fault_windows(&b.build());
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].fault, "partition");
        assert_eq!((w[0].start, w[0].end), (1_000_000, Some(6_000_000)));
        assert_eq!((w[0].start_index, w[0].end_index), (0, Some(5)));
        assert!(w[0].contains(3_000_000) && !w[0].contains(6_000_000));
    }

    #[test]
    fn invoke_and_info_pairs_are_one_action() {
        let mut ops = Vec::new();
        for (f, kind) in [
            ("kill", OpType::Invoke),
            ("kill", OpType::Info),
            ("start", OpType::Invoke),
            ("start", OpType::Info),
            ("start", OpType::Invoke),
            ("start", OpType::Info),
        ] {
            let mut op = Op::invoke(0, f, Value::Nil);
            op.kind = kind;
            op.process = Process::Nemesis;
            op.time = (ops.len() as u64 + 1) * 10;
            ops.push(op);
        }
        let w = fault_windows(&History::from_ops(ops).unwrap());
        // kill..start closes the kill; the second start opens a generic window left open.
        assert_eq!(w.len(), 2);
        assert_eq!(
            (w[0].fault.as_str(), w[0].start, w[0].end),
            ("kill", 10, Some(40))
        );
        assert_eq!((w[1].fault.as_str(), w[1].end), ("start", None));
    }

    #[test]
    fn generic_start_stop_names_and_heal_closes_everything() {
        let mut b = Builder::new();
        nemesis_invoke(&mut b, "start-loss");
        nemesis_invoke(&mut b, "pause");
        nemesis_invoke(&mut b, "bump-clock");
        nemesis_invoke(&mut b, "heal");
        let w = fault_windows(&b.build());
        let names: Vec<&str> = w.iter().map(|w| w.fault.as_str()).collect();
        assert_eq!(names, vec!["loss", "pause", "clock"]);
        assert!(w.iter().all(|w| w.end == Some(4_000_000)));
    }

    #[test]
    fn a_stop_with_nothing_open_is_ignored_and_a_double_start_folds() {
        let mut b = Builder::new();
        nemesis_invoke(&mut b, "stop-partition");
        nemesis_invoke(&mut b, "start-partition");
        b.op_ok(0, "read", Value::Nil, 1.into());
        nemesis_invoke(&mut b, "start-partition");
        let w = fault_windows(&b.build());
        // Two lone infos with the same f are read as one action's begin and end (Jepsen's
        // older logging), so the window opens at the first and stays open.
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].start_index, w[0].end), (1, None));
    }
}
