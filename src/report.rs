//! `faultline report RUN_DIR`: regenerates `index.html` and `junit.xml` of a run from its
//! `history.jsonl`, `results.json` and `test.json`. `results.json` is the source of truth and
//! is never rewritten. Missing pieces are tolerated and named: no history gives a page of
//! verdicts only; no results gives an unknown verdict; no `test.json` gives no settings.
//! The exit code is the recorded verdict's (0 valid, 1 invalid, 3 unknown).

use std::path::PathBuf;

use anyhow::Context;
use faultline_checker::Validity;
use faultline_core::format::read_path;
use faultline_core::History;
use faultline_reports::{write_pages, Options, RunResults};

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory: history.jsonl, results.json and test.json (each optional, not all).
    pub run_dir: PathBuf,
    /// Write index.html and junit.xml here instead of into RUN_DIR.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Client ops drawn on the timeline at most (the ones nearest anomalies first).
    #[arg(long, default_value_t = 10_000)]
    pub timeline_ops: usize,
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    let dir = &args.run_dir;
    if !dir.is_dir() {
        eprintln!("faultline report: {}: not a directory", dir.display());
        return Ok(exit::USAGE);
    }
    // A run may hold its history under one of the names the importers know.
    let history_path = ["history.jsonl", "history.edn"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists());
    let results_path = dir.join("results.json");
    if history_path.is_none() && !results_path.exists() {
        eprintln!(
            "faultline report: {}: neither history.jsonl nor results.json is there; nothing to report",
            dir.display()
        );
        return Ok(exit::USAGE);
    }

    let history = match &history_path {
        Some(p) => match read_path(p, None) {
            Ok(loaded) => loaded.history,
            Err(e) => {
                eprintln!("faultline report: {e}");
                return Ok(exit::USAGE);
            }
        },
        None => {
            eprintln!(
                "faultline report: {}: no history.jsonl; the page shows the verdicts only",
                dir.display()
            );
            History::default()
        }
    };
    let results = if results_path.exists() {
        match RunResults::read(&results_path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("faultline report: {e}");
                return Ok(exit::USAGE);
            }
        }
    } else {
        eprintln!(
            "faultline report: {}: no results.json; the verdict is unknown (run `faultline check` to produce one)",
            dir.display()
        );
        RunResults::new(&[])
    };
    let test_path = dir.join("test.json");
    let settings = if test_path.exists() {
        let text = std::fs::read_to_string(&test_path)
            .with_context(|| format!("{}", test_path.display()))?;
        match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                eprintln!(
                    "faultline report: {}:{}: {e}; settings left out",
                    test_path.display(),
                    e.line()
                );
                serde_json::Value::Null
            }
        }
    } else {
        serde_json::Value::Null
    };

    let out = args.out.as_deref().unwrap_or(dir);
    let options = Options {
        timeline_ops: args.timeline_ops.max(1),
        ..Options::default()
    };
    let files = match write_pages(out, &history, &results, &settings, &options) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("faultline report: {e}");
            return Ok(exit::HARNESS);
        }
    };
    println!("{}", files.index_html.display());
    println!("{}", files.junit_xml.display());
    Ok(match results.valid {
        Validity::Valid => exit::VALID,
        Validity::Invalid => exit::INVALID,
        Validity::Unknown => exit::UNKNOWN,
    })
}
