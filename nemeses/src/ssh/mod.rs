//! The `ssh` environment: nodes are real hosts named in a hosts file ([`hosts`]) and driven
//! over SSH (libssh2 via the `ssh2` crate), as Jepsen's control layer drives its nodes.
//!
//! Everything a fault needs is a command on the host: iptables for partitions, tc for slow
//! links, signals for kill and pause, `date -s` for clock steps. So the environment offers
//! the same verbs as `netns` (exec, spawn, signal), and targets and nemeses run unchanged.
//!
//! Safety: host keys are checked against known_hosts ([`known_hosts`]); only processes this
//! environment started are ever signalled (PID plus start time, so a reused PID is left
//! alone); clock steps are recorded and reversed at teardown, and refused outright on the
//! controller's own machine ([`local`]). Nothing here logs a passphrase or key material.

pub mod clock;
pub mod conn;
pub mod env;
pub mod hosts;
pub mod known_hosts;
pub mod local;
pub mod pool;
pub mod shell;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use conn::{CommandOutput, SshError};
pub use env::{HostClock, SshEnv};
pub use hosts::{Host, HostsError, HostsFile};
use known_hosts::HostKeyPolicy;
use pool::HostPool;

/// How to connect.
#[derive(Clone, Debug)]
pub struct SshOptions {
    /// Trust-on-first-use for hosts missing from known_hosts (never for changed keys).
    pub accept_new_host_keys: bool,
    /// Bound on TCP connect + handshake + login.
    pub connect_timeout: Duration,
    /// Where node logs are downloaded to at teardown (`<run_dir>/nodes/<name>/`).
    pub run_dir: Option<PathBuf>,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            accept_new_host_keys: false,
            connect_timeout: Duration::from_secs(10),
            run_dir: None,
        }
    }
}

/// A process this environment started: the start time tells it apart from a later
/// process that got the same PID.
#[derive(Clone, Debug)]
struct Started {
    start_ticks: String,
}

/// Hosts over SSH. The blocking core; the async `Env` face runs these on tokio's blocking pool.
pub struct SshHosts {
    pub file: HostsFile,
    pools: Vec<Arc<HostPool>>,
    options: SshOptions,
    started: Mutex<HashMap<(String, u32), Started>>,
    /// Local files already uploaded, per host: local path -> remote path.
    uploads: Mutex<HashMap<(String, PathBuf), String>>,
    /// Logs of spawned processes: (host, remote path, local path to download it to).
    logs: Mutex<Vec<(String, String, PathBuf)>>,
    clock: clock::ClockLedger,
    controller_ip: Option<IpAddr>,
    /// Per host, the interface its peers' traffic uses.
    interfaces: Vec<String>,
}

/// How long setup-type commands (mkdir, identity probes) may take.
const SHORT: Duration = Duration::from_secs(30);

impl SshHosts {
    /// Connects to every host (in parallel), checking host keys and logins, and makes each
    /// host's working directory with its `logs/` subdirectory. Fails if any host fails:
    /// a run on part of a cluster is not the run that was asked for.
    pub fn connect(file: HostsFile, options: SshOptions) -> Result<SshHosts, SshError> {
        let policy = Arc::new(HostKeyPolicy::new(
            file.known_hosts.clone(),
            options.accept_new_host_keys,
        ));
        let pools: Vec<Arc<HostPool>> = file
            .hosts
            .iter()
            .map(|h| {
                Arc::new(HostPool::new(
                    h.clone(),
                    policy.clone(),
                    options.connect_timeout,
                ))
            })
            .collect();
        let ips: Vec<IpAddr> = file.hosts.iter().map(|h| h.ip).collect();
        let prepared: Vec<Result<(IpAddr, String), SshError>> = std::thread::scope(|s| {
            let handles: Vec<_> = pools
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    // A peer to route to: the next host (the only host routes to itself, which
                    // says nothing, so it asks for the route to the controller instead).
                    let peer = (ips.len() > 1).then(|| ips[(i + 1) % ips.len()]);
                    s.spawn(move || prepare(p, peer))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(panicked("connecting"))))
                .collect()
        });
        let mut controller_ip = None;
        let mut interfaces = Vec::new();
        for r in prepared {
            let (ip, interface) = r?;
            controller_ip.get_or_insert(ip);
            interfaces.push(interface);
        }
        Ok(SshHosts {
            file,
            pools,
            options,
            started: Mutex::new(HashMap::new()),
            uploads: Mutex::new(HashMap::new()),
            logs: Mutex::new(Vec::new()),
            clock: clock::ClockLedger::default(),
            controller_ip,
            interfaces,
        })
    }

    pub fn hosts(&self) -> impl Iterator<Item = &Host> {
        self.pools.iter().map(|p| &p.host)
    }

    /// The controller's address as the hosts see it (the source of its SSH connections).
    pub fn controller_ip(&self) -> Option<IpAddr> {
        self.controller_ip
    }

    /// The interface `node`'s peers' traffic uses.
    pub fn interface(&self, node: &str) -> Option<&str> {
        let i = self.pools.iter().position(|p| p.host.name == node)?;
        self.interfaces.get(i).map(String::as_str)
    }

    fn pool(&self, node: &str) -> Result<&Arc<HostPool>, SshError> {
        self.pools
            .iter()
            .find(|p| p.host.name == node)
            .ok_or_else(|| SshError::Failed {
                host: node.into(),
                what: "lookup".into(),
                message: "no such host in the hosts file".into(),
            })
    }

    /// Runs `program args...` on `node` (through sudo if configured).
    pub fn exec(
        &self,
        node: &str,
        program: &str,
        args: &[String],
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        let pool = self.pool(node)?;
        pool.exec(
            &shell::with_sudo(&shell::command_line(program, args), pool.host.sudo),
            timeout,
        )
    }

    /// Runs a shell script on `node` (through sudo if configured).
    pub fn script(
        &self,
        node: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<CommandOutput, SshError> {
        let pool = self.pool(node)?;
        pool.exec(&shell::with_sudo(script, pool.host.sudo), timeout)
    }

    /// Uploads a local file into `node`'s working directory as `name` (executable when
    /// `mode` says so); returns the remote path. Skips files already uploaded by this run.
    pub fn upload(
        &self,
        node: &str,
        local: &Path,
        name: &str,
        mode: i32,
    ) -> Result<String, SshError> {
        let pool = self.pool(node)?;
        let key = (node.to_string(), local.to_path_buf());
        if let Some(r) = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(r.clone());
        }
        let remote = format!("{}/{}", pool.host.dir, name);
        // Large files over slow links: allow a minute plus a second per MiB.
        let size = std::fs::metadata(local).map(|m| m.len()).unwrap_or(0);
        let timeout = Duration::from_secs(60 + size / (1 << 20));
        pool.with_conn(timeout, |c, left| c.upload(local, &remote, mode, left))?;
        self.uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, remote.clone());
        Ok(remote)
    }

    /// Uploads one local file to every host in parallel.
    pub fn upload_all(&self, local: &Path, name: &str, mode: i32) -> Result<(), SshError> {
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .hosts()
                .map(|h| s.spawn(move || self.upload(&h.name, local, name, mode)))
                .collect();
            for h in handles {
                h.join().unwrap_or_else(|_| Err(panicked("uploading")))?;
            }
            Ok(())
        })
    }

    /// Where a log file named by the caller lives on the host: its file name, under `logs/`.
    pub fn remote_log(&self, node: &str, log: &Path) -> Result<String, SshError> {
        let pool = self.pool(node)?;
        let name = log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "node.log".into());
        Ok(format!("{}/logs/{}", pool.host.dir, name))
    }

    /// Starts a long-running process detached from the SSH session; returns its PID.
    ///
    /// Targets written for `netns` name paths on the controller (the binary, a data
    /// directory and a log under the run directory), so the environment translates:
    /// the faultline binary itself is uploaded (hosts need not have faultline installed),
    /// arguments and variables under the local run directory move under the host's
    /// `<dir>/run/`, and the log goes to `<dir>/logs/` and is downloaded back to the local
    /// path it was given when the run ends.
    pub fn spawn(
        &self,
        node: &str,
        program: &Path,
        args: &[String],
        vars: &[(String, String)],
        log: &Path,
    ) -> Result<u32, SshError> {
        let pool = self.pool(node)?;
        let program = self.remote_program(node, program)?;
        let remote_log = self.remote_log(node, log)?;
        let args: Vec<String> = args.iter().map(|a| self.remap(&pool.host, a)).collect();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.clone(), self.remap(&pool.host, v)))
            .collect();
        let script = shell::spawn(&pool.host.dir, &program, &args, &vars, &remote_log);
        let out = pool.exec(&shell::with_sudo(&script, pool.host.sudo), SHORT)?;
        let failed = |message: String| SshError::Failed {
            host: node.into(),
            what: format!("starting {program}"),
            message,
        };
        if out.status != Some(0) {
            return Err(failed(format!(
                "exit {:?}: {}",
                out.status,
                out.stderr.trim()
            )));
        }
        let mut words = out.stdout.split_whitespace();
        let pid: u32 = words
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| failed(format!("no PID in {:?}", out.stdout.trim())))?;
        let start_ticks = words.next().unwrap_or_default().to_string();
        {
            let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
            let entry = (node.to_string(), remote_log.clone(), log.to_path_buf());
            if !logs.contains(&entry) {
                logs.push(entry);
            }
        }
        if start_ticks.is_empty() {
            // The process was gone before we could read its start time: it failed at once.
            return Err(failed(format!(
                "exited immediately; see {remote_log} on the host"
            )));
        }
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((node.to_string(), pid), Started { start_ticks });
        Ok(pid)
    }

    /// A path under the local run directory becomes the same path under `<dir>/run/`.
    fn remap(&self, host: &Host, value: &str) -> String {
        let Some(run_dir) = &self.options.run_dir else {
            return value.to_string();
        };
        let local = run_dir.to_string_lossy();
        match value.strip_prefix(local.as_ref()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}/run{rest}", host.dir)
            }
            _ => value.to_string(),
        }
    }

    /// The faultline binary (this process's, or any local file named `faultline`) is
    /// uploaded; anything else is a program the host has.
    fn remote_program(&self, node: &str, program: &Path) -> Result<String, SshError> {
        let this = std::env::current_exe().ok();
        let is_faultline = this.as_deref() == Some(program)
            || (program.file_name().is_some_and(|n| n == "faultline") && program.is_file());
        if is_faultline {
            return self.upload(node, program, "faultline", 0o755);
        }
        if let Some(r) = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(node.to_string(), program.to_path_buf()))
        {
            return Ok(r.clone());
        }
        Ok(program.to_string_lossy().into_owned())
    }

    fn started(&self, node: &str, pid: u32) -> Result<Started, SshError> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(node.to_string(), pid))
            .cloned()
            .ok_or_else(|| SshError::Failed {
                host: node.into(),
                what: format!("signalling PID {pid}"),
                message: "not a process this run started; refusing".into(),
            })
    }

    /// Sends `signal` to a process this environment started. A process that is already gone
    /// is not an error (killing a dead node is a no-op, as in netns).
    pub fn signal(&self, node: &str, pid: u32, signal: i32) -> Result<(), SshError> {
        let s = self.started(node, pid)?;
        let out = self.script(node, &shell::signal(pid, &s.start_ticks, signal), SHORT)?;
        if out.status == Some(0) {
            Ok(())
        } else {
            Err(SshError::Failed {
                host: node.into(),
                what: format!("kill -{signal} {pid}"),
                message: out.stderr.trim().to_string(),
            })
        }
    }

    /// Whether a process this environment started is still running.
    pub fn alive(&self, node: &str, pid: u32) -> bool {
        match self.started(node, pid) {
            Ok(s) => self
                .script(node, &shell::alive(pid, &s.start_ticks), SHORT)
                .map(|o| o.status == Some(0))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Steps `node`'s wall clock by `offset_ns` and records it for [`SshHosts::restore_clocks`].
    /// Refuses when the host is the controller's own machine.
    pub fn step_clock(&self, node: &str, offset_ns: i64) -> Result<(), SshError> {
        let pool = self.pool(node)?;
        let identity = pool.exec(local::IDENTITY_SCRIPT, SHORT)?;
        if let Some(why) = local::same_machine(pool.host.ip, &identity.stdout) {
            return Err(SshError::Failed {
                host: node.into(),
                what: "stepping the clock".into(),
                message: format!("refused: this host is the controller's own machine ({why})"),
            });
        }
        let out = self.script(node, &shell::step_clock(offset_ns), SHORT)?;
        if out.status != Some(0) {
            return Err(SshError::Failed {
                host: node.into(),
                what: "stepping the clock (date -s; needs root)".into(),
                message: out.stderr.trim().to_string(),
            });
        }
        self.clock.record(node, offset_ns);
        Ok(())
    }

    /// Net clock offset this run applied to `node`.
    pub fn clock_offset(&self, node: &str) -> i64 {
        self.clock.offset(node)
    }

    /// Steps every clock this run moved back by its net offset. Returns the failures.
    pub fn restore_clocks(&self) -> Vec<SshError> {
        let mut errors = Vec::new();
        for (node, back) in self.clock.pending_restores() {
            if let Err(e) = self.step_clock(&node, back) {
                errors.push(e);
            }
        }
        errors
    }

    /// Stops every process this run started that still runs: SIGTERM, then SIGKILL for
    /// whatever is left after `grace`.
    pub fn stop_all(&self, grace: Duration) -> Vec<SshError> {
        let started: Vec<(String, u32)> = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut errors = Vec::new();
        let live: Vec<_> = started
            .into_iter()
            .filter(|(n, p)| self.alive(n, *p))
            .collect();
        for (n, p) in &live {
            // SIGCONT first: a paused process does not act on SIGTERM.
            let _ = self.signal(n, *p, 18);
            let _ = self.signal(n, *p, 15);
        }
        let deadline = std::time::Instant::now() + grace;
        let mut left = live;
        while !left.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left.retain(|(n, p)| self.alive(n, *p));
        }
        for (n, p) in left {
            if let Err(e) = self.signal(&n, p, 9) {
                errors.push(e);
            }
        }
        errors
    }

    /// Copies every spawned process's log back to the local path it was given (when that
    /// is under the run directory), and everything else in a host's `logs/` into
    /// `<run_dir>/nodes/<name>/`. Returns the failures.
    pub fn download_logs(&self) -> Vec<SshError> {
        let Some(run_dir) = self.options.run_dir.clone() else {
            return Vec::new();
        };
        let logs = self.logs.lock().unwrap_or_else(|p| p.into_inner()).clone();
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .pools
                .iter()
                .map(|p| {
                    let mut targets: Vec<(String, PathBuf)> = logs
                        .iter()
                        .filter(|(n, _, local)| *n == p.host.name && local.starts_with(&run_dir))
                        .map(|(_, remote, local)| (remote.clone(), local.clone()))
                        .collect();
                    targets.sort();
                    targets.dedup();
                    let rest = run_dir.join("nodes").join(&p.host.name);
                    s.spawn(move || {
                        let dir = format!("{}/logs", p.host.dir);
                        p.with_conn(Duration::from_secs(120), |c, left| {
                            c.download_dir(&dir, &targets, &rest, left)
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(panicked("downloading logs")))
                        .err()
                })
                .collect()
        })
    }

    /// Teardown: resume and stop what we started, put clocks back, fetch logs, disconnect.
    pub fn teardown(&self) -> Vec<SshError> {
        let mut errors = self.stop_all(Duration::from_secs(5));
        errors.extend(self.restore_clocks());
        errors.extend(self.download_logs());
        for p in &self.pools {
            p.close();
        }
        errors
    }
}

/// First contact with a host: log in, make its directories, learn our address as it sees us
/// and the interface towards `peer` (or towards us).
fn prepare(pool: &HostPool, peer: Option<IpAddr>) -> Result<(IpAddr, String), SshError> {
    let h = &pool.host;
    let dir = shell::quote(&h.dir);
    // With sudo the directory is made by root, so hand it to the login user: SFTP (uploads,
    // log downloads) runs as that user, not through sudo.
    let script = format!(
        "mkdir -p {dir}/logs && chown {user} {dir} {dir}/logs",
        user = shell::quote(&h.user)
    );
    let out = pool.exec(&shell::with_sudo(&script, h.sudo), SHORT)?;
    if out.status != Some(0) {
        return Err(SshError::Failed {
            host: h.name.clone(),
            what: format!("creating {}", h.dir),
            message: out.stderr.trim().to_string(),
        });
    }
    let controller = pool.local_ip(SHORT)?;
    let interface = match &h.interface {
        Some(i) => i.clone(),
        None => {
            let to = peer.unwrap_or(controller);
            let out = pool.exec(&format!("ip -o route get {to}"), SHORT)?;
            route_dev(&out.stdout).ok_or_else(|| SshError::Failed {
                host: h.name.clone(),
                what: format!("finding the interface towards {to} (ip route get; set `interface` in the hosts file)"),
                message: format!("{} {}", out.stdout.trim(), out.stderr.trim()),
            })?
        }
    };
    Ok((controller, interface))
}

/// The `dev X` of `ip route get` output.
fn route_dev(out: &str) -> Option<String> {
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().map(str::to_string);
        }
    }
    None
}

fn panicked(what: &str) -> SshError {
    SshError::Failed {
        host: "-".into(),
        what: what.into(),
        message: "worker thread panicked".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn route_dev_parses_ip_route_get() {
        let out = "10.1.2.3 dev ens3 src 10.1.2.9 uid 0 \\    cache ";
        assert_eq!(super::route_dev(out).as_deref(), Some("ens3"));
        assert_eq!(
            super::route_dev("local 127.0.0.1 dev lo table local src 127.0.0.1"),
            Some("lo".into())
        );
        assert_eq!(
            super::route_dev("RTNETLINK answers: Network is unreachable"),
            None
        );
    }
}
