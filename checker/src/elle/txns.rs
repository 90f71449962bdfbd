//! Transactions read out of a history into a compact, interned form.
//!
//! A transaction is a client op with `f = "txn"` whose value is a list of Elle micro-ops
//! `[f, key, value]`. Keys become dense `u32`s and values become [`Elem`]s, so the analysis
//! works on integers and the history's `Value` trees are touched once. Outcomes follow
//! `docs/semantics.md`: `ok` committed, `fail` did not, `info` (or no completion at all) may
//! or may not have; an indeterminate transaction's reads are unknown unless it recorded them.

use faultline_core::{History, OpType, Value};
use rustc_hash::FxHashMap;

/// Index of a transaction in [`Txns::txns`]; also its vertex in the dependency graph.
pub type TxnId = u32;

/// An interned value: a non-negative integer is itself, anything else (negative integers,
/// strings, lists, nil) is an index into the interner with the top bit set.
pub type Elem = u64;

const INTERNED: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Info,
    Fail,
}

/// Which micro-ops a workload allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    ListAppend,
    RwRegister,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mop {
    Append {
        key: u32,
        elem: Elem,
    },
    Write {
        key: u32,
        elem: Elem,
    },
    /// A list read: `len` elements from `start` in [`Txns::elems`].
    ReadList {
        key: u32,
        start: u32,
        len: u32,
    },
    /// A register read; nil is the interned nil.
    ReadReg {
        key: u32,
        elem: Elem,
    },
    /// A read whose result was not recorded (an indeterminate transaction's nil).
    ReadUnknown {
        key: u32,
    },
}

impl Mop {
    pub fn key(&self) -> u32 {
        match *self {
            Mop::Append { key, .. }
            | Mop::Write { key, .. }
            | Mop::ReadList { key, .. }
            | Mop::ReadReg { key, .. }
            | Mop::ReadUnknown { key } => key,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Txn {
    /// History index of the invocation.
    pub invoke: u64,
    /// History index of the completion, if there is one.
    pub complete: Option<u64>,
    pub outcome: Outcome,
    pub process: u64,
    mops: (u32, u32),
}

impl Txn {
    /// The history index that names this transaction in anomalies: its completion, or its
    /// invocation when it never completed.
    pub fn index(&self) -> u64 {
        self.complete.unwrap_or(self.invoke)
    }

    /// Committed or possibly committed: a vertex that can carry dependency edges.
    pub fn possible(&self) -> bool {
        self.outcome != Outcome::Fail
    }
}

/// Why a history's transactions cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("event {index}: {message}")]
pub struct TxnError {
    pub index: u64,
    pub message: String,
}

/// Interns values that are not small non-negative integers.
#[derive(Default)]
pub struct Interner {
    ids: FxHashMap<Value, u64>,
    values: Vec<Value>,
}

impl Interner {
    pub fn elem(&mut self, v: &Value) -> Elem {
        if let Value::Int(i) = v {
            if *i >= 0 {
                return *i as u64;
            }
        }
        if let Some(&id) = self.ids.get(v) {
            return id | INTERNED;
        }
        let id = self.values.len() as u64;
        self.values.push(v.clone());
        self.ids.insert(v.clone(), id);
        id | INTERNED
    }

    pub fn value(&self, e: Elem) -> Value {
        if e & INTERNED == 0 {
            Value::Int(e as i64)
        } else {
            self.values
                .get((e & !INTERNED) as usize)
                .cloned()
                .unwrap_or(Value::Nil)
        }
    }

    fn bytes(&self) -> usize {
        self.values.len() * 96
    }
}

/// All transactions of a history.
pub struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    /// Elements of list reads, back to back.
    pub elems: Vec<Elem>,
    pub keys: Vec<Value>,
    pub values: Interner,
    pub nil: Elem,
    /// Client ops that are not transactions, skipped.
    pub skipped: usize,
}

impl Txns {
    pub fn mops(&self, t: TxnId) -> &[Mop] {
        let (a, b) = self.txns[t as usize].mops;
        &self.mops[a as usize..b as usize]
    }

    pub fn read(&self, start: u32, len: u32) -> &[Elem] {
        &self.elems[start as usize..(start + len) as usize]
    }

    pub fn key(&self, k: u32) -> &Value {
        &self.keys[k as usize]
    }

    pub fn len(&self) -> usize {
        self.txns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.txns.is_empty()
    }

    /// Approximate bytes held, for the memory budget.
    pub fn bytes(&self) -> u64 {
        (self.txns.len() * std::mem::size_of::<Txn>()
            + self.mops.len() * std::mem::size_of::<Mop>()
            + self.elems.len() * 8
            + self.keys.len() * 64
            + self.values.bytes()) as u64
    }

    /// Reads every `txn` op of `history` as `workload` micro-ops.
    pub fn from_history(history: &History, workload: Workload) -> Result<Txns, TxnError> {
        let mut values = Interner::default();
        let nil = values.elem(&Value::Nil);
        let mut t = Txns {
            txns: Vec::new(),
            mops: Vec::new(),
            elems: Vec::new(),
            keys: Vec::new(),
            values,
            nil,
            skipped: 0,
        };
        let mut key_ids: FxHashMap<Value, u32> = FxHashMap::default();
        for (inv, done) in history.client_pairs() {
            if inv.f != "txn" {
                t.skipped += 1;
                continue;
            }
            let outcome = match done.map(|d| d.kind) {
                Some(OpType::Ok) => Outcome::Ok,
                Some(OpType::Fail) => Outcome::Fail,
                _ => Outcome::Info,
            };
            // An ok transaction's result is its completion; a fail or info one usually
            // echoes the invocation, but a client may have recorded more.
            let value = match done {
                Some(d) if outcome == Outcome::Ok || matches!(d.value, Value::List(_)) => &d.value,
                _ => &inv.value,
            };
            let index = done.map_or(inv.index, |d| d.index);
            let Value::List(mops) = value else {
                return Err(TxnError {
                    index,
                    message: format!(
                        "field `value`: a txn's value must be a list of micro-ops, not {}",
                        value.type_name()
                    ),
                });
            };
            let start = t.mops.len() as u32;
            for (i, m) in mops.iter().enumerate() {
                let mop = t
                    .parse_mop(m, workload, outcome, &mut key_ids)
                    .map_err(|message| TxnError {
                        index,
                        message: format!("field `value`, micro-op {i}: {message}"),
                    })?;
                t.mops.push(mop);
            }
            let process = inv.process.client().unwrap_or(u64::MAX);
            t.txns.push(Txn {
                invoke: inv.index,
                complete: done.map(|d| d.index),
                outcome,
                process,
                mops: (start, t.mops.len() as u32),
            });
        }
        Ok(t)
    }

    fn parse_mop(
        &mut self,
        m: &Value,
        workload: Workload,
        outcome: Outcome,
        key_ids: &mut FxHashMap<Value, u32>,
    ) -> Result<Mop, String> {
        let Some([f, k, v]) = m.as_list() else {
            return Err(format!("expected [f, key, value], found {m}"));
        };
        let key = match key_ids.get(k) {
            Some(&id) => id,
            None => {
                let id = self.keys.len() as u32;
                self.keys.push(k.clone());
                key_ids.insert(k.clone(), id);
                id
            }
        };
        let f = f.as_str().unwrap_or("");
        Ok(match (workload, f) {
            (Workload::ListAppend, "append") => Mop::Append {
                key,
                elem: self.values.elem(v),
            },
            (Workload::RwRegister, "w") => Mop::Write {
                key,
                elem: self.values.elem(v),
            },
            (_, "r") if v.is_nil() && outcome != Outcome::Ok => Mop::ReadUnknown { key },
            (Workload::ListAppend, "r") => {
                let items: &[Value] = match v {
                    Value::List(items) => items,
                    // Elle reads an ok transaction's nil as the empty list.
                    Value::Nil => &[],
                    other => {
                        return Err(format!(
                            "a list-append read returns a list, not {}",
                            other.type_name()
                        ))
                    }
                };
                let start = self.elems.len() as u32;
                for x in items {
                    let e = self.values.elem(x);
                    self.elems.push(e);
                }
                Mop::ReadList {
                    key,
                    start,
                    len: items.len() as u32,
                }
            }
            (Workload::RwRegister, "r") => Mop::ReadReg {
                key,
                elem: self.values.elem(v),
            },
            (Workload::ListAppend, other) => {
                return Err(format!(
                    "list-append micro-ops are \"append\" and \"r\", not {other:?}"
                ))
            }
            (Workload::RwRegister, other) => {
                return Err(format!(
                    "rw-register micro-ops are \"w\" and \"r\", not {other:?}"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::dsl::{la, rw, Builder};

    #[test]
    fn reads_list_append_transactions() {
        let mut b = Builder::new();
        b.txn_ok(0, la("ax1 rx1"))
            .txn(1, la("ay2"))
            .fail(1, la("ay2"));
        let t = Txns::from_history(&b.build(), Workload::ListAppend).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.txns[0].outcome, Outcome::Ok);
        assert_eq!(t.txns[0].index(), 1);
        assert_eq!(t.txns[1].outcome, Outcome::Fail);
        match t.mops(0)[1] {
            Mop::ReadList { start, len, .. } => assert_eq!(t.read(start, len), &[1]),
            other => panic!("{other:?}"),
        }
        assert_eq!(t.key(0), &Value::from("x"));
    }

    #[test]
    fn an_indeterminate_transactions_nil_read_is_unknown() {
        let mut b = Builder::new();
        b.txn(0, rw("wx1 rx1"));
        let t = Txns::from_history(&b.build(), Workload::RwRegister).unwrap();
        assert_eq!(t.txns[0].outcome, Outcome::Info);
        assert!(matches!(t.mops(0)[1], Mop::ReadUnknown { .. }));
    }

    #[test]
    fn a_malformed_micro_op_names_the_event_and_field() {
        let mut b = Builder::new();
        b.txn_ok(0, Value::List(vec![Value::Int(3)]));
        let err = Txns::from_history(&b.build(), Workload::ListAppend)
            .err()
            .expect("should fail");
        assert_eq!(err.index, 1);
        assert!(err.to_string().contains("micro-op 0"), "{err}");
        let mut b = Builder::new();
        b.txn_ok(0, rw("wx1"));
        let err = Txns::from_history(&b.build(), Workload::ListAppend)
            .err()
            .expect("should fail");
        assert!(err.message.contains("\"w\""), "{err}");
    }

    #[test]
    fn strings_and_negative_numbers_are_interned() {
        let mut i = Interner::default();
        let a = i.elem(&Value::from("a"));
        let n = i.elem(&Value::Int(-4));
        assert_ne!(a, n);
        assert_eq!(i.elem(&Value::from("a")), a);
        assert_eq!(i.value(n), Value::Int(-4));
        assert_eq!(i.value(7), Value::Int(7));
    }
}
