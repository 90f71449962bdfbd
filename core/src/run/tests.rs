use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::*;
use crate::client::{Client, Completion};
use crate::env::LocalEnv;
use crate::generator::from_fn;
use crate::history::{History, OpType, Process};
use crate::nemesis::{Fault, FaultGuard, Installed, NemesisError};
use crate::rng::Rng;
use crate::target::{Target, TargetError};
use crate::value::Value;
use crate::BoxFuture;

/// A register map in memory; every 50th op times out (never answers).
#[derive(Default)]
struct Mem {
    data: Arc<Mutex<HashMap<String, i64>>>,
    calls: Arc<AtomicU64>,
}

struct MemClient {
    data: Arc<Mutex<HashMap<String, i64>>>,
    calls: Arc<AtomicU64>,
    node: String,
}

impl Client for MemClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            if self.calls.fetch_add(1, Ordering::Relaxed) % 50 == 49 {
                std::future::pending::<()>().await;
            }
            let key = op
                .key
                .as_ref()
                .and_then(|k| k.as_str())
                .unwrap_or("")
                .to_string();
            let mut d = self.data.lock().unwrap();
            let c = match op.f.as_str() {
                "read" => Completion::ok(d.get(&key).map_or(Value::Nil, |v| Value::Int(*v))),
                "write" => {
                    d.insert(key, op.value.as_int().unwrap_or(0));
                    Completion::ok(op.value.clone())
                }
                _ => Completion::fail("unsupported"),
            };
            c.with_node(self.node.clone())
        })
    }
}

impl Target for Mem {
    fn name(&self) -> &str {
        "mem"
    }
    fn nodes(&self) -> Vec<String> {
        vec!["n1".into(), "n2".into()]
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn start<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn stop<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn kill<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn pause<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn resume<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            Ok(Box::new(MemClient {
                data: self.data.clone(),
                calls: self.calls.clone(),
                node: node.to_string(),
            }) as Box<dyn Client>)
        })
    }
    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async { Ok(()) })
    }
}

struct Registers;

impl Workload for Registers {
    fn name(&self) -> &str {
        "registers"
    }
    fn generator(&self, worker: usize, workers: usize, _: u64) -> Box<dyn Generator> {
        let mut n = 0i64;
        Box::new(from_fn(move |_, rng: &mut Rng| {
            n += 1;
            let key = format!("k{}", rng.below(3));
            if rng.chance(0.5) {
                Invocation::new("read", Value::Nil).with_key(key)
            } else {
                Invocation::new("write", Value::Int(n * workers as i64 + worker as i64))
                    .with_key(key)
            }
        }))
    }
    fn final_reads(&self, _: &[Op]) -> Vec<Invocation> {
        (0..3)
            .map(|k| Invocation::new("read", Value::Nil).with_key(format!("k{k}")))
            .collect()
    }
}

/// A fault that only flips a flag, so tests can see it healed.
struct Flag(Arc<AtomicBool>);

struct FlagGuard(Arc<AtomicBool>);

impl FaultGuard for FlagGuard {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>> {
        Box::pin(async move {
            self.0.store(false, Ordering::SeqCst);
            Ok(())
        })
    }
}

impl Nemesis for Flag {
    fn name(&self) -> &str {
        "flag"
    }
    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault {
        Fault {
            start: "start-flag".into(),
            stop: "stop-flag".into(),
            value: Value::Str(rng.pick(nodes).cloned().unwrap_or_default()),
        }
    }
    fn install<'a>(
        &'a self,
        _: &'a Cluster,
        f: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>> {
        Box::pin(async move {
            self.0.store(true, Ordering::SeqCst);
            Ok(Installed {
                guard: Box::new(FlagGuard(self.0.clone())),
                value: f.value.clone(),
            })
        })
    }
}

fn cluster() -> Cluster {
    Cluster {
        env: Arc::new(LocalEnv::new(2)),
        target: Arc::new(Mem::default()),
    }
}

fn config() -> RunConfig {
    RunConfig {
        concurrency: 4,
        time_limit: Duration::from_millis(300),
        rate: 2000.0,
        op_timeout: Duration::from_millis(20),
        nemesis_interval: Duration::from_millis(40),
        settle: Some(Duration::from_millis(1)),
        seed: 42,
        final_reads: true,
    }
}

#[tokio::test]
async fn records_a_valid_history_with_faults_infos_and_final_reads() {
    let flag = Arc::new(AtomicBool::new(false));
    let recorder = Arc::new(Recorder::in_memory());
    let (_tx, rx) = watch::channel(false);
    let out = run(
        &config(),
        &cluster(),
        Arc::new(Registers),
        vec![Arc::new(Flag(flag.clone()))],
        recorder.clone(),
        rx,
    )
    .await;
    let (ops, err) = recorder.finish();
    assert!(err.is_none());
    let h = History::from_ops(ops).expect("a well-formed history");
    assert!(out.faults >= 1, "{out:?}");
    assert!(!flag.load(Ordering::SeqCst), "the fault was healed");
    assert!(out.panics.is_empty() && out.heal_errors.is_empty());
    let starts = h.nemesis_ops().filter(|o| o.f == "start-flag").count();
    let stops = h.nemesis_ops().filter(|o| o.f == "stop-flag").count();
    assert_eq!(starts, stops, "every fault has a stop");
    // Timeouts became info and retired their process.
    let infos: Vec<&Op> = h
        .ops()
        .iter()
        .filter(|o| o.kind == OpType::Info && o.is_client())
        .collect();
    assert!(!infos.is_empty());
    for i in &infos {
        let p = i.process;
        assert!(
            h.ops()[i.index as usize + 1..]
                .iter()
                .all(|o| o.process != p),
            "process {p} reused after info"
        );
    }
    // Final reads: 3 keys from each of 2 nodes, marked final.
    let finals = h
        .ops()
        .iter()
        .filter(|o| o.kind == OpType::Invoke && o.extra.get("final") == Some(&Value::Bool(true)))
        .count();
    assert_eq!(finals, 6);
    // Times are monotonic with index.
    assert!(h.ops().windows(2).all(|w| w[0].time <= w[1].time));
    assert!(h
        .ops()
        .iter()
        .all(|o| o.process == Process::Nemesis || o.extra.get("key").is_some()));
}

#[tokio::test]
async fn stop_heals_and_skips_final_reads() {
    let flag = Arc::new(AtomicBool::new(false));
    let recorder = Arc::new(Recorder::in_memory());
    let (tx, rx) = watch::channel(false);
    let mut c = config();
    c.time_limit = Duration::from_secs(60);
    let f2 = flag.clone();
    let stopper = tokio::spawn(async move {
        // Stop once the fault is in force.
        for _ in 0..500 {
            if f2.load(Ordering::SeqCst) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = tx.send(true);
    });
    let out = run(
        &c,
        &cluster(),
        Arc::new(Registers),
        vec![Arc::new(Flag(flag.clone()))],
        recorder.clone(),
        rx,
    )
    .await;
    stopper.await.unwrap();
    assert!(out.interrupted);
    assert!(!flag.load(Ordering::SeqCst), "healed on the way out");
    let (ops, _) = recorder.finish();
    assert!(ops.iter().all(|o| o.extra.get("final").is_none()));
    assert_eq!(ops.last().map(|o| o.f.as_str()), Some("stop-flag"));
}

#[tokio::test]
async fn writes_jsonl_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let recorder = Arc::new(Recorder::to_file(&path).unwrap());
    let (_tx, rx) = watch::channel(false);
    let mut c = config();
    c.time_limit = Duration::from_millis(100);
    run(
        &c,
        &cluster(),
        Arc::new(Registers),
        vec![],
        recorder.clone(),
        rx,
    )
    .await;
    let (ops, err) = recorder.finish();
    assert!(err.is_none());
    let text = std::fs::read_to_string(&path).unwrap();
    let loaded = crate::format::read_str(&path, &text, None).unwrap();
    assert_eq!(loaded.history.len(), ops.len());
}
