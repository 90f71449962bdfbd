//! Each real target started in network namespaces, serving a few ops, and torn down with
//! nothing left behind. Root and `FAULTLINE_E2E=1` only; otherwise each test says why it
//! skips. (In-crate because the root package is a binary: these need the adapters' types.)

use std::sync::Arc;

use faultline_core::client::{Completion, Invocation};
use faultline_core::env::Env;
use faultline_core::history::OpType;
use faultline_core::Value;
use faultline_nemeses::netns::{leftovers, NetnsEnv};

use super::real::{self, Options};

fn enabled(name: &str) -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    if std::env::var("FAULTLINE_E2E").as_deref() != Ok("1") || !root {
        eprintln!("skipping {name}: needs FAULTLINE_E2E=1 and root (network namespaces)");
        return false;
    }
    true
}

fn mop(f: &str, k: &str, v: Value) -> Value {
    Value::List(vec![f.into(), k.into(), v])
}

/// Starts `target` on `n` nodes, runs `ops` against the first node's client, checks each
/// completion with `check`, tears down and asserts nothing is left.
async fn exercise(target: &str, n: usize, opts: &[&str], ops: Vec<Invocation>) -> Vec<Completion> {
    if let Err(e) = real::available(target) {
        eprintln!("skipping {target}: {e}");
        return Vec::new();
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let env = Arc::new(NetnsEnv::create(n, dir.path(), &registry).unwrap());
    let record = env.record();
    let options = Options::parse("test", opts.iter().copied()).unwrap();
    let t = real::build(target, &options, env.clone() as Arc<dyn Env>).unwrap();
    let setup = t.setup().await;
    let mut out = Vec::new();
    if setup.is_ok() {
        let mut c = t.client("n1").await.unwrap();
        for op in &ops {
            out.push(c.invoke(op).await);
        }
    }
    let logs: Vec<_> = std::fs::read_dir(dir.path().join(target))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    if let Err(e) = &setup {
        for l in &logs {
            let text = std::fs::read_to_string(l).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            eprintln!(
                "setup failed ({e}); {}:\n{}",
                l.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
    t.teardown().await.unwrap();
    env.teardown().await.unwrap();
    setup.unwrap();
    assert!(!logs.is_empty(), "no logs collected for {target}");
    assert_eq!(leftovers(&record), Vec::<String>::new());
    out
}

fn register_ops() -> Vec<Invocation> {
    vec![
        Invocation::new("write", Value::Int(1)).with_key("r1"),
        Invocation::new("read", Value::Nil).with_key("r1"),
        Invocation::new("cas", Value::List(vec![1.into(), 2.into()])).with_key("r1"),
        Invocation::new("cas", Value::List(vec![1.into(), 3.into()])).with_key("r1"),
        Invocation::new("read", Value::Nil).with_key("r1"),
    ]
}

fn append_ops() -> Vec<Invocation> {
    vec![
        Invocation::new("txn", Value::List(vec![mop("append", "l1", 1.into())])),
        Invocation::new(
            "txn",
            Value::List(vec![
                mop("append", "l1", 2.into()),
                mop("r", "l1", Value::Nil),
            ]),
        ),
        Invocation::new("txn", Value::List(vec![mop("r", "l1", Value::Nil)])),
    ]
}

fn kinds(cs: &[Completion]) -> Vec<OpType> {
    cs.iter().map(|c| c.kind).collect()
}

fn last_read(cs: &[Completion]) -> Value {
    cs.last().map(|c| c.value.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_serves_registers_and_appends() {
    if !enabled("etcd") {
        return;
    }
    let mut ops = register_ops();
    ops.extend(append_ops());
    let cs = exercise("etcd", 3, &[], ops).await;
    if cs.is_empty() {
        return;
    }
    use OpType::*;
    assert_eq!(kinds(&cs), vec![Ok, Ok, Ok, Fail, Ok, Ok, Ok, Ok], "{cs:?}");
    assert_eq!(cs[4].value, Value::Int(2));
    assert_eq!(
        last_read(&cs),
        Value::List(vec![mop("r", "l1", Value::List(vec![1.into(), 2.into()]))])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_serves_registers_and_appends_with_wait() {
    if !enabled("redis") {
        return;
    }
    let mut ops = register_ops();
    ops.extend(append_ops());
    let cs = exercise("redis", 3, &["wait=1", "sentinel=true"], ops).await;
    if cs.is_empty() {
        return;
    }
    use OpType::*;
    assert_eq!(kinds(&cs), vec![Ok, Ok, Ok, Fail, Ok, Ok, Ok, Ok], "{cs:?}");
    assert_eq!(
        last_read(&cs),
        Value::List(vec![mop("r", "l1", Value::List(vec![1.into(), 2.into()]))])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_serves_appends_and_transfers_with_a_sync_standby() {
    if !enabled("postgres") {
        return;
    }
    let mut ops = append_ops();
    ops.push(Invocation::new(
        "transfer",
        Value::Map(vec![
            ("from".into(), 0.into()),
            ("to".into(), 1.into()),
            ("amount".into(), 5.into()),
        ]),
    ));
    ops.push(Invocation::new("read", Value::Nil));
    let cs = exercise(
        "postgres",
        2,
        &["replication=sync", "isolation=serializable"],
        ops,
    )
    .await;
    if cs.is_empty() {
        return;
    }
    use OpType::*;
    assert_eq!(kinds(&cs), vec![Ok, Ok, Ok, Ok, Ok], "{cs:?}");
    assert_eq!(
        cs[2].value,
        Value::List(vec![mop("r", "l1", Value::List(vec![1.into(), 2.into()]))])
    );
    let balances = last_read(&cs);
    assert_eq!(balances.get("x"), None);
    assert!(
        matches!(balances, Value::Map(ref m) if m.len() == 5),
        "{balances:?}"
    );
}
