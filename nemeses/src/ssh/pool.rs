//! Connections to one host, reused across commands and reopened when they break.
//!
//! Several commands may run on a host at once (a client's probe while the nemesis installs
//! a rule), so the pool hands each caller its own connection and keeps up to
//! [`MAX_IDLE`] for reuse. A connection that fails before its command started is dropped
//! and the command retried once on a fresh one; a failure after that is returned, because
//! the command may have run and not every command may run twice (stepping a clock).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::conn::{CommandOutput, Conn, SshError};
use super::hosts::Host;
use super::known_hosts::HostKeyPolicy;

const MAX_IDLE: usize = 4;

pub struct HostPool {
    pub host: Host,
    policy: Arc<HostKeyPolicy>,
    idle: Mutex<Vec<Conn>>,
    connect_timeout: Duration,
}

impl HostPool {
    pub fn new(host: Host, policy: Arc<HostKeyPolicy>, connect_timeout: Duration) -> HostPool {
        HostPool {
            host,
            policy,
            idle: Mutex::new(Vec::new()),
            connect_timeout,
        }
    }

    /// Runs `f` on a pooled connection. `f` must report a broken connection it did not
    /// use yet as [`SshError::Stale`]; only then is it run again on a new connection.
    pub fn with_conn<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&mut Conn, Duration) -> Result<T, SshError>,
    ) -> Result<T, SshError> {
        let deadline = Instant::now() + timeout;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    Conn::open(
                        &self.host,
                        &self.policy,
                        left.min(self.connect_timeout)
                            .max(Duration::from_millis(100)),
                    )?
                }
            };
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100));
            match f(&mut conn, left) {
                Ok(v) => {
                    let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                    if idle.len() < MAX_IDLE {
                        idle.push(conn);
                    }
                    return Ok(v);
                }
                Err(SshError::Stale { .. }) if attempt < 3 && Instant::now() < deadline => continue,
                // Any other failure leaves the session in an unknown state: drop it.
                Err(e) => return Err(e),
            }
        }
    }

    pub fn exec(&self, script: &str, timeout: Duration) -> Result<CommandOutput, SshError> {
        self.with_conn(timeout, |c, left| c.exec(script, left))
    }

    /// The controller's address as this host sees it (opens a connection if none is idle).
    pub fn local_ip(&self, timeout: Duration) -> Result<std::net::IpAddr, SshError> {
        self.with_conn(timeout, |c, _| Ok(c.local_addr.ip()))
    }

    /// Drops every idle connection (at teardown).
    pub fn close(&self) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
