//! Installing a real target's Debian package when its program is missing: idempotent (a
//! present program is left alone), bounded in time, and honest when it cannot be done: the
//! error says which package and why, and callers skip the target's rows instead of failing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Why a target's software is not available here.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{program} is not installed and `apt-get install {package}` did not provide it: {why}")]
pub struct Unavailable {
    pub program: String,
    pub package: String,
    pub why: String,
}

/// Whether `program` (a path, or a name looked up on PATH) exists and is executable.
pub fn present(program: &str) -> bool {
    if program.contains('/') {
        return is_executable(Path::new(program));
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| is_executable(&d.join(program))))
        .unwrap_or(false)
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Makes sure `program` exists, installing `package` with apt-get if it does not. Packages
/// that start a service on install (postgresql, redis-server) have it stopped again with
/// `service NAME stop`, so only processes this harness starts run during a test.
pub fn ensure(program: &str, package: &str, service: Option<&str>) -> Result<(), Unavailable> {
    if present(program) {
        return Ok(());
    }
    let fail = |why: String| Unavailable {
        program: program.to_string(),
        package: package.to_string(),
        why,
    };
    if !present("apt-get") {
        return Err(fail("apt-get is not available on this machine".into()));
    }
    eprintln!("faultline: {program} is missing; installing the Debian package {package}");
    let limit = Duration::from_secs(600);
    run_bounded(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", package])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        limit,
    )
    .map_err(fail)?;
    if let Some(s) = service {
        let _ = run_bounded(
            Command::new("service").args([s, "stop"]),
            Duration::from_secs(60),
        );
    }
    if present(program) {
        Ok(())
    } else {
        Err(fail(
            "the package installed but the program is still missing".into(),
        ))
    }
}

/// Runs a command to completion within `limit`, killing it (by its own PID) if it overruns.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<(), String> {
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut err);
                }
                let last = err.lines().last().unwrap_or_default().to_string();
                return Err(format!("{cmd:?} exited with {status}: {last}"));
            }
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{cmd:?} did not finish within {limit:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(200)),
            Err(e) => return Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_on_path_and_by_path() {
        assert!(present("sh"));
        assert!(present("/bin/sh"));
        assert!(!present("/nonexistent/faultline-no-such-program"));
        assert!(ensure("sh", "dash", None).is_ok());
    }
}
