//! The netns environment on a real kernel: needs root; runs only with FAULTLINE_E2E=1.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::env::{Env, Signal, Spawn};
use faultline_nemeses::netns::{cleanup, leftovers, NetnsEnv};
use faultline_nemeses::RunRecord;

fn e2e() -> bool {
    if std::env::var("FAULTLINE_E2E").as_deref() != Ok("1") {
        eprintln!("skipped: set FAULTLINE_E2E=1 (as root) to run the netns tests");
        return false;
    }
    true
}

async fn ping(env: &NetnsEnv, from: &str, to: &str) -> bool {
    let ip = env.node(to).unwrap().ip.to_string();
    let args: Vec<String> = ["-c1", "-W1", &ip].iter().map(|s| s.to_string()).collect();
    env.exec(from, "ping", &args, Duration::from_secs(5))
        .await
        .map(|o| o.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_reach_each_other_partitions_cut_and_teardown_leaves_nothing() {
    if !e2e() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let env = Arc::new(NetnsEnv::create(3, dir.path(), &registry).unwrap());
    let record = env.record();
    assert!(leftovers(&record).len() >= 4, "namespaces and bridge exist");
    assert!(
        ping(&env, "n1", "n2").await,
        "n1 reaches n2 over the bridge"
    );

    // A partition rule inside n2 cuts n1 -> n2 and back.
    let ip1 = env.node("n1").unwrap().ip.to_string();
    let rule: Vec<String> = ["-A", "INPUT", "-s", &ip1, "-j", "DROP", "-w"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(env
        .exec("n2", "iptables", &rule, Duration::from_secs(5))
        .await
        .unwrap()
        .success());
    assert!(!ping(&env, "n1", "n2").await);
    assert!(ping(&env, "n1", "n3").await);

    // A process in n1, logged to the run dir, signalled by PID.
    let log = dir.path().join("n1.log");
    let pid = env
        .spawn(
            "n1",
            &Spawn {
                program: "sleep".into(),
                args: vec!["60".into()],
                vars: vec![],
                log: log.clone(),
            },
        )
        .await
        .unwrap();
    assert!(env.alive("n1", pid).await);
    env.signal("n1", pid, Signal::Stop).await.unwrap();
    env.signal("n1", pid, Signal::Cont).await.unwrap();
    assert!(env.alive("n1", pid).await);
    assert!(RunRecord::load_all(&registry).0[0]
        .pids
        .iter()
        .any(|p| p.pid == pid));
    assert!(
        env.signal("n1", 1, Signal::Kill).await.is_err(),
        "never signals a PID it did not start"
    );

    env.teardown().await.unwrap();
    let after = leftovers(&env.record());
    assert!(after.is_empty(), "left behind: {after:?}");
    assert!(RunRecord::load_all(&registry).0.is_empty());
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || !env.alive("n1", pid).await);
}

#[test]
fn cleanup_removes_what_a_vanished_controller_left() {
    if !e2e() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("registry");
    let env = NetnsEnv::create(2, dir.path(), &registry).unwrap();
    let record = env.record();
    // Forget the env without its Drop, as a SIGKILLed controller would.
    std::mem::forget(env);
    assert!(!leftovers(&record).is_empty());
    let (records, _) = RunRecord::load_all(&registry);
    assert_eq!(records.len(), 1);
    let removed = cleanup(&records[0], &registry);
    assert!(
        removed.iter().any(|r| r.contains("namespace")),
        "{removed:?}"
    );
    assert!(leftovers(&record).is_empty());
    assert!(RunRecord::load_all(&registry).0.is_empty());
}
