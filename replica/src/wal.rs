//! A durable append-only log of JSON lines in the node's data directory.
//!
//! Writes go to one writer thread that batches whatever is queued into one `write` and one
//! `fsync` (group commit), then acknowledges every record in the batch: a caller that awaits its
//! acknowledgement knows the record is on disk when `--fsync on`. On open, every complete record
//! is read back; a torn last line (a crash mid-write) is cut off.
//!
//! With `--fsync off` ([`Durability::Periodic`]) a record is acknowledged as soon as it is in a
//! buffer in this process's memory; the buffer is written and synced only every sync interval.
//! That is what a machine crash does to a store that does not fsync (the page cache is lost), but
//! made visible to a plain SIGKILL of the process: the acknowledged records of the last interval
//! are gone on restart. Writing to the file without syncing would not show it, because the
//! kernel's page cache outlives a killed process.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// When an acknowledged record is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written and fsynced before it is acknowledged (`--fsync on`).
    Fsync,
    /// Acknowledged from memory; written and synced only every interval (`--fsync off`), so a
    /// crash loses up to one interval of acknowledged records.
    Periodic(Duration),
}

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
    /// Periodic mode: the interval is up, write and sync the buffer.
    Tick,
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
        durability: Durability,
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
            .spawn(move || writer(file, p, durability, offsets, good_len, rx))
            .map_err(io)?;
        if let Durability::Periodic(every) = durability {
            // A weak sender: the ticker must not keep the writer alive once every handle is gone.
            let weak = tx.downgrade();
            std::thread::Builder::new()
                .name(format!("wal-tick-{name}"))
                .spawn(move || {
                    // Short naps, so the thread ends soon after the last handle even when the
                    // interval is long.
                    let nap = every.min(Duration::from_millis(100));
                    let mut since = Instant::now();
                    loop {
                        std::thread::sleep(nap);
                        if weak.strong_count() == 0 {
                            break;
                        }
                        if since.elapsed() >= every {
                            since = Instant::now();
                            match weak.upgrade() {
                                Some(tx) if tx.send(Cmd::Tick).is_ok() => {}
                                _ => break,
                            }
                        }
                    }
                })
                .map_err(io)?;
        }
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
    durability: Durability,
    mut offsets: Vec<u64>,
    mut len: u64,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
) {
    let fsync = durability == Durability::Fsync;
    let mut pending: Vec<oneshot::Sender<Result<(), String>>> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut need_sync = false;
    // Periodic mode: when the buffer was last written and synced.
    let mut last_sync = Instant::now();
    let io_err = |e: std::io::Error| std::io::Error::other(format!("{}: {e}", path.display()));
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        let mut tick = false;
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
                    // Flushing first keeps the offsets file positions; in periodic mode this
                    // makes a truncation (rare: a follower discarding a divergent suffix) a sync.
                    let r = flush(&mut file, need_sync || !fsync, &mut buf, &mut len);
                    need_sync = false;
                    last_sync = Instant::now();
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
                Cmd::Tick => tick = true,
            }
            if buf.len() < (4 << 20) {
                next = rx.try_recv().ok();
            }
        }
        let r = match durability {
            Durability::Fsync => flush(&mut file, need_sync, &mut buf, &mut len),
            Durability::Periodic(every) => {
                // Acknowledge from memory; write and sync only when the interval is up (or the
                // buffer grew large, to bound memory).
                if tick || last_sync.elapsed() >= every || buf.len() >= (4 << 20) {
                    last_sync = Instant::now();
                    flush(&mut file, true, &mut buf, &mut len)
                } else {
                    Ok(())
                }
            }
        };
        need_sync = false;
        if let Err(e) = &r {
            eprintln!("wal {}: {e}", path.display());
        }
        reply(&mut pending, &r.map_err(io_err));
    }
    // Every handle is gone (an orderly shutdown): what is buffered is written.
    if let Err(e) = flush(&mut file, true, &mut buf, &mut len) {
        eprintln!("wal {}: {e}", path.display());
    }
}

fn flush(file: &mut File, sync: bool, buf: &mut Vec<u8>, len: &mut u64) -> std::io::Result<()> {
    if buf.is_empty() {
        return Ok(());
    }
    file.write_all(buf)?;
    *len += buf.len() as u64;
    buf.clear();
    if sync {
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
        let (w, recs) = Wal::open::<u32>(dir.path(), "log", Durability::Fsync).unwrap();
        assert!(recs.is_empty());
        w.append(&[1u32, 2, 3]).await.unwrap();
        w.append(&[4u32]).await.unwrap();
        w.truncate(2).await.unwrap();
        w.append(&[5u32]).await.unwrap();
        drop(w);
        let (_w, recs) = Wal::open::<u32>(dir.path(), "log", Durability::Fsync).unwrap();
        assert_eq!(recs, vec![1, 2, 5]);
    }

    #[tokio::test]
    async fn a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("log"), b"1\n2\n3").unwrap();
        let (w, recs) = Wal::open::<u32>(dir.path(), "log", Durability::Fsync).unwrap();
        assert_eq!(recs, vec![1, 2]);
        w.append(&[9u32]).await.unwrap();
        drop(w);
        let (_w, recs) = Wal::open::<u32>(dir.path(), "log", Durability::Fsync).unwrap();
        assert_eq!(recs, vec![1, 2, 9]);
    }

    #[tokio::test]
    async fn periodic_mode_acknowledges_before_the_file_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let every = Durability::Periodic(Duration::from_secs(3600));
        let (w, _) = Wal::open::<u32>(dir.path(), "log", every).unwrap();
        w.append(&[1u32, 2]).await.unwrap();
        // Acknowledged, yet only in memory: a SIGKILL now would lose both.
        assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"");
        // A truncation writes the buffer first, then cuts.
        w.truncate(1).await.unwrap();
        assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), b"1\n");
        w.append(&[3u32]).await.unwrap();
        drop(w);
        // An orderly shutdown writes what is buffered (the writer thread drains, then flushes).
        let t = Instant::now();
        while std::fs::read(dir.path().join("log")).unwrap() != b"1\n3\n" {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "buffer never written"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[tokio::test]
    async fn periodic_mode_writes_every_interval() {
        let dir = tempfile::tempdir().unwrap();
        let every = Durability::Periodic(Duration::from_millis(50));
        let (w, _) = Wal::open::<u32>(dir.path(), "log", every).unwrap();
        w.append(&[7u32]).await.unwrap();
        let t = Instant::now();
        while std::fs::read(dir.path().join("log")).unwrap() != b"7\n" {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "interval sync never came"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(w);
    }
}
