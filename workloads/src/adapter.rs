//! Adapters: a workload's op vocabulary spoken through the plain key-value primitives every
//! store offers (`read`, `write`, `cas [from to]`, `append`, `txn` of Elle micro-ops).
//!
//! The counter's `add`, the set's `add` and the bank's `transfer` mean different things on
//! the same kind of key, so a target cannot tell them apart from the op alone; the workload
//! that issued them can. [`Mapped`] wraps any target so its clients run each op through the
//! workload's [`Adapter`], and the history still records the workload's own vocabulary (what
//! its checker reads). Ops an adapter does not claim pass through unchanged.

use std::sync::Arc;
use std::time::Duration;

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::target::{Clock, Primary, Target, TargetError};
use faultline_core::{BoxFuture, OpType, Value};

/// Turns one workload op into primitive calls on a target's client.
pub trait Adapter: Send + Sync {
    fn invoke<'a>(
        &'a self,
        inner: &'a mut dyn Client,
        op: &'a Invocation,
    ) -> BoxFuture<'a, Completion>;
}

/// A target whose clients speak a workload's vocabulary through an [`Adapter`].
pub struct Mapped {
    inner: Arc<dyn Target>,
    adapter: Arc<dyn Adapter>,
}

impl Mapped {
    pub fn new(inner: Arc<dyn Target>, adapter: Arc<dyn Adapter>) -> Mapped {
        Mapped { inner, adapter }
    }
}

struct MappedClient {
    inner: Box<dyn Client>,
    adapter: Arc<dyn Adapter>,
}

impl Client for MappedClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        self.adapter.invoke(self.inner.as_mut(), op)
    }
}

impl Target for Mapped {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn nodes(&self) -> Vec<String> {
        self.inner.nodes()
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        self.inner.setup()
    }
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        self.inner.start(node)
    }
    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        self.inner.stop(node)
    }
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        self.inner.kill(node)
    }
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        self.inner.pause(node)
    }
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        self.inner.resume(node)
    }
    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            let inner = self.inner.client(node).await?;
            Ok(Box::new(MappedClient {
                inner,
                adapter: self.adapter.clone(),
            }) as Box<dyn Client>)
        })
    }
    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        self.inner.teardown()
    }
    fn primary(&self) -> Option<&dyn Primary> {
        self.inner.primary()
    }
    fn clock(&self) -> Option<&dyn Clock> {
        self.inner.clock()
    }
    fn settle_time(&self) -> Duration {
        self.inner.settle_time()
    }
}

/// A completion carrying the workload op's own value on success (Jepsen keeps what was
/// asked for on an ok update), and the primitive's error, node and certainty otherwise.
pub(crate) fn relabel(c: Completion, value: Value) -> Completion {
    match c.kind {
        OpType::Ok => Completion { value, ..c },
        _ => c,
    }
}

/// The same invocation with another function and value, keeping the key.
pub(crate) fn primitive(op: &Invocation, f: &str, value: Value) -> Invocation {
    Invocation {
        f: f.to_string(),
        value,
        key: op.key.clone(),
    }
}
