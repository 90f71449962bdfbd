//! The register workload: reads, writes of unique values, and compare-and-set on independent
//! keys. Checked for linearizability per key (a cas-register model).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use faultline_checker::linearizable::models::{Register as RegisterModel, RegisterKind};
use faultline_checker::linearizable::{Linearizable, Options as LinOptions};
use faultline_core::client::Invocation;
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{Op, Value};

use crate::{key_for, Bundle, Options};

pub struct Register {
    pub options: Options,
}

/// The key of a recorded register op: its `[key value]` tuple's first element or its `key`.
pub fn op_key(op: &Op) -> Option<Value> {
    if let Some(k) = op.extra.get("key") {
        return Some(k.clone());
    }
    match op.value.as_list() {
        Some([k, _]) => Some(k.clone()),
        _ => None,
    }
}

impl Workload for Register {
    fn name(&self) -> &str {
        "register"
    }

    fn generator(&self, worker: usize, workers: usize, _seed: u64) -> Box<dyn Generator> {
        let options = self.options.clone();
        let mut n: u64 = 0;
        // The last value this worker knows of per key, so its cas ops can succeed.
        let mut known: HashMap<u64, i64> = HashMap::new();
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            let k = key_for(&options, n, rng);
            n += 1;
            let unique = (n * workers as u64 + worker as u64) as i64;
            let key = Value::Str(format!("r{k}"));
            match rng.below(3) {
                0 => Invocation::new("read", Value::Nil).with_key(key),
                1 => {
                    known.insert(k, unique);
                    Invocation::new("write", Value::Int(unique)).with_key(key)
                }
                _ => {
                    let from = known.get(&k).copied().unwrap_or(0);
                    known.insert(k, unique);
                    Invocation::new(
                        "cas",
                        Value::List(vec![Value::Int(from), Value::Int(unique)]),
                    )
                    .with_key(key)
                }
            }
        }))
    }

    fn independent(&self) -> bool {
        true
    }

    fn final_reads(&self, history: &[Op]) -> Vec<Invocation> {
        let keys: BTreeSet<String> = history
            .iter()
            .filter(|o| o.is_client())
            .filter_map(op_key)
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        keys.into_iter()
            .map(|k| Invocation::new("read", Value::Nil).with_key(Value::Str(k)))
            .collect()
    }
}

/// The register's checker: linearizability against a cas-register, split by key (the ops
/// are recorded as `[key value]` tuples, so each key is checked on its own and in parallel).
pub fn checker() -> Linearizable<RegisterModel> {
    Linearizable::new(
        RegisterModel(RegisterKind::Cas),
        LinOptions {
            independent: true,
            ..LinOptions::default()
        },
    )
}

pub fn bundle(options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(Register {
            options: options.clone(),
        }),
        checkers: vec![Box::new(checker())],
        independent: true,
        adapter: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::generator::{limit, simulate};

    #[test]
    fn writes_are_unique_and_keys_rotate() {
        let w = Register {
            options: Options::default(),
        };
        let gens: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(200, w.generator(i, 3, 1))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 1, 10);
        assert_eq!(ops.len(), 600);
        let mut written = BTreeSet::new();
        for (_, _, op) in &ops {
            let v = match op.f.as_str() {
                "write" => op.value.as_int(),
                "cas" => op.value.as_list().and_then(|l| l[1].as_int()),
                _ => None,
            };
            if let Some(v) = v {
                assert!(written.insert(v), "value {v} written twice");
            }
        }
        let keys: BTreeSet<String> = ops
            .iter()
            .filter_map(|(_, _, o)| o.key.as_ref()?.as_str().map(String::from))
            .collect();
        assert!(keys.len() >= 8, "{keys:?}");
        // The same seed gives the same ops.
        let again: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(200, w.generator(i, 3, 1))) as Box<dyn Generator>)
            .collect();
        assert_eq!(simulate(again, 1, 10), ops);
    }

    #[test]
    fn checker_finds_a_stale_read_per_key() {
        use faultline_checker::{Budget, Checker, Validity};
        // Key a: write 1 completes, then a read sees nil (stale). Key b is fine.
        let text = r#"{"type":"invoke","process":0,"f":"write","value":["a",1]}
{"type":"ok","process":0,"f":"write","value":["a",1]}
{"type":"invoke","process":1,"f":"cas","value":["b",[0,2]]}
{"type":"fail","process":1,"f":"cas","value":["b",[0,2]]}
{"type":"invoke","process":1,"f":"read","value":["a",null]}
{"type":"ok","process":1,"f":"read","value":["a",null]}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let v = checker().check(&h, &Budget::unlimited());
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
        let ok = text.replace(
            r#"["a",null]}
{"type":"ok","process":1,"f":"read","value":["a",null]}"#,
            r#"["a",null]}
{"type":"ok","process":1,"f":"read","value":["a",1]}"#,
        );
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), &ok, None)
            .unwrap()
            .history;
        assert_eq!(
            checker().check(&h, &Budget::unlimited()).valid,
            Validity::Valid
        );
    }
}
