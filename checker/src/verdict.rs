//! What a checker returns: a three-valued verdict, the anomalies that prove it, and stats.
//!
//! Data first, text second: an [`Anomaly`] carries the ops (by history index) that prove it
//! and structured [`Evidence`]; its `explanation` is the sentence a person reads. The same
//! data feeds the terminal, `results.json` and the HTML report.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use faultline_core::Value;
use serde::{Deserialize, Serialize};

/// Valid, invalid, or unknown. Unknown is honest: a budget ran out or something was not
/// checkable; it is never rounded up to valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Validity {
    Valid,
    Invalid,
    Unknown,
}

impl Validity {
    /// Combines verdicts of parts: any invalid part makes the whole invalid; otherwise any
    /// unknown part makes it unknown.
    pub fn and(self, other: Validity) -> Validity {
        match (self, other) {
            (Validity::Invalid, _) | (_, Validity::Invalid) => Validity::Invalid,
            (Validity::Unknown, _) | (_, Validity::Unknown) => Validity::Unknown,
            _ => Validity::Valid,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Validity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One checker's result on one history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The checker's name: `linearizable`, `session`, `elle`, ...
    pub checker: String,
    pub valid: Validity,
    /// Why the verdict is unknown, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    #[serde(default)]
    pub anomalies: Vec<Anomaly>,
    /// Guarantees or consistency models this history is still compatible with / rules out,
    /// where the checker can say (`elle`, `session`).
    #[serde(default, skip_serializing_if = "Models::is_empty")]
    pub models: Models,
    /// Numbers worth showing: ops checked, states explored, keys, ...
    #[serde(default)]
    pub stats: BTreeMap<String, serde_json::Value>,
}

impl Verdict {
    pub fn valid(checker: impl Into<String>) -> Verdict {
        Verdict {
            checker: checker.into(),
            valid: Validity::Valid,
            unknown_reason: None,
            anomalies: Vec::new(),
            models: Models::default(),
            stats: BTreeMap::new(),
        }
    }

    pub fn unknown(checker: impl Into<String>, reason: impl Into<String>) -> Verdict {
        Verdict {
            valid: Validity::Unknown,
            unknown_reason: Some(reason.into()),
            ..Verdict::valid(checker)
        }
    }

    /// Adds an anomaly, which makes the verdict invalid.
    pub fn push(&mut self, anomaly: Anomaly) {
        self.valid = Validity::Invalid;
        self.anomalies.push(anomaly);
    }

    pub fn stat(&mut self, name: &str, value: impl Into<serde_json::Value>) {
        self.stats.insert(name.to_string(), value.into());
    }

    /// The distinct anomaly kinds found, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        let mut k: Vec<&str> = self.anomalies.iter().map(|a| a.kind.as_str()).collect();
        k.sort_unstable();
        k.dedup();
        k
    }
}

/// Consistency models or guarantees a checker could decide for a history.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Models {
    /// Models the history still satisfies (as far as this checker can tell).
    #[serde(default)]
    pub kept: Vec<String>,
    /// Models the anomalies rule out.
    #[serde(default)]
    pub ruled_out: Vec<String>,
}

impl Models {
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.ruled_out.is_empty()
    }
}

/// One anomaly: what kind, which ops prove it, and a sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The anomaly's name: `nonlinearizable`, `G2-item`, `read-your-writes`, `lost-update`...
    pub kind: String,
    /// The key it is about, for keyed workloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// History indices of the events that prove it, in the order the explanation uses them.
    pub ops: Vec<u64>,
    /// A sentence (or a few) a person can read without the JSON.
    pub explanation: String,
    #[serde(default, skip_serializing_if = "Evidence::is_none")]
    pub evidence: Evidence,
}

impl Anomaly {
    pub fn new(kind: impl Into<String>, ops: Vec<u64>, explanation: impl Into<String>) -> Anomaly {
        Anomaly {
            kind: kind.into(),
            key: None,
            ops,
            explanation: explanation.into(),
            evidence: Evidence::None,
        }
    }

    pub fn with_key(mut self, key: Value) -> Anomaly {
        self.key = Some(key);
        self
    }

    pub fn with_evidence(mut self, evidence: Evidence) -> Anomaly {
        self.evidence = evidence;
        self
    }
}

/// Structured proof the report can draw, beyond the list of ops.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Evidence {
    #[default]
    None,
    /// A linearizability failure (what Porcupine draws): the ops of the failing key around
    /// the failure, the longest linearizable prefix found, and the ops that cannot be placed.
    Linearization {
        /// Invocation indices of the ops linearized, in linearization order.
        prefix: Vec<u64>,
        /// Model state after each op of the prefix, described by the model.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        states: Vec<String>,
        /// Model state after the prefix, described by the model.
        state: String,
        /// Invocation indices of the op(s) that cannot be placed next.
        unplaceable: Vec<u64>,
        /// Invocation indices of the ops to draw (the neighbourhood of the failure).
        window: Vec<u64>,
    },
    /// A dependency cycle (Elle): each step an edge between two transactions.
    Cycle { steps: Vec<CycleStep> },
}

impl Evidence {
    pub fn is_none(&self) -> bool {
        matches!(self, Evidence::None)
    }
}

/// One edge of a dependency cycle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CycleStep {
    /// History index of the source transaction's completion (or invocation, if it has none).
    pub from: u64,
    pub to: u64,
    /// `ww`, `wr`, `rw`, `process`, `realtime`.
    pub edge: String,
    /// "T2 observed T1's append of 3 to x".
    pub why: String,
}

/// Limits a checker honours. Running out of any of them gives `unknown`, never `valid`.
#[derive(Clone, Debug)]
pub struct Budget {
    pub deadline: Option<Instant>,
    timeout: Option<Duration>,
    /// Search states (configurations) a checker may explore in all.
    pub max_states: Option<u64>,
    /// Bytes of working memory a checker may hold (approximate, by its own accounting).
    pub max_memory: Option<u64>,
    /// Set to stop every checker sharing this budget (first illegal key found, Ctrl-C).
    cancel: Arc<AtomicBool>,
    states: Arc<AtomicU64>,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::unlimited()
    }
}

/// Why a budget stopped a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exhausted {
    Time(Duration),
    States(u64),
    Memory(u64),
    Cancelled,
}

impl fmt::Display for Exhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exhausted::Time(d) => write!(f, "the time budget of {:.1} s ran out", d.as_secs_f64()),
            Exhausted::States(n) => write!(f, "the budget of {n} search states ran out"),
            Exhausted::Memory(n) => {
                write!(f, "the memory budget of {} MiB ran out", n / (1024 * 1024))
            }
            Exhausted::Cancelled => f.write_str("the check was cancelled"),
        }
    }
}

impl Budget {
    pub fn unlimited() -> Budget {
        Budget {
            deadline: None,
            timeout: None,
            max_states: None,
            max_memory: None,
            cancel: Arc::new(AtomicBool::new(false)),
            states: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Budget {
        self.deadline = Some(Instant::now() + timeout);
        self.timeout = Some(timeout);
        self
    }

    pub fn with_max_states(mut self, n: u64) -> Budget {
        self.max_states = Some(n);
        self
    }

    pub fn with_max_memory(mut self, bytes: u64) -> Budget {
        self.max_memory = Some(bytes);
        self
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Counts `n` more explored states and says whether the check may go on. Cheap enough
    /// to call every few thousand states.
    pub fn spend(&self, n: u64) -> Result<(), Exhausted> {
        let total = self.states.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(max) = self.max_states {
            if total > max {
                return Err(Exhausted::States(max));
            }
        }
        self.check()
    }

    /// Checks time and cancellation without spending states.
    pub fn check(&self) -> Result<(), Exhausted> {
        if self.is_cancelled() {
            return Err(Exhausted::Cancelled);
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return Err(Exhausted::Time(self.timeout.unwrap_or_default()));
            }
        }
        Ok(())
    }

    /// Checks a memory figure the caller keeps.
    pub fn check_memory(&self, bytes: u64) -> Result<(), Exhausted> {
        match self.max_memory {
            Some(max) if bytes > max => Err(Exhausted::Memory(max)),
            _ => Ok(()),
        }
    }

    /// States spent so far by everyone sharing this budget.
    pub fn states_spent(&self) -> u64 {
        self.states.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_dominates_unknown_dominates_valid() {
        use Validity::*;
        assert_eq!(Valid.and(Unknown), Unknown);
        assert_eq!(Unknown.and(Invalid), Invalid);
        assert_eq!(Valid.and(Valid), Valid);
    }

    #[test]
    fn a_state_budget_runs_out() {
        let b = Budget::unlimited().with_max_states(10);
        assert!(b.spend(5).is_ok());
        assert_eq!(b.spend(6), Err(Exhausted::States(10)));
    }

    #[test]
    fn a_passed_deadline_runs_out() {
        let b = Budget::unlimited().with_timeout(Duration::ZERO);
        assert!(matches!(b.check(), Err(Exhausted::Time(_))));
    }

    #[test]
    fn pushing_an_anomaly_makes_the_verdict_invalid() {
        let mut v = Verdict::valid("t");
        v.push(Anomaly::new("x", vec![1], "because"));
        assert_eq!(v.valid, Validity::Invalid);
        assert_eq!(v.kinds(), vec!["x"]);
    }
}
