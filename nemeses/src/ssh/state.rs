//! What a run has changed on its hosts, on disk: `<run_dir>/ssh-state.json`, rewritten after
//! every change (a process started, a rule or qdisc added or removed, a clock stepped) and
//! emptied by teardown. If the controller dies mid-run (SIGKILL, power loss), the hosts still
//! run its nodes, hold its rules and keep stepped clocks; [`recover`] reconnects with the
//! same hosts file and undoes exactly that (`faultline cleanup --ssh-run DIR`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{hosts, SshHosts, SshOptions};

pub const FILE: &str = "ssh-state.json";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub hosts_file: PathBuf,
    /// (node, pid, start time in clock ticks)
    pub processes: Vec<(String, u32, String)>,
    /// (node, program, args) that undo a fault still in force
    pub undo: Vec<(String, String, Vec<String>)>,
    /// (node, net offset in ns applied to its clock)
    pub clocks: Vec<(String, i64)>,
}

impl State {
    pub fn is_empty(&self) -> bool {
        self.processes.is_empty() && self.undo.is_empty() && self.clocks.is_empty()
    }
}

/// Writes `state` atomically (temp file + rename), so a crash never leaves half a record.
pub fn save(run_dir: &Path, state: &State) -> std::io::Result<()> {
    let path = run_dir.join(FILE);
    let tmp = run_dir.join(format!("{FILE}.tmp"));
    let text = serde_json::to_string_pretty(state).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, &path)
}

/// Undoes what a dead controller left on its hosts, from `<run_dir>/ssh-state.json`: stops
/// the processes it started (checked by start time), removes its rules and qdiscs, steps
/// clocks back, downloads the logs. Returns what was done, or why not.
pub fn recover(run_dir: &Path, accept_new_host_keys: bool) -> Result<Vec<String>, String> {
    let path = run_dir.join(FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let state: State =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if state.is_empty() {
        return Ok(vec![format!(
            "{}: nothing left on the hosts",
            path.display()
        )]);
    }
    let file = hosts::load(&state.hosts_file).map_err(|e| e.to_string())?;
    let hosts = SshHosts::connect(
        file,
        SshOptions {
            accept_new_host_keys,
            run_dir: Some(run_dir.to_path_buf()),
            ..SshOptions::default()
        },
    )
    .map_err(|e| format!("connecting to the hosts: {e}"))?;
    let summary = vec![format!(
        "{} processes, {} rules/qdiscs, {} stepped clocks",
        state.processes.len(),
        state.undo.len(),
        state.clocks.len()
    )];
    hosts.adopt(&state);
    let errors = hosts.teardown();
    if errors.is_empty() {
        Ok(summary)
    } else {
        Err(errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "))
    }
}
