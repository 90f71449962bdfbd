//! Faults as values with a scope. A [`Nemesis`] *plans* a [`Fault`] from the seeded RNG
//! (pure: the same seed plans the same faults), *installs* it on a [`Cluster`], and gets a
//! [`FaultGuard`] back whose `heal` undoes exactly that fault. The run loop keeps every
//! installed guard in [`ActiveFaults`] and heals whatever is left on every exit path: normal
//! end, error, a panicked nemesis task, Ctrl-C. (The environment's teardown is the last
//! line: it removes the namespaces the rules live in.)

use std::sync::{Arc, Mutex};

use crate::env::Env;
use crate::rng::Rng;
use crate::target::{Target, TargetError};
use crate::value::Value;
use crate::BoxFuture;

/// What faults act on: the environment and the target deployed in it.
#[derive(Clone)]
pub struct Cluster {
    pub env: Arc<dyn Env>,
    pub target: Arc<dyn Target>,
}

impl Cluster {
    pub fn nodes(&self) -> Vec<String> {
        self.target.nodes()
    }
}

/// A planned fault: the history's `f` for its start and stop events, and what it will do.
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// `start-partition`, `kill`, `pause`, `bump-clock`, `start-loss`, ...
    pub start: String,
    /// `stop-partition`, `restart`, `resume`, `reset-clock`, `stop-loss`, ...
    pub stop: String,
    /// The plan, as recorded in the history: `{"kind": "halves", "grudge": {...}}`, nodes...
    pub value: Value,
}

/// Why a fault could not be put in force or healed.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Env(#[from] crate::env::EnvError),
    /// The fault does not apply here (no leader to isolate, netem missing): recorded and
    /// skipped, not a harness failure.
    #[error("{0}")]
    NotApplicable(String),
    #[error("{0}")]
    Failed(String),
}

/// An installed fault; `heal` removes it. Healing is idempotent from the caller's view:
/// each guard is healed at most once because `heal` consumes it.
pub trait FaultGuard: Send {
    fn heal(self: Box<Self>) -> BoxFuture<'static, Result<(), NemesisError>>;
}

/// What installing returned: the guard, and what was actually done (e.g. which node was
/// the leader when the plan said "isolate the leader").
pub struct Installed {
    pub guard: Box<dyn FaultGuard>,
    pub value: Value,
}

/// One kind of fault.
pub trait Nemesis: Send + Sync {
    /// `partition`, `kill`, `pause`, `clock`, `loss`, `slow`.
    fn name(&self) -> &str;
    /// Chooses the next fault. Pure: only the RNG and the node names decide.
    fn plan(&self, rng: &mut Rng, nodes: &[String]) -> Fault;
    fn install<'a>(
        &'a self,
        cluster: &'a Cluster,
        fault: &'a Fault,
    ) -> BoxFuture<'a, Result<Installed, NemesisError>>;
}

/// A fault in force: the caller's id, the fault, and the guard that heals it.
type Active = (u64, Fault, Box<dyn FaultGuard>);

/// Guards of the faults now in force, shared by the nemesis task and the run loop.
#[derive(Clone, Default)]
pub struct ActiveFaults {
    inner: Arc<Mutex<Vec<Active>>>,
}

impl ActiveFaults {
    /// Remembers an installed fault under an id of the caller's choosing.
    pub fn push(&self, id: u64, fault: Fault, guard: Box<dyn FaultGuard>) {
        if let Ok(mut v) = self.inner.lock() {
            v.push((id, fault, guard));
        }
    }

    /// Takes one fault's guard back, to heal it.
    pub fn take(&self, id: u64) -> Option<(Fault, Box<dyn FaultGuard>)> {
        let mut v = self.inner.lock().ok()?;
        let i = v.iter().position(|(i, _, _)| *i == id)?;
        let (_, f, g) = v.remove(i);
        Some((f, g))
    }

    /// Takes every remaining guard, newest first (undo in reverse order of doing).
    pub fn drain(&self) -> Vec<(Fault, Box<dyn FaultGuard>)> {
        match self.inner.lock() {
            Ok(mut v) => v.drain(..).rev().map(|(_, f, g)| (f, g)).collect(),
            Err(poisoned) => poisoned
                .into_inner()
                .drain(..)
                .rev()
                .map(|(_, f, g)| (f, g))
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|v| v.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The start `f` of each fault in force, for the progress bar.
    pub fn names(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|v| v.iter().map(|(_, f, _)| f.start.clone()).collect())
            .unwrap_or_default()
    }
}
