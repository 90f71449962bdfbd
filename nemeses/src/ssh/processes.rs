//! Processes on the hosts: starting them detached, signalling only what this run started
//! (PID plus start time), and stopping whatever is left at the end.

use std::path::Path;
use std::time::Duration;

use super::{shell, Host, SshError, SshHosts, Started, SHORT};

impl SshHosts {
    /// Where a log file named by the caller lives on the host: its file name, under `logs/`.
    pub fn remote_log(&self, node: &str, log: &Path) -> Result<String, SshError> {
        let pool = self.pool(node)?;
        let name = log
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "node.log".into());
        Ok(format!("{}/logs/{}", pool.host.dir, name))
    }

    /// Starts a long-running process detached from the SSH session; returns its PID.
    ///
    /// Targets written for `netns` name paths on the controller (the binary, a data
    /// directory and a log under the run directory), so the environment translates:
    /// the faultline binary itself is uploaded (hosts need not have faultline installed),
    /// arguments and variables under the local run directory move under the host's
    /// `<dir>/run/`, and the log goes to `<dir>/logs/` and is downloaded back to the local
    /// path it was given when the run ends.
    pub fn spawn(
        &self,
        node: &str,
        program: &Path,
        args: &[String],
        vars: &[(String, String)],
        log: &Path,
    ) -> Result<u32, SshError> {
        let pool = self.pool(node)?;
        let program = self.remote_program(node, program)?;
        let remote_log = self.remote_log(node, log)?;
        let args: Vec<String> = args.iter().map(|a| self.remap(&pool.host, a)).collect();
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.clone(), self.remap(&pool.host, v)))
            .collect();
        let script = shell::spawn(&pool.host.dir, &program, &args, &vars, &remote_log);
        let out = pool.exec(&shell::with_sudo(&script, pool.host.sudo), SHORT)?;
        let failed = |message: String| SshError::Failed {
            host: node.into(),
            what: format!("starting {program}"),
            message,
        };
        if out.status != Some(0) {
            return Err(failed(format!(
                "exit {:?}: {}",
                out.status,
                out.stderr.trim()
            )));
        }
        let mut words = out.stdout.split_whitespace();
        let pid: u32 = words
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| failed(format!("no PID in {:?}", out.stdout.trim())))?;
        let start_ticks = words.next().unwrap_or_default().to_string();
        {
            let mut logs = self.logs.lock().unwrap_or_else(|p| p.into_inner());
            let entry = (node.to_string(), remote_log.clone(), log.to_path_buf());
            if !logs.contains(&entry) {
                logs.push(entry);
            }
        }
        if start_ticks.is_empty() {
            // The process was gone before we could read its start time: it failed at once.
            return Err(failed(format!(
                "exited immediately; see {remote_log} on the host"
            )));
        }
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((node.to_string(), pid), Started { start_ticks });
        self.save_state();
        Ok(pid)
    }

    /// A path under the local run directory becomes the same path under `<dir>/run/`.
    fn remap(&self, host: &Host, value: &str) -> String {
        let Some(run_dir) = &self.options.run_dir else {
            return value.to_string();
        };
        let local = run_dir.to_string_lossy();
        match value.strip_prefix(local.as_ref()) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                format!("{}/run{rest}", host.dir)
            }
            _ => value.to_string(),
        }
    }

    /// The faultline binary (this process's, or any local file named `faultline`) is
    /// uploaded; anything else is a program the host has.
    fn remote_program(&self, node: &str, program: &Path) -> Result<String, SshError> {
        let this = std::env::current_exe().ok();
        let is_faultline = this.as_deref() == Some(program)
            || (program.file_name().is_some_and(|n| n == "faultline") && program.is_file());
        if is_faultline {
            return self.upload(node, program, "faultline", 0o755);
        }
        if let Some(r) = self
            .uploads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(node.to_string(), program.to_path_buf()))
        {
            return Ok(r.clone());
        }
        Ok(program.to_string_lossy().into_owned())
    }

    fn started(&self, node: &str, pid: u32) -> Result<Started, SshError> {
        self.started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(node.to_string(), pid))
            .cloned()
            .ok_or_else(|| SshError::Failed {
                host: node.into(),
                what: format!("signalling PID {pid}"),
                message: "not a process this run started; refusing".into(),
            })
    }

    /// Sends `signal` to a process this environment started. A process that is already gone
    /// is not an error (killing a dead node is a no-op, as in netns).
    pub fn signal(&self, node: &str, pid: u32, signal: i32) -> Result<(), SshError> {
        let s = self.started(node, pid)?;
        let out = self.script(node, &shell::signal(pid, &s.start_ticks, signal), SHORT)?;
        if out.status == Some(0) {
            Ok(())
        } else {
            Err(SshError::Failed {
                host: node.into(),
                what: format!("kill -{signal} {pid}"),
                message: out.stderr.trim().to_string(),
            })
        }
    }

    /// Whether a process this environment started is still running.
    pub fn alive(&self, node: &str, pid: u32) -> bool {
        match self.started(node, pid) {
            Ok(s) => self
                .script(node, &shell::alive(pid, &s.start_ticks), SHORT)
                .map(|o| o.status == Some(0))
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Stops every process this run started that still runs: SIGTERM, then SIGKILL for
    /// whatever is left after `grace`.
    pub fn stop_all(&self, grace: Duration) -> Vec<SshError> {
        let started: Vec<(String, u32)> = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect();
        let mut errors = Vec::new();
        let live: Vec<_> = started
            .into_iter()
            .filter(|(n, p)| self.alive(n, *p))
            .collect();
        for (n, p) in &live {
            // SIGCONT first: a paused process does not act on SIGTERM.
            let _ = self.signal(n, *p, 18);
            let _ = self.signal(n, *p, 15);
        }
        let deadline = std::time::Instant::now() + grace;
        let mut left = live;
        while !left.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            left.retain(|(n, p)| self.alive(n, *p));
        }
        for (n, p) in left {
            if let Err(e) = self.signal(&n, p, 9) {
                errors.push(e);
            }
        }
        errors
    }
}
