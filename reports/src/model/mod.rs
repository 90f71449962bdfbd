//! The view-model: everything a report shows, as plain serialisable data, built once from a
//! history, the checkers' verdicts and the test's settings. Renderers (`render`) turn it into
//! HTML and SVG and never look at the history again, so the page can be tested as data and
//! rendering can never change a verdict.

mod evidence;
mod series;
mod timeline;

use std::collections::BTreeMap;

use faultline_checker::faults::fault_windows;
use faultline_checker::{Models, Validity, Verdict};
use faultline_core::{History, Op, OpType};
use serde::Serialize;

pub use evidence::{CycleEdge, CycleNode, CycleView, EvidenceView, LinOp, LinView};
pub use series::{Bucket, LatencyPoint, Series};
pub use timeline::{Gap, Lane, Timeline, TlFault, TlOp};

use crate::escape::truncate;
use crate::render::thousands;
use crate::results::overall;

/// Limits that keep a page small and fast however big the history is.
#[derive(Clone, Debug)]
pub struct Options {
    /// Client ops drawn on the timeline; the ones nearest an anomaly are kept first.
    pub timeline_ops: usize,
    /// Anomalies shown per checker (all of them stay in `results.json`).
    pub anomalies_per_checker: usize,
    /// Anomalies per checker that get a drawing (linearization or cycle).
    pub drawings_per_checker: usize,
    /// Points on the latency scatter plot; more ops are sampled evenly.
    pub latency_points: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeline_ops: 10_000,
            anomalies_per_checker: 50,
            drawings_per_checker: 10,
            latency_points: 4_000,
        }
    }
}

/// How an op ended. `Open`: never completed, which means the same as `info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Fail,
    Info,
    Open,
}

impl Outcome {
    pub fn of(completion: Option<&Op>) -> Outcome {
        match completion.map(|c| c.kind) {
            Some(OpType::Ok) => Outcome::Ok,
            Some(OpType::Fail) => Outcome::Fail,
            Some(_) => Outcome::Info,
            None => Outcome::Open,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
            Outcome::Open => "open",
        }
    }
}

/// Everything the page shows.
#[derive(Clone, Debug, Serialize)]
pub struct ReportModel {
    pub title: String,
    pub valid: Validity,
    /// One sentence under the verdict: what was found, by whom.
    pub headline: String,
    pub seed: Option<String>,
    /// The settings, flattened to `a.b.c = value` rows.
    pub settings: Vec<Setting>,
    pub summary: Summary,
    pub checkers: Vec<CheckerView>,
    pub faults: Vec<FaultView>,
    pub timeline: Timeline,
    pub series: Series,
    /// Things the reader should know: caps applied, history warnings, rendering failures.
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub events: usize,
    pub client_ops: usize,
    pub ok: usize,
    pub fail: usize,
    pub info: usize,
    pub processes: usize,
    pub duration_s: f64,
    pub fault_windows: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CheckerView {
    pub name: String,
    pub valid: Validity,
    pub unknown_reason: Option<String>,
    /// All anomalies the checker reported, and their kinds with counts.
    pub anomaly_count: usize,
    pub kinds: Vec<(String, usize)>,
    /// The first anomalies, as many as the page shows.
    pub anomalies: Vec<AnomalyView>,
    pub models: Models,
    /// Stats as `name = value` rows (nested values as compact JSON).
    pub stats: Vec<Setting>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AnomalyView {
    /// Anchor of the anomaly's card: `a-<checker>-<n>`.
    pub id: String,
    pub kind: String,
    pub key: Option<String>,
    pub explanation: String,
    pub ops: Vec<OpRef>,
    pub evidence: EvidenceView,
}

/// A link from an anomaly to an event on the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct OpRef {
    pub index: u64,
    /// `process 3 ok read 5`, cut to a readable length.
    pub label: String,
    /// Whether the event is drawn on the (possibly capped) timeline, so `#op-N` resolves.
    pub in_timeline: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct FaultView {
    pub fault: String,
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub start_index: u64,
    pub end_index: Option<u64>,
    pub value: String,
}

pub(crate) fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// One line naming an event, for links and tooltips.
pub(crate) fn describe(op: &Op) -> String {
    truncate(&op.describe(), 120)
}

impl ReportModel {
    /// Builds the view-model. Never fails: what cannot be shown becomes a note.
    pub fn build(
        history: &History,
        verdicts: &[Verdict],
        settings: &serde_json::Value,
        options: &Options,
    ) -> ReportModel {
        let mut notes: Vec<String> = history
            .warnings()
            .iter()
            .map(|w| format!("history: {w}"))
            .collect();
        let valid = overall(verdicts);
        let windows = fault_windows(history);
        let faults: Vec<FaultView> = windows
            .iter()
            .map(|w| FaultView {
                fault: w.fault.clone(),
                start_s: secs(w.start),
                end_s: w.end.map(secs),
                start_index: w.start_index,
                end_index: w.end_index,
                value: truncate(&w.value.to_string(), 200),
            })
            .collect();

        // The timeline keeps the ops nearest the anomalies, so every link can resolve.
        let focus: Vec<u64> = verdicts
            .iter()
            .flat_map(|v| v.anomalies.iter().take(options.anomalies_per_checker))
            .flat_map(|a| a.ops.iter().copied())
            .collect();
        let timeline = Timeline::build(history, &windows, &focus, options.timeline_ops);
        if timeline.capped {
            notes.push(format!(
                "The timeline shows {} of {} client ops: those nearest the anomalies first (at most {}).",
                timeline.shown_ops, timeline.total_ops, options.timeline_ops
            ));
        }
        let series = Series::build(history, options.latency_points);
        if series.latency.len() < series.latency_total {
            notes.push(format!(
                "The latency plot samples {} of {} completed ops evenly; the quantiles use all of them.",
                series.latency.len(),
                series.latency_total
            ));
        }

        let checkers = verdicts
            .iter()
            .map(|v| checker_view(history, v, &timeline, options))
            .collect();

        let (ok, fail, info) =
            history
                .client_pairs()
                .fold((0, 0, 0), |(o, f, i), (_, c)| match Outcome::of(c) {
                    Outcome::Ok => (o + 1, f, i),
                    Outcome::Fail => (o, f + 1, i),
                    _ => (o, f, i + 1),
                });
        let mut processes: Vec<u64> = history
            .ops()
            .iter()
            .filter_map(|o| o.process.client())
            .collect();
        processes.sort_unstable();
        processes.dedup();
        let first = history.ops().first().map_or(0, |o| o.time);
        let last = history.ops().last().map_or(0, |o| o.time);
        let summary = Summary {
            events: history.len(),
            client_ops: ok + fail + info,
            ok,
            fail,
            info,
            processes: processes.len(),
            duration_s: secs(last.saturating_sub(first)),
            fault_windows: faults.len(),
        };

        let (settings_rows, seed) = flatten_settings(settings);
        if settings_rows.len() >= MAX_SETTINGS {
            notes.push(format!(
                "Only the first {MAX_SETTINGS} settings are shown; test.json has them all."
            ));
        }
        let title = ["name", "test", "title"]
            .iter()
            .find_map(|k| settings.get(*k).and_then(|v| v.as_str()))
            .map(|s| truncate(s, 120))
            .unwrap_or_else(|| "faultline run".to_string());
        let headline = headline(valid, verdicts, &summary);
        ReportModel {
            title,
            valid,
            headline,
            seed,
            settings: settings_rows,
            summary,
            checkers,
            faults,
            timeline,
            series,
            notes,
        }
    }
}

fn headline(valid: Validity, verdicts: &[Verdict], s: &Summary) -> String {
    let ops = format!(
        "{} client ops ({} ok, {} fail, {} info) over {}",
        thousands(s.client_ops),
        thousands(s.ok),
        thousands(s.fail),
        thousands(s.info),
        crate::render::duration(s.duration_s)
    );
    match valid {
        _ if verdicts.is_empty() => format!("Unknown: no checker ran on {ops}."),
        Validity::Valid => format!(
            "Valid: {} found no anomaly in {ops}.",
            names(verdicts.iter())
        ),
        Validity::Invalid => {
            let bad: Vec<&Verdict> = verdicts
                .iter()
                .filter(|v| v.valid == Validity::Invalid)
                .collect();
            let n: usize = bad.iter().map(|v| v.anomalies.len()).sum();
            let n = thousands(n);
            let found: Vec<String> = bad
                .iter()
                .map(|v| format!("{} ({})", v.checker, v.kinds().join(", ")))
                .collect();
            format!(
                "Invalid: {n} {} found by {} in {ops}.",
                if n == "1" { "anomaly" } else { "anomalies" },
                found.join("; ")
            )
        }
        Validity::Unknown => format!(
            "Unknown: no anomaly found, but {} could not finish on {ops}.",
            names(verdicts.iter().filter(|v| v.valid == Validity::Unknown))
        ),
    }
}

fn names<'a>(vs: impl Iterator<Item = &'a Verdict>) -> String {
    let n: Vec<&str> = vs.map(|v| v.checker.as_str()).collect();
    match n.len() {
        0 => "no checker".into(),
        1 => n[0].to_string(),
        _ => format!("{} and {}", n[..n.len() - 1].join(", "), n[n.len() - 1]),
    }
}

fn checker_view(
    history: &History,
    v: &Verdict,
    timeline: &Timeline,
    options: &Options,
) -> CheckerView {
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for a in &v.anomalies {
        *kinds.entry(a.kind.clone()).or_default() += 1;
    }
    let slug: String = v
        .checker
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let anomalies = v
        .anomalies
        .iter()
        .take(options.anomalies_per_checker)
        .enumerate()
        .map(|(n, a)| AnomalyView {
            id: format!("a-{slug}-{n}"),
            kind: a.kind.clone(),
            key: a.key.as_ref().map(|k| truncate(&k.to_string(), 200)),
            explanation: truncate(&a.explanation, 20_000),
            ops: a
                .ops
                .iter()
                .take(200)
                .map(|&i| OpRef {
                    index: i,
                    label: history
                        .get(i as usize)
                        .map(describe)
                        .unwrap_or_else(|| format!("event {i} (not in the history)")),
                    in_timeline: timeline.shows(i),
                })
                .collect(),
            evidence: if n < options.drawings_per_checker {
                EvidenceView::build(history, &a.evidence)
            } else {
                EvidenceView::None
            },
        })
        .collect();
    let stats = v
        .stats
        .iter()
        .map(|(k, val)| Setting {
            key: k.clone(),
            value: truncate(&scalar(val), 2_000),
        })
        .collect();
    CheckerView {
        name: v.checker.clone(),
        valid: v.valid,
        unknown_reason: v.unknown_reason.clone(),
        anomaly_count: v.anomalies.len(),
        kinds: kinds.into_iter().collect(),
        anomalies,
        models: v.models.clone(),
        stats,
    }
}

const MAX_SETTINGS: usize = 300;

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Flattens nested objects to dotted keys (arrays stay compact JSON) and finds the seed:
/// a key named `seed` at any depth, the shallowest first.
fn flatten_settings(settings: &serde_json::Value) -> (Vec<Setting>, Option<String>) {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<Setting>, depth: usize) {
        match v {
            serde_json::Value::Object(m) if depth < 8 => {
                // Sorted, so the table does not depend on serde_json's map features.
                let mut entries: Vec<(&String, &serde_json::Value)> = m.iter().collect();
                entries.sort_unstable_by_key(|(k, _)| k.as_str());
                for (k, x) in entries {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, x, out, depth + 1);
                }
            }
            other => {
                if out.len() < MAX_SETTINGS {
                    out.push(Setting {
                        key: truncate(prefix, 200),
                        value: truncate(&scalar(other), 500),
                    });
                }
            }
        }
    }
    let mut out = Vec::new();
    match settings {
        serde_json::Value::Null => {}
        serde_json::Value::Object(_) => walk("", settings, &mut out, 0),
        other => walk("settings", other, &mut out, 0),
    }
    let seed = out
        .iter()
        .filter(|s| s.key == "seed" || s.key.ends_with(".seed"))
        .min_by_key(|s| s.key.matches('.').count())
        .map(|s| s.value.clone());
    (out, seed)
}

#[cfg(test)]
mod tests;
