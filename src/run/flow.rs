//! One run from settings to exit code: validate, make the run directory, build the
//! environment and target, run the loop with Ctrl-C and panics routed through the same
//! teardown, check the history, write `results.json`, print the summary.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_checker::faults::fault_windows;
use faultline_checker::{Validity, Verdict};
use faultline_core::env::{Env, EnvError, LocalEnv};
use faultline_core::nemesis::{Cluster, Nemesis};
use faultline_core::run::{run as run_loop, Recorder, RunConfig, RunOutcome};
use faultline_core::target::Target;
use faultline_core::{History, OpType};
use faultline_nemeses::netns::NetnsEnv;
use faultline_nemeses::REGISTRY_DIR;
use faultline_reports::{write_report_with, Options as ReportOptions, RunResults};
use faultline_workloads::Bundle;
use serde_json::json;
use tokio::sync::watch;

use super::checks::{combine, run_checkers};
use super::settings::Settings;
use super::summary;
use crate::exit;
use crate::targets::{memory::Memory, real, replica};

const TARGETS: &[&str] = &["replica", "memory"];

fn usage(msg: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("faultline run: {msg}");
    Ok(exit::USAGE)
}

/// `YYYYMMDDTHHMMSS.mmmZ` in UTC, without a date crate (Howard Hinnant's civil_from_days).
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Makes `runs/<test>/<timestamp>/` and points `runs/latest` at it.
fn make_run_dir(s: &Settings) -> std::io::Result<PathBuf> {
    let dir = s
        .runs_dir
        .join(&s.test)
        .join(timestamp(std::time::SystemTime::now()));
    std::fs::create_dir_all(&dir)?;
    let latest = s.runs_dir.join("latest");
    let _ = std::fs::remove_file(&latest);
    let rel = dir.strip_prefix(&s.runs_dir).unwrap_or(&dir).to_path_buf();
    let _ = std::os::unix::fs::symlink(rel, &latest);
    Ok(dir)
}

fn write_json(path: &Path, v: &serde_json::Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

pub fn run(mut s: Settings) -> anyhow::Result<i32> {
    if let Err(e) = s.check() {
        return usage(e);
    }
    if let Err(e) = super::ssh_env::check(&mut s) {
        return usage(e);
    }
    if !TARGETS.contains(&s.target.as_str()) && !real::NAMES.contains(&s.target.as_str()) {
        return usage(format!(
            "unknown target {:?}; the targets are {}, {}",
            s.target,
            TARGETS.join(", "),
            real::NAMES.join(", ")
        ));
    }
    if s.target == "replica" && !replica::MODES.contains(&s.mode.as_str()) {
        return usage(format!(
            "unknown mode {:?}; the modes are {}",
            s.mode,
            replica::MODES.join(", ")
        ));
    }
    let bundle = match faultline_workloads::by_name(&s.workload, &Default::default()) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let nemeses = match faultline_nemeses::parse_list(&s.nemesis) {
        Ok(n) => n,
        Err(e) => return usage(e),
    };
    if s.target != "memory" && s.env == "netns" {
        if let Err(e) = faultline_nemeses::netns::check_available() {
            eprintln!("faultline run: {e}");
            return Ok(exit::HARNESS);
        }
    }
    let binary = match &s.node_binary {
        Some(b) => b.clone(),
        None => std::env::current_exe()?,
    };
    let dir = make_run_dir(&s)?;
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    write_json(
        &dir.join("test.json"),
        &json!({
            "settings": &s,
            "reproduce": s.reproduce(),
            "faultline_version": env!("CARGO_PKG_VERSION"),
        }),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let recorder = Arc::new(Recorder::to_file(&dir.join("history.jsonl"))?);
    let result = runtime.block_on(execute(
        &s,
        &dir,
        &binary,
        bundle_workload(&bundle),
        &bundle,
        nemeses,
        recorder.clone(),
    ));
    // Nodes and namespaces are gone by now; the checkers need no runtime.
    drop(runtime);
    let (ops, write_error) = recorder.finish();
    let mut harness_errors = Vec::new();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            harness_errors.push(e);
            RunOutcome::default()
        }
    };
    if let Some(e) = write_error {
        harness_errors.push(format!("writing history.jsonl: {e}"));
    }
    harness_errors.extend(outcome.panics.iter().map(|p| format!("panic: {p}")));
    finish(&s, &dir, ops, &bundle, &outcome, harness_errors)
}

fn bundle_workload(b: &Bundle) -> Arc<dyn faultline_core::run::Workload> {
    b.workload.clone()
}

/// Environment, target, the loop, teardown. Returns the loop's outcome, or the harness
/// failure as a sentence (teardown has happened either way).
async fn execute(
    s: &Settings,
    dir: &Path,
    binary: &Path,
    workload: Arc<dyn faultline_core::run::Workload>,
    bundle: &Bundle,
    nemeses: Vec<Arc<dyn Nemesis>>,
    recorder: Arc<Recorder>,
) -> Result<RunOutcome, String> {
    let env: Arc<dyn Env> = match s.target.as_str() {
        "memory" => Arc::new(LocalEnv::new(s.nodes)),
        _ if s.env == "ssh" => super::ssh_env::create(s, dir).await?,
        _ => {
            let dir2 = dir.to_path_buf();
            let n = s.nodes;
            let made = tokio::task::spawn_blocking(move || {
                NetnsEnv::create(n, &dir2, Path::new(REGISTRY_DIR))
            })
            .await
            .map_err(|e| format!("creating the network: {e}"))?;
            match made {
                Ok(e) => {
                    eprintln!(
                        "faultline run: network {} (run id {})",
                        e.record().subnet,
                        e.run_id()
                    );
                    Arc::new(e)
                }
                Err(e @ EnvError::Unavailable(_)) => return Err(e.to_string()),
                Err(e) => return Err(format!("creating the network: {e}")),
            }
        }
    };
    let target: Arc<dyn Target> = match s.target.as_str() {
        "memory" => Arc::new(Memory::new(s.nodes)),
        t if real::NAMES.contains(&t) => {
            let options = real::Options {
                values: s.mode_options.clone(),
                origin: format!("target {t}"),
            };
            match real::build(t, &options, env.clone()) {
                Ok(t) => t,
                Err(e) => {
                    let _ = env.teardown().await;
                    return Err(format!("{t}: {e}"));
                }
            }
        }
        _ => Arc::new(replica::Replica::new(
            env.clone(),
            &s.mode,
            s.node_options(),
            binary.to_path_buf(),
            dir.to_path_buf(),
        )),
    };
    // The workload's ops through the store's primitives (counter, set, bank). The real
    // targets that run bank natively (postgres' accounts table) keep their own transfers.
    let target = if bundle.workload.name() == "bank" && real::NAMES.contains(&s.target.as_str()) {
        target
    } else {
        bundle.wrap(target)
    };
    let cluster = Cluster {
        env: env.clone(),
        target: target.clone(),
    };

    // Ctrl-C and SIGTERM end the run early through the same heal-and-teardown path.
    let (stop_tx, stop_rx) = watch::channel(false);
    let signals = tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        eprintln!("faultline run: interrupted; healing faults and stopping nodes");
        let _ = stop_tx.send(true);
    });

    let config = RunConfig {
        concurrency: s.concurrency,
        time_limit: Duration::from_secs_f64(s.time_limit),
        rate: s.rate,
        op_timeout: Duration::from_secs_f64(s.op_timeout),
        nemesis_interval: Duration::from_secs_f64(s.nemesis_interval),
        settle: None,
        seed: s.seed,
        final_reads: true,
    };

    let setup = {
        let t = target.clone();
        let mut stop = stop_rx.clone();
        tokio::select! {
            r = t.setup() => r.map_err(|e| format!("starting {}: {e}", t.name())),
            _ = stop.changed() => Err("interrupted during setup".to_string()),
        }
    };
    let result = match setup {
        Err(e) => Err(e),
        Ok(()) => {
            let bar = summary::progress(recorder.clone(), config.time_limit);
            let task = {
                let (cluster, recorder, stop) =
                    (cluster.clone(), recorder.clone(), stop_rx.clone());
                tokio::spawn(async move {
                    run_loop(&config, &cluster, workload, nemeses, recorder, stop).await
                })
            };
            let r = task
                .await
                .map_err(|e| format!("the run loop panicked: {e}"));
            if let Some((bar, t)) = bar {
                t.abort();
                bar.finish_and_clear();
            }
            r
        }
    };
    // Always: stop nodes, remove the network.
    if let Err(e) = target.teardown().await {
        eprintln!("faultline run: stopping nodes: {e}");
    }
    if let Err(e) = env.teardown().await {
        eprintln!("faultline run: removing the network: {e}");
    }
    signals.abort();
    result
}

/// Checks the history, writes results.json, prints the summary; returns the exit code.
fn finish(
    s: &Settings,
    dir: &Path,
    ops: Vec<faultline_core::Op>,
    bundle: &Bundle,
    outcome: &RunOutcome,
    harness_errors: Vec<String>,
) -> anyhow::Result<i32> {
    let history = match History::from_ops(ops) {
        Ok(h) => h,
        Err(e) => {
            eprintln!(
                "faultline run: the recorded history is malformed ({e}); this is a harness bug"
            );
            return Ok(exit::HARNESS);
        }
    };
    let verdicts: Vec<Verdict> = run_checkers(
        &history,
        &bundle.checkers,
        Duration::from_secs_f64(s.check_timeout),
    );
    let mut valid = combine(&verdicts);
    if outcome.interrupted && valid == Validity::Valid {
        valid = Validity::Unknown;
    }
    let count = |k: OpType| {
        history
            .ops()
            .iter()
            .filter(|o| o.is_client() && o.kind == k)
            .count()
    };
    let (invokes, ok, fail, info) = (
        count(OpType::Invoke),
        count(OpType::Ok),
        count(OpType::Fail),
        count(OpType::Info),
    );
    let windows = fault_windows(&history);
    let results = json!({
        "test": s.test,
        "seed": s.seed,
        "run_dir": dir.display().to_string(),
        "reproduce": s.reproduce(),
        "interrupted": outcome.interrupted,
        "ops": {"invoked": invokes, "ok": ok, "fail": fail, "info": info,
                "indeterminate": invokes.saturating_sub(ok + fail + info)},
        "faults": {
            "injected": outcome.faults,
            "windows": windows.len(),
            "not_applied": outcome.fault_errors,
            "heal_errors": outcome.heal_errors,
        },
        "harness_errors": harness_errors,
    });
    // results.json in the reports' shape (`valid`, `verdicts`, the harness's fields beside
    // them), so `faultline report` can re-render it. Written before any drawing is tried.
    let results = RunResults {
        valid,
        verdicts: verdicts.clone(),
        extra: match results {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        },
    };
    write_json(&dir.join("results.json"), &serde_json::to_value(&results)?)?;
    let report_note = render_report(s, dir, &history, &results);

    println!("test       {} (seed {})", s.test, s.seed);
    println!(
        "ops        {invokes} invoked: {ok} ok, {fail} fail, {info} info{}",
        if outcome.interrupted {
            " (interrupted)"
        } else {
            ""
        }
    );
    let mut kinds: Vec<&str> = windows.iter().map(|w| w.fault.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    println!(
        "faults     {} injected{}",
        outcome.faults,
        if kinds.is_empty() {
            String::new()
        } else {
            format!(" ({})", kinds.join(", "))
        }
    );
    let mut reasons: Vec<&String> = outcome.fault_errors.iter().collect();
    reasons.sort();
    reasons.dedup();
    for e in reasons.iter().take(5) {
        println!("           not applied: {e}");
    }
    for e in &outcome.heal_errors {
        println!("           heal failed: {e}");
    }
    for v in &verdicts {
        let detail = match v.valid {
            Validity::Invalid => format!(
                " ({} anomalies: {})",
                v.anomalies.len(),
                v.kinds().join(", ")
            ),
            Validity::Unknown => format!(" ({})", v.unknown_reason.as_deref().unwrap_or("")),
            Validity::Valid => String::new(),
        };
        println!("checker    {:<18} {}{detail}", v.checker, v.valid);
    }
    for e in &harness_errors {
        println!("harness    {e}");
    }
    println!("verdict    {}", valid.as_str().to_uppercase());
    println!("run dir    {}", dir.display());
    match report_note {
        None => println!("report     {}", dir.join("index.html").display()),
        Some(n) => println!("report     not written: {n}"),
    }
    if !harness_errors.is_empty() && ok == 0 {
        return Ok(exit::HARNESS);
    }
    Ok(match valid {
        Validity::Valid => exit::VALID,
        Validity::Invalid => {
            println!("reproduce  {}", s.reproduce());
            exit::INVALID
        }
        Validity::Unknown => {
            if !harness_errors.is_empty() {
                exit::HARNESS
            } else {
                exit::UNKNOWN
            }
        }
    })
}

/// Writes index.html and junit.xml. A failure (even a panic in a renderer) becomes a note;
/// the verdict is already decided and written.
fn render_report(
    s: &Settings,
    dir: &Path,
    history: &History,
    results: &RunResults,
) -> Option<String> {
    let mut settings = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(m) = &mut settings {
        m.insert("name".into(), json!(s.test));
        m.insert("reproduce".into(), json!(s.reproduce()));
    }
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        write_report_with(dir, history, results, &settings, &ReportOptions::default())
    }));
    match rendered {
        Ok(Ok(files)) if files.notes.is_empty() => None,
        Ok(Ok(files)) => {
            eprintln!(
                "faultline run: report written with {} drawing(s) missing",
                files.notes.len()
            );
            None
        }
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("the report renderer panicked".to_string()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_utc_and_sortable() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_764_253_123_456);
        assert_eq!(super::timestamp(t), "20251127T141843.456Z");
    }
}
