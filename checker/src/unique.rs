//! Unique writes: workloads whose writes (or appends) are unique per key, so that every
//! value a read returns names the one write that produced it. Values written more than once
//! are ambiguous and the checkers skip reads of them (and say how many).

use faultline_core::Value;
use rustc_hash::FxHashMap;

use crate::operation::{Mop, MopKind};

/// What a (key, value) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The write with this id.
    One(u32),
    /// Written more than once.
    Many,
    /// Never written by an ok or indeterminate op.
    None,
}

/// Every write micro-op of one kind, indexed by (key, value).
pub(crate) struct Unique<'h> {
    /// (op, key, value) per write micro-op, in op order.
    pub all: Vec<(usize, &'h Value, &'h Value)>,
    index: FxHashMap<(&'h Value, &'h Value), Option<u32>>,
}

impl<'h> Unique<'h> {
    /// Indexes the micro-ops of `kind` in `mops` (one list per op; failed ops have none).
    pub fn new(mops: &[Vec<Mop<'h>>], kind: MopKind) -> Unique<'h> {
        let mut u = Unique {
            all: Vec::new(),
            index: FxHashMap::default(),
        };
        for (i, ms) in mops.iter().enumerate() {
            for m in ms.iter().filter(|m| m.kind == kind) {
                let id = u.all.len() as u32;
                u.all.push((i, m.key, m.value));
                u.index
                    .entry((m.key, m.value))
                    .and_modify(|e| *e = None)
                    .or_insert(Some(id));
            }
        }
        u
    }

    pub fn get(&self, key: &Value, value: &Value) -> Lookup {
        match self.index.get(&(key, value)) {
            Some(Some(w)) => Lookup::One(*w),
            Some(None) => Lookup::Many,
            None => Lookup::None,
        }
    }

    /// The op of write `w`.
    pub fn op(&self, w: u32) -> usize {
        self.all[w as usize].0
    }

    pub fn value(&self, w: u32) -> &'h Value {
        self.all[w as usize].2
    }

    /// How many (key, value) pairs were written more than once.
    pub fn duplicates(&self) -> usize {
        self.index.values().filter(|v| v.is_none()).count()
    }
}
