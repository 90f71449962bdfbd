use faultline_checker::{Anomaly, CycleStep, Evidence, Validity, Verdict};
use faultline_core::dsl::Builder;
use faultline_core::Value;
use serde_json::json;

use super::*;

fn small() -> History {
    let mut b = Builder::new();
    b.op_ok(0, "write", 1.into(), 1.into()); // 0, 1
    b.nemesis("start-partition", Value::Nil); // 2
    b.invoke(1, "read", Value::Nil).info(1, Value::Nil); // 3, 4
    b.nemesis("stop-partition", Value::Nil); // 5
    b.invoke(2, "read", Value::Nil)
        .ok(2, Value::Str("<script>x</script>".into())); // 6, 7
    b.build()
}

fn invalid(ops: Vec<u64>) -> Verdict {
    let mut v = Verdict::valid("lin");
    v.push(Anomaly::new("nonlinearizable", ops, "because"));
    v
}

#[test]
fn headline_names_the_verdict_and_who_found_what() {
    let h = small();
    let m = ReportModel::build(
        &h,
        &[invalid(vec![6, 7])],
        &json!(null),
        &Options::default(),
    );
    assert_eq!(m.valid, Validity::Invalid);
    assert!(
        m.headline
            .starts_with("Invalid: 1 anomaly found by lin (nonlinearizable)"),
        "{}",
        m.headline
    );
    let m = ReportModel::build(&h, &[], &json!(null), &Options::default());
    assert_eq!(m.valid, Validity::Unknown);
    assert!(m.headline.starts_with("Unknown: no checker ran"));
    let m = ReportModel::build(
        &h,
        &[Verdict::valid("a"), Verdict::unknown("b", "out of time")],
        &json!(null),
        &Options::default(),
    );
    assert!(m
        .headline
        .starts_with("Unknown: no anomaly found, but b could not finish"));
}

#[test]
fn summary_counts_outcomes_and_faults() {
    let m = ReportModel::build(&small(), &[], &json!(null), &Options::default());
    let s = &m.summary;
    assert_eq!((s.client_ops, s.ok, s.fail, s.info), (3, 2, 0, 1));
    assert_eq!((s.processes, s.fault_windows, s.events), (3, 1, 8));
    assert_eq!(m.faults[0].fault, "partition");
    assert_eq!(
        (m.faults[0].start_index, m.faults[0].end_index),
        (2, Some(5))
    );
}

#[test]
fn settings_flatten_and_the_seed_is_found() {
    let s = json!({"name": "t", "nemesis": {"seed": 9, "kinds": ["kill"]}, "seed": 42});
    let (rows, seed) = flatten_settings(&s);
    assert_eq!(seed.as_deref(), Some("42"));
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, vec!["name", "nemesis.kinds", "nemesis.seed", "seed"]);
    assert_eq!(rows[1].value, r#"["kill"]"#);
    let m = ReportModel::build(&small(), &[], &s, &Options::default());
    assert_eq!(m.title, "t");
}

#[test]
fn anomaly_links_resolve_to_timeline_events() {
    let h = small();
    let m = ReportModel::build(
        &h,
        &[invalid(vec![6, 7])],
        &json!(null),
        &Options::default(),
    );
    let a = &m.checkers[0].anomalies[0];
    assert_eq!(a.id, "a-lin-0");
    assert!(a.ops.iter().all(|o| o.in_timeline));
    assert!(a.ops[1].label.contains("ok read"), "{}", a.ops[1].label);
    // The completion's event is drawn as part of its op's bar.
    let op = m.timeline.ops.iter().find(|o| o.index == 6).unwrap();
    assert_eq!(op.completion, Some(7));
    assert_eq!(op.outcome, Outcome::Ok);
    assert!(op.flagged, "ops named by an anomaly are outlined");
    assert!(!m.timeline.ops[0].flagged);
}

#[test]
fn a_capped_timeline_keeps_the_ops_around_the_anomaly() {
    let mut b = Builder::new();
    for i in 0..1_000 {
        b.op_ok(i % 4, "write", Value::Int(i as i64), Value::Int(i as i64));
    }
    let h = b.build();
    let options = Options {
        timeline_ops: 50,
        ..Options::default()
    };
    let m = ReportModel::build(&h, &[invalid(vec![1_500])], &json!(null), &options);
    let t = &m.timeline;
    assert!(t.capped);
    assert_eq!((t.shown_ops, t.total_ops), (50, 1_000));
    assert!(t.ops.iter().any(|o| o.index == 1_500));
    assert!(t.ops.iter().all(|o| o.index.abs_diff(1_500) <= 60));
    assert!(m.checkers[0].anomalies[0].ops[0].in_timeline);
    assert!(
        m.notes.iter().any(|n| n.contains("50 of 1000 client ops")),
        "{:?}",
        m.notes
    );
    assert!(!t.shows(2), "event 2 is far from the anomaly");
}

#[test]
fn retired_processes_share_a_lane_with_their_successors() {
    let mut b = Builder::new();
    b.invoke(0, "write", 1.into()).info(0, Value::Nil);
    b.op_ok(5, "write", 2.into(), 2.into());
    b.op_ok(1, "read", Value::Nil, 2.into());
    let m = ReportModel::build(&b.build(), &[], &json!(null), &Options::default());
    let labels: Vec<&str> = m.timeline.lanes.iter().map(|l| l.label.as_str()).collect();
    assert_eq!(labels, vec!["0, 5, 1"]);
}

#[test]
fn linearization_evidence_orders_the_prefix_and_marks_the_unplaceable_op() {
    let h = small();
    let mut v = Verdict::valid("lin");
    v.push(
        Anomaly::new("nonlinearizable", vec![6], "x").with_evidence(Evidence::Linearization {
            prefix: vec![1, 3], // completion indices name their invocations
            states: vec!["1".into(), "1".into()],
            state: "1".into(),
            unplaceable: vec![6],
            window: vec![],
        }),
    );
    let m = ReportModel::build(&h, &[v], &json!(null), &Options::default());
    let EvidenceView::Linearization(l) = &m.checkers[0].anomalies[0].evidence else {
        panic!("no linearization view");
    };
    let order: Vec<(u64, Option<usize>, bool)> = l
        .ops
        .iter()
        .map(|o| (o.index, o.order, o.unplaceable))
        .collect();
    assert_eq!(
        order,
        vec![(0, Some(1), false), (3, Some(2), false), (6, None, true)]
    );
    assert_eq!(l.processes, vec!["process 0", "process 1", "process 2"]);
    assert_eq!(l.ops[0].state_after.as_deref(), Some("1"));
    assert_eq!(l.ops[2].state_after, None);
    // Points are in prefix order and inside each op's interval (op 3 never completed).
    let p: Vec<f64> = l.ops.iter().filter_map(|o| o.point_s).collect();
    assert!(p[0] <= p[1] && p[0] >= l.ops[0].start_s && p[1] >= l.ops[1].start_s);
}

#[test]
fn cycle_evidence_numbers_transactions_in_order() {
    let step = |from, to, edge: &str| CycleStep {
        from,
        to,
        edge: edge.into(),
        why: format!("{edge} because"),
    };
    let ev = Evidence::Cycle {
        steps: vec![step(1, 7, "wr"), step(7, 4, "rw"), step(4, 1, "process")],
    };
    let EvidenceView::Cycle(c) = EvidenceView::build(&small(), &ev) else {
        panic!("no cycle view");
    };
    let names: Vec<(&str, u64)> = c.nodes.iter().map(|n| (n.name.as_str(), n.index)).collect();
    assert_eq!(names, vec![("T1", 1), ("T2", 7), ("T3", 4)]);
    assert_eq!((c.edges[2].from, c.edges[2].to), (2, 0));
}

#[test]
fn the_model_serialises() {
    let m = ReportModel::build(
        &small(),
        &[invalid(vec![6])],
        &json!({"seed": 1}),
        &Options::default(),
    );
    let j = serde_json::to_value(&m).unwrap();
    assert_eq!(j["valid"], "invalid");
    assert_eq!(j["checkers"][0]["anomalies"][0]["ops"][0]["index"], 6);
    assert_eq!(j["seed"], "1");
}

#[test]
fn script_values_render_as_text() {
    let h = small();
    let mut v = invalid(vec![6, 7]);
    v.anomalies[0].explanation = "saw <script>alert(1)</script>".into();
    v.anomalies[0].kind = "<img src=x onerror=alert(1)>".into();
    let settings = json!({"name": "<b>run</b>", "x": "<script>y</script>"});
    let m = ReportModel::build(&h, &[v], &settings, &Options::default());
    let (html, failures) = crate::render_html(&m);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(!html.contains("<script>x"), "history value unescaped");
    assert!(!html.contains("<script>alert"), "explanation unescaped");
    assert!(!html.contains("<script>y"), "setting unescaped");
    assert!(!html.contains("<img"), "kind unescaped");
    assert!(!html.contains("<b>run"), "title unescaped");
    assert!(html.contains("saw &lt;script&gt;alert(1)&lt;/script&gt;"));
    // Only our own two scripts, the probe and the page script, plus the data block.
    assert_eq!(html.matches("<script").count(), 3);
}

#[test]
fn an_empty_history_still_renders_the_verdicts() {
    let m = ReportModel::build(
        &History::default(),
        &[invalid(vec![3])],
        &json!(null),
        &Options::default(),
    );
    assert_eq!(
        m.checkers[0].anomalies[0].ops[0].label,
        "event 3 (not in the history)"
    );
    assert!(!m.checkers[0].anomalies[0].ops[0].in_timeline);
    let (html, failures) = crate::render_html(&m);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(html.contains("</span>Invalid</div>"));
    assert!(html.contains("The history has no client ops."));
    assert!(html.contains("No completed ops to plot."));
}

#[test]
fn a_plot_that_cannot_be_drawn_is_a_note_not_a_panic() {
    let mut m = ReportModel::build(&small(), &[], &json!(null), &Options::default());
    // Data no axis can hold.
    m.series.t0_s = f64::NAN;
    m.series.t1_s = f64::INFINITY;
    for p in &mut m.series.latency {
        p.ms = f64::NAN;
    }
    for b in &mut m.series.buckets {
        b.ok_per_s = f64::INFINITY;
        b.p50 = Some(f64::NAN);
    }
    let (html, failures) = crate::render_html(&m);
    assert!(!failures.is_empty());
    assert!(
        failures.iter().all(|f| f.contains("could not be drawn")),
        "{failures:?}"
    );
    assert!(html.contains("class=\"plot-failed\""));
    assert!(html.contains("<section id=\"notes\">"));
    assert!(
        html.contains("</span>Unknown</div>"),
        "the verdict is still shown"
    );
}

#[test]
fn a_heal_closing_two_faults_gives_each_event_one_id() {
    let mut b = Builder::new();
    b.nemesis("start-partition", Value::Nil); // 0
    b.nemesis("pause", Value::Nil); // 1
    b.op_ok(0, "read", Value::Nil, 1.into()); // 2, 3
    b.nemesis("heal", Value::Nil); // 4
    let m = ReportModel::build(&b.build(), &[], &json!(null), &Options::default());
    assert_eq!(m.faults.len(), 2);
    let (html, _) = crate::render_html(&m);
    for id in ["op-0", "op-1", "op-2", "op-3", "op-4"] {
        assert_eq!(html.matches(&format!("id=\"{id}\"")).count(), 1, "{id}");
    }
}
