//! `--fsync off` on real `faultline node` processes on loopback (issue 9, node faults beyond
//! kill): acknowledged writes live only in process memory until the next periodic sync, so a
//! SIGKILL loses them, as a machine crash loses the page cache; with `--fsync on` none are lost.
//! A primary that lost its tail that way still converges with followers that hold more.

mod replica_support;

use replica_support::*;
use serde_json::json;

const N: usize = 20;

/// Write N acknowledged keys to a one-node store, SIGKILL it, restart it; return how many of
/// the acknowledged keys it still has.
async fn survivors(fsync: &str) -> usize {
    let mut extra = vec!["--fsync", fsync, "--sync-interval-ms", "600000"];
    extra.extend_from_slice(FAST);
    let mut c = Cluster::start("leader-async", 1, &extra);
    assert_eq!(c.leader(&[0]).await, 0);
    for k in 0..N {
        let r = write(&c, 0, &format!("k{k}"), json!(k)).await;
        assert!(r.ok, "write k{k} not acknowledged: {r:?}");
    }
    c.restart(0);
    assert_eq!(c.leader(&[0]).await, 0);
    let mut kept = 0;
    for k in 0..N {
        let r = read(&c, 0, &format!("k{k}")).await;
        assert!(r.ok, "{r:?}");
        if r.value == json!(k) {
            kept += 1;
        } else {
            assert_eq!(
                r.value,
                json!(null),
                "k{k}: neither the written value nor absent"
            );
        }
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_off_loses_acknowledged_writes_on_sigkill() {
    assert_eq!(
        survivors("off").await,
        0,
        "unsynced writes survived SIGKILL"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_on_keeps_every_acknowledged_write_across_sigkill() {
    assert_eq!(survivors("on").await, N);
}

/// leader-async, no failover: the followers hold writes the restarted primary lost. They must
/// discard that suffix and follow the primary's new history, not keep stale entries that reuse
/// its indexes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_converge_with_a_primary_that_lost_its_tail() {
    let mut extra = vec![
        "--fsync",
        "off",
        "--sync-interval-ms",
        "600000",
        "--failover",
        "none",
        "--reads",
        "any",
    ];
    extra.extend_from_slice(FAST);
    let mut c = Cluster::start("leader-async", 3, &extra);
    assert_eq!(c.leader(&[0, 1, 2]).await, 0);
    for v in 1..=5 {
        assert!(write(&c, 0, "x", json!(v)).await.ok);
    }
    c.wait_for("followers to hold x=5", 15, || async {
        read(&c, 1, "x").await.value == json!(5) && read(&c, 2, "x").await.value == json!(5)
    })
    .await;
    // The followers hear nothing from the restarted primary until it has new writes at the
    // indexes it lost (else its first heartbeat, with an empty log, would cut them at once).
    // (Isolated, not paused: a paused follower would still find the primary's first heartbeat
    // in its socket buffer on resume.)
    isolate(&c, 1, true).await;
    isolate(&c, 2, true).await;
    c.restart(0);
    assert_eq!(c.leader(&[0]).await, 0);
    assert_eq!(
        read(&c, 0, "x").await.value,
        json!(null),
        "the primary kept x"
    );
    // New writes reuse the lost indexes; the followers must end up with exactly these.
    assert!(write(&c, 0, "y", json!(1)).await.ok);
    assert!(write(&c, 0, "x", json!(7)).await.ok);
    isolate(&c, 1, false).await;
    isolate(&c, 2, false).await;
    c.wait_for(
        "followers to converge on the primary's history",
        15,
        || async {
            let mut same = true;
            for i in [1, 2] {
                same &= read(&c, i, "x").await.value == json!(7)
                    && read(&c, i, "y").await.value == json!(1);
                same &= c.status(i).await["log_index"] == c.status(0).await["log_index"];
            }
            same
        },
    )
    .await;
    for i in [1, 2] {
        let s = c.status(i).await;
        assert!(s["discarded"].as_u64() >= Some(5), "n{}: {s}", i + 1);
    }
}
