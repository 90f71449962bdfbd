//! `faultline matrix FILE`: runs a table of tests (target, mode and options, workload,
//! nemesis, time limit) and compares what the checkers found with what each row expects:
//! the consistency regression gate for CI. Prints a table (row, expected, found, result,
//! time), writes `index.html` linking each row's run and `junit.xml` under `--out`, and exits
//! 0 only if every row that ran matched. Rows whose target cannot be installed are skipped
//! with the reason, not failed.

mod judge;
mod spec;
mod summary;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::exit;
use crate::run::{File, Settings};
use crate::targets::real;
use summary::{RowResult, Status};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The matrix file (TOML; see matrix/replication-modes.toml).
    pub file: PathBuf,
    /// Only these rows (comma-separated names).
    #[arg(long, value_delimiter = ',')]
    pub rows: Vec<String>,
    /// Where the summary and every row's run go (default runs/matrix-<file name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// List the rows and exit.
    #[arg(long)]
    pub list: bool,
}

fn settings_of(row: &spec::Row, runs_dir: &Path) -> Settings {
    let s = &row.settings;
    let file = File {
        test: Some(row.name.clone()),
        target: s.target.clone(),
        mode: s.mode.clone(),
        mode_options: s.options.clone(),
        workload: s.workload.clone(),
        nemesis: s.nemesis.clone(),
        nemesis_interval: s.nemesis_interval,
        nodes: s.nodes,
        concurrency: s.concurrency,
        rate: s.rate,
        time_limit: s.time_limit,
        seed: s.seed,
        op_timeout: s.op_timeout,
        check_timeout: None,
        runs_dir: Some(runs_dir.to_path_buf()),
        env: None,
        hosts: None,
    };
    Settings::resolve(File::default(), file, None)
}

fn expected_text(row: &spec::Row) -> String {
    row.expect
        .iter()
        .map(|(c, e)| format!("{c}: {}", e.describe()))
        .collect::<Vec<_>>()
        .join("; ")
}

fn run_row(row: &spec::Row, out: &Path) -> RowResult {
    let target = row.settings.target.clone().unwrap_or_default();
    let mut result = RowResult {
        name: row.name.clone(),
        target: target.clone(),
        status: Status::Error,
        expected: expected_text(row),
        found: String::new(),
        secs: 0.0,
        reasons: Vec::new(),
        literature: row.literature.clone(),
        run_dir: None,
    };
    let start = Instant::now();
    if real::NAMES.contains(&target.as_str()) {
        if let Err(e) = real::available(&target) {
            result.status = Status::Skipped;
            result.reasons.push(format!("skipped: {e}"));
            return result;
        }
    }
    // Rows run one after another, so `latest` under the shared runs directory is this row's.
    let runs_dir = out.join("runs");
    let settings = settings_of(row, &runs_dir);
    println!("== row {} ({})", row.name, settings.reproduce());
    let code = crate::run::run_settings(settings);
    result.secs = start.elapsed().as_secs_f64();
    let latest = runs_dir.join("latest");
    let dir = std::fs::canonicalize(&latest).ok();
    let results = dir
        .as_ref()
        .and_then(|d| std::fs::read_to_string(d.join("results.json")).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    result.run_dir = dir;
    let Some(results) = results else {
        result.reasons.push(match code {
            Ok(c) => format!("the run wrote no results.json (exit {c})"),
            Err(e) => format!("the run failed: {e:#}"),
        });
        return result;
    };
    let found = judge::read_found(&results);
    result.found = found
        .iter()
        .filter(|f| row.expect.iter().any(|(c, _)| c == &f.checker))
        .map(|f| format!("{}: {}", f.checker, f.describe()))
        .collect::<Vec<_>>()
        .join("; ");
    let harness: Vec<String> = results
        .get("harness_errors")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let ok_ops = results
        .get("ops")
        .and_then(|o| o.get("ok"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    if ok_ops == 0 {
        // Nothing succeeded, so nothing was tested: no expectation can be said to hold.
        result.reasons.extend(harness);
        result
            .reasons
            .push("no op succeeded: the run tested nothing".into());
        return result;
    }
    result.reasons = judge::judge(&row.expect, &found);
    result.status = if result.reasons.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    result
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    let rows = match spec::load(&args.file) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("faultline matrix: {e}");
            return Ok(exit::USAGE);
        }
    };
    for want in &args.rows {
        if !rows.iter().any(|r| &r.name == want) {
            eprintln!(
                "faultline matrix: --rows {want:?}: {} has no such row; its rows are {}",
                args.file.display(),
                rows.iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Ok(exit::USAGE);
        }
    }
    let selected: Vec<&spec::Row> = rows
        .iter()
        .filter(|r| args.rows.is_empty() || args.rows.contains(&r.name))
        .collect();
    if args.list {
        for r in &selected {
            println!("{:<28} {}", r.name, expected_text(r));
        }
        return Ok(exit::VALID);
    }
    let stem = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "matrix".into());
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(format!("matrix-{stem}")));
    std::fs::create_dir_all(&out)?;
    let mut results = Vec::with_capacity(selected.len());
    for row in selected {
        let r = run_row(row, &out);
        println!(
            "== row {}: {}{}",
            r.name,
            r.status.as_str(),
            if r.reasons.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.reasons.join("; "))
            }
        );
        results.push(r);
        // Written after every row, so an interrupted matrix still has its summary.
        std::fs::write(out.join("index.html"), summary::html(&stem, &out, &results))?;
        std::fs::write(out.join("junit.xml"), summary::junit(&stem, &results))?;
    }
    println!();
    print!("{}", summary::table(&results));
    println!("summary    {}", out.join("index.html").display());
    let any = |s: Status| results.iter().any(|r| r.status == s);
    Ok(if any(Status::Fail) {
        exit::INVALID
    } else if any(Status::Error) {
        exit::HARNESS
    } else {
        exit::VALID
    })
}
