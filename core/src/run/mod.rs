//! The run loop: client workers and the nemesis run concurrently against a [`Cluster`], every
//! event goes into one [`Recorder`]; when the time limit ends (or `stop` fires: Ctrl-C) the
//! loop heals every fault, lets the cluster settle, and performs final reads from every node.
//!
//! Jepsen's process rules hold: a worker is one single-threaded process at a time; an op
//! that ends in `info` (an unknown outcome, a timeout) retires the process, and the worker
//! continues under a fresh process id with a fresh client. Setting up and tearing down the
//! environment and target is the caller's job (it owns those guards); this loop guarantees
//! that every fault it installed is healed before it returns, also when a task panicked.

mod nemesis_task;
pub mod recorder;
mod worker;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::client::Invocation;
use crate::generator::Generator;
use crate::history::Op;
use crate::nemesis::{ActiveFaults, Cluster, Nemesis};
pub use recorder::Recorder;

/// What the clients do: a generator per worker, and the final reads after healing.
pub trait Workload: Send + Sync {
    /// `register`, `list-append`.
    fn name(&self) -> &str;
    /// Worker `worker`'s op source (endless; the loop bounds it by the time limit and rate).
    fn generator(&self, worker: usize, workers: usize, seed: u64) -> Box<dyn Generator>;
    /// Reads to issue from every node once faults are healed, given the history so far
    /// (to read the keys that were touched).
    fn final_reads(&self, history: &[Op]) -> Vec<Invocation>;
    /// Record keyed single ops as Jepsen `independent` `[key value]` tuples instead of with
    /// a `key` field (what linearizability checkers split by).
    fn independent(&self) -> bool {
        false
    }
}

/// The loop's settings.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub concurrency: usize,
    pub time_limit: Duration,
    /// Total ops per second over all workers; 0 = as fast as they go.
    pub rate: f64,
    /// An op not answered in this long becomes `info`.
    pub op_timeout: Duration,
    /// Mean time between faults and duration of each fault.
    pub nemesis_interval: Duration,
    /// Time between healing and the final reads (None: the target's settle time).
    pub settle: Option<Duration>,
    pub seed: u64,
    /// Skip final reads (benchmarks).
    pub final_reads: bool,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            concurrency: 5,
            time_limit: Duration::from_secs(30),
            rate: 0.0,
            op_timeout: Duration::from_secs(2),
            nemesis_interval: Duration::from_secs(5),
            settle: None,
            seed: 0,
            final_reads: true,
        }
    }
}

/// What happened, beyond the history itself.
#[derive(Debug, Default)]
pub struct RunOutcome {
    /// Faults installed (start events that succeeded).
    pub faults: u64,
    /// Faults planned but not applicable or failed to install, with why.
    pub fault_errors: Vec<String>,
    /// Faults whose healing failed (the environment's teardown is the fallback).
    pub heal_errors: Vec<String>,
    /// Worker or nemesis tasks that panicked.
    pub panics: Vec<String>,
    /// The run was stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// Runs workers and nemeses until the time limit or `stop`, heals, settles, does final reads.
/// The history is in `recorder` as it happens; call `recorder.finish()` afterwards.
pub async fn run(
    config: &RunConfig,
    cluster: &Cluster,
    workload: Arc<dyn Workload>,
    nemeses: Vec<Arc<dyn Nemesis>>,
    recorder: Arc<Recorder>,
    stop: watch::Receiver<bool>,
) -> RunOutcome {
    let mut outcome = RunOutcome::default();
    let nodes = cluster.nodes();
    let workers = config.concurrency.max(1);
    let next_process = Arc::new(AtomicU64::new(workers as u64));
    let deadline = tokio::time::Instant::now() + config.time_limit;
    let active = ActiveFaults::default();

    // Flush the history file every 50 ms until the run ends.
    let (done_tx, done_rx) = watch::channel(false);
    let flusher = {
        let recorder = recorder.clone();
        let mut done = done_rx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tokio::select! {
                    _ = tick.tick() => recorder.flush(),
                    _ = done.changed() => { recorder.flush(); break; }
                }
            }
        })
    };

    let mut tasks = Vec::new();
    for w in 0..workers {
        let ctx = worker::Worker {
            index: w,
            workers,
            node: nodes
                .get(w % nodes.len().max(1))
                .cloned()
                .unwrap_or_default(),
            target: cluster.target.clone(),
            recorder: recorder.clone(),
            next_process: next_process.clone(),
            op_timeout: config.op_timeout,
            seed: config.seed,
            rate: if config.rate > 0.0 {
                config.rate / workers as f64
            } else {
                0.0
            },
            time_limit: config.time_limit,
            independent: workload.independent(),
        };
        let gen = workload.generator(w, workers, config.seed);
        let stop = stop.clone();
        tasks.push(("worker", tokio::spawn(ctx.run(gen, deadline, stop))));
    }
    let nemesis = if nemeses.is_empty() {
        None
    } else {
        let task = nemesis_task::NemesisTask {
            cluster: cluster.clone(),
            nemeses,
            recorder: recorder.clone(),
            active: active.clone(),
            interval: config.nemesis_interval,
            seed: config.seed,
        };
        Some(tokio::spawn(task.run(deadline, stop.clone())))
    };

    for (what, t) in tasks {
        if let Err(e) = t.await {
            outcome.panics.push(format!("{what}: {e}"));
        }
    }
    if let Some(n) = nemesis {
        match n.await {
            Ok(report) => {
                outcome.faults = report.faults;
                outcome.fault_errors = report.errors;
            }
            Err(e) => outcome.panics.push(format!("nemesis: {e}")),
        }
    }
    // Whatever is still in force (the nemesis stopped early, or panicked): heal it now.
    outcome
        .heal_errors
        .extend(nemesis_task::heal_all(&active, &recorder).await);

    outcome.interrupted = *stop.borrow();
    if config.final_reads && !outcome.interrupted {
        let settle = config
            .settle
            .unwrap_or_else(|| cluster.target.settle_time());
        let mut stop2 = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(settle) => {}
            _ = stop2.changed() => {}
        }
        if !*stop.borrow() {
            let reads = workload.final_reads(&recorder.snapshot());
            worker::final_reads(
                cluster,
                &reads,
                &recorder,
                &next_process,
                config.op_timeout,
                workload.independent(),
            )
            .await;
        } else {
            outcome.interrupted = true;
        }
    }
    let _ = done_tx.send(true);
    let _ = flusher.await;
    outcome
}

#[cfg(test)]
mod tests;
