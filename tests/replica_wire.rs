//! Bad input on the wire never kills a node: malformed JSON, unknown ops, wrong types, oversize
//! frames and garbage on the peer port each get an error (or a dropped connection) and the node
//! keeps serving, on the same client connection too.

mod replica_support;

use replica_support::*;
use serde_json::json;
use std::io::Write;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_input_gets_errors_and_the_connection_stays_open() {
    for mode in ["leader-async", "raft", "multi-leader", "leaderless"] {
        let c = Cluster::start(mode, 1, &["--n", "1", "--w", "1", "--r", "1"]);
        if mode == "raft" {
            c.leader(&[0]).await;
        }
        let mut cl = c.client(0).await;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json\n".to_vec(), "malformed JSON"),
            (b"[1,2,3]\n".to_vec(), "JSON object"),
            (b"\xff\xfe\x00garbage\n".to_vec(), "malformed"),
            (br#"{"id": 1}"#.iter().copied().chain(*b"\n").collect(), "missing field `op`"),
            (br#"{"id": 2, "op": 7}"#.iter().copied().chain(*b"\n").collect(), "must be a string"),
            (br#"{"id": 3, "op": "frobnicate", "key": "x"}"#.iter().copied().chain(*b"\n").collect(), "unknown variant"),
            (br#"{"id": 4, "op": "read", "key": 5}"#.iter().copied().chain(*b"\n").collect(), "invalid type"),
            (br#"{"id": 5, "op": "cas", "key": "x"}"#.iter().copied().chain(*b"\n").collect(), "missing field"),
            (br#"{"id": 6, "op": "txn", "txn": [["boom", "x", 1]]}"#.iter().copied().chain(*b"\n").collect(), "micro-op"),
            (br#"{"id": 7, "op": "txn", "txn": "x"}"#.iter().copied().chain(*b"\n").collect(), "invalid type"),
            (br#"{"id": 8, "op": "admin", "action": "reboot"}"#.iter().copied().chain(*b"\n").collect(), "unknown admin"),
            (br#"{"id": 9, "op": "admin", "action": "clock-offset", "value": "soon"}"#.iter().copied().chain(*b"\n").collect(), "integer"),
        ];
        for (bytes, want) in cases {
            let r = cl
                .send_raw(&bytes)
                .await
                .unwrap_or_else(|e| panic!("{mode}: {e}\n{}", c.logs()));
            assert!(!r.ok, "{mode}: {r:?}");
            assert_eq!(r.definite, Some(true), "{mode}: {r:?}");
            let err = r.error.clone().unwrap_or_default();
            assert!(
                err.starts_with("bad-request") && err.contains(want),
                "{mode}: {want:?} not in {err:?}"
            );
        }
        // A frame over 1 MiB is refused; the next line on the same connection still works.
        let mut big = br#"{"id": 10, "op": "write", "key": "x", "value": ""#.to_vec();
        big.extend(std::iter::repeat_n(b'a', 2 << 20));
        big.extend_from_slice(b"\"}\n");
        let r = cl.send_raw(&big).await.expect("oversize reply");
        assert!(
            !r.ok && r.error.unwrap_or_default().contains("exceeds"),
            "{mode}"
        );
        let r = cl
            .write("x", json!(1))
            .await
            .expect("write after bad input");
        assert!(r.ok, "{mode}: {r:?}");
        let r = cl.read("x").await.expect("read");
        assert_eq!(r.value, json!(1), "{mode}");
        assert_eq!(r.node.as_deref(), Some("n1"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_the_peer_port_does_not_kill_the_node() {
    let mut c = Cluster::start("leader-async", 1, &[]);
    let peer = c.nodes[0].peer.clone();
    for junk in [
        &b"hello\n"[..],
        &[0xff; 64][..],
        &[0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff][..],
    ] {
        if let Ok(mut s) = std::net::TcpStream::connect(&peer) {
            let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = s.write_all(junk);
        }
    }
    // A well-framed request with a payload that is not a peer message.
    if let Ok(mut s) = std::net::TcpStream::connect(&peer) {
        let body = b"{\"nope\":1}";
        let mut f = 1u64.to_be_bytes().to_vec();
        f.extend((body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        let _ = s.write_all(&f);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.alive(0), "node died\n{}", c.logs());
    assert!(write(&c, 0, "x", json!(1)).await.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mode_exits_zero_on_sigterm_and_keeps_its_data() {
    for mode in [
        "leader-sync",
        "leader-semisync",
        "leader-async",
        "raft",
        "multi-leader",
        "leaderless",
    ] {
        let mut c = Cluster::start(mode, 1, &["--n", "1", "--w", "1", "--r", "1"]);
        if mode == "raft" {
            c.leader(&[0]).await;
        }
        assert!(write(&c, 0, "x", json!(mode)).await.ok, "{mode}");
        assert_eq!(c.terminate(0), Some(0), "{mode}: exit code\n{}", c.logs());
        c.spawn(0);
        if mode == "raft" {
            c.leader(&[0]).await;
        }
        c.wait_for(&format!("{mode}: x after restart"), 15, || async {
            read(&c, 0, "x").await.value == json!(mode)
        })
        .await;
    }
}

#[test]
fn bad_flags_exit_with_usage() {
    let st = std::process::Command::new(BIN)
        .args([
            "node",
            "--id",
            "n9",
            "--mode",
            "raft",
            "--peers",
            "n1=127.0.0.1:1",
            "--data-dir",
            "/nonexistent-x",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run");
    assert_eq!(
        st.code(),
        Some(2),
        "an id missing from --peers is a usage error"
    );
    let st = std::process::Command::new(BIN)
        .args([
            "node",
            "--id",
            "n1",
            "--mode",
            "paxos",
            "--peers",
            "n1=127.0.0.1:1",
            "--data-dir",
            "/tmp",
        ])
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run");
    assert_eq!(st.code(), Some(2));
}
