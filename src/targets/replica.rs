//! The `replica` target: the built-in replicated store, one `faultline node` process per
//! node in the environment, configured by mode. Spoken to directly over its client protocol
//! (line-delimited JSON over TCP, CONTRACT-replica.md), so this adapter depends only on the
//! contract, not on the replica crate.
//!
//! Offers [`Primary`] (asks every node's `status`, trusts the highest term's leader claim)
//! and [`Clock`] (the node's admin `clock-offset` request).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::env::{Env, Spawn};
use faultline_core::target::{Clock, Daemons, Primary, Target, TargetError};
use faultline_core::{BoxFuture, Value};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const CLIENT_PORT: u16 = 7000;
pub const PEER_PORT: u16 = 7001;

/// The modes the built-in store has.
pub const MODES: &[&str] = &[
    "leader-sync",
    "leader-semisync",
    "leader-async",
    "multi-leader",
    "leaderless",
    "raft",
];

pub struct Replica {
    env: Arc<dyn Env>,
    daemons: Daemons,
    mode: String,
    /// Mode options, passed to every node as `--key value` (`--sloppy` alone for true).
    options: Vec<(String, String)>,
    binary: PathBuf,
    run_dir: PathBuf,
}

impl Replica {
    pub fn new(
        env: Arc<dyn Env>,
        mode: &str,
        options: Vec<(String, String)>,
        binary: PathBuf,
        run_dir: PathBuf,
    ) -> Replica {
        Replica {
            daemons: Daemons::new(env.clone()),
            env,
            mode: mode.to_string(),
            options,
            binary,
            run_dir,
        }
    }

    fn args(&self, node: &str) -> Result<Vec<String>, TargetError> {
        let me = self.env.node(node)?;
        let peers = self
            .env
            .nodes()
            .iter()
            .map(|n| format!("{}={}:{PEER_PORT}", n.name, n.ip))
            .collect::<Vec<_>>()
            .join(",");
        let mut a = vec![
            "node".to_string(),
            "--id".into(),
            node.into(),
            "--mode".into(),
            self.mode.clone(),
            "--client-listen".into(),
            format!("{}:{CLIENT_PORT}", me.ip),
            "--peer-listen".into(),
            format!("{}:{PEER_PORT}", me.ip),
            "--peers".into(),
            peers,
            "--data-dir".into(),
            self.run_dir.join("data").join(node).display().to_string(),
        ];
        for (k, v) in &self.options {
            if v == "true" {
                a.push(format!("--{k}"));
            } else if v != "false" {
                a.push(format!("--{k}"));
                a.push(v.clone());
            }
        }
        Ok(a)
    }

    async fn connect(&self, node: &str) -> Result<Conn, TargetError> {
        connect(self.env.as_ref(), node).await
    }

    /// The node's `status` value, within a second.
    async fn status(&self, node: &str) -> Option<serde_json::Value> {
        let fut = async {
            let mut c = self.connect(node).await.ok()?;
            let r = c.request(json!({"op": "status"})).await.ok()?;
            (r.get("ok") == Some(&json!(true))).then(|| r.get("value").cloned())?
        };
        tokio::time::timeout(Duration::from_secs(1), fut)
            .await
            .ok()?
    }
}

/// A connection to a node, within a second.
async fn connect(env: &dyn Env, node: &str) -> Result<Conn, TargetError> {
    let ip = env.node(node)?.ip;
    let stream = tokio::time::timeout(
        Duration::from_secs(1),
        TcpStream::connect((ip, CLIENT_PORT)),
    )
    .await
    .map_err(|_| TargetError::Node {
        node: node.into(),
        message: "connect timed out".into(),
    })?
    .map_err(|e| TargetError::Node {
        node: node.into(),
        message: format!("connect: {e}"),
    })?;
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    Ok(Conn {
        node: node.to_string(),
        reader: BufReader::new(r),
        writer: w,
        next_id: 1,
        line: String::new(),
    })
}

/// One TCP connection speaking the line protocol.
struct Conn {
    node: String,
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    next_id: u64,
    line: String,
}

/// Why a request got no response.
enum ConnError {
    /// The request may have been sent.
    Unknown(String),
}

impl Conn {
    async fn request(
        &mut self,
        mut req: serde_json::Value,
    ) -> Result<serde_json::Value, ConnError> {
        let id = self.next_id;
        self.next_id += 1;
        req["id"] = json!(id);
        let mut text = req.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .await
            .map_err(|e| ConnError::Unknown(format!("send: {e}")))?;
        loop {
            self.line.clear();
            let n = self
                .reader
                .read_line(&mut self.line)
                .await
                .map_err(|e| ConnError::Unknown(format!("receive: {e}")))?;
            if n == 0 {
                return Err(ConnError::Unknown("connection closed".into()));
            }
            let resp: serde_json::Value = serde_json::from_str(self.line.trim())
                .map_err(|e| ConnError::Unknown(format!("garbled response: {e}")))?;
            // Responses come in order; skip a stale one (an earlier request's).
            match resp.get("id").and_then(|v| v.as_u64()) {
                Some(r) if r < id => continue,
                _ => return Ok(resp),
            }
        }
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn from_json(v: &serde_json::Value) -> Value {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

/// The request for an invocation.
fn request(op: &Invocation) -> Result<serde_json::Value, Completion> {
    let key = op
        .key
        .as_ref()
        .map(to_json)
        .unwrap_or(serde_json::Value::Null);
    let key = match key {
        serde_json::Value::String(_) => key,
        other => json!(other.to_string()),
    };
    Ok(match op.f.as_str() {
        "read" => json!({"op": "read", "key": key}),
        "write" => json!({"op": "write", "key": key, "value": to_json(&op.value)}),
        "append" => json!({"op": "append", "key": key, "value": to_json(&op.value)}),
        "cas" => match op.value.as_list() {
            Some([from, to]) => {
                json!({"op": "cas", "key": key, "from": to_json(from), "to": to_json(to)})
            }
            _ => return Err(Completion::fail("bad-request: cas takes [from, to]")),
        },
        "txn" => json!({"op": "txn", "txn": to_json(&op.value)}),
        other => return Err(Completion::fail(format!("unsupported: {other}"))),
    })
}

/// The completion for a response.
fn completion(op: &Invocation, resp: &serde_json::Value, node: &str) -> Completion {
    let node = resp
        .get("node")
        .and_then(|n| n.as_str())
        .unwrap_or(node)
        .to_string();
    if resp.get("ok") == Some(&json!(true)) {
        let value = match op.f.as_str() {
            // Jepsen keeps the written value (or [from, to]) on an ok write/cas/append.
            "write" | "cas" | "append" => op.value.clone(),
            _ => resp.get("value").map(from_json).unwrap_or_default(),
        };
        let mut c = Completion::ok(value).with_node(node);
        if let Some(s) = resp.get("siblings") {
            c.value = Value::Map(vec![("siblings".into(), from_json(s))]);
        }
        return c;
    }
    let error = resp
        .get("error")
        .and_then(|e| e.as_str())
        .unwrap_or("error")
        .to_string();
    let c = if resp.get("definite") == Some(&json!(true)) {
        Completion::fail(error)
    } else {
        Completion::info(error)
    };
    c.with_node(node)
}

struct ReplicaClient {
    conn: Conn,
    env: Arc<dyn Env>,
    /// A connection to the leader a `not-leader` answer named, kept for the next redirect.
    redirect: Option<Conn>,
}

impl ReplicaClient {
    /// Sends the op to the named leader: the node's `not-leader` answer is definite (the op
    /// did nothing there), so trying it once more elsewhere keeps Jepsen's semantics while
    /// letting a client bound to a follower do useful work (as Jepsen clients that follow
    /// redirects do). Returns None if the leader cannot be reached.
    async fn via_leader(
        &mut self,
        leader: &str,
        req: serde_json::Value,
    ) -> Option<serde_json::Value> {
        if self.redirect.as_ref().map(|c| c.node.as_str()) != Some(leader) {
            self.redirect = connect(self.env.as_ref(), leader).await.ok();
        }
        let conn = self.redirect.as_mut()?;
        match conn.request(req).await {
            Ok(resp) => Some(resp),
            Err(ConnError::Unknown(_)) => {
                // The request may have reached the leader: that is indeterminate.
                self.redirect = None;
                Some(
                    json!({"ok": false, "error": "redirect: connection lost", "definite": false, "node": leader}),
                )
            }
        }
    }
}

impl Client for ReplicaClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let req = match request(op) {
                Ok(r) => r,
                Err(c) => return c,
            };
            let resp = match self.conn.request(req.clone()).await {
                Ok(resp) => resp,
                Err(ConnError::Unknown(e)) => {
                    return Completion::info(e).with_node(self.conn.node.clone())
                }
            };
            let leader = (resp.get("error").and_then(|e| e.as_str()) == Some("not-leader")
                && resp.get("definite") == Some(&json!(true)))
            .then(|| {
                resp.get("leader")
                    .and_then(|l| l.as_str())
                    .map(str::to_string)
            })
            .flatten()
            .filter(|l| *l != self.conn.node);
            if let Some(leader) = leader {
                if let Some(r) = self.via_leader(&leader, req).await {
                    return completion(op, &r, &leader);
                }
            }
            completion(op, &resp, &self.conn.node)
        })
    }
}

impl Target for Replica {
    fn name(&self) -> &str {
        "replica"
    }

    fn nodes(&self) -> Vec<String> {
        self.env.nodes().iter().map(|n| n.name.clone()).collect()
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            for n in self.nodes() {
                self.start(&n).await?;
            }
            // Every node answers status within 30 s, or setup fails naming the silent ones.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let mut silent = Vec::new();
                for n in self.nodes() {
                    if self.status(&n).await.is_none() {
                        silent.push(n);
                    }
                }
                if silent.is_empty() {
                    return Ok(());
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(TargetError::Other(format!(
                        "nodes {} did not answer within 30 s; see their logs in {}",
                        silent.join(", "),
                        self.run_dir.display()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let dir = self.run_dir.join("data").join(node);
            std::fs::create_dir_all(&dir).map_err(|e| TargetError::Node {
                node: node.into(),
                message: format!("creating {}: {e}", dir.display()),
            })?;
            let spawn = Spawn {
                program: self.binary.clone(),
                args: self.args(node)?,
                vars: vec![("RUST_BACKTRACE".into(), "1".into())],
                log: self.run_dir.join(format!("{node}.log")),
            };
            self.daemons.spawn(node, &spawn).await?;
            Ok(())
        })
    }

    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.stop(node))
    }

    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.kill(node))
    }

    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.pause(node))
    }

    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.resume(node))
    }

    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            let conn = self.connect(node).await?;
            Ok(Box::new(ReplicaClient {
                conn,
                env: self.env.clone(),
                redirect: None,
            }) as Box<dyn Client>)
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(self.daemons.stop_all())
    }

    fn primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }

    fn clock(&self) -> Option<&dyn Clock> {
        Some(self)
    }

    fn settle_time(&self) -> Duration {
        Duration::from_secs(5)
    }
}

impl Primary for Replica {
    fn primary(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            // The leader claim with the highest term wins (a deposed leader in a minority
            // may still believe it leads, with an older term).
            let mut best: Option<(u64, String)> = None;
            for n in self.nodes() {
                let Some(s) = self.status(&n).await else {
                    continue;
                };
                if s.get("role").and_then(|r| r.as_str()) == Some("leader") {
                    let term = s.get("term").and_then(|t| t.as_u64()).unwrap_or(0);
                    if best.as_ref().is_none_or(|(t, _)| term > *t) {
                        best = Some((term, n));
                    }
                }
            }
            best.map(|(_, n)| n)
        })
    }
}

impl Clock for Replica {
    fn set_offset<'a>(
        &'a self,
        node: &'a str,
        offset_ms: i64,
    ) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let mut c = self.connect(node).await?;
            let r = tokio::time::timeout(
                Duration::from_secs(2),
                c.request(json!({"op": "admin", "action": "clock-offset", "value": offset_ms})),
            )
            .await;
            match r {
                Ok(Ok(resp)) if resp.get("ok") == Some(&json!(true)) => Ok(()),
                Ok(Ok(resp)) => Err(TargetError::Node {
                    node: node.into(),
                    message: format!("clock-offset refused: {resp}"),
                }),
                _ => Err(TargetError::Node {
                    node: node.into(),
                    message: "clock-offset got no answer".into(),
                }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_completions_follow_the_contract() {
        let cas = Invocation::new("cas", Value::List(vec![1.into(), 2.into()])).with_key("x");
        assert_eq!(
            request(&cas).ok().unwrap(),
            json!({"op": "cas", "key": "x", "from": 1, "to": 2})
        );
        let fail = completion(
            &cas,
            &json!({"id": 9, "ok": false, "node": "n1", "error": "cas-mismatch", "definite": true}),
            "n1",
        );
        assert_eq!(fail.kind, faultline_core::OpType::Fail);
        let info = completion(
            &cas,
            &json!({"id": 9, "ok": false, "node": "n1", "error": "timeout", "definite": false}),
            "n1",
        );
        assert_eq!(info.kind, faultline_core::OpType::Info);
        let read = Invocation::new("read", Value::Nil).with_key("x");
        let ok = completion(
            &read,
            &json!({"id": 7, "ok": true, "node": "n2", "value": 5}),
            "n1",
        );
        assert_eq!((ok.value, ok.node.as_deref()), (Value::Int(5), Some("n2")));
    }
}
