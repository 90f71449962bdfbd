//! rw-register: anomalies without cycles, and ww / wr / rw edges from the inferred (partial)
//! version graphs of [`RegisterVersions`].
//!
//! After Elle's `rw_register.clj`. Written values must be unique per key. A read of `v`
//! depends (wr) on the one transaction that wrote `v` as its final write of the key; for
//! each version edge `v1 < v2` of a key, the writer of `v1` precedes the writer of `v2`
//! (ww) and every committed transaction whose first read of the key saw `v1` precedes the
//! writer of `v2` (rw). Without cycles: G1a (a read of a failed transaction's write), G1b (a
//! read of another transaction's intermediate write), `internal` (a read disagreeing with
//! the transaction's own earlier write or read of the key), `lost-update`, and
//! `cyclic-versions`. A read of a value nobody wrote gets no edge and is not reported: a
//! register may start with values the history does not show.

use rustc_hash::FxHashMap;

use super::explain::{key as key_str, txn_ref, DataExplainer};
use super::graph::{EdgeList, RW, WR, WW};
use super::txns::{Elem, Mop, Outcome, TxnId, Txns};
use super::versions::{external, CyclicVersions, RegisterVersions, Source};
use super::Findings;
use crate::verdict::Anomaly;

pub struct RwRegister<'t> {
    txns: &'t Txns,
    versions: RegisterVersions,
    /// (key, value) -> (writer, whether it was the writer's final write of the key).
    writer: FxHashMap<(u32, Elem), (TxnId, bool)>,
}

pub fn analyse<'t>(
    txns: &'t Txns,
    writes_follow_reads: bool,
    edges: &mut EdgeList,
    found: &mut Findings,
) -> Result<RwRegister<'t>, String> {
    let mut writer: FxHashMap<(u32, Elem), (TxnId, bool)> = FxHashMap::default();
    for t in 0..txns.len() as TxnId {
        let mops = txns.mops(t);
        for (i, m) in mops.iter().enumerate() {
            if let Mop::Write { key, elem } = *m {
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m| matches!(*m, Mop::Write { key: k, .. } if k == key));
                match writer.get(&(key, elem)) {
                    Some(&(other, _)) if other != t => {
                        return Err(format!(
                            "{} wrote {} to {} again ({} did first); rw-register checking needs every written value to be unique per key",
                            txn_ref(txns, t),
                            txns.values.value(elem),
                            key_str(txns.key(key)),
                            txn_ref(txns, other)
                        ))
                    }
                    _ => {
                        writer.insert((key, elem), (t, last));
                    }
                }
            }
        }
    }
    let (versions, cyclic) = RegisterVersions::infer(txns, writes_follow_reads);
    let r = RwRegister {
        txns,
        versions,
        writer,
    };
    for c in cyclic {
        r.cyclic(&c, found);
    }
    r.reads(found);
    r.internal(found);
    r.lost_updates(found);
    r.edges(edges);
    Ok(r)
}

impl RwRegister<'_> {
    pub fn bytes(&self) -> u64 {
        (self.versions.edges.len() * 48 + self.writer.len() * 32) as u64
    }

    fn cyclic(&self, c: &CyclicVersions, found: &mut Findings) {
        let t = self.txns;
        let values: Vec<String> = c
            .values
            .iter()
            .map(|&v| t.values.value(v).to_string())
            .collect();
        let who: Vec<String> = c.txns.iter().map(|&w| txn_ref(t, w)).collect();
        let k = t.key(c.key);
        found.push(
            Anomaly::new(
                "cyclic-versions",
                c.txns.iter().map(|&w| t.txns[w as usize].index()).collect(),
                format!(
                    "The versions {} of {} are ordered in a cycle: {} each read one of them and then wrote another, so no order of writes explains them.",
                    values.join(", "),
                    key_str(k),
                    who.join(" and ")
                ),
            )
            .with_key(k.clone()),
        );
    }

    /// Reads of failed or intermediate writes.
    fn reads(&self, found: &mut Findings) {
        let t = self.txns;
        for r in 0..t.len() as TxnId {
            if t.txns[r as usize].outcome != Outcome::Ok {
                continue;
            }
            for m in t.mops(r) {
                let Mop::ReadReg { key, elem } = *m else {
                    continue;
                };
                let Some(&(w, last)) = self.writer.get(&(key, elem)) else {
                    continue;
                };
                let k = t.key(key);
                let read = format!("{} = {}", key_str(k), t.values.value(elem));
                if t.txns[w as usize].outcome == Outcome::Fail {
                    found.push(
                        Anomaly::new(
                            "G1a",
                            vec![t.txns[r as usize].index(), t.txns[w as usize].index()],
                            format!(
                                "{} read {read}, written by {}, which failed: an aborted read.",
                                txn_ref(t, r),
                                txn_ref(t, w)
                            ),
                        )
                        .with_key(k.clone()),
                    );
                } else if !last && w != r {
                    found.push(
                        Anomaly::new(
                            "G1b",
                            vec![t.txns[r as usize].index(), t.txns[w as usize].index()],
                            format!(
                                "{} read {read}, which {} wrote and then overwrote: an intermediate read.",
                                txn_ref(t, r),
                                txn_ref(t, w)
                            ),
                        )
                        .with_key(k.clone()),
                    );
                }
            }
        }
    }

    fn internal(&self, found: &mut Findings) {
        let t = self.txns;
        let mut state: FxHashMap<u32, Elem> = FxHashMap::default();
        for r in 0..t.len() as TxnId {
            if t.txns[r as usize].outcome != Outcome::Ok {
                continue;
            }
            state.clear();
            for m in t.mops(r) {
                match *m {
                    Mop::Write { key, elem } => {
                        state.insert(key, elem);
                    }
                    Mop::ReadReg { key, elem } => {
                        if let Some(&expect) = state.get(&key) {
                            if expect != elem {
                                let k = t.key(key);
                                found.push(
                                    Anomaly::new(
                                        "internal",
                                        vec![t.txns[r as usize].index()],
                                        format!(
                                            "{} read {} = {}, but its own earlier micro-ops on {} mean it should have seen {}.",
                                            txn_ref(t, r),
                                            key_str(k),
                                            t.values.value(elem),
                                            key_str(k),
                                            t.values.value(expect)
                                        ),
                                    )
                                    .with_key(k.clone()),
                                );
                            }
                        }
                        state.insert(key, elem);
                    }
                    _ => {}
                }
            }
        }
    }

    fn lost_updates(&self, found: &mut Findings) {
        let t = self.txns;
        let mut groups: FxHashMap<(u32, Elem), Vec<TxnId>> = FxHashMap::default();
        for r in 0..t.len() as TxnId {
            if t.txns[r as usize].outcome != Outcome::Ok {
                continue;
            }
            let (reads, writes) = external(t, r);
            for (k, v) in reads {
                if writes.iter().any(|(wk, _)| *wk == k) {
                    groups.entry((k, v)).or_default().push(r);
                }
            }
        }
        let mut cases: Vec<_> = groups.into_iter().filter(|(_, g)| g.len() > 1).collect();
        cases.sort_by_key(|(_, g)| g[0]);
        for ((key, v), group) in cases {
            let k = t.key(key);
            let who: Vec<String> = group.iter().map(|&g| txn_ref(t, g)).collect();
            found.push(
                Anomaly::new(
                    "lost-update",
                    group.iter().map(|&g| t.txns[g as usize].index()).collect(),
                    format!(
                        "{} all read {} = {} and then wrote {}, and all committed: each update was made without seeing the others.",
                        who.join(" and "),
                        key_str(k),
                        t.values.value(v),
                        key_str(k)
                    ),
                )
                .with_key(k.clone()),
            );
        }
    }

    fn edges(&self, edges: &mut EdgeList) {
        let t = self.txns;
        let nil = t.nil;
        // (key, value) -> committed transactions whose first read of the key saw it.
        let mut readers: FxHashMap<(u32, Elem), Vec<TxnId>> = FxHashMap::default();
        // (key, value) -> the possible transaction whose final write of the key it was.
        let mut writers: FxHashMap<(u32, Elem), TxnId> = FxHashMap::default();
        for r in 0..t.len() as TxnId {
            let outcome = t.txns[r as usize].outcome;
            if outcome == Outcome::Fail {
                continue;
            }
            let (reads, writes) = external(t, r);
            if outcome == Outcome::Ok {
                for (k, v) in reads {
                    readers.entry((k, v)).or_default().push(r);
                }
            }
            for (k, v) in writes {
                writers.insert((k, v), r);
            }
        }
        for (&(k, v), rs) in &readers {
            if v == nil {
                continue;
            }
            if let Some(&w) = writers.get(&(k, v)) {
                for &r in rs {
                    edges.add(w, r, WR);
                }
            }
        }
        for (k, vedges) in self.versions.by_key.iter().enumerate() {
            let k = k as u32;
            for &(v1, v2) in vedges {
                let Some(&w2) = writers.get(&(k, v2)) else {
                    continue;
                };
                if let Some(&w1) = writers.get(&(k, v1)) {
                    edges.add(w1, w2, WW);
                }
                for &r in readers.get(&(k, v1)).map_or(&[][..], |v| &v[..]) {
                    edges.add(r, w2, RW);
                }
            }
        }
    }

    /// Finds the key and values by which `a` (through `ext_a`) precedes `b` in a version
    /// edge, with the edge's source.
    fn version_step(
        &self,
        a_vals: &[(u32, Elem)],
        b_vals: &[(u32, Elem)],
    ) -> Option<(u32, Elem, Elem, Source)> {
        a_vals.iter().find_map(|&(k, va)| {
            b_vals.iter().find_map(|&(kb, vb)| {
                if kb != k {
                    return None;
                }
                self.versions
                    .edges
                    .get(&(k, va, vb))
                    .map(|&s| (k, va, vb, s))
            })
        })
    }

    fn source(&self, s: Source) -> String {
        match s {
            Source::Initial => "every value follows the initial nil".to_string(),
            Source::WritesFollowReads(w) => {
                format!(
                    "{} read the one and then wrote the other",
                    txn_ref(self.txns, w)
                )
            }
        }
    }
}

impl DataExplainer for RwRegister<'_> {
    fn why(&self, a: TxnId, b: TxnId, kind: u8, an: &str, bn: &str) -> Option<String> {
        let t = self.txns;
        let v = |e: Elem| t.values.value(e);
        let (a_reads, a_writes) = external(t, a);
        let (b_reads, b_writes) = external(t, b);
        match kind {
            WR => a_writes.iter().find_map(|&(k, va)| {
                b_reads
                    .iter()
                    .any(|&(kb, vb)| kb == k && vb == va)
                    .then(|| format!("{bn} read {} = {}, which {an} wrote", key_str(t.key(k)), v(va)))
            }),
            WW => self.version_step(&a_writes, &b_writes).map(|(k, va, vb, s)| {
                format!(
                    "{an} set {} to {}, and {bn} set it to {}, which came later in the version order ({})",
                    key_str(t.key(k)),
                    v(va),
                    v(vb),
                    self.source(s)
                )
            }),
            RW => self.version_step(&a_reads, &b_writes).map(|(k, va, vb, s)| {
                if va == t.nil {
                    format!(
                        "{an} read the initial (nil) state of {}, which {bn} overwrote with {}",
                        key_str(t.key(k)),
                        v(vb)
                    )
                } else {
                    format!(
                        "{an} read {} = {}, and {bn} set it to {}, which came later in the version order ({})",
                        key_str(t.key(k)),
                        v(va),
                        v(vb),
                        self.source(s)
                    )
                }
            }),
            _ => None,
        }
    }
}
