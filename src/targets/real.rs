//! What the real targets (etcd, Redis, PostgreSQL, external) share: their options as
//! `key=value` pairs, where their files go, and the one constructor the CLI and the matrix
//! call: [`build`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use faultline_core::env::Env;
use faultline_core::target::{Target, TargetError};

use super::install::Unavailable;

/// The real targets `build` knows.
pub const NAMES: &[&str] = &["etcd", "redis", "postgres", "external"];

/// A target's options: `key=value` pairs from the command line or a matrix row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub values: BTreeMap<String, String>,
    /// Where the options came from, for error messages (`matrix.toml row "pg-rr"`).
    pub origin: String,
}

/// Why a target could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Its software is missing and could not be installed: skip, do not fail.
    #[error("skipped: {0}")]
    Unavailable(#[from] Unavailable),
    /// A bad option value or an unknown option: a usage error.
    #[error("{0}")]
    Bad(String),
    /// Not a real target (the caller tries the built-in ones).
    #[error("unknown target {0:?}")]
    Unknown(String),
}

impl Options {
    #[cfg(test)]
    pub fn new(origin: impl Into<String>) -> Options {
        Options {
            values: BTreeMap::new(),
            origin: origin.into(),
        }
    }

    /// Parses `key=value` items.
    #[cfg(test)]
    pub fn parse<'a>(
        origin: impl Into<String>,
        items: impl IntoIterator<Item = &'a str>,
    ) -> Result<Options, BuildError> {
        let mut o = Options::new(origin);
        for item in items {
            let (k, v) = item.split_once('=').ok_or_else(|| {
                BuildError::Bad(format!(
                    "{}: target option {item:?} is not key=value",
                    o.origin
                ))
            })?;
            o.values.insert(k.trim().to_string(), v.trim().to_string());
        }
        Ok(o)
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.values.get(k).map(String::as_str)
    }

    /// One of `choices` (the first is the default).
    pub fn choice(&self, k: &str, choices: &[&str]) -> Result<String, BuildError> {
        match self.get(k) {
            None => Ok(choices[0].to_string()),
            Some(v) if choices.contains(&v) => Ok(v.to_string()),
            Some(v) => Err(self.bad(k, v, &format!("one of {}", choices.join(", ")))),
        }
    }

    pub fn int(&self, k: &str, default: u64) -> Result<u64, BuildError> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| self.bad(k, v, "a whole number")),
        }
    }

    pub fn flag(&self, k: &str) -> Result<bool, BuildError> {
        match self.get(k) {
            None | Some("false") | Some("no") | Some("0") => Ok(false),
            Some("true") | Some("yes") | Some("1") | Some("") => Ok(true),
            Some(v) => Err(self.bad(k, v, "true or false")),
        }
    }

    /// Rejects options the target does not know, so a typo is not silently ignored.
    pub fn only(&self, target: &str, known: &[&str]) -> Result<(), BuildError> {
        for k in self.values.keys() {
            if !known.contains(&k.as_str()) {
                return Err(BuildError::Bad(format!(
                    "{}: target {target} has no option {k:?}; its options are {}",
                    self.origin,
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    fn bad(&self, k: &str, v: &str, want: &str) -> BuildError {
        BuildError::Bad(format!(
            "{}: option {k} = {v:?} should be {want}",
            self.origin
        ))
    }
}

/// Where one target instance keeps its files: logs in the run directory (when the
/// environment has one), data directories under /tmp (which every service user can reach;
/// PostgreSQL refuses to run as root and cannot enter /root). Data is removed at teardown;
/// logs stay with the run.
#[derive(Clone, Debug)]
pub struct Paths {
    pub logs: PathBuf,
    pub data: PathBuf,
    /// The log directory was made here too (no run directory): removed at teardown as well.
    own_logs: bool,
}

impl Paths {
    pub fn new(target: &str, env: &dyn Env) -> std::io::Result<Paths> {
        let unique = format!(
            "faultline-{target}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() % 1_000_000_000)
                .unwrap_or(0)
        );
        let data = std::env::temp_dir().join(&unique);
        std::fs::create_dir_all(&data)?;
        let (logs, own_logs) = match env.run_dir() {
            Some(d) => (d.join(target), false),
            None => (data.join("logs"), true),
        };
        std::fs::create_dir_all(&logs)?;
        Ok(Paths {
            logs,
            data,
            own_logs,
        })
    }

    pub fn node_data(&self, node: &str) -> PathBuf {
        self.data.join(node)
    }

    pub fn log(&self, node: &str, program: &str) -> PathBuf {
        self.logs.join(format!("{node}-{program}.log"))
    }

    /// Removes the data directories (logs stay with the run).
    pub fn remove_data(&self) {
        let _ = std::fs::remove_dir_all(&self.data);
        if self.own_logs {
            let _ = std::fs::remove_dir_all(&self.logs);
        }
    }
}

/// Waits until `probe` succeeds, at most `limit`; the last error otherwise.
pub async fn wait_until<F, Fut>(
    limit: Duration,
    what: &str,
    mut probe: F,
) -> Result<(), TargetError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    let mut last;
    loop {
        match probe().await {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(TargetError::Other(format!(
                "{what} not ready after {limit:?}: {last}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Makes a directory owned by a service user (PostgreSQL's data directory).
pub fn chown_dir(dir: &Path, user: &str) -> Result<(), TargetError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| TargetError::Other(format!("creating {}: {e}", dir.display())))?;
    let out = std::process::Command::new("chown")
        .args(["-R", &format!("{user}:{user}")])
        .arg(dir)
        .output()
        .map_err(|e| TargetError::Other(format!("running chown: {e}")))?;
    if !out.status.success() {
        return Err(TargetError::Other(format!(
            "chown {user} {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Builds a real target by name with its options, in an environment.
pub fn build(
    name: &str,
    options: &Options,
    env: Arc<dyn Env>,
) -> Result<Arc<dyn Target>, BuildError> {
    match name {
        "etcd" => Ok(Arc::new(super::etcd::Etcd::new(options, env)?)),
        "redis" => Ok(Arc::new(super::redis::Redis::new(options, env)?)),
        "postgres" | "postgresql" => Ok(Arc::new(super::postgres::Postgres::new(options, env)?)),
        "external" => Ok(Arc::new(super::external::External::new(options, env)?)),
        other => Err(BuildError::Unknown(other.to_string())),
    }
}

/// Whether a real target's software is here (installing it if missing), without starting
/// anything: the matrix uses it to skip rows with a clear message.
pub fn available(name: &str) -> Result<(), Unavailable> {
    match name {
        "etcd" => super::install::ensure("etcd", "etcd-server", None),
        "redis" => super::install::ensure("redis-server", "redis-server", Some("redis-server")),
        "postgres" | "postgresql" => {
            super::install::ensure("pg_basebackup", "postgresql", Some("postgresql"))?;
            super::postgres::bin_dir()
                .map(|_| ())
                .ok_or_else(|| Unavailable {
                    program: "postgres".into(),
                    package: "postgresql".into(),
                    why: "no /usr/lib/postgresql/*/bin/postgres".into(),
                })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_bad_field_and_where_it_came_from() {
        let o = Options::parse("row pg", ["isolation=snapshot", "reads=primary"]).unwrap();
        let e = o
            .choice("isolation", &["serializable", "repeatable-read"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("row pg") && e.contains("isolation") && e.contains("snapshot"),
            "{e}"
        );
        let e = o.only("postgres", &["reads"]).unwrap_err().to_string();
        assert!(e.contains("no option \"isolation\""), "{e}");
        assert!(Options::parse("cli", ["novalue"]).is_err());
        assert_eq!(o.int("wait", 0).unwrap(), 0);
    }
}
