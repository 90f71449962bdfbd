//! A durable append-only log of JSON lines in the node's data directory.
//!
//! Writes go to one writer thread that batches whatever is queued into one `write` and one
//! `fsync` (group commit), then acknowledges every record in the batch: a caller that awaits its
//! acknowledgement knows the record is on disk when `--fsync on`. On open, every complete record
//! is read back; a torn last line (a crash mid-write) is cut off.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, thiserror::Error)]
pub enum WalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {msg}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        msg: String,
    },
    #[error("the log writer stopped")]
    Closed,
}

enum Cmd {
    /// Lines, whether they need an fsync, and who to tell once written.
    Append(Vec<Vec<u8>>, bool, oneshot::Sender<Result<(), String>>),
    /// Keep only the first n records.
    Truncate(usize, oneshot::Sender<Result<(), String>>),
}

/// A handle to the writer thread. Cloneable; records are written in the order they are sent.
#[derive(Clone)]
pub struct Wal {
    tx: mpsc::UnboundedSender<Cmd>,
}

impl Wal {
    /// Open (or create) `dir/name`, returning the handle and every record already in it.
    pub fn open<T: DeserializeOwned>(
        dir: &Path,
        name: &str,
        fsync: bool,
    ) -> Result<(Wal, Vec<T>), WalError> {
        let path = dir.join(name);
        let io = |source| WalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        let mut records = Vec::new();
        let mut offsets = Vec::new();
        let mut good_len = 0u64;
        {
            let mut r = BufReader::new(&file);
            let mut buf = Vec::new();
            let mut line = 0;
            loop {
                buf.clear();
                let n = r.read_until(b'\n', &mut buf).map_err(io)?;
                if n == 0 {
                    break;
                }
                line += 1;
                if buf.last() != Some(&b'\n') {
                    break; // torn tail: the crash came mid-write, the record was never acknowledged
                }
                match serde_json::from_slice::<T>(&buf) {
                    Ok(t) => records.push(t),
                    Err(e) => {
                        // A bad line followed by more lines is corruption, not a torn tail.
                        let mut rest = Vec::new();
                        r.read_until(b'\n', &mut rest).map_err(io)?;
                        if !rest.is_empty() {
                            return Err(WalError::Corrupt {
                                path: path.clone(),
                                line,
                                msg: e.to_string(),
                            });
                        }
                        break;
                    }
                }
                offsets.push(good_len);
                good_len += n as u64;
            }
        }
        if file.metadata().map_err(io)?.len() != good_len {
            file.set_len(good_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::End(0)).map_err(io)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all(); // make the file's creation durable
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let p = path.clone();
        std::thread::Builder::new()
            .name(format!("wal-{name}"))
            .spawn(move || writer(file, p, fsync, offsets, good_len, rx))
            .map_err(io)?;
        Ok((Wal { tx }, records))
    }

    /// Queue records; the returned receiver resolves once they are written (and synced).
    pub fn append_nowait<T: Serialize>(&self, recs: &[T]) -> oneshot::Receiver<Result<(), String>> {
        self.queue(recs, true)
    }

    fn queue<T: Serialize>(&self, recs: &[T], sync: bool) -> oneshot::Receiver<Result<(), String>> {
        let lines = recs
            .iter()
            .map(|r| {
                let mut l = serde_json::to_vec(r).expect("log records serialize");
                l.push(b'\n');
                l
            })
            .collect();
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Cmd::Append(lines, sync, done));
        rx
    }

    /// Queue records without waiting for them and without asking for an fsync of their own
    /// (bookkeeping whose loss on a crash is harmless; a later synced batch makes them durable).
    pub fn append_detached<T: Serialize>(&self, recs: &[T]) {
        drop(self.queue(recs, false));
    }

    pub async fn append<T: Serialize>(&self, recs: &[T]) -> Result<(), WalError> {
        match self.append_nowait(recs).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(WalError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(WalError::Closed),
        }
    }

    /// Queue a truncation to the first `keep` records (ordered with appends).
    pub fn truncate_nowait(&self, keep: usize) -> oneshot::Receiver<Result<(), String>> {
        let (done, rx) = oneshot::channel();
        let _ = self.tx.send(Cmd::Truncate(keep, done));
        rx
    }

    /// Keep only the first `keep` records (a follower discarding a divergent suffix).
    pub async fn truncate(&self, keep: usize) -> Result<(), WalError> {
        match self.truncate_nowait(keep).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(WalError::Io {
                path: PathBuf::new(),
                source: std::io::Error::other(e),
            }),
            Err(_) => Err(WalError::Closed),
        }
    }
}

fn writer(
    mut file: File,
    path: PathBuf,
    fsync: bool,
    mut offsets: Vec<u64>,
    mut len: u64,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
) {
    let mut pending: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut need_sync = false;
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Cmd::Append(lines, sync, done) => {
                    need_sync |= sync;
                    for l in lines {
                        offsets.push(len + buf.len() as u64);
                        buf.extend_from_slice(&l);
                    }
                    pending.push(done);
                }
                Cmd::Truncate(keep, done) => {
                    let r = flush(&mut file, fsync && need_sync, &mut buf, &mut len);
                    need_sync = false;
                    reply(&mut pending, &r);
                    let r = r.and_then(|()| {
                        if keep < offsets.len() {
                            len = offsets[keep];
                            offsets.truncate(keep);
                            file.set_len(len)?;
                            file.sync_all()?;
                        }
                        Ok(())
                    });
                    let _ = done.send(r.map_err(|e| format!("{}: {e}", path.display())));
                }
            }
            if buf.len() < (4 << 20) {
                next = rx.try_recv().ok();
            }
        }
        let r = flush(&mut file, fsync && need_sync, &mut buf, &mut len);
        need_sync = false;
        if let Err(e) = &r {
            eprintln!("wal {}: {e}", path.display());
        }
        reply(
            &mut pending,
            &r.map_err(|e| std::io::Error::other(format!("{}: {e}", path.display()))),
        );
    }
}

fn flush(file: &mut File, fsync: bool, buf: &mut Vec<u8>, len: &mut u64) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    file.write_all(buf)?;
    *len += buf.len() as u64;
    buf.clear();
    if fsync {
        file.sync_data()?;
    }
    Ok(())
}

fn reply(pending: &mut Vec<oneshot::Sender<Result<(), String>>>, r: &std::io::Result<()>) {
    for d in pending.drain(..) {
        let _ = d.send(r.as_ref().map(|_| ()).map_err(|e| e.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_reopen_and_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let (w, recs) = Wal::open::<u32>(dir.path(), "log", true).unwrap();
        assert!(recs.is_empty());
        w.append(&[1u32, 2, 3]).await.unwrap();
        w.append(&[4u32]).await.unwrap();
        w.truncate(2).await.unwrap();
        w.append(&[5u32]).await.unwrap();
        drop(w);
        let (_w, recs) = Wal::open::<u32>(dir.path(), "log", true).unwrap();
        assert_eq!(recs, vec![1, 2, 5]);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("log"), b"1\n2\n3").unwrap();
        let (w, recs) = Wal::open::<u32>(dir.path(), "log", false).unwrap();
        assert_eq!(recs, vec![1, 2]);
        w.append(&[9u32]).await.unwrap();
        drop(w);
        let (_w, recs) = Wal::open::<u32>(dir.path(), "log", false).unwrap();
        assert_eq!(recs, vec![1, 2, 9]);
    }
}
