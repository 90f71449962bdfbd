//! Counter, set, FIFO queue and mutex. Jepsen's rules throughout: a failed op did not
//! happen (dropped), an indeterminate op may have taken effect, an indeterminate read
//! returned nothing to check (dropped).

use std::collections::VecDeque;

use faultline_core::{OpType, Value};

use super::super::model::{Model, ModelError, OpView};

/// An integer counter from 0: `add` (value: the delta), `read`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Counter;

#[derive(Clone, Debug)]
pub enum CounterOp {
    Add(i64),
    Read(i64),
}

impl Model for Counter {
    type State = i64;
    type Input = CounterOp;
    type Output = ();

    fn name(&self) -> &str {
        "counter"
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(CounterOp, ())>, ModelError> {
        if op.outcome == OpType::Fail {
            return known(self.name(), op.f, &["add", "read"]).map(|_| None);
        }
        match op.f {
            "add" => {
                let d = op.invoke_value.as_int().ok_or_else(|| {
                    ModelError::bad_value("counter", "add", "an integer", op.invoke_value)
                })?;
                Ok(Some((CounterOp::Add(d), ())))
            }
            "read" if op.indeterminate() => Ok(None),
            "read" => {
                let v = op.value().as_int().ok_or_else(|| {
                    ModelError::bad_value("counter", "read", "an integer", op.value())
                })?;
                Ok(Some((CounterOp::Read(v), ())))
            }
            f => Err(ModelError::unknown_f("counter", f, &["add", "read"])),
        }
    }

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, state: &i64, input: &CounterOp, _: &()) -> Option<i64> {
        match *input {
            CounterOp::Add(d) => Some(state.wrapping_add(d)),
            CounterOp::Read(v) => (v == *state).then_some(*state),
        }
    }

    fn describe_op(&self, input: &CounterOp, _: &()) -> String {
        match input {
            CounterOp::Add(d) => format!("add of {d}"),
            CounterOp::Read(v) => format!("read of {v}"),
        }
    }

    fn describe_state(&self, state: &i64) -> String {
        format!("the counter stood at {state}")
    }
}

/// Whether `f` is one of the model's functions, as an error if not.
fn known(model: &str, f: &str, fs: &[&str]) -> Result<(), ModelError> {
    if fs.contains(&f) {
        Ok(())
    } else {
        Err(ModelError::unknown_f(model, f, fs))
    }
}

/// A grow-only set: `add` (value: the element), `read` (value: every element).
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

#[derive(Clone, Debug)]
pub enum SetOp {
    Add(Value),
    /// The elements read, sorted and without duplicates.
    Read(Vec<Value>),
}

impl Model for Set {
    /// Sorted, without duplicates.
    type State = Vec<Value>;
    type Input = SetOp;
    type Output = ();

    fn name(&self) -> &str {
        "set"
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(SetOp, ())>, ModelError> {
        if op.outcome == OpType::Fail {
            return known(self.name(), op.f, &["add", "read"]).map(|_| None);
        }
        match op.f {
            "add" => Ok(Some((SetOp::Add(op.invoke_value.clone()), ()))),
            "read" if op.indeterminate() => Ok(None),
            "read" => {
                let mut v = match op.value() {
                    Value::List(v) => v.clone(),
                    Value::Nil => Vec::new(),
                    other => return Err(ModelError::bad_value("set", "read", "a list", other)),
                };
                v.sort();
                v.dedup();
                Ok(Some((SetOp::Read(v), ())))
            }
            f => Err(ModelError::unknown_f("set", f, &["add", "read"])),
        }
    }

    fn init(&self) -> Vec<Value> {
        Vec::new()
    }

    fn step(&self, state: &Vec<Value>, input: &SetOp, _: &()) -> Option<Vec<Value>> {
        match input {
            SetOp::Add(x) => {
                let mut s = state.clone();
                if let Err(at) = s.binary_search(x) {
                    s.insert(at, x.clone());
                }
                Some(s)
            }
            SetOp::Read(v) => (v == state).then(|| state.clone()),
        }
    }

    fn describe_op(&self, input: &SetOp, _: &()) -> String {
        match input {
            SetOp::Add(x) => format!("add of {x}"),
            SetOp::Read(v) => format!("read of {}", Value::List(v.clone())),
        }
    }

    fn describe_state(&self, state: &Vec<Value>) -> String {
        format!("the set held {}", Value::List(state.clone()))
    }
}

/// A FIFO queue: `enqueue` (value: the element), `dequeue` (value: the element taken, or
/// nil when the queue was empty).
#[derive(Clone, Copy, Debug, Default)]
pub struct Queue;

#[derive(Clone, Debug)]
pub enum QueueOp {
    Enqueue(Value),
    /// The element dequeued; `None` when the result is unknown.
    Dequeue(Option<Value>),
}

impl Model for Queue {
    type State = VecDeque<Value>;
    type Input = QueueOp;
    type Output = ();

    fn name(&self) -> &str {
        "queue"
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(QueueOp, ())>, ModelError> {
        known(self.name(), op.f, &["enqueue", "dequeue"])?;
        Ok(match (op.f, op.outcome) {
            (_, OpType::Fail) => None,
            ("enqueue", _) => Some((QueueOp::Enqueue(op.invoke_value.clone()), ())),
            (_, OpType::Info) => Some((QueueOp::Dequeue(None), ())),
            _ => Some((QueueOp::Dequeue(Some(op.value().clone())), ())),
        })
    }

    fn init(&self) -> VecDeque<Value> {
        VecDeque::new()
    }

    fn step(&self, state: &VecDeque<Value>, input: &QueueOp, _: &()) -> Option<VecDeque<Value>> {
        match input {
            QueueOp::Enqueue(x) => {
                let mut q = state.clone();
                q.push_back(x.clone());
                Some(q)
            }
            // An indeterminate dequeue that took effect took whatever was at the head.
            QueueOp::Dequeue(None) => {
                let mut q = state.clone();
                q.pop_front().map(|_| q)
            }
            QueueOp::Dequeue(Some(Value::Nil)) => state.is_empty().then(VecDeque::new),
            QueueOp::Dequeue(Some(x)) => {
                if state.front() == Some(x) {
                    let mut q = state.clone();
                    q.pop_front();
                    Some(q)
                } else {
                    None
                }
            }
        }
    }

    fn describe_op(&self, input: &QueueOp, _: &()) -> String {
        match input {
            QueueOp::Enqueue(x) => format!("enqueue of {x}"),
            QueueOp::Dequeue(None) => "dequeue".into(),
            QueueOp::Dequeue(Some(x)) => format!("dequeue of {x}"),
        }
    }

    fn describe_state(&self, state: &VecDeque<Value>) -> String {
        if state.is_empty() {
            "the queue was empty".into()
        } else {
            let v: Vec<Value> = state.iter().cloned().collect();
            format!("the queue held {} (head first)", Value::List(v))
        }
    }
}

/// A lock: `acquire`, `release`. Reentrant acquisition and releasing a free lock are
/// illegal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

#[derive(Clone, Copy, Debug)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl Model for Mutex {
    /// Held or not.
    type State = bool;
    type Input = MutexOp;
    type Output = ();

    fn name(&self) -> &str {
        "mutex"
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(MutexOp, ())>, ModelError> {
        known(self.name(), op.f, &["acquire", "release"])?;
        if op.outcome == OpType::Fail {
            return Ok(None);
        }
        Ok(Some((
            if op.f == "acquire" {
                MutexOp::Acquire
            } else {
                MutexOp::Release
            },
            (),
        )))
    }

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, input: &MutexOp, _: &()) -> Option<bool> {
        match input {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn describe_op(&self, input: &MutexOp, _: &()) -> String {
        match input {
            MutexOp::Acquire => "acquire".into(),
            MutexOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held {
            "the lock was held"
        } else {
            "the lock was free"
        }
        .into()
    }
}
