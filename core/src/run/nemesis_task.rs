//! The nemesis as a process of its own: quiet for an interval, a fault for an interval,
//! repeat; every start and stop is an invoke/info pair by process `nemesis` in the same
//! history as the clients' ops, so fault windows are visible to checkers and plots.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::Recorder;
use crate::history::{Op, OpType, Process};
use crate::nemesis::{ActiveFaults, Cluster, Fault, Nemesis};
use crate::rng::Rng;
use crate::value::Value;

/// Installing or healing one fault may take this long before it counts as failed.
const FAULT_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) struct NemesisTask {
    pub cluster: Cluster,
    pub nemeses: Vec<Arc<dyn Nemesis>>,
    pub recorder: Arc<Recorder>,
    pub active: ActiveFaults,
    pub interval: Duration,
    pub seed: u64,
}

#[derive(Debug, Default)]
pub(super) struct NemesisReport {
    pub faults: u64,
    pub errors: Vec<String>,
}

fn event(kind: OpType, f: &str, value: Value) -> Op {
    let mut op = Op::invoke(0, f, value);
    op.process = Process::Nemesis;
    op.kind = kind;
    op
}

/// Sleeps `d`, or less if the deadline comes first or `stop` fires; false if it should end.
async fn wait(d: Duration, deadline: Instant, stop: &mut watch::Receiver<bool>) -> bool {
    let until = (Instant::now() + d).min(deadline);
    tokio::select! {
        _ = tokio::time::sleep_until(until) => {}
        _ = stop.changed() => {}
    }
    !*stop.borrow() && Instant::now() < deadline
}

impl NemesisTask {
    pub async fn run(self, deadline: Instant, mut stop: watch::Receiver<bool>) -> NemesisReport {
        let mut report = NemesisReport::default();
        let mut rng = Rng::fork(self.seed, 0);
        let nodes = self.cluster.nodes();
        let mut id = 0u64;
        loop {
            if !wait(self.interval, deadline, &mut stop).await {
                break;
            }
            let Some(nemesis) = rng.pick(&self.nemeses).cloned() else {
                break;
            };
            let fault = nemesis.plan(&mut rng, &nodes);
            self.recorder
                .record(event(OpType::Invoke, &fault.start, fault.value.clone()));
            let installed =
                tokio::time::timeout(FAULT_TIMEOUT, nemesis.install(&self.cluster, &fault)).await;
            match installed {
                Ok(Ok(inst)) => {
                    self.recorder
                        .record(event(OpType::Info, &fault.start, inst.value));
                    id += 1;
                    self.active.push(id, fault.clone(), inst.guard);
                    report.faults += 1;
                }
                Ok(Err(e)) => {
                    let mut op = event(OpType::Info, &fault.start, fault.value.clone());
                    op.error = Some(Value::Str(e.to_string()));
                    self.recorder.record(op);
                    report.errors.push(format!("{}: {e}", fault.start));
                    continue;
                }
                Err(_) => {
                    let mut op = event(OpType::Info, &fault.start, fault.value.clone());
                    op.error = Some(Value::Str("timed out installing".into()));
                    self.recorder.record(op);
                    report.errors.push(format!("{}: timed out", fault.start));
                    continue;
                }
            }
            if !wait(self.interval, deadline, &mut stop).await {
                break; // The run loop heals what is still active.
            }
            if let Some((fault, guard)) = self.active.take(id) {
                if let Err(e) = heal_one(&self.recorder, &fault, guard).await {
                    report.errors.push(e);
                }
            }
        }
        report
    }
}

async fn heal_one(
    recorder: &Recorder,
    fault: &Fault,
    guard: Box<dyn crate::nemesis::FaultGuard>,
) -> Result<(), String> {
    recorder.record(event(OpType::Invoke, &fault.stop, Value::Nil));
    let result = match tokio::time::timeout(FAULT_TIMEOUT, guard.heal()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{}: {e}", fault.stop)),
        Err(_) => Err(format!("{}: timed out healing", fault.stop)),
    };
    let mut op = event(OpType::Info, &fault.stop, fault.value.clone());
    if let Err(e) = &result {
        op.error = Some(Value::Str(e.clone()));
    }
    recorder.record(op);
    result
}

/// Heals every fault still in force, newest first; returns the errors.
pub(super) async fn heal_all(active: &ActiveFaults, recorder: &Recorder) -> Vec<String> {
    let mut errors = Vec::new();
    for (fault, guard) in active.drain() {
        if let Err(e) = heal_one(recorder, &fault, guard).await {
            errors.push(e);
        }
    }
    errors
}
