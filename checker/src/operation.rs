//! Client operations as the checkers see them: an invocation paired with its completion,
//! and the op vocabulary the non-transactional and transactional workloads share.
//!
//! # Vocabulary
//! An op's effects are read as *micro-ops* ([`Mop`]), so one checker handles single ops and
//! Elle-style transactions alike:
//!
//! | `f`      | `value` (completion)                  | micro-ops                                  |
//! |----------|---------------------------------------|--------------------------------------------|
//! | `txn`    | `[["append", k, v], ["r", k, [..]]]`  | one per element; `w`/`write`, `r`/`read`,  |
//! |          | `[["w", k, v], ["r", k, v]]`          | `append` are accepted                      |
//! | `write`  | `v`                                   | write `v` to the op's key                  |
//! | `read`   | `v` (a register) or `[..]` (a list)   | read of the op's key                       |
//! | `append` | `v`                                   | append `v` to the op's key                 |
//! | `cas`    | `[from, to]`                          | read `from`, then write `to` (ok only)     |
//!
//! A single op's key is its extra field `key`; an op without it acts on one unnamed object,
//! the key `nil`. With *independent* keys ([`operations_independent`]) a single op's value is
//! instead Jepsen's `independent` tuple `[key value]` (as faultline-core reads Jepsen's
//! independent histories and the Porcupine kv corpus): the key is its first element and the
//! op's value its second.
//!
//! A *declared session* is the extra field `session` on an op (any value: `"alice"`, `7`),
//! read from the invocation, or the completion when the invocation lacks it. A *final read*
//! is an op whose `f` is `final-read` or that carries the extra field `final: true` (or
//! Jepsen's `final?: true`, as its EDN `:final? true` is read); the controller issues them
//! from every node after healing (see [`Operation::is_final_read`]).
//!
//! # Citing ops
//! Anomalies cite an op by the history index of its completion (the event that carries the
//! result), or of its invocation when it never completed ([`Operation::cite`]).

use faultline_core::{History, Op, OpType, Value};

/// `nil`: the key of an op without a `key` field, and the value of an unset register.
pub static NIL: Value = Value::Nil;

/// A client op: its invocation and, if it completed, its completion.
#[derive(Clone, Copy, Debug)]
pub struct Operation<'h> {
    pub invoke: &'h Op,
    pub completion: Option<&'h Op>,
    /// Single ops carry `[key value]` tuples.
    pub independent: bool,
}

/// Every client op of a history, in invocation order.
pub fn operations(history: &History) -> Vec<Operation<'_>> {
    operations_independent(history, false)
}

/// Every client op, with single ops' values read as `[key value]` tuples when `independent`.
pub fn operations_independent(history: &History, independent: bool) -> Vec<Operation<'_>> {
    history
        .client_pairs()
        .map(|(invoke, completion)| Operation {
            invoke,
            completion,
            independent,
        })
        .collect()
}

/// The two halves of a `[key value]` tuple.
fn tuple(v: &Value) -> Option<(&Value, &Value)> {
    match v.as_list() {
        Some([k, v]) => Some((k, v)),
        _ => None,
    }
}

impl<'h> Operation<'h> {
    /// ok, fail or info; an op that never completed counts as info (indeterminate).
    pub fn outcome(&self) -> OpType {
        self.completion.map_or(OpType::Info, |c| c.kind)
    }

    pub fn is_ok(&self) -> bool {
        self.outcome() == OpType::Ok
    }

    pub fn is_fail(&self) -> bool {
        self.outcome() == OpType::Fail
    }

    /// The client process (0 for the nemesis, which [`operations`] never yields).
    pub fn process(&self) -> u64 {
        self.invoke.process.client().unwrap_or(0)
    }

    pub fn f(&self) -> &'h str {
        &self.invoke.f
    }

    pub fn invoke_index(&self) -> u64 {
        self.invoke.index
    }

    /// The completion's index, if the op completed.
    pub fn complete_index(&self) -> Option<u64> {
        self.completion.map(|c| c.index)
    }

    /// The index an anomaly cites this op by: its completion, else its invocation.
    pub fn cite(&self) -> u64 {
        self.complete_index().unwrap_or(self.invoke.index)
    }

    pub fn invoke_time(&self) -> u64 {
        self.invoke.time
    }

    pub fn complete_time(&self) -> Option<u64> {
        self.completion.map(|c| c.time)
    }

    /// The value that says what happened: the completion's for an ok op (reads are filled
    /// in), the invocation's otherwise (what was attempted); for independent keys, the
    /// value half of the tuple.
    pub fn value(&self) -> &'h Value {
        let raw = match self.completion {
            Some(c) if c.kind == OpType::Ok => &c.value,
            _ => &self.invoke.value,
        };
        match self.split() {
            true => tuple(raw).map_or(raw, |(_, v)| v),
            false => raw,
        }
    }

    /// What the client asked for: the invocation's value (its value half, for independent
    /// keys).
    pub fn attempted(&self) -> &'h Value {
        let raw = &self.invoke.value;
        match self.split() {
            true => tuple(raw).map_or(raw, |(_, v)| v),
            false => raw,
        }
    }

    /// Whether this op's values are `[key value]` tuples to split.
    fn split(&self) -> bool {
        self.independent && self.invoke.f != "txn"
    }

    fn extra(&self, field: &str) -> Option<&'h Value> {
        self.invoke
            .extra
            .get(field)
            .or_else(|| self.completion.and_then(|c| c.extra.get(field)))
    }

    /// The key of a single (non-`txn`) op: the first half of its tuple for independent
    /// keys, else its `key` field, or nil.
    pub fn key(&self) -> &'h Value {
        if self.split() {
            if let Some((k, _)) = tuple(&self.invoke.value) {
                return k;
            }
        }
        self.extra("key").unwrap_or(&NIL)
    }

    /// The declared session, if the op names one.
    pub fn session(&self) -> Option<&'h Value> {
        self.extra("session")
    }

    /// The node that served the op, if known.
    pub fn node(&self) -> Option<&'h str> {
        self.completion
            .and_then(|c| c.node.as_deref())
            .or(self.invoke.node.as_deref())
    }

    /// Whether this op is a final read (`f = "final-read"`, or `final: true`, or Jepsen's
    /// `final?: true`).
    pub fn is_final_read(&self) -> bool {
        self.f() == "final-read"
            || ["final", "final?"]
                .iter()
                .any(|k| matches!(self.extra(k), Some(Value::Bool(true))))
    }

    /// "process 3".
    pub fn who(&self) -> String {
        format!("process {}", self.process())
    }

    /// The micro-ops of this op, or why its value cannot be read as any. Reads of ops that
    /// did not complete ok carry no value and are dropped; a failed op has no effects.
    pub fn mops(&self) -> Result<Vec<Mop<'h>>, String> {
        if self.is_fail() {
            return Ok(Vec::new());
        }
        let ok = self.is_ok();
        let value = self.value();
        let mut out = Vec::new();
        match self.f() {
            "txn" => {
                let Some(list) = value.as_list() else {
                    return Err(format!(
                        "a txn's value is a list, not {}",
                        value.type_name()
                    ));
                };
                for m in list {
                    let Some([f, k, v]) = m.as_list().and_then(|l| <&[Value; 3]>::try_from(l).ok())
                    else {
                        return Err(format!("micro-op {m} is not [f key value]"));
                    };
                    let kind = match f.as_str() {
                        Some("append") => MopKind::Append,
                        Some("w" | "write") => MopKind::Write,
                        Some("r" | "read") => MopKind::Read,
                        _ => return Err(format!("micro-op {m}: unknown function {f}")),
                    };
                    if kind != MopKind::Read || ok {
                        out.push(Mop {
                            kind,
                            key: k,
                            value: v,
                        });
                    }
                }
            }
            "write" | "append" => out.push(Mop {
                kind: if self.f() == "write" {
                    MopKind::Write
                } else {
                    MopKind::Append
                },
                key: self.key(),
                value,
            }),
            "read" | "final-read" if ok => out.push(Mop {
                kind: MopKind::Read,
                key: self.key(),
                value,
            }),
            "cas" => {
                let Some([from, to]) = value
                    .as_list()
                    .and_then(|l| <&[Value; 2]>::try_from(l).ok())
                else {
                    return Err(format!("a cas value is [from to], not {value}"));
                };
                if ok {
                    out.push(Mop {
                        kind: MopKind::Read,
                        key: self.key(),
                        value: from,
                    });
                }
                out.push(Mop {
                    kind: MopKind::Write,
                    key: self.key(),
                    value: to,
                });
            }
            _ => {}
        }
        Ok(out)
    }
}

/// Which version semantics a keyed history uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Workload {
    /// List-append if any op appends, else registers.
    #[default]
    Auto,
    /// Unique writes and reads of single values (`write`, `read`, `cas`, rw `txn`).
    Register,
    /// Unique appends and reads of whole lists (`append`, list-append `txn`).
    ListAppend,
}

impl Workload {
    /// Decides `Auto` from the micro-ops of a history.
    pub fn resolve(self, mops: &[Vec<Mop<'_>>]) -> Workload {
        match self {
            Workload::Auto if mops.iter().flatten().any(|m| m.kind == MopKind::Append) => {
                Workload::ListAppend
            }
            Workload::Auto => Workload::Register,
            w => w,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Workload::Auto => "auto",
            Workload::Register => "register",
            Workload::ListAppend => "list-append",
        }
    }
}

/// What a micro-op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MopKind {
    Append,
    Write,
    Read,
}

/// One micro-op: an append, a write or a read of one key. A read's value is what it
/// returned (a list for list-append, a value for a register).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mop<'h> {
    pub kind: MopKind,
    pub key: &'h Value,
    pub value: &'h Value,
}

/// Seconds since the test started, for sentences: `1.204 s`.
pub fn secs(ns: u64) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// A key as a person writes it: `x` for the string "x", `nil`'s key as "the object".
pub fn key_name(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        Value::Nil => "the object".to_string(),
        other => other.to_string(),
    }
}

/// " on n1" when the node is known, for sentences about which replica answered.
pub fn node_suffix(node: Option<&str>) -> String {
    node.map(|n| format!(" on {n}")).unwrap_or_default()
}

/// A bounded list of values for sentences: `1, 2 and 3`, or `1, 2, 3 and 9 more`.
pub fn list_values<T: std::fmt::Display>(items: &[T], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(|v| v.to_string()).collect();
    let rest = items.len().saturating_sub(max);
    match (shown.len(), rest) {
        (0, _) => "nothing".to_string(),
        (1, 0) => shown[0].clone(),
        (n, 0) => format!("{} and {}", shown[..n - 1].join(", "), shown[n - 1]),
        (_, r) => format!("{} and {r} more", shown.join(", ")),
    }
}

/// A list for sentences: `[1 2 3]`, or `[1 2 3 4 5 ... 98 99 100] (100 elements)` when long.
pub fn show_list(items: &[Value]) -> String {
    let join = |xs: &[Value]| {
        xs.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if items.len() <= 12 {
        format!("[{}]", join(items))
    } else {
        let n = items.len();
        format!(
            "[{} ... {}] ({n} elements)",
            join(&items[..5]),
            join(&items[n - 3..])
        )
    }
}

/// Checks the budget every so many steps, so tight loops stay cheap. Steps count as the
/// budget's search states (the linear checkers have no search; a step is their unit of
/// work), so `--max-states` bounds them too.
pub(crate) struct Pace<'b> {
    budget: &'b crate::Budget,
    steps: u64,
    spent: u64,
}

impl<'b> Pace<'b> {
    pub fn new(budget: &'b crate::Budget) -> Pace<'b> {
        Pace {
            budget,
            steps: 0,
            spent: 0,
        }
    }

    /// One more step; the first and every 1024th after spend the steps so far and check
    /// time, states and cancellation.
    pub fn tick(&mut self) -> Result<(), crate::Exhausted> {
        self.steps += 1;
        if self.steps % 1024 == 1 {
            let n = self.steps - self.spent;
            self.spent = self.steps;
            self.budget.spend(n)
        } else {
            Ok(())
        }
    }

    /// Checks the memory budget against what a checker holds, by its own estimate
    /// ([`working_bytes`]).
    pub fn hold(&self, bytes: u64) -> Result<(), crate::Exhausted> {
        self.budget.check_memory(bytes)
    }
}

/// A linear checker's working memory, roughly: its per-op view and micro-ops, and about as
/// much again for the per-key and per-process indices it builds from them.
pub(crate) fn working_bytes(ops: usize, mops: usize) -> u64 {
    let per_op = std::mem::size_of::<Operation<'_>>() as u64;
    let per_mop = std::mem::size_of::<Mop<'_>>() as u64;
    2 * (ops as u64 * per_op + mops as u64 * per_mop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::dsl::{la, rw, Builder};

    #[test]
    fn txn_reads_are_dropped_unless_ok() {
        let mut b = Builder::new();
        b.txn(0, la("ax1 rx_"));
        b.info(0, Value::Nil);
        b.txn_ok(1, rw("wy2 ry2"));
        let h = b.build();
        let ops = operations(&h);
        let m0 = ops[0].mops().unwrap();
        assert_eq!(m0.len(), 1);
        assert_eq!(m0[0].kind, MopKind::Append);
        let m1 = ops[1].mops().unwrap();
        assert_eq!(m1.len(), 2);
        assert_eq!(m1[1].kind, MopKind::Read);
        assert_eq!(m1[1].value, &Value::Int(2));
    }

    #[test]
    fn single_ops_take_their_key_from_the_key_field() {
        let mut b = Builder::new();
        b.op_ok(0, "write", 3.into(), 3.into());
        let mut h = b.build().into_ops();
        h[0].extra.insert("key", "x".into());
        h[0].extra.insert("session", "alice".into());
        let h = History::from_ops(h).unwrap();
        let ops = operations(&h);
        assert_eq!(ops[0].key(), &Value::from("x"));
        assert_eq!(ops[0].session(), Some(&Value::from("alice")));
        let m = ops[0].mops().unwrap();
        assert_eq!((m[0].kind, m[0].key), (MopKind::Write, &Value::from("x")));
    }

    #[test]
    fn final_reads_are_marked_three_ways() {
        let mut b = Builder::new();
        for _ in 0..4 {
            b.op_ok(0, "read", Value::Nil, 1.into());
        }
        b.op_ok(0, "final-read", Value::Nil, 1.into());
        let mut ops = b.build().into_ops();
        ops[0].extra.insert("final", true.into());
        ops[2].extra.insert("final?", true.into());
        ops[4].extra.insert("final", false.into());
        let h = History::from_ops(ops).unwrap();
        let marked: Vec<bool> = operations(&h).iter().map(|o| o.is_final_read()).collect();
        assert_eq!(marked, vec![true, true, false, false, true]);
    }

    #[test]
    fn independent_tuples_split_into_key_and_value() {
        let mut b = Builder::new();
        b.op_ok(
            0,
            "read",
            vec![Value::from("x"), Value::Nil].into(),
            vec![Value::from("x"), 3.into()].into(),
        );
        b.op_ok(
            0,
            "cas",
            vec![Value::from("y"), vec![1, 2].into()].into(),
            vec![Value::from("y"), vec![1, 2].into()].into(),
        );
        let h = b.build();
        let ops = operations_independent(&h, true);
        assert_eq!(
            (ops[0].key(), ops[0].value()),
            (&Value::from("x"), &Value::Int(3))
        );
        let m = ops[1].mops().unwrap();
        assert_eq!(
            (m[0].key, m[0].value, m[1].value),
            (&Value::from("y"), &Value::Int(1), &Value::Int(2))
        );
        // Without the option the tuple is the value.
        assert_eq!(operations(&h)[0].key(), &Value::Nil);
    }

    #[test]
    fn an_ok_cas_reads_then_writes() {
        let mut b = Builder::new();
        b.op_ok(0, "cas", vec![1, 2].into(), vec![1, 2].into());
        let h = b.build();
        let m = operations(&h)[0].mops().unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].kind, m[0].value), (MopKind::Read, &Value::Int(1)));
        assert_eq!((m[1].kind, m[1].value), (MopKind::Write, &Value::Int(2)));
    }

    #[test]
    fn a_malformed_txn_says_why() {
        let mut b = Builder::new();
        b.op_ok(0, "txn", Value::Int(3), Value::Int(3));
        let h = b.build();
        let err = operations(&h)[0].mops().unwrap_err();
        assert!(err.contains("list"), "{err}");
    }

    #[test]
    fn long_lists_are_shortened_in_sentences() {
        let v: Vec<Value> = (1..=20).map(Value::Int).collect();
        assert_eq!(show_list(&v[..3]), "[1 2 3]");
        assert_eq!(show_list(&v), "[1 2 3 4 5 ... 18 19 20] (20 elements)");
    }

    #[test]
    fn lists_of_values_are_bounded() {
        assert_eq!(list_values(&[1, 2, 3], 5), "1, 2 and 3");
        assert_eq!(list_values(&[1, 2, 3, 4], 2), "1, 2 and 2 more");
        assert_eq!(list_values::<i64>(&[], 2), "nothing");
    }
}
