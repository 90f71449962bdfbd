//! Helpers shared by the root-only end-to-end tests that run `faultline run` against the
//! built-in store (`run_e2e.rs`, `weak_e2e.rs`, `fsync_e2e.rs`): the skip rule, running the binary, reading
//! its results, and asserting that nothing carrying the run id is left behind.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// Whether the root-only tests may run; prints why not.
pub fn e2e(test: &str) -> bool {
    if std::env::var("FAULTLINE_E2E").as_deref() != Ok("1") {
        eprintln!("{test}: skipped (set FAULTLINE_E2E=1 and run as root)");
        return false;
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("{test}: skipped (needs root for network namespaces)");
        return false;
    }
    true
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: PathBuf,
    pub run_id: Option<String>,
}

impl Run {
    pub fn results(&self) -> Value {
        let text = std::fs::read_to_string(self.dir.join("results.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The anomaly kinds a checker reported.
    pub fn kinds(&self, checker: &str) -> Vec<String> {
        let r = self.results();
        r["verdicts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| v["checker"] == checker)
            .flat_map(|v| v["anomalies"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["kind"].as_str().map(String::from))
            .collect()
    }
}

/// `(run id)` as `faultline run` prints it on stderr.
pub fn run_id(stderr: &str) -> Option<String> {
    let at = stderr.find("(run id ")? + "(run id ".len();
    Some(stderr[at..].split(')').next()?.trim().to_string())
}

/// `faultline run` on the built-in store's usual small cluster (3 nodes, 6 clients, 100 ops/s;
/// `args` may override), asserting afterwards that the run left nothing behind.
pub fn run(runs: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--nodes", "3", "--concurrency", "6", "--rate", "100"];
    all.extend_from_slice(args);
    let r = run_plain(runs, &all);
    assert_clean(&r);
    r
}

/// `faultline run` with exactly `args`, recording into `runs`; no leftovers check (the
/// caller decides: memory-target runs make nothing to leave).
pub fn run_plain(runs: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg("--runs-dir")
        .arg(runs)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("runs faultline");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // Shown when a test fails (or with --nocapture).
    eprintln!("faultline run {}\n{stdout}", args.join(" "));
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("run dir"))
        .map(|d| PathBuf::from(d.trim()))
        .unwrap_or_else(|| panic!("no run dir in output:\n{stdout}\n{stderr}"));
    Run {
        code: out.status.code().unwrap_or(-1),
        run_id: run_id(&stderr),
        stdout,
        stderr,
        dir,
    }
}

pub fn lines_of(program: &str, args: &[&str]) -> Vec<String> {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Everything on this machine that carries the run id or belongs to the run dir.
pub fn leftovers(run_id: &str, run_dir: &Path) -> Vec<String> {
    let mut left = Vec::new();
    let mut grep = |what: &str, lines: Vec<String>| {
        for l in lines.into_iter().filter(|l| l.contains(run_id)) {
            left.push(format!("{what}: {l}"));
        }
    };
    grep("namespace", lines_of("ip", &["netns", "list"]));
    grep("link", lines_of("ip", &["-o", "link", "show"]));
    grep("iptables", lines_of("iptables-save", &[]));
    grep("qdisc", lines_of("tc", &["qdisc", "show"]));
    let dir = run_dir.display().to_string();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
                continue;
            };
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(&dir) && cmd.contains(" node ") {
                left.push(format!(
                    "process {}: {cmd}",
                    e.file_name().to_string_lossy()
                ));
            }
        }
    }
    left
}

pub fn assert_clean(r: &Run) {
    let id = r
        .run_id
        .as_deref()
        .unwrap_or_else(|| panic!("no run id on stderr:\n{}", r.stderr));
    let left = leftovers(id, &r.dir);
    assert!(left.is_empty(), "run {id} left behind: {left:#?}");
}
