//! The counter workload (Jepsen's `counter`): `add` of a small positive delta and `read` of
//! the total, on a few keys. Checked by `lost`'s counter checker: every read within the
//! bounds possible at its time, and final reads after healing missing no acknowledged add.
//!
//! On a plain key-value store an `add` is a compare-and-set loop ([`CounterAdapter`]): read
//! the total, `cas` it to total + delta, retry on a mismatch. Deltas are positive, so the
//! total only grows and a cas cannot succeed against a recycled value (no ABA).

use std::collections::BTreeSet;
use std::sync::Arc;

use faultline_checker::lost::{LostChecker, LostWorkload};
use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{BoxFuture, Op, OpType, Value};

use crate::adapter::{primitive, relabel, Adapter};
use crate::{Bundle, Options};

/// Tries of the cas loop before an `add` gives up (as `fail`: no cas applied).
pub const CAS_TRIES: usize = 32;

pub struct Counter {
    pub options: Options,
}

/// The keys a workload's ops touched (their `key` field).
pub(crate) fn keys_touched(history: &[Op]) -> BTreeSet<Value> {
    history
        .iter()
        .filter(|o| o.is_client())
        .filter_map(|o| o.extra.get("key").cloned())
        .collect()
}

impl Workload for Counter {
    fn name(&self) -> &str {
        "counter"
    }

    fn generator(&self, _worker: usize, _workers: usize, _seed: u64) -> Box<dyn Generator> {
        let keys = self.options.keys_per_group.max(1);
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            let key = Value::Str(format!("c{}", rng.below(keys)));
            if rng.chance(0.25) {
                Invocation::new("read", Value::Nil).with_key(key)
            } else {
                Invocation::new("add", Value::Int(1 + rng.below(5) as i64)).with_key(key)
            }
        }))
    }

    fn final_reads(&self, history: &[Op]) -> Vec<Invocation> {
        keys_touched(history)
            .into_iter()
            .map(|k| Invocation::new("read", Value::Nil).with_key(k))
            .collect()
    }
}

/// `add` as a cas loop, `read` with an absent key as 0.
pub struct CounterAdapter;

/// A stored total: absent is 0.
fn total(v: &Value) -> Option<i64> {
    match v {
        Value::Nil => Some(0),
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

impl Adapter for CounterAdapter {
    fn invoke<'a>(
        &'a self,
        inner: &'a mut dyn Client,
        op: &'a Invocation,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let read = primitive(op, "read", Value::Nil);
            match op.f.as_str() {
                "read" => {
                    let c = inner.invoke(&read).await;
                    if c.kind != OpType::Ok {
                        return c;
                    }
                    match total(&c.value) {
                        Some(n) => relabel(c, Value::Int(n)),
                        None => Completion {
                            kind: OpType::Fail,
                            error: Some(format!("not a counter: {}", c.value).into()),
                            value: Value::Nil,
                            ..c
                        },
                    }
                }
                "add" => {
                    let Some(delta) = op.value.as_int() else {
                        return Completion::fail("bad-request: add takes an integer");
                    };
                    let mut last = Completion::fail("cas-contention");
                    for _ in 0..CAS_TRIES {
                        let r = inner.invoke(&read).await;
                        if r.kind != OpType::Ok {
                            // Nothing was written yet: the add certainly did not happen.
                            return Completion {
                                kind: OpType::Fail,
                                value: Value::Nil,
                                ..r
                            };
                        }
                        let Some(now) = total(&r.value) else {
                            return Completion::fail(format!("not a counter: {}", r.value));
                        };
                        let cas = primitive(
                            op,
                            "cas",
                            Value::List(vec![r.value.clone(), Value::Int(now + delta)]),
                        );
                        let c = inner.invoke(&cas).await;
                        match c.kind {
                            OpType::Ok => return relabel(c, op.value.clone()),
                            OpType::Fail
                                if c.error.as_ref().and_then(Value::as_str)
                                    == Some("cas-mismatch") =>
                            {
                                last = Completion {
                                    error: Some("cas-contention".into()),
                                    ..c
                                };
                            }
                            _ => return c,
                        }
                    }
                    last
                }
                _ => inner.invoke(op).await,
            }
        })
    }
}

pub fn bundle(options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(Counter {
            options: options.clone(),
        }),
        checkers: vec![Box::new(LostChecker {
            workload: LostWorkload::Counter,
            ..LostChecker::default()
        })],
        independent: false,
        adapter: Some(Arc::new(CounterAdapter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{Budget, Validity};
    use faultline_core::generator::{limit, simulate};

    #[test]
    fn ops_are_positive_adds_and_reads_on_few_keys() {
        let w = Counter {
            options: Options::default(),
        };
        let gens: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(100, w.generator(i, 3, 1))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 1, 10);
        assert_eq!(ops.len(), 300);
        let mut adds = 0;
        for (_, _, op) in &ops {
            match op.f.as_str() {
                "add" => {
                    adds += 1;
                    assert!((1..=5).contains(&op.value.as_int().unwrap()));
                }
                "read" => assert_eq!(op.value, Value::Nil),
                f => panic!("unexpected {f}"),
            }
            assert!(op.key.is_some());
        }
        assert!(adds > 150, "{adds}");
    }

    #[test]
    fn checker_finds_a_lost_increment() {
        let text = r#"{"type":"invoke","process":0,"f":"add","value":3,"key":"c0"}
{"type":"ok","process":0,"f":"add","value":3,"key":"c0"}
{"type":"invoke","process":1,"f":"add","value":2,"key":"c0"}
{"type":"ok","process":1,"f":"add","value":2,"key":"c0"}
{"type":"invoke","process":2,"f":"read","value":null,"key":"c0","final":true}
{"type":"ok","process":2,"f":"read","value":3,"key":"c0","final":true}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let b = bundle(&Options::default());
        let v = b.checkers[0].check(&h, &Budget::unlimited());
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
        assert!(format!("{v:?}").contains("lost-increments"), "{v:?}");
        let ok = text.replace(
            r#""value":3,"key":"c0","final":true}"#,
            r#""value":5,"key":"c0","final":true}"#,
        );
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), &ok, None)
            .unwrap()
            .history;
        assert_eq!(
            b.checkers[0].check(&h, &Budget::unlimited()).valid,
            Validity::Valid
        );
    }
}
