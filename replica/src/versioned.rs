//! Multi-version values for the modes without a single order of writes (multi-leader,
//! leaderless): each key holds one version under `lww`, or every concurrent version
//! (siblings) under version vectors.
//!
//! A new version's vector is the writer's context (the merged vector of what it read) with the
//! coordinating node's counter bumped. It supersedes exactly the versions its vector dominates;
//! versions neither side dominates are siblings. Under `lww` the greatest (timestamp, node id)
//! wins and the other write is silently lost.

use crate::config::Conflict;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

pub type Vv = BTreeMap<String, u64>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub value: Value,
    pub vv: Vv,
    /// Wall-clock ms of the coordinating node (its offsettable clock).
    pub ts: u64,
    pub node: String,
}

impl Version {
    fn lww_key(&self) -> (u64, &str) {
        (self.ts, &self.node)
    }
}

/// `a` ≥ `b` component-wise.
pub fn dominates(a: &Vv, b: &Vv) -> bool {
    b.iter().all(|(k, v)| a.get(k).copied().unwrap_or(0) >= *v)
}

pub fn merge_vv(a: &mut Vv, b: &Vv) {
    for (k, v) in b {
        let e = a.entry(k.clone()).or_insert(0);
        *e = (*e).max(*v);
    }
}

/// Merge `v` into a key's versions; returns whether they changed.
pub fn merge_into(conflict: Conflict, cur: &mut Vec<Version>, v: Version) -> bool {
    match conflict {
        Conflict::Lww => {
            if cur.first().is_some_and(|c| c.lww_key() >= v.lww_key()) {
                return false;
            }
            cur.clear();
            cur.push(v);
            true
        }
        Conflict::Siblings => {
            if cur.iter().any(|c| dominates(&c.vv, &v.vv)) {
                return false;
            }
            cur.retain(|c| !dominates(&v.vv, &c.vv));
            cur.push(v);
            cur.sort_by(|a, b| a.lww_key().cmp(&b.lww_key()));
            true
        }
    }
}

#[derive(Debug, Default)]
pub struct Store {
    pub map: HashMap<String, Vec<Version>>,
    /// Highest counter this node used in a vector, and highest timestamp it stamped.
    pub counter: u64,
    pub last_ts: u64,
}

impl Store {
    pub fn get(&self, key: &str) -> &[Version] {
        self.map.get(key).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn merge(&mut self, conflict: Conflict, key: &str, v: Version) -> bool {
        merge_into(conflict, self.map.entry(key.to_string()).or_default(), v)
    }

    /// Stamp a new version coordinated by `me`. `ctx` None means "what this node holds for the
    /// key now" under lww (irrelevant there) and "nothing" under siblings.
    pub fn stamp(&mut self, me: &str, now_ms: u64, value: Value, ctx: Option<Vv>) -> Version {
        let mut vv = ctx.unwrap_or_default();
        let next = self.counter.max(vv.get(me).copied().unwrap_or(0)) + 1;
        self.counter = next;
        vv.insert(me.to_string(), next);
        // Timestamps strictly increase per node, so two writes in one ms still order.
        let ts = now_ms.max(self.last_ts + 1);
        self.last_ts = ts;
        Version {
            value,
            vv,
            ts,
            node: me.to_string(),
        }
    }

    /// Note a version seen from elsewhere, so our own stamps stay above what we issued before.
    pub fn observe(&mut self, me: &str, v: &Version) {
        if let Some(c) = v.vv.get(me) {
            self.counter = self.counter.max(*c);
        }
        if v.node == me {
            self.last_ts = self.last_ts.max(v.ts);
        }
    }
}

/// The merged vector of a set of versions: the context a client sends back to supersede them.
pub fn context_of(vs: &[Version]) -> Vv {
    let mut c = Vv::new();
    for v in vs {
        merge_vv(&mut c, &v.vv);
    }
    c
}

/// The client-facing read of a key's versions: (value, siblings, context, version).
pub fn present(
    conflict: Conflict,
    vs: &[Version],
) -> (Value, Option<Vec<Value>>, Option<Value>, Value) {
    let ctx = context_of(vs);
    let version = json!(ctx);
    match conflict {
        Conflict::Lww => (
            vs.last().map(|v| v.value.clone()).unwrap_or(Value::Null),
            None,
            None,
            version,
        ),
        Conflict::Siblings => {
            let sib: Vec<Value> = vs.iter().map(|v| v.value.clone()).collect();
            let value = match sib.len() {
                0 => Value::Null,
                1 => sib[0].clone(),
                _ => Value::Array(sib.clone()),
            };
            (value, Some(sib), Some(json!(ctx)), version)
        }
    }
}

/// Parse a client `context` (a version vector object).
pub fn parse_context(v: &Option<Value>) -> Result<Option<Vv>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value::<Vv>(v.clone())
            .map(Some)
            .map_err(|e| format!("context must be an object of node → counter: {e}")),
    }
}

/// A stable digest of a key's versions (for anti-entropy).
pub fn digest(vs: &[Version]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in vs {
        serde_json::to_string(v).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vv(p: &[(&str, u64)]) -> Vv {
        p.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn siblings_keep_concurrent_and_drop_dominated() {
        let mut cur = Vec::new();
        let a = Version {
            value: json!(1),
            vv: vv(&[("n1", 1)]),
            ts: 5,
            node: "n1".into(),
        };
        let b = Version {
            value: json!(2),
            vv: vv(&[("n2", 1)]),
            ts: 4,
            node: "n2".into(),
        };
        assert!(merge_into(Conflict::Siblings, &mut cur, a.clone()));
        assert!(merge_into(Conflict::Siblings, &mut cur, b.clone()));
        assert_eq!(cur.len(), 2);
        assert!(!merge_into(Conflict::Siblings, &mut cur, a.clone()));
        let c = Version {
            value: json!(3),
            vv: vv(&[("n1", 2), ("n2", 1)]),
            ts: 6,
            node: "n1".into(),
        };
        assert!(merge_into(Conflict::Siblings, &mut cur, c.clone()));
        assert_eq!(cur, vec![c]);
    }

    #[test]
    fn lww_keeps_the_latest_timestamp_then_node() {
        let mut cur = Vec::new();
        let a = Version {
            value: json!(1),
            vv: Vv::new(),
            ts: 5,
            node: "n1".into(),
        };
        let b = Version {
            value: json!(2),
            vv: Vv::new(),
            ts: 5,
            node: "n2".into(),
        };
        merge_into(Conflict::Lww, &mut cur, b.clone());
        assert!(!merge_into(Conflict::Lww, &mut cur, a));
        assert_eq!(cur, vec![b]);
    }
}
