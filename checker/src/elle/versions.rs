//! Version-order inference: what order each key's versions were installed in.
//!
//! **List-append** (Elle's `list_append.clj`, after Adya's version order): every read of a
//! list shows the order of the appends before it, so each key's order is the longest read
//! of it, with duplicates dropped. Every other read must be a prefix of that one; a read
//! that is not is an `incompatible-order`. Appends never read are not placed: each is
//! known only to follow every observed one.
//!
//! **rw-register** (Elle's `rw_register.clj`): a register's value does not carry its
//! history, so the order is a graph, built from only these rules, every written value being
//! unique per key:
//! 1. *initial state*: nil precedes every value of the key that was read or written;
//! 2. *writes follow reads*: a committed transaction that read `v` from a key and then wrote
//!    `v'` to it orders `v < v'`.
//!
//! That is all. Real-time, process or serialization order are not used to infer versions
//! (Elle's optional `linearizable-keys?`/`sequential-keys?` are not implemented), so two
//! blind writes to a key stay unordered and the ww and rw edges between them are missed:
//! the inference is sound but incomplete. A key whose rule-2 edges form a cycle is reported
//! as `cyclic-versions` and keeps only its rule-1 edges.

use rustc_hash::{FxHashMap, FxHashSet};

use super::graph::{sccs, DepGraph, EdgeList, WW};
use super::txns::{Elem, Mop, Outcome, TxnId, Txns};

/// The state of a list before any append.
pub const INIT: Elem = u64::MAX;

/// Each key's inferred order of appends.
pub struct ListOrders {
    /// Per key: its elements in version order.
    pub order: Vec<Vec<Elem>>,
    /// (key, element) -> position in `order[key]`.
    pub pos: FxHashMap<(u32, Elem), u32>,
    /// Per key: the read the order came from, as (transaction, start, len).
    pub longest: Vec<Option<(TxnId, u32, u32)>>,
}

/// Two reads of a key that no single order of appends explains.
pub struct Incompatible {
    pub key: u32,
    pub read: (TxnId, u32, u32),
    pub longest: (TxnId, u32, u32),
}

impl ListOrders {
    /// Infers each key's order from the reads of committed or indeterminate transactions.
    pub fn infer(txns: &Txns) -> (ListOrders, Vec<Incompatible>) {
        let nkeys = txns.keys.len();
        let mut longest: Vec<Option<(TxnId, u32, u32)>> = vec![None; nkeys];
        for_each_read(txns, |t, key, start, len| {
            let slot = &mut longest[key as usize];
            if slot.is_none_or(|(_, _, l)| len > l) {
                *slot = Some((t, start, len));
            }
        });
        let mut bad: Vec<Option<Incompatible>> = (0..nkeys).map(|_| None).collect();
        for_each_read(txns, |t, key, start, len| {
            let Some(l) = longest[key as usize] else {
                return;
            };
            if bad[key as usize].is_none()
                && !txns.read(l.1, l.2).starts_with(txns.read(start, len))
            {
                bad[key as usize] = Some(Incompatible {
                    key,
                    read: (t, start, len),
                    longest: l,
                });
            }
        });
        let mut order = vec![Vec::new(); nkeys];
        let mut pos = FxHashMap::default();
        for (key, l) in longest.iter().enumerate() {
            if let Some((_, start, len)) = *l {
                for &e in txns.read(start, len) {
                    if let std::collections::hash_map::Entry::Vacant(slot) =
                        pos.entry((key as u32, e))
                    {
                        slot.insert(order[key].len() as u32);
                        order[key].push(e);
                    }
                }
            }
        }
        (
            ListOrders {
                order,
                pos,
                longest,
            },
            bad.into_iter().flatten().collect(),
        )
    }

    /// The element appended just before `e` to `key`, or [`INIT`]. An element never read
    /// is known only to follow the last one observed.
    pub fn prev(&self, key: u32, e: Elem) -> Elem {
        let order = &self.order[key as usize];
        match self.pos.get(&(key, e)) {
            Some(&0) => INIT,
            Some(&p) => order[p as usize - 1],
            None => order.last().copied().unwrap_or(INIT),
        }
    }

    pub fn bytes(&self) -> u64 {
        (self.pos.len() * 32 + self.order.iter().map(|o| o.len() * 8 + 24).sum::<usize>()) as u64
    }
}

/// Calls `f(txn, key, start, len)` for every list read of an ok or info transaction.
pub fn for_each_read(txns: &Txns, mut f: impl FnMut(TxnId, u32, u32, u32)) {
    for (t, txn) in txns.txns.iter().enumerate() {
        if !txn.possible() {
            continue;
        }
        for m in txns.mops(t as TxnId) {
            if let Mop::ReadList { key, start, len } = *m {
                f(t as TxnId, key, start, len);
            }
        }
    }
}

/// Where an rw-register version edge came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Nil precedes everything.
    Initial,
    /// This committed transaction read the earlier value and wrote the later one.
    WritesFollowReads(TxnId),
}

/// A key whose writes-follow-reads edges form a cycle.
pub struct CyclicVersions {
    pub key: u32,
    /// The values on the cycle and the transactions whose reads and writes ordered them.
    pub values: Vec<Elem>,
    pub txns: Vec<TxnId>,
}

/// The inferred version graphs of every register.
pub struct RegisterVersions {
    /// (key, earlier, later) -> why.
    pub edges: FxHashMap<(u32, Elem, Elem), Source>,
    /// Per key, the version edges, for building transaction edges.
    pub by_key: Vec<Vec<(Elem, Elem)>>,
}

/// (key, value) pairs.
pub type KeyValues = Vec<(u32, Elem)>;

/// The value a transaction first read from each key before writing it, and the last value
/// it wrote to each key (Adya's external reads and writes).
pub fn external(txns: &Txns, t: TxnId) -> (KeyValues, KeyValues) {
    let mut reads: KeyValues = Vec::new();
    let mut writes: KeyValues = Vec::new();
    let mut touched: FxHashSet<u32> = FxHashSet::default();
    for m in txns.mops(t) {
        match *m {
            Mop::ReadReg { key, elem } => {
                let first = touched.insert(key);
                if first {
                    reads.push((key, elem));
                }
            }
            Mop::ReadUnknown { key } => {
                touched.insert(key);
            }
            Mop::Write { key, elem } => {
                touched.insert(key);
                match writes.iter_mut().find(|(k, _)| *k == key) {
                    Some(w) => w.1 = elem,
                    None => writes.push((key, elem)),
                }
            }
            _ => {}
        }
    }
    (reads, writes)
}

impl RegisterVersions {
    pub fn infer(
        txns: &Txns,
        writes_follow_reads: bool,
    ) -> (RegisterVersions, Vec<CyclicVersions>) {
        let nil = txns.nil;
        let mut initial: FxHashSet<(u32, Elem)> = FxHashSet::default();
        let mut wfr: Vec<FxHashMap<(Elem, Elem), TxnId>> =
            vec![FxHashMap::default(); txns.keys.len()];
        for (t, txn) in txns.txns.iter().enumerate() {
            if !txn.possible() {
                continue;
            }
            let (reads, writes) = external(txns, t as TxnId);
            for &(k, v) in writes.iter().chain(if txn.outcome == Outcome::Ok {
                &reads[..]
            } else {
                &[]
            }) {
                if v != nil {
                    initial.insert((k, v));
                }
            }
            if txn.outcome == Outcome::Ok && writes_follow_reads {
                for &(k, r) in &reads {
                    if let Some(&(_, w)) = writes.iter().find(|(wk, _)| *wk == k) {
                        if r != w && r != nil {
                            wfr[k as usize].entry((r, w)).or_insert(t as TxnId);
                        }
                    }
                }
            }
        }
        let mut edges = FxHashMap::default();
        let mut by_key = vec![Vec::new(); txns.keys.len()];
        for (k, v) in initial {
            edges.insert((k, nil, v), Source::Initial);
            by_key[k as usize].push((nil, v));
        }
        let mut cyclic = Vec::new();
        for (k, order) in wfr.into_iter().enumerate() {
            if order.is_empty() {
                continue;
            }
            if let Some(c) = version_cycle(k as u32, &order) {
                cyclic.push(c);
                continue;
            }
            for ((a, b), t) in order {
                edges.insert((k as u32, a, b), Source::WritesFollowReads(t));
                by_key[k].push((a, b));
            }
        }
        for v in by_key.iter_mut() {
            v.sort_unstable();
        }
        (RegisterVersions { edges, by_key }, cyclic)
    }
}

/// A cycle among one key's writes-follow-reads version edges, if there is one.
fn version_cycle(key: u32, order: &FxHashMap<(Elem, Elem), TxnId>) -> Option<CyclicVersions> {
    let mut ids: FxHashMap<Elem, u32> = FxHashMap::default();
    let mut values = Vec::new();
    let mut id = |v: Elem, values: &mut Vec<Elem>| {
        *ids.entry(v).or_insert_with(|| {
            values.push(v);
            values.len() as u32 - 1
        })
    };
    let mut list = EdgeList::default();
    for &(a, b) in order.keys() {
        let (x, y) = (id(a, &mut values), id(b, &mut values));
        list.add(x, y, WW);
    }
    let g = DepGraph::new(values.len(), list);
    let comp = sccs(&g, WW).pop()?;
    let mut in_comp: Vec<Elem> = comp.iter().map(|&i| values[i as usize]).collect();
    in_comp.sort_unstable();
    let mut why: Vec<TxnId> = order
        .iter()
        .filter(|((a, b), _)| in_comp.contains(a) && in_comp.contains(b))
        .map(|(_, &t)| t)
        .collect();
    why.sort_unstable();
    why.dedup();
    Some(CyclicVersions {
        key,
        values: in_comp,
        txns: why,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elle::txns::Workload;
    use faultline_core::dsl::{la, rw, Builder};

    #[test]
    fn the_longest_read_orders_a_key_and_unread_appends_follow_it() {
        let mut b = Builder::new();
        b.txn_ok(0, la("ax1 ax2"))
            .txn_ok(1, la("rx12 ax3"))
            .txn_ok(2, la("rx1"));
        let t = Txns::from_history(&b.build(), Workload::ListAppend).unwrap();
        let (o, bad) = ListOrders::infer(&t);
        assert!(bad.is_empty());
        assert_eq!(o.order[0], vec![1, 2]);
        assert_eq!(o.prev(0, 1), INIT);
        assert_eq!(o.prev(0, 2), 1);
        assert_eq!(
            o.prev(0, 3),
            2,
            "3 was never read: it follows the last observed"
        );
    }

    #[test]
    fn reads_that_are_not_prefixes_are_incompatible() {
        let mut b = Builder::new();
        b.txn_ok(0, la("rx12")).txn_ok(1, la("rx132"));
        let t = Txns::from_history(&b.build(), Workload::ListAppend).unwrap();
        let (_, bad) = ListOrders::infer(&t);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].read.0, 0);
        assert_eq!(bad[0].longest.0, 1);
    }

    #[test]
    fn register_versions_come_from_nil_and_writes_following_reads() {
        let mut b = Builder::new();
        b.txn_ok(0, rw("wx1"))
            .txn_ok(1, rw("rx1 wx2"))
            .txn_ok(2, rw("wx3"));
        let t = Txns::from_history(&b.build(), Workload::RwRegister).unwrap();
        let (v, cyc) = RegisterVersions::infer(&t, true);
        assert!(cyc.is_empty());
        assert_eq!(v.edges.get(&(0, 1, 2)), Some(&Source::WritesFollowReads(1)));
        assert_eq!(v.edges.get(&(0, t.nil, 3)), Some(&Source::Initial));
        assert_eq!(v.edges.get(&(0, 2, 3)), None, "blind writes stay unordered");
        let (v, _) = RegisterVersions::infer(&t, false);
        assert_eq!(v.edges.get(&(0, 1, 2)), None);
    }

    #[test]
    fn cyclic_register_versions_are_found() {
        let mut b = Builder::new();
        b.txn_ok(0, rw("wx1"))
            .txn_ok(1, rw("rx1 wx2"))
            .txn_ok(2, rw("rx2 wx1"));
        let t = Txns::from_history(&b.build(), Workload::RwRegister);
        // Writing 1 twice is not unique, but version inference does not care.
        let (_, cyc) = RegisterVersions::infer(&t.unwrap(), true);
        assert_eq!(cyc.len(), 1);
        assert_eq!(cyc[0].values, vec![1, 2]);
        assert_eq!(cyc[0].txns, vec![1, 2]);
    }
}
