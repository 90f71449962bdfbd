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
mod processes;
pub mod shell;
pub mod state;
pub mod undo;

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
    undo: undo::UndoLedger,
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
            undo: undo::UndoLedger::default(),
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
        let out = pool.exec(
            &shell::with_sudo(&shell::command_line(program, args), pool.host.sudo),
            timeout,
        )?;
        if out.status == Some(0) && (program.ends_with("iptables") || program == "tc") {
            self.undo.observe(node, program, args);
            self.save_state();
        }
        Ok(out)
    }

    /// Writes what this run has changed on the hosts to `<run_dir>/ssh-state.json` (see
    /// [`state`]). Best effort: a full disk must not stop a fault from being healed.
    fn save_state(&self) {
        let Some(run_dir) = &self.options.run_dir else {
            return;
        };
        let started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let mut processes: Vec<(String, u32, String)> = started
            .iter()
            .map(|((n, p), s)| (n.clone(), *p, s.start_ticks.clone()))
            .collect();
        drop(started);
        processes.sort();
        let st = state::State {
            hosts_file: self.file.path.clone(),
            processes,
            undo: self.undo.snapshot(),
            clocks: self
                .clock
                .pending_restores()
                .into_iter()
                .map(|(n, back)| (n, -back))
                .collect(),
        };
        if let Err(e) = state::save(run_dir, &st) {
            eprintln!(
                "faultline: writing {}: {e}",
                run_dir.join(state::FILE).display()
            );
        }
    }

    /// Takes over what a dead controller left (processes, faults, clock offsets), so that
    /// [`SshHosts::teardown`] undoes it.
    pub fn adopt(&self, st: &state::State) {
        {
            let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
            for (n, pid, start) in &st.processes {
                started.insert(
                    (n.clone(), *pid),
                    Started {
                        start_ticks: start.clone(),
                    },
                );
            }
        }
        self.undo.extend(&st.undo);
        for (n, ns) in &st.clocks {
            self.clock.record(n, *ns);
        }
    }

    /// Removes the iptables rules and qdiscs this run added and did not remove itself.
    pub fn undo_faults(&self) -> Vec<SshError> {
        let mut errors = Vec::new();
        let mut failed = Vec::new();
        for (node, program, args) in self.undo.take() {
            match self.exec(&node, &program, &args, SHORT) {
                Ok(o) if o.status == Some(0) => {}
                Ok(o) => {
                    errors.push(SshError::Failed {
                        host: node.clone(),
                        what: format!("removing a leftover fault ({program} {})", args.join(" ")),
                        message: o.stderr.trim().to_string(),
                    });
                    failed.push((node, program, args));
                }
                Err(e) => {
                    errors.push(e);
                    failed.push((node, program, args));
                }
            }
        }
        // Kept (oldest first again) so the state file still names them for a later cleanup.
        failed.reverse();
        self.undo.extend(&failed);
        errors
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
        self.save_state();
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

    /// Teardown: resume and stop what we started, remove leftover rules and qdiscs, put
    /// clocks back, fetch logs, disconnect.
    pub fn teardown(&self) -> Vec<SshError> {
        let mut errors = self.stop_all(Duration::from_secs(5));
        errors.extend(self.undo_faults());
        errors.extend(self.restore_clocks());
        errors.extend(self.download_logs());
        if errors.is_empty() {
            self.started
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        self.save_state();
        for p in &self.pools {
            p.close();
        }
        errors
    }
}

impl Drop for SshHosts {
    /// The last line of defence for the one change that outlives processes: a stepped
    /// clock. `teardown` restores clocks on every path the run loop controls; this covers a
    /// caller that never got there (a panic between setup and teardown).
    fn drop(&mut self) {
        if !self.clock.pending_restores().is_empty() {
            for e in self.restore_clocks() {
                eprintln!("faultline: restoring a host clock: {e}");
            }
        }
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
