//! The adapters against a tiny in-test store whose futures are always ready.

use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::{BoxFuture, OpType, Value};

use crate::adapter::Adapter;
use crate::bank::BankAdapter;
use crate::counter::CounterAdapter;
use crate::set::SetAdapter;

/// A sequential store; `interfere` bumps the register under a counter's cas this many times
/// (another client's add landing between the read and the cas).
#[derive(Default)]
struct Fake {
    kv: HashMap<Value, Value>,
    interfere: usize,
    calls: Vec<String>,
}

impl Fake {
    fn apply(&mut self, op: &Invocation) -> Completion {
        self.calls.push(op.f.clone());
        let key = op.key.clone().unwrap_or_default();
        match op.f.as_str() {
            "read" => Completion::ok(self.kv.get(&key).cloned().unwrap_or_default()),
            "cas" => {
                if self.interfere > 0 {
                    self.interfere -= 1;
                    let now = self.kv.get(&key).and_then(Value::as_int).unwrap_or(0);
                    self.kv.insert(key.clone(), Value::Int(now + 100));
                }
                let Some([from, to]) = op.value.as_list() else {
                    return Completion::fail("bad-request");
                };
                if self.kv.get(&key).unwrap_or(&Value::Nil) == from {
                    self.kv.insert(key, to.clone());
                    Completion::ok(op.value.clone())
                } else {
                    Completion::fail("cas-mismatch")
                }
            }
            "append" => {
                let l = self.kv.entry(key).or_insert(Value::List(Vec::new()));
                if let Value::List(l) = l {
                    l.push(op.value.clone());
                }
                Completion::ok(op.value.clone())
            }
            "txn" => {
                let mut out = Vec::new();
                for m in op.value.as_list().unwrap_or(&[]) {
                    let m = m.as_list().unwrap();
                    let (f, k) = (m[0].as_str().unwrap(), m[1].clone());
                    if f == "append" {
                        let l = self.kv.entry(k.clone()).or_insert(Value::List(Vec::new()));
                        if let Value::List(l) = l {
                            l.push(m[2].clone());
                        }
                        out.push(Value::List(m.to_vec()));
                    } else {
                        let v = self.kv.get(&k).cloned().unwrap_or_default();
                        out.push(Value::List(vec![m[0].clone(), k, v]));
                    }
                }
                Completion::ok(Value::List(out))
            }
            _ => Completion::fail("unsupported"),
        }
    }
}

impl Client for Fake {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        let c = self.apply(op);
        Box::pin(async move { c })
    }
}

/// Runs a future that never waits.
fn now<T>(f: impl Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("the fake store never waits"),
    }
}

#[test]
fn counter_add_is_a_cas_loop_that_retries_on_contention() {
    let mut s = Fake {
        interfere: 2,
        ..Fake::default()
    };
    let add = Invocation::new("add", Value::Int(3)).with_key("c0");
    let c = now(CounterAdapter.invoke(&mut s, &add));
    assert_eq!((c.kind, c.value), (OpType::Ok, Value::Int(3)));
    // Two mismatches, then the third cas applied on top of the interfering 200.
    assert_eq!(s.kv[&Value::from("c0")], Value::Int(203));
    assert_eq!(s.calls.iter().filter(|f| *f == "cas").count(), 3);
    let read = Invocation::new("read", Value::Nil).with_key("c1");
    assert_eq!(
        now(CounterAdapter.invoke(&mut s, &read)).value,
        Value::Int(0)
    );
    // Endless contention gives up as a definite failure.
    s.interfere = usize::MAX;
    let c = now(CounterAdapter.invoke(&mut s, &add));
    assert_eq!(c.kind, OpType::Fail);
}

#[test]
fn set_adds_append_and_an_absent_set_reads_empty() {
    let mut s = Fake::default();
    let read = Invocation::new("read", Value::Nil).with_key("s");
    assert_eq!(
        now(SetAdapter.invoke(&mut s, &read)).value,
        Value::List(vec![])
    );
    let add = Invocation::new("add", Value::Int(7)).with_key("s");
    assert_eq!(now(SetAdapter.invoke(&mut s, &add)).value, Value::Int(7));
    assert_eq!(
        now(SetAdapter.invoke(&mut s, &read)).value,
        Value::List(vec![Value::Int(7)])
    );
}

#[test]
fn bank_transfers_are_delta_txns_and_reads_sum_them() {
    let mut s = Fake::default();
    let t = Value::Map(vec![
        ("from".into(), Value::Int(0)),
        ("to".into(), Value::Int(3)),
        ("amount".into(), Value::Int(4)),
    ]);
    let c = now(BankAdapter.invoke(&mut s, &Invocation::new("transfer", t.clone())));
    assert_eq!((c.kind, c.value), (OpType::Ok, t));
    let r = now(BankAdapter.invoke(&mut s, &Invocation::new("read", Value::Nil)));
    let Value::Map(b) = r.value else {
        panic!("{r:?}")
    };
    let get = |i: i64| {
        b.iter()
            .find(|(k, _)| *k == Value::Int(i))
            .unwrap()
            .1
            .clone()
    };
    assert_eq!(
        (get(0), get(3), get(1)),
        (Value::Int(96), Value::Int(104), Value::Int(100))
    );
    assert_eq!(b.len(), 5);
}
