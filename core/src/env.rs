//! Where nodes live: an [`Env`] runs commands on a node. Network namespaces on this machine
//! (`faultline_nemeses::netns`) and real hosts over SSH implement the same trait, so every
//! target and every fault works in both.
//!
//! Three verbs are enough for everything the harness does to a node: [`Env::spawn`] a
//! long-running process with its output in a log file, [`Env::signal`] it by PID, and
//! [`Env::exec`] a short command with a timeout (iptables, tc, a status probe).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::BoxFuture;

/// A node as the environment knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `n1`, `n2`, ...: the name in histories, flags and logs.
    pub name: String,
    /// Where the controller and the other nodes reach it.
    pub ip: IpAddr,
}

/// A long-running process to start on a node.
#[derive(Clone, Debug, Default)]
pub struct Spawn {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment variables (e.g. `LD_PRELOAD` and `FAKETIME_TIMESTAMP_FILE`).
    pub vars: Vec<(String, String)>,
    /// stdout and stderr both go here (appended, so a restart keeps the earlier log).
    pub log: PathBuf,
}

/// Signals the harness sends. `Term` asks a process to stop; `Kill` is the crash fault;
/// `Stop`/`Cont` pause and resume it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Stop,
    Cont,
}

impl Signal {
    pub fn number(self) -> i32 {
        match self {
            Signal::Term => 15,
            Signal::Kill => 9,
            Signal::Stop => 19,
            Signal::Cont => 18,
        }
    }
}

/// The outcome of a short command.
#[derive(Clone, Debug, Default)]
pub struct Output {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status == Some(0)
    }
}

/// Why an environment could not do what was asked. The message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    /// The environment cannot work here at all (not root, a tool missing): exit 4.
    #[error("{0}")]
    Unavailable(String),
    #[error("node {node}: {message}")]
    Node { node: String, message: String },
    #[error("no node named {0}")]
    UnknownNode(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not supported by this environment")]
    Unsupported(&'static str),
}

/// A place where nodes run.
pub trait Env: Send + Sync {
    /// `netns`, `local`, `ssh`.
    fn name(&self) -> &str;
    fn nodes(&self) -> &[Node];
    /// Starts a long-running process on a node; returns its PID as the node sees it.
    fn spawn<'a>(&'a self, node: &'a str, spawn: &'a Spawn)
        -> BoxFuture<'a, Result<u32, EnvError>>;
    /// Sends a signal to a process this environment spawned.
    fn signal<'a>(
        &'a self,
        node: &'a str,
        pid: u32,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), EnvError>>;
    /// Whether a spawned process is still running (a killed or crashed one is not).
    fn alive<'a>(&'a self, node: &'a str, pid: u32) -> BoxFuture<'a, bool>;
    /// Runs a short command on a node and waits for it, at most `timeout`.
    fn exec<'a>(
        &'a self,
        node: &'a str,
        program: &'a str,
        args: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Output, EnvError>>;
    /// The controller's own address as the nodes see it, so faults can spare the
    /// controller's traffic (a partition cuts nodes from each other, not from clients).
    fn controller_ip(&self) -> Option<IpAddr> {
        None
    }
    /// Removes everything the environment made. Idempotent; called on every exit path.
    fn teardown(&self) -> BoxFuture<'_, Result<(), EnvError>>;

    fn node(&self, name: &str) -> Result<&Node, EnvError> {
        self.nodes()
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| EnvError::UnknownNode(name.to_string()))
    }

    /// The network interface inside a node that its peers' traffic uses (for tc).
    fn interface(&self) -> &str {
        "eth0"
    }

    /// Where node logs and per-node files go, if the environment keeps them locally.
    fn run_dir(&self) -> Option<PathBuf> {
        None
    }
}

/// An environment with no nodes to manage: for in-process targets (tests, benchmarks).
#[derive(Debug, Default)]
pub struct LocalEnv {
    pub nodes: Vec<Node>,
}

impl LocalEnv {
    /// `n` nodes named n1..nN at 127.0.0.1.
    pub fn new(n: usize) -> LocalEnv {
        LocalEnv {
            nodes: (1..=n)
                .map(|i| Node {
                    name: format!("n{i}"),
                    ip: IpAddr::from([127, 0, 0, 1]),
                })
                .collect(),
        }
    }
}

impl Env for LocalEnv {
    fn name(&self) -> &str {
        "local"
    }
    fn nodes(&self) -> &[Node] {
        &self.nodes
    }
    fn spawn<'a>(&'a self, _: &'a str, _: &'a Spawn) -> BoxFuture<'a, Result<u32, EnvError>> {
        Box::pin(async { Err(EnvError::Unsupported("spawn")) })
    }
    fn signal<'a>(&'a self, _: &'a str, _: u32, _: Signal) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async { Err(EnvError::Unsupported("signal")) })
    }
    fn alive<'a>(&'a self, _: &'a str, _: u32) -> BoxFuture<'a, bool> {
        Box::pin(async { false })
    }
    fn exec<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a [String],
        _: Duration,
    ) -> BoxFuture<'a, Result<Output, EnvError>> {
        Box::pin(async { Err(EnvError::Unsupported("exec")) })
    }
    fn teardown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async { Ok(()) })
    }
}
