//! The workloads' op vocabulary as the real targets' clients see it: an [`Invocation`] parsed
//! into a typed [`KvOp`], and the [`Completion`] built from a result or an [`OpError`].
//!
//! Register ops (`read`, `write`, `cas [from to]`) carry their key in `Invocation::key`;
//! list-append transactions are Elle micro-ops `[["append", k, v], ["r", k, null]]`; bank ops
//! are `transfer {from, to, amount}` and `read` without a key (all balances).

use faultline_core::client::{Completion, Invocation};
use faultline_core::Value;

use super::outcome::{Certainty, OpError};

/// One micro-op of a list-append transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Micro {
    Append(String, i64),
    Read(String),
}

/// What a client is asked to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    Read(String),
    Write(String, i64),
    Cas(String, i64, i64),
    Txn(Vec<Micro>),
    Transfer { from: i64, to: i64, amount: i64 },
    BankRead,
}

fn key_text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// Parses an invocation; `Err` names what is wrong (recorded as a `fail`: nothing was sent).
pub fn parse(inv: &Invocation) -> Result<KvOp, String> {
    let key = || {
        inv.key
            .as_ref()
            .and_then(key_text)
            .ok_or_else(|| format!("{} needs a key", inv.f))
    };
    match inv.f.as_str() {
        "read" if inv.key.is_none() => Ok(KvOp::BankRead),
        "read" => Ok(KvOp::Read(key()?)),
        "write" => {
            let v = inv.value.as_int().ok_or("write needs an integer value")?;
            Ok(KvOp::Write(key()?, v))
        }
        "cas" => match inv.value.as_list() {
            Some([Value::Int(a), Value::Int(b)]) => Ok(KvOp::Cas(key()?, *a, *b)),
            _ => Err("cas needs [from to] integers".into()),
        },
        "txn" => {
            let mops = inv.value.as_list().ok_or("txn needs a list of micro-ops")?;
            let mut out = Vec::with_capacity(mops.len());
            for m in mops {
                match m.as_list() {
                    Some([Value::Str(f), k, v]) if f == "append" => {
                        let k = key_text(k).ok_or("append needs a key")?;
                        let v = v.as_int().ok_or("append needs an integer value")?;
                        out.push(Micro::Append(k, v));
                    }
                    Some([Value::Str(f), k, _]) if f == "r" => {
                        out.push(Micro::Read(key_text(k).ok_or("r needs a key")?));
                    }
                    _ => return Err(format!("unsupported micro-op {m:?}")),
                }
            }
            Ok(KvOp::Txn(out))
        }
        "transfer" => {
            let field = |name: &str| {
                inv.value
                    .get(name)
                    .and_then(Value::as_int)
                    .ok_or_else(|| format!("transfer needs an integer {name}"))
            };
            Ok(KvOp::Transfer {
                from: field("from")?,
                to: field("to")?,
                amount: field("amount")?,
            })
        }
        other => Err(format!("this target does not support {other:?}")),
    }
}

/// A micro-op's result in Elle's form.
pub fn micro_value(m: &Micro, read: Option<&[i64]>) -> Value {
    match m {
        Micro::Append(k, v) => {
            Value::List(vec!["append".into(), k.as_str().into(), Value::Int(*v)])
        }
        Micro::Read(k) => Value::List(vec![
            "r".into(),
            k.as_str().into(),
            read.map(|l| Value::List(l.iter().map(|i| Value::Int(*i)).collect()))
                .unwrap_or(Value::List(Vec::new())),
        ]),
    }
}

/// A register value as stored (decimal text) back into a history value.
pub fn stored_value(s: Option<&str>) -> Value {
    match s {
        None => Value::Nil,
        Some(t) => t
            .parse::<i64>()
            .map(Value::Int)
            .unwrap_or_else(|_| Value::Str(t.to_string())),
    }
}

/// A stored list (comma-separated decimals) as integers; unparsable items are skipped.
pub fn parse_list(s: Option<&str>) -> Vec<i64> {
    s.unwrap_or_default()
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect()
}

pub fn format_list(l: &[i64]) -> String {
    l.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// The completion an error gives.
pub fn completion_of(e: &OpError, node: &str) -> Completion {
    let c = match e.certainty {
        Certainty::NotApplied => Completion::fail(e.kind.as_str()),
        Certainty::Unknown => Completion::info(e.kind.as_str()),
    };
    c.with_node(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_workloads_ops() {
        let r = Invocation::new("read", Value::Nil).with_key("r1");
        assert_eq!(parse(&r), Ok(KvOp::Read("r1".into())));
        let c = Invocation::new("cas", Value::List(vec![1.into(), 2.into()])).with_key("r1");
        assert_eq!(parse(&c), Ok(KvOp::Cas("r1".into(), 1, 2)));
        let t = Invocation::new(
            "txn",
            Value::List(vec![
                Value::List(vec!["append".into(), "l1".into(), 3.into()]),
                Value::List(vec!["r".into(), "l1".into(), Value::Nil]),
            ]),
        );
        assert_eq!(
            parse(&t),
            Ok(KvOp::Txn(vec![
                Micro::Append("l1".into(), 3),
                Micro::Read("l1".into())
            ]))
        );
        assert!(parse(&Invocation::new("write", Value::Int(1))).is_err());
        assert_eq!(
            parse(&Invocation::new("read", Value::Nil)),
            Ok(KvOp::BankRead)
        );
    }

    #[test]
    fn lists_round_trip_through_their_stored_form() {
        assert_eq!(parse_list(Some(&format_list(&[1, 22, 3]))), vec![1, 22, 3]);
        assert_eq!(parse_list(None), Vec::<i64>::new());
        assert_eq!(stored_value(Some("7")), Value::Int(7));
        assert_eq!(stored_value(None), Value::Nil);
    }
}
