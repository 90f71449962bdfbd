//! Linearizability: is there one total order of the ops, consistent with real time, in
//! which a sequential [`Model`] gives every op the result it returned?
//!
//! The search ([`search`]) is Wing & Gong's with Lowe's just-in-time linearization and
//! memoisation on (linearized set, model state), as in Porcupine. Histories split by key
//! (P-compositionality, [`partition`]): Jepsen `[key value]` tuples with
//! [`Options::independent`], or a model's own partition (the `kv` model splits by key).
//! Parts are checked in parallel on every core; the first illegal part stops the rest
//! unless [`Options::all_keys`] is set.
//!
//! Semantics (Jepsen's): `ok` happened with its result; `fail` did not happen (models may
//! keep a failed op as proof, as `etcd` keeps a failed cas); `info` or no completion is
//! indeterminate: the op may take effect at any time after its invocation, or never. A
//! budget that runs out gives `unknown`, never `valid`.
//!
//! ```
//! use faultline_checker::linearizable::{check_named, Options};
//! use faultline_checker::{Budget, Validity};
//! use faultline_core::format::read_str;
//!
//! // Process 1's write of 2 completes, then process 0 reads 1.
//! let text = r#"{"type":"invoke","process":0,"f":"write","value":1}
//! {"type":"ok","process":0,"f":"write","value":1}
//! {"type":"invoke","process":1,"f":"write","value":2}
//! {"type":"ok","process":1,"f":"write","value":2}
//! {"type":"invoke","process":0,"f":"read","value":null}
//! {"type":"ok","process":0,"f":"read","value":1}
//! "#;
//! let h = read_str("h.jsonl".as_ref(), text, None).unwrap().history;
//! let v = check_named("register", &h, &Options::default(), &Budget::unlimited()).unwrap();
//! assert_eq!(v.valid, Validity::Invalid);
//! assert!(v.anomalies[0].explanation.contains("process 0's read of 1"));
//! ```

mod bitset;
mod memo;
pub mod model;
pub mod models;
pub mod partition;
pub mod search;
mod verdict;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use faultline_core::{History, OpType, Process, Value};

pub use model::{Model, ModelError, OpView};
use models::{Counter, Kv, Queue, Register, RegisterKind, Set};
use search::{Outcome, Search, Span};

use crate::verdict::{Budget, Verdict};
use crate::Checker;

/// The built-in models, as `--model` names them.
pub const MODELS: &[&str] = &[
    "register",
    "cas-register",
    "etcd",
    "kv",
    "counter",
    "set",
    "queue",
    "mutex",
];

/// How to check.
#[derive(Clone, Debug)]
pub struct Options {
    /// Values are Jepsen independent `[key value]` tuples: split by key.
    pub independent: bool,
    /// Check every key even after one is found illegal.
    pub all_keys: bool,
    /// Use the model's own partition (`kv` by key). Off checks the history as one object.
    pub partition: bool,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            independent: false,
            all_keys: false,
            partition: true,
            threads: 0,
        }
    }
}

/// Why a history cannot be checked against a model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinError {
    #[error("unknown model {0:?}; the models are {models}", models = MODELS.join(", "))]
    UnknownModel(String),
    /// An op the model cannot read; `index` is the event's position in the history.
    #[error("event {index} (process {process} {kind} {f} {value}): {message}")]
    BadOp {
        index: u64,
        process: u64,
        kind: OpType,
        f: String,
        value: String,
        message: String,
    },
}

/// The linearizability checker for one model.
#[derive(Clone, Debug)]
pub struct Linearizable<M> {
    pub model: M,
    pub options: Options,
}

/// A checker that can also say why it cannot read a history (unknown `f`, bad values),
/// for callers that want to report that as bad input rather than as `unknown`.
pub trait TryCheck: Checker {
    fn try_check(&self, history: &History, budget: &Budget) -> Result<Verdict, LinError>;
}

/// The checker for a built-in model by name (see [`MODELS`]).
pub fn by_name(model: &str, options: Options) -> Result<Box<dyn TryCheck>, LinError> {
    let plain = |kind| -> Box<dyn TryCheck> {
        Box::new(Linearizable::new(Register(kind), options.clone()))
    };
    Ok(match model {
        "register" => plain(RegisterKind::Plain),
        "cas-register" => plain(RegisterKind::Cas),
        "etcd" | "etcd-cas-register" => plain(RegisterKind::Etcd),
        // kv reads the `[key value]` tuples itself and partitions by key.
        "kv" | "kv-append-put-get" => Box::new(Linearizable::new(
            Kv,
            Options {
                independent: false,
                ..options
            },
        )),
        "counter" => Box::new(Linearizable::new(Counter, options)),
        "set" => Box::new(Linearizable::new(Set, options)),
        "queue" => Box::new(Linearizable::new(Queue, options)),
        "mutex" => Box::new(Linearizable::new(models::Mutex, options)),
        other => return Err(LinError::UnknownModel(other.to_string())),
    })
}

/// Checks a history against a built-in model by name.
pub fn check_named(
    model: &str,
    history: &History,
    options: &Options,
    budget: &Budget,
) -> Result<Verdict, LinError> {
    by_name(model, options.clone())?.try_check(history, budget)
}

/// Where an op came from, for evidence and sentences.
#[derive(Clone, Copy, Debug)]
struct Meta {
    invoke: u64,
    complete: Option<u64>,
    /// Whether the completion is ok or fail (not info, not missing).
    determinate: bool,
    process: u64,
    invoke_time: u64,
    complete_time: Option<u64>,
}

/// One independent part of the history.
struct Part<I, O> {
    key: Option<Value>,
    ops: Vec<(I, O)>,
    spans: Vec<Span>,
    meta: Vec<Meta>,
}

/// What checking a part found.
enum PartResult {
    Ok(u64),
    /// The anomaly, already built (sentences need the part's interned states).
    Illegal(crate::verdict::Anomaly, u64),
    GaveUp(crate::verdict::Exhausted, u64),
}

impl<M: Model> Linearizable<M> {
    pub fn new(model: M, options: Options) -> Linearizable<M> {
        Linearizable { model, options }
    }

    /// Reads every client op through the model and splits the history into parts.
    fn parts(&self, history: &History) -> Result<Vec<Part<M::Input, M::Output>>, LinError> {
        let independent = self.options.independent;
        let mut ops = Vec::new();
        let mut meta = Vec::new();
        let mut keys: Vec<Value> = Vec::new();
        for (invoke, completion) in history.client_pairs() {
            let Process::Client(process) = invoke.process else {
                continue;
            };
            let outcome = completion.map_or(OpType::Info, |c| c.kind);
            let bad = |message: String| LinError::BadOp {
                index: invoke.index,
                process,
                kind: invoke.kind,
                f: invoke.f.clone(),
                value: invoke.value.to_string(),
                message,
            };
            let (key, invoke_value, complete_value) = if independent {
                let (k, v) = partition::split_tuple(&invoke.value).ok_or_else(|| {
                    bad("with --independent every op's value is a [key value] tuple".into())
                })?;
                let done = completion
                    .map(|c| partition::split_tuple(&c.value).map_or(&c.value, |(_, v)| v));
                (Some(k), v, done)
            } else {
                (None, &invoke.value, completion.map(|c| &c.value))
            };
            let view = OpView {
                f: &invoke.f,
                outcome,
                invoke_value,
                complete_value,
                process,
            };
            let Some(call) = self.model.op(&view).map_err(|e| bad(e.0))? else {
                continue;
            };
            ops.push(call);
            if let Some(k) = key {
                keys.push(k.clone());
            }
            let determinate = matches!(outcome, OpType::Ok | OpType::Fail);
            meta.push(Meta {
                invoke: invoke.index,
                complete: completion.map(|c| c.index),
                determinate,
                process,
                invoke_time: invoke.time,
                complete_time: completion.map(|c| c.time),
            });
        }
        let groups: Vec<(Option<Value>, Vec<usize>)> = if independent {
            partition::group_by(keys.iter())
                .into_iter()
                .map(|(k, v)| (Some(k), v))
                .collect()
        } else if self.options.partition {
            match self.model.partition(&ops) {
                Some(g) => g.into_iter().map(|(k, v)| (Some(k), v)).collect(),
                None => vec![(None, (0..ops.len()).collect())],
            }
        } else {
            vec![(None, (0..ops.len()).collect())]
        };
        let mut slots: Vec<Option<(M::Input, M::Output)>> = ops.into_iter().map(Some).collect();
        Ok(groups
            .into_iter()
            .map(|(key, members)| {
                let mut part = Part {
                    key,
                    ops: Vec::with_capacity(members.len()),
                    spans: Vec::with_capacity(members.len()),
                    meta: Vec::with_capacity(members.len()),
                };
                for i in members {
                    if let Some(op) = slots[i].take() {
                        let m = meta[i];
                        part.ops.push(op);
                        part.spans.push(Span {
                            call: m.invoke,
                            ret: if m.determinate { m.complete } else { None },
                        });
                        part.meta.push(m);
                    }
                }
                part
            })
            .collect())
    }

    fn check_part(
        &self,
        part: &Part<M::Input, M::Output>,
        timed: bool,
        budget: &Budget,
        stop: &AtomicBool,
    ) -> PartResult {
        let mut search = Search::new(&self.model, &part.ops);
        let outcome = search.run(&part.spans, budget, stop);
        let explored = search.explored;
        match outcome {
            Outcome::Linearizable => PartResult::Ok(explored),
            Outcome::GaveUp(why) => PartResult::GaveUp(why, explored),
            Outcome::Illegal(stuck) => {
                let anomaly = verdict::anomaly(&self.model, &search, part, &stuck, timed);
                PartResult::Illegal(anomaly, explored)
            }
        }
    }

    pub fn try_check(&self, history: &History, budget: &Budget) -> Result<Verdict, LinError> {
        let parts = self.parts(history)?;
        let timed = history.ops().iter().any(|op| op.time > 0);
        let stop = AtomicBool::new(false);
        // Largest parts first, so the long ones start early.
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(parts[i].ops.len()));
        let results: Vec<Mutex<Option<PartResult>>> =
            parts.iter().map(|_| Mutex::new(None)).collect();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = match self.options.threads {
            0 => cores,
            n => n,
        }
        .min(parts.len())
        .max(1);
        let next = AtomicUsize::new(0);
        let work = || loop {
            let at = next.fetch_add(1, Ordering::Relaxed);
            let Some(&i) = order.get(at) else { break };
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let r = self.check_part(&parts[i], timed, budget, &stop);
            if matches!(r, PartResult::Illegal(..)) && !self.options.all_keys {
                stop.store(true, Ordering::Relaxed);
            }
            *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        };
        if threads == 1 {
            work();
        } else {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(work);
                }
            });
        }
        let results = results
            .into_iter()
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .collect();
        Ok(verdict::combine(&parts, results))
    }
}

impl<M: Model> Checker for Linearizable<M> {
    fn name(&self) -> &str {
        "linearizable"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        self.try_check(history, budget)
            .unwrap_or_else(|e| Verdict::unknown("linearizable", e.to_string()))
    }
}

impl<M: Model> TryCheck for Linearizable<M> {
    fn try_check(&self, history: &History, budget: &Budget) -> Result<Verdict, LinError> {
        Linearizable::try_check(self, history, budget)
    }
}
