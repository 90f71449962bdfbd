//! `faultline check`: check a recorded history (JSON Lines, Jepsen EDN, Jepsen log lines,
//! Porcupine kv) for linearizability against a model, or with another checker.
//!
//! Bad input (an unreadable file, a malformed line, an `f` the model does not know) is
//! reported naming the file, line or event, and exits 2; a truncated last line is dropped
//! with a warning and the rest checked.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use faultline_checker::linearizable::{self, Options, MODELS};
use faultline_checker::{Budget, Checker, Validity, Verdict};
use faultline_core::format::{read_path, Format};
use faultline_core::History;

use crate::exit;

/// The other checkers `--checker` accepts.
const CHECKERS: &[&str] = &[
    "linearizable",
    "elle-list-append",
    "elle-rw-register",
    "session",
    "prefix",
    "lost",
    "convergence",
    "stats",
];

#[derive(Debug, clap::Args)]
#[command(after_help = exit::HELP)]
pub struct Args {
    /// The history file (format detected from its first lines unless --format is given).
    pub history: PathBuf,
    /// The model for the linearizability check: register, cas-register, etcd, kv, counter,
    /// set, queue, mutex.
    #[arg(long, short = 'm')]
    pub model: Option<String>,
    /// Run another checker instead: elle-list-append, elle-rw-register, session, prefix,
    /// lost, convergence, stats (or linearizable, the default with --model).
    #[arg(long)]
    pub checker: Option<String>,
    /// Values are Jepsen independent [key value] tuples: check each key on its own.
    #[arg(long)]
    pub independent: bool,
    /// The history format: jsonl, edn, jepsen-log, porcupine-kv.
    #[arg(long)]
    pub format: Option<String>,
    /// Print the verdict as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Give up after this many seconds: the verdict is then unknown (exit 3), never valid.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Give up after exploring this many search states (unknown, exit 3).
    #[arg(long, value_name = "N")]
    pub max_states: Option<u64>,
    /// Give up when a checker's working memory (its own estimate) passes this many MiB
    /// (unknown, exit 3).
    #[arg(long, value_name = "MIB")]
    pub max_memory: Option<u64>,
    /// Check every key even after one is found not linearizable.
    #[arg(long)]
    pub all_keys: bool,
    /// Also write an HTML report (index.html, results.json, junit.xml) into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Check the model's partitions as one object (a stress test of the search).
    #[arg(long, hide = true)]
    pub no_partition: bool,
    /// Worker threads for keys (0: one per core).
    #[arg(long, hide = true, default_value_t = 0)]
    pub threads: usize,
}

/// What to check a history with: a model for the linearizability checker, or another
/// checker by name.
#[derive(Clone, Debug)]
pub struct Spec {
    pub checker: String,
    pub model: Option<String>,
    pub options: Options,
}

/// Checks a history as `faultline check` would; `Err` is bad usage or input the checker
/// cannot read (exit 2). The run command and the reports call this.
pub fn verdict_for(history: &History, spec: &Spec, budget: &Budget) -> Result<Verdict, String> {
    let independent = spec.options.independent;
    let other: Box<dyn Checker> = match spec.checker.as_str() {
        "linearizable" => {
            let model = spec.model.as_deref().ok_or_else(|| {
                format!(
                    "the linearizability check needs --model, one of {}",
                    MODELS.join(", ")
                )
            })?;
            return linearizable::check_named(model, history, &spec.options, budget)
                .map_err(|e| e.to_string());
        }
        "elle-list-append" => Box::new(faultline_checker::elle::ListAppend::default()),
        "elle-rw-register" => Box::new(faultline_checker::elle::RwRegister::default()),
        "session" => Box::new(faultline_checker::session::SessionChecker {
            independent,
            ..Default::default()
        }),
        "prefix" => Box::new(faultline_checker::prefix::PrefixChecker {
            independent,
            ..Default::default()
        }),
        "lost" => Box::new(faultline_checker::lost::LostChecker::default()),
        "convergence" => Box::new(faultline_checker::convergence::ConvergenceChecker {
            independent,
            ..Default::default()
        }),
        "stats" => Box::new(faultline_checker::stats::StatsChecker::default()),
        other => {
            return Err(format!(
                "unknown checker {other:?}; the checkers are {}",
                CHECKERS.join(", ")
            ))
        }
    };
    Ok(other.check(history, budget))
}

fn usage(message: impl std::fmt::Display) -> anyhow::Result<i32> {
    eprintln!("faultline check: {message}");
    Ok(exit::USAGE)
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    let format = match args.format.as_deref().map(str::parse::<Format>).transpose() {
        Ok(f) => f,
        Err(e) => return usage(e),
    };
    let checker = args
        .checker
        .clone()
        .unwrap_or_else(|| "linearizable".into());
    if checker == "linearizable" && args.model.is_none() {
        return usage(format!(
            "pass --model (one of {}) or --checker (one of {})",
            MODELS.join(", "),
            CHECKERS.join(", ")
        ));
    }
    if let Some(m) = &args.model {
        if !MODELS.contains(&m.as_str()) {
            return usage(format!(
                "unknown model {m:?}; the models are {}",
                MODELS.join(", ")
            ));
        }
    }
    let mut budget = Budget::unlimited();
    if let Some(t) = args.timeout {
        if !(t.is_finite() && t >= 0.0) {
            return usage(format!("--timeout {t}: expected a number of seconds"));
        }
        budget = budget.with_timeout(Duration::from_secs_f64(t));
    }
    if let Some(n) = args.max_states {
        budget = budget.with_max_states(n);
    }
    if let Some(mib) = args.max_memory {
        budget = budget.with_max_memory(mib.saturating_mul(1024 * 1024));
    }
    let loaded = match read_path(&args.history, format) {
        Ok(l) => l,
        Err(e) => return usage(e),
    };
    for w in loaded.history.warnings() {
        eprintln!("faultline check: warning: {w}");
    }
    let spec = Spec {
        checker,
        model: args.model.clone(),
        options: Options {
            independent: args.independent,
            all_keys: args.all_keys,
            partition: !args.no_partition,
            threads: args.threads,
        },
    };
    let verdict = match with_progress(&budget, || verdict_for(&loaded.history, &spec, &budget)) {
        Ok(v) => v,
        Err(e) => return usage(format!("{}: {e}", args.history.display())),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verdict)?);
    } else {
        print_human(
            &args.history,
            loaded.format,
            &loaded.history,
            &spec,
            &verdict,
        );
    }
    if let Some(dir) = &args.report {
        write_report(dir, &args, &loaded.history, &verdict);
    }
    Ok(match verdict.valid {
        Validity::Valid => exit::VALID,
        Validity::Invalid => exit::INVALID,
        Validity::Unknown => exit::UNKNOWN,
    })
}

/// Writes the HTML report of an imported history. A failure to write or draw is a note on
/// stderr: it never changes the verdict or the exit code.
fn write_report(dir: &Path, args: &Args, history: &History, verdict: &Verdict) {
    let settings = serde_json::json!({
        "name": args.history.display().to_string(),
        "history": args.history.display().to_string(),
        "model": args.model,
        "checker": args.checker,
        "independent": args.independent,
    });
    let written = std::fs::create_dir_all(dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            faultline_reports::write_report(dir, history, std::slice::from_ref(verdict), &settings)
                .map_err(|e| e.to_string())
        });
    match written {
        Ok(files) => {
            for note in &files.notes {
                eprintln!("faultline check: report note: {note}");
            }
            eprintln!("faultline check: report {}", files.index_html.display());
        }
        Err(e) => eprintln!(
            "faultline check: note: the report in {} was not written: {e}",
            dir.display()
        ),
    }
}

/// Runs `f` with a spinner on stderr counting search states, when stderr is a terminal.
fn with_progress<T: Send>(budget: &Budget, f: impl FnOnce() -> T + Send) -> T {
    if !std::io::stderr().is_terminal() {
        return f();
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Only show up for checks that take a while.
            std::thread::sleep(Duration::from_millis(500));
            if done.load(Ordering::Relaxed) {
                return;
            }
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            while !done.load(Ordering::Relaxed) {
                bar.set_message(format!("checking: {} search states", budget.states_spent()));
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        let r = f();
        done.store(true, Ordering::Relaxed);
        r
    })
}

fn print_human(path: &Path, format: Format, history: &History, spec: &Spec, v: &Verdict) {
    let what = match (&spec.model, spec.checker.as_str()) {
        (Some(m), "linearizable") => format!("linearizable under the {m} model"),
        (_, c) => format!("checked by {c}"),
    };
    let head = match v.valid {
        Validity::Valid => format!("valid: {what}"),
        Validity::Invalid if spec.checker == "linearizable" => {
            let keys = match v.anomalies.len() {
                1 => String::new(),
                n => format!(" ({n} keys)"),
            };
            format!("invalid: not {what}{keys}")
        }
        Validity::Invalid => format!(
            "invalid: {} found {} anomalies",
            spec.checker,
            v.anomalies.len()
        ),
        Validity::Unknown => format!(
            "unknown: {}",
            v.unknown_reason.as_deref().unwrap_or("a budget ran out")
        ),
    };
    println!("{}: {head}", path.display());
    for a in &v.anomalies {
        println!("  - {}", a.explanation);
    }
    let stats: Vec<String> = v.stats.iter().map(|(k, s)| format!("{k} {s}")).collect();
    println!(
        "  ({} events read as {format}; {})",
        history.len(),
        stats.join(", ")
    );
}
