//! `faultline node`: serve one node of the built-in replicated store (crate faultline-replica).
//! Flags follow docs/replica-protocol.md; the node logs to stderr and exits 0 on SIGTERM.

use crate::exit;
use faultline_replica::config::{Conflict, Failover, Mode, OnOff, Reads, Topology};
use faultline_replica::Config;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// This node's id (must appear in --peers).
    #[arg(long)]
    pub id: String,
    /// leader-sync | leader-semisync | leader-async | multi-leader | leaderless | raft
    #[arg(long)]
    pub mode: Mode,
    /// Address for clients (line-delimited JSON).
    #[arg(long, default_value = "127.0.0.1:7000")]
    pub client_listen: String,
    /// Address for node-to-node traffic.
    #[arg(long, default_value = "127.0.0.1:7001")]
    pub peer_listen: String,
    /// Every node's peer address, this one included: n1=IP:PORT,n2=IP:PORT,...
    #[arg(long)]
    pub peers: String,
    /// Where the node keeps its log and state.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// leader-*: serve reads on the leader only, or on any replica.
    #[arg(long, default_value = "leader")]
    pub reads: Reads,
    /// leader-*: promote a follower when the primary is silent (auto), or never (none).
    #[arg(long, default_value = "auto")]
    pub failover: Failover,
    /// on: fsync the log before acknowledging. off: acknowledge from memory and write+sync the
    /// log only every --sync-interval-ms, so a crash (SIGKILL) loses the last interval's writes.
    #[arg(long, default_value = "on")]
    pub fsync: OnOff,
    /// With --fsync off: how often the buffered log is written and synced.
    #[arg(long, default_value_t = 1000)]
    pub sync_interval_ms: u64,
    /// multi-leader: all-to-all | ring | star (the first peer is the hub).
    #[arg(long, default_value = "all-to-all")]
    pub topology: Topology,
    /// multi-leader, leaderless: lww | siblings.
    #[arg(long, default_value = "lww")]
    pub conflict: Conflict,
    /// leaderless: replicas per key.
    #[arg(long, default_value_t = 3)]
    pub n: usize,
    /// leaderless: acks a write waits for.
    #[arg(long, default_value_t = 2)]
    pub w: usize,
    /// leaderless: replies a read waits for.
    #[arg(long, default_value_t = 2)]
    pub r: usize,
    /// leaderless: sloppy quorum with hinted handoff.
    #[arg(long)]
    pub sloppy: bool,
    /// Initial clock offset in ms (an admin request changes it at runtime).
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    pub clock_offset_ms: i64,
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    #[arg(long, default_value_t = 1000)]
    pub election_timeout_ms: u64,
    /// leader-sync/semisync: how long a write waits for follower acks.
    #[arg(long, default_value_t = 2000)]
    pub replication_timeout_ms: u64,
    /// leaderless: anti-entropy and hinted-handoff period.
    #[arg(long, default_value_t = 1000)]
    pub anti_entropy_ms: u64,
}

impl Args {
    pub fn to_config(&self) -> Result<Config, String> {
        let peers = Config::parse_peers(&self.peers)?;
        let mut c = Config::new(&self.id, self.mode, peers, self.data_dir.clone());
        c.client_listen = self.client_listen.clone();
        c.peer_listen = self.peer_listen.clone();
        c.reads = self.reads;
        c.failover = self.failover;
        c.fsync = self.fsync == OnOff::On;
        c.sync_interval_ms = self.sync_interval_ms;
        c.topology = self.topology;
        c.conflict = self.conflict;
        c.n = self.n;
        c.w = self.w;
        c.r = self.r;
        c.sloppy = self.sloppy;
        c.clock_offset_ms = self.clock_offset_ms;
        c.heartbeat_ms = self.heartbeat_ms;
        c.election_timeout_ms = self.election_timeout_ms;
        c.replication_timeout_ms = self.replication_timeout_ms;
        c.anti_entropy_ms = self.anti_entropy_ms;
        c.validate()?;
        Ok(c)
    }
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("faultline node: {e}");
            return Ok(exit::USAGE);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let shutdown = async {
            let mut term =
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("faultline node: cannot watch SIGTERM: {e}");
                        return std::future::pending().await;
                    }
                };
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        match faultline_replica::run(cfg, shutdown).await {
            Ok(()) => Ok(exit::VALID),
            Err(e) => {
                eprintln!("faultline node: {e}");
                Ok(exit::HARNESS)
            }
        }
    })
}
