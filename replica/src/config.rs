//! A node's configuration: the flags of `faultline node` (see docs/replica-protocol.md).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

macro_rules! flag_enum {
    ($name:ident { $($var:ident = $s:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($var),+ }
        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok($name::$var),)+
                    _ => Err(format!("`{s}` is not one of: {}", [$($s),+].join(", "))),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($name::$var => $s),+ })
            }
        }
    };
}

flag_enum!(Mode {
    LeaderSync = "leader-sync",
    LeaderSemisync = "leader-semisync",
    LeaderAsync = "leader-async",
    MultiLeader = "multi-leader",
    Leaderless = "leaderless",
    Raft = "raft",
});
flag_enum!(Reads { Leader = "leader", Any = "any" });
flag_enum!(Failover { None = "none", Auto = "auto" });
flag_enum!(Topology { AllToAll = "all-to-all", Ring = "ring", Star = "star" });
flag_enum!(Conflict { Lww = "lww", Siblings = "siblings" });
flag_enum!(OnOff { On = "on", Off = "off" });

#[derive(Debug, Clone)]
pub struct Config {
    pub id: String,
    pub mode: Mode,
    pub client_listen: String,
    pub peer_listen: String,
    /// Every node's peer address, this one included, in the order given.
    pub peers: Vec<(String, String)>,
    pub data_dir: PathBuf,
    pub reads: Reads,
    pub failover: Failover,
    pub fsync: bool,
    /// With `fsync` off: how often the buffered log is written and synced (what a crash loses).
    pub sync_interval_ms: u64,
    pub topology: Topology,
    pub conflict: Conflict,
    pub n: usize,
    pub w: usize,
    pub r: usize,
    pub sloppy: bool,
    pub clock_offset_ms: i64,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    /// How long a write waits for replication acks before answering an indefinite timeout.
    pub replication_timeout_ms: u64,
    /// Period of leaderless anti-entropy and hint delivery.
    pub anti_entropy_ms: u64,
}

impl Config {
    /// A config with the contract's defaults.
    pub fn new(id: &str, mode: Mode, peers: Vec<(String, String)>, data_dir: PathBuf) -> Self {
        Config {
            id: id.into(),
            mode,
            client_listen: "127.0.0.1:7000".into(),
            peer_listen: "127.0.0.1:7001".into(),
            peers,
            data_dir,
            reads: Reads::Leader,
            failover: Failover::Auto,
            fsync: true,
            sync_interval_ms: 1000,
            topology: Topology::AllToAll,
            conflict: Conflict::Lww,
            n: 3,
            w: 2,
            r: 2,
            sloppy: false,
            clock_offset_ms: 0,
            heartbeat_ms: 100,
            election_timeout_ms: 1000,
            replication_timeout_ms: 2000,
            anti_entropy_ms: 1000,
        }
    }

    /// Check what the flags alone can tell is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if !self.peers.iter().any(|(n, _)| n == &self.id) {
            return Err(format!(
                "--peers does not list this node's id `{}`",
                self.id
            ));
        }
        let mut names: Vec<_> = self.peers.iter().map(|p| &p.0).collect();
        names.sort();
        names.dedup();
        if names.len() != self.peers.len() {
            return Err("--peers lists a node id twice".into());
        }
        if self.mode == Mode::Leaderless {
            let n = self.n;
            if n == 0 || self.w == 0 || self.r == 0 || self.w > n || self.r > n {
                return Err(format!(
                    "--n {n} --w {} --r {}: need 1 <= w, r <= n",
                    self.w, self.r
                ));
            }
        }
        if self.heartbeat_ms == 0 || self.election_timeout_ms <= self.heartbeat_ms {
            return Err(
                "--election-timeout-ms must exceed --heartbeat-ms, which must be > 0".into(),
            );
        }
        Ok(())
    }

    /// When the node's logs make an acknowledged record durable.
    pub fn durability(&self) -> crate::wal::Durability {
        if self.fsync {
            crate::wal::Durability::Fsync
        } else {
            crate::wal::Durability::Periodic(std::time::Duration::from_millis(
                self.sync_interval_ms.max(1),
            ))
        }
    }

    /// Parse `n1=IP:PORT,n2=IP:PORT`.
    pub fn parse_peers(s: &str) -> Result<Vec<(String, String)>, String> {
        s.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| match p.split_once('=') {
                Some((n, a)) if !n.trim().is_empty() && a.contains(':') => {
                    Ok((n.trim().to_string(), a.trim().to_string()))
                }
                _ => Err(format!("--peers entry `{p}` is not NAME=IP:PORT")),
            })
            .collect()
    }
}
