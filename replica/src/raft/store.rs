//! openraft storage: a log store over our WAL and an in-memory state machine.
//!
//! The log file holds records (entry, truncate, purge, vote, committed) replayed in order on
//! open. Votes are synced before `save_vote` returns and entries before openraft's flush
//! callback fires, so nothing is acknowledged before it is durable (with `--fsync on`). The state
//! machine is not persisted: on restart openraft re-applies the log up to the saved committed id.
//! Snapshots are built in memory on demand (the snapshot policy is `Never`, so logs are never
//! purged and lagging followers catch up from the log).

use super::{Applied, NodeId, TypeConfig};
use crate::kv::Kv;
use crate::node::NodeError;
use crate::wal::{Durability, Wal};
use openraft::storage::{LogFlushed, RaftLogStorage, RaftStateMachine};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, LogState, RaftLogReader, RaftSnapshotBuilder, Snapshot,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, RwLock};

#[derive(Debug, Serialize, Deserialize)]
enum Rec {
    E(Entry<TypeConfig>),
    Truncate(u64),
    Purge(LogId<NodeId>),
    Vote(Vote<NodeId>),
    Committed(Option<LogId<NodeId>>),
}

#[derive(Default)]
struct LogInner {
    log: BTreeMap<u64, Entry<TypeConfig>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    purged: Option<LogId<NodeId>>,
}

type Flush = (
    oneshot::Receiver<Result<(), String>>,
    LogFlushed<TypeConfig>,
);

#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<LogInner>>,
    wal: Wal,
    /// Flush callbacks, completed in order by one task.
    flushes: mpsc::UnboundedSender<Flush>,
}

fn io_err(e: impl std::fmt::Display) -> StorageError<NodeId> {
    StorageIOError::write_logs(openraft::AnyError::error(e.to_string())).into()
}

impl LogStore {
    /// Open the log; `fresh` says it was empty (so the node must initialize the cluster).
    pub fn open(dir: &Path, durability: Durability) -> Result<(LogStore, bool), NodeError> {
        let (wal, recs) = Wal::open::<Rec>(dir, "raft.jsonl", durability)?;
        let fresh = recs.is_empty();
        let mut inner = LogInner::default();
        for r in recs {
            match r {
                Rec::E(e) => {
                    inner.log.insert(e.log_id.index, e);
                }
                Rec::Truncate(i) => {
                    inner.log.split_off(&i);
                }
                Rec::Purge(l) => {
                    inner.log = inner.log.split_off(&(l.index + 1));
                    inner.purged = Some(l);
                }
                Rec::Vote(v) => inner.vote = Some(v),
                Rec::Committed(c) => inner.committed = c,
            }
        }
        let (tx, mut rx) = mpsc::unbounded_channel::<Flush>();
        tokio::spawn(async move {
            while let Some((done, cb)) = rx.recv().await {
                let r = match done.await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(std::io::Error::other(e)),
                    Err(_) => Err(std::io::Error::other("log writer stopped")),
                };
                cb.log_io_completed(r);
            }
        });
        Ok((
            LogStore {
                inner: Arc::new(Mutex::new(inner)),
                wal,
                flushes: tx,
            },
            fresh,
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, StorageError<NodeId>> {
        Ok(self
            .lock()
            .log
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError<NodeId>> {
        let g = self.lock();
        let last = g.log.values().next_back().map(|e| e.log_id).or(g.purged);
        Ok(LogState {
            last_purged_log_id: g.purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.lock().vote = Some(*vote);
        self.wal.append(&[Rec::Vote(*vote)]).await.map_err(io_err)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError<NodeId>> {
        Ok(self.lock().vote)
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogId<NodeId>>,
    ) -> Result<(), StorageError<NodeId>> {
        self.lock().committed = committed;
        // Not awaited: a lost committed id only means re-applying less on restart.
        self.wal.append_detached(&[Rec::Committed(committed)]);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, StorageError<NodeId>> {
        Ok(self.lock().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let recs: Vec<Rec> = {
            let mut g = self.lock();
            entries
                .into_iter()
                .map(|e| {
                    g.log.insert(e.log_id.index, e.clone());
                    Rec::E(e)
                })
                .collect()
        };
        let done = self.wal.append_nowait(&recs);
        let _ = self.flushes.send((done, callback));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        self.lock().log.split_off(&log_id.index);
        self.wal
            .append(&[Rec::Truncate(log_id.index)])
            .await
            .map_err(io_err)
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), StorageError<NodeId>> {
        {
            let mut g = self.lock();
            g.log = g.log.split_off(&(log_id.index + 1));
            g.purged = Some(log_id);
        }
        self.wal.append(&[Rec::Purge(log_id)]).await.map_err(io_err)
    }
}

/// The applied state: the key-value map plus what openraft needs to know about it.
#[derive(Default, Clone, Serialize, Deserialize)]
pub struct SmData {
    pub kv: Kv,
    pub last_applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, BasicNode>,
}

impl SmData {
    pub fn last_index(&self) -> u64 {
        self.last_applied.map(|l| l.index).unwrap_or(0)
    }
}

type StoredSnapshot = Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>;

#[derive(Default, Clone)]
pub struct StateMachine {
    data: Arc<RwLock<SmData>>,
    snapshot: Arc<Mutex<StoredSnapshot>>,
}

impl StateMachine {
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, SmData> {
        self.data.read().await
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError<NodeId>> {
        let d = self.data.read().await.clone();
        let bytes = serde_json::to_vec(&d).map_err(io_err)?;
        let meta = SnapshotMeta {
            last_log_id: d.last_applied,
            last_membership: d.membership.clone(),
            snapshot_id: format!("{}", d.last_index()),
        };
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), StorageError<NodeId>>
    {
        let d = self.data.read().await;
        Ok((d.last_applied, d.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError<NodeId>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut d = self.data.write().await;
        let mut out = Vec::new();
        for e in entries {
            d.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => out.push(Applied::default()),
                EntryPayload::Membership(m) => {
                    d.membership = StoredMembership::new(Some(e.log_id), m);
                    out.push(Applied::default());
                }
                EntryPayload::Normal(cmd) => match d.kv.apply(&cmd, e.log_id.index) {
                    Ok(v) => out.push(Applied {
                        value: v,
                        error: None,
                    }),
                    Err(err) => out.push(Applied {
                        value: serde_json::Value::Null,
                        error: Some(err),
                    }),
                },
            }
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(
        &mut self,
    ) -> Result<Box<Cursor<Vec<u8>>>, StorageError<NodeId>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<NodeId>> {
        let bytes = snapshot.into_inner();
        let d: SmData = serde_json::from_slice(&bytes).map_err(io_err)?;
        *self.data.write().await = d;
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<Snapshot<TypeConfig>>, StorageError<NodeId>> {
        Ok(self
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map(|(meta, bytes)| Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(bytes)),
            }))
    }
}
