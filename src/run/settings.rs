//! A run's settings: defaults, then a `--test FILE.toml`, then command-line flags, in that
//! order of precedence. The resolved settings (with the seed) go to `test.json`, and
//! [`Settings::reproduce`] prints the command that runs the same schedule again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Every setting of a run. In a TOML test file, the same names (`time_limit = 60`,
/// `[mode_options] reads = "any"`); unknown names are errors.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct File {
    pub test: Option<String>,
    pub target: Option<String>,
    pub mode: Option<String>,
    pub mode_options: BTreeMap<String, toml::Value>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    pub nemesis_interval: Option<f64>,
    pub nodes: Option<usize>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub time_limit: Option<f64>,
    pub seed: Option<u64>,
    pub op_timeout: Option<f64>,
    pub check_timeout: Option<f64>,
    pub runs_dir: Option<PathBuf>,
    /// Where nodes live: `netns` (default) or `ssh` (the hosts in `hosts`).
    pub env: Option<String>,
    pub hosts: Option<PathBuf>,
}

/// The resolved settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settings {
    pub test: String,
    pub target: String,
    pub mode: String,
    pub mode_options: BTreeMap<String, String>,
    pub workload: String,
    pub nemesis: String,
    pub nemesis_interval: f64,
    pub nodes: usize,
    pub concurrency: usize,
    pub rate: f64,
    pub time_limit: f64,
    pub seed: u64,
    pub op_timeout: f64,
    pub check_timeout: f64,
    pub runs_dir: PathBuf,
    /// The `faultline` binary the nodes run (this one unless overridden).
    pub node_binary: Option<PathBuf>,
    /// `netns` or `ssh`.
    pub env: String,
    /// ssh: the hosts file.
    pub hosts: Option<PathBuf>,
    /// ssh: trust unknown host keys on first use (a flag only, never from a file).
    pub accept_new_host_keys: bool,
}

/// A bad test file: says which file, line and field.
#[derive(Debug, thiserror::Error)]
#[error("{path}{location}: {message}")]
pub struct FileError {
    pub path: String,
    pub location: String,
    pub message: String,
}

/// The shortest and longest durations a setting may name: a millisecond, and a year.
pub const MIN_SECONDS: f64 = 0.001;
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Reads a TOML test file.
pub fn read_file(path: &Path) -> Result<File, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        path: path.display().to_string(),
        location: String::new(),
        message: e.to_string(),
    })?;
    toml::from_str::<File>(&text).map_err(|e| {
        let mut location = String::new();
        let mut message = e.message().to_string();
        if let Some(span) = e.span() {
            let start = span.start.min(text.len());
            let line = text[..start].matches('\n').count() + 1;
            location = format!(":{line}");
            // Name the field when the message does not (a value of the wrong type).
            let line_text = text.lines().nth(line - 1).unwrap_or("");
            if let Some((key, _)) = line_text.split_once('=') {
                let key = key.trim();
                if !key.is_empty() && !message.contains(key) {
                    message = format!("field `{key}`: {message}");
                }
            }
        }
        FileError {
            path: path.display().to_string(),
            location,
            message,
        }
    })
}

fn toml_str(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A random seed when none is given: the time, so runs differ unless asked not to.
pub fn fresh_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64 % 1_000_000_000)
        .unwrap_or(1)
}

impl Settings {
    /// Defaults overridden by `file`, then by `flags` (a `File` built from the command line).
    pub fn resolve(file: File, flags: File, node_binary: Option<PathBuf>) -> Settings {
        let pick = |a: Option<String>, b: Option<String>, d: &str| {
            b.or(a).unwrap_or_else(|| d.to_string())
        };
        let target = pick(file.target, flags.target, "replica");
        let mode = pick(file.mode, flags.mode, "leader-async");
        let workload = pick(file.workload, flags.workload, "register");
        let mut mode_options: BTreeMap<String, String> = file
            .mode_options
            .iter()
            .map(|(k, v)| (k.clone(), toml_str(v)))
            .collect();
        for (k, v) in &flags.mode_options {
            mode_options.insert(k.clone(), toml_str(v));
        }
        let test = flags.test.or(file.test).unwrap_or_else(|| {
            if target == "memory" {
                format!("memory-{workload}")
            } else {
                format!("{target}-{mode}-{workload}")
            }
        });
        Settings {
            test,
            mode,
            workload,
            mode_options,
            nemesis: pick(
                file.nemesis,
                flags.nemesis,
                if target == "memory" {
                    "none"
                } else {
                    "partition"
                },
            ),
            target,
            nemesis_interval: flags
                .nemesis_interval
                .or(file.nemesis_interval)
                .unwrap_or(5.0),
            nodes: flags.nodes.or(file.nodes).unwrap_or(5),
            concurrency: flags.concurrency.or(file.concurrency).unwrap_or(10),
            rate: flags.rate.or(file.rate).unwrap_or(100.0),
            time_limit: flags.time_limit.or(file.time_limit).unwrap_or(30.0),
            seed: flags.seed.or(file.seed).unwrap_or_else(fresh_seed),
            op_timeout: flags.op_timeout.or(file.op_timeout).unwrap_or(1.0),
            check_timeout: flags.check_timeout.or(file.check_timeout).unwrap_or(120.0),
            runs_dir: flags
                .runs_dir
                .or(file.runs_dir)
                .unwrap_or_else(|| "runs".into()),
            node_binary,
            env: pick(file.env, flags.env, "netns"),
            hosts: flags.hosts.or(file.hosts),
            accept_new_host_keys: false,
        }
    }

    /// Whether a name is a valid test name (it becomes a directory).
    pub fn check(&self) -> Result<(), String> {
        if self.test.is_empty()
            || !self
                .test
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!(
                "test name {:?}: use letters, digits, '-', '_' and '.'",
                self.test
            ));
        }
        let positive = [
            ("time-limit", self.time_limit),
            ("op-timeout", self.op_timeout),
            ("nemesis-interval", self.nemesis_interval),
            ("check-timeout", self.check_timeout),
        ];
        // Bounded both ways: Duration::from_secs_f64 panics on huge values (found writing
        // fuzz/run_settings: `time_limit = 1e300` crashed `faultline run`), and an interval
        // that rounds to zero would spin the nemesis loop.
        for (name, v) in positive {
            if !(v.is_finite() && (MIN_SECONDS..=MAX_SECONDS).contains(&v)) {
                return Err(format!(
                    "--{name} {v}: must be a number of seconds from {MIN_SECONDS} to {MAX_SECONDS}"
                ));
            }
        }
        if !(self.rate.is_finite() && self.rate >= 0.0) {
            return Err(format!(
                "--rate {}: must be >= 0 (0 = unlimited)",
                self.rate
            ));
        }
        if self.nodes == 0 || self.nodes > 99 {
            return Err(format!("--nodes {}: between 1 and 99", self.nodes));
        }
        if self.concurrency == 0 || self.concurrency > 10_000 {
            return Err(format!(
                "--concurrency {}: between 1 and 10000",
                self.concurrency
            ));
        }
        Ok(())
    }

    /// The command that runs this test again with the same schedule.
    pub fn reproduce(&self) -> String {
        let mut c = format!(
            "faultline run --target {} --mode {} --workload {} --nemesis {} --nemesis-interval {} \
             --nodes {} --concurrency {} --rate {} --time-limit {} --op-timeout {} --seed {}",
            self.target,
            self.mode,
            self.workload,
            self.nemesis,
            self.nemesis_interval,
            self.nodes,
            self.concurrency,
            self.rate,
            self.time_limit,
            self.op_timeout,
            self.seed
        );
        for (k, v) in &self.mode_options {
            c.push_str(&format!(" --node-opt {k}={v}"));
        }
        if let (Some(h), "ssh") = (&self.hosts, self.env.as_str()) {
            c.push_str(&format!(" --env ssh --hosts {}", h.display()));
        }
        c
    }

    /// Mode options as `(flag, value)` for the nodes.
    pub fn node_options(&self) -> Vec<(String, String)> {
        self.mode_options
            .iter()
            .map(|(k, v)| (k.replace('_', "-"), v.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let file: File =
            toml::from_str("time_limit = 60\nnodes = 3\n[mode_options]\nreads = \"any\"\nn = 3\n")
                .unwrap();
        let flags = File {
            nodes: Some(7),
            seed: Some(4),
            ..File::default()
        };
        let s = Settings::resolve(file, flags, None);
        assert_eq!((s.time_limit, s.nodes, s.seed), (60.0, 7, 4));
        assert_eq!(s.mode_options["reads"], "any");
        assert_eq!(s.mode_options["n"], "3");
        assert_eq!(s.test, "replica-leader-async-register");
        assert!(s.reproduce().contains("--seed 4"));
        assert!(s.reproduce().contains("--node-opt reads=any"));
    }

    #[test]
    fn a_bad_field_names_the_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        std::fs::write(&p, "nodes = 3\n\ntime_limit = \"soon\"\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("t.toml:3"), "{e}");
        assert!(
            e.contains("invalid type") && e.contains("time_limit"),
            "{e}"
        );
        std::fs::write(&p, "nodez = 3\n").unwrap();
        let e = read_file(&p).unwrap_err().to_string();
        assert!(e.contains("t.toml:1") && e.contains("nodez"), "{e}");
    }

    #[test]
    fn durations_out_of_range_are_errors_not_panics() {
        // Found writing fuzz/run_settings: 1e300 passed the check and then panicked in
        // Duration::from_secs_f64.
        for bad in [
            "time_limit = 1e300",
            "op_timeout = 1e-300",
            "nemesis_interval = 0.0",
        ] {
            let file: File = toml::from_str(bad).unwrap();
            let s = Settings::resolve(file, File::default(), None);
            assert!(s.check().is_err(), "{bad}");
        }
        let file: File = toml::from_str("time_limit = 31536000.0").unwrap();
        let s = Settings::resolve(file, File::default(), None);
        assert!(s.check().is_ok());
        let _ = std::time::Duration::from_secs_f64(s.time_limit); // must not panic
    }
}
