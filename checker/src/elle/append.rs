//! List-append: the anomalies one can see without a cycle, and the ww / wr / rw edges.
//!
//! After Elle's `list_append.clj` (Kingsbury & Alvaro 2020, §4): appends are unique per key,
//! so a read's last element names the transaction whose write it saw (wr), each append's
//! predecessor in the key's version order names the write it overwrote (ww) and the reads
//! that missed it (rw, an anti-dependency). Without cycles we find: G1a (aborted read: an
//! element a failed transaction appended), G1b (intermediate read: a state in the middle of
//! another transaction's appends to the key), `internal` (a read disagreeing with the
//! transaction's own earlier appends and reads, Cerone et al.'s INT), `future-read` (a read
//! containing the transaction's own later append), `duplicate-elements`,
//! `incompatible-order`, `dirty-update` (a committed append on top of a failed one),
//! `lost-update` (two committed transactions read the same version of a key and both
//! appended to it) and `garbage-read` (an element nobody appended; not in Elle, where the
//! initial empty list makes it impossible).

use rustc_hash::{FxHashMap, FxHashSet};

use super::explain::{key as key_str, list, txn_ref, DataExplainer};
use super::graph::{EdgeList, RW, WR, WW};
use super::txns::{Elem, Mop, Outcome, TxnId, Txns};
use super::versions::{for_each_read, Incompatible, ListOrders, INIT};
use super::Findings;
use crate::verdict::Anomaly;

/// What the analysis needs to explain edges later.
pub struct ListAppend<'t> {
    txns: &'t Txns,
    orders: ListOrders,
    /// (key, element) -> the transaction that appended it, whatever its outcome.
    writer: FxHashMap<(u32, Elem), TxnId>,
}

/// Infers version orders, finds the anomalies that need no cycle, and adds data edges.
/// Fails (for an unknown verdict) when an element was appended twice to one key.
pub fn analyse<'t>(
    txns: &'t Txns,
    edges: &mut EdgeList,
    found: &mut Findings,
) -> Result<ListAppend<'t>, String> {
    let mut writer: FxHashMap<(u32, Elem), TxnId> = FxHashMap::default();
    let mut intermediate: FxHashSet<(u32, Elem)> = FxHashSet::default();
    for t in 0..txns.len() as TxnId {
        let mut last: FxHashMap<u32, Elem> = FxHashMap::default();
        for m in txns.mops(t) {
            if let Mop::Append { key, elem } = *m {
                if let Some(&other) = writer.get(&(key, elem)) {
                    return Err(format!(
                        "{} appended {} to {} again ({} did first); list-append checking needs every appended value to be unique per key",
                        txn_ref(txns, t),
                        txns.values.value(elem),
                        key_str(txns.key(key)),
                        txn_ref(txns, other)
                    ));
                }
                writer.insert((key, elem), t);
                if let Some(prev) = last.insert(key, elem) {
                    intermediate.insert((key, prev));
                }
            }
        }
    }
    let (orders, incompatible) = ListOrders::infer(txns);
    let la = ListAppend {
        txns,
        orders,
        writer,
    };
    for bad in incompatible {
        la.incompatible(&bad, found);
    }
    la.read_anomalies(&intermediate, found);
    la.internal(found);
    la.dirty_updates(found);
    la.lost_updates(found);
    la.edges(edges);
    Ok(la)
}

impl ListAppend<'_> {
    pub fn bytes(&self) -> u64 {
        self.orders.bytes() + self.writer.len() as u64 * 32
    }

    fn read_str(&self, key: u32, start: u32, len: u32) -> String {
        format!(
            "{} = {}",
            key_str(self.txns.key(key)),
            list(self.txns, self.txns.read(start, len))
        )
    }

    fn incompatible(&self, bad: &Incompatible, found: &mut Findings) {
        let t = self.txns;
        let (a, b) = (bad.read.0, bad.longest.0);
        found.push(
            Anomaly::new(
                "incompatible-order",
                vec![t.txns[a as usize].index(), t.txns[b as usize].index()],
                format!(
                    "{} read {} and {} read {}: neither is a prefix of the other, so no single order of appends to {} explains both.",
                    txn_ref(t, a),
                    self.read_str(bad.key, bad.read.1, bad.read.2),
                    txn_ref(t, b),
                    self.read_str(bad.key, bad.longest.1, bad.longest.2),
                    key_str(t.key(bad.key)),
                ),
            )
            .with_key(t.key(bad.key).clone()),
        );
    }

    /// Duplicates, aborted reads, garbage reads and intermediate reads, read by read.
    fn read_anomalies(&self, intermediate: &FxHashSet<(u32, Elem)>, found: &mut Findings) {
        let t = self.txns;
        let mut seen: FxHashSet<Elem> = FxHashSet::default();
        for_each_read(t, |r, key, start, len| {
            let read = t.read(start, len);
            let ok = t.txns[r as usize].outcome == Outcome::Ok;
            let index = t.txns[r as usize].index();
            let k = t.key(key).clone();
            seen.clear();
            let mut dup = None;
            for &e in read {
                if !seen.insert(e) && dup.is_none() {
                    dup = Some(e);
                }
            }
            if let Some(e) = dup {
                let times = read.iter().filter(|&&x| x == e).count();
                found.push(
                    Anomaly::new(
                        "duplicate-elements",
                        vec![index],
                        format!(
                            "{} read {}, in which {} appears {times} times; every element is appended once.",
                            txn_ref(t, r),
                            self.read_str(key, start, len),
                            t.values.value(e)
                        ),
                    )
                    .with_key(k.clone()),
                );
            }
            if !ok {
                return;
            }
            for &e in read {
                match self.writer.get(&(key, e)) {
                    Some(&w) if t.txns[w as usize].outcome == Outcome::Fail => {
                        found.push(
                            Anomaly::new(
                                "G1a",
                                vec![index, t.txns[w as usize].index()],
                                format!(
                                    "{} read {}, which includes {}, appended by {}, which failed: an aborted read.",
                                    txn_ref(t, r),
                                    self.read_str(key, start, len),
                                    t.values.value(e),
                                    txn_ref(t, w)
                                ),
                            )
                            .with_key(k.clone()),
                        );
                    }
                    Some(_) => {}
                    None => found.push(
                        Anomaly::new(
                            "garbage-read",
                            vec![index],
                            format!(
                                "{} read {}, but no transaction appended {} to {}.",
                                txn_ref(t, r),
                                self.read_str(key, start, len),
                                t.values.value(e),
                                key_str(&k)
                            ),
                        )
                        .with_key(k.clone()),
                    ),
                }
            }
            if let Some(&e) = read.last() {
                if intermediate.contains(&(key, e)) {
                    if let Some(&w) = self.writer.get(&(key, e)) {
                        if w != r {
                            found.push(
                                Anomaly::new(
                                    "G1b",
                                    vec![index, t.txns[w as usize].index()],
                                    format!(
                                        "{} read {}, ending in {}, which {} appended to {} before appending more to it: an intermediate read.",
                                        txn_ref(t, r),
                                        self.read_str(key, start, len),
                                        t.values.value(e),
                                        txn_ref(t, w),
                                        key_str(&k)
                                    ),
                                )
                                .with_key(k),
                            );
                        }
                    }
                }
            }
        });
    }

    /// Reads that disagree with the transaction's own earlier micro-ops on the key
    /// (`internal`) or contain its own later appends (`future-read`).
    fn internal(&self, found: &mut Findings) {
        let t = self.txns;
        // Per key: what the transaction knows the list is: (known prefix?, elements).
        let mut state: FxHashMap<u32, (bool, Vec<Elem>)> = FxHashMap::default();
        for r in 0..t.len() as TxnId {
            if t.txns[r as usize].outcome != Outcome::Ok {
                continue;
            }
            state.clear();
            let mops = t.mops(r);
            for (i, m) in mops.iter().enumerate() {
                match *m {
                    Mop::Append { key, elem } => {
                        let s = state.entry(key).or_insert((false, Vec::new()));
                        s.1.push(elem);
                    }
                    Mop::ReadList { key, start, len } => {
                        let read = t.read(start, len);
                        let k = t.key(key).clone();
                        if let Some(later) = mops[i + 1..].iter().find_map(|m| match *m {
                            Mop::Append { key: k2, elem } if k2 == key && read.contains(&elem) => {
                                Some(elem)
                            }
                            _ => None,
                        }) {
                            found.push(
                                Anomaly::new(
                                    "future-read",
                                    vec![t.txns[r as usize].index()],
                                    format!(
                                        "{} read {}, which includes {}, an element it appends only later.",
                                        txn_ref(t, r),
                                        self.read_str(key, start, len),
                                        t.values.value(later)
                                    ),
                                )
                                .with_key(k.clone()),
                            );
                        }
                        if let Some((known, expect)) = state.get(&key) {
                            let fine = if *known {
                                read == &expect[..]
                            } else {
                                read.ends_with(expect)
                            };
                            if !fine {
                                let shown = if *known {
                                    list(t, expect)
                                } else {
                                    let inner = list(t, expect);
                                    format!("[... {}]", &inner[1..inner.len() - 1])
                                };
                                found.push(
                                    Anomaly::new(
                                        "internal",
                                        vec![t.txns[r as usize].index()],
                                        format!(
                                            "{} read {}, but its own earlier micro-ops on {} mean it should have seen {shown}.",
                                            txn_ref(t, r),
                                            self.read_str(key, start, len),
                                            key_str(&k)
                                        ),
                                    )
                                    .with_key(k),
                                );
                            }
                        }
                        state.insert(key, (true, read.to_vec()));
                    }
                    _ => {}
                }
            }
        }
    }

    /// A committed append right after a failed one in a key's version order.
    fn dirty_updates(&self, found: &mut Findings) {
        let t = self.txns;
        for (key, order) in self.orders.order.iter().enumerate() {
            let mut failed: Option<(TxnId, Elem)> = None;
            for &e in order {
                let Some(&w) = self.writer.get(&(key as u32, e)) else {
                    continue;
                };
                match t.txns[w as usize].outcome {
                    Outcome::Fail => failed = Some((w, e)),
                    Outcome::Info => {}
                    Outcome::Ok => {
                        if let Some((f, fe)) = failed.take() {
                            let k = t.key(key as u32);
                            found.push(
                                Anomaly::new(
                                    "dirty-update",
                                    vec![t.txns[f as usize].index(), t.txns[w as usize].index()],
                                    format!(
                                        "{}, which failed, appended {} to {}, and {}, which committed, appended {} after it: a committed write built on an aborted one.",
                                        txn_ref(t, f),
                                        t.values.value(fe),
                                        key_str(k),
                                        txn_ref(t, w),
                                        t.values.value(e)
                                    ),
                                )
                                .with_key(k.clone()),
                            );
                        }
                    }
                }
            }
        }
    }

    /// Committed transactions that read the same version of a key and both appended to it.
    fn lost_updates(&self, found: &mut Findings) {
        let t = self.txns;
        // (key, version read) -> transactions that read it first and then appended.
        let mut groups: FxHashMap<(u32, Elem, u32), Vec<TxnId>> = FxHashMap::default();
        for r in 0..t.len() as TxnId {
            if t.txns[r as usize].outcome != Outcome::Ok {
                continue;
            }
            let mut first_read: FxHashMap<u32, (Elem, u32)> = FxHashMap::default();
            let mut wrote: FxHashSet<u32> = FxHashSet::default();
            for m in t.mops(r) {
                match *m {
                    Mop::ReadList { key, start, len } if !wrote.contains(&key) => {
                        first_read
                            .entry(key)
                            .or_insert((t.read(start, len).last().copied().unwrap_or(INIT), len));
                    }
                    Mop::Append { key, .. } => {
                        let first_write = wrote.insert(key);
                        if let (true, Some(&(v, len))) = (first_write, first_read.get(&key)) {
                            groups.entry((key, v, len)).or_default().push(r);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut cases: Vec<_> = groups.into_iter().filter(|(_, g)| g.len() > 1).collect();
        cases.sort_by_key(|(_, g)| g[0]);
        for ((key, v, _), group) in cases {
            let k = t.key(key);
            let version = if v == INIT {
                "the initial empty list".to_string()
            } else {
                format!("the version ending in {}", t.values.value(v))
            };
            let who: Vec<String> = group.iter().map(|&g| txn_ref(t, g)).collect();
            found.push(
                Anomaly::new(
                    "lost-update",
                    group.iter().map(|&g| t.txns[g as usize].index()).collect(),
                    format!(
                        "{} all read {version} of {} and then appended to it, and all committed: each update was made without seeing the others.",
                        who.join(" and "),
                        key_str(k)
                    ),
                )
                .with_key(k.clone()),
            );
        }
    }

    /// Data edges: wr from an element's writer to each read ending in it; ww from the
    /// writer of an append's predecessor; rw from each read ending in the predecessor.
    fn edges(&self, edges: &mut EdgeList) {
        let t = self.txns;
        let possible = |w: TxnId| t.txns[w as usize].possible();
        let mut readers: Vec<(u32, Elem, TxnId)> = Vec::new();
        for_each_read(t, |r, key, start, len| {
            let last = t.read(start, len).last().copied();
            readers.push((key, last.unwrap_or(INIT), r));
            if let Some(e) = last {
                if let Some(&w) = self.writer.get(&(key, e)) {
                    if possible(w) {
                        edges.add(w, r, WR);
                    }
                }
            }
        });
        readers.sort_unstable();
        readers.dedup();
        for a in 0..t.len() as TxnId {
            if !possible(a) {
                continue;
            }
            for m in t.mops(a) {
                let Mop::Append { key, elem } = *m else {
                    continue;
                };
                let prev = self.orders.prev(key, elem);
                if prev != INIT {
                    if let Some(&w) = self.writer.get(&(key, prev)) {
                        if possible(w) {
                            edges.add(w, a, WW);
                        }
                    }
                }
                let from = readers.partition_point(|&(k, e, _)| (k, e) < (key, prev));
                for &(k, e, r) in &readers[from..] {
                    if (k, e) != (key, prev) {
                        break;
                    }
                    edges.add(r, a, RW);
                }
            }
        }
    }

    fn last_of(&self, t: TxnId, key: u32, last: Elem) -> bool {
        self.txns.mops(t).iter().any(|m| match *m {
            Mop::ReadList { key: k, start, len } => {
                k == key && self.txns.read(start, len).last().copied().unwrap_or(INIT) == last
            }
            _ => false,
        })
    }
}

impl DataExplainer for ListAppend<'_> {
    fn why(&self, a: TxnId, b: TxnId, kind: u8, an: &str, bn: &str) -> Option<String> {
        let t = self.txns;
        let v = |e: Elem| t.values.value(e);
        match kind {
            WR => t.mops(b).iter().find_map(|m| match *m {
                Mop::ReadList { key, start, len } => {
                    let e = *t.read(start, len).last()?;
                    (self.writer.get(&(key, e)) == Some(&a)).then(|| {
                        format!("{bn} observed {an}'s append of {} to {}", v(e), key_str(t.key(key)))
                    })
                }
                _ => None,
            }),
            WW | RW => t.mops(b).iter().find_map(|m| {
                let Mop::Append { key, elem } = *m else {
                    return None;
                };
                let prev = self.orders.prev(key, elem);
                let k = key_str(t.key(key));
                if kind == WW {
                    (prev != INIT && self.writer.get(&(key, prev)) == Some(&a)).then(|| {
                        format!("{bn} appended {} after {an} appended {} to {k}", v(elem), v(prev))
                    })
                } else if !self.last_of(a, key, prev) {
                    None
                } else if prev == INIT {
                    Some(format!(
                        "{an} observed the initial (empty) state of {k}, which {bn} changed by appending {}",
                        v(elem)
                    ))
                } else {
                    Some(format!("{an} did not observe {bn}'s append of {} to {k}", v(elem)))
                }
            }),
            _ => None,
        }
    }
}
