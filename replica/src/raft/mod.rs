//! `raft`: consensus through openraft 0.9, the control group.
//!
//! openraft rather than raft-rs: its storage and network are async traits on tokio, so the glue
//! is a file-backed log store (`store`), an in-memory state machine rebuilt from the log on
//! restart (`store`), and a network over our peer RPC (`network`); raft-rs would need our own
//! tick loop, message pump and ready handling. Writes go through the log; reads use read-index
//! (`ensure_linearizable`), so reads and writes are linearizable.

mod network;
mod store;

use crate::kv::Cmd;
use crate::node::{Ctx, NodeError};
use crate::peer::{handler, Handler};
use crate::protocol::{MicroOp, Op, Response};
use openraft::error::{ClientWriteError, InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, ServerState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What a log entry's command returned when applied.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Applied {
    pub value: Value,
    pub error: Option<String>,
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Cmd,
        R = Applied,
        NodeId = u64,
        Node = BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type NodeId = u64;

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftReq {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum RaftResp {
    Append(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    Snapshot(Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>),
}

pub struct RaftNode {
    ctx: Arc<Ctx>,
    raft: openraft::Raft<TypeConfig>,
    sm: store::StateMachine,
    /// Read-index checks started / the highest one that succeeded (see `read_barrier`).
    checks_started: AtomicU64,
    checks_done: AtomicU64,
    read_gate: tokio::sync::Mutex<()>,
}

/// Node ids are positions in --peers, from 1.
fn ids(ctx: &Ctx) -> BTreeMap<NodeId, BasicNode> {
    ctx.cfg
        .peers
        .iter()
        .enumerate()
        .map(|(i, (_, addr))| (i as u64 + 1, BasicNode { addr: addr.clone() }))
        .collect()
}

impl RaftNode {
    pub async fn start(ctx: Arc<Ctx>) -> Result<Arc<Self>, NodeError> {
        let cfg = &ctx.cfg;
        let me = cfg.peers.iter().position(|p| p.0 == cfg.id).unwrap_or(0) as u64 + 1;
        let rc = openraft::Config {
            cluster_name: "faultline".into(),
            heartbeat_interval: cfg.heartbeat_ms,
            election_timeout_min: cfg.election_timeout_ms,
            election_timeout_max: cfg.election_timeout_ms * 2,
            snapshot_policy: openraft::SnapshotPolicy::Never,
            max_payload_entries: 1000,
            ..Default::default()
        };
        let rc = Arc::new(
            rc.validate()
                .map_err(|e| NodeError::Config(e.to_string()))?,
        );
        let (log, fresh) = store::LogStore::open(&cfg.data_dir, cfg.durability())?;
        let sm = store::StateMachine::default();
        let net = network::Net { ctx: ctx.clone() };
        let raft = openraft::Raft::new(me, rc, net, log, sm.clone())
            .await
            .map_err(|e| NodeError::Other(format!("raft: {e}")))?;
        if fresh {
            // Every node initializes with the same membership; openraft allows this and refuses
            // once a node has state, which we ignore.
            if let Err(e) = raft.initialize(ids(&ctx)).await {
                eprintln!("{}: raft initialize: {e}", ctx.id());
            }
        }
        Ok(Arc::new(RaftNode {
            ctx,
            raft,
            sm,
            checks_started: AtomicU64::new(0),
            checks_done: AtomicU64::new(0),
            read_gate: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let raft = self.raft.clone();
        handler(move |req: RaftReq| {
            let raft = raft.clone();
            async move {
                match req {
                    RaftReq::Append(r) => RaftResp::Append(raft.append_entries(r).await),
                    RaftReq::Vote(r) => RaftResp::Vote(raft.vote(r).await),
                    RaftReq::Snapshot(r) => RaftResp::Snapshot(raft.install_snapshot(r).await),
                }
            }
        })
    }

    fn name_of(&self, id: NodeId) -> Option<String> {
        self.ctx.cfg.peers.get(id as usize - 1).map(|p| p.0.clone())
    }

    pub fn status(&self) -> Value {
        let m = self.raft.metrics().borrow().clone();
        let role = match m.state {
            ServerState::Leader => "leader",
            ServerState::Candidate => "candidate",
            ServerState::Follower => "follower",
            _ => "learner",
        };
        json!({
            "role": role,
            "term": m.current_term,
            "log_index": m.last_log_index.unwrap_or(0),
            "applied_index": m.last_applied.map(|l| l.index).unwrap_or(0),
            "leader": m.current_leader.and_then(|l| self.name_of(l)),
        })
    }

    fn leader_hint(&self) -> Option<String> {
        self.raft
            .metrics()
            .borrow()
            .current_leader
            .and_then(|l| self.name_of(l))
    }

    pub async fn handle(&self, op: Op) -> Response {
        let timeout = Duration::from_millis(self.ctx.cfg.replication_timeout_ms.max(1000));
        if !op.is_write() {
            // Read-index: confirm leadership with a quorum, wait until applied, read locally.
            if let Err(resp) = self.read_barrier(timeout).await {
                return resp;
            }
            let sm = self.sm.read().await;
            return match op {
                Op::Read { key } => {
                    let (v, idx) = sm.kv.read(&key);
                    Response::ok(v).with_version(json!(idx))
                }
                Op::Txn { txn } => {
                    let out: Vec<MicroOp> = txn
                        .into_iter()
                        .map(|MicroOp(f, k, _)| {
                            let v = sm.kv.read(&k).0;
                            MicroOp(f, k, v)
                        })
                        .collect();
                    Response::ok(json!(out)).with_version(json!(sm.last_index()))
                }
                _ => Response::unsupported("not a data op"),
            };
        }
        let cmd = match op {
            Op::Write { key, value, .. } => Cmd::Write { key, value },
            Op::Append { key, value } => Cmd::Append { key, value },
            Op::Cas { key, from, to } => Cmd::Cas { key, from, to },
            Op::Txn { txn } => Cmd::Txn { ops: txn },
            _ => return Response::unsupported("not a data op"),
        };
        {
            let m = self.raft.metrics().borrow().clone();
            if m.state != ServerState::Leader {
                return Response::not_leader(m.current_leader.and_then(|l| self.name_of(l)));
            }
        }
        match tokio::time::timeout(timeout, self.raft.client_write(cmd)).await {
            Err(_) => Response::err("timeout: not committed in time", false),
            Ok(Ok(resp)) => match resp.data.error {
                None => Response::ok(resp.data.value).with_version(json!(resp.log_id.index)),
                // A failed cas is committed as a no-op: it certainly did not take effect.
                Some(e) => Response::err(e, true),
            },
            // openraft answers ForwardToLeader before appending, or after deleting the entry as
            // conflicting: either way it never takes effect.
            Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                Response::not_leader(self.leader_hint())
            }
            Ok(Err(e)) => Response::err(format!("raft: {e}"), false),
        }
    }

    /// Wait for a read-index check (`ensure_linearizable`) that *started after* this call:
    /// leadership confirmed by a quorum and the state machine applied up to the commit index
    /// of that moment. Concurrent readers share checks: while one runs, later arrivals queue
    /// for the next, so one heartbeat round serves any number of reads (without this, every
    /// read's heartbeat round queued behind in-flight appends and throughput collapsed).
    async fn read_barrier(&self, timeout: Duration) -> Result<(), Response> {
        let target = self.checks_started.load(Ordering::SeqCst) + 1;
        let work = async {
            if self.checks_done.load(Ordering::SeqCst) >= target {
                return Ok(());
            }
            let _gate = self.read_gate.lock().await;
            if self.checks_done.load(Ordering::SeqCst) >= target {
                return Ok(());
            }
            let id = self.checks_started.fetch_add(1, Ordering::SeqCst) + 1;
            match self.raft.ensure_linearizable().await {
                Ok(_) => {
                    self.checks_done.fetch_max(id, Ordering::SeqCst);
                    Ok(())
                }
                Err(RaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(
                    f,
                ))) => Err(Response::not_leader(
                    f.leader_id.and_then(|l| self.name_of(l)),
                )),
                Err(other) => Err(Response::err(format!("unavailable: {other}"), true)),
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(Response::err("timeout: leadership not confirmed", true)),
        }
    }

    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
    }
}
