//! The node's only source of wall-clock time. Every time read goes through `Clock::now_ms`, which
//! adds an offset that an admin request can change at runtime, so clock faults need no
//! libfaketime. It reads `SystemTime`, which libfaketime intercepts, so that works too.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new(offset_ms: i64) -> Self {
        Clock {
            offset_ms: AtomicI64::new(offset_ms),
        }
    }
    /// Milliseconds since the Unix epoch, as this node believes.
    pub fn now_ms(&self) -> u64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        (real + self.offset()).max(0) as u64
    }
    pub fn offset(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
    /// Set the absolute offset (not a delta), as the admin request does.
    pub fn set_offset(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn offset_moves_time() {
        let c = Clock::new(0);
        let a = c.now_ms();
        c.set_offset(3_600_000);
        assert!(c.now_ms() >= a + 3_600_000);
        assert_eq!(c.offset(), 3_600_000);
    }
}
