//! The node's clock: the admin offset moves it at runtime, and libfaketime moves it too (the
//! node reads time through libc), so clock faults work either way.

mod replica_support;

use replica_support::*;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_offset_moves_the_node_clock() {
    let c = Cluster::start("multi-leader", 1, &["--clock-offset-ms", "-5000"]);
    let s = c.status(0).await;
    assert_eq!(s["clock_offset_ms"], json!(-5000));
    let skew = s["now_ms"].as_i64().unwrap_or(0) - real_now_ms();
    assert!((-6000..-4000).contains(&skew), "skew {skew}");
    let r = c
        .call(
            0,
            json!({"op": "admin", "action": "clock-offset", "value": 30000}),
        )
        .await;
    assert!(r.ok);
    let skew = c.status(0).await["now_ms"].as_i64().unwrap_or(0) - real_now_ms();
    assert!((29000..31000).contains(&skew), "skew {skew}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn libfaketime_moves_the_node_clock() {
    let lib = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    if !std::path::Path::new(lib).exists() {
        eprintln!("skipping: {lib} not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ports = free_ports(2);
    let (client, peer) = (
        format!("127.0.0.1:{}", ports[0]),
        format!("127.0.0.1:{}", ports[1]),
    );
    let child = Command::new(BIN)
        .args([
            "node",
            "--id",
            "n1",
            "--mode",
            "multi-leader",
            "--client-listen",
            &client,
            "--peer-listen",
            &peer,
        ])
        .arg("--peers")
        .arg(format!("n1={peer}"))
        .arg("--data-dir")
        .arg(dir.path().join("n1"))
        .env("LD_PRELOAD", lib)
        .env("FAKETIME", "+1h")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(child);
    let mut cl = None;
    for _ in 0..100 {
        if let Ok(c) =
            faultline_replica::client::Client::connect(&client, Duration::from_secs(2)).await
        {
            cl = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut cl = cl.expect("node under libfaketime never came up");
    let s = cl.status().await.expect("status");
    let skew = s.value["now_ms"].as_i64().unwrap_or(0) - real_now_ms();
    assert!(
        (3_500_000..3_700_000).contains(&skew),
        "skew {skew} ms, want about +1h"
    );
    assert!(cl.write("x", json!(1)).await.expect("write").ok);
}
