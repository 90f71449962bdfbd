//! `faultline run`: start a cluster, run a workload under faults, record the history, check
//! it, and say what was found. With no arguments: the built-in store in `leader-async` mode
//! on 5 nodes, the register workload, partitions, 30 s.

mod checks;
mod flow;
mod settings;
mod ssh_env;
mod summary;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use settings::{File, Settings};

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A TOML test file with the same settings (flags override it).
    #[arg(long, value_name = "FILE.toml")]
    pub test: Option<PathBuf>,
    /// The test's name (its directory under runs/); default target-mode-workload.
    #[arg(long)]
    pub name: Option<String>,
    /// What to test: replica (the built-in store), etcd, redis, postgres, external (a TOML
    /// target: --node-opt file=PATH), or memory (in-process, for trying the harness).
    #[arg(long)]
    pub target: Option<String>,
    /// The built-in store's mode: leader-sync, leader-semisync, leader-async, multi-leader,
    /// leaderless, raft.
    #[arg(long)]
    pub mode: Option<String>,
    /// leader-*: serve reads on the leader only or on any replica (leader|any).
    #[arg(long)]
    pub reads: Option<String>,
    /// leader-*: failover none|auto.
    #[arg(long)]
    pub failover: Option<String>,
    /// fsync on|off.
    #[arg(long)]
    pub fsync: Option<String>,
    /// multi-leader: all-to-all|ring|star.
    #[arg(long)]
    pub topology: Option<String>,
    /// multi-leader, leaderless: lww|siblings.
    #[arg(long)]
    pub conflict: Option<String>,
    /// leaderless: replicas per key, write acks, read replies.
    #[arg(long)]
    pub n: Option<u32>,
    #[arg(long)]
    pub w: Option<u32>,
    #[arg(long)]
    pub r: Option<u32>,
    /// leaderless: sloppy quorum with hinted handoff.
    #[arg(long)]
    pub sloppy: bool,
    /// Any other node option, passed as --KEY VALUE to every node (repeatable).
    #[arg(long = "node-opt", value_name = "KEY=VALUE")]
    pub node_opt: Vec<String>,
    /// register | list-append | rw-register | counter | set | bank | causal.
    #[arg(long)]
    pub workload: Option<String>,
    /// Faults, comma-separated: partition, kill, pause, clock, net (each optionally
    /// name:kind, e.g. partition:primary), or none.
    #[arg(long)]
    pub nemesis: Option<String>,
    /// Seconds between faults, and how long each lasts.
    #[arg(long, value_name = "S")]
    pub nemesis_interval: Option<f64>,
    #[arg(long)]
    pub nodes: Option<usize>,
    /// Client workers (Jepsen processes) running at once.
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Total ops per second over all workers (0 = as fast as they go).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds of workload.
    #[arg(long, value_name = "S")]
    pub time_limit: Option<f64>,
    /// Seeds the op and fault schedule; printed so a failure can be reproduced.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds before an unanswered op is recorded as info.
    #[arg(long, value_name = "S")]
    pub op_timeout: Option<f64>,
    /// Seconds the checkers may take before saying unknown.
    #[arg(long, value_name = "S")]
    pub check_timeout: Option<f64>,
    /// Where runs go (default runs/).
    #[arg(long)]
    pub runs_dir: Option<PathBuf>,
    /// Where nodes live: netns (namespaces on this machine; default) or ssh (--hosts).
    #[arg(long, value_name = "netns|ssh")]
    pub env: Option<String>,
    /// ssh: the hosts file (TOML; see docs/ssh.md).
    #[arg(long, value_name = "FILE.toml")]
    pub hosts: Option<PathBuf>,
    /// ssh: trust hosts missing from known_hosts and record their keys (changed keys are
    /// refused regardless).
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// The faultline binary nodes run (default: this one).
    #[arg(long, hide = true)]
    pub node_binary: Option<PathBuf>,
}

impl Args {
    /// The settings the flags name, as a test file would.
    fn flags(&self) -> Result<File, String> {
        let mut mode_options = BTreeMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                mode_options.insert(k.to_string(), toml::Value::String(v));
            }
        };
        put("reads", self.reads.clone());
        put("failover", self.failover.clone());
        put("fsync", self.fsync.clone());
        put("topology", self.topology.clone());
        put("conflict", self.conflict.clone());
        put("n", self.n.map(|x| x.to_string()));
        put("w", self.w.map(|x| x.to_string()));
        put("r", self.r.map(|x| x.to_string()));
        if self.sloppy {
            put("sloppy", Some("true".into()));
        }
        for kv in &self.node_opt {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| format!("--node-opt {kv:?}: expected KEY=VALUE"))?;
            put(k.trim(), Some(v.trim().to_string()));
        }
        Ok(File {
            test: self.name.clone(),
            target: self.target.clone(),
            mode: self.mode.clone(),
            mode_options,
            workload: self.workload.clone(),
            nemesis: self.nemesis.clone(),
            nemesis_interval: self.nemesis_interval,
            nodes: self.nodes,
            concurrency: self.concurrency,
            rate: self.rate,
            time_limit: self.time_limit,
            seed: self.seed,
            op_timeout: self.op_timeout,
            check_timeout: self.check_timeout,
            runs_dir: self.runs_dir.clone(),
            env: self.env.clone(),
            hosts: self.hosts.clone(),
        })
    }
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    let file = match &args.test {
        Some(p) => match settings::read_file(p) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("faultline run: {e}");
                return Ok(exit::USAGE);
            }
        },
        None => File::default(),
    };
    let flags = match args.flags() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("faultline run: {e}");
            return Ok(exit::USAGE);
        }
    };
    let mut settings = Settings::resolve(file, flags, args.node_binary.clone());
    settings.accept_new_host_keys = args.accept_new_host_keys;
    flow::run(settings)
}

/// Runs one test from resolved settings: the library entry point `faultline matrix` uses.
/// Prints the same summary as `faultline run` and returns its exit code.
pub fn run_settings(settings: Settings) -> anyhow::Result<i32> {
    flow::run(settings)
}
