//! PostgreSQL target: Debian's `postgresql`, the first node the primary, the others streaming
//! standbys made with `pg_basebackup -R` (all run as user `postgres` through `setpriv`, since
//! PostgreSQL refuses to run as root). Client side in [`sql`].
//!
//! Options:
//! - `replication = async | sync | quorum`: `synchronous_standby_names` empty, `FIRST 1 (...)`
//!   or `ANY 1 (...)` over the standbys; `synchronous_commit` (default `on`; `remote_apply`
//!   makes a synchronous standby's reads see every acknowledged commit).
//! - `reads = primary | standbys`: where read-only transactions go (a client's own node when
//!   `standbys`; transactions that write always go to the primary). SERIALIZABLE is not
//!   available on a hot standby, so read-only transactions there run at REPEATABLE READ.
//! - `isolation = serializable | repeatable-read | read-committed`.
//! - `accounts`, `total`: the bank's accounts (default 5 holding 100 in all).
//!
//! No automatic failover (PostgreSQL has none built in). `fsync = off`: a SIGKILL loses no
//! page-cache data (only a power cut would), and it keeps the 2-core test machine fast.
//! Clock faults: libfaketime on the server processes (C programs, they honour it).

pub mod sql;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::env::{Env, Signal, Spawn};
use faultline_core::target::{Clock, Daemons, Primary, Target, TargetError};
use faultline_core::{BoxFuture, Value};

use self::sql::{Isolation, MicroResult, PgConn, SCHEMA};
use super::faketime::FakeClock;
use super::install;
use super::ops::{self, completion_of, KvOp, Micro};
use super::outcome::OpError;
use super::real::{chown_dir, wait_until, BuildError, Options, Paths};

const PORT: u16 = 5432;
const USER: &str = "postgres";

/// The newest installed server's bin directory (`/usr/lib/postgresql/15/bin`).
pub fn bin_dir() -> Option<PathBuf> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten() {
        let v: u32 = e.file_name().to_string_lossy().parse().unwrap_or(0);
        let bin = e.path().join("bin");
        if bin.join("postgres").exists() && best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, bin));
        }
    }
    best.map(|(_, b)| b)
}

struct Shared {
    nodes: Vec<String>,
    /// node -> (ip, port)
    addrs: BTreeMap<String, (String, u16)>,
    reads_standbys: bool,
    isolation: Isolation,
}

impl Shared {
    async fn connect(&self, node: &str, isolation: Isolation) -> Result<PgConn, OpError> {
        let (ip, port) = self
            .addrs
            .get(node)
            .ok_or_else(|| OpError::not_applied("unknown-node", node.to_string()))?;
        PgConn::connect(
            ip,
            *port,
            USER,
            "postgres",
            isolation,
            Duration::from_millis(1500),
        )
        .await
    }
}

pub struct Postgres {
    daemons: Daemons,
    shared: Arc<Shared>,
    paths: Paths,
    bin: PathBuf,
    replication: String,
    synchronous_commit: String,
    accounts: i64,
    total: i64,
    clock: Option<FakeClock>,
}

impl Postgres {
    pub fn new(options: &Options, env: Arc<dyn Env>) -> Result<Postgres, BuildError> {
        options.only(
            "postgres",
            &[
                "replication",
                "synchronous_commit",
                "reads",
                "isolation",
                "accounts",
                "total",
            ],
        )?;
        let replication = options.choice("replication", &["async", "sync", "quorum"])?;
        let synchronous_commit = options.choice(
            "synchronous_commit",
            &["on", "remote_apply", "remote_write", "local", "off"],
        )?;
        let reads = options.choice("reads", &["primary", "standbys"])?;
        let isolation = options.choice(
            "isolation",
            &["serializable", "repeatable-read", "read-committed"],
        )?;
        let isolation = Isolation::parse(&isolation)
            .ok_or_else(|| BuildError::Bad(format!("postgres: isolation {isolation}")))?;
        super::real::available("postgres")?;
        install::ensure("setpriv", "util-linux", None)?;
        let bin = bin_dir().ok_or_else(|| {
            BuildError::Bad("postgres: no /usr/lib/postgresql/*/bin/postgres".into())
        })?;
        let same_ip = env.nodes().windows(2).all(|w| w[0].ip == w[1].ip);
        let mut addrs = BTreeMap::new();
        for (i, n) in env.nodes().iter().enumerate() {
            let off = if same_ip { i as u16 } else { 0 };
            addrs.insert(n.name.clone(), (n.ip.to_string(), PORT + off));
        }
        let nodes: Vec<String> = env.nodes().iter().map(|n| n.name.clone()).collect();
        if nodes.is_empty() {
            return Err(BuildError::Bad(
                "postgres: the environment has no nodes".into(),
            ));
        }
        let paths = Paths::new("postgres", env.as_ref())
            .map_err(|e| BuildError::Bad(format!("postgres: creating its directories: {e}")))?;
        let clock = FakeClock::new(&paths.data.join("clock"));
        Ok(Postgres {
            daemons: Daemons::new(env),
            shared: Arc::new(Shared {
                nodes,
                addrs,
                reads_standbys: reads == "standbys",
                isolation,
            }),
            paths,
            bin,
            replication,
            synchronous_commit,
            accounts: options.int("accounts", 5)? as i64,
            total: options.int("total", 100)? as i64,
            clock,
        })
    }

    fn env(&self) -> &Arc<dyn Env> {
        self.daemons.env()
    }

    fn primary_node(&self) -> &str {
        &self.shared.nodes[0]
    }

    /// Runs a PostgreSQL program on a node as user postgres, bounded.
    async fn as_postgres(
        &self,
        node: &str,
        program: &str,
        args: &[String],
    ) -> Result<(), TargetError> {
        let mut full = vec![
            format!("--reuid={USER}"),
            format!("--regid={USER}"),
            "--init-groups".into(),
            "--".into(),
            self.bin.join(program).display().to_string(),
        ];
        full.extend(args.iter().cloned());
        let out = self
            .env()
            .exec(node, "setpriv", &full, Duration::from_secs(180))
            .await?;
        if !out.success() {
            return Err(TargetError::Node {
                node: node.into(),
                message: format!(
                    "{program} failed ({:?}): {}",
                    out.status,
                    out.stderr.trim().lines().last().unwrap_or_default()
                ),
            });
        }
        Ok(())
    }

    fn spawn_for(&self, node: &str) -> Result<Spawn, TargetError> {
        let (ip, port) = &self.shared.addrs[node];
        let dir = self.paths.node_data(node);
        let sock = self.paths.data.join(format!("{node}-socket"));
        chown_dir(&sock, USER)?;
        let vars = match &self.clock {
            Some(c) => c
                .vars(node)
                .map_err(|e| TargetError::Other(format!("clock file: {e}")))?,
            None => Vec::new(),
        };
        // libfaketime goes in through `env` after setpriv: preloaded into setpriv (root)
        // it would create its semaphore as root, which the server (postgres) cannot open.
        let mut args = vec![
            format!("--reuid={USER}"),
            format!("--regid={USER}"),
            "--init-groups".into(),
            "--".into(),
            "env".into(),
        ];
        args.extend(vars.iter().map(|(k, v)| format!("{k}={v}")));
        args.extend([
            self.bin.join("postgres").display().to_string(),
            "-D".into(),
            dir.display().to_string(),
            "-c".into(),
            format!("listen_addresses={ip}"),
            "-c".into(),
            format!("port={port}"),
            "-c".into(),
            // Not the data directory: pg_basebackup would copy the primary's lock file.
            format!("unix_socket_directories={}", sock.display()),
            "-c".into(),
            format!("cluster_name={node}"),
        ]);
        Ok(Spawn {
            program: "setpriv".into(),
            args,
            vars: Vec::new(),
            log: self.paths.log(node, "postgres"),
        })
    }

    fn standby_names(&self) -> String {
        let standbys = self.shared.nodes[1..].join(", ");
        match self.replication.as_str() {
            "sync" if !standbys.is_empty() => format!("FIRST 1 ({standbys})"),
            "quorum" if !standbys.is_empty() => format!("ANY 1 ({standbys})"),
            _ => String::new(),
        }
    }

    fn configure_primary(&self, dir: &Path) -> Result<(), TargetError> {
        let conf = format!(
            "\n# faultline\nwal_level = replica\nmax_wal_senders = 16\nmax_replication_slots = 16\n\
             hot_standby = on\nfsync = off\nwal_keep_size = '256MB'\n\
             synchronous_commit = {}\nsynchronous_standby_names = '{}'\n\
             max_connections = 200\nlog_min_messages = warning\n",
            self.synchronous_commit,
            self.standby_names()
        );
        let hba = "\n# faultline: only this test's namespaces reach these servers\n\
                   host all all 0.0.0.0/0 trust\nhost replication all 0.0.0.0/0 trust\n";
        append(&dir.join("postgresql.conf"), &conf)?;
        append(&dir.join("pg_hba.conf"), hba)
    }

    async fn serving(&self, node: &str, standby: bool) -> Result<(), String> {
        let c = self
            .shared
            .connect(node, Isolation::ReadCommitted)
            .await
            .map_err(|e| e.to_string())?;
        let want = if standby { "t" } else { "f" };
        let sql = format!("SELECT 1 WHERE pg_is_in_recovery() = '{want}'");
        c.batch(&sql).await.map_err(|e| e.to_string())?;
        if !standby {
            return Ok(());
        }
        // A standby serves once it streams from the primary.
        let p = self
            .shared
            .connect(self.primary_node(), Isolation::ReadCommitted)
            .await
            .map_err(|e| e.to_string())?;
        let check = format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_stat_replication \
             WHERE application_name = '{node}' AND state = 'streaming') \
             THEN RAISE EXCEPTION 'not streaming yet'; END IF; END $$"
        );
        p.batch(&check).await.map_err(|e| e.to_string())
    }

    /// Starts a node's postmaster, retrying while a killed predecessor's backends still
    /// hold its shared memory (they exit by themselves once they notice).
    async fn start_node(&self, node: &str) -> Result<(), TargetError> {
        let spawn = self.spawn_for(node)?;
        let mut last = String::new();
        for _ in 0..20 {
            let pid = self.daemons.spawn(node, &spawn).await?;
            tokio::time::sleep(Duration::from_millis(700)).await;
            if self.env().alive(node, pid).await {
                return Ok(());
            }
            last = format!("postgres exited at start; see {}", spawn.log.display());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(TargetError::Node {
            node: node.into(),
            message: last,
        })
    }

    /// Fast shutdown (SIGINT: roll back sessions, checkpoint, exit), then the signal verbs.
    async fn stop_node(&self, node: &str) -> Result<(), TargetError> {
        if let Some(pid) = self.daemons.pid(node) {
            if self.env().alive(node, pid).await {
                let _ = self.env().signal(node, pid, Signal::Cont).await;
                let args = vec!["-INT".to_string(), pid.to_string()];
                let _ = self
                    .env()
                    .exec(node, "kill", &args, Duration::from_secs(5))
                    .await;
                for _ in 0..50 {
                    if !self.env().alive(node, pid).await {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        self.daemons.stop(node).await
    }
}

fn append(path: &Path, text: &str) -> Result<(), TargetError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| TargetError::Other(format!("writing {}: {e}", path.display())))
}

fn chmod_700(dir: &Path) -> Result<(), TargetError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| TargetError::Other(format!("chmod {}: {e}", dir.display())))
}

impl Target for Postgres {
    fn name(&self) -> &str {
        "postgres"
    }

    fn nodes(&self) -> Vec<String> {
        self.shared.nodes.clone()
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            if self.clock.is_none() {
                eprintln!("postgres: libfaketime is not installed; clock faults will not apply");
            }
            let primary = self.primary_node().to_string();
            let pdir = self.paths.node_data(&primary);
            chown_dir(&pdir, USER)?;
            let initdb_args: Vec<String> = [
                "-D",
                &pdir.display().to_string(),
                "-U",
                USER,
                "--auth=trust",
                "--no-sync",
                "--locale=C",
                "-E",
                "UTF8",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            self.as_postgres(&primary, "initdb", &initdb_args).await?;
            self.configure_primary(&pdir)?;
            self.start_node(&primary).await?;
            wait_until(Duration::from_secs(60), "postgres primary", || {
                self.serving(&primary, false)
            })
            .await?;
            let (pip, pport) = self.shared.addrs[&primary].clone();
            for node in &self.shared.nodes[1..] {
                let dir = self.paths.node_data(node);
                chown_dir(&dir, USER)?;
                let args: Vec<String> = vec![
                    "-h".into(),
                    pip.clone(),
                    "-p".into(),
                    pport.to_string(),
                    "-U".into(),
                    USER.into(),
                    "-D".into(),
                    dir.display().to_string(),
                    "-X".into(),
                    "stream".into(),
                    "-R".into(),
                    "--no-sync".into(),
                    "--checkpoint=fast".into(),
                ];
                self.as_postgres(node, "pg_basebackup", &args).await?;
                // Later settings win: name the standby so synchronous_standby_names sees it.
                append(
                    &dir.join("postgresql.auto.conf"),
                    &format!(
                        "primary_conninfo = 'host={pip} port={pport} user={USER} application_name={node}'\n"
                    ),
                )?;
                chmod_700(&dir)?;
                self.start_node(node).await?;
            }
            for node in &self.shared.nodes[1..] {
                wait_until(
                    Duration::from_secs(60),
                    &format!("postgres standby {node}"),
                    || self.serving(node, true),
                )
                .await?;
            }
            let c = self
                .shared
                .connect(&primary, Isolation::ReadCommitted)
                .await
                .map_err(|e| TargetError::Other(format!("schema: {e}")))?;
            c.batch(SCHEMA)
                .await
                .map_err(|e| TargetError::Other(format!("schema: {e}")))?;
            c.bank_setup(self.accounts, self.total)
                .await
                .map_err(|e| TargetError::Other(format!("bank accounts: {e}")))?;
            Ok(())
        })
    }

    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.start_node(node))
    }

    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.stop_node(node))
    }

    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.kill(node))
    }

    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.pause(node))
    }

    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(self.daemons.resume(node))
    }

    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            Ok(Box::new(PgClient {
                shared: self.shared.clone(),
                node: node.to_string(),
                primary: None,
                local: None,
            }) as Box<dyn Client>)
        })
    }

    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        Box::pin(async move {
            let mut first = Ok(());
            // Standbys first, so the primary's walsenders are not waiting on them.
            for node in self.shared.nodes.iter().rev() {
                if let Err(e) = self.stop_node(node).await {
                    if first.is_ok() {
                        first = Err(e);
                    }
                }
            }
            self.paths.remove_data();
            first
        })
    }

    fn primary(&self) -> Option<&dyn Primary> {
        Some(self)
    }

    fn clock(&self) -> Option<&dyn Clock> {
        self.clock.as_ref().map(|_| self as &dyn Clock)
    }
}

impl Primary for Postgres {
    fn primary(&self) -> BoxFuture<'_, Option<String>> {
        let p = self.primary_node().to_string();
        Box::pin(async move { Some(p) })
    }
}

impl Clock for Postgres {
    fn set_offset<'a>(
        &'a self,
        node: &'a str,
        offset_ms: i64,
    ) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move {
            let c = self
                .clock
                .as_ref()
                .ok_or(TargetError::Unsupported("clock"))?;
            c.set_offset(node, offset_ms)
                .map_err(|e| TargetError::Other(format!("clock file for {node}: {e}")))
        })
    }
}

struct PgClient {
    shared: Arc<Shared>,
    node: String,
    primary: Option<PgConn>,
    local: Option<PgConn>,
}

impl PgClient {
    async fn conn(&mut self, read_only: bool) -> Result<(String, &PgConn), OpError> {
        let to_standby =
            read_only && self.shared.reads_standbys && self.node != self.shared.nodes[0];
        if to_standby {
            if self.local.is_none() {
                // SERIALIZABLE is refused on a hot standby; REPEATABLE READ is its snapshot.
                let iso = match self.shared.isolation {
                    Isolation::Serializable => Isolation::RepeatableRead,
                    i => i,
                };
                self.local = Some(self.shared.connect(&self.node, iso).await?);
            }
            let c = self
                .local
                .as_ref()
                .ok_or_else(|| OpError::not_applied("io", "no connection"))?;
            return Ok((self.node.clone(), c));
        }
        let p = self.shared.nodes[0].clone();
        if self.primary.is_none() {
            self.primary = Some(self.shared.connect(&p, self.shared.isolation).await?);
        }
        let c = self
            .primary
            .as_ref()
            .ok_or_else(|| OpError::not_applied("io", "no connection"))?;
        Ok((p, c))
    }

    async fn run(&mut self, op: KvOp) -> Result<(String, Value), OpError> {
        match op {
            KvOp::Txn(mops) => {
                let read_only = mops.iter().all(|m| matches!(m, Micro::Read(_)));
                let (n, c) = self.conn(read_only).await?;
                let results = c.list_append(&mops).await?;
                let out = mops
                    .iter()
                    .zip(&results)
                    .map(|(m, r)| match r {
                        MicroResult::Read(_, l) => ops::micro_value(m, Some(l)),
                        MicroResult::Appended(..) => ops::micro_value(m, None),
                    })
                    .collect();
                Ok((n, Value::List(out)))
            }
            KvOp::Transfer { from, to, amount } => {
                let (n, c) = self.conn(false).await?;
                c.transfer(from, to, amount).await?;
                Ok((
                    n,
                    Value::Map(vec![
                        ("from".into(), Value::Int(from)),
                        ("to".into(), Value::Int(to)),
                        ("amount".into(), Value::Int(amount)),
                    ]),
                ))
            }
            KvOp::BankRead => {
                let (n, c) = self.conn(true).await?;
                let b = c.balances().await?;
                Ok((
                    n,
                    Value::Map(
                        b.into_iter()
                            .map(|(k, v)| (Value::Int(k), Value::Int(v)))
                            .collect(),
                    ),
                ))
            }
            KvOp::Read(_) | KvOp::Write(..) | KvOp::Cas(..) => Err(OpError::not_applied(
                "unsupported",
                "the postgres target runs list-append and bank; use etcd or redis for registers",
            )),
        }
    }
}

impl Client for PgClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let parsed = match ops::parse(op) {
                Ok(p) => p,
                Err(e) => return Completion::fail(e).with_node(&self.node),
            };
            match self.run(parsed).await {
                Ok((n, v)) => Completion::ok(v).with_node(n),
                Err(e) => {
                    // A broken or timed-out connection is not reused.
                    if e.kind != "serialization-failure"
                        && e.kind != "deadlock"
                        && e.kind != "insufficient-funds"
                    {
                        self.primary = None;
                        self.local = None;
                    }
                    completion_of(&e, &self.node)
                }
            }
        })
    }
}
