//! The causal workload: the question-and-answer example of consistent prefix reads. Each
//! worker in turn writes a question `q{w}.{p}` and then, in its own process order, the
//! answer `a{w}.{p}` (unique values), and observes another worker's pair by reading the
//! answer first and then the question. An observer that sees the answer but not the
//! question broke causal prefix. Checked by `prefix` (causal prefix across keys) and
//! `session`.

use std::sync::Arc;

use faultline_checker::prefix::PrefixChecker;
use faultline_checker::session::SessionChecker;
use faultline_core::client::Invocation;
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{Op, Value};

use crate::{Bundle, Options};

pub struct Causal;

fn key(kind: char, worker: u64, pair: u64) -> Value {
    Value::Str(format!("{kind}{worker}.{pair}"))
}

impl Workload for Causal {
    fn name(&self) -> &str {
        "causal"
    }

    fn generator(&self, worker: usize, workers: usize, _seed: u64) -> Box<dyn Generator> {
        let (me, all) = (worker as u64, workers.max(1) as u64);
        let mut n: u64 = 0;
        // The pair this worker observes, chosen when it starts observing.
        let mut watched = (0, 0);
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            let pair = n / 4;
            let step = n % 4;
            n += 1;
            let unique = Value::Int((n * all + me) as i64);
            match step {
                0 => Invocation::new("write", unique).with_key(key('q', me, pair)),
                1 => Invocation::new("write", unique).with_key(key('a', me, pair)),
                2 => {
                    // Workers move at about the same pace: another's current or last pair.
                    let other = if all > 1 {
                        (me + 1 + rng.below(all - 1)) % all
                    } else {
                        me
                    };
                    watched = (other, pair.saturating_sub(rng.below(2)));
                    Invocation::new("read", Value::Nil).with_key(key('a', watched.0, watched.1))
                }
                _ => Invocation::new("read", Value::Nil).with_key(key('q', watched.0, watched.1)),
            }
        }))
    }

    fn final_reads(&self, _history: &[Op]) -> Vec<Invocation> {
        Vec::new()
    }
}

pub fn bundle(_options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(Causal),
        checkers: vec![
            Box::new(PrefixChecker::default()),
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
    fn question_precedes_answer_and_observers_read_answer_first() {
        let gens: Vec<Box<dyn Generator>> = (0..3)
            .map(|i| Box::new(limit(40, Causal.generator(i, 3, 1))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 1, 10);
        let mut values = BTreeSet::new();
        let mut per_worker: Vec<Vec<&Invocation>> = vec![Vec::new(); 3];
        for (_, w, op) in &ops {
            per_worker[*w].push(op);
            if op.f == "write" {
                assert!(values.insert(op.value.as_int().unwrap()), "value reused");
            }
        }
        for ops in &per_worker {
            for c in ops.chunks(4) {
                let k = |i: usize| c[i].key.as_ref().unwrap().as_str().unwrap().to_string();
                assert_eq!((c[0].f.as_str(), c[1].f.as_str()), ("write", "write"));
                assert_eq!(k(0)[1..], k(1)[1..]);
                assert!(k(0).starts_with('q') && k(1).starts_with('a'));
                assert_eq!((c[2].f.as_str(), c[3].f.as_str()), ("read", "read"));
                assert!(k(2).starts_with('a') && k(3).starts_with('q'));
                assert_eq!(k(2)[1..], k(3)[1..]);
            }
        }
    }

    #[test]
    fn checker_finds_an_answer_without_its_question() {
        let text = r#"{"type":"invoke","process":0,"f":"write","value":1,"key":"q0.0"}
{"type":"ok","process":0,"f":"write","value":1,"key":"q0.0"}
{"type":"invoke","process":0,"f":"write","value":2,"key":"a0.0"}
{"type":"ok","process":0,"f":"write","value":2,"key":"a0.0"}
{"type":"invoke","process":1,"f":"read","value":null,"key":"a0.0"}
{"type":"ok","process":1,"f":"read","value":2,"key":"a0.0"}
{"type":"invoke","process":1,"f":"read","value":null,"key":"q0.0"}
{"type":"ok","process":1,"f":"read","value":null,"key":"q0.0"}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let b = bundle(&Options::default());
        let v = b.checkers[0].check(&h, &Budget::unlimited());
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
        assert!(format!("{v:?}").contains("causal-prefix"), "{v:?}");
        let ok = text.replace(
            r#""ok","process":1,"f":"read","value":null"#,
            r#""ok","process":1,"f":"read","value":1"#,
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
