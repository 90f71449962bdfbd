//! `leader-sync`, `leader-semisync`, `leader-async`: primary/backup log shipping without
//! consensus.
//!
//! The primary applies a write, appends it to its log (fsync), ships the log to every follower,
//! and acknowledges after all / one / no follower has it. Followers apply what they receive at
//! once. With `--failover auto` a follower that hears no heartbeat for the election timeout
//! probes the others and, if it reaches a majority and is the most up-to-date of them, promotes
//! itself with a higher term. No votes are kept, so two primaries can coexist (split brain) and
//! acknowledged writes can be lost: when a deposed primary hears from the newer one it becomes a
//! follower and discards its divergent suffix, counted in `status` as `discarded`.

mod failover;

use crate::config::{Failover, Mode, Reads};
use crate::kv::{Cmd, Kv};
use crate::node::{Ctx, NodeError};
use crate::peer::{handler, Handler};
use crate::protocol::{MicroOp, Op, Response};
use crate::wal::Wal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Entries per replication message.
const BATCH: usize = 2000;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    pub cmd: Cmd,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    term: u64,
    leader: Option<String>,
    discarded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Leader,
    Follower,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Req {
    Append {
        term: u64,
        leader: String,
        prev_index: u64,
        prev_term: u64,
        leader_last: u64,
        entries: Vec<Entry>,
    },
    Probe,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Resp {
    Append {
        term: u64,
        leader: Option<String>,
        ok: bool,
        last_index: u64,
    },
    Probe {
        term: u64,
        leader_role: bool,
        leader: Option<String>,
        last_index: u64,
        last_term: u64,
    },
}

struct State {
    role: Role,
    term: u64,
    leader: Option<String>,
    log: Vec<Entry>,
    kv: Kv,
    discarded: u64,
    last_contact: Instant,
    /// Leader's view: highest index each follower has in its log.
    matched: HashMap<String, u64>,
}

impl State {
    fn last(&self) -> (u64, u64) {
        (
            self.log.len() as u64,
            self.log.last().map(|e| e.term).unwrap_or(0),
        )
    }
    fn meta(&self) -> Meta {
        Meta {
            term: self.term,
            leader: self.leader.clone(),
            discarded: self.discarded,
        }
    }
}

pub struct Leader {
    ctx: Arc<Ctx>,
    st: Mutex<State>,
    wal: Wal,
    /// Bumped on every new local entry: wakes the replicators.
    appended: watch::Sender<u64>,
    /// Bumped whenever a follower's match index moves: wakes writers waiting for acks.
    acked: watch::Sender<u64>,
}

impl Leader {
    pub async fn start(ctx: Arc<Ctx>) -> Result<Arc<Self>, NodeError> {
        let dir = ctx.cfg.data_dir.clone();
        let (wal, log) = Wal::open::<Entry>(&dir, "log.jsonl", ctx.cfg.durability())?;
        let meta: Meta = match std::fs::read(dir.join("meta.json")) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                NodeError::Other(format!("{}: {e}", dir.join("meta.json").display()))
            })?,
            Err(_) => Meta {
                term: 0,
                leader: ctx.cfg.peers.first().map(|p| p.0.clone()),
                discarded: 0,
            },
        };
        let mut kv = Kv::default();
        for (i, e) in log.iter().enumerate() {
            let _ = kv.apply(&e.cmd, i as u64 + 1);
        }
        let role = if meta.leader.as_deref() == Some(ctx.id()) {
            Role::Leader
        } else {
            Role::Follower
        };
        eprintln!(
            "{}: recovered {} log entries, term {}, leader {:?}",
            ctx.id(),
            log.len(),
            meta.term,
            meta.leader
        );
        // With `--fsync off` a restarted primary may have lost the tail of its log that its
        // followers already hold. Its new entries would reuse those indexes in the same term,
        // and a follower compares terms only: it would keep its stale entries and never
        // converge. A fresh term for everything written after the restart makes the old tail a
        // divergent suffix the followers discard.
        let bump = role == Role::Leader && !ctx.cfg.fsync;
        let st = State {
            role,
            term: meta.term + u64::from(bump),
            leader: meta.leader,
            log,
            kv,
            discarded: meta.discarded,
            last_contact: Instant::now(),
            matched: HashMap::new(),
        };
        let this = Arc::new(Leader {
            ctx: ctx.clone(),
            st: Mutex::new(st),
            wal,
            appended: watch::channel(0).0,
            acked: watch::channel(0).0,
        });
        if bump {
            let m = this.lock().meta();
            this.save_meta(&m);
        }
        for p in &ctx.peers {
            tokio::spawn(this.clone().replicate(p.name.clone()));
        }
        if ctx.cfg.failover == Failover::Auto {
            tokio::spawn(this.clone().elections());
        }
        Ok(this)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn save_meta(&self, m: &Meta) {
        let dir = &self.ctx.cfg.data_dir;
        let tmp = dir.join("meta.json.tmp");
        let r = (|| -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &serde_json::to_vec(m).unwrap_or_default())?;
            if self.ctx.cfg.fsync {
                f.sync_all()?;
            }
            std::fs::rename(&tmp, dir.join("meta.json"))
        })();
        if let Err(e) = r {
            eprintln!("{}: saving meta.json: {e}", self.ctx.id());
        }
    }

    pub fn status(&self) -> Value {
        let st = self.lock();
        json!({
            "role": if st.role == Role::Leader { "leader" } else { "follower" },
            "term": st.term,
            "log_index": st.log.len(),
            "leader": st.leader,
            "discarded": st.discarded,
            "keys": st.kv.len(),
        })
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let this = self.clone();
        handler(move |req: Req| {
            let this = this.clone();
            async move { this.on_peer(req).await }
        })
    }

    pub async fn handle(&self, op: Op) -> Response {
        let can_read = |st: &State| st.role == Role::Leader || self.ctx.cfg.reads == Reads::Any;
        if !op.is_write() {
            let st = self.lock();
            if !can_read(&st) {
                return Response::not_leader(st.leader.clone());
            }
            return match op {
                Op::Read { key } => {
                    let (v, idx) = st.kv.read(&key);
                    Response::ok(v).with_version(json!(idx))
                }
                Op::Txn { txn } => {
                    let out: Vec<MicroOp> = txn
                        .into_iter()
                        .map(|MicroOp(f, k, _)| {
                            let v = st.kv.read(&k).0;
                            MicroOp(f, k, v)
                        })
                        .collect();
                    Response::ok(json!(out)).with_version(json!(st.log.len()))
                }
                _ => Response::unsupported("not a data op"),
            };
        }
        let cmd = match op {
            Op::Write { key, value, .. } => Cmd::Write { key, value },
            Op::Append { key, value } => Cmd::Append { key, value },
            Op::Cas { key, from, to } => Cmd::Cas { key, from, to },
            Op::Txn { txn } => Cmd::Txn { ops: txn },
            _ => return Response::unsupported("not a data op"),
        };
        let (index, term, result, durable) = {
            let mut st = self.lock();
            if st.role != Role::Leader {
                return Response::not_leader(st.leader.clone());
            }
            let index = st.log.len() as u64 + 1;
            let result = match st.kv.apply(&cmd, index) {
                Ok(v) => v,
                Err(e) => return Response::err(e, true),
            };
            let e = Entry { term: st.term, cmd };
            let durable = self.wal.append_nowait(std::slice::from_ref(&e));
            st.log.push(e);
            (index, st.term, result, durable)
        };
        self.appended.send_replace(index);
        match durable.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Response::err(format!("log write failed: {e}"), false),
            Err(_) => return Response::err("log writer stopped", false),
        }
        let followers = self.ctx.peers.len();
        let need = match self.ctx.cfg.mode {
            Mode::LeaderSync => followers,
            Mode::LeaderSemisync => followers.min(1),
            _ => 0,
        };
        if need > 0 {
            let mut rx = self.acked.subscribe();
            let deadline = tokio::time::Instant::now()
                + Duration::from_millis(self.ctx.cfg.replication_timeout_ms);
            loop {
                {
                    let st = self.lock();
                    if st.term != term || st.role != Role::Leader {
                        return Response::err(
                            "leadership lost before replication was acknowledged",
                            false,
                        );
                    }
                    if st.matched.values().filter(|&&m| m >= index).count() >= need {
                        break;
                    }
                }
                match tokio::time::timeout_at(deadline, rx.changed()).await {
                    Ok(Ok(())) => {}
                    _ => {
                        return Response::err(
                            "timeout: replication not acknowledged in time",
                            false,
                        )
                    }
                }
            }
        }
        Response::ok(result).with_version(json!(index))
    }

    async fn on_peer(&self, req: Req) -> Resp {
        match req {
            Req::Probe => {
                let st = self.lock();
                let (last_index, last_term) = st.last();
                Resp::Probe {
                    term: st.term,
                    leader_role: st.role == Role::Leader,
                    leader: st.leader.clone(),
                    last_index,
                    last_term,
                }
            }
            Req::Append {
                term,
                leader,
                prev_index,
                prev_term,
                leader_last,
                entries,
            } => {
                self.on_append(term, leader, prev_index, prev_term, leader_last, entries)
                    .await
            }
        }
    }

    async fn on_append(
        &self,
        term: u64,
        leader: String,
        prev: u64,
        prev_term: u64,
        leader_last: u64,
        entries: Vec<Entry>,
    ) -> Resp {
        let me = self.ctx.id().to_string();
        let (waits, meta, end) = {
            let mut st = self.lock();
            let reject = |st: &State, last: u64| Resp::Append {
                term: st.term,
                leader: st.leader.clone(),
                ok: false,
                last_index: last,
            };
            if term < st.term {
                return reject(&st, st.log.len() as u64);
            }
            if st.role == Role::Leader && term == st.term && me < leader {
                // Two primaries promoted into one term: the lower id keeps it.
                return reject(&st, st.log.len() as u64);
            }
            let mut meta_changed = false;
            if term > st.term || st.leader.as_deref() != Some(&leader) || st.role != Role::Follower
            {
                if st.role == Role::Leader {
                    eprintln!("{me}: demoted: {leader} leads term {term}");
                }
                st.role = Role::Follower;
                st.term = term;
                st.leader = Some(leader);
                meta_changed = true;
            }
            st.last_contact = Instant::now();
            let len = st.log.len() as u64;
            if prev > len {
                return reject(&st, len);
            }
            if prev > 0 && st.log[prev as usize - 1].term != prev_term {
                return reject(&st, prev - 1);
            }
            let end = prev + entries.len() as u64;
            let mut cut: Option<u64> = None;
            let mut fresh = Vec::new();
            for (k, e) in entries.into_iter().enumerate() {
                let i = prev + 1 + k as u64;
                if cut.is_none() && i <= len {
                    if st.log[i as usize - 1].term == e.term {
                        continue;
                    }
                    cut = Some(i - 1);
                }
                fresh.push(e);
            }
            if cut.is_none() && end == leader_last && len > end {
                cut = Some(end); // the primary has nothing beyond `end`: our extra suffix diverged
            }
            let mut waits = Vec::new();
            if let Some(c) = cut {
                let lost = st.log.len() as u64 - c;
                st.discarded += lost;
                st.log.truncate(c as usize);
                let mut kv = Kv::default();
                for (i, e) in st.log.iter().enumerate() {
                    let _ = kv.apply(&e.cmd, i as u64 + 1);
                }
                st.kv = kv;
                eprintln!("{me}: discarded {lost} divergent log entries after index {c}");
                waits.push(self.wal.truncate_nowait(c as usize));
                meta_changed = true;
            }
            if !fresh.is_empty() {
                let base = st.log.len() as u64;
                for (k, e) in fresh.iter().enumerate() {
                    let _ = st.kv.apply(&e.cmd, base + 1 + k as u64);
                }
                waits.push(self.wal.append_nowait(&fresh));
                st.log.extend(fresh);
            }
            (waits, meta_changed.then(|| st.meta()), end)
        };
        for w in waits {
            if !matches!(w.await, Ok(Ok(()))) {
                let st = self.lock();
                return Resp::Append {
                    term: st.term,
                    leader: st.leader.clone(),
                    ok: false,
                    last_index: 0,
                };
            }
        }
        if let Some(m) = meta {
            self.save_meta(&m);
        }
        let st = self.lock();
        Resp::Append {
            term: st.term,
            leader: st.leader.clone(),
            ok: true,
            last_index: end,
        }
    }

    /// Ship the log to one follower, forever; idle unless this node is the primary.
    async fn replicate(self: Arc<Self>, peer: String) {
        let Some(client) = self.ctx.peer(&peer).cloned() else {
            return;
        };
        let hb = Duration::from_millis(self.ctx.cfg.heartbeat_ms);
        let timeout = Duration::from_millis((self.ctx.cfg.heartbeat_ms * 5).max(500));
        let mut new = self.appended.subscribe();
        let mut cur_term = u64::MAX;
        let mut next: u64 = 1;
        loop {
            let req = {
                let st = self.lock();
                if st.role != Role::Leader {
                    None
                } else {
                    if st.term != cur_term {
                        cur_term = st.term;
                        next = st.log.len() as u64 + 1;
                    }
                    let prev = next - 1;
                    let prev_term = if prev == 0 {
                        0
                    } else {
                        st.log[prev as usize - 1].term
                    };
                    let hi = (prev as usize + BATCH).min(st.log.len());
                    Some(Req::Append {
                        term: st.term,
                        leader: self.ctx.id().to_string(),
                        prev_index: prev,
                        prev_term,
                        leader_last: st.log.len() as u64,
                        entries: st.log[prev as usize..hi].to_vec(),
                    })
                }
            };
            let Some(req) = req else {
                tokio::time::sleep(hb).await;
                continue;
            };
            let Req::Append {
                prev_index,
                entries: ref sent,
                ..
            } = req
            else {
                continue;
            };
            let sent = sent.len() as u64;
            let more = match client.call::<Req, Resp>(&req, timeout).await {
                Ok(Resp::Append {
                    term,
                    leader,
                    ok,
                    last_index,
                }) => {
                    let mut st = self.lock();
                    let me = self.ctx.id();
                    let other_leads = term == st.term
                        && !ok
                        && leader.as_deref().is_some_and(|l| l != me && l < me);
                    if st.term == cur_term && (term > st.term || other_leads) {
                        eprintln!(
                            "{me}: stepping down: {peer} knows term {term} leader {leader:?}"
                        );
                        st.role = Role::Follower;
                        st.term = term;
                        st.leader = leader;
                        st.last_contact = Instant::now();
                        let m = st.meta();
                        drop(st);
                        self.save_meta(&m);
                        continue;
                    }
                    if st.term != cur_term {
                        continue;
                    }
                    if ok {
                        let m = prev_index + sent;
                        st.matched.insert(peer.clone(), m);
                        next = m + 1;
                    } else {
                        next = (next - 1).min(last_index + 1).max(1);
                    }
                    let more = next <= st.log.len() as u64;
                    drop(st);
                    if ok {
                        self.acked.send_modify(|v| *v += 1);
                    }
                    more
                }
                Ok(_) => false,
                Err(_) => {
                    tokio::time::sleep(hb).await;
                    false
                }
            };
            if !more {
                tokio::select! {
                    _ = new.changed() => {}
                    _ = tokio::time::sleep(hb) => {}
                }
            }
        }
    }
}
