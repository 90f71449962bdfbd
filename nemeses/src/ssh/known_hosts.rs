//! Host-key checking against an OpenSSH known_hosts file, the way `ssh` does it: a matching
//! key passes, a changed key always fails (it is what an attack or a reinstalled host looks
//! like, and only a person can tell which), and an unknown host fails unless the user asked
//! for `--accept-new-host-keys`, in which case its key is appended (OpenSSH's
//! `StrictHostKeyChecking=accept-new`).
//!
//! Appending writes one line of our own rather than letting libssh2 rewrite the file, so the
//! user's comments, hashed entries and key types libssh2 does not know survive untouched.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ssh2::{CheckResult, HashType, KnownHostFileKind, Session};

use super::hosts::Host;

/// Where host keys are checked, and whether unknown hosts may be learned.
#[derive(Debug)]
pub struct HostKeyPolicy {
    pub path: PathBuf,
    pub accept_new: bool,
    /// Serialises read-check-append, so two connections to a new host add it once.
    lock: Mutex<()>,
}

/// Why a host key was refused. The message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HostKeyError {
    #[error(
        "host key for {host} ({fingerprint}) is not in {path}; check the fingerprint on the host \
         (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and add it (ssh-keyscan -p PORT ADDRESS >> {path}), \
         or pass --accept-new-host-keys to trust it on first use"
    )]
    Unknown {
        host: String,
        fingerprint: String,
        path: String,
    },
    #[error(
        "host key for {host} CHANGED: the server offered {fingerprint}, which differs from {path}. \
         This may be an attack or a reinstalled host; if you know it is the latter, remove the \
         old entry (ssh-keygen -R '{host}' -f {path}) and connect again"
    )]
    Changed {
        host: String,
        fingerprint: String,
        path: String,
    },
    #[error("host key for {host}: {message}")]
    Other { host: String, message: String },
}

impl HostKeyPolicy {
    pub fn new(path: PathBuf, accept_new: bool) -> HostKeyPolicy {
        HostKeyPolicy {
            path,
            accept_new,
            lock: Mutex::new(()),
        }
    }

    /// Checks the key the server presented during the handshake on `session`.
    pub fn verify(&self, session: &Session, host: &Host) -> Result<(), HostKeyError> {
        let name = host.known_hosts_name();
        let other = |message: String| HostKeyError::Other {
            host: name.clone(),
            message,
        };
        let (key, _) = session
            .host_key()
            .ok_or_else(|| other("the server presented no host key".into()))?;
        let fingerprint = session
            .host_key_hash(HashType::Sha256)
            .map(|h| format!("SHA256:{}", base64(h).trim_end_matches('=')))
            .unwrap_or_else(|| "unknown fingerprint".into());
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut known = session.known_hosts().map_err(|e| other(e.to_string()))?;
        if self.path.exists() {
            known
                .read_file(&self.path, KnownHostFileKind::OpenSSH)
                .map_err(|e| other(format!("reading {}: {e}", self.path.display())))?;
        }
        let path = self.path.display().to_string();
        match known.check_port(&host.address, host.port, key) {
            CheckResult::Match => Ok(()),
            CheckResult::Mismatch => Err(HostKeyError::Changed {
                host: name,
                fingerprint,
                path,
            }),
            CheckResult::NotFound if self.accept_new => append(&self.path, &name, key)
                .map_err(|e| other(format!("adding it to {path}: {e}"))),
            CheckResult::NotFound => Err(HostKeyError::Unknown {
                host: name,
                fingerprint,
                path,
            }),
            CheckResult::Failure => {
                Err(other(format!("libssh2 could not check it against {path}")))
            }
        }
    }
}

/// Appends `name keytype base64` (the key blob starts with its own type name).
fn append(path: &Path, name: &str, key: &[u8]) -> std::io::Result<()> {
    let kind = key_type(key).ok_or_else(|| std::io::Error::other("malformed host key blob"))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // A file without a trailing newline would glue our line onto its last one.
    let needs_newline = std::fs::read(path)
        .map(|b| !b.is_empty() && !b.ends_with(b"\n"))
        .unwrap_or(false);
    let sep = if needs_newline { "\n" } else { "" };
    writeln!(f, "{sep}{name} {kind} {}", base64(key))
}

/// The SSH wire-format key blob begins with a length-prefixed algorithm name.
fn key_type(blob: &[u8]) -> Option<&str> {
    let len = u32::from_be_bytes(blob.get(..4)?.try_into().ok()?) as usize;
    let name = std::str::from_utf8(blob.get(4..4 + len)?).ok()?;
    (!name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic())).then_some(name)
}

/// Standard base64 with padding (known_hosts and fingerprints use it; not worth a crate).
pub(crate) fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn key_type_reads_the_blob() {
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        blob.extend_from_slice(&[0, 0, 0, 32]);
        blob.extend_from_slice(&[7; 32]);
        assert_eq!(key_type(&blob), Some("ssh-ed25519"));
        assert_eq!(key_type(&[0, 0, 0, 40, b'x']), None);
        assert_eq!(key_type(&[]), None);
    }

    #[test]
    fn append_keeps_existing_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, "# mine\n|1|hashed= ssh-rsa AAAA").unwrap();
        let mut blob = vec![0, 0, 0, 11];
        blob.extend_from_slice(b"ssh-ed25519");
        append(&path, "[10.0.0.1]:2222", &blob).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!(
                "# mine\n|1|hashed= ssh-rsa AAAA\n[10.0.0.1]:2222 ssh-ed25519 {}\n",
                base64(&blob)
            )
        );
    }
}
