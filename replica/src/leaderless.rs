//! `leaderless`: Dynamo-style replication.
//!
//! A key's N replicas are its preference list on a consistent-hash ring (`ring`). Any node
//! coordinates: a write stamps a version (`versioned`), sends it to the N replicas and answers
//! after W acks; a read asks the replicas and answers after R replies with their merge, then
//! repairs every replica that answered with less (read repair, in the background). With
//! `--sloppy`, a write whose preferred replica fails goes to the next node on the ring with a
//! hint naming the intended owner; hints are delivered when the owner is back (hinted handoff).
//! Anti-entropy: every period each node sends one peer (round robin) a digest (key, hash of its
//! versions) of the keys both replicate; the peer answers with its versions of keys that differ
//! or that the sender lacks and names the keys it wants, and both sides merge. cas and append
//! are read-modify-writes at the coordinator (not atomic); txn is refused.

use crate::kv::appended;
use crate::multi::current;
use crate::node::{Ctx, NodeError};
use crate::peer::{handler, Handler};
use crate::protocol::{Op, Response};
use crate::ring::Ring;
use crate::versioned::{
    context_of, digest, merge_into, parse_context, present, Store, Version, Vv,
};
use crate::wal::Wal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

const VNODES: usize = 64;

#[derive(Debug, Serialize, Deserialize)]
enum Rec {
    Put {
        key: String,
        v: Version,
    },
    Hint {
        target: String,
        key: String,
        v: Version,
    },
    HintDone {
        target: String,
        key: String,
    },
    Stamp {
        counter: u64,
        ts: u64,
    },
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Req {
    Put {
        key: String,
        versions: Vec<Version>,
        hint: Option<String>,
    },
    Get {
        key: String,
    },
    Digest(Vec<(String, u64)>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Resp {
    Ok,
    Versions(Vec<Version>),
    Diff {
        want: Vec<String>,
        have: Vec<(String, Vec<Version>)>,
    },
}

struct State {
    store: Store,
    hints: HashMap<(String, String), Vec<Version>>,
    records: u64,
}

pub struct Leaderless {
    ctx: Arc<Ctx>,
    ring: Ring,
    st: Mutex<State>,
    wal: Wal,
    next_peer: AtomicUsize,
}

impl Leaderless {
    pub async fn start(ctx: Arc<Ctx>) -> Result<Arc<Self>, NodeError> {
        let (wal, recs) =
            Wal::open::<Rec>(&ctx.cfg.data_dir, "dynamo.jsonl", ctx.cfg.durability())?;
        let conflict = ctx.cfg.conflict;
        let mut st = State {
            store: Store::default(),
            hints: HashMap::new(),
            records: recs.len() as u64,
        };
        for r in recs {
            match r {
                Rec::Put { key, v } => {
                    st.store.observe(ctx.id(), &v);
                    st.store.merge(conflict, &key, v);
                }
                Rec::Hint { target, key, v } => {
                    merge_into(conflict, st.hints.entry((target, key)).or_default(), v);
                }
                Rec::HintDone { target, key } => {
                    st.hints.remove(&(target, key));
                }
                Rec::Stamp { counter, ts } => {
                    st.store.counter = st.store.counter.max(counter);
                    st.store.last_ts = st.store.last_ts.max(ts);
                }
            }
        }
        eprintln!(
            "{}: recovered {} keys, {} hints",
            ctx.id(),
            st.store.map.len(),
            st.hints.len()
        );
        let ring = Ring::new(ctx.all_ids(), VNODES);
        let this = Arc::new(Leaderless {
            ctx,
            ring,
            st: Mutex::new(st),
            wal,
            next_peer: AtomicUsize::new(0),
        });
        tokio::spawn(this.clone().background());
        Ok(this)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn rpc_timeout(&self) -> Duration {
        Duration::from_millis((self.ctx.cfg.replication_timeout_ms / 2).max(200))
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let this = self.clone();
        handler(move |req: Req| {
            let this = this.clone();
            async move { this.on_peer(req).await }
        })
    }

    pub fn status(&self) -> Value {
        let st = self.lock();
        json!({
            "role": "peer",
            "term": 0,
            "log_index": st.records,
            "leader": null,
            "keys": st.store.map.len(),
            "hints": st.hints.len(),
            "n": self.ctx.cfg.n, "w": self.ctx.cfg.w, "r": self.ctx.cfg.r,
            "sloppy": self.ctx.cfg.sloppy,
            "conflict": self.ctx.cfg.conflict.to_string(),
        })
    }

    /// Merge versions into the local replica; resolves once durable.
    async fn local_put(&self, key: &str, versions: Vec<Version>) -> bool {
        let done = {
            let mut st = self.lock();
            let mut recs = Vec::new();
            for v in versions {
                st.store.observe(self.ctx.id(), &v);
                if st.store.merge(self.ctx.cfg.conflict, key, v.clone()) {
                    recs.push(Rec::Put {
                        key: key.to_string(),
                        v,
                    });
                }
            }
            if recs.is_empty() {
                return true;
            }
            st.records += recs.len() as u64;
            self.wal.append_nowait(&recs)
        };
        matches!(done.await, Ok(Ok(())))
    }

    async fn on_peer(&self, req: Req) -> Resp {
        match req {
            Req::Put {
                key,
                versions,
                hint: None,
            } => {
                if self.local_put(&key, versions).await {
                    Resp::Ok
                } else {
                    Resp::Versions(vec![]) // not Ok: the coordinator counts no ack
                }
            }
            Req::Put {
                key,
                versions,
                hint: Some(target),
            } => {
                let done = {
                    let mut st = self.lock();
                    let conflict = self.ctx.cfg.conflict;
                    let recs: Vec<Rec> = versions
                        .into_iter()
                        .filter(|v| {
                            merge_into(
                                conflict,
                                st.hints.entry((target.clone(), key.clone())).or_default(),
                                v.clone(),
                            )
                        })
                        .map(|v| Rec::Hint {
                            target: target.clone(),
                            key: key.clone(),
                            v,
                        })
                        .collect();
                    st.records += recs.len() as u64;
                    self.wal.append_nowait(&recs)
                };
                if matches!(done.await, Ok(Ok(()))) {
                    Resp::Ok
                } else {
                    Resp::Versions(vec![])
                }
            }
            Req::Get { key } => Resp::Versions(self.lock().store.get(&key).to_vec()),
            Req::Digest(theirs) => {
                let st = self.lock();
                let mut want = Vec::new();
                let mut have = Vec::new();
                let mut seen = HashSet::new();
                for (k, h) in theirs {
                    let mine = st.store.get(&k);
                    if digest(mine) != h {
                        want.push(k.clone());
                        if !mine.is_empty() {
                            have.push((k.clone(), mine.to_vec()));
                        }
                    }
                    seen.insert(k);
                }
                // Keys we hold that the sender (a replica of them) did not mention.
                for (k, vs) in &st.store.map {
                    if !seen.contains(k) && !vs.is_empty() {
                        have.push((k.clone(), vs.clone()));
                    }
                }
                Resp::Diff { want, have }
            }
        }
    }

    /// Send `req` to `node` (this node is handled locally).
    async fn send(
        self: &Arc<Self>,
        node: &str,
        key: &str,
        versions: Vec<Version>,
        hint: Option<String>,
    ) -> bool {
        if node == self.ctx.id() && hint.is_none() {
            return self.local_put(key, versions).await;
        }
        let Some(p) = self.ctx.peer(node) else {
            return false;
        };
        let req = Req::Put {
            key: key.to_string(),
            versions,
            hint,
        };
        matches!(
            p.call::<Req, Resp>(&req, self.rpc_timeout()).await,
            Ok(Resp::Ok)
        )
    }

    /// Write `versions` to the key's replicas; returns how many acknowledged (waits for `w`, or
    /// for every reply if fewer).
    async fn replicate(self: &Arc<Self>, key: &str, versions: Vec<Version>, w: usize) -> usize {
        let walk = self.ring.walk(key);
        let n = self.ctx.cfg.n.min(walk.len());
        let (pref, fallbacks) = walk.split_at(n);
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, bool)>();
        for node in pref {
            let (this, node, key, vs, tx) = (
                self.clone(),
                node.clone(),
                key.to_string(),
                versions.clone(),
                tx.clone(),
            );
            tokio::spawn(async move {
                let ok = this.send(&node, &key, vs, None).await;
                let _ = tx.send((node, ok));
            });
        }
        let mut acks = 0;
        let mut failed = Vec::new();
        for _ in 0..pref.len() {
            match rx.recv().await {
                Some((_, true)) => acks += 1,
                Some((node, false)) => failed.push(node),
                None => break,
            }
            if acks >= w {
                return acks;
            }
        }
        if self.ctx.cfg.sloppy {
            // Hinted handoff: the next nodes on the ring stand in for the failed owners.
            let mut spare = fallbacks.iter();
            let mut sent = 0;
            for owner in failed {
                let Some(stand_in) = spare.next() else { break };
                let (this, stand_in, key, vs, tx) = (
                    self.clone(),
                    stand_in.clone(),
                    key.to_string(),
                    versions.clone(),
                    tx.clone(),
                );
                sent += 1;
                tokio::spawn(async move {
                    let ok = if stand_in == this.ctx.id() {
                        matches!(
                            this.on_peer(Req::Put {
                                key,
                                versions: vs,
                                hint: Some(owner)
                            })
                            .await,
                            Resp::Ok
                        )
                    } else {
                        this.send(&stand_in, &key, vs, Some(owner)).await
                    };
                    let _ = tx.send((stand_in, ok));
                });
            }
            for _ in 0..sent {
                if let Some((_, true)) = rx.recv().await {
                    acks += 1;
                    if acks >= w {
                        break;
                    }
                }
            }
        }
        acks
    }

    /// Read the key from R replicas: (merged versions, replies). Keeps collecting in the
    /// background and repairs replicas that answered with less.
    async fn quorum_read(self: &Arc<Self>, key: &str, r: usize) -> (Vec<Version>, usize) {
        let walk = self.ring.walk(key);
        let n = self.ctx.cfg.n.min(walk.len());
        let pref: Vec<String> = walk[..n].to_vec();
        let conflict = self.ctx.cfg.conflict;
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, Option<Vec<Version>>)>();
        let mut replies: Vec<(String, Vec<Version>)> = Vec::new();
        let me = self.ctx.id().to_string();
        let mut remote = 0;
        for node in &pref {
            if *node == me {
                // Our own copy first: with R = 1 a replica answers from itself, deterministically.
                replies.push((me.clone(), self.lock().store.get(key).to_vec()));
                continue;
            }
            remote += 1;
            let (this, node, key, tx) = (self.clone(), node.clone(), key.to_string(), tx.clone());
            tokio::spawn(async move {
                let got = match this.ctx.peer(&node) {
                    Some(p) => match p
                        .call::<Req, Resp>(&Req::Get { key }, this.rpc_timeout())
                        .await
                    {
                        Ok(Resp::Versions(v)) => Some(v),
                        _ => None,
                    },
                    None => None,
                };
                let _ = tx.send((node, got));
            });
        }
        drop(tx);
        let mut answered = 0;
        while replies.len() < r && answered < remote {
            match rx.recv().await {
                Some((node, Some(v))) => {
                    answered += 1;
                    replies.push((node, v));
                }
                Some((_, None)) => answered += 1,
                None => break,
            }
        }
        let merged = merge_all(conflict, replies.iter().map(|r| &r.1));
        let count = replies.len();
        // Read repair, off the client's path: wait for the stragglers, then fix everyone.
        let this = self.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            while let Some((node, got)) = rx.recv().await {
                if let Some(v) = got {
                    replies.push((node, v));
                }
            }
            let merged = merge_all(conflict, replies.iter().map(|r| &r.1));
            let want = digest(&merged);
            for (node, vs) in replies {
                if digest(&vs) != want {
                    this.send(&node, &key, merged.clone(), None).await;
                }
            }
        });
        (merged, count)
    }

    pub async fn handle(self: &Arc<Self>, op: Op) -> Response {
        let conflict = self.ctx.cfg.conflict;
        let (w, r) = (self.ctx.cfg.w, self.ctx.cfg.r);
        match op {
            Op::Read { key } => {
                let (vs, got) = self.quorum_read(&key, r).await;
                if got < r {
                    return Response::err(format!("unavailable: {got} of {r} replicas answered the read"), true);
                }
                let (value, siblings, context, version) = present(conflict, &vs);
                let mut resp = Response::ok(value).with_version(version);
                resp.siblings = siblings;
                resp.context = context;
                resp
            }
            Op::Write { key, value, context } => {
                let ctx = match parse_context(&context) {
                    Ok(c) => c,
                    Err(e) => return Response::bad_request(e),
                };
                self.write(&key, value, ctx, w).await
            }
            Op::Cas { key, from, to } => {
                let (vs, got) = self.quorum_read(&key, r).await;
                if got < r {
                    return Response::err(format!("unavailable: {got} of {r} replicas answered the read"), true);
                }
                if current(conflict, &vs) != from {
                    return Response::err("cas-mismatch", true);
                }
                self.write(&key, to, Some(context_of(&vs)), w).await
            }
            Op::Append { key, value } => {
                let (vs, got) = self.quorum_read(&key, r).await;
                if got < r {
                    return Response::err(format!("unavailable: {got} of {r} replicas answered the read"), true);
                }
                match appended(current(conflict, &vs), &value) {
                    Ok(next) => self.write(&key, next, Some(context_of(&vs)), w).await,
                    Err(e) => Response::err(e, true),
                }
            }
            Op::Txn { .. } => Response::unsupported(
                "txn: leaderless mode has no node that owns every key, so it cannot apply a transaction atomically",
            ),
            _ => Response::unsupported("not a data op"),
        }
    }

    async fn write(
        self: &Arc<Self>,
        key: &str,
        value: Value,
        ctx: Option<Vv>,
        w: usize,
    ) -> Response {
        let (v, stamped) = {
            let mut st = self.lock();
            let v = st
                .store
                .stamp(self.ctx.id(), self.ctx.clock.now_ms(), value, ctx);
            // Durable before the ack, so a restarted coordinator never reuses a counter (it
            // usually shares the local replica's group commit).
            let stamped = self.wal.append_nowait(&[Rec::Stamp {
                counter: st.store.counter,
                ts: st.store.last_ts,
            }]);
            st.records += 1;
            (v, stamped)
        };
        let version = json!(v.vv);
        let acks = self.replicate(key, vec![v], w).await;
        if !matches!(stamped.await, Ok(Ok(()))) {
            return Response::err("log write failed", false);
        }
        if acks >= w {
            Response::ok(Value::Null).with_version(version)
        } else {
            Response::err(
                format!("timeout: {acks} of {w} replicas acknowledged the write"),
                false,
            )
        }
    }

    /// Anti-entropy and hint delivery, every period.
    async fn background(self: Arc<Self>) {
        let period = Duration::from_millis(self.ctx.cfg.anti_entropy_ms.max(10));
        loop {
            tokio::time::sleep(period).await;
            self.deliver_hints().await;
            if !self.ctx.peers.is_empty() {
                let i = self.next_peer.fetch_add(1, Ordering::Relaxed) % self.ctx.peers.len();
                let peer = self.ctx.peers[i].clone();
                self.anti_entropy(&peer.name).await;
            }
        }
    }

    async fn deliver_hints(self: &Arc<Self>) {
        let hints: Vec<((String, String), Vec<Version>)> = self
            .lock()
            .hints
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for ((target, key), vs) in hints {
            if self.send(&target, &key, vs.clone(), None).await {
                let mut st = self.lock();
                if st.hints.get(&(target.clone(), key.clone())) == Some(&vs) {
                    st.hints.remove(&(target.clone(), key.clone()));
                    st.records += 1;
                    self.wal.append_detached(&[Rec::HintDone { target, key }]);
                }
            }
        }
    }

    async fn anti_entropy(self: &Arc<Self>, peer: &str) {
        let n = self.ctx.cfg.n;
        let me = self.ctx.id().to_string();
        let shared = |k: &str| {
            let walk = self.ring.walk(k);
            let pref = &walk[..n.min(walk.len())];
            pref.iter().any(|x| x == peer) && pref.contains(&me)
        };
        let digests: Vec<(String, u64)> = self
            .lock()
            .store
            .map
            .iter()
            .filter(|(k, _)| shared(k))
            .map(|(k, vs)| (k.clone(), digest(vs)))
            .collect();
        let Some(p) = self.ctx.peer(peer).cloned() else {
            return;
        };
        let Ok(Resp::Diff { want, have }) = p
            .call::<Req, Resp>(&Req::Digest(digests), self.rpc_timeout() * 4)
            .await
        else {
            return;
        };
        for (k, vs) in have {
            if shared(&k) {
                self.local_put(&k, vs).await;
            }
        }
        for k in want {
            let vs = self.lock().store.get(&k).to_vec();
            if !vs.is_empty() {
                self.send(peer, &k, vs, None).await;
            }
        }
    }
}

fn merge_all<'a>(
    conflict: crate::config::Conflict,
    sets: impl Iterator<Item = &'a Vec<Version>>,
) -> Vec<Version> {
    let mut out = Vec::new();
    for vs in sets {
        for v in vs {
            merge_into(conflict, &mut out, v.clone());
        }
    }
    out
}
