//! Times building and writing the report of a big history and prints the page size:
//! `cargo run --release -p faultline-reports --example report_bench -- 100000`.

#[path = "../tests/fixture/mod.rs"]
mod fixture;

use std::time::Instant;

use faultline_reports::{render_html, Options, ReportModel};

fn main() {
    let ops: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let t = Instant::now();
    let (history, verdicts, settings) = fixture::big_run(ops);
    let gen = t.elapsed();
    let tmp = std::env::temp_dir().join(format!("faultline-report-bench-{}", std::process::id()));
    let t = Instant::now();
    let model = ReportModel::build(&history, &verdicts, &settings, &Options::default());
    let build = t.elapsed();
    let t = Instant::now();
    let (html, _) = render_html(&model);
    let render = t.elapsed();
    let t = Instant::now();
    let files = faultline_reports::write_report(&tmp, &history, &verdicts, &settings)
        .expect("write report");
    let total = t.elapsed();
    let size = std::fs::metadata(&files.index_html)
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "| client ops | events | generate | model | render | write_report (all) | index.html |"
    );
    println!(
        "|-----------:|-------:|---------:|------:|-------:|-------------------:|-----------:|"
    );
    println!(
        "| {ops} | {} | {:.2} s | {:.3} s | {:.3} s | {:.3} s | {:.2} MB |",
        history.len(),
        gen.as_secs_f64(),
        build.as_secs_f64(),
        render.as_secs_f64(),
        total.as_secs_f64(),
        size as f64 / 1e6
    );
    assert_eq!(
        html.len() as u64,
        size,
        "the page written is the page rendered"
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
