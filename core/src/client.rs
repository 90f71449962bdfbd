//! The client side of a test: what a worker asks a node to do, and what came back.
//!
//! A [`Client`] is one connection to one node, used by one Jepsen process at a time (a
//! process is single-threaded). It turns an [`Invocation`] into a [`Completion`]: `ok` (it
//! happened, with this result), `fail` (it certainly did not happen) or `info` (unknown).
//! The run loop adds the timeout: a client that does not answer in time gives `info`, and the
//! worker continues under a fresh process id with a fresh client.

use crate::history::OpType;
use crate::value::Value;
use crate::BoxFuture;

/// What a worker asks for: Jepsen's `f` and `value`, plus the key for keyed workloads
/// (recorded as the op's extra field `key`, which the checkers read).
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub f: String,
    pub value: Value,
    pub key: Option<Value>,
}

impl Invocation {
    pub fn new(f: impl Into<String>, value: Value) -> Invocation {
        Invocation {
            f: f.into(),
            value,
            key: None,
        }
    }

    pub fn with_key(mut self, key: impl Into<Value>) -> Invocation {
        self.key = Some(key.into());
        self
    }
}

/// How an invocation ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info`; never `Invoke`.
    pub kind: OpType,
    pub value: Value,
    /// The node that answered, when it said.
    pub node: Option<String>,
    /// Why it failed or is unknown.
    pub error: Option<Value>,
}

impl Completion {
    pub fn ok(value: Value) -> Completion {
        Completion {
            kind: OpType::Ok,
            value,
            node: None,
            error: None,
        }
    }

    /// It certainly did not take effect.
    pub fn fail(error: impl Into<Value>) -> Completion {
        Completion {
            kind: OpType::Fail,
            value: Value::Nil,
            node: None,
            error: Some(error.into()),
        }
    }

    /// It may or may not have taken effect.
    pub fn info(error: impl Into<Value>) -> Completion {
        Completion {
            kind: OpType::Info,
            value: Value::Nil,
            node: None,
            error: Some(error.into()),
        }
    }

    pub fn with_node(mut self, node: impl Into<String>) -> Completion {
        self.node = Some(node.into());
        self
    }
}

/// One connection to one node. Errors are completions: a client never returns `Err` for an
/// op, because every outcome (refused, timed out, garbled) is `fail` or `info` in the history.
pub trait Client: Send {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion>;
}
