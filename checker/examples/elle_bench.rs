//! Generates a transactional history from a simulated store and checks it, printing one
//! line of `key=value` results (what `bench/elle.sh` tabulates).
//!
//! ```text
//! cargo run --release -p faultline-checker --example elle_bench -- \
//!     --txns 100000 [--workload list-append|rw-register] [--store strict|si|rc|aborted|stale] \
//!     [--concurrency 10] [--keys 10] [--max-txn-len 4] [--max-writes-per-key 32] \
//!     [--info-rate 0.0] [--seed 0] [--write history.jsonl] [--via-jsonl]
//! ```
//!
//! `--write FILE` saves the history as JSON Lines; `--via-jsonl` also reads it back from
//! that file (timed separately) and checks what was read, as the CLI would.

use std::process::ExitCode;
use std::time::Instant;

use faultline_checker::elle::simulate::{generate, Isolation, Sim};
use faultline_checker::elle::txns::Workload;
use faultline_checker::elle::{ListAppend, RwRegister};
use faultline_checker::{Budget, Checker};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn parse(args: &[String]) -> Result<(Sim, Option<String>, bool), String> {
    let mut sim = Sim {
        txns: 100_000,
        ..Sim::default()
    };
    let mut write = None;
    let mut via_jsonl = false;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--via-jsonl" {
            via_jsonl = true;
            continue;
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .as_str();
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("{flag}: {v:?} is not a number"))
        };
        match flag.as_str() {
            "--txns" => sim.txns = num(value)? as usize,
            "--concurrency" => sim.concurrency = num(value)? as usize,
            "--keys" => sim.active_keys = num(value)? as usize,
            "--max-txn-len" => sim.max_txn_len = num(value)? as usize,
            "--max-writes-per-key" => sim.max_writes_per_key = num(value)? as usize,
            "--info-rate" => sim.info_rate = num(value)?,
            "--seed" => sim.seed = num(value)? as u64,
            "--write" => write = Some(value.to_string()),
            "--workload" => {
                sim.workload = match value {
                    "list-append" => Workload::ListAppend,
                    "rw-register" => Workload::RwRegister,
                    other => return Err(format!("unknown workload {other:?}")),
                }
            }
            "--store" => {
                sim.isolation = match value {
                    "strict" => Isolation::StrictSerializable,
                    "si" => Isolation::SnapshotIsolation,
                    "rc" => Isolation::ReadCommitted,
                    "aborted" => Isolation::AbortedReads,
                    "stale" => Isolation::StaleReads,
                    other => return Err(format!("unknown store {other:?}")),
                }
            }
            other => return Err(format!("unknown flag {other:?}")),
        }
    }
    // Every read of a key returns its whole list, so a history grows with the square of
    // the writes per key; past this it no longer fits in memory at benchmark sizes.
    if sim.max_writes_per_key > 1000 {
        return Err("--max-writes-per-key above 1000 makes histories quadratically large".into());
    }
    if via_jsonl && write.is_none() {
        return Err("--via-jsonl needs --write FILE".into());
    }
    Ok((sim, write, via_jsonl))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (sim, write, via_jsonl) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("elle_bench: {e}");
            return ExitCode::from(2);
        }
    };
    let t = Instant::now();
    let mut history = generate(&sim);
    let generate_s = t.elapsed().as_secs_f64();
    let mut read_s = 0.0;
    if let Some(path) = &write {
        let file = match std::fs::File::create(path) {
            Ok(f) => std::io::BufWriter::new(f),
            Err(e) => {
                eprintln!("elle_bench: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = faultline_core::format::jsonl::write(file, history.ops()) {
            eprintln!("elle_bench: {path}: {e}");
            return ExitCode::from(2);
        }
        if via_jsonl {
            drop(history);
            let t = Instant::now();
            history = match faultline_core::format::read_path(std::path::Path::new(path), None) {
                Ok(loaded) => loaded.history,
                Err(e) => {
                    eprintln!("elle_bench: {e}");
                    return ExitCode::from(2);
                }
            };
            read_s = t.elapsed().as_secs_f64();
        }
    }
    let history_rss = peak_rss_mib();
    let t = Instant::now();
    let verdict = match sim.workload {
        Workload::ListAppend => ListAppend::default().check(&history, &Budget::unlimited()),
        Workload::RwRegister => RwRegister::default().check(&history, &Budget::unlimited()),
    };
    let check_s = t.elapsed().as_secs_f64();
    let kinds = verdict.kinds().join(",");
    let largest = verdict
        .stats
        .get("largest-scc")
        .map_or(0, |v| v.as_u64().unwrap_or(0));
    let stat = |k: &str| {
        verdict
            .stats
            .get(k)
            .map_or("-".to_string(), |v| v.to_string())
    };
    println!(
        "txns={} events={} generate_s={generate_s:.2} read_s={read_s:.2} check_s={check_s:.2} valid={} anomalies={} edges={} sccs={} largest_scc={largest} history_rss_mib={history_rss:.0} peak_rss_mib={:.0}",
        sim.txns,
        history.len(),
        verdict.valid,
        if kinds.is_empty() { "-" } else { &kinds },
        ["ww", "wr", "rw", "process", "realtime"]
            .iter()
            .map(|k| stat(&format!("edges-{k}")).parse::<u64>().unwrap_or(0))
            .sum::<u64>(),
        stat("sccs"),
        peak_rss_mib()
    );
    ExitCode::SUCCESS
}
