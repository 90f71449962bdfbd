//! etcd target: a Raft cluster of Debian's `etcd` (3 or 5 members, one per node), reached
//! through its v3 JSON gateway ([`kv`], [`http`]).
//!
//! Options: `reads = linearizable | serializable` (serializable reads are answered from a
//! member's local state and may be stale: the option that must show it). Register ops map
//! to range / put / a value-compare txn; list-append transactions read their keys, then
//! commit one txn guarded by every key's `mod_revision` (optimistic concurrency: a conflict
//! is `fail`, nothing was written), which makes them strictly serializable.
//!
//! Clock faults: etcd is a Go program and reads the clock without libc, so libfaketime does
//! not reach it; the target offers no clock control and says so at setup.

pub mod http;
pub mod kv;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::env::{Env, Spawn};
use faultline_core::target::{Daemons, Primary, Target, TargetError};
use faultline_core::{BoxFuture, Value};
use serde_json::Value as Json;

use self::kv::{EtcdKv, TxnStep};
use super::install;
use super::ops::{self, completion_of, KvOp, Micro};
use super::outcome::OpError;
use super::real::{wait_until, BuildError, Options, Paths};

const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

/// Said once at setup, and in docs/targets.md.
pub const CLOCK_NOTE: &str = "etcd: clock faults do not apply: etcd is a Go program and reads \
the clock without libc, so libfaketime does not reach it";

pub struct Etcd {
    daemons: Daemons,
    nodes: Vec<String>,
    /// node -> (client addr, peer url)
    addrs: BTreeMap<String, (String, String)>,
    serializable: bool,
    paths: Paths,
    token: String,
}

impl Etcd {
    pub fn new(options: &Options, env: Arc<dyn Env>) -> Result<Etcd, BuildError> {
        options.only("etcd", &["reads"])?;
        let reads = options.choice("reads", &["linearizable", "serializable"])?;
        install::ensure("etcd", "etcd-server", None)?;
        let nodes: Vec<String> = env.nodes().iter().map(|n| n.name.clone()).collect();
        let same_ip = env.nodes().windows(2).all(|w| w[0].ip == w[1].ip);
        let mut addrs = BTreeMap::new();
        for (i, n) in env.nodes().iter().enumerate() {
            // Nodes sharing an address (loopback) get ports of their own.
            let off = if same_ip { 10 * i as u16 } else { 0 };
            addrs.insert(
                n.name.clone(),
                (
                    format!("{}:{}", n.ip, CLIENT_PORT + off),
                    format!("http://{}:{}", n.ip, PEER_PORT + off),
                ),
            );
        }
        let paths = Paths::new("etcd", env.as_ref())
            .map_err(|e| BuildError::Bad(format!("etcd: creating its directories: {e}")))?;
        Ok(Etcd {
            daemons: Daemons::new(env),
            nodes,
            addrs,
            serializable: reads == "serializable",
            token: format!("faultline-{}", std::process::id()),
            paths,
        })
    }

    fn spawn_for(&self, node: &str) -> Result<Spawn, TargetError> {
        let (client, peer) = self.addrs.get(node).ok_or_else(|| TargetError::Node {
            node: node.into(),
            message: "not a node of this cluster".into(),
        })?;
        let cluster: Vec<String> = self
            .addrs
            .iter()
            .map(|(n, (_, p))| format!("{n}={p}"))
            .collect();
        let url = format!("http://{client}");
        Ok(Spawn {
            program: "etcd".into(),
            args: vec![
                format!("--name={node}"),
                format!("--data-dir={}", self.paths.node_data(node).display()),
                format!("--listen-client-urls={url}"),
                format!("--advertise-client-urls={url}"),
                format!("--listen-peer-urls={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
                format!("--initial-cluster={}", cluster.join(",")),
                "--initial-cluster-state=new".into(),
                format!("--initial-cluster-token={}", self.token),
                // Short enough that elections finish well inside a fault window.
                "--heartbeat-interval=100".into(),
                "--election-timeout=1000".into(),
            ],
            vars: Vec::new(),
            log: self.paths.log(node, "etcd"),
        })
    }

    fn kv(&self, node: &str, timeout: Duration) -> Result<EtcdKv, TargetError> {
        let (client, _) = self.addrs.get(node).ok_or_else(|| TargetError::Node {
            node: node.into(),
            message: "not a node of this cluster".into(),
        })?;
        Ok(EtcdKv::new(client.clone(), timeout, self.serializable))
    }

    async fn healthy(&self, node: &str) -> Result<(), String> {
        let mut kv = self
            .kv(node, Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        // A linearizable read succeeds only with a leader and a quorum.
        kv.serializable = false;
        kv.get("faultline-health")
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The member the cluster names as leader, by asking each member's status.
    async fn leader(&self) -> Option<String> {
        let mut votes: BTreeMap<String, usize> = BTreeMap::new();
        for node in &self.nodes {
            let (addr, _) = self.addrs.get(node)?;
            let mut h = http::HttpConn::new(addr.clone(), Duration::from_millis(500));
            let Ok(status) = h.post("/v3/maintenance/status", b"{}").await else {
                continue;
            };
            let Ok(s) = serde_json::from_slice::<Json>(&status.body) else {
                continue;
            };
            let Some(leader) = s.get("leader").and_then(Json::as_str) else {
                continue;
            };
            let Ok(m) = h.post("/v3/cluster/member/list", b"{}").await else {
                continue;
            };
            let members = serde_json::from_slice::<Json>(&m.body).unwrap_or(Json::Null);
            let name = members
                .get("members")
                .and_then(Json::as_array)
                .and_then(|ms| {
                    ms.iter()
                        .find(|m| m.get("ID").and_then(Json::as_str) == Some(leader))
                        .and_then(|m| m.get("name").and_then(Json::as_str))
                });
            if let Some(n) = name {
                *votes.entry(n.to_string()).or_default() += 1;
            }
        }
        let (name, n) = votes.into_iter().max_by_key(|(_, n)| *n)?;
        (n * 2 > self.nodes.len()).then_some(name)
    }
}

impl Target for Etcd {
    fn name(&self) -> &str {
        "etcd"
    }

    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            eprintln!("{CLOCK_NOTE}");
            for node in &self.nodes {
                let spawn = self.spawn_for(node)?;
                self.daemons.spawn(node, &spawn).await?;
            }
            for node in &self.nodes {
                wait_until(Duration::from_secs(60), &format!("etcd on {node}"), || {
                    self.healthy(node)
                })
                .await?;
            }
            Ok(())
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            // Its data directory exists, so it rejoins as the member it was.
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
            let kv = self.kv(node, Duration::from_millis(1500))?;
            Ok(Box::new(EtcdClient {
                kv,
                node: node.to_string(),
            }) as Box<dyn Client>)
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            let r = self.daemons.stop_all().await;
            self.paths.remove_data();
            r
        })
    }

    fn primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }

    fn settle_time(&self) -> Duration {
        Duration::from_secs(5)
    }
}

impl Primary for Etcd {
    fn primary(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(self.leader())
    }
}

struct EtcdClient {
    kv: EtcdKv,
    node: String,
}

impl EtcdClient {
    async fn run(&mut self, op: KvOp) -> Result<Value, OpError> {
        match op {
            KvOp::Read(k) => Ok(ops::stored_value(self.kv.get(&k).await?.value.as_deref())),
            KvOp::Write(k, v) => {
                self.kv.put(&k, &v.to_string()).await?;
                Ok(Value::Int(v))
            }
            KvOp::Cas(k, from, to) => {
                if self.kv.cas(&k, &from.to_string(), &to.to_string()).await? {
                    Ok(Value::List(vec![Value::Int(from), Value::Int(to)]))
                } else {
                    Err(OpError::not_applied("cas-mismatch", "value differed"))
                }
            }
            KvOp::Txn(mops) => self.txn(&mops).await,
            KvOp::Transfer { .. } | KvOp::BankRead => Err(OpError::not_applied(
                "unsupported",
                "the bank workload is not implemented for etcd",
            )),
        }
    }

    /// Read every key of the transaction at one revision, compute the transaction locally,
    /// then commit its writes guarded by those keys' revisions.
    async fn txn(&mut self, mops: &[Micro]) -> Result<Value, OpError> {
        let keys: Vec<String> = mops
            .iter()
            .map(|m| match m {
                Micro::Append(k, _) | Micro::Read(k) => k.clone(),
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let reads = self.kv.read_many(&keys).await?;
        let mut state: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        let mut guards = Vec::new();
        for (k, r) in keys.iter().zip(&reads) {
            state.insert(k.clone(), ops::parse_list(r.value.as_deref()));
            guards.push((k.clone(), r.mod_revision));
        }
        let mut out = Vec::with_capacity(mops.len());
        let mut written = BTreeSet::new();
        for m in mops {
            match m {
                Micro::Append(k, v) => {
                    state.entry(k.clone()).or_default().push(*v);
                    written.insert(k.clone());
                    out.push(ops::micro_value(m, None));
                }
                Micro::Read(k) => {
                    let l = state.get(k).cloned().unwrap_or_default();
                    out.push(ops::micro_value(m, Some(&l)));
                }
            }
        }
        if written.is_empty() {
            return Ok(Value::List(out));
        }
        let steps: Vec<TxnStep> = written
            .iter()
            .map(|k| TxnStep::Put(k.clone(), ops::format_list(&state[k])))
            .collect();
        let (ok, _) = self.kv.guarded_txn(&guards, &steps).await?;
        if ok {
            Ok(Value::List(out))
        } else {
            Err(OpError::not_applied(
                "conflict",
                "a key changed since it was read",
            ))
        }
    }
}

impl Client for EtcdClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let parsed = match ops::parse(op) {
                Ok(p) => p,
                Err(e) => return Completion::fail(e).with_node(&self.node),
            };
            match self.run(parsed).await {
                Ok(v) => Completion::ok(v).with_node(&self.node),
                Err(e) => completion_of(&e, &self.node),
            }
        })
    }
}
