//! The history recorder: every event gets its index and time under one lock, so index order
//! is real-time order, and is appended to `history.jsonl` through a buffer that
//! [`Recorder::flush`] empties (the run loop calls it every 50 ms, so a controller killed
//! mid-run loses at most that much, and what it leaves ends at a whole line or a cut one that
//! the reader drops with a warning).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::format::jsonl;
use crate::history::{Op, OpType, Process};

/// Counts of recorded client completions, for progress display.
#[derive(Debug, Default)]
pub struct Counts {
    pub invoke: AtomicU64,
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
    pub nemesis: AtomicU64,
}

impl Counts {
    pub fn snapshot(&self) -> [u64; 5] {
        [
            self.invoke.load(Ordering::Relaxed),
            self.ok.load(Ordering::Relaxed),
            self.fail.load(Ordering::Relaxed),
            self.info.load(Ordering::Relaxed),
            self.nemesis.load(Ordering::Relaxed),
        ]
    }
}

struct Inner {
    out: Option<BufWriter<File>>,
    ops: Vec<Op>,
    /// The first write error; recording goes on in memory, the run reports it at the end.
    error: Option<std::io::Error>,
}

/// Appends events to memory and, when given a file, to JSON Lines on disk.
pub struct Recorder {
    start: Instant,
    inner: Mutex<Inner>,
    pub counts: Counts,
    /// The fault in force, as its start `f` (empty when none), for progress display.
    fault: Mutex<String>,
}

/// Whether a nemesis `f` ends a fault (the names the built-in nemeses and Jepsen use).
fn ends_fault(f: &str) -> bool {
    f.starts_with("stop") || matches!(f, "restart" | "start" | "resume" | "reset-clock" | "heal")
}

impl Recorder {
    /// Records into `path` (created, truncated) and memory.
    pub fn to_file(path: &Path) -> std::io::Result<Recorder> {
        let f = File::create(path)?;
        Ok(Recorder::new(Some(BufWriter::with_capacity(1 << 16, f))))
    }

    /// Records into memory only.
    pub fn in_memory() -> Recorder {
        Recorder::new(None)
    }

    fn new(out: Option<BufWriter<File>>) -> Recorder {
        Recorder {
            start: Instant::now(),
            inner: Mutex::new(Inner {
                out,
                ops: Vec::with_capacity(1 << 16),
                error: None,
            }),
            counts: Counts::default(),
            fault: Mutex::new(String::new()),
        }
    }

    /// Nanoseconds since the recorder started: the history's clock.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn started(&self) -> Instant {
        self.start
    }

    /// Stamps `op` with the next index and the current time, records it, and returns the
    /// stamped op's index.
    pub fn record(&self, mut op: Op) -> u64 {
        let c = match (op.process, op.kind) {
            (Process::Nemesis, _) => &self.counts.nemesis,
            (_, OpType::Invoke) => &self.counts.invoke,
            (_, OpType::Ok) => &self.counts.ok,
            (_, OpType::Fail) => &self.counts.fail,
            (_, OpType::Info) => &self.counts.info,
        };
        c.fetch_add(1, Ordering::Relaxed);
        if op.process == Process::Nemesis && op.kind == OpType::Info {
            if let Ok(mut f) = self.fault.lock() {
                if ends_fault(&op.f) {
                    f.clear();
                } else if op.error.is_none() {
                    *f = op.f.clone();
                }
            }
        }
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        op.index = g.ops.len() as u64;
        op.time = self.now();
        let index = op.index;
        let inner = &mut *g;
        if let Some(out) = inner.out.as_mut() {
            if inner.error.is_none() {
                if let Err(e) = jsonl::write_op(out, &op) {
                    inner.error = Some(e);
                }
            }
        }
        inner.ops.push(op);
        index
    }

    /// The fault in force now (its start `f`), or "".
    pub fn current_fault(&self) -> String {
        self.fault.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Writes buffered events to the file.
    pub fn flush(&self) {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let inner = &mut *g;
        if let Some(out) = inner.out.as_mut() {
            if inner.error.is_none() {
                if let Err(e) = out.flush() {
                    inner.error = Some(e);
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().map(|g| g.ops.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the events so far (for final reads that depend on what was touched).
    pub fn snapshot(&self) -> Vec<Op> {
        self.inner.lock().map(|g| g.ops.clone()).unwrap_or_default()
    }

    /// Flushes and returns every event, and the first write error if there was one.
    pub fn finish(&self) -> (Vec<Op>, Option<std::io::Error>) {
        self.flush();
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        (std::mem::take(&mut g.ops), g.error.take())
    }
}
