//! What runs on the nodes: a [`Target`] starts, stops, kills and pauses its nodes in an
//! [`Env`] and makes a [`Client`] for a node. Optional abilities are capability traits
//! ([`Primary`], [`Clock`]) a target offers through `primary()` / `clock()`, so a fault that
//! needs one (isolate the leader, skew a clock) asks for it and says plainly when it is absent.
//!
//! [`Daemons`] keeps the PID of each node's process and implements the signal-based verbs,
//! so a target that runs one process per node gets kill/pause/resume/stop for free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::Client;
use crate::env::{Env, EnvError, Signal, Spawn};
use crate::BoxFuture;

/// Why a target could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error("node {node}: {message}")]
    Node { node: String, message: String },
    #[error("{0}")]
    Other(String),
    #[error("{0} is not supported by this target")]
    Unsupported(&'static str),
}

/// The system under test, as deployed on an environment's nodes.
pub trait Target: Send + Sync {
    /// `replica`, `memory`, `etcd`, ...
    fn name(&self) -> &str;
    /// The node names, in order.
    fn nodes(&self) -> Vec<String>;
    /// Installs and configures every node, starts them and waits until they serve.
    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>>;
    /// (Re)starts one node with its original configuration (after a kill or stop).
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>>;
    /// Stops one node gracefully.
    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>>;
    /// Crashes one node (SIGKILL or the target's equivalent).
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>>;
    /// Freezes one node (SIGSTOP or equivalent).
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>>;
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>>;
    /// A fresh connection to one node.
    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>>;
    /// Stops every node. Idempotent; called on every exit path.
    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>>;
    /// Leader/primary lookup, when the target has one.
    fn primary(&self) -> Option<&dyn Primary> {
        None
    }
    /// Per-node clock control, when the target has it.
    fn clock(&self) -> Option<&dyn Clock> {
        None
    }
    /// How long to let the cluster recover after healing, before final reads.
    fn settle_time(&self) -> Duration {
        Duration::from_secs(3)
    }
}

/// A target with a leader or primary.
pub trait Primary: Send + Sync {
    /// The node currently acting as primary, as the cluster reports it (None when no node
    /// claims it or they disagree without a majority).
    fn primary(&self) -> BoxFuture<'_, Option<String>>;
}

/// A target whose nodes' clocks can be offset one by one.
pub trait Clock: Send + Sync {
    /// Sets a node's clock offset in milliseconds (absolute, 0 restores it).
    fn set_offset<'a>(
        &'a self,
        node: &'a str,
        offset_ms: i64,
    ) -> BoxFuture<'a, Result<(), TargetError>>;
}

/// The PIDs of a target's node processes, and the signal verbs on them.
pub struct Daemons {
    env: Arc<dyn Env>,
    pids: Mutex<HashMap<String, u32>>,
}

impl Daemons {
    pub fn new(env: Arc<dyn Env>) -> Daemons {
        Daemons {
            env,
            pids: Mutex::new(HashMap::new()),
        }
    }

    pub fn env(&self) -> &Arc<dyn Env> {
        &self.env
    }

    pub fn pid(&self, node: &str) -> Option<u32> {
        self.pids.lock().ok()?.get(node).copied()
    }

    /// Starts a node's process and remembers its PID.
    pub async fn spawn(&self, node: &str, spawn: &Spawn) -> Result<u32, TargetError> {
        let pid = self.env.spawn(node, spawn).await?;
        if let Ok(mut pids) = self.pids.lock() {
            pids.insert(node.to_string(), pid);
        }
        Ok(pid)
    }

    async fn send(&self, node: &str, signal: Signal) -> Result<(), TargetError> {
        let pid = self.pid(node).ok_or_else(|| TargetError::Node {
            node: node.to_string(),
            message: "no process started".into(),
        })?;
        self.env.signal(node, pid, signal).await?;
        Ok(())
    }

    pub async fn kill(&self, node: &str) -> Result<(), TargetError> {
        self.send(node, Signal::Kill).await?;
        self.wait_gone(node, Duration::from_secs(5)).await
    }

    pub async fn pause(&self, node: &str) -> Result<(), TargetError> {
        self.send(node, Signal::Stop).await
    }

    pub async fn resume(&self, node: &str) -> Result<(), TargetError> {
        self.send(node, Signal::Cont).await
    }

    /// SIGTERM (after SIGCONT, in case it is paused), then SIGKILL if it lingers.
    pub async fn stop(&self, node: &str) -> Result<(), TargetError> {
        let Some(pid) = self.pid(node) else {
            return Ok(());
        };
        if !self.env.alive(node, pid).await {
            return Ok(());
        }
        let _ = self.env.signal(node, pid, Signal::Cont).await;
        let _ = self.env.signal(node, pid, Signal::Term).await;
        if self.wait_gone(node, Duration::from_secs(3)).await.is_err() {
            let _ = self.env.signal(node, pid, Signal::Kill).await;
            self.wait_gone(node, Duration::from_secs(3)).await?;
        }
        Ok(())
    }

    async fn wait_gone(&self, node: &str, limit: Duration) -> Result<(), TargetError> {
        let Some(pid) = self.pid(node) else {
            return Ok(());
        };
        let deadline = tokio::time::Instant::now() + limit;
        while self.env.alive(node, pid).await {
            if tokio::time::Instant::now() >= deadline {
                return Err(TargetError::Node {
                    node: node.to_string(),
                    message: format!("process {pid} still running after {limit:?}"),
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Stops every node's process.
    pub async fn stop_all(&self) -> Result<(), TargetError> {
        let nodes: Vec<String> = match self.pids.lock() {
            Ok(p) => p.keys().cloned().collect(),
            Err(_) => Vec::new(),
        };
        let mut first = Ok(());
        for n in nodes {
            if let Err(e) = self.stop(&n).await {
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}
