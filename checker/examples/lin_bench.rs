//! Times the linearizability checker on the Porcupine corpus per group, next to Porcupine's
//! own figures on this kind of machine, and prints a table. Run by `bench/lin.sh`:
//! `cargo run --release -p faultline-checker --example lin_bench [-- DATA_DIR [REPEAT]]`.
//!
//! Each group's time is the check alone (files are read first), best of REPEAT runs
//! (default 3), with keys checked in parallel.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use faultline_checker::linearizable::{check_named, Options};
use faultline_checker::{Budget, Validity};
use faultline_core::format::read_path;
use faultline_core::History;

struct Group {
    name: &'static str,
    model: &'static str,
    partition: bool,
    files: Vec<(PathBuf, Validity)>,
    /// Porcupine's time for the group, seconds (low, high).
    porcupine: (f64, f64),
}

fn load(dir: &Path) -> Vec<Group> {
    let table = std::fs::read_to_string(dir.join("VERDICTS.tsv")).expect("VERDICTS.tsv");
    let mut etcd = Vec::new();
    let mut kv = Vec::new();
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cells: Vec<&str> = line.split('\t').collect();
        let want = if cells[2] == "ok" {
            Validity::Valid
        } else {
            Validity::Invalid
        };
        let entry = (dir.join(cells[0]), want);
        if cells[1].starts_with("etcd") {
            etcd.push(entry);
        } else {
            kv.push(entry);
        }
    }
    vec![
        Group {
            name: "etcd logs",
            model: "etcd",
            partition: true,
            files: etcd,
            porcupine: (0.8, 1.1),
        },
        Group {
            name: "kv split by key",
            model: "kv",
            partition: true,
            files: kv.clone(),
            porcupine: (0.3, 0.5),
        },
        // As Porcupine's own no-partition tests: c01 and c10 (c50 unsplit is out of reach).
        Group {
            name: "kv unsplit",
            model: "kv",
            partition: false,
            files: kv
                .into_iter()
                .filter(|(p, _)| !p.to_string_lossy().contains("c50"))
                .collect(),
            porcupine: (7.5, 8.7),
        },
    ]
}

/// CPU seconds this process has used so far, every thread (Linux: /proc/self/stat's utime
/// and stime, in clock ticks of 10 ms). On a shared machine this is the work done, where
/// wall time also counts waiting for a core.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall and CPU seconds to check every history of the group, verdicts checked.
fn time_group(g: &Group, histories: &[(History, Validity)], threads: usize) -> (Duration, f64) {
    let opts = Options {
        partition: g.partition,
        threads,
        ..Options::default()
    };
    let start = Instant::now();
    let cpu = cpu_seconds();
    for (h, want) in histories {
        let t = Instant::now();
        let v = check_named(g.model, h, &opts, &Budget::unlimited()).expect("checkable");
        if std::env::var_os("LIN_BENCH_VERBOSE").is_some() {
            eprintln!("{} {:?} {:?} {:?}", g.name, v.valid, v.stats, t.elapsed());
        }
        assert_eq!(v.valid, *want, "{}: wrong verdict", g.name);
    }
    (start.elapsed(), cpu_seconds() - cpu)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/porcupine"));
    let repeat: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    // Optional: only groups whose name contains this.
    let only = args.next().unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let loadavg = loadavg.split_whitespace().next().unwrap_or("?").to_string();
    println!(
        "linearizability check time per corpus group (best of {repeat}; {cores} cores, load average {loadavg}; verdicts checked)"
    );
    println!(
        "{:<16} {:>5} {:>10} {:>10} {:>14} {:>13} {:>13}",
        "group", "files", "wall (s)", "cpu (s)", "porcupine (s)", "x (wall)", "x (cpu)"
    );
    for g in load(&dir)
        .into_iter()
        .filter(|g| g.name.contains(only.as_str()))
    {
        let histories: Vec<(History, Validity)> = g
            .files
            .iter()
            .map(|(p, want)| {
                (
                    read_path(p, None).unwrap_or_else(|e| panic!("{e}")).history,
                    *want,
                )
            })
            .collect();
        let runs: Vec<(Duration, f64)> =
            (0..repeat).map(|_| time_group(&g, &histories, 0)).collect();
        let wall = runs.iter().map(|r| r.0).min().unwrap().as_secs_f64();
        // CPU time is counted in 10 ms ticks: never below one tick's worth.
        let cpu = runs.iter().map(|r| r.1).fold(f64::MAX, f64::min).max(0.01);
        let (lo, hi) = g.porcupine;
        println!(
            "{:<16} {:>5} {:>10.3} {:>10.2} {:>14} {:>13} {:>13}",
            g.name,
            g.files.len(),
            wall,
            cpu,
            format!("{lo:.1}-{hi:.1}"),
            format!("{:.0}-{:.0}x", lo / wall, hi / wall),
            format!("{:.0}-{:.0}x", lo / cpu, hi / cpu),
        );
    }
}
