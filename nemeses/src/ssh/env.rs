//! [`SshEnv`]: the harness's [`Env`] over [`SshHosts`]. libssh2 blocks, so every call runs
//! on tokio's blocking pool; the async side only awaits it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use faultline_core::env::{Env, EnvError, Node, Output, Signal, Spawn};
use faultline_core::target::{Clock, TargetError};
use faultline_core::BoxFuture;

use super::{SshError, SshHosts};

/// Real hosts over SSH, as an environment.
pub struct SshEnv {
    hosts: Arc<SshHosts>,
    nodes: Vec<Node>,
    run_dir: Option<PathBuf>,
    /// The interface for tc. The trait has one for all nodes; hosts that differ need
    /// `interface` set per host once the trait asks per node.
    interface: String,
}

impl SshEnv {
    pub fn new(hosts: SshHosts, run_dir: Option<PathBuf>) -> SshEnv {
        let nodes = hosts
            .hosts()
            .map(|h| Node {
                name: h.name.clone(),
                ip: h.ip,
            })
            .collect();
        let interface = hosts
            .hosts()
            .next()
            .and_then(|h| hosts.interface(&h.name))
            .unwrap_or("eth0")
            .to_string();
        SshEnv {
            hosts: Arc::new(hosts),
            nodes,
            run_dir,
            interface,
        }
    }

    /// The blocking core, for what the trait does not cover (uploads, clock steps).
    pub fn hosts(&self) -> &Arc<SshHosts> {
        &self.hosts
    }

    /// Host clocks as a [`Clock`], for targets without a clock of their own.
    pub fn host_clock(&self) -> HostClock {
        HostClock {
            hosts: self.hosts.clone(),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&SshHosts) -> T + Send + 'static,
    ) -> Result<T, EnvError> {
        let hosts = self.hosts.clone();
        tokio::task::spawn_blocking(move || f(&hosts))
            .await
            .map_err(|e| EnvError::Unavailable(format!("ssh worker thread failed: {e}")))
    }
}

/// The environment's errors, named by node where there is one.
pub fn env_error(e: SshError) -> EnvError {
    match &e {
        SshError::HostKey(_) | SshError::Auth { .. } => EnvError::Unavailable(e.to_string()),
        SshError::Connect { host, .. }
        | SshError::Timeout { host, .. }
        | SshError::Stale { host, .. }
        | SshError::Failed { host, .. } => EnvError::Node {
            node: host.clone(),
            message: e.to_string(),
        },
    }
}

impl Env for SshEnv {
    fn name(&self) -> &str {
        "ssh"
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn spawn<'a>(
        &'a self,
        node: &'a str,
        spawn: &'a Spawn,
    ) -> BoxFuture<'a, Result<u32, EnvError>> {
        Box::pin(async move {
            self.node(node)?;
            let (node, spawn) = (node.to_string(), spawn.clone());
            self.blocking(move |h| {
                h.spawn(&node, &spawn.program, &spawn.args, &spawn.vars, &spawn.log)
            })
            .await?
            .map_err(env_error)
        })
    }

    fn signal<'a>(
        &'a self,
        node: &'a str,
        pid: u32,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            self.node(node)?;
            let node = node.to_string();
            self.blocking(move |h| h.signal(&node, pid, signal.number()))
                .await?
                .map_err(env_error)
        })
    }

    fn alive<'a>(&'a self, node: &'a str, pid: u32) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let node = node.to_string();
            self.blocking(move |h| h.alive(&node, pid))
                .await
                .unwrap_or(false)
        })
    }

    fn exec<'a>(
        &'a self,
        node: &'a str,
        program: &'a str,
        args: &'a [String],
        timeout: Duration,
    ) -> BoxFuture<'a, Result<Output, EnvError>> {
        Box::pin(async move {
            self.node(node)?;
            let (node, program, args) = (node.to_string(), program.to_string(), args.to_vec());
            let out = self
                .blocking(move |h| h.exec(&node, &program, &args, timeout))
                .await?
                .map_err(env_error)?;
            Ok(Output {
                status: out.status,
                stdout: out.stdout,
                stderr: out.stderr,
            })
        })
    }

    fn interface(&self) -> &str {
        &self.interface
    }

    fn controller_ip(&self) -> Option<IpAddr> {
        self.hosts.controller_ip()
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async move {
            let errors = self.blocking(|h| h.teardown()).await?;
            match errors.into_iter().next() {
                None => Ok(()),
                Some(first) => Err(env_error(first)),
            }
        })
    }

    fn run_dir(&self) -> Option<PathBuf> {
        self.run_dir.clone()
    }
}

/// Wall clocks of the hosts, stepped with `date -s` (see [`super::clock`]): a [`Clock`] for
/// targets that have none of their own (etcd, Redis, PostgreSQL on real hosts). Offsets are
/// absolute, as the trait says; the host's net offset is tracked, so 0 puts it back.
#[derive(Clone)]
pub struct HostClock {
    hosts: Arc<SshHosts>,
}

impl Clock for HostClock {
    fn set_offset<'a>(
        &'a self,
        node: &'a str,
        offset_ms: i64,
    ) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let (hosts, node) = (self.hosts.clone(), node.to_string());
            tokio::task::spawn_blocking(move || {
                let want = offset_ms.saturating_mul(1_000_000);
                let step = want.saturating_sub(hosts.clock_offset(&node));
                if step == 0 {
                    return Ok(());
                }
                hosts.step_clock(&node, step)
            })
            .await
            .map_err(|e| TargetError::Other(format!("ssh worker thread failed: {e}")))?
            .map_err(|e| TargetError::Env(env_error(e)))
        })
    }
}
