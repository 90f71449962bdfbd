//! Every mode of the built-in store on real `faultline node` processes on loopback: write and
//! read, kill a node, restart it, and check recovery from its data directory and catch-up.

mod replica_support;

use replica_support::*;
use serde_json::json;

/// leader-sync/semisync/async: failover with a new primary, then the old primary returns as a
/// follower and catches up; a restarted follower recovers from disk.
async fn leader_scenario(mode: &str) {
    let mut extra = vec!["--reads", "any"];
    extra.extend_from_slice(FAST);
    let mut c = Cluster::start(mode, 3, &extra);
    let l = c.leader(&[0, 1, 2]).await;
    assert_eq!(l, 0, "the first peer starts as primary");
    for v in 1..=5 {
        let r = write(&c, 0, "x", json!(v)).await;
        assert!(r.ok, "{mode}: {r:?}");
    }
    // A follower refuses writes, definitely, and names the primary.
    let r = write(&c, 1, "x", json!(99)).await;
    assert_eq!(r.error.as_deref(), Some("not-leader"));
    assert_eq!(r.definite, Some(true));
    assert_eq!(r.leader.as_deref(), Some("n1"));

    // A killed follower recovers its log from disk and catches up on what it missed.
    c.kill(2);
    let r = write(&c, 0, "y", json!(1)).await;
    if mode == "leader-sync" {
        // Sync needs every follower: the write may have happened but was not acknowledged.
        assert!(!r.ok && r.definite == Some(false), "{r:?}");
    } else {
        assert!(r.ok, "{r:?}");
    }
    c.spawn(2);
    c.wait_for("n3 to catch up on y", 15, || async {
        read(&c, 2, "y").await.value == json!(1)
    })
    .await;
    assert_eq!(read(&c, 2, "x").await.value, json!(5));

    // Kill the primary: a follower promotes itself; the old primary comes back as a follower.
    c.kill(0);
    let l = c.leader(&[1, 2]).await;
    let r = write(&c, l, "x", json!(6)).await;
    if mode == "leader-sync" {
        // The dead old primary is still a follower the new one must wait for.
        assert!(!r.ok && r.definite == Some(false), "{r:?}");
    } else {
        assert!(r.ok, "{r:?}");
    }
    c.spawn(0);
    c.wait_for("old primary to rejoin as follower", 15, || async {
        let s = c.status(0).await;
        s["role"] == "follower" && read(&c, 0, "x").await.value == json!(6)
    })
    .await;
    let s = c.status(0).await;
    assert_eq!(s["leader"], json!(format!("n{}", l + 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_sync_fails_over_and_catches_up() {
    leader_scenario("leader-sync").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_semisync_fails_over_and_catches_up() {
    leader_scenario("leader-semisync").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_async_fails_over_and_catches_up() {
    leader_scenario("leader-async").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_failover_none_keeps_the_primary() {
    let mut extra = vec!["--failover", "none"];
    extra.extend_from_slice(FAST);
    let mut c = Cluster::start("leader-async", 3, &extra);
    assert!(write(&c, 0, "x", json!(1)).await.ok);
    c.kill(0);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    for i in [1, 2] {
        assert_eq!(c.status(i).await["role"], "follower");
    }
    c.spawn(0);
    assert_eq!(c.leader(&[0]).await, 0);
    c.wait_for("primary to recover x", 10, || async {
        read(&c, 0, "x").await.value == json!(1)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_survives_leader_kill_and_restart() {
    let mut c = Cluster::start("raft", 3, FAST);
    let l = c.leader(&[0, 1, 2]).await;
    for v in 1..=5 {
        let r = c
            .call(l, json!({"op": "append", "key": "l", "value": v}))
            .await;
        assert!(r.ok, "{r:?}");
    }
    let r = c
        .call(l, json!({"op": "cas", "key": "c", "from": null, "to": 1}))
        .await;
    assert!(r.ok, "{r:?}");
    let r = c
        .call(l, json!({"op": "cas", "key": "c", "from": 5, "to": 2}))
        .await;
    assert_eq!(
        (r.error.as_deref(), r.definite),
        (Some("cas-mismatch"), Some(true))
    );
    c.kill(l);
    let others: Vec<usize> = (0..3).filter(|&i| i != l).collect();
    let l2 = c.leader(&others).await;
    assert_eq!(read(&c, l2, "l").await.value, json!([1, 2, 3, 4, 5]));
    let r = c
        .call(
            l2,
            json!({"op": "txn", "txn": [["append", "l", 6], ["r", "l", null], ["w", "z", 1]]}),
        )
        .await;
    assert!(r.ok, "{r:?}");
    assert_eq!(r.value[1][2], json!([1, 2, 3, 4, 5, 6]));
    // A follower refuses reads and writes with a hint (reads go through the leader's read index).
    let f = others.iter().copied().find(|&i| i != l2).unwrap_or(l2);
    if f != l2 {
        let r = read(&c, f, "l").await;
        assert_eq!(r.error.as_deref(), Some("not-leader"), "{r:?}");
    }
    c.spawn(l);
    c.wait_for("restarted node to apply the new entries", 20, || async {
        let s = c.status(l).await;
        let s2 = c.status(l2).await;
        s["applied_index"] == s2["applied_index"] && s["role"] == "follower"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_leader_converges_over_every_topology() {
    for topo in ["all-to-all", "ring", "star"] {
        let mut extra = vec!["--topology", topo];
        extra.extend_from_slice(FAST);
        let c = Cluster::start("multi-leader", 3, &extra);
        for i in 0..3 {
            let r = write(&c, i, &format!("k{i}"), json!(i)).await;
            assert!(r.ok, "{r:?}");
        }
        c.wait_for(
            &format!("{topo}: every node to see every key"),
            15,
            || async {
                for i in 0..3 {
                    for k in 0..3 {
                        if read(&c, i, &format!("k{k}")).await.value != json!(k) {
                            return false;
                        }
                    }
                }
                true
            },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_leader_restarted_node_recovers_and_catches_up() {
    let mut c = Cluster::start("multi-leader", 3, FAST);
    assert!(write(&c, 1, "a", json!(1)).await.ok);
    c.wait_for("a to reach n1", 10, || async {
        read(&c, 0, "a").await.value == json!(1)
    })
    .await;
    c.kill(1);
    assert!(write(&c, 0, "b", json!(2)).await.ok);
    c.spawn(1);
    c.wait_for("n2 to recover a and receive b", 15, || async {
        read(&c, 1, "a").await.value == json!(1) && read(&c, 1, "b").await.value == json!(2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaderless_survives_a_kill_and_repairs_the_restarted_replica() {
    let mut c = Cluster::start("leaderless", 3, FAST);
    // Peers connect lazily after start: wait (bounded) for the first quorum write.
    c.wait_for("the first write to be acknowledged", 15, || async {
        write(&c, 0, "x", json!(1)).await.ok
    })
    .await;
    c.kill(2);
    // W = 2 of N = 3: one replica down still takes writes and reads.
    let r = write(&c, 0, "x", json!(2)).await;
    assert!(r.ok, "{r:?}");
    assert_eq!(read(&c, 1, "x").await.value, json!(2));
    let r = c
        .call(0, json!({"op": "txn", "txn": [["r", "x", null]]}))
        .await;
    assert!(
        !r.ok && r.error.as_deref().unwrap_or("").starts_with("unsupported"),
        "{r:?}"
    );
    c.spawn(2);
    // Anti-entropy brings n3 up to date; read its own copy with a quorum of one.
    c.wait_for("anti-entropy to repair n3", 15, || async {
        c.call(2, json!({"op": "read", "key": "x"})).await.value == json!(2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_up_and_down_manage_exactly_their_processes() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Six consecutive free ports: try a few bases.
    let mut base = 0;
    for p in (23000..60000).step_by(997) {
        if (0..6).all(|k| std::net::TcpListener::bind(("127.0.0.1", (p + k) as u16)).is_ok()) {
            base = p;
            break;
        }
    }
    assert!(base > 0);
    let st = std::process::Command::new(BIN)
        .args([
            "cluster",
            "up",
            "--mode",
            "leader-async",
            "--nodes",
            "3",
            "--base-port",
            &base.to_string(),
        ])
        .arg("--dir")
        .arg(dir.path())
        .status()
        .expect("run cluster up");
    let pids: Vec<i32> = std::fs::read_to_string(dir.path().join("pids"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect();
    // Whatever happens below, do not leave the nodes running.
    struct Guard(Vec<i32>);
    impl Drop for Guard {
        fn drop(&mut self) {
            for p in &self.0 {
                signal(*p, libc::SIGKILL);
            }
        }
    }
    let _g = Guard(pids.clone());
    assert!(st.success());
    assert_eq!(pids.len(), 3);
    let mut cl = faultline_replica::client::Client::connect(
        &format!("127.0.0.1:{base}"),
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("connect");
    assert!(cl.write("k", json!(1)).await.expect("write").ok);
    let st = std::process::Command::new(BIN)
        .args(["cluster", "down"])
        .arg("--dir")
        .arg(dir.path())
        .status()
        .expect("down");
    assert!(st.success());
    for p in pids {
        // SAFETY: signal 0 only probes. The nodes were children of `cluster up` (now gone), so
        // init reaps them and the PID disappears.
        let gone = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            unsafe { libc::kill(p, 0) != 0 }
        });
        assert!(gone, "pid {p} still running after cluster down");
    }
}
