//! After the run: the workload's checkers (in parallel, each with the same budget) and the
//! stats checker over the recorded history, combined into one verdict.

use std::time::Duration;

use faultline_checker::stats::StatsChecker;
use faultline_checker::{Budget, Checker, Validity, Verdict};
use faultline_core::History;

/// Runs every checker on `history`; a checker that panics counts as unknown, never valid.
pub fn run_checkers(
    history: &History,
    checkers: &[Box<dyn Checker>],
    timeout: Duration,
) -> Vec<Verdict> {
    let budget = Budget::unlimited().with_timeout(timeout);
    let stats = StatsChecker::default();
    let mut all: Vec<&dyn Checker> = checkers.iter().map(|c| c.as_ref()).collect();
    all.push(&stats);
    std::thread::scope(|s| {
        let handles: Vec<_> = all
            .iter()
            .map(|c| {
                let budget = budget.clone();
                let name = c.name().to_string();
                (name, s.spawn(move || c.check(history, &budget)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(name, h)| {
                h.join()
                    .unwrap_or_else(|_| Verdict::unknown(name, "the checker panicked; see stderr"))
            })
            .collect()
    })
}

/// Invalid if any checker says so; otherwise unknown if any gave up; otherwise valid.
pub fn combine(verdicts: &[Verdict]) -> Validity {
    verdicts
        .iter()
        .fold(Validity::Valid, |acc, v| acc.and(v.valid))
}
