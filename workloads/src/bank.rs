//! The bank workload (Jepsen's `bank`): `transfer {from, to, amount}` between accounts as
//! one transaction, and `read` (no key) of every balance, with final reads after healing.
//! Checked by `bank`: every read's balances sum to the total the test started with.
//!
//! On a key-value store with Elle transactions ([`BankAdapter`]), account `i` is the list key
//! `acct{i}` of the deltas applied to it: a transfer is one txn appending `-amount` to one
//! account and `amount` to the other, a read is one txn reading every account, and a balance
//! is the initial balance plus the sum of its deltas. A one-shot txn cannot check funds
//! first, so balances may go negative (allowed here); what the check catches is a read that
//! sees half a transfer, or a transfer lost or applied twice.

use std::sync::Arc;

use faultline_checker::bank::{BankChecker, Total};
use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::generator::{from_fn, Ctx, Generator};
use faultline_core::rng::Rng;
use faultline_core::run::Workload;
use faultline_core::{BoxFuture, Op, OpType, Value};

use crate::adapter::{relabel, Adapter};
use crate::{Bundle, Options};

/// Accounts and each one's opening balance.
pub const ACCOUNTS: i64 = 5;
pub const INITIAL: i64 = 100;

pub struct Bank;

fn account_key(i: i64) -> Value {
    Value::Str(format!("acct{i}"))
}

fn mop(f: &str, k: Value, v: Value) -> Value {
    Value::List(vec![Value::Str(f.into()), k, v])
}

impl Workload for Bank {
    fn name(&self) -> &str {
        "bank"
    }

    fn generator(&self, _worker: usize, _workers: usize, _seed: u64) -> Box<dyn Generator> {
        Box::new(from_fn(move |_: &Ctx, rng: &mut Rng| {
            if rng.chance(0.4) {
                return Invocation::new("read", Value::Nil);
            }
            let from = rng.below(ACCOUNTS as u64) as i64;
            let to = (from + 1 + rng.below(ACCOUNTS as u64 - 1) as i64) % ACCOUNTS;
            Invocation::new(
                "transfer",
                Value::Map(vec![
                    ("from".into(), Value::Int(from)),
                    ("to".into(), Value::Int(to)),
                    ("amount".into(), Value::Int(1 + rng.below(5) as i64)),
                ]),
            )
        }))
    }

    fn final_reads(&self, _history: &[Op]) -> Vec<Invocation> {
        vec![Invocation::new("read", Value::Nil)]
    }
}

/// Transfers and reads as Elle transactions over per-account delta lists.
pub struct BankAdapter;

fn balance(v: &Value) -> Option<i64> {
    match v {
        Value::Nil => Some(INITIAL),
        Value::List(l) => l
            .iter()
            .try_fold(INITIAL, |acc, d| d.as_int().map(|d| acc + d)),
        _ => None,
    }
}

impl Adapter for BankAdapter {
    fn invoke<'a>(
        &'a self,
        inner: &'a mut dyn Client,
        op: &'a Invocation,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            match op.f.as_str() {
                "transfer" => {
                    let field = |n: &str| op.value.get(n).and_then(Value::as_int);
                    let (Some(from), Some(to), Some(amount)) =
                        (field("from"), field("to"), field("amount"))
                    else {
                        return Completion::fail("bad-request: transfer takes {from, to, amount}");
                    };
                    let txn = Value::List(vec![
                        mop("append", account_key(from), Value::Int(-amount)),
                        mop("append", account_key(to), Value::Int(amount)),
                    ]);
                    let c = inner.invoke(&Invocation::new("txn", txn)).await;
                    relabel(c, op.value.clone())
                }
                "read" if op.key.is_none() => {
                    let txn = (0..ACCOUNTS)
                        .map(|i| mop("r", account_key(i), Value::Nil))
                        .collect();
                    let c = inner
                        .invoke(&Invocation::new("txn", Value::List(txn)))
                        .await;
                    if c.kind != OpType::Ok {
                        return c;
                    }
                    let mut balances = Vec::new();
                    for (i, m) in c.value.as_list().unwrap_or(&[]).iter().enumerate() {
                        match m.as_list().and_then(|m| balance(m.get(2)?)) {
                            Some(b) => balances.push((Value::Int(i as i64), Value::Int(b))),
                            None => {
                                return Completion {
                                    kind: OpType::Fail,
                                    error: Some(format!("not a delta list: {m}").into()),
                                    value: Value::Nil,
                                    ..c
                                }
                            }
                        }
                    }
                    relabel(c, Value::Map(balances))
                }
                _ => inner.invoke(op).await,
            }
        })
    }
}

/// The bank checker for this workload: the fixed total, negative balances allowed (see the
/// module docs). The accounts are those of the first read: a history read back from JSON
/// has them as strings.
pub fn checker() -> BankChecker {
    BankChecker {
        negative_allowed: true,
        ..BankChecker::new(Total::Fixed(ACCOUNTS * INITIAL))
    }
}

pub fn bundle(_options: &Options) -> Bundle {
    Bundle {
        workload: Arc::new(Bank),
        checkers: vec![Box::new(checker())],
        independent: false,
        adapter: Some(Arc::new(BankAdapter)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::{Budget, Checker, Validity};
    use faultline_core::generator::{limit, simulate};

    #[test]
    fn transfers_move_money_between_distinct_accounts() {
        let gens: Vec<Box<dyn Generator>> = (0..2)
            .map(|i| Box::new(limit(100, Bank.generator(i, 2, 1))) as Box<dyn Generator>)
            .collect();
        let ops = simulate(gens, 4, 10);
        let mut transfers = 0;
        for (_, _, op) in &ops {
            if op.f == "transfer" {
                transfers += 1;
                let g = |n| op.value.get(n).and_then(Value::as_int).unwrap();
                assert_ne!(g("from"), g("to"));
                assert!((0..ACCOUNTS).contains(&g("from")) && (0..ACCOUNTS).contains(&g("to")));
                assert!(g("amount") > 0);
            } else {
                assert_eq!((op.f.as_str(), op.key.is_none()), ("read", true));
            }
        }
        assert!(transfers > 80, "{transfers}");
    }

    #[test]
    fn checker_finds_a_read_of_half_a_transfer() {
        let text = r#"{"type":"invoke","process":0,"f":"transfer","value":{"from":0,"to":1,"amount":5}}
{"type":"ok","process":0,"f":"transfer","value":{"from":0,"to":1,"amount":5}}
{"type":"invoke","process":1,"f":"read","value":null}
{"type":"ok","process":1,"f":"read","value":{"0":95,"1":100,"2":100,"3":100,"4":100}}
"#;
        let h = faultline_core::format::read_str("h.jsonl".as_ref(), text, None)
            .unwrap()
            .history;
        let v = checker().check(&h, &Budget::unlimited());
        assert_eq!(v.valid, Validity::Invalid, "{v:?}");
        assert!(format!("{v:?}").contains("wrong-total"), "{v:?}");
    }
}
