//! Bank: money is conserved (Jepsen's bank workload; Fekete, O'Neil and O'Neil's read-only
//! transaction anomaly is one way to break it).
//!
//! Vocabulary: `transfer` ops move money between accounts (value `{"from": a, "to": b,
//! "amount": n}`; the checker only counts them), and `read` (or `final-read`) ops return a
//! snapshot of every account: a map from account to balance. A `nil` balance counts as
//! an absent account.
//!
//! Every ok read must
//! - name exactly the accounts of the test (`accounts`, or those of the first ok read):
//!   else `incomplete-read` / `unexpected-account`;
//! - have no negative balance, unless negative balances are allowed: else `negative-balance`;
//! - sum to the expected total: else `wrong-total`. The total is an explicit choice
//!   ([`Total`]): a number from the workload's configuration, or the sum of the first ok
//!   read (then that read is trusted, and the verdict says which it was). Totals are checked
//!   on complete reads only: a read missing accounts is reported as incomplete instead.

use faultline_core::{History, Value};
use serde_json::json;

use crate::found::Found;
use crate::operation::{operations, secs, working_bytes, Pace};
use crate::{Anomaly, Budget, Checker, Exhausted, Validity, Verdict};

/// Where the expected total comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Total {
    /// The total the workload started with (its configuration).
    Fixed(i64),
    /// The sum of the first ok read, taken as the truth.
    FirstRead,
}

/// Checks conservation of money and non-negative balances on every read.
#[derive(Clone, Debug)]
pub struct BankChecker {
    pub total: Total,
    pub negative_allowed: bool,
    /// The test's accounts; `None` takes those of the first ok read.
    pub accounts: Option<Vec<Value>>,
    pub max_reported: usize,
}

impl BankChecker {
    pub fn new(total: Total) -> BankChecker {
        BankChecker {
            total,
            negative_allowed: false,
            accounts: None,
            max_reported: 100,
        }
    }
}

/// A map for sentences, at most ten entries: `{a 10, b 87}`.
fn show_balances(m: &[(Value, Value)]) -> String {
    let shown: Vec<String> = m.iter().take(10).map(|(k, v)| format!("{k} {v}")).collect();
    let more = if m.len() > 10 {
        format!(", and {} more", m.len() - 10)
    } else {
        String::new()
    };
    format!("{{{}{more}}}", shown.join(", "))
}

impl BankChecker {
    fn run(&self, history: &History, budget: &Budget) -> Result<Verdict, Exhausted> {
        let mut pace = Pace::new(budget);
        let mut found = Found::new(self.max_reported);
        let mut v = Verdict::valid(self.name());
        let ops = operations(history);
        pace.hold(working_bytes(ops.len(), 0))?;
        let mut malformed: Vec<(u64, String)> = Vec::new();
        let mut accounts: Option<Vec<Value>> = self.accounts.clone();
        let mut expected = match self.total {
            Total::Fixed(n) => Some(n as i128),
            Total::FirstRead => None,
        };
        let (mut reads, mut transfers) = (0u64, [0u64; 3]);
        let (mut min_total, mut max_total) = (i128::MAX, i128::MIN);
        for op in &ops {
            pace.tick()?;
            if op.f() == "transfer" {
                transfers[match op.outcome() {
                    faultline_core::OpType::Ok => 0,
                    faultline_core::OpType::Fail => 1,
                    _ => 2,
                }] += 1;
                continue;
            }
            if !matches!(op.f(), "read" | "final-read") || !op.is_ok() {
                continue;
            }
            let Value::Map(entries) = op.value() else {
                malformed.push((
                    op.cite(),
                    format!("a bank read returns a map of balances, not {}", op.value()),
                ));
                continue;
            };
            let mut balances: Vec<(&Value, i64)> = Vec::new();
            let mut bad = false;
            for (k, b) in entries {
                match b {
                    Value::Int(n) => balances.push((k, *n)),
                    Value::Nil => {}
                    other => {
                        malformed.push((
                            op.cite(),
                            format!("account {k}'s balance is {other}, not an integer"),
                        ));
                        bad = true;
                    }
                }
            }
            if bad {
                continue;
            }
            reads += 1;
            let when = || {
                format!(
                    "{} read the accounts at {}",
                    op.who(),
                    secs(op.invoke_time())
                )
            };
            let accts = accounts.get_or_insert_with(|| {
                v.stat(
                    "accounts_from",
                    format!("the first ok read, at index {}", op.cite()),
                );
                balances.iter().map(|(k, _)| (*k).clone()).collect()
            });
            let missing: Vec<&Value> = accts
                .iter()
                .filter(|a| !balances.iter().any(|(k, _)| k == a))
                .collect();
            let extra: Vec<&Value> = balances
                .iter()
                .map(|(k, _)| *k)
                .filter(|k| !accts.contains(k))
                .collect();
            if !missing.is_empty() {
                found.add("incomplete-read", || {
                    Anomaly::new(
                        "incomplete-read",
                        vec![op.cite()],
                        format!(
                            "{} and saw {}, which lacks account{} {}; a read is a snapshot of \
                             every account.",
                            when(),
                            show_balances(entries),
                            if missing.len() > 1 { "s" } else { "" },
                            crate::operation::list_values(&missing, 5)
                        ),
                    )
                });
            }
            if !extra.is_empty() {
                found.add("unexpected-account", || {
                    Anomaly::new(
                        "unexpected-account",
                        vec![op.cite()],
                        format!(
                            "{} and saw {}, which has account{} {} that the test does not have.",
                            when(),
                            show_balances(entries),
                            if extra.len() > 1 { "s" } else { "" },
                            crate::operation::list_values(&extra, 5)
                        ),
                    )
                });
            }
            if !self.negative_allowed {
                for &(k, b) in balances.iter().filter(|(_, b)| *b < 0) {
                    found.add("negative-balance", || {
                        Anomaly::new(
                            "negative-balance",
                            vec![op.cite()],
                            format!("{} and saw account {k} at {b}, below zero.", when()),
                        )
                        .with_key(k.clone())
                    });
                }
            }
            if !missing.is_empty() {
                continue;
            }
            let total: i128 = balances.iter().map(|(_, b)| *b as i128).sum();
            min_total = min_total.min(total);
            max_total = max_total.max(total);
            let want = *expected.get_or_insert_with(|| {
                v.stat(
                    "total_from",
                    format!("the first ok read, at index {}", op.cite()),
                );
                total
            });
            if total != want {
                found.add("wrong-total", || {
                    Anomaly::new(
                        "wrong-total",
                        vec![op.cite()],
                        format!(
                            "{} and the balances sum to {total}, not {want}: {}.",
                            when(),
                            show_balances(entries)
                        ),
                    )
                });
            }
        }
        v.stat("reads", reads);
        v.stat(
            "transfers",
            json!({"ok": transfers[0], "fail": transfers[1], "info": transfers[2]}),
        );
        v.stat("expected_total", expected.map(|t| t as i64));
        if reads > 0 && min_total <= max_total {
            v.stat(
                "totals_seen",
                json!({"min": min_total as i64, "max": max_total as i64}),
            );
        }
        if let Some(a) = &accounts {
            v.stat("accounts", a.len());
        }
        found.into_verdict(&mut v);
        if v.valid == Validity::Valid {
            if let Some((at, why)) = malformed.first() {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some(format!(
                    "{} op(s) could not be read (the first, at index {at}: {why})",
                    malformed.len()
                ));
            } else if reads == 0 {
                v.valid = Validity::Unknown;
                v.unknown_reason = Some("the accounts were never read".to_string());
            }
        }
        Ok(v)
    }
}

impl Checker for BankChecker {
    fn name(&self) -> &str {
        "bank"
    }

    fn check(&self, history: &History, budget: &Budget) -> Verdict {
        self.run(history, budget)
            .unwrap_or_else(|e| Verdict::unknown(self.name(), e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use faultline_core::dsl::Builder;

    use super::*;

    fn accounts(pairs: &[(&str, i64)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, b)| (Value::from(*k), Value::Int(*b)))
                .collect(),
        )
    }

    fn found(v: &Verdict) -> Vec<(&str, Vec<u64>)> {
        v.anomalies
            .iter()
            .map(|a| (a.kind.as_str(), a.ops.clone()))
            .collect()
    }

    fn transfer() -> Value {
        Value::Map(vec![
            ("from".into(), "a".into()),
            ("to".into(), "b".into()),
            ("amount".into(), 5.into()),
        ])
    }

    #[test]
    fn conserved_totals_are_valid() {
        let mut b = Builder::new();
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 50), ("b", 50)]));
        b.op_ok(1, "transfer", transfer(), transfer());
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 45), ("b", 55)]));
        let v = BankChecker::new(Total::Fixed(100)).check(&b.build(), &Budget::unlimited());
        assert_eq!(v.valid, Validity::Valid, "{:?}", v.anomalies);
        assert_eq!(v.stats["transfers"]["ok"], 1);
    }

    #[test]
    fn a_read_with_the_wrong_total() {
        let mut b = Builder::new();
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 50), ("b", 50)])); // 0, 1
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 45), ("b", 50)])); // 2, 3
        let v = BankChecker::new(Total::Fixed(100)).check(&b.build(), &Budget::unlimited());
        assert_eq!(found(&v), vec![("wrong-total", vec![3])]);
        assert_eq!(
            v.anomalies[0].explanation,
            "process 0 read the accounts at 0.003 s and the balances sum to 95, not 100: {\"a\" 45, \"b\" 50}."
        );
    }

    #[test]
    fn the_total_may_come_from_the_first_read() {
        let mut b = Builder::new();
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 30), ("b", 30)]));
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 30), ("b", 31)]));
        let v = BankChecker::new(Total::FirstRead).check(&b.build(), &Budget::unlimited());
        assert_eq!(found(&v), vec![("wrong-total", vec![3])]);
        assert_eq!(v.stats["expected_total"], 60);
        assert!(v.stats["total_from"].as_str().unwrap().contains("index 1"));
    }

    #[test]
    fn negative_balances_unless_allowed() {
        let mut b = Builder::new();
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", -5), ("b", 105)]));
        let h = b.build();
        let v = BankChecker::new(Total::Fixed(100)).check(&h, &Budget::unlimited());
        assert_eq!(found(&v), vec![("negative-balance", vec![1])]);
        assert_eq!(v.anomalies[0].key, Some(Value::from("a")));
        let lenient = BankChecker {
            negative_allowed: true,
            ..BankChecker::new(Total::Fixed(100))
        };
        assert_eq!(
            lenient.check(&h, &Budget::unlimited()).valid,
            Validity::Valid
        );
    }

    #[test]
    fn reads_must_be_snapshots_of_every_account() {
        let mut b = Builder::new();
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 50), ("b", 50)])); // 0, 1
        b.op_ok(0, "read", Value::Nil, accounts(&[("a", 50)])); // 2, 3
        b.op_ok(
            0,
            "read",
            Value::Nil,
            accounts(&[("a", 50), ("b", 50), ("c", 0)]),
        ); // 4, 5
        let v = BankChecker::new(Total::Fixed(100)).check(&b.build(), &Budget::unlimited());
        assert_eq!(
            found(&v),
            vec![
                ("incomplete-read", vec![3]),
                ("unexpected-account", vec![5])
            ]
        );
    }

    #[test]
    fn no_reads_is_unknown_and_a_non_map_read_is_malformed() {
        let mut b = Builder::new();
        b.op_ok(1, "transfer", transfer(), transfer());
        let v = BankChecker::new(Total::Fixed(100)).check(&b.build(), &Budget::unlimited());
        assert_eq!(v.valid, Validity::Unknown);
        b.op_ok(0, "read", Value::Nil, 100.into());
        let v = BankChecker::new(Total::Fixed(100)).check(&b.build(), &Budget::unlimited());
        assert!(v.unknown_reason.unwrap().contains("map of balances"));
    }
}
