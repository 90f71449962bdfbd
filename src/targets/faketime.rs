//! Per-process clock offsets with libfaketime, for targets written in C (Redis, PostgreSQL):
//! each node's process is started with `LD_PRELOAD` of libfaketime and a timestamp file of
//! its own, which [`FakeClock::set_offset`] rewrites at run time (`FAKETIME_NO_CACHE=1` makes
//! every clock read look at it). The host's clock is never touched.
//!
//! It does not reach Go programs such as etcd: they read the clock through the vDSO without
//! libc, so the preload never sees the call. Targets say so instead of pretending.

use std::path::{Path, PathBuf};

/// Where Debian's libfaketime puts the library.
pub const LIBRARIES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// The library on this machine, if installed.
pub fn library() -> Option<PathBuf> {
    LIBRARIES.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Clock files of one target's nodes, in a directory of the run.
#[derive(Debug, Clone)]
pub struct FakeClock {
    lib: PathBuf,
    dir: PathBuf,
}

impl FakeClock {
    /// `None` when libfaketime is not installed (clock faults then say they do not apply).
    pub fn new(dir: &Path) -> Option<FakeClock> {
        Some(FakeClock {
            lib: library()?,
            dir: dir.to_path_buf(),
        })
    }

    fn file(&self, node: &str) -> PathBuf {
        self.dir.join(format!("{node}.faketime"))
    }

    /// The environment variables a node's process starts with; creates its file at +0.
    pub fn vars(&self, node: &str) -> std::io::Result<Vec<(String, String)>> {
        let f = self.file(node);
        if !f.exists() {
            std::fs::create_dir_all(&self.dir)?;
            std::fs::write(&f, "+0s\n")?;
        }
        Ok(vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE".into(), f.display().to_string()),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
            // Monotonic clocks keep running at real speed: only wall-clock time is skewed,
            // as with a real clock fault (NTP steps the wall clock, not CLOCK_MONOTONIC).
            ("DONT_FAKE_MONOTONIC".into(), "1".into()),
        ])
    }

    /// Sets a node's offset (absolute; 0 restores it).
    pub fn set_offset(&self, node: &str, offset_ms: i64) -> std::io::Result<()> {
        std::fs::write(self.file(node), offset_text(offset_ms))
    }
}

/// libfaketime's relative-offset syntax for `offset_ms`: `+1.500s`, `-0.250s`.
pub fn offset_text(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let a = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}s\n", a / 1000, a % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_offsets_as_libfaketime_reads_them() {
        assert_eq!(offset_text(1500), "+1.500s\n");
        assert_eq!(offset_text(-250), "-0.250s\n");
        assert_eq!(offset_text(0), "+0.000s\n");
    }
}
