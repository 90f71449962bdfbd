//! The deterministic key-value state machine of the log-based modes (leader-* and raft): every
//! replica applies the same commands in the same order and ends in the same state.

use crate::protocol::MicroOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// A command as it is logged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "c", rename_all = "lowercase")]
pub enum Cmd {
    Write {
        key: String,
        value: Value,
    },
    Append {
        key: String,
        value: Value,
    },
    Cas {
        key: String,
        from: Value,
        to: Value,
    },
    Txn {
        ops: Vec<MicroOp>,
    },
    /// Written by a new leader so its term has an entry (and by raft for membership/blank).
    Noop,
}

/// Key → (value, log index of the write that produced it).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Kv {
    map: HashMap<String, (Value, u64)>,
}

impl Kv {
    pub fn read(&self, key: &str) -> (Value, u64) {
        self.map.get(key).cloned().unwrap_or((Value::Null, 0))
    }

    /// Apply `cmd` logged at `index`. On error nothing changes (the same error happens on every
    /// replica, so a failed cas in a log is a no-op everywhere). Returns the op's result value.
    pub fn apply(&mut self, cmd: &Cmd, index: u64) -> Result<Value, String> {
        match cmd {
            Cmd::Write { key, value } => {
                self.map.insert(key.clone(), (value.clone(), index));
                Ok(Value::Null)
            }
            Cmd::Append { key, value } => {
                let next = appended(self.read(key).0, value)?;
                self.map.insert(key.clone(), (next, index));
                Ok(Value::Null)
            }
            Cmd::Cas { key, from, to } => {
                if &self.read(key).0 != from {
                    return Err("cas-mismatch".into());
                }
                self.map.insert(key.clone(), (to.clone(), index));
                Ok(Value::Null)
            }
            Cmd::Txn { ops } => {
                // Stage every change first so a type error leaves nothing half-applied.
                let mut staged: HashMap<&str, Value> = HashMap::new();
                let mut out = Vec::with_capacity(ops.len());
                for MicroOp(f, k, v) in ops {
                    let cur = staged
                        .get(k.as_str())
                        .cloned()
                        .unwrap_or_else(|| self.read(k).0);
                    match f.as_str() {
                        "r" => out.push(MicroOp(f.clone(), k.clone(), cur)),
                        "w" => {
                            staged.insert(k, v.clone());
                            out.push(MicroOp(f.clone(), k.clone(), v.clone()));
                        }
                        "append" => {
                            staged.insert(k, appended(cur, v)?);
                            out.push(MicroOp(f.clone(), k.clone(), v.clone()));
                        }
                        other => return Err(format!("bad-request: unknown micro-op {other}")),
                    }
                }
                for (k, v) in staged {
                    self.map.insert(k.to_string(), (v, index));
                }
                serde_json::to_value(out).map_err(|e| e.to_string())
            }
            Cmd::Noop => Ok(Value::Null),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// `cur` with `v` appended; an absent key is an empty list.
pub fn appended(cur: Value, v: &Value) -> Result<Value, String> {
    match cur {
        Value::Null => Ok(Value::Array(vec![v.clone()])),
        Value::Array(mut a) => {
            a.push(v.clone());
            Ok(Value::Array(a))
        }
        _ => Err("type-mismatch: append to a key that holds a non-list value".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn txn_reads_its_own_writes_and_fails_whole() {
        let mut kv = Kv::default();
        kv.apply(
            &Cmd::Write {
                key: "s".into(),
                value: json!(1),
            },
            1,
        )
        .unwrap();
        let r = kv
            .apply(
                &Cmd::Txn {
                    ops: vec![
                        MicroOp("append".into(), "x".into(), json!(3)),
                        MicroOp("r".into(), "x".into(), Value::Null),
                        MicroOp("w".into(), "z".into(), json!(1)),
                    ],
                },
                2,
            )
            .unwrap();
        assert_eq!(
            r,
            json!([["append", "x", 3], ["r", "x", [3]], ["w", "z", 1]])
        );
        let bad = Cmd::Txn {
            ops: vec![
                MicroOp("w".into(), "q".into(), json!(1)),
                MicroOp("append".into(), "s".into(), json!(2)),
            ],
        };
        assert!(kv.apply(&bad, 3).is_err());
        assert_eq!(kv.read("q").0, Value::Null);
        assert_eq!(
            kv.apply(
                &Cmd::Cas {
                    key: "s".into(),
                    from: json!(2),
                    to: json!(3)
                },
                4
            ),
            Err("cas-mismatch".into())
        );
    }
}
