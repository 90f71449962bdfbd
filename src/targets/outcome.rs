//! How a protocol error maps onto the history's outcomes (see `docs/semantics.md`).
//!
//! The rule every real-target client follows: an error is `fail` only when the op certainly
//! did not take effect (the connection was refused before anything was sent, the server
//! rejected the request, a transaction aborted on a serialization failure); anything that
//! might have reached the server and been applied (a timeout after sending, a connection
//! reset mid-reply) is `info`. Calling an unknown write `fail` would let a checker accuse a
//! correct database of an anomaly, so when in doubt: `info`.

use std::fmt;

/// What an error says about the op that met it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Certainty {
    /// The op certainly did not take effect: record `fail`.
    NotApplied,
    /// The op may or may not have taken effect: record `info`.
    Unknown,
}

/// An error from a target's client, with what it means for the op.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    pub certainty: Certainty,
    /// A short machine-friendly tag for the history's `error` field (`timeout`,
    /// `connection-refused`, `serialization-failure`, ...).
    pub kind: String,
    /// The detail, for people.
    pub detail: String,
}

impl OpError {
    pub fn not_applied(kind: impl Into<String>, detail: impl Into<String>) -> OpError {
        OpError {
            certainty: Certainty::NotApplied,
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    pub fn unknown(kind: impl Into<String>, detail: impl Into<String>) -> OpError {
        OpError {
            certainty: Certainty::Unknown,
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    /// An I/O error, classified by whether any byte of the request had been sent.
    pub fn io(e: &std::io::Error, sent: bool) -> OpError {
        use std::io::ErrorKind as K;
        let kind = match e.kind() {
            K::ConnectionRefused => "connection-refused",
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => "connection-reset",
            K::TimedOut => "timeout",
            K::UnexpectedEof => "connection-closed",
            _ => "io",
        };
        if sent {
            OpError::unknown(kind, e.to_string())
        } else {
            OpError::not_applied(kind, e.to_string())
        }
    }

    /// A timeout: unknown once the request may have left this machine's buffers.
    pub fn timeout(sent: bool) -> OpError {
        if sent {
            OpError::unknown("timeout", "no reply before the op timeout")
        } else {
            OpError::not_applied("timeout", "could not connect before the op timeout")
        }
    }

    #[cfg(test)]
    pub fn is_fail(&self) -> bool {
        self.certainty == Certainty::NotApplied
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for OpError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_before_sending_is_fail_and_reset_after_is_info() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(OpError::io(&refused, false).is_fail());
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!OpError::io(&reset, true).is_fail());
        assert!(!OpError::timeout(true).is_fail());
        assert!(OpError::timeout(false).is_fail());
    }
}
