//! One node: its shared context (id, config, clock, peer clients) and the mode's backend,
//! behind the client and peer ports.

use crate::clock::Clock;
use crate::config::{Config, Mode};
use crate::peer::{Handler, PeerClient};
use crate::protocol::{Op, Response};
use crate::{leader, leaderless, multi, raft};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    #[error("{0}")]
    Other(String),
}

/// What every backend shares.
pub struct Ctx {
    pub cfg: Config,
    pub clock: Clock,
    pub isolated: Arc<AtomicBool>,
    /// Clients for every other node, in --peers order.
    pub peers: Vec<Arc<PeerClient>>,
}

impl Ctx {
    pub fn id(&self) -> &str {
        &self.cfg.id
    }
    pub fn peer(&self, name: &str) -> Option<&Arc<PeerClient>> {
        self.peers.iter().find(|p| p.name == name)
    }
    pub fn all_ids(&self) -> Vec<String> {
        self.cfg.peers.iter().map(|p| p.0.clone()).collect()
    }
}

pub enum Backend {
    Leader(Arc<leader::Leader>),
    Multi(Arc<multi::Multi>),
    Leaderless(Arc<leaderless::Leaderless>),
    Raft(Arc<raft::RaftNode>),
}

pub struct Node {
    pub ctx: Arc<Ctx>,
    pub backend: Backend,
}

impl Node {
    pub fn id(&self) -> &str {
        self.ctx.id()
    }

    pub async fn handle(&self, op: Op) -> Response {
        match op {
            Op::Status => {
                let mut st = match &self.backend {
                    Backend::Leader(b) => b.status(),
                    Backend::Multi(b) => b.status(),
                    Backend::Leaderless(b) => b.status(),
                    Backend::Raft(b) => b.status(),
                };
                if let Value::Object(m) = &mut st {
                    m.insert("peers".into(), json!(self.ctx.all_ids()));
                    m.insert("clock_offset_ms".into(), json!(self.ctx.clock.offset()));
                    m.insert("mode".into(), json!(self.ctx.cfg.mode.to_string()));
                    m.insert(
                        "isolated".into(),
                        json!(self.ctx.isolated.load(Ordering::Relaxed)),
                    );
                    m.insert("now_ms".into(), json!(self.ctx.clock.now_ms()));
                }
                Response::ok(st)
            }
            Op::Admin { action, value } => self.admin(&action, value).await,
            op => match &self.backend {
                Backend::Leader(b) => b.handle(op).await,
                Backend::Multi(b) => b.handle(op).await,
                Backend::Leaderless(b) => b.handle(op).await,
                Backend::Raft(b) => b.handle(op).await,
            },
        }
    }

    async fn admin(&self, action: &str, value: Value) -> Response {
        match action {
            "clock-offset" => match value.as_i64() {
                Some(ms) => {
                    self.ctx.clock.set_offset(ms);
                    eprintln!("{}: clock offset set to {ms} ms", self.id());
                    Response::ok(Value::Null)
                }
                None => Response::bad_request("clock-offset wants an integer `value` (ms)"),
            },
            "isolate" => match value.as_bool() {
                Some(on) => {
                    self.ctx.isolated.store(on, Ordering::Relaxed);
                    for p in &self.ctx.peers {
                        p.reset().await;
                    }
                    eprintln!("{}: isolate = {on}", self.id());
                    Response::ok(Value::Null)
                }
                None => Response::bad_request("isolate wants a boolean `value`"),
            },
            other => Response::bad_request(format!(
                "unknown admin action `{other}` (want clock-offset or isolate)"
            )),
        }
    }
}

/// Bind both ports, build the backend and serve until `shutdown` resolves.
pub async fn run(
    cfg: Config,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), NodeError> {
    cfg.validate().map_err(NodeError::Config)?;
    let client_l = tokio::net::TcpListener::bind(&cfg.client_listen)
        .await
        .map_err(|source| NodeError::Listen {
            addr: cfg.client_listen.clone(),
            source,
        })?;
    let peer_l = tokio::net::TcpListener::bind(&cfg.peer_listen)
        .await
        .map_err(|source| NodeError::Listen {
            addr: cfg.peer_listen.clone(),
            source,
        })?;
    let isolated = Arc::new(AtomicBool::new(false));
    let peers = cfg
        .peers
        .iter()
        .filter(|(n, _)| n != &cfg.id)
        .map(|(n, a)| Arc::new(PeerClient::new(n.clone(), a.clone(), isolated.clone())))
        .collect();
    let ctx = Arc::new(Ctx {
        clock: Clock::new(cfg.clock_offset_ms),
        cfg,
        isolated: isolated.clone(),
        peers,
    });
    let (backend, handler): (Backend, Handler) = match ctx.cfg.mode {
        Mode::LeaderSync | Mode::LeaderSemisync | Mode::LeaderAsync => {
            let b = leader::Leader::start(ctx.clone()).await?;
            (Backend::Leader(b.clone()), b.handler())
        }
        Mode::MultiLeader => {
            let b = multi::Multi::start(ctx.clone()).await?;
            (Backend::Multi(b.clone()), b.handler())
        }
        Mode::Leaderless => {
            let b = leaderless::Leaderless::start(ctx.clone()).await?;
            (Backend::Leaderless(b.clone()), b.handler())
        }
        Mode::Raft => {
            let b = raft::RaftNode::start(ctx.clone()).await?;
            (Backend::Raft(b.clone()), b.handler())
        }
    };
    let node = Arc::new(Node {
        ctx: ctx.clone(),
        backend,
    });
    eprintln!(
        "{}: {} node serving clients on {} and peers on {}",
        ctx.id(),
        ctx.cfg.mode,
        ctx.cfg.client_listen,
        ctx.cfg.peer_listen
    );
    let peer_task = tokio::spawn(crate::peer::serve(peer_l, handler, isolated));
    let client_task = tokio::spawn(crate::server::serve(client_l, node.clone()));
    shutdown.await;
    peer_task.abort();
    client_task.abort();
    if let Backend::Raft(r) = &node.backend {
        // Bounded: SIGTERM must end the process promptly even if raft is mid-election.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), r.shutdown()).await;
    }
    eprintln!("{}: shutting down", ctx.id());
    Ok(())
}
