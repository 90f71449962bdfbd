//! `faultline cluster up|down`: a local cluster of the built-in store on loopback, for people to
//! play with. `up` starts `faultline node` children in the background (each in its own process
//! group, logging to DIR/NAME.log) and records their PIDs in DIR/pids; `down` stops exactly
//! those PIDs (after checking each is still a `faultline node` of this directory).

use crate::exit;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Start N nodes on 127.0.0.1 in the background.
    Up(Box<UpArgs>),
    /// Stop the nodes `up` started in DIR.
    Down(DownArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// leader-sync | leader-semisync | leader-async | multi-leader | leaderless | raft
    #[arg(long)]
    pub mode: faultline_replica::Mode,
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Where PIDs, logs and data go.
    #[arg(long, default_value = ".faultline/cluster")]
    pub dir: PathBuf,
    /// Node i (from 1) serves clients on BASE+2(i-1) and peers on BASE+2(i-1)+1.
    #[arg(long, default_value_t = 7100)]
    pub base_port: u16,
    /// Options passed on to every `faultline node` (see `faultline node --help`).
    #[command(flatten)]
    pub opts: NodeOpts,
}

#[derive(Debug, clap::Args)]
pub struct NodeOpts {
    #[arg(long)]
    pub reads: Option<String>,
    #[arg(long)]
    pub failover: Option<String>,
    #[arg(long)]
    pub fsync: Option<String>,
    #[arg(long)]
    pub topology: Option<String>,
    #[arg(long)]
    pub conflict: Option<String>,
    #[arg(long)]
    pub n: Option<usize>,
    #[arg(long)]
    pub w: Option<usize>,
    #[arg(long)]
    pub r: Option<usize>,
    #[arg(long)]
    pub sloppy: bool,
    #[arg(long)]
    pub heartbeat_ms: Option<u64>,
    #[arg(long)]
    pub election_timeout_ms: Option<u64>,
}

impl NodeOpts {
    fn to_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                a.push(format!("--{k}"));
                a.push(v);
            }
        };
        push("reads", self.reads.clone());
        push("failover", self.failover.clone());
        push("fsync", self.fsync.clone());
        push("topology", self.topology.clone());
        push("conflict", self.conflict.clone());
        push("n", self.n.map(|v| v.to_string()));
        push("w", self.w.map(|v| v.to_string()));
        push("r", self.r.map(|v| v.to_string()));
        push("heartbeat-ms", self.heartbeat_ms.map(|v| v.to_string()));
        push(
            "election-timeout-ms",
            self.election_timeout_ms.map(|v| v.to_string()),
        );
        if self.sloppy {
            a.push("--sloppy".into());
        }
        a
    }
}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    #[arg(long, default_value = ".faultline/cluster")]
    pub dir: PathBuf,
    /// Also delete the nodes' data and logs.
    #[arg(long)]
    pub wipe: bool,
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    match args.action {
        Action::Up(a) => up(*a),
        Action::Down(a) => down(a),
    }
}

fn pids_file(dir: &Path) -> PathBuf {
    dir.join("pids")
}

fn up(a: UpArgs) -> anyhow::Result<i32> {
    if a.nodes == 0 || a.nodes > 50 {
        eprintln!("faultline cluster up: --nodes must be 1..=50");
        return Ok(exit::USAGE);
    }
    if let Ok(existing) = std::fs::read_to_string(pids_file(&a.dir)) {
        if existing
            .lines()
            .filter_map(parse_pid_line)
            .any(|(_, pid)| alive(pid))
        {
            eprintln!("faultline cluster up: {} already has running nodes; run `faultline cluster down --dir {}` first", a.dir.display(), a.dir.display());
            return Ok(exit::USAGE);
        }
    }
    std::fs::create_dir_all(&a.dir)?;
    let dir = std::fs::canonicalize(&a.dir)?;
    let port = |i: usize, k: usize| a.base_port as usize + 2 * i + k;
    if port(a.nodes, 0) > u16::MAX as usize {
        eprintln!(
            "faultline cluster up: --base-port too high for {} nodes",
            a.nodes
        );
        return Ok(exit::USAGE);
    }
    for i in 0..a.nodes {
        for k in 0..2 {
            if std::net::TcpListener::bind(("127.0.0.1", port(i, k) as u16)).is_err() {
                eprintln!(
                    "faultline cluster up: port {} is in use (pick another --base-port)",
                    port(i, k)
                );
                return Ok(exit::HARNESS);
            }
        }
    }
    let peers: Vec<String> = (0..a.nodes)
        .map(|i| format!("n{}=127.0.0.1:{}", i + 1, port(i, 1)))
        .collect();
    let peers = peers.join(",");
    let exe = std::env::current_exe()?;
    let mut pids = std::fs::File::create(pids_file(&dir))?;
    for i in 0..a.nodes {
        let name = format!("n{}", i + 1);
        let log = std::fs::File::create(dir.join(format!("{name}.log")))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("node")
            .args(["--id", &name, "--mode", &a.mode.to_string()])
            .args(["--client-listen", &format!("127.0.0.1:{}", port(i, 0))])
            .args(["--peer-listen", &format!("127.0.0.1:{}", port(i, 1))])
            .args(["--peers", &peers])
            .arg("--data-dir")
            .arg(dir.join(&name))
            .args(a.opts.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn()?;
        writeln!(pids, "{name} {}", child.id())?;
        pids.flush()?;
    }
    // Wait until every client port answers (bounded).
    let deadline = Instant::now() + Duration::from_secs(15);
    for i in 0..a.nodes {
        while std::net::TcpStream::connect(("127.0.0.1", port(i, 0) as u16)).is_err() {
            if Instant::now() > deadline {
                eprintln!(
                    "faultline cluster up: n{} did not start; see {}",
                    i + 1,
                    dir.join(format!("n{}.log", i + 1)).display()
                );
                return Ok(exit::HARNESS);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    println!(
        "{} cluster of {} nodes in {}",
        a.mode,
        a.nodes,
        dir.display()
    );
    println!("{:<5} {:<22} {:<22}", "node", "client", "peer");
    for i in 0..a.nodes {
        println!(
            "n{:<4} 127.0.0.1:{:<12} 127.0.0.1:{}",
            i + 1,
            port(i, 0),
            port(i, 1)
        );
    }
    println!(
        "try: echo '{{\"id\":1,\"op\":\"status\"}}' | nc -q1 127.0.0.1 {}",
        port(0, 0)
    );
    Ok(exit::VALID)
}

fn parse_pid_line(l: &str) -> Option<(String, i32)> {
    let (n, p) = l.split_once(' ')?;
    Some((n.to_string(), p.trim().parse().ok()?))
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Is `pid` still the `faultline node` we started for `dir`? (Guards against PID reuse.)
fn ours(pid: i32, dir: &Path) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(c) => {
            let c = String::from_utf8_lossy(&c);
            c.contains("node") && c.contains(&*dir.to_string_lossy())
        }
        Err(_) => false,
    }
}

fn down(a: DownArgs) -> anyhow::Result<i32> {
    let Ok(dir) = std::fs::canonicalize(&a.dir) else {
        eprintln!("faultline cluster down: no cluster in {}", a.dir.display());
        return Ok(exit::USAGE);
    };
    let text = match std::fs::read_to_string(pids_file(&dir)) {
        Ok(t) => t,
        Err(_) => {
            eprintln!("faultline cluster down: no pids file in {}", dir.display());
            return Ok(exit::USAGE);
        }
    };
    let nodes: Vec<(String, i32)> = text
        .lines()
        .filter_map(parse_pid_line)
        .filter(|(_, p)| *p > 0)
        .collect();
    for (name, pid) in &nodes {
        if alive(*pid) && ours(*pid, &dir) {
            // SAFETY: plain kill(2) on a PID we recorded and verified above.
            unsafe { libc::kill(*pid, libc::SIGTERM) };
            println!("stopping {name} (pid {pid})");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    for (name, pid) in &nodes {
        while alive(*pid) && ours(*pid, &dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if alive(*pid) && ours(*pid, &dir) {
            eprintln!("{name} (pid {pid}) ignored SIGTERM; killing it");
            // SAFETY: as above.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
    std::fs::remove_file(pids_file(&dir))?;
    if a.wipe {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(exit::VALID)
}
