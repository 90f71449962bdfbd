//! The run registry: one JSON file per live run under [`REGISTRY_DIR`], naming exactly the
//! namespaces, bridge, veths and processes that run made, so `faultline cleanup` removes
//! what a killed controller left and nothing else. Written before anything is created and
//! rewritten as processes start; removed by a clean teardown.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Where run records live: tmpfs, so they vanish on reboot just as namespaces do.
pub const REGISTRY_DIR: &str = "/run/faultline";

/// A process a run started inside one of its namespaces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRecord {
    pub pid: u32,
    pub namespace: String,
}

/// Everything one run made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// The controller, and its start time in clock ticks since boot (field 22 of
    /// /proc/PID/stat), so a reused PID is not mistaken for a live run.
    pub controller_pid: u32,
    pub controller_start: u64,
    pub run_dir: String,
    pub bridge: String,
    /// `10.77.X.0/24`
    pub subnet: String,
    pub namespaces: Vec<String>,
    pub veths: Vec<String>,
    pub pids: Vec<ProcRecord>,
}

/// A process's start time in ticks since boot, if it exists.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields after the last ')' are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

impl RunRecord {
    pub fn path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("{}.json", self.run_id))
    }

    /// Writes the record atomically (temp file + rename).
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!(".{}.json.tmp", self.run_id));
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, self.path(dir))
    }

    pub fn remove(&self, dir: &Path) {
        let _ = std::fs::remove_file(self.path(dir));
    }

    /// Whether the controller that made this run is still running.
    pub fn controller_alive(&self) -> bool {
        start_time(self.controller_pid) == Some(self.controller_start)
    }

    /// Every record in `dir`, with the files that could not be read.
    pub fn load_all(dir: &Path) -> (Vec<RunRecord>, Vec<String>) {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return (records, errors);
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().and_then(|x| x.to_str()) != Some("json")
                || p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            {
                continue;
            }
            match std::fs::read_to_string(&p)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<RunRecord>(&t).map_err(|e| e.to_string()))
            {
                Ok(r) => records.push(r),
                Err(e) => errors.push(format!("{}: {e}", p.display())),
            }
        }
        records.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        (records, errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_loads_and_removes() {
        let dir = tempfile::tempdir().unwrap();
        let r = RunRecord {
            run_id: "abc123".into(),
            controller_pid: std::process::id(),
            controller_start: start_time(std::process::id()).unwrap(),
            namespaces: vec!["fl-abc123-n1".into()],
            ..Default::default()
        };
        r.save(dir.path()).unwrap();
        let (all, errs) = RunRecord::load_all(dir.path());
        assert!(errs.is_empty());
        assert_eq!(all, vec![r.clone()]);
        assert!(r.controller_alive());
        r.remove(dir.path());
        assert!(RunRecord::load_all(dir.path()).0.is_empty());
    }
}
