//! One client worker: a Jepsen process that asks its generator for ops, records the
//! invocation, waits for the completion (bounded by the op timeout), and records that.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::Recorder;
use crate::client::{Client, Completion, Invocation};
use crate::generator::{rate, time_limit, Ctx, Generator, Next};
use crate::history::{Op, OpType};
use crate::nemesis::Cluster;
use crate::rng::Rng;
use crate::target::Target;
use crate::value::Value;

pub(super) struct Worker {
    pub index: usize,
    pub workers: usize,
    pub node: String,
    pub target: Arc<dyn Target>,
    pub recorder: Arc<Recorder>,
    pub next_process: Arc<AtomicU64>,
    pub op_timeout: Duration,
    pub seed: u64,
    /// This worker's share of the total rate; 0 = unlimited.
    pub rate: f64,
    pub time_limit: Duration,
    pub independent: bool,
}

/// The invocation event for `inv` by `process` against `node`.
/// With `independent`, a keyed op's value is recorded as the tuple `[key value]`.
fn invoke_op(process: u64, inv: &Invocation, node: &str, independent: bool) -> Op {
    let mut op = Op::invoke(process, inv.f.clone(), inv.value.clone());
    if !node.is_empty() {
        op.node = Some(node.to_string());
    }
    if let Some(k) = &inv.key {
        if independent {
            op.value = Value::List(vec![k.clone(), inv.value.clone()]);
        } else {
            op.extra.insert("key", k.clone());
        }
    }
    op
}

/// The completion event for `invoke` given what the client said.
fn completion_op(invoke: &Op, inv: &Invocation, independent: bool, c: Completion) -> Op {
    let value = match (&inv.key, independent) {
        (Some(k), true) => Value::List(vec![k.clone(), c.value]),
        _ => c.value,
    };
    let mut op = invoke.complete(c.kind, value);
    if c.node.is_some() {
        op.node = c.node;
    }
    op.error = c.error;
    op.extra = invoke.extra.clone();
    op
}

/// Invokes `inv` on `client`, bounded by `timeout`: no answer in time is `info`.
async fn call(client: &mut dyn Client, inv: &Invocation, timeout: Duration) -> Completion {
    match tokio::time::timeout(timeout, client.invoke(inv)).await {
        Ok(c) => c,
        Err(_) => Completion::info("timeout"),
    }
}

impl Worker {
    pub async fn run(
        self,
        gen: Box<dyn Generator>,
        deadline: Instant,
        mut stop: watch::Receiver<bool>,
    ) {
        let limited: Box<dyn Generator> = if self.rate > 0.0 {
            Box::new(time_limit(
                self.time_limit.as_nanos() as u64,
                rate(self.rate, gen),
            ))
        } else {
            Box::new(time_limit(self.time_limit.as_nanos() as u64, gen))
        };
        let mut gen = limited;
        let mut rng = Rng::fork(self.seed, 1 + self.index as u64);
        let mut process = self.index as u64;
        let mut client: Option<Box<dyn Client>> = None;
        let start = self.recorder.started();
        loop {
            if *stop.borrow() || Instant::now() >= deadline {
                break;
            }
            let ctx = Ctx {
                time: start.elapsed().as_nanos() as u64,
                worker: self.index,
                workers: self.workers,
                process,
            };
            let inv = match gen.next(&ctx, &mut rng) {
                Next::Op(inv) => inv,
                Next::Done => break,
                Next::Pending(at) => {
                    let wake = start + Duration::from_nanos(at);
                    let wake = Instant::from_std(wake).min(deadline);
                    tokio::select! {
                        _ = tokio::time::sleep_until(wake) => {}
                        _ = stop.changed() => {}
                    }
                    continue;
                }
            };
            let invoke = invoke_op(process, &inv, &self.node, self.independent);
            self.recorder.record(invoke.clone());
            if client.is_none() {
                match tokio::time::timeout(self.op_timeout, self.target.client(&self.node)).await {
                    Ok(Ok(c)) => client = Some(c),
                    Ok(Err(e)) => {
                        // Could not connect: the op certainly did not reach the node.
                        let c = Completion::fail(Value::Str(format!("connect: {e}")));
                        self.recorder
                            .record(completion_op(&invoke, &inv, self.independent, c));
                        // Do not spin against a dead node.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    Err(_) => {
                        let c = Completion::fail("connect-timeout");
                        self.recorder
                            .record(completion_op(&invoke, &inv, self.independent, c));
                        continue;
                    }
                }
            }
            let Some(cl) = client.as_mut() else { continue };
            let c = call(cl.as_mut(), &inv, self.op_timeout).await;
            let info = c.kind == OpType::Info;
            self.recorder
                .record(completion_op(&invoke, &inv, self.independent, c));
            if info {
                // Jepsen's rule: an unknown outcome retires the process.
                process = self.next_process.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
        }
    }
}

/// Issues `reads` against every node, each node from a fresh process, marked `final: true`.
pub(super) async fn final_reads(
    cluster: &Cluster,
    reads: &[Invocation],
    recorder: &Recorder,
    next_process: &AtomicU64,
    timeout: Duration,
    independent: bool,
) {
    for node in cluster.nodes() {
        let mut process = next_process.fetch_add(1, Ordering::Relaxed);
        let mut client = None;
        for inv in reads {
            let mut invoke = invoke_op(process, inv, &node, independent);
            invoke.extra.insert("final", Value::Bool(true));
            recorder.record(invoke.clone());
            if client.is_none() {
                match tokio::time::timeout(timeout, cluster.target.client(&node)).await {
                    Ok(Ok(c)) => client = Some(c),
                    _ => {
                        recorder.record(completion_op(
                            &invoke,
                            inv,
                            independent,
                            Completion::fail("connect"),
                        ));
                        continue;
                    }
                }
            }
            let Some(cl) = client.as_mut() else { continue };
            let c = call(cl.as_mut(), inv, timeout).await;
            let info = c.kind == OpType::Info;
            recorder.record(completion_op(&invoke, inv, independent, c));
            if info {
                process = next_process.fetch_add(1, Ordering::Relaxed);
                client = None;
            }
        }
    }
}
