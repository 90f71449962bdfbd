//! The list-append workload (Elle's): transactions of appends of unique values and reads of
//! whole lists, from which Elle infers the version order of every key.

use std::collections::BTreeSet;
use std::sync::Arc;

use faultline_checker::elle::ListAppend as ElleListAppend;
use faultline_checker::lost::LostChecker;
use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_core::client::Invocation;
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{Op, Value};

use crate::{key_for, Bundle, Options};

pub struct ListAppend {
    pub options: Options,
}

fn mop(f: &str, k: &Value, v: Value) -> Value {
    Value::List(vec![Value::Str(f.into()), k.clone(), v])
}

impl Workload for ListAppend {
    fn name(&self) -> &str {
        "list-append"
    }

    fn generator(&self, worker: usize, workers: usize, _seed: u64) -> Box<dyn Generator> {
        let options = ListAppendOptions::from(&self.options);
        let mut n: u64 = 0;
        let mut appended: u64 = 0;
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            let len = 1 + rng.below(options.max_txn_len);
            let mut txn = Vec::new();
            for _ in 0..len {
                let k = Value::Str(format!("l{}", key_for(&options.base, n, rng)));
                if rng.chance(0.5) {
                    appended += 1;
                    let v = (appended * workers as u64 + worker as u64) as i64;
                    txn.push(mop("append", &k, Value::Int(v)));
                } else {
                    txn.push(mop("r", &k, Value::Nil));
                }
            }
            n += 1;
            Invocation::new("txn", Value::List(txn))
        }))
    }

    fn final_reads(&self, history: &[Op]) -> Vec<Invocation> {
        let mut keys = BTreeSet::new();
        for op in history.iter().filter(|o| o.is_client() && o.f == "txn") {
            for m in op.value.as_list().unwrap_or(&[]) {
                if let Some([_, Value::Str(k), _]) = m.as_list() {
                    keys.insert(k.clone());
                }
            }
        }
        keys.into_iter()
            .map(|k| {
                Invocation::new(
                    "txn",
                    Value::List(vec![mop("r", &Value::Str(k), Value::Nil)]),
                )
            })
            .collect()
    }
}

struct ListAppendOptions {
    base: Options,
    max_txn_len: u64,
}

impl From<&Options> for ListAppendOptions {
    fn from(o: &Options) -> Self {
        ListAppendOptions {
            base: Options {
                keys_per_group: o.keys_per_group.max(3),
                ..o.clone()
            },
            max_txn_len: o.max_txn_len.max(1),
        }
    }
}

pub fn bundle(options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(ListAppend {
            options: options.clone(),
        }),
        checkers: vec![
            Box::new(ElleListAppend::default()),
            Box::new(SessionChecker::default()),
            Box::new(PrefixChecker::default()),
            Box::new(LostChecker::default()),
        ],
        independent: false,
        adapter: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_core::generator::{limit, simulate};

    #[test]
    fn appends_are_unique_and_txns_are_elle_micro_ops() {
        let w = ListAppend {
            options: Options::default(),
        };
        let gens: Vec<Box<dyn Generator>> = (0..2)
            .map(|i| Box::new(limit(100, w.generator(i, 2, 3))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 3, 5);
        let mut seen = BTreeSet::new();
        for (_, _, op) in &ops {
            assert_eq!(op.f, "txn");
            for m in op.value.as_list().unwrap() {
                let m = m.as_list().unwrap();
                assert!(m[0].as_str() == Some("append") || m[0].as_str() == Some("r"));
                if m[0].as_str() == Some("append") {
                    assert!(seen.insert(m[2].as_int().unwrap()), "append value reused");
                }
            }
        }
        assert!(seen.len() > 50);
    }
}
