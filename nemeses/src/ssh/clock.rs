//! Clock faults on real hosts: step the wall clock with `date -s`, remember the net offset
//! per host, and step it back at the end. Each step is relative to the host's own reading at
//! that moment, so undoing is exact up to the few milliseconds a command takes.
//!
//! Refused on the controller's own machine (see [`super::local`]): a run must never change
//! the clock of the machine it runs on.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Net offsets applied so far, in nanoseconds, by host name.
#[derive(Debug, Default)]
pub struct ClockLedger {
    offsets: Mutex<BTreeMap<String, i64>>,
}

impl ClockLedger {
    /// Records that `host`'s clock moved by `ns` (call only after the step succeeded).
    pub fn record(&self, host: &str, ns: i64) {
        let mut m = self.offsets.lock().unwrap_or_else(|p| p.into_inner());
        let v = m.entry(host.to_string()).or_insert(0);
        *v = v.saturating_add(ns);
        if *v == 0 {
            m.remove(host);
        }
    }

    /// The net offset of `host`.
    pub fn offset(&self, host: &str) -> i64 {
        self.offsets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(host)
            .copied()
            .unwrap_or(0)
    }

    /// Hosts whose clocks are off, with the step that restores each.
    pub fn pending_restores(&self) -> Vec<(String, i64)> {
        self.offsets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(h, v)| (h.clone(), -v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_net_out() {
        let l = ClockLedger::default();
        l.record("n1", 5_000_000_000);
        l.record("n1", -2_000_000_000);
        l.record("n2", 1);
        l.record("n2", -1);
        assert_eq!(l.offset("n1"), 3_000_000_000);
        assert_eq!(
            l.pending_restores(),
            vec![("n1".to_string(), -3_000_000_000)]
        );
    }
}
