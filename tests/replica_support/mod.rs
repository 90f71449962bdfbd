//! Shared helpers for the replica integration tests: start real `faultline node` processes on
//! free loopback ports, talk to them, and always kill them (Drop guard), also on panic.
#![allow(dead_code)]

use faultline_replica::client::Client;
use faultline_replica::protocol::Response;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_faultline");

/// Fast failure detection so tests stay short.
pub const FAST: &[&str] = &[
    "--heartbeat-ms",
    "50",
    "--election-timeout-ms",
    "500",
    "--anti-entropy-ms",
    "200",
];

pub struct NodeProc {
    pub name: String,
    pub client: String,
    pub peer: String,
    child: Option<Child>,
    stopped: bool,
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<NodeProc>,
    peers: String,
    mode: String,
    extra: Vec<String>,
}

/// `n` distinct free ports (all held open while choosing, so none repeats).
pub fn free_ports(n: usize) -> Vec<u16> {
    let ls: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    ls.iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

impl Cluster {
    pub fn start(mode: &str, n: usize, extra: &[&str]) -> Cluster {
        let ports = free_ports(2 * n);
        let nodes: Vec<NodeProc> = (0..n)
            .map(|i| NodeProc {
                name: format!("n{}", i + 1),
                client: format!("127.0.0.1:{}", ports[2 * i]),
                peer: format!("127.0.0.1:{}", ports[2 * i + 1]),
                child: None,
                stopped: false,
            })
            .collect();
        let peers = nodes
            .iter()
            .map(|n| format!("{}={}", n.name, n.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = Cluster {
            dir: tempfile::tempdir().expect("tempdir"),
            nodes,
            peers,
            mode: mode.into(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for i in 0..n {
            c.spawn(i);
        }
        c
    }

    fn log_path(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("{}.log", self.nodes[i].name))
    }

    pub fn spawn(&mut self, i: usize) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(i))
            .expect("log");
        let n = &self.nodes[i];
        let child = Command::new(BIN)
            .arg("node")
            .args([
                "--id",
                &n.name,
                "--mode",
                &self.mode,
                "--client-listen",
                &n.client,
                "--peer-listen",
                &n.peer,
            ])
            .args(["--peers", &self.peers])
            .arg("--data-dir")
            .arg(self.dir.path().join(&n.name))
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn faultline node");
        self.nodes[i].child = Some(child);
        self.nodes[i].stopped = false;
    }

    /// SIGKILL node i and reap it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            if self.nodes[i].stopped {
                signal(c.id() as i32, libc::SIGCONT);
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
    }

    pub fn pause(&mut self, i: usize) {
        if let Some(c) = &self.nodes[i].child {
            signal(c.id() as i32, libc::SIGSTOP);
            self.nodes[i].stopped = true;
        }
    }

    pub fn resume(&mut self, i: usize) {
        if let Some(c) = &self.nodes[i].child {
            signal(c.id() as i32, libc::SIGCONT);
            self.nodes[i].stopped = false;
        }
    }

    /// SIGTERM node i and return its exit code (bounded wait; SIGKILL after 10 s).
    pub fn terminate(&mut self, i: usize) -> Option<i32> {
        let mut c = self.nodes[i].child.take()?;
        signal(c.id() as i32, libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn alive(&mut self, i: usize) -> bool {
        match self.nodes[i].child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// A connected client to node i, retrying while it starts (bounded).
    pub async fn client(&self, i: usize) -> Client {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(c) = Client::connect(&self.nodes[i].client, Duration::from_secs(5)).await {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "{} never accepted connections\n{}",
                self.nodes[i].name,
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// One request on a fresh connection.
    pub async fn call(&self, i: usize, req: Value) -> Response {
        let mut c = self.client(i).await;
        c.call(req)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", self.nodes[i].name, self.logs()))
    }

    pub async fn status(&self, i: usize) -> Value {
        let r = self.call(i, json!({"op": "status"})).await;
        assert!(r.ok, "{r:?}");
        r.value
    }

    /// Poll until `f` holds (bounded), else fail with the node logs.
    pub async fn wait_for<F, Fut>(&self, what: &str, secs: u64, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !f().await {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The index of the node that says it is leader (among `among`), waiting for one.
    pub async fn leader(&self, among: &[usize]) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            for &i in among {
                if let Ok(mut c) =
                    Client::connect(&self.nodes[i].client, Duration::from_secs(2)).await
                {
                    if let Ok(r) = c.status().await {
                        if r.value["role"] == "leader" {
                            return i;
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no leader among {among:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn logs(&self) -> String {
        (0..self.nodes.len())
            .map(|i| {
                let l = std::fs::read_to_string(self.log_path(i)).unwrap_or_default();
                let tail: Vec<&str> = l
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("--- {} ---\n{}\n", self.nodes[i].name, tail.join("\n"))
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

pub fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) on a child process this test started.
    unsafe {
        libc::kill(pid, sig);
    }
}

pub async fn write(c: &Cluster, i: usize, key: &str, v: Value) -> Response {
    c.call(i, json!({"op": "write", "key": key, "value": v}))
        .await
}

pub async fn read(c: &Cluster, i: usize, key: &str) -> Response {
    c.call(i, json!({"op": "read", "key": key})).await
}

pub async fn isolate(c: &Cluster, i: usize, on: bool) {
    let r = c
        .call(i, json!({"op": "admin", "action": "isolate", "value": on}))
        .await;
    assert!(r.ok, "{r:?}");
}
