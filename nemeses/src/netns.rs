//! The `netns` environment: one Linux network namespace per node, each with a veth whose
//! other end is on a bridge this run creates; addresses `10.77.X.i/24` inside, `.254` for the
//! controller on the bridge. No default route, no NAT, no physical interface: packets never
//! leave the machine. Every name carries the run id (`fl-<id>-n1`, bridge `flb<id>`, veth
//! `flv<id><i>`), and the run's [`RunRecord`] is on disk before anything is made, so
//! [`cleanup`] removes exactly what one run made (never by name patterns).
//!
//! Nodes run as `ip netns exec NS PROGRAM ...` (which execs, so the PID is the program's),
//! in their own process group, with stdout and stderr appended to a log in the run dir.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use faultline_core::env::{Env, EnvError, Node, Output, Signal, Spawn};
use faultline_core::BoxFuture;

use crate::registry::{start_time, ProcRecord, RunRecord};

/// Finds a program in PATH or the sbin directories (root's tools live there).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file());
    found
}

/// Whether this process may create namespaces and change their networks: root, or the
/// effective capabilities CAP_NET_ADMIN (12) and CAP_SYS_ADMIN (21).
fn has_caps() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .unwrap_or(0);
    eff & (1 << 12) != 0 && eff & (1 << 21) != 0
}

/// Checks that the netns environment can work here; the error is one line saying what to do.
pub fn check_available() -> Result<(), EnvError> {
    if !has_caps() {
        return Err(EnvError::Unavailable(
            "the netns environment needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run as root, \
             e.g. `sudo faultline run ...`, or use --target memory"
                .into(),
        ));
    }
    for tool in ["ip", "iptables", "tc"] {
        if which(tool).is_none() {
            return Err(EnvError::Unavailable(format!(
                "`{tool}` is not installed: install iproute2 and iptables (apt-get install -y iproute2 iptables)"
            )));
        }
    }
    Ok(())
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> EnvError {
    let what = what.into();
    move |source| EnvError::Io { what, source }
}

/// Runs `ip ARGS` (or another tool) synchronously; Err with stderr on failure.
fn sh(program: &str, args: &[&str]) -> Result<(), String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn sh_out(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// A short random-enough run id (6 hex digits) from the time and PID.
pub fn new_run_id() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = t ^ ((std::process::id() as u64) << 32);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    format!("{:06x}", x & 0xff_ffff)
}

/// A third octet for 10.77.X.0/24 that no interface, route or other live run uses.
fn free_subnet(seed: u64, registry: &Path) -> Result<u8, EnvError> {
    let used = format!(
        "{}\n{}",
        sh_out("ip", &["-4", "-o", "addr", "show"]),
        sh_out("ip", &["-4", "route", "show", "table", "all"])
    );
    let (records, _) = RunRecord::load_all(registry);
    for i in 0..250u64 {
        let x = (1 + (seed + i) % 250) as u8;
        let prefix = format!("10.77.{x}.");
        if !used.contains(&prefix) && !records.iter().any(|r| r.subnet.starts_with(&prefix)) {
            return Ok(x);
        }
    }
    Err(EnvError::Unavailable(
        "no free 10.77.X.0/24 subnet for the test network; run `faultline cleanup`".into(),
    ))
}

/// A network-namespace environment. See the module docs.
pub struct NetnsEnv {
    record: Mutex<RunRecord>,
    registry: PathBuf,
    nodes: Vec<Node>,
    /// node name -> namespace
    ns: HashMap<String, String>,
    controller: IpAddr,
    run_dir: PathBuf,
    children: Mutex<HashMap<u32, tokio::process::Child>>,
    torn_down: AtomicBool,
}

impl NetnsEnv {
    /// Creates `n` node namespaces on a new bridge. On failure, removes what it made.
    pub fn create(n: usize, run_dir: &Path, registry: &Path) -> Result<NetnsEnv, EnvError> {
        check_available()?;
        if n == 0 || n > 99 {
            return Err(EnvError::Unavailable(format!(
                "{n} nodes: between 1 and 99 please"
            )));
        }
        let id = new_run_id();
        let x = free_subnet(u64::from_str_radix(&id, 16).unwrap_or(0), registry)?;
        let me = std::process::id();
        let mut record = RunRecord {
            run_id: id.clone(),
            controller_pid: me,
            controller_start: start_time(me).unwrap_or(0),
            run_dir: run_dir.display().to_string(),
            bridge: format!("flb{id}"),
            subnet: format!("10.77.{x}.0/24"),
            namespaces: (1..=n).map(|i| format!("fl-{id}-n{i}")).collect(),
            veths: (1..=n).map(|i| format!("flv{id}{i}")).collect(),
            pids: Vec::new(),
        };
        // On disk before anything exists, so a crash mid-setup is still cleanable.
        record.save(registry).map_err(io(format!(
            "writing the run registry in {}",
            registry.display()
        )))?;
        let nodes: Vec<Node> = (1..=n)
            .map(|i| Node {
                name: format!("n{i}"),
                ip: IpAddr::V4(Ipv4Addr::new(10, 77, x, i as u8)),
            })
            .collect();
        let build = || -> Result<(), String> {
            let br = record.bridge.as_str();
            sh("ip", &["link", "add", br, "type", "bridge"])?;
            sh("ip", &["link", "set", br, "up"])?;
            sh(
                "ip",
                &["addr", "add", &format!("10.77.{x}.254/24"), "dev", br],
            )?;
            for (i, (ns, veth)) in record.namespaces.iter().zip(&record.veths).enumerate() {
                sh("ip", &["netns", "add", ns])?;
                sh(
                    "ip",
                    &[
                        "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
                    ],
                )?;
                sh("ip", &["link", "set", veth, "master", br, "up"])?;
                let addr = format!("10.77.{x}.{}/24", i + 1);
                sh("ip", &["-n", ns, "addr", "add", &addr, "dev", "eth0"])?;
                sh("ip", &["-n", ns, "link", "set", "eth0", "up"])?;
                sh("ip", &["-n", ns, "link", "set", "lo", "up"])?;
            }
            Ok(())
        };
        if let Err(e) = build() {
            cleanup(&record, registry);
            return Err(EnvError::Unavailable(format!(
                "could not build the test network: {e}"
            )));
        }
        record.pids.clear();
        let ns = nodes
            .iter()
            .zip(&record.namespaces)
            .map(|(n, ns)| (n.name.clone(), ns.clone()))
            .collect();
        Ok(NetnsEnv {
            record: Mutex::new(record),
            registry: registry.to_path_buf(),
            nodes,
            ns,
            controller: IpAddr::V4(Ipv4Addr::new(10, 77, x, 254)),
            run_dir: run_dir.to_path_buf(),
            children: Mutex::new(HashMap::new()),
            torn_down: AtomicBool::new(false),
        })
    }

    pub fn run_id(&self) -> String {
        self.record
            .lock()
            .map(|r| r.run_id.clone())
            .unwrap_or_default()
    }

    pub fn record(&self) -> RunRecord {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn namespace(&self, node: &str) -> Result<&str, EnvError> {
        self.ns
            .get(node)
            .map(String::as_str)
            .ok_or_else(|| EnvError::UnknownNode(node.to_string()))
    }

    fn owns(&self, pid: u32) -> bool {
        self.children
            .lock()
            .map(|c| c.contains_key(&pid))
            .unwrap_or(false)
    }

    fn teardown_sync(&self) {
        if self.torn_down.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Ok(mut children) = self.children.lock() {
            for (pid, child) in children.iter_mut() {
                unsafe {
                    libc::kill(*pid as i32, libc::SIGCONT);
                    libc::kill(*pid as i32, libc::SIGKILL);
                }
                // Reap, bounded: a SIGKILLed process goes in milliseconds.
                for _ in 0..200 {
                    if !matches!(child.try_wait(), Ok(None)) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            children.clear();
        }
        let record = self.record();
        cleanup(&record, &self.registry);
    }
}

impl Drop for NetnsEnv {
    /// The last line of defence (a panic unwinding past the run): remove everything.
    fn drop(&mut self) {
        self.teardown_sync();
    }
}

impl Env for NetnsEnv {
    fn name(&self) -> &str {
        "netns"
    }

    fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    fn controller_ip(&self) -> Option<IpAddr> {
        Some(self.controller)
    }

    fn run_dir(&self) -> Option<PathBuf> {
        Some(self.run_dir.clone())
    }

    fn spawn<'a>(
        &'a self,
        node: &'a str,
        spawn: &'a Spawn,
    ) -> BoxFuture<'a, Result<u32, EnvError>> {
        Box::pin(async move {
            let ns = self.namespace(node)?.to_string();
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&spawn.log)
                .map_err(io(format!("opening {}", spawn.log.display())))?;
            let err = log.try_clone().map_err(io("log file"))?;
            let mut cmd = tokio::process::Command::new("ip");
            cmd.args(["netns", "exec", &ns])
                .arg(&spawn.program)
                .args(&spawn.args)
                .envs(spawn.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(err)
                // Its own process group: a Ctrl-C at the terminal reaches the controller,
                // which heals and stops nodes itself.
                .process_group(0);
            let child = cmd.spawn().map_err(io(format!(
                "starting {} on {node}",
                spawn.program.display()
            )))?;
            let pid = child.id().ok_or_else(|| EnvError::Node {
                node: node.to_string(),
                message: "process exited at once".into(),
            })?;
            if let Ok(mut c) = self.children.lock() {
                c.insert(pid, child);
            }
            if let Ok(mut r) = self.record.lock() {
                r.pids.push(ProcRecord { pid, namespace: ns });
                let _ = r.save(&self.registry);
            }
            Ok(pid)
        })
    }

    fn signal<'a>(
        &'a self,
        node: &'a str,
        pid: u32,
        signal: Signal,
    ) -> BoxFuture<'a, Result<(), EnvError>> {
        Box::pin(async move {
            if !self.owns(pid) {
                return Err(EnvError::Node {
                    node: node.to_string(),
                    message: format!("process {pid} was not started by this run"),
                });
            }
            let r = unsafe { libc::kill(pid as i32, signal.number()) };
            if r != 0 {
                let e = std::io::Error::last_os_error();
                if e.raw_os_error() != Some(libc::ESRCH) {
                    return Err(EnvError::Io {
                        what: format!("signal {signal:?} to {pid} on {node}"),
                        source: e,
                    });
                }
            }
            Ok(())
        })
    }

    fn alive<'a>(&'a self, _node: &'a str, pid: u32) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Ok(mut c) = self.children.lock() else {
                return false;
            };
            match c.get_mut(&pid) {
                Some(child) => matches!(child.try_wait(), Ok(None)),
                None => false,
            }
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
            let ns = self.namespace(node)?.to_string();
            let mut cmd = tokio::process::Command::new("ip");
            cmd.args(["netns", "exec", &ns, program])
                .args(args)
                .stdin(Stdio::null())
                .kill_on_drop(true);
            match tokio::time::timeout(timeout, cmd.output()).await {
                Ok(Ok(o)) => Ok(Output {
                    status: o.status.code(),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                }),
                Ok(Err(e)) => Err(EnvError::Io {
                    what: format!("{program} on {node}"),
                    source: e,
                }),
                Err(_) => Err(EnvError::Node {
                    node: node.to_string(),
                    message: format!("{program} did not finish in {timeout:?}"),
                }),
            }
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), EnvError>> {
        Box::pin(async move {
            // Blocking calls (ip, reaping) are short; doing them here keeps one code path.
            tokio::task::block_in_place(|| self.teardown_sync());
            Ok(())
        })
    }
}

/// Whether `pid` runs in network namespace `ns` (compares namespace inodes), so cleanup
/// never signals a PID that was reused by an unrelated process.
fn in_namespace(pid: u32, ns: &str) -> bool {
    let a = std::fs::metadata(format!("/proc/{pid}/ns/net"));
    let b = std::fs::metadata(format!("/run/netns/{ns}"));
    match (a, b) {
        (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
        _ => false,
    }
}

/// Removes what `record` names: its processes (verified to be in its namespaces), its
/// namespaces (which takes their veths, iptables rules and qdiscs with them), its bridge,
/// and the record itself. Returns what it removed, one line each.
pub fn cleanup(record: &RunRecord, registry: &Path) -> Vec<String> {
    let mut done = Vec::new();
    for p in &record.pids {
        if record.namespaces.contains(&p.namespace) && in_namespace(p.pid, &p.namespace) {
            unsafe {
                libc::kill(p.pid as i32, libc::SIGCONT);
                libc::kill(p.pid as i32, libc::SIGKILL);
            }
            done.push(format!("killed process {} in {}", p.pid, p.namespace));
        }
    }
    // Give killed processes a moment to leave their namespaces.
    if !done.is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    for ns in &record.namespaces {
        if Path::new("/run/netns").join(ns).exists() && sh("ip", &["netns", "del", ns]).is_ok() {
            done.push(format!("deleted namespace {ns}"));
        }
    }
    for veth in &record.veths {
        if Path::new("/sys/class/net").join(veth).exists()
            && sh("ip", &["link", "del", veth]).is_ok()
        {
            done.push(format!("deleted veth {veth}"));
        }
    }
    if !record.bridge.is_empty()
        && Path::new("/sys/class/net").join(&record.bridge).exists()
        && sh("ip", &["link", "del", &record.bridge]).is_ok()
    {
        done.push(format!("deleted bridge {}", record.bridge));
    }
    record.remove(registry);
    done
}

/// What of `record` still exists: namespaces, bridge, veths, processes (for tests that
/// assert nothing is left behind).
pub fn leftovers(record: &RunRecord) -> Vec<String> {
    let mut left = Vec::new();
    for ns in &record.namespaces {
        if Path::new("/run/netns").join(ns).exists() {
            left.push(format!("namespace {ns}"));
        }
    }
    for dev in record.veths.iter().chain(std::iter::once(&record.bridge)) {
        if !dev.is_empty() && Path::new("/sys/class/net").join(dev).exists() {
            left.push(format!("interface {dev}"));
        }
    }
    for p in &record.pids {
        if start_time(p.pid).is_some() && in_namespace(p.pid, &p.namespace) {
            left.push(format!("process {}", p.pid));
        }
    }
    left
}

/// The log path for a node in a run dir.
pub fn node_log(run_dir: &Path, node: &str) -> PathBuf {
    run_dir.join(format!("{node}.log"))
}
