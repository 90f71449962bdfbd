//! `multi-leader`: every node takes writes and replicates them asynchronously over a topology.
//!
//! Each applied update (local or received) is appended to the node's log with its origin id and
//! the origin's sequence number. A shipper per outgoing link sends log entries the neighbour has
//! not applied (it asks for the neighbour's applied map after every reconnect), forwarding by
//! topology: all-to-all sends only its own updates to everyone; ring sends everything to the
//! next node; star leaves send their own updates to the hub (the first peer), which forwards
//! everything to the other leaves. An update never goes back to its origin, and a receiver
//! applies each (origin, seq) once, so nothing loops. Conflicts: `lww` or `siblings`
//! (`versioned`).

use crate::config::{Conflict, Topology};
use crate::kv::appended;
use crate::node::{Ctx, NodeError};
use crate::peer::{handler, Handler};
use crate::protocol::{MicroOp, Op, Response};
use crate::versioned::{context_of, parse_context, present, Store, Version};
use crate::wal::Wal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Update {
    pub origin: String,
    pub seq: u64,
    pub writes: Vec<(String, Version)>,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Req {
    Applied,
    Updates(Vec<Update>),
}

struct State {
    store: Store,
    log: Vec<Update>,
    applied: HashMap<String, u64>,
}

pub struct Multi {
    ctx: Arc<Ctx>,
    st: Mutex<State>,
    wal: Wal,
    appended: watch::Sender<u64>,
}

impl Multi {
    pub async fn start(ctx: Arc<Ctx>) -> Result<Arc<Self>, NodeError> {
        let (wal, log) =
            Wal::open::<Update>(&ctx.cfg.data_dir, "updates.jsonl", ctx.cfg.durability())?;
        let mut st = State {
            store: Store::default(),
            log: Vec::new(),
            applied: HashMap::new(),
        };
        for u in log {
            apply(&mut st, ctx.cfg.conflict, ctx.id(), &u);
            st.log.push(u);
        }
        eprintln!("{}: recovered {} updates", ctx.id(), st.log.len());
        let this = Arc::new(Multi {
            ctx: ctx.clone(),
            st: Mutex::new(st),
            wal,
            appended: watch::channel(0).0,
        });
        for to in this.targets() {
            tokio::spawn(this.clone().ship(to));
        }
        Ok(this)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn hub(&self) -> &str {
        &self.ctx.cfg.peers[0].0
    }

    /// The nodes this one sends to.
    fn targets(&self) -> Vec<String> {
        let ids = self.ctx.all_ids();
        let me = self.ctx.id();
        match self.ctx.cfg.topology {
            Topology::AllToAll => ids.into_iter().filter(|n| n != me).collect(),
            Topology::Ring => {
                let i = ids.iter().position(|n| n == me).unwrap_or(0);
                let next = ids[(i + 1) % ids.len()].clone();
                if next == me {
                    vec![]
                } else {
                    vec![next]
                }
            }
            Topology::Star if me == self.hub() => ids.into_iter().filter(|n| n != me).collect(),
            Topology::Star => vec![self.hub().to_string()],
        }
    }

    fn forwards(&self, u: &Update, to: &str) -> bool {
        if u.origin == to {
            return false;
        }
        match self.ctx.cfg.topology {
            Topology::AllToAll => u.origin == self.ctx.id(),
            Topology::Ring => true,
            Topology::Star => self.ctx.id() == self.hub() || u.origin == self.ctx.id(),
        }
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
            "log_index": st.log.len(),
            "leader": null,
            "applied": st.applied,
            "keys": st.store.map.len(),
            "topology": self.ctx.cfg.topology.to_string(),
            "conflict": self.ctx.cfg.conflict.to_string(),
        })
    }

    async fn on_peer(&self, req: Req) -> HashMap<String, u64> {
        let Req::Updates(us) = req else {
            return self.lock().applied.clone();
        };
        let (done, applied) = {
            let mut st = self.lock();
            let mut fresh = Vec::new();
            for u in us {
                let have = st.applied.get(&u.origin).copied().unwrap_or(0);
                if u.seq != have + 1 {
                    continue; // a duplicate, or a gap the sender will fill after it re-syncs
                }
                apply(&mut st, self.ctx.cfg.conflict, self.ctx.id(), &u);
                st.log.push(u.clone());
                fresh.push(u);
            }
            let done = (!fresh.is_empty()).then(|| self.wal.append_nowait(&fresh));
            (done, st.applied.clone())
        };
        if let Some(d) = done {
            let _ = d.await;
            self.appended.send_modify(|v| *v += 1);
        }
        applied
    }

    /// Send the log to one neighbour, forever.
    async fn ship(self: Arc<Self>, to: String) {
        let Some(client) = self.ctx.peer(&to).cloned() else {
            return;
        };
        let hb = Duration::from_millis(self.ctx.cfg.heartbeat_ms);
        let timeout = Duration::from_millis((self.ctx.cfg.heartbeat_ms * 5).max(500));
        let mut new = self.appended.subscribe();
        let mut theirs: Option<HashMap<String, u64>> = None;
        let mut cursor = 0usize;
        loop {
            let Some(their) = theirs.as_mut() else {
                match client
                    .call::<Req, HashMap<String, u64>>(&Req::Applied, timeout)
                    .await
                {
                    Ok(m) => {
                        theirs = Some(m);
                        cursor = 0;
                    }
                    Err(_) => tokio::time::sleep(hb).await,
                }
                continue;
            };
            let batch: Vec<Update> = {
                let st = self.lock();
                let mut b = Vec::new();
                while cursor < st.log.len() && b.len() < 1000 {
                    let u = &st.log[cursor];
                    cursor += 1;
                    if self.forwards(u, &to) && u.seq > their.get(&u.origin).copied().unwrap_or(0) {
                        b.push(u.clone());
                    }
                }
                b
            };
            if batch.is_empty() {
                tokio::select! {
                    _ = new.changed() => {}
                    _ = tokio::time::sleep(hb) => {}
                }
                continue;
            }
            match client
                .call::<Req, HashMap<String, u64>>(&Req::Updates(batch), timeout)
                .await
            {
                Ok(m) => *their = m,
                Err(_) => {
                    theirs = None;
                    tokio::time::sleep(hb).await;
                }
            }
        }
    }

    pub async fn handle(&self, op: Op) -> Response {
        let conflict = self.ctx.cfg.conflict;
        let me = self.ctx.id().to_string();
        let now = self.ctx.clock.now_ms();
        let (resp, done) = {
            let mut st = self.lock();
            let (resp, update) = match op {
                Op::Read { key } => {
                    let (value, siblings, context, version) = present(conflict, st.store.get(&key));
                    let mut r = Response::ok(value).with_version(version);
                    r.siblings = siblings;
                    r.context = context;
                    return r;
                }
                Op::Txn { txn } if !txn.iter().any(|m| m.0 != "r") => {
                    let out: Vec<MicroOp> = txn
                        .into_iter()
                        .map(|MicroOp(f, k, _)| {
                            let v = current(conflict, st.store.get(&k));
                            MicroOp(f, k, v)
                        })
                        .collect();
                    return Response::ok(json!(out));
                }
                Op::Write {
                    key,
                    value,
                    context,
                } => {
                    let ctx = match parse_context(&context) {
                        Ok(c) => c,
                        Err(e) => return Response::bad_request(e),
                    };
                    let v = st.store.stamp(&me, now, value, ctx);
                    (
                        Response::ok(Value::Null).with_version(json!(v.vv)),
                        vec![(key, v)],
                    )
                }
                Op::Cas { key, from, to } => {
                    // Atomic on this node only: another leader may change the key concurrently.
                    let vs = st.store.get(&key);
                    if current(conflict, vs) != from {
                        return Response::err("cas-mismatch", true);
                    }
                    let ctx = context_of(vs);
                    let v = st.store.stamp(&me, now, to, Some(ctx));
                    (
                        Response::ok(Value::Null).with_version(json!(v.vv)),
                        vec![(key, v)],
                    )
                }
                Op::Append { key, value } => {
                    let vs = st.store.get(&key);
                    let next = match appended(current(conflict, vs), &value) {
                        Ok(n) => n,
                        Err(e) => return Response::err(e, true),
                    };
                    let ctx = context_of(vs);
                    let v = st.store.stamp(&me, now, next, Some(ctx));
                    (
                        Response::ok(Value::Null).with_version(json!(v.vv)),
                        vec![(key, v)],
                    )
                }
                Op::Txn { txn } => {
                    // Atomic on this node: all writes become one update.
                    let mut staged: HashMap<String, Value> = HashMap::new();
                    let mut out = Vec::new();
                    for MicroOp(f, k, v) in txn {
                        let cur = staged
                            .get(&k)
                            .cloned()
                            .unwrap_or_else(|| current(conflict, st.store.get(&k)));
                        match f.as_str() {
                            "r" => out.push(MicroOp(f, k, cur)),
                            "w" => {
                                staged.insert(k.clone(), v.clone());
                                out.push(MicroOp(f, k, v));
                            }
                            _ => match appended(cur, &v) {
                                Ok(n) => {
                                    staged.insert(k.clone(), n);
                                    out.push(MicroOp(f, k, v));
                                }
                                Err(e) => return Response::err(e, true),
                            },
                        }
                    }
                    let mut writes = Vec::new();
                    for (k, v) in staged {
                        let ctx = context_of(st.store.get(&k));
                        writes.push((k, st.store.stamp(&me, now, v, Some(ctx))));
                    }
                    (Response::ok(json!(out)), writes)
                }
                _ => return Response::unsupported("not a data op"),
            };
            let seq = st.applied.get(&me).copied().unwrap_or(0) + 1;
            let u = Update {
                origin: me.clone(),
                seq,
                writes: update,
            };
            apply(&mut st, conflict, &me, &u);
            st.log.push(u.clone());
            (resp, self.wal.append_nowait(&[u]))
        };
        match done.await {
            Ok(Ok(())) => {
                self.appended.send_modify(|v| *v += 1);
                resp
            }
            _ => Response::err("log write failed", false),
        }
    }
}

fn apply(st: &mut State, conflict: Conflict, me: &str, u: &Update) {
    for (k, v) in &u.writes {
        st.store.observe(me, v);
        st.store.merge(conflict, k, v.clone());
    }
    let e = st.applied.entry(u.origin.clone()).or_insert(0);
    *e = (*e).max(u.seq);
}

/// The value a read-modify-write builds on: the single value, or the newest sibling.
pub fn current(_conflict: Conflict, vs: &[Version]) -> Value {
    vs.last().map(|v| v.value.clone()).unwrap_or(Value::Null)
}
