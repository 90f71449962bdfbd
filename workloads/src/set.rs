//! The set workload (Jepsen's `set-full`): `add` of unique elements and `read` of the whole
//! set (one key, `s`), with final reads from every node after healing. Checked by `lost`'s
//! set checker: per element, when it appeared, became stable, or was lost.
//!
//! On a plain key-value store a set is a list key ([`SetAdapter`]): `add` appends, `read`
//! reads the list (an absent key is the empty set).

use std::sync::Arc;

use faultline_checker::lost::{LostChecker, LostWorkload};
use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{BoxFuture, Op, OpType, Value};

use crate::adapter::{primitive, relabel, Adapter};
use crate::counter::keys_touched;
use crate::{Bundle, Options};

pub struct Set {
    pub options: Options,
}

impl Workload for Set {
    fn name(&self) -> &str {
        "set"
    }

    fn generator(&self, worker: usize, workers: usize, _seed: u64) -> Box<dyn Generator> {
        let mut n: u64 = 0;
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            // One set: lost's set checker follows elements, not keys.
            let key = Value::Str("s".into());
            if rng.chance(0.2) {
                Invocation::new("read", Value::Nil).with_key(key)
            } else {
                n += 1;
                let e = (n * workers as u64 + worker as u64) as i64;
                Invocation::new("add", Value::Int(e)).with_key(key)
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

/// `add` as `append`, `read` with an absent key as the empty list.
pub struct SetAdapter;

impl Adapter for SetAdapter {
    fn invoke<'a>(
        &'a self,
        inner: &'a mut dyn Client,
        op: &'a Invocation,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            match op.f.as_str() {
                "add" => {
                    let c = inner
                        .invoke(&primitive(op, "append", op.value.clone()))
                        .await;
                    relabel(c, op.value.clone())
                }
                "read" => {
                    let c = inner.invoke(op).await;
                    if c.kind != OpType::Ok {
                        return c;
                    }
                    match &c.value {
                        Value::Nil => relabel(c, Value::List(Vec::new())),
                        Value::List(_) => c,
                        other => Completion {
                            kind: OpType::Fail,
                            error: Some(format!("not a set: {other}").into()),
                            value: Value::Nil,
                            ..c
                        },
                    }
                }
                _ => inner.invoke(op).await,
            }
        })
    }
}

pub fn bundle(options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(Set {
            options: options.clone(),
        }),
        checkers: vec![Box::new(LostChecker {
            workload: LostWorkload::Set,
            ..LostChecker::default()
        })],
        independent: false,
        adapter: Some(Arc::new(SetAdapter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{Budget, Validity};
    use faultline_core::generator::{limit, simulate};
    use std::collections::BTreeSet;

    #[test]
    fn elements_are_unique() {
        let w = Set {
            options: Options::default(),
        };
        let gens: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(100, w.generator(i, 3, 2))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 2, 10);
        let mut seen = BTreeSet::new();
        for (_, _, op) in &ops {
            if op.f == "add" {
                assert!(seen.insert(op.value.as_int().unwrap()), "element reused");
            } else {
                assert_eq!(op.f, "read");
            }
        }
        assert!(seen.len() > 150, "{}", seen.len());
    }

    #[test]
    fn checker_finds_a_lost_element() {
        let text = r#"{"type":"invoke","process":0,"f":"add","value":1,"key":"s0"}
{"type":"ok","process":0,"f":"add","value":1,"key":"s0"}
{"type":"invoke","process":1,"f":"add","value":2,"key":"s0"}
{"type":"ok","process":1,"f":"add","value":2,"key":"s0"}
{"type":"invoke","process":2,"f":"read","value":null,"key":"s0","final":true}
{"type":"ok","process":2,"f":"read","value":[1],"key":"s0","final":true}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let b = bundle(&Options::default());
        let v = b.checkers[0].check(&h, &Budget::unlimited());
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
        assert!(format!("{v:?}").contains("lost"), "{v:?}");
        let ok = text.replace("[1]", "[2,1]");
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), &ok, None)
            .unwrap()
            .history;
        assert_eq!(
            b.checkers[0].check(&h, &Budget::unlimited()).valid,
            Validity::Valid
        );
    }
}
