//! A small language for writing histories by hand, for tests and examples.
//!
//! Transactions use Elle's micro-op notation, one token per micro-op: `ax1` appends 1 to key
//! `x`; `rx12` reads list `[1 2]` from `x` (list-append, [`la`]) or value 12 (registers,
//! [`rw`]); `rx_` reads nothing (an empty list, or nil); `wx3` writes 3. Keys are one letter;
//! values of appends and writes are whole numbers; list reads are one digit per element, or
//! comma-separated (`rx10,11`) when elements are wider than one digit.
//!
//! ```
//! use faultline_core::dsl::{la, Builder};
//! let mut b = Builder::new();
//! b.txn_ok(0, la("ax1")).txn_ok(1, la("rx1"));
//! let h = b.build();
//! assert_eq!(h.len(), 4);
//! ```

use crate::history::{History, Op, OpType, Process};
use crate::value::Value;

fn key(token: &str) -> (Value, &str) {
    let mut chars = token.chars();
    let k = chars.next().map(|c| c.to_string()).unwrap_or_default();
    (Value::Str(k), chars.as_str())
}

fn number(s: &str, token: &str) -> i64 {
    s.parse()
        .unwrap_or_else(|_| panic!("dsl: {token:?}: expected a whole number after the key"))
}

fn list(s: &str) -> Value {
    if s == "_" || s.is_empty() {
        return Value::List(vec![]);
    }
    if s.contains(',') {
        return Value::List(s.split(',').map(|x| Value::Int(number(x, s))).collect());
    }
    Value::List(
        s.chars()
            .map(|c| Value::Int(c.to_digit(10).expect("dsl: list reads are digits") as i64))
            .collect(),
    )
}

fn micro(f: &str, k: Value, v: Value) -> Value {
    Value::List(vec![Value::Str(f.into()), k, v])
}

/// A list-append transaction: `ax1 ry12 rz_`.
pub fn la(txn: &str) -> Value {
    Value::List(
        txn.split_whitespace()
            .map(|t| {
                let (f, rest) = t.split_at(1);
                let (k, v) = key(rest);
                match f {
                    "a" => micro("append", k, Value::Int(number(v, t))),
                    "r" => micro("r", k, list(v)),
                    _ => panic!("dsl: {t:?}: list-append micro-ops are a or r"),
                }
            })
            .collect(),
    )
}

/// A read-write register transaction: `wx1 rx1 ry_`.
pub fn rw(txn: &str) -> Value {
    Value::List(
        txn.split_whitespace()
            .map(|t| {
                let (f, rest) = t.split_at(1);
                let (k, v) = key(rest);
                let v = if v == "_" {
                    Value::Nil
                } else {
                    Value::Int(number(v, t))
                };
                match f {
                    "w" => micro("w", k, v),
                    "r" => micro("r", k, v),
                    _ => panic!("dsl: {t:?}: rw-register micro-ops are w or r"),
                }
            })
            .collect(),
    )
}

/// The invocation form of a transaction: every read's value replaced by nil, as a client
/// sends it before it knows the result.
pub fn invocation(txn: &Value) -> Value {
    match txn {
        Value::List(mops) => Value::List(
            mops.iter()
                .map(|m| match m.as_list() {
                    Some([f, k, _]) if f.as_str() == Some("r") => {
                        Value::List(vec![f.clone(), k.clone(), Value::Nil])
                    }
                    _ => m.clone(),
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Builds a history event by event; every event is 1 ms after the previous one.
#[derive(Default)]
pub struct Builder {
    ops: Vec<Op>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    fn push(&mut self, mut op: Op) -> &mut Self {
        op.index = self.ops.len() as u64;
        op.time = (self.ops.len() as u64 + 1) * 1_000_000;
        self.ops.push(op);
        self
    }

    /// Process `p` invokes `f` with `value`.
    pub fn invoke(&mut self, p: u64, f: &str, value: Value) -> &mut Self {
        self.push(Op::invoke(p, f, value))
    }

    /// Completes process `p`'s open op with `kind` and `value`.
    pub fn complete(&mut self, p: u64, kind: OpType, value: Value) -> &mut Self {
        let inv = self
            .ops
            .iter()
            .rev()
            .find(|o| o.process == Process::Client(p))
            .filter(|o| o.kind == OpType::Invoke)
            .unwrap_or_else(|| panic!("dsl: process {p} has no open op"))
            .clone();
        self.push(inv.complete(kind, value))
    }

    pub fn ok(&mut self, p: u64, value: Value) -> &mut Self {
        self.complete(p, OpType::Ok, value)
    }

    pub fn fail(&mut self, p: u64, value: Value) -> &mut Self {
        self.complete(p, OpType::Fail, value)
    }

    pub fn info(&mut self, p: u64, value: Value) -> &mut Self {
        self.complete(p, OpType::Info, value)
    }

    /// Invokes a transaction (reads as nil) on process `p` without completing it.
    pub fn txn(&mut self, p: u64, txn: Value) -> &mut Self {
        self.invoke(p, "txn", invocation(&txn))
    }

    /// A transaction invoked and completed ok with the given result, back to back.
    pub fn txn_ok(&mut self, p: u64, txn: Value) -> &mut Self {
        self.txn(p, txn.clone()).ok(p, txn)
    }

    /// A single op invoked and completed ok, back to back.
    pub fn op_ok(&mut self, p: u64, f: &str, invoke: Value, result: Value) -> &mut Self {
        self.invoke(p, f, invoke).ok(p, result)
    }

    /// A nemesis event (Jepsen logs faults as `info`).
    pub fn nemesis(&mut self, f: &str, value: Value) -> &mut Self {
        let mut op = Op::invoke(0, f, value);
        op.kind = OpType::Info;
        op.process = Process::Nemesis;
        self.push(op)
    }

    pub fn build(&self) -> History {
        History::from_ops(self.ops.clone()).expect("dsl: the built history is malformed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_list_append_micro_ops() {
        assert_eq!(
            la("ax1 ry12 rz_ rw10,11").to_string(),
            r#"[["append" "x" 1] ["r" "y" [1 2]] ["r" "z" []] ["r" "w" [10 11]]]"#
        );
    }

    #[test]
    fn parses_register_micro_ops_and_blanks_reads_in_invocations() {
        let t = rw("wx1 ry2 rz_");
        assert_eq!(t.to_string(), r#"[["w" "x" 1] ["r" "y" 2] ["r" "z" nil]]"#);
        assert_eq!(
            invocation(&t).to_string(),
            r#"[["w" "x" 1] ["r" "y" nil] ["r" "z" nil]]"#
        );
    }

    #[test]
    fn builds_paired_histories() {
        let mut b = Builder::new();
        b.txn(0, la("ax1")).txn_ok(1, la("rx_")).ok(0, la("ax1"));
        let h = b.build();
        assert_eq!(h.partner(0), Some(3));
        assert_eq!(h.ops()[3].time, 4_000_000);
    }
}
