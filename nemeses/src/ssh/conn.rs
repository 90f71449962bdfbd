//! One SSH connection to one host: connect, check the host key, log in, run commands with a
//! deadline, move files over SFTP. Blocking (libssh2 is); the pool runs it off the async
//! runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use ssh2::Session;

use super::hosts::{Auth, Host};
use super::known_hosts::{HostKeyError, HostKeyPolicy};

/// What a command printed and how it ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status; `None` when a signal ended it.
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Why talking to a host failed. No variant carries key material or passphrases.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{host}: cannot connect to {addr}: {message}")]
    Connect {
        host: String,
        addr: String,
        message: String,
    },
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    #[error("{host}: login as {user} failed: {message}")]
    Auth {
        host: String,
        user: String,
        message: String,
    },
    /// The command may have started; it is not retried (it may not be idempotent).
    #[error("{host}: {what} did not finish within {after:?}")]
    Timeout {
        host: String,
        what: String,
        after: Duration,
    },
    /// The connection broke before the command was sent: safe to retry on a fresh one.
    #[error("{host}: connection lost before the command started: {message}")]
    Stale { host: String, message: String },
    #[error("{host}: {what}: {message}")]
    Failed {
        host: String,
        what: String,
        message: String,
    },
}

/// An authenticated session.
pub struct Conn {
    session: Session,
    /// The socket libssh2 reads, for poll(2) while waiting on a command.
    fd: RawFd,
    /// The controller's address as this host sees it.
    pub local_addr: SocketAddr,
    host: String,
}

/// Output beyond this per stream is dropped (and said so), so a chatty command cannot
/// exhaust the controller's memory.
const OUTPUT_CAP: usize = 16 << 20;

impl Conn {
    /// Connects, verifies the host key, authenticates. `timeout` bounds each step.
    pub fn open(host: &Host, policy: &HostKeyPolicy, timeout: Duration) -> Result<Conn, SshError> {
        let addr = SocketAddr::new(host.ip, host.port);
        let connect_err = |message: String| SshError::Connect {
            host: host.name.clone(),
            addr: addr.to_string(),
            message,
        };
        let tcp =
            TcpStream::connect_timeout(&addr, timeout).map_err(|e| connect_err(e.to_string()))?;
        let _ = tcp.set_nodelay(true);
        let local_addr = tcp.local_addr().map_err(|e| connect_err(e.to_string()))?;
        let fd = tcp.as_raw_fd();
        let mut session = Session::new().map_err(|e| connect_err(e.to_string()))?;
        session.set_timeout(millis(timeout));
        session.set_tcp_stream(tcp);
        // Prefer the key types OpenSSH prefers, so the key we check is the one `ssh` would
        // have recorded in known_hosts.
        let _ = session.method_pref(
            ssh2::MethodType::HostKey,
            "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256,ssh-rsa",
        );
        session
            .handshake()
            .map_err(|e| connect_err(format!("SSH handshake: {e}")))?;
        policy.verify(&session, host)?;
        let auth_err = |message: String| SshError::Auth {
            host: host.name.clone(),
            user: host.user.clone(),
            message,
        };
        match &host.auth {
            Auth::Agent => session
                .userauth_agent(&host.user)
                .map_err(|e| auth_err(format!("ssh-agent (SSH_AUTH_SOCK): {e}")))?,
            Auth::Key {
                path,
                passphrase_env,
            } => {
                let passphrase = match passphrase_env {
                    Some(var) => Some(std::env::var(var).map_err(|_| {
                        auth_err(format!("the key's passphrase variable {var} is not set"))
                    })?),
                    None => None,
                };
                session
                    .userauth_pubkey_file(&host.user, None, path, passphrase.as_deref())
                    .map_err(|e| auth_err(format!("key {}: {e}", path.display())))?
            }
        }
        if !session.authenticated() {
            return Err(auth_err("the server did not accept the key".into()));
        }
        // Keepalives notice a dead peer on an idle pooled connection.
        session.set_keepalive(true, 15);
        Ok(Conn {
            session,
            fd,
            local_addr,
            host: host.name.clone(),
        })
    }

    /// Runs `script` through the remote shell; at most `timeout` in all. On the remote side
    /// the script runs under `timeout(1)` too, so it does not outlive a deadline we gave up on.
    pub fn exec(&mut self, script: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        let deadline = Instant::now() + timeout;
        let secs = timeout.as_secs_f64().ceil().max(1.0) as u64;
        let wrapped = format!("timeout -k 2 {secs} sh -c {}", super::shell::quote(script));
        self.session.set_blocking(true);
        self.session.set_timeout(millis(timeout));
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| SshError::Stale {
                host: self.host.clone(),
                message: e.to_string(),
            })?;
        let failed = |what: &str, e: &dyn std::fmt::Display| SshError::Failed {
            host: self.host.clone(),
            what: what.into(),
            message: e.to_string(),
        };
        channel
            .exec(&wrapped)
            .map_err(|e| failed("starting a command", &e))?;
        let _ = channel.send_eof();
        self.session.set_blocking(false);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 32 * 1024];
        let result = loop {
            let mut progressed = false;
            let mut read_error = None;
            for (stream, sink) in [(0, &mut out), (1, &mut err)] {
                match channel.stream(stream).read(&mut buf) {
                    Ok(0) => {}
                    Ok(n) => {
                        progressed = true;
                        let room = OUTPUT_CAP.saturating_sub(sink.len());
                        sink.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => read_error = Some(failed("reading output", &e)),
                }
            }
            if let Some(e) = read_error {
                break Err(e);
            }
            if channel.eof() {
                break Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(SshError::Timeout {
                    host: self.host.clone(),
                    what: "command".into(),
                    after: timeout,
                });
            }
            if !progressed {
                wait_readable(self.fd, (deadline - now).min(Duration::from_millis(50)));
            }
        };
        self.session.set_blocking(true);
        result?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(200));
        self.session.set_timeout(millis(left));
        channel
            .wait_close()
            .map_err(|e| failed("closing the channel", &e))?;
        let status = match channel.exit_signal() {
            Ok(sig) if sig.exit_signal.is_some() => None,
            _ => Some(
                channel
                    .exit_status()
                    .map_err(|e| failed("reading the exit status", &e))?,
            ),
        };
        let text = |v: Vec<u8>| {
            let mut s = String::from_utf8_lossy(&v).into_owned();
            if v.len() >= OUTPUT_CAP {
                s.push_str("\n[faultline: output truncated]\n");
            }
            s
        };
        Ok(CommandOutput {
            status,
            stdout: text(out),
            stderr: text(err),
        })
    }

    /// Copies a local file to `remote` (an absolute path whose directory exists), then sets
    /// its mode. Writes to a temporary name and renames it, so a running binary is replaced,
    /// not overwritten in place ("text file busy"), and a broken upload leaves nothing behind.
    pub fn upload(
        &mut self,
        local: &Path,
        remote: &str,
        mode: i32,
        timeout: Duration,
    ) -> Result<u64, SshError> {
        let failed = |what: String, e: &dyn std::fmt::Display| SshError::Failed {
            host: self.host.clone(),
            what,
            message: e.to_string(),
        };
        self.session.set_blocking(true);
        self.session.set_timeout(millis(timeout));
        let mut src = std::fs::File::open(local)
            .map_err(|e| failed(format!("reading {}", local.display()), &e))?;
        let sftp = self
            .session
            .sftp()
            .map_err(|e| failed("starting SFTP".into(), &e))?;
        let tmp = format!("{remote}.upload");
        let mut dst = sftp
            .open_mode(
                Path::new(&tmp),
                ssh2::OpenFlags::WRITE | ssh2::OpenFlags::CREATE | ssh2::OpenFlags::TRUNCATE,
                mode,
                ssh2::OpenType::File,
            )
            .map_err(|e| failed(format!("creating {tmp}"), &e))?;
        let n =
            std::io::copy(&mut src, &mut dst).map_err(|e| failed(format!("writing {tmp}"), &e))?;
        dst.flush()
            .map_err(|e| failed(format!("writing {tmp}"), &e))?;
        drop(dst);
        let _ = sftp.unlink(Path::new(remote));
        sftp.rename(Path::new(&tmp), Path::new(remote), None)
            .map_err(|e| failed(format!("renaming {tmp} to {remote}"), &e))?;
        let mut stat = sftp
            .stat(Path::new(remote))
            .map_err(|e| failed(format!("stat {remote}"), &e))?;
        stat.perm = Some(mode as u32);
        sftp.setstat(Path::new(remote), stat)
            .map_err(|e| failed(format!("chmod {remote}"), &e))?;
        Ok(n)
    }

    /// Copies the regular files directly in remote directory `dir`: those named in `to`
    /// (remote path, local path) to their local paths, the others into `rest`. Returns how
    /// many. A missing remote directory is no files, not an error.
    pub fn download_dir(
        &mut self,
        dir: &str,
        to: &[(String, std::path::PathBuf)],
        rest: &Path,
        timeout: Duration,
    ) -> Result<usize, SshError> {
        let failed = |what: String, e: &dyn std::fmt::Display| SshError::Failed {
            host: self.host.clone(),
            what,
            message: e.to_string(),
        };
        self.session.set_blocking(true);
        self.session.set_timeout(millis(timeout));
        let sftp = self
            .session
            .sftp()
            .map_err(|e| failed("starting SFTP".into(), &e))?;
        let entries = match sftp.readdir(Path::new(dir)) {
            Ok(e) => e,
            Err(_) => return Ok(0),
        };
        let mut count = 0;
        for (path, stat) in entries {
            let Some(name) = path.file_name() else {
                continue;
            };
            if !stat.is_file() {
                continue;
            }
            let remote = path.to_string_lossy();
            let target = match to.iter().find(|(r, _)| *r == remote) {
                Some((_, local)) => local.clone(),
                None => rest.join(name),
            };
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| failed(format!("creating {}", parent.display()), &e))?;
            }
            let mut src = sftp
                .open(&path)
                .map_err(|e| failed(format!("opening {}", path.display()), &e))?;
            let mut dst = std::fs::File::create(&target)
                .map_err(|e| failed(format!("creating {}", target.display()), &e))?;
            std::io::copy(&mut src, &mut dst)
                .map_err(|e| failed(format!("copying {}", path.display()), &e))?;
            count += 1;
        }
        Ok(count)
    }
}

fn millis(d: Duration) -> u32 {
    d.as_millis().clamp(1, u32::MAX as u128) as u32
}

/// Waits until the socket is readable or `wait` passes; spurious wakeups are harmless.
fn wait_readable(fd: RawFd, wait: Duration) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call; fd stays open (the session owns it).
    unsafe {
        libc::poll(&mut pfd, 1, wait.as_millis().min(i32::MAX as u128) as i32);
    }
}
