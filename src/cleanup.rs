//! `faultline cleanup`: removes what runs killed mid-test left behind (namespaces, bridges,
//! veths, node processes; iptables rules and qdiscs live inside the namespaces and go with
//! them). It acts only on the run records under /run/faultline, never on name patterns, and
//! skips runs whose controller is still alive unless told `--force`.

use std::path::PathBuf;

use faultline_nemeses::netns::cleanup;
use faultline_nemeses::{RunRecord, REGISTRY_DIR};

use crate::exit;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this run id (default: every run whose controller is gone).
    #[arg(long)]
    pub run: Option<String>,
    /// Also clean runs whose controller is still running.
    #[arg(long)]
    pub force: bool,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// An `--env ssh` run directory: undo what its dead controller left on the hosts
    /// (nodes, rules, qdiscs, stepped clocks), from its ssh-state.json.
    #[arg(long, value_name = "RUN_DIR")]
    pub ssh_run: Option<PathBuf>,
    /// With --ssh-run: trust hosts missing from known_hosts.
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Where run records live.
    #[arg(long, default_value = REGISTRY_DIR, hide = true)]
    pub registry: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<i32> {
    if let Some(dir) = &args.ssh_run {
        return Ok(
            match faultline_nemeses::ssh::state::recover(dir, args.accept_new_host_keys) {
                Ok(done) => {
                    for line in done {
                        println!("{}: {line}", dir.display());
                    }
                    exit::VALID
                }
                Err(e) => {
                    eprintln!("faultline cleanup: {e}");
                    exit::HARNESS
                }
            },
        );
    }
    let (records, errors) = RunRecord::load_all(&args.registry);
    for e in &errors {
        eprintln!("faultline cleanup: unreadable run record {e}");
    }
    let mut cleaned = 0;
    for r in &records {
        if args.run.as_deref().is_some_and(|id| id != r.run_id) {
            continue;
        }
        if r.controller_alive() && !args.force {
            println!(
                "run {}: still running (controller pid {}); skipped (use --force)",
                r.run_id, r.controller_pid
            );
            continue;
        }
        if args.dry_run {
            println!(
                "run {}: would remove {} namespaces, bridge {}, {} processes",
                r.run_id,
                r.namespaces.len(),
                r.bridge,
                r.pids.len()
            );
            continue;
        }
        let removed = cleanup(r, &args.registry);
        println!("run {} ({}):", r.run_id, r.run_dir);
        if removed.is_empty() {
            println!("  nothing was left");
        }
        for line in removed {
            println!("  {line}");
        }
        cleaned += 1;
    }
    if let Some(id) = &args.run {
        if !records.iter().any(|r| &r.run_id == id) {
            eprintln!(
                "faultline cleanup: no run {id} in {}",
                args.registry.display()
            );
            return Ok(exit::USAGE);
        }
    }
    if records.is_empty() {
        println!("nothing to clean up");
    } else if cleaned == 0 && !args.dry_run {
        println!("nothing cleaned");
    }
    Ok(if errors.is_empty() {
        exit::VALID
    } else {
        exit::HARNESS
    })
}
