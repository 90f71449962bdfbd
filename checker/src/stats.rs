//! Performance and availability: latency quantiles, throughput, and ok / fail / info counts,
//! overall, per `f`, per fault window ([`crate::faults`]) and outside every fault.
//!
//! Numbers, not a consistency claim: the verdict is valid unless the budget runs out. An op
//! belongs to a fault window when it was *invoked* inside it. Latency is completion time minus
//! invocation time, in milliseconds, per outcome (an `info` op's latency is usually its
//! timeout); an op that never completed counts as `info` and has no latency. Quantiles use the
//! nearest-rank method on the sorted latencies (`p50` is the smallest latency at or above half
//! of them; `max` is the largest). Throughput is ok completions per second over the span the
//! group covers: the whole history for `overall` and per `f`, the window for a fault, and the
//! time outside every window for `no_fault`.

use std::collections::BTreeMap;

use faultline_core::{History, OpType};
use serde_json::{json, Map, Value as Json};

use crate::faults::{fault_windows, FaultWindow};
use crate::operation::{operations, Pace};
use crate::{Budget, Checker, Verdict};

/// Latency, throughput and availability figures, always valid.
#[derive(Clone, Debug)]
pub struct StatsChecker {
    /// Quantiles to report, in (0, 1]; 1 is reported as `max`.
    pub quantiles: Vec<f64>,
}

impl Default for StatsChecker {
    fn default() -> Self {
        StatsChecker {
            quantiles: vec![0.5, 0.9, 0.95, 0.99, 1.0],
        }
    }
}

#[derive(Default)]
struct Group {
    ok: u64,
    fail: u64,
    info: u64,
    /// Latencies in ns per outcome: ok, fail, info.
    latencies: [Vec<u64>; 3],
}

impl Group {
    fn add(&mut self, outcome: OpType, latency: Option<u64>) {
        let slot = match outcome {
            OpType::Ok => {
                self.ok += 1;
                0
            }
            OpType::Fail => {
                self.fail += 1;
                1
            }
            _ => {
                self.info += 1;
                2
            }
        };
        if let Some(l) = latency {
            self.latencies[slot].push(l);
        }
    }

    fn summary(&mut self, span_ns: u64, quantiles: &[f64]) -> Json {
        let total = self.ok + self.fail + self.info;
        let mut lat = Map::new();
        for (name, l) in ["ok", "fail", "info"].iter().zip(self.latencies.iter_mut()) {
            if !l.is_empty() {
                lat.insert(name.to_string(), latency_summary(l, quantiles));
            }
        }
        json!({
            "ops": total,
            "ok": self.ok,
            "fail": self.fail,
            "info": self.info,
            "availability": (total > 0).then(|| round(self.ok as f64 / total as f64, 4)),
            "throughput_ok_per_s": (span_ns > 0).then(|| round(self.ok as f64 * 1e9 / span_ns as f64, 3)),
            "latency_ms": lat,
        })
    }
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}

fn ms(ns: u64) -> f64 {
    round(ns as f64 / 1e6, 3)
}

/// Nearest-rank quantile of sorted values: the smallest value with at least `q` of all
/// values at or below it.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn quantile_name(q: f64) -> String {
    if q >= 1.0 {
        "max".to_string()
    } else {
        let pct = q * 100.0;
        if pct.fract() == 0.0 {
            format!("p{}", pct as u64)
        } else {
            format!("p{pct}")
        }
    }
}

fn latency_summary(l: &mut [u64], quantiles: &[f64]) -> Json {
    l.sort_unstable();
    let mut m = Map::new();
    m.insert("count".into(), json!(l.len()));
    m.insert("min".into(), json!(ms(l[0])));
    let mean = l.iter().map(|&x| x as f64).sum::<f64>() / l.len() as f64;
    m.insert("mean".into(), json!(round(mean / 1e6, 3)));
    for &q in quantiles {
        if let Some(v) = quantile(l, q) {
            m.insert(quantile_name(q), json!(ms(v)));
        }
    }
    Json::Object(m)
}

/// Length of `[from, to)` not covered by any window.
fn uncovered(windows: &[FaultWindow], from: u64, to: u64) -> u64 {
    let mut spans: Vec<(u64, u64)> = windows
        .iter()
        .map(|w| (w.start.max(from), w.end_or(to).min(to)))
        .filter(|(s, e)| s < e)
        .collect();
    spans.sort_unstable();
    let (mut covered, mut reach) = (0, from);
    for (s, e) in spans {
        let s = s.max(reach);
        if e > s {
            covered += e - s;
            reach = e;
        }
    }
    (to - from).saturating_sub(covered)
}

impl Checker for StatsChecker {
    fn name(&self) -> &str {
        "stats"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        let mut v = Verdict::valid(self.name());
        let mut pace = Pace::new(budget);
        let windows = fault_windows(history);
        let ops = operations(history);
        let first = ops.first().map_or(0, |o| o.invoke_time());
        let last = history.ops().last().map_or(first, |o| o.time).max(first);

        let mut overall = Group::default();
        let mut by_f: BTreeMap<&str, Group> = BTreeMap::new();
        let mut by_window: Vec<Group> = windows.iter().map(|_| Group::default()).collect();
        let mut no_fault = Group::default();
        for op in &ops {
            if let Err(e) = pace.tick() {
                return Verdict::unknown(self.name(), e.to_string());
            }
            let outcome = op.outcome();
            let latency = op
                .complete_time()
                .map(|c| c.saturating_sub(op.invoke_time()));
            overall.add(outcome, latency);
            by_f.entry(op.f()).or_default().add(outcome, latency);
            let mut in_any = false;
            for (w, g) in windows.iter().zip(by_window.iter_mut()) {
                if w.contains(op.invoke_time()) {
                    g.add(outcome, latency);
                    in_any = true;
                }
            }
            if !in_any {
                no_fault.add(outcome, latency);
            }
        }

        let span = last - first;
        let q = &self.quantiles;
        v.stat("duration_s", round(span as f64 / 1e9, 3));
        v.stat("overall", overall.summary(span, q));
        let mut f_map = Map::new();
        for (f, mut g) in by_f {
            f_map.insert(f.to_string(), g.summary(span, q));
        }
        v.stat("by_f", Json::Object(f_map));
        let faults: Vec<Json> = windows
            .iter()
            .zip(by_window.iter_mut())
            .map(|(w, g)| {
                let end = w.end_or(last);
                let mut j = g.summary(end.saturating_sub(w.start), q);
                if let Json::Object(m) = &mut j {
                    m.insert("fault".into(), json!(w.fault));
                    m.insert("start_s".into(), json!(round(w.start as f64 / 1e9, 3)));
                    m.insert(
                        "end_s".into(),
                        json!(w.end.map(|e| round(e as f64 / 1e9, 3))),
                    );
                    m.insert("start_index".into(), json!(w.start_index));
                    m.insert("end_index".into(), json!(w.end_index));
                }
                j
            })
            .collect();
        v.stat("faults", faults);
        v.stat(
            "no_fault",
            no_fault.summary(uncovered(&windows, first, last), q),
        );
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::dsl::Builder;
    use faultline_core::Value;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(quantile(&v, 0.5), Some(5));
        assert_eq!(quantile(&v, 0.9), Some(9));
        assert_eq!(quantile(&v, 0.99), Some(10));
        assert_eq!(quantile(&v, 1.0), Some(10));
        assert_eq!(quantile(&[7], 0.5), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn counts_outcomes_overall_per_f_and_per_fault() {
        let mut b = Builder::new();
        b.op_ok(0, "write", 1.into(), 1.into()); // 1-2 ms, no fault
        b.nemesis("start-partition", Value::Nil); // 3 ms
        b.invoke(0, "write", 2.into()).fail(0, 2.into()); // 4-5 ms, in the partition
        b.invoke(1, "read", Value::Nil).info(1, Value::Nil); // 6-7 ms, in the partition
        b.nemesis("stop-partition", Value::Nil); // 8 ms
        b.op_ok(0, "read", Value::Nil, 1.into()); // 9-10 ms, no fault
        let v = StatsChecker::default().check(&b.build(), &Budget::unlimited());
        assert_eq!(v.valid, crate::Validity::Valid);
        let overall = &v.stats["overall"];
        assert_eq!(overall["ops"], 4);
        assert_eq!(overall["ok"], 2);
        assert_eq!(overall["availability"], 0.5);
        assert_eq!(overall["latency_ms"]["ok"]["max"], 1.0);
        assert_eq!(v.stats["by_f"]["write"]["fail"], 1);
        let fault = &v.stats["faults"][0];
        assert_eq!(fault["fault"], "partition");
        assert_eq!(
            (
                fault["ok"].clone(),
                fault["fail"].clone(),
                fault["info"].clone()
            ),
            (json!(0), json!(1), json!(1))
        );
        assert_eq!(fault["availability"], 0.0);
        assert_eq!(v.stats["no_fault"]["ok"], 2);
        // 9 ms of history (1..10 ms), 5 of them partitioned (3..8 ms).
        assert_eq!(v.stats["no_fault"]["throughput_ok_per_s"], 500.0);
    }

    #[test]
    fn uncovered_time_merges_overlapping_windows() {
        let w = |s, e| FaultWindow {
            fault: "x".into(),
            start: s,
            end: e,
            start_index: 0,
            end_index: None,
            value: Value::Nil,
        };
        assert_eq!(uncovered(&[w(10, Some(30)), w(20, Some(40))], 0, 100), 70);
        assert_eq!(uncovered(&[w(50, None)], 0, 100), 50);
    }

    #[test]
    fn a_cancelled_budget_is_unknown() {
        let mut b = Builder::new();
        for i in 0..3000 {
            b.op_ok(0, "write", i.into(), i.into());
        }
        let budget = Budget::unlimited();
        budget.cancel();
        let v = StatsChecker::default().check(&b.build(), &budget);
        assert_eq!(v.valid, crate::Validity::Unknown);
        assert!(v.unknown_reason.unwrap().contains("cancelled"));
    }
}
