//! The history: Jepsen's model of what clients and the nemesis did, in order.
//!
//! The semantics are written down in `docs/semantics.md`: `ok` happened with this result,
//! `fail` definitely did not happen, `info` (or an invocation never completed) is
//! indeterminate: it may take effect at any time after its invocation, or never. A process is
//! single-threaded (at most one open op); a process whose op ends in `info` is retired.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::value::Value;

/// What an event says about its op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpType {
    pub fn as_str(self) -> &'static str {
        match self {
            OpType::Invoke => "invoke",
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            OpType::Info => "info",
        }
    }

    pub fn parse(s: &str) -> Option<OpType> {
        match s {
            "invoke" => Some(OpType::Invoke),
            "ok" => Some(OpType::Ok),
            "fail" => Some(OpType::Fail),
            "info" => Some(OpType::Info),
            _ => None,
        }
    }

    pub fn is_completion(self) -> bool {
        self != OpType::Invoke
    }
}

impl fmt::Display for OpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performed an event: a client process (a logical, single-threaded Jepsen process) or
/// the nemesis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl Process {
    pub fn client(self) -> Option<u64> {
        match self {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        }
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

impl Serialize for Process {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Process;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative integer or \"nemesis\"")
            }
            // At most 2^63-1, as in Jepsen (Java longs): larger ones could not be exported
            // to history.edn and read back (found by fuzz/roundtrip_ops).
            fn visit_u64<E: serde::de::Error>(self, p: u64) -> Result<Process, E> {
                if p > i64::MAX as u64 {
                    return Err(E::custom(format!("process {p} is larger than 2^63-1")));
                }
                Ok(Process::Client(p))
            }
            fn visit_i64<E: serde::de::Error>(self, p: i64) -> Result<Process, E> {
                u64::try_from(p)
                    .map(Process::Client)
                    .map_err(|_| E::custom(format!("process {p} is negative")))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Process, E> {
                if s == "nemesis" {
                    Ok(Process::Nemesis)
                } else {
                    Err(E::custom(format!(
                        "process {s:?} is neither an integer nor \"nemesis\""
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// One event of a history. Field names follow Jepsen's; on disk (JSON Lines) fields this
/// struct does not name are kept in `extra` and written back at the top level.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Position in the history, dense from 0.
    pub index: u64,
    /// Nanoseconds since the test started (monotonic).
    pub time: u64,
    /// `type` on disk.
    pub kind: OpType,
    pub process: Process,
    /// The function: `read`, `write`, `cas`, `append`, `txn`, `start-partition`, ...
    pub f: String,
    pub value: Value,
    /// The node that served the op, when known.
    pub node: Option<String>,
    /// Why an op failed or is indeterminate, when known.
    pub error: Option<Value>,
    /// Fields this model does not name, kept so that an imported history writes back whole.
    pub extra: Extra,
}

/// Extra fields of an op, in the order they were read. Boxed: almost every op has none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra(pub Option<Box<Vec<(String, Value)>>>);

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|v| v.is_empty())
    }
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .as_ref()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
    pub fn insert(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        let v = self.0.get_or_insert_with(Default::default);
        match v.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => v.push((key, value)),
        }
    }
    /// Takes a field out; an emptied `Extra` is the same as a fresh one (`None`).
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let v = self.0.as_mut()?;
        let i = v.iter().position(|(k, _)| k == key)?;
        let (_, value) = v.remove(i);
        if v.is_empty() {
            self.0 = None;
        }
        Some(value)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0
            .iter()
            .flat_map(|v| v.iter())
            .map(|(k, v)| (k.as_str(), v))
    }
}

impl Op {
    /// An invocation by a client process; index and time are set by whoever records it.
    pub fn invoke(process: u64, f: impl Into<String>, value: Value) -> Op {
        Op {
            index: 0,
            time: 0,
            kind: OpType::Invoke,
            process: Process::Client(process),
            f: f.into(),
            value,
            node: None,
            error: None,
            extra: Extra::default(),
        }
    }

    /// The completion of this invocation with the given type and value.
    pub fn complete(&self, kind: OpType, value: Value) -> Op {
        Op {
            kind,
            value,
            index: 0,
            time: 0,
            node: self.node.clone(),
            error: None,
            extra: Extra::default(),
            process: self.process,
            f: self.f.clone(),
        }
    }

    pub fn is_client(&self) -> bool {
        matches!(self.process, Process::Client(_))
    }

    /// One line for messages: `process 3 ok read 5`.
    pub fn describe(&self) -> String {
        format!(
            "process {} {} {} {}",
            self.process, self.kind, self.f, self.value
        )
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("index", &self.index)?;
        m.serialize_entry("time", &self.time)?;
        m.serialize_entry("type", &self.kind)?;
        m.serialize_entry("process", &self.process)?;
        m.serialize_entry("f", &self.f)?;
        m.serialize_entry("value", &self.value)?;
        if let Some(node) = &self.node {
            m.serialize_entry("node", node)?;
        }
        if let Some(error) = &self.error {
            m.serialize_entry("error", error)?;
        }
        for (k, v) in self.extra.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OpVisitor)
    }
}

struct OpVisitor;

impl<'de> serde::de::Visitor<'de> for OpVisitor {
    type Value = Op;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an op: an object with type, process and f")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Op, A::Error> {
        use serde::de::Error;
        // Name the field in every error, so a bad line says what is wrong with it.
        fn field<'de, A: serde::de::MapAccess<'de>, T: Deserialize<'de>>(
            map: &mut A,
            name: &str,
        ) -> Result<T, A::Error> {
            map.next_value()
                .map_err(|e| A::Error::custom(format!("field `{name}`: {e}")))
        }
        let (mut index, mut time, mut kind, mut process, mut f) = (None, None, None, None, None);
        let mut op = Op::invoke(0, "", Value::Nil);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "index" => index = Some(field::<A, u64>(&mut map, "index")?),
                "time" => {
                    let t = field::<A, u64>(&mut map, "time")?;
                    // Jepsen's times are Java longs; see Process's reader.
                    if t > i64::MAX as u64 {
                        return Err(A::Error::custom(format!(
                            "field `time`: {t} is larger than 2^63-1 nanoseconds"
                        )));
                    }
                    time = Some(t);
                }
                "type" => {
                    let t: String = field(&mut map, "type")?;
                    kind = Some(OpType::parse(&t).ok_or_else(|| {
                        A::Error::custom(format!(
                            "field `type`: {t:?} is not one of invoke, ok, fail, info"
                        ))
                    })?);
                }
                "process" => process = Some(field::<A, Process>(&mut map, "process")?),
                "f" => f = Some(field::<A, String>(&mut map, "f")?),
                "value" => op.value = field(&mut map, "value")?,
                "node" => op.node = field(&mut map, "node")?,
                "error" => op.error = field(&mut map, "error")?,
                _ => {
                    let v: Value = field(&mut map, &key)?;
                    op.extra.insert(key, v);
                }
            }
        }
        op.index = index.unwrap_or(0);
        op.time = time.unwrap_or(0);
        op.kind = kind.ok_or_else(|| A::Error::custom("missing field `type`"))?;
        op.process = process.ok_or_else(|| A::Error::custom("missing field `process`"))?;
        op.f = f.ok_or_else(|| A::Error::custom("missing field `f`"))?;
        Ok(op)
    }
}

/// Why a sequence of events is not a history. Positions are event positions (0-based); the
/// readers turn them into file lines.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    #[error("process {process} completed a {f} with {kind} but had no open invocation (an unmatched completion)")]
    UnmatchedCompletion {
        position: usize,
        process: Process,
        f: String,
        kind: OpType,
    },
    #[error("process {process} invoked {f} while its {open_f} invoked at event {open_position} was still open; a process is single-threaded")]
    ConcurrentInvoke {
        position: usize,
        process: Process,
        f: String,
        open_f: String,
        open_position: usize,
    },
}

impl HistoryError {
    /// The event position the error is about.
    pub fn position(&self) -> usize {
        match self {
            HistoryError::UnmatchedCompletion { position, .. }
            | HistoryError::ConcurrentInvoke { position, .. } => *position,
        }
    }
}

const NONE: u32 = u32::MAX;

/// A validated history: events in order with dense indices, and for every client invocation
/// the position of its completion.
#[derive(Clone, Debug, Default)]
pub struct History {
    ops: Vec<Op>,
    /// For each event, the position of its partner (invoke <-> completion), or NONE.
    partner: Vec<u32>,
    warnings: Vec<String>,
}

impl History {
    /// Builds a history from events in order, validating pairing. Indices are reassigned to
    /// positions when they are not already dense from 0.
    pub fn from_ops(ops: impl IntoIterator<Item = Op>) -> Result<History, HistoryError> {
        let mut b = HistoryBuilder::new();
        for op in ops {
            b.push(op)?;
        }
        Ok(b.finish())
    }

    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    pub fn get(&self, position: usize) -> Option<&Op> {
        self.ops.get(position)
    }

    /// Notes about the history that do not stop checking it (reused processes, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The completion of the invocation at `position`, if it completed.
    pub fn completion(&self, position: usize) -> Option<&Op> {
        match self.partner.get(position) {
            Some(&p) if p != NONE && self.ops[position].kind == OpType::Invoke => {
                Some(&self.ops[p as usize])
            }
            _ => None,
        }
    }

    /// The position of the partner event: an invocation's completion, or a completion's
    /// invocation.
    pub fn partner(&self, position: usize) -> Option<usize> {
        match self.partner.get(position) {
            Some(&p) if p != NONE => Some(p as usize),
            _ => None,
        }
    }

    /// Every client op as (invocation, completion or None), in invocation order.
    pub fn client_pairs(&self) -> impl Iterator<Item = (&Op, Option<&Op>)> {
        self.ops
            .iter()
            .enumerate()
            .filter(|(_, op)| op.is_client() && op.kind == OpType::Invoke)
            .map(move |(i, op)| (op, self.completion(i)))
    }

    /// Nemesis events in order.
    pub fn nemesis_ops(&self) -> impl Iterator<Item = &Op> {
        self.ops.iter().filter(|op| op.process == Process::Nemesis)
    }

    pub fn into_ops(self) -> Vec<Op> {
        self.ops
    }
}

/// Builds a [`History`] one event at a time, checking Jepsen's pairing rules as it goes, so
/// a reader can name the line of the first bad event and a recorder can append as it runs.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    history: History,
    /// Open invocation position per process.
    open: HashMap<Process, usize>,
    /// Processes retired by an `info` completion; reuse is allowed but noted.
    retired: HashMap<u64, usize>,
    dense: bool,
}

impl HistoryBuilder {
    pub fn new() -> HistoryBuilder {
        HistoryBuilder {
            dense: true,
            ..Default::default()
        }
    }

    pub fn len(&self) -> usize {
        self.history.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.history.ops.is_empty()
    }

    /// Appends one event. On error nothing is appended and the builder stays usable.
    pub fn push(&mut self, mut op: Op) -> Result<(), HistoryError> {
        let position = self.history.ops.len();
        if op.index != position as u64 {
            self.dense = false;
        }
        op.index = position as u64;
        let mut partner = NONE;
        match (op.process, op.kind) {
            // Nemesis events pair loosely: Jepsen logs a fault as `info` twice (begin and
            // end) and newer versions as invoke + info; an invoke opens, the next event closes.
            (Process::Nemesis, OpType::Invoke) => {
                self.open.insert(Process::Nemesis, position);
            }
            (Process::Nemesis, _) => {
                if let Some(inv) = self.open.remove(&Process::Nemesis) {
                    partner = inv as u32;
                    self.history.partner[inv] = position as u32;
                }
            }
            (p @ Process::Client(c), OpType::Invoke) => {
                if let Some(&open) = self.open.get(&p) {
                    return Err(HistoryError::ConcurrentInvoke {
                        position,
                        process: p,
                        f: op.f.clone(),
                        open_f: self.history.ops[open].f.clone(),
                        open_position: open,
                    });
                }
                if let Some(info_at) = self.retired.remove(&c) {
                    self.history.warnings.push(format!(
                        "process {c} invoked again at event {position} after its op at event \
                         {info_at} ended in info; Jepsen retires such processes. The info op is \
                         still treated as concurrent with everything after it"
                    ));
                }
                self.open.insert(p, position);
            }
            (p @ Process::Client(c), kind) => {
                let Some(inv) = self.open.remove(&p) else {
                    return Err(HistoryError::UnmatchedCompletion {
                        position,
                        process: p,
                        f: op.f,
                        kind,
                    });
                };
                if self.history.ops[inv].f != op.f {
                    self.history.warnings.push(format!(
                        "event {position}: process {c} completed {} but invoked {}",
                        op.f, self.history.ops[inv].f
                    ));
                }
                if kind == OpType::Info {
                    self.retired.insert(c, position);
                }
                partner = inv as u32;
                self.history.partner[inv] = position as u32;
            }
        }
        self.history.ops.push(op);
        self.history.partner.push(partner);
        Ok(())
    }

    /// Notes a problem that does not stop the history being checked.
    pub fn warn(&mut self, warning: String) {
        self.history.warnings.push(warning);
    }

    /// Whether every event so far came with the index it now has.
    pub fn indices_were_dense(&self) -> bool {
        self.dense
    }

    pub fn finish(self) -> History {
        self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(process: u64, kind: OpType, f: &str, value: Value) -> Op {
        let mut op = Op::invoke(process, f, value);
        op.kind = kind;
        op
    }

    #[test]
    fn pairs_invocations_with_their_completions() {
        let h = History::from_ops([
            ev(0, OpType::Invoke, "write", 1.into()),
            ev(1, OpType::Invoke, "read", Value::Nil),
            ev(1, OpType::Ok, "read", 1.into()),
            ev(0, OpType::Ok, "write", 1.into()),
        ])
        .unwrap();
        assert_eq!(h.partner(0), Some(3));
        assert_eq!(h.partner(1), Some(2));
        assert_eq!(h.completion(1).unwrap().value, Value::Int(1));
        assert_eq!(h.client_pairs().count(), 2);
        assert_eq!(h.ops()[3].index, 3);
    }

    #[test]
    fn an_unmatched_completion_is_an_error_naming_the_event() {
        let err = History::from_ops([
            ev(0, OpType::Invoke, "write", 1.into()),
            ev(1, OpType::Ok, "read", 1.into()),
        ])
        .unwrap_err();
        assert_eq!(err.position(), 1);
        assert!(err.to_string().contains("unmatched completion"), "{err}");
    }

    #[test]
    fn a_second_open_invocation_on_one_process_is_an_error() {
        let err = History::from_ops([
            ev(0, OpType::Invoke, "write", 1.into()),
            ev(0, OpType::Invoke, "read", Value::Nil),
        ])
        .unwrap_err();
        assert!(matches!(
            err,
            HistoryError::ConcurrentInvoke {
                open_position: 0,
                ..
            }
        ));
    }

    #[test]
    fn reusing_a_process_after_info_is_a_warning() {
        let h = History::from_ops([
            ev(0, OpType::Invoke, "write", 1.into()),
            ev(0, OpType::Info, "write", 1.into()),
            ev(0, OpType::Invoke, "read", Value::Nil),
        ])
        .unwrap();
        assert_eq!(h.warnings().len(), 1);
        assert!(h.completion(2).is_none());
    }

    #[test]
    fn nemesis_info_pairs_do_not_need_invocations() {
        let mut start = ev(0, OpType::Info, "start-partition", Value::Nil);
        start.process = Process::Nemesis;
        let mut stop = start.clone();
        stop.f = "stop-partition".into();
        let h = History::from_ops([start, stop]).unwrap();
        assert_eq!(h.nemesis_ops().count(), 2);
    }

    #[test]
    fn op_json_uses_jepsen_field_names() {
        let mut op = ev(3, OpType::Ok, "read", 5.into());
        op.index = 7;
        op.time = 1200;
        let s = serde_json::to_string(&op).unwrap();
        assert_eq!(
            s,
            r#"{"index":7,"time":1200,"type":"ok","process":3,"f":"read","value":5}"#
        );
        let back: Op = serde_json::from_str(&s).unwrap();
        assert_eq!(back, op);
    }

    #[test]
    fn json_times_and_processes_stop_at_i64_max() {
        // Found by fuzz/roundtrip_ops: a u64 process or time above 2^63-1 was accepted from
        // JSONL but its history.edn export could not be read back.
        let ok =
            r#"{"type":"invoke","process":9223372036854775807,"f":"r","time":9223372036854775807}"#;
        assert!(serde_json::from_str::<Op>(ok).is_ok());
        let e = serde_json::from_str::<Op>(
            r#"{"type":"invoke","process":9223372036854775808,"f":"r"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("field `process`") && e.contains("2^63-1"), "{e}");
        let e = serde_json::from_str::<Op>(
            r#"{"type":"invoke","process":0,"f":"r","time":18446744073709551615}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("field `time`"), "{e}");
    }
}
