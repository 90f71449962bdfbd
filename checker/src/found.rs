//! Anomalies as they are found, capped per kind so a badly broken history stays readable;
//! the counts always cover every anomaly found.

use std::collections::BTreeMap;

use crate::{Anomaly, Verdict};

pub(crate) struct Found {
    max: usize,
    counts: BTreeMap<&'static str, u64>,
    anomalies: Vec<Anomaly>,
}

impl Found {
    pub fn new(max: usize) -> Found {
        Found {
            max,
            counts: BTreeMap::new(),
            anomalies: Vec::new(),
        }
    }

    /// Counts one anomaly of `kind`, building it only if it will be reported.
    pub fn add(&mut self, kind: &'static str, make: impl FnOnce() -> Anomaly) {
        let n = self.counts.entry(kind).or_default();
        *n += 1;
        if *n as usize <= self.max {
            self.anomalies.push(make());
        }
    }

    /// How many anomalies of these kinds were found.
    pub fn count(&self, kinds: &[&str]) -> u64 {
        kinds
            .iter()
            .map(|k| self.counts.get(k).copied().unwrap_or(0))
            .sum()
    }

    /// Moves the anomalies into the verdict (making it invalid if there are any) and the
    /// counts into its `anomalies` stat.
    pub fn into_verdict(self, v: &mut Verdict) {
        v.stat(
            "anomalies",
            serde_json::to_value(&self.counts).unwrap_or_default(),
        );
        for a in self.anomalies {
            v.push(a);
        }
    }
}
