//! Times the weak-consistency checkers on generated list-append and register histories
//! from the simulated stores, and prints a table. `cargo bench -p faultline-checker --bench
//! weak [-- N...]` (default sizes 10000 and 100000 ops).

#[path = "../tests/sim/mod.rs"]
mod sim;

use std::time::Instant;

use faultline_checker::convergence::ConvergenceChecker;
use faultline_checker::lost::LostChecker;
use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_checker::stats::StatsChecker;
use faultline_checker::{Budget, Checker};
use faultline_core::Value;
use sim::{final_reads, mop, plan, run, Mode, Rng, State, Store};

/// Peak resident memory of this process so far, in MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    println!(
        "{:<12} {:<14} {:>8} {:>9} {:>9} {:>10}",
        "history", "checker", "ops", "seconds", "anomalies", "peak MiB"
    );
    for &n in &sizes {
        let keys: Vec<String> = (0..n.div_ceil(500).max(4))
            .map(|k| format!("k{k}"))
            .collect();
        for (name, mode) in [
            ("append-lin", Mode::Linearizable),
            (
                "append-stale",
                Mode::StaleReplicas {
                    replicas: 3,
                    lag: 8_000_000,
                },
            ),
        ] {
            let mut rng = Rng::new(n as u64);
            let mut next = 0i64;
            // Keys rotate as the test goes on, as Elle's generator does.
            let mut p = plan(&mut rng, 10, n, |r, _| {
                let base = (next as usize / 400) % keys.len();
                let txn = (0..1 + r.below(4))
                    .map(|_| {
                        let k = &keys[(base + r.below(4) as usize) % keys.len()];
                        if r.chance(0.5) {
                            mop("r", k, Value::List(vec![]))
                        } else {
                            next += 1;
                            mop("append", k, next.into())
                        }
                    })
                    .collect();
                ("txn".into(), None, Value::List(txn))
            });
            let all: Value = Value::List(
                keys.iter()
                    .map(|k| mop("r", k, Value::List(vec![])))
                    .collect(),
            );
            final_reads(&mut p, 3, 30_000_000, "txn", all);
            let h = run(&p, &mut Store::new(mode, State::default()), &mut rng);
            let checkers: Vec<Box<dyn Checker>> = vec![
                Box::new(SessionChecker::default()),
                Box::new(PrefixChecker::default()),
                Box::new(LostChecker::default()),
                Box::new(ConvergenceChecker::default()),
                Box::new(StatsChecker::default()),
            ];
            for c in &checkers {
                let t = Instant::now();
                let v = c.check(&h, &Budget::unlimited());
                let secs = t.elapsed().as_secs_f64();
                let found: u64 = match v.stats.get("anomalies").and_then(|a| a.as_object()) {
                    Some(m) => m.values().filter_map(|x| x.as_u64()).sum(),
                    None => v.anomalies.len() as u64,
                };
                println!(
                    "{:<12} {:<14} {:>8} {:>9.3} {:>9} {:>10.0}",
                    name,
                    c.name(),
                    n,
                    secs,
                    found,
                    peak_mib()
                );
            }
        }
    }
}
