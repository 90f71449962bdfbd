//! Porcupine's key-value model: string keys, `get` / `put` / `append`, every key empty ("")
//! at first; a `get` of nil reads "". Values are `[key value]` tuples (as faultline-core
//! reads the Porcupine kv files and Jepsen independent histories). Partitioned by key
//! unless the checker is told not to, which checks the whole map as one object (a stress
//! case: the state is then every key's string).

use std::sync::Arc;

use faultline_core::{OpType, Value};

use super::super::model::{Model, ModelError, OpView};
use super::pair;

#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

#[derive(Clone, Debug)]
pub enum KvOp {
    Get(String),
    Put(String),
    Append(String),
}

/// A key and what is done to it.
pub type KvInput = (Arc<Value>, KvOp);

fn text(v: &Value) -> Result<String, ModelError> {
    match v {
        Value::Nil => Ok(String::new()),
        Value::Str(s) => Ok(s.clone()),
        Value::Int(i) => Ok(i.to_string()),
        other => Err(ModelError(format!(
            "the kv model expects string values, found {other}"
        ))),
    }
}

impl Model for Kv {
    /// (key, value) for every key written, sorted by key.
    type State = Vec<(Arc<Value>, String)>;
    type Input = KvInput;
    type Output = ();

    fn name(&self) -> &str {
        "kv"
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(KvInput, ())>, ModelError> {
        const FS: &[&str] = &["get", "put", "append"];
        if !FS.contains(&op.f) {
            return Err(ModelError::unknown_f("kv", op.f, FS));
        }
        let (key, arg) = pair(op.invoke_value).ok_or_else(|| {
            ModelError::bad_value("kv", op.f, "a [key value] tuple", op.invoke_value)
        })?;
        let kop = match (op.f, op.outcome) {
            (_, OpType::Fail) | ("get", OpType::Info) => return Ok(None),
            ("get", _) => {
                let done = op.complete_value.unwrap_or(op.invoke_value);
                let (_, v) = pair(done).ok_or_else(|| {
                    ModelError::bad_value("kv", "get", "a [key value] tuple", done)
                })?;
                KvOp::Get(text(v)?)
            }
            ("put", _) => KvOp::Put(text(arg)?),
            _ => KvOp::Append(text(arg)?),
        };
        Ok(Some(((Arc::new(key.clone()), kop), ())))
    }

    fn init(&self) -> Self::State {
        Vec::new()
    }

    fn step(&self, state: &Self::State, (key, op): &KvInput, _: &()) -> Option<Self::State> {
        let at = state.binary_search_by(|(k, _)| k.as_ref().cmp(key));
        let current = match at {
            Ok(i) => state[i].1.as_str(),
            Err(_) => "",
        };
        let mut new = match op {
            KvOp::Get(v) => return (v == current).then(|| state.clone()),
            KvOp::Put(v) => v.clone(),
            KvOp::Append(v) => {
                let mut s = String::with_capacity(current.len() + v.len());
                s.push_str(current);
                s.push_str(v);
                s
            }
        };
        // Built afresh rather than cloned and patched: the replaced string is never copied.
        let mut next = Vec::with_capacity(state.len() + 1);
        match at {
            Ok(i) => next.extend(state.iter().enumerate().map(|(j, (k, v))| {
                let v = if j == i {
                    std::mem::take(&mut new)
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })),
            Err(i) => {
                next.extend(state[..i].iter().cloned());
                next.push((key.clone(), new));
                next.extend(state[i..].iter().cloned());
            }
        }
        Some(next)
    }

    fn read_only(&self, (_, op): &KvInput, _: &()) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn partition(&self, ops: &[(KvInput, ())]) -> Option<Vec<(Value, Vec<usize>)>> {
        Some(super::super::partition::group_by(
            ops.iter().map(|((k, _), _)| k.as_ref()),
        ))
    }

    fn describe_op(&self, (key, op): &KvInput, _: &()) -> String {
        let k = crate::operation::key_name(key);
        match op {
            KvOp::Get(v) => format!("get of {k} = {v:?}"),
            KvOp::Put(v) => format!("put of {v:?} to {k}"),
            KvOp::Append(v) => format!("append of {v:?} to {k}"),
        }
    }

    fn describe_state(&self, state: &Self::State) -> String {
        match state.as_slice() {
            [] => "every key was empty".into(),
            [(k, v)] => format!("key {} held {v:?}", crate::operation::key_name(k)),
            many => {
                let parts: Vec<String> = many
                    .iter()
                    .take(6)
                    .map(|(k, v)| format!("{} = {v:?}", crate::operation::key_name(k)))
                    .collect();
                let more = if many.len() > 6 { ", ..." } else { "" };
                format!("the map held {}{more}", parts.join(", "))
            }
        }
    }
}
