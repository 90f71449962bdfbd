//! Redis target: Debian's `redis-server`, the first node the primary and the others replicas
//! (`--replicaof`, asynchronous replication), optionally watched by `redis-sentinel` on every
//! node for automatic failover. Client protocol in [`resp`].
//!
//! Options:
//! - `reads = primary | replicas`: where a client's reads go (its own node when `replicas`;
//!   writes always go to the current primary).
//! - `wait = N` (default 0 = off) and `wait_timeout_ms` (default 1000): after every write,
//!   `WAIT N timeout`; a write fewer than N replicas acknowledged is recorded `info` (it is on
//!   the primary but may be lost in a failover). This is semi-synchronous, not synchronous:
//!   Redis never rolls a write back.
//! - `sentinel = true`: run Sentinel (quorum = majority) and follow its view of the primary.
//!
//! Persistence is AOF with `appendfsync everysec`, Redis' recommended setting: a killed
//! primary may lose up to a second of acknowledged writes, which the checkers should find.
//! Clock faults do not apply: Debian's redis-server is linked with jemalloc, which reads the
//! clock while libfaketime (0.9.10) initialises, and the server dies at start with
//! "Unexpected recursive calls to clock_gettime()". The target says so rather than pretend.

pub mod resp;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::env::{Env, Spawn};
use faultline_core::target::{Daemons, Primary, Target, TargetError};
use faultline_core::{BoxFuture, Value};

use self::resp::{list_of, RedisConn, Resp};
use super::install;
use super::ops::{self, completion_of, KvOp, Micro};
use super::outcome::OpError;
use super::real::{wait_until, BuildError, Options, Paths};

const PORT: u16 = 6379;
const SENTINEL_PORT: u16 = 26379;
const MASTER_NAME: &str = "faultline";

/// Said once at setup, and in docs/targets.md.
pub const CLOCK_NOTE: &str = "redis: clock faults do not apply: redis-server (jemalloc) dies \
at start under libfaketime 0.9.10 (recursive clock_gettime), so its clock cannot be skewed";

/// What clients need to know, shared with them.
struct Shared {
    nodes: Vec<String>,
    /// node -> (ip, redis port, sentinel port)
    addrs: BTreeMap<String, (String, u16, u16)>,
    reads_replicas: bool,
    wait: u32,
    wait_timeout_ms: u64,
    sentinel: bool,
}

impl Shared {
    fn addr(&self, node: &str) -> Option<String> {
        self.addrs.get(node).map(|(ip, p, _)| format!("{ip}:{p}"))
    }

    fn node_of(&self, ip: &str, port: u16) -> Option<String> {
        self.addrs
            .iter()
            .find(|(_, (i, p, _))| i == ip && *p == port)
            .map(|(n, _)| n.clone())
    }

    /// The primary as Sentinel on `via` reports it (or the first node without Sentinel).
    async fn primary_via(&self, via: &str) -> Result<String, OpError> {
        if !self.sentinel {
            return Ok(self.nodes[0].clone());
        }
        let (ip, _, sp) = self
            .addrs
            .get(via)
            .ok_or_else(|| OpError::not_applied("unknown-node", via.to_string()))?;
        let mut c = RedisConn::connect(&format!("{ip}:{sp}"), Duration::from_millis(500)).await?;
        let r = c
            .cmd(&[
                b"SENTINEL",
                b"get-master-addr-by-name",
                MASTER_NAME.as_bytes(),
            ])
            .await
            // Asking sentinel changes nothing: any error means "no answer", not "maybe".
            .map_err(|e| OpError::not_applied("sentinel", e.detail))?;
        let parts = list_of(r).map_err(|e| OpError::not_applied("sentinel", e.detail))?;
        match parts.as_slice() {
            [host, port] => port
                .parse::<u16>()
                .ok()
                .and_then(|p| self.node_of(host, p))
                .ok_or_else(|| {
                    OpError::not_applied("sentinel", format!("unknown primary {host}:{port}"))
                }),
            _ => Err(OpError::not_applied("sentinel", "no primary known")),
        }
    }
}

pub struct Redis {
    daemons: Daemons,
    sentinels: Daemons,
    shared: Arc<Shared>,
    paths: Paths,
}

impl Redis {
    pub fn new(options: &Options, env: Arc<dyn Env>) -> Result<Redis, BuildError> {
        options.only("redis", &["reads", "wait", "wait_timeout_ms", "sentinel"])?;
        let reads = options.choice("reads", &["primary", "replicas"])?;
        let wait = options.int("wait", 0)? as u32;
        let wait_timeout_ms = options.int("wait_timeout_ms", 1000)?;
        let sentinel = options.flag("sentinel")?;
        install::ensure("redis-server", "redis-server", Some("redis-server"))?;
        if sentinel {
            install::ensure("redis-sentinel", "redis-sentinel", Some("redis-sentinel"))?;
        }
        let same_ip = env.nodes().windows(2).all(|w| w[0].ip == w[1].ip);
        let mut addrs = BTreeMap::new();
        for (i, n) in env.nodes().iter().enumerate() {
            let off = if same_ip { i as u16 } else { 0 };
            addrs.insert(
                n.name.clone(),
                (n.ip.to_string(), PORT + off, SENTINEL_PORT + off),
            );
        }
        let nodes: Vec<String> = env.nodes().iter().map(|n| n.name.clone()).collect();
        if nodes.is_empty() {
            return Err(BuildError::Bad(
                "redis: the environment has no nodes".into(),
            ));
        }
        let paths = Paths::new("redis", env.as_ref())
            .map_err(|e| BuildError::Bad(format!("redis: creating its directories: {e}")))?;
        Ok(Redis {
            daemons: Daemons::new(env.clone()),
            sentinels: Daemons::new(env),
            shared: Arc::new(Shared {
                nodes,
                addrs,
                reads_replicas: reads == "replicas",
                wait,
                wait_timeout_ms,
                sentinel,
            }),
            paths,
        })
    }

    fn spawn_for(&self, node: &str) -> Result<Spawn, TargetError> {
        let s = &self.shared;
        let (ip, port, _) = s.addrs.get(node).ok_or_else(|| TargetError::Node {
            node: node.into(),
            message: "not a node of this cluster".into(),
        })?;
        let dir = self.paths.node_data(node);
        std::fs::create_dir_all(&dir)
            .map_err(|e| TargetError::Other(format!("creating {}: {e}", dir.display())))?;
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            ip,
            "--protected-mode",
            "no",
            "--dir",
            &dir.display().to_string(),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--logfile",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if node != s.nodes[0] {
            let (pip, pport, _) = &s.addrs[&s.nodes[0]];
            args.extend(["--replicaof".into(), pip.clone(), pport.to_string()]);
        }
        Ok(Spawn {
            program: "redis-server".into(),
            args,
            vars: Vec::new(),
            log: self.paths.log(node, "redis"),
        })
    }

    fn sentinel_spawn(&self, node: &str) -> Result<Spawn, TargetError> {
        let s = &self.shared;
        let (ip, _, sport) = &s.addrs[node];
        let (pip, pport, _) = &s.addrs[&s.nodes[0]];
        let quorum = s.nodes.len() / 2 + 1;
        let dir = self.paths.node_data(node);
        let conf = dir.join("sentinel.conf");
        let text = format!(
            "port {sport}\nbind {ip}\nprotected-mode no\ndir {dir}\n\
             sentinel monitor {MASTER_NAME} {pip} {pport} {quorum}\n\
             sentinel down-after-milliseconds {MASTER_NAME} 2000\n\
             sentinel failover-timeout {MASTER_NAME} 6000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir = dir.display()
        );
        std::fs::create_dir_all(&dir)
            .and_then(|_| std::fs::write(&conf, text))
            .map_err(|e| TargetError::Other(format!("writing {}: {e}", conf.display())))?;
        Ok(Spawn {
            program: "redis-sentinel".into(),
            args: vec![conf.display().to_string()],
            vars: Vec::new(),
            log: self.paths.log(node, "sentinel"),
        })
    }

    async fn healthy(&self, node: &str) -> Result<(), String> {
        let addr = self.shared.addr(node).ok_or("unknown node")?;
        let mut c = RedisConn::connect(&addr, Duration::from_secs(1))
            .await
            .map_err(|e| e.to_string())?;
        let info = c.info_replication().await.map_err(|e| e.to_string())?;
        let get = |k: &str| info.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
        if node == self.shared.nodes[0] {
            return Ok(());
        }
        match get("master_link_status") {
            Some("up") => Ok(()),
            other => Err(format!("replication link {other:?}")),
        }
    }
}

impl Target for Redis {
    fn name(&self) -> &str {
        "redis"
    }

    fn nodes(&self) -> Vec<String> {
        self.shared.nodes.clone()
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            eprintln!("{CLOCK_NOTE}");
            for node in &self.shared.nodes {
                let spawn = self.spawn_for(node)?;
                self.daemons.spawn(node, &spawn).await?;
            }
            for node in &self.shared.nodes {
                wait_until(Duration::from_secs(30), &format!("redis on {node}"), || {
                    self.healthy(node)
                })
                .await?;
            }
            if self.shared.sentinel {
                for node in &self.shared.nodes {
                    let spawn = self.sentinel_spawn(node)?;
                    self.sentinels.spawn(node, &spawn).await?;
                }
                for node in &self.shared.nodes {
                    wait_until(
                        Duration::from_secs(30),
                        &format!("sentinel on {node}"),
                        || {
                            let s = self.shared.clone();
                            let node = node.clone();
                            async move {
                                s.primary_via(&node)
                                    .await
                                    .map(|_| ())
                                    .map_err(|e| e.to_string())
                            }
                        },
                    )
                    .await?;
                }
            }
            Ok(())
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let spawn = self.spawn_for(node)?;
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
            Ok(Box::new(RedisClient {
                shared: self.shared.clone(),
                node: node.to_string(),
                primary: None,
                local: None,
            }) as Box<dyn Client>)
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            let a = self.sentinels.stop_all().await;
            let b = self.daemons.stop_all().await;
            self.paths.remove_data();
            a.and(b)
        })
    }

    fn primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }
}

impl Primary for Redis {
    fn primary(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            for n in &self.shared.nodes {
                if let Ok(p) = self.shared.primary_via(n).await {
                    return Some(p);
                }
            }
            None
        })
    }
}

/// One client: a connection to the primary for writes, and to its own node for reads when
/// reads go to replicas. A fresh client (after an `info`) asks Sentinel again.
struct RedisClient {
    shared: Arc<Shared>,
    node: String,
    primary: Option<(String, RedisConn)>,
    local: Option<RedisConn>,
}

impl RedisClient {
    async fn primary_conn(&mut self) -> Result<(&str, &mut RedisConn), OpError> {
        if self.primary.is_none() {
            let p = self.shared.primary_via(&self.node).await?;
            let addr = self
                .shared
                .addr(&p)
                .ok_or_else(|| OpError::not_applied("unknown-node", p.clone()))?;
            let c = RedisConn::connect(&addr, Duration::from_millis(1500)).await?;
            self.primary = Some((p, c));
        }
        let (n, c) = self
            .primary
            .as_mut()
            .ok_or_else(|| OpError::not_applied("io", "no connection"))?;
        Ok((n.as_str(), c))
    }

    /// The connection reads go to, and the node it reaches.
    async fn read_conn(&mut self) -> Result<(String, &mut RedisConn), OpError> {
        if !self.shared.reads_replicas {
            let (n, c) = self.primary_conn().await?;
            return Ok((n.to_string(), c));
        }
        if self.local.is_none() {
            let addr = self
                .shared
                .addr(&self.node)
                .ok_or_else(|| OpError::not_applied("unknown-node", self.node.clone()))?;
            self.local = Some(RedisConn::connect(&addr, Duration::from_millis(1500)).await?);
        }
        let c = self
            .local
            .as_mut()
            .ok_or_else(|| OpError::not_applied("io", "no connection"))?;
        Ok((self.node.clone(), c))
    }

    /// After a write on the primary: WAIT for replicas when asked to.
    async fn after_write(&mut self) -> Result<(), OpError> {
        let (wait, t) = (self.shared.wait, self.shared.wait_timeout_ms);
        if wait == 0 {
            return Ok(());
        }
        let (_, c) = self.primary_conn().await?;
        let acked = c.wait(wait, t).await?;
        if acked < i64::from(wait) {
            return Err(OpError::unknown(
                "wait-timeout",
                format!("{acked} of {wait} replicas acknowledged within {t} ms"),
            ));
        }
        Ok(())
    }

    async fn run(&mut self, op: KvOp) -> Result<(String, Value), OpError> {
        match op {
            KvOp::Read(k) => {
                let (n, c) = self.read_conn().await?;
                let v = c.get(&k).await?;
                Ok((n, ops::stored_value(v.as_deref())))
            }
            KvOp::Write(k, v) => {
                let (n, c) = self.primary_conn().await?;
                let n = n.to_string();
                c.set(&k, &v.to_string()).await?;
                self.after_write().await?;
                Ok((n, Value::Int(v)))
            }
            KvOp::Cas(k, from, to) => {
                let (n, c) = self.primary_conn().await?;
                let n = n.to_string();
                if !c.cas(&k, &from.to_string(), &to.to_string()).await? {
                    return Err(OpError::not_applied("cas-mismatch", "value differed"));
                }
                self.after_write().await?;
                Ok((n, Value::List(vec![Value::Int(from), Value::Int(to)])))
            }
            KvOp::Txn(mops) => self.txn(&mops).await,
            KvOp::Transfer { .. } | KvOp::BankRead => Err(OpError::not_applied(
                "unsupported",
                "the bank workload is not implemented for redis",
            )),
        }
    }

    async fn txn(&mut self, mops: &[Micro]) -> Result<(String, Value), OpError> {
        let read_only = mops.iter().all(|m| matches!(m, Micro::Read(_)));
        let vals: Vec<String> = mops
            .iter()
            .map(|m| match m {
                Micro::Append(_, v) => v.to_string(),
                Micro::Read(_) => String::new(),
            })
            .collect();
        let cmds: Vec<Vec<&[u8]>> = mops
            .iter()
            .zip(&vals)
            .map(|(m, v)| match m {
                Micro::Append(k, _) => vec![&b"RPUSH"[..], k.as_bytes(), v.as_bytes()],
                Micro::Read(k) => vec![&b"LRANGE"[..], k.as_bytes(), b"0", b"-1"],
            })
            .collect();
        let (node, replies) = if read_only {
            let (n, c) = self.read_conn().await?;
            (n, c.multi_exec(&cmds).await?)
        } else {
            let (n, c) = self.primary_conn().await?;
            let n = n.to_string();
            (n, c.multi_exec(&cmds).await?)
        };
        let mut out = Vec::with_capacity(mops.len());
        for (m, r) in mops.iter().zip(replies) {
            match (m, r) {
                (_, Resp::Error(e)) => {
                    // A command failed inside EXEC: the others ran (Redis has no rollback).
                    return Err(OpError::unknown("exec-error", e));
                }
                (Micro::Read(_), r) => {
                    let l: Vec<i64> = list_of(r)?.iter().filter_map(|x| x.parse().ok()).collect();
                    out.push(ops::micro_value(m, Some(&l)));
                }
                (Micro::Append(..), _) => out.push(ops::micro_value(m, None)),
            }
        }
        if !read_only {
            self.after_write().await?;
        }
        Ok((node, Value::List(out)))
    }
}

impl Client for RedisClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let parsed = match ops::parse(op) {
                Ok(p) => p,
                Err(e) => return Completion::fail(e).with_node(&self.node),
            };
            match self.run(parsed).await {
                Ok((n, v)) => Completion::ok(v).with_node(n),
                Err(e) => {
                    // Reconnect (and re-ask Sentinel) on the next op.
                    self.primary = None;
                    self.local = None;
                    completion_of(&e, &self.node)
                }
            }
        })
    }
}
