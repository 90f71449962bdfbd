//! The rw-register workload (Elle's): transactions of 1–4 micro-ops `["w", k, v]` (unique v
//! per key; here unique overall) and `["r", k, null]` on rotating keys. Checked by
//! `elle-rw-register` (version orders inferred by the weaker register rules) and `session`.

use std::sync::Arc;

use faultline_checker::elle::RwRegister as ElleRwRegister;
use faultline_checker::session::SessionChecker;
use faultline_core::client::Invocation;
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{Op, Value};

use crate::{key_for, Bundle, Options};

pub struct RwRegister {
    pub options: Options,
}

fn mop(f: &str, k: &Value, v: Value) -> Value {
    Value::List(vec![Value::Str(f.into()), k.clone(), v])
}

impl Workload for RwRegister {
    fn name(&self) -> &str {
        "rw-register"
    }

    fn generator(&self, worker: usize, workers: usize, _seed: u64) -> Box<dyn Generator> {
        let base = Options {
            keys_per_group: self.options.keys_per_group.max(3),
            ..self.options.clone()
        };
        let max_len = self.options.max_txn_len.max(1);
        let mut n: u64 = 0;
        let mut written: u64 = 0;
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            let len = 1 + rng.below(max_len);
            let mut txn = Vec::new();
            for _ in 0..len {
                let k = Value::Str(format!("x{}", key_for(&base, n, rng)));
                if rng.chance(0.5) {
                    written += 1;
                    let v = (written * workers as u64 + worker as u64) as i64;
                    txn.push(mop("w", &k, Value::Int(v)));
                } else {
                    txn.push(mop("r", &k, Value::Nil));
                }
            }
            n += 1;
            Invocation::new("txn", Value::List(txn))
        }))
    }

    fn final_reads(&self, _history: &[Op]) -> Vec<Invocation> {
        Vec::new()
    }
}

pub fn bundle(options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(RwRegister {
            options: options.clone(),
        }),
        checkers: vec![
            Box::new(ElleRwRegister::default()),
            Box::new(SessionChecker::default()),
        ],
        independent: false,
        adapter: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{Budget, Validity};
    use faultline_core::generator::{limit, simulate};
    use std::collections::BTreeSet;

    #[test]
    fn writes_are_unique_rw_micro_ops() {
        let w = RwRegister {
            options: Options::default(),
        };
        let gens: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(100, w.generator(i, 3, 1))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 1, 5);
        let mut seen = BTreeSet::new();
        for (_, _, op) in &ops {
            assert_eq!(op.f, "txn");
            let mops = op.value.as_list().unwrap();
            assert!((1..=4).contains(&mops.len()));
            for m in mops {
                let m = m.as_list().unwrap();
                match m[0].as_str() {
                    Some("w") => assert!(seen.insert(m[2].as_int().unwrap()), "write reused"),
                    Some("r") => assert_eq!(m[2], Value::Nil),
                    f => panic!("unexpected micro-op {f:?}"),
                }
            }
        }
        assert!(seen.len() > 150);
    }

    #[test]
    fn checkers_find_a_monotonic_reads_violation() {
        // Process 1 reads x = 2 and then x = 1, after both writes completed in order.
        let text = r#"{"type":"invoke","process":0,"f":"txn","value":[["w","x",1]]}
{"type":"ok","process":0,"f":"txn","value":[["w","x",1]]}
{"type":"invoke","process":0,"f":"txn","value":[["w","x",2]]}
{"type":"ok","process":0,"f":"txn","value":[["w","x",2]]}
{"type":"invoke","process":1,"f":"txn","value":[["r","x",null]]}
{"type":"ok","process":1,"f":"txn","value":[["r","x",2]]}
{"type":"invoke","process":1,"f":"txn","value":[["r","x",null]]}
{"type":"ok","process":1,"f":"txn","value":[["r","x",1]]}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let b = bundle(&Options::default());
        let session = b.checkers[1].check(&h, &Budget::unlimited());
        assert_eq!(session.valid, Validity::Invalid, "{session:?}");
        assert!(format!("{session:?}").contains("monotonic-reads"));
        // Each transaction read the other's write: a write-read cycle, G1c.
        let text = r#"{"type":"invoke","process":0,"f":"txn","value":[["w","x",1],["r","y",null]]}
{"type":"invoke","process":1,"f":"txn","value":[["w","y",2],["r","x",null]]}
{"type":"ok","process":0,"f":"txn","value":[["w","x",1],["r","y",2]]}
{"type":"ok","process":1,"f":"txn","value":[["w","y",2],["r","x",1]]}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let elle = b.checkers[0].check(&h, &Budget::unlimited());
        assert_eq!(elle.valid, Validity::Invalid, "{elle:?}");
        assert!(format!("{elle:?}").contains("G1c"), "{elle:?}");
    }
}
