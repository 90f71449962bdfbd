//! Bring your own system: a target described by a TOML file ([`spec`]) with shell commands
//! to start, stop and kill a node, and a client program that speaks one JSON op per line on
//! stdin and answers one completion per line on stdout (Maelstrom's idea: any language).
//!
//! The client protocol, one line each way per op:
//! - in:  `{"f": "read", "key": "r1", "value": null}` (key absent for unkeyed ops)
//! - out: `{"type": "ok", "value": 5}`, `{"type": "fail", "error": "not-found"}` or
//!   `{"type": "info", "error": "timeout"}`. An answer that is not such a line, a client that
//!   exits, or no answer within `client.timeout_ms` is recorded `info`, and the client
//!   program is restarted for the next op.
//!
//! Option: `file = PATH` (the TOML file).

pub mod spec;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::env::{Env, Signal, Spawn};
use faultline_core::history::OpType;
use faultline_core::target::{Daemons, Target, TargetError};
use faultline_core::{BoxFuture, Value};
use serde_json::{json, Value as Json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use self::spec::{fill, Spec};
use super::real::{BuildError, Options, Paths};

pub struct External {
    spec: Arc<Spec>,
    daemons: Daemons,
    nodes: Vec<String>,
    /// node -> (ip, port)
    addrs: BTreeMap<String, (String, u16)>,
    paths: Paths,
}

impl External {
    pub fn new(options: &Options, env: Arc<dyn Env>) -> Result<External, BuildError> {
        options.only("external", &["file"])?;
        let file = options.get("file").ok_or_else(|| {
            BuildError::Bad(format!(
                "{}: the external target needs option file = PATH (its TOML description)",
                options.origin
            ))
        })?;
        let spec =
            Spec::load(std::path::Path::new(file)).map_err(|e| BuildError::Bad(e.to_string()))?;
        let same_ip = env.nodes().windows(2).all(|w| w[0].ip == w[1].ip);
        let mut addrs = BTreeMap::new();
        for (i, n) in env.nodes().iter().enumerate() {
            let off = if same_ip { i as u16 } else { 0 };
            addrs.insert(n.name.clone(), (n.ip.to_string(), spec.port + off));
        }
        let paths = Paths::new("external", env.as_ref())
            .map_err(|e| BuildError::Bad(format!("external: creating its directories: {e}")))?;
        Ok(External {
            spec: Arc::new(spec),
            nodes: env.nodes().iter().map(|n| n.name.clone()).collect(),
            daemons: Daemons::new(env),
            addrs,
            paths,
        })
    }

    fn values(&self, node: &str) -> Vec<(&'static str, String)> {
        let (ip, port) = self.addrs.get(node).cloned().unwrap_or_default();
        let peers: Vec<String> = self
            .nodes
            .iter()
            .map(|n| {
                let (i, p) = &self.addrs[n];
                format!("{n}={i}:{p}")
            })
            .collect();
        let mut v = vec![
            ("node", node.to_string()),
            ("addr", format!("{ip}:{port}")),
            ("ip", ip),
            ("port", port.to_string()),
            ("data_dir", self.paths.node_data(node).display().to_string()),
            ("peers", peers.join(",")),
            ("dir", self.spec.dir.display().to_string()),
        ];
        if let Some(pid) = self.daemons.pid(node) {
            v.push(("pid", pid.to_string()));
        }
        v
    }

    /// Runs a stop or kill command from the file, bounded, on the node.
    async fn run_command(&self, node: &str, cmd: &str) -> Result<(), TargetError> {
        let line = fill(cmd, &self.values(node));
        let args = vec!["-c".to_string(), line.clone()];
        let out = self
            .daemons
            .env()
            .exec(node, "sh", &args, Duration::from_secs(30))
            .await?;
        if !out.success() {
            return Err(TargetError::Node {
                node: node.into(),
                message: format!("`{line}` failed: {}", out.stderr.trim()),
            });
        }
        Ok(())
    }

    async fn start_node(&self, node: &str) -> Result<(), TargetError> {
        let dir = self.paths.node_data(node);
        std::fs::create_dir_all(&dir)
            .map_err(|e| TargetError::Other(format!("creating {}: {e}", dir.display())))?;
        let line = fill(&self.spec.start, &self.values(node));
        // `exec` so the PID the harness signals is the program's, not a shell's.
        let spawn = Spawn {
            program: "sh".into(),
            args: vec!["-c".into(), format!("exec {line}")],
            vars: Vec::new(),
            log: self.paths.log(node, &self.spec.name),
        };
        self.daemons.spawn(node, &spawn).await?;
        Ok(())
    }

    /// Waits until a node accepts TCP connections on its port (bounded).
    async fn listening(&self, node: &str) -> Result<(), String> {
        let (ip, port) = self.addrs.get(node).ok_or("unknown node")?;
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(format!("{ip}:{port}")),
        )
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

impl Target for External {
    fn name(&self) -> &str {
        &self.spec.name
    }

    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            for node in &self.nodes {
                self.start_node(node).await?;
            }
            for node in &self.nodes {
                super::real::wait_until(
                    Duration::from_secs(30),
                    &format!("{} on {node}", self.spec.name),
                    || self.listening(node),
                )
                .await?;
            }
            Ok(())
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.start_node(node))
    }

    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            if let Some(cmd) = &self.spec.stop {
                self.run_command(node, cmd).await?;
            }
            self.daemons.stop(node).await
        })
    }

    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            match &self.spec.kill {
                Some(cmd) => {
                    self.run_command(node, cmd).await?;
                    // Make sure the process this harness started is gone either way.
                    if let Some(pid) = self.daemons.pid(node) {
                        let _ = self.daemons.env().signal(node, pid, Signal::Kill).await;
                    }
                    Ok(())
                }
                None => self.daemons.kill(node).await,
            }
        })
    }

    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.pause(node))
    }

    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.resume(node))
    }

    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            let line = fill(&self.spec.client, &self.values(node));
            let mut c = ProgramClient {
                command: line,
                node: node.to_string(),
                timeout: Duration::from_millis(self.spec.client_timeout_ms),
                proc: None,
            };
            // Started now, so an interpreter's start-up is not charged to the first op; if
            // it cannot start, the first op says why (as a fail: nothing was sent).
            c.proc = c.launch().ok();
            Ok(Box::new(c) as Box<dyn Client>)
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            let r = self.daemons.stop_all().await;
            self.paths.remove_data();
            r
        })
    }
}

struct Proc {
    /// Killed (by its own PID) when dropped.
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// A client program run on the controller, one per Jepsen process.
struct ProgramClient {
    command: String,
    node: String,
    timeout: Duration,
    proc: Option<Proc>,
}

/// The request line for an invocation.
pub fn request_line(op: &Invocation) -> String {
    let mut m = serde_json::Map::new();
    m.insert("f".into(), Json::String(op.f.clone()));
    if let Some(k) = &op.key {
        m.insert("key".into(), serde_json::to_value(k).unwrap_or(Json::Null));
    }
    m.insert(
        "value".into(),
        serde_json::to_value(&op.value).unwrap_or(Json::Null),
    );
    Json::Object(m).to_string()
}

/// The completion a reply line gives; anything unexpected is `info` (the op may have run).
pub fn parse_reply(line: &str) -> Completion {
    let Ok(j) = serde_json::from_str::<Json>(line.trim()) else {
        return Completion::info(format!(
            "client program replied with non-JSON: {}",
            line.trim()
        ));
    };
    let value = j
        .get("value")
        .cloned()
        .and_then(|v| serde_json::from_value::<Value>(v).ok())
        .unwrap_or(Value::Nil);
    let error = j
        .get("error")
        .cloned()
        .and_then(|v| serde_json::from_value::<Value>(v).ok());
    let kind = j.get("type").and_then(Json::as_str).and_then(OpType::parse);
    match kind {
        Some(OpType::Ok) => Completion::ok(value),
        Some(OpType::Fail) => Completion {
            kind: OpType::Fail,
            value,
            node: None,
            error: error.or(Some("fail".into())),
        },
        Some(OpType::Info) => Completion {
            kind: OpType::Info,
            value,
            node: None,
            error: error.or(Some("info".into())),
        },
        _ => Completion::info(format!(
            "client program reply has no type ok/fail/info: {}",
            json!(j)
        )),
    }
}

impl ProgramClient {
    fn launch(&self) -> Result<Proc, String> {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", &format!("exec {}", self.command)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("could not start client program `{}`: {e}", self.command))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        Ok(Proc {
            _child: child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    async fn exchange(&mut self, line: &str) -> Completion {
        if self.proc.is_none() {
            match self.launch() {
                Ok(p) => self.proc = Some(p),
                // Nothing was sent anywhere.
                Err(e) => return Completion::fail(e),
            }
        }
        let Some(p) = self.proc.as_mut() else {
            return Completion::fail("no client program");
        };
        let io = async {
            p.stdin.write_all(line.as_bytes()).await?;
            p.stdin.write_all(b"\n").await?;
            p.stdin.flush().await?;
            let mut reply = String::new();
            let n = p.stdout.read_line(&mut reply).await?;
            Ok::<_, std::io::Error>((n, reply))
        };
        match tokio::time::timeout(self.timeout, io).await {
            Ok(Ok((n, reply))) if n > 0 => parse_reply(&reply),
            Ok(Ok(_)) => {
                self.proc = None;
                Completion::info("client program exited")
            }
            Ok(Err(e)) => {
                self.proc = None;
                Completion::info(format!("client program: {e}"))
            }
            Err(_) => {
                self.proc = None;
                Completion::info("timeout")
            }
        }
    }
}

impl Client for ProgramClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let line = request_line(op);
            let c = self.exchange(&line).await;
            if c.kind == OpType::Info {
                // Its state is unknown; the next op starts a fresh program.
                self.proc = None;
            }
            c.with_node(&self.node)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_line_with_the_key() {
        let op = Invocation::new("write", Value::Int(3)).with_key("r1");
        assert_eq!(request_line(&op), r#"{"f":"write","key":"r1","value":3}"#);
    }

    #[test]
    fn replies_map_to_completions_and_garbage_is_info() {
        assert_eq!(
            parse_reply(r#"{"type":"ok","value":5}"#).value,
            Value::Int(5)
        );
        assert_eq!(
            parse_reply(r#"{"type":"fail","error":"cas-mismatch"}"#).kind,
            OpType::Fail
        );
        assert_eq!(parse_reply("hello").kind, OpType::Info);
        assert_eq!(parse_reply(r#"{"type":"invoke"}"#).kind, OpType::Info);
    }
}
