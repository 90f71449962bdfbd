//! The `memory` target: one linearizable store in this process, shared by every "node".
//! Pausing a node makes its clients' ops wait until it resumes (so they time out as
//! `info`); killing it refuses connections and loses in-flight ops as `info` until it is
//! started again. Partitions and clocks have nothing to act on and say so.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use faultline_core::client::{Client, Completion, Invocation};
use faultline_core::target::{Target, TargetError};
use faultline_core::{BoxFuture, Value};
use tokio::sync::watch;

#[derive(Default)]
struct Store {
    registers: HashMap<Value, Value>,
    lists: HashMap<Value, Vec<Value>>,
}

impl Store {
    fn apply(&mut self, op: &Invocation) -> Completion {
        let key = op.key.clone().unwrap_or_default();
        match op.f.as_str() {
            "read" => match self.lists.get(&key) {
                Some(l) if !self.registers.contains_key(&key) => {
                    Completion::ok(Value::List(l.clone()))
                }
                _ => Completion::ok(self.registers.get(&key).cloned().unwrap_or_default()),
            },
            "write" => {
                self.registers.insert(key, op.value.clone());
                Completion::ok(op.value.clone())
            }
            "cas" => match op.value.as_list() {
                Some([from, to]) => {
                    if self.registers.get(&key).unwrap_or(&Value::Nil) == from {
                        self.registers.insert(key, to.clone());
                        Completion::ok(op.value.clone())
                    } else {
                        Completion::fail("cas-mismatch")
                    }
                }
                _ => Completion::fail("bad-request: cas takes [from, to]"),
            },
            "append" => {
                self.lists.entry(key).or_default().push(op.value.clone());
                Completion::ok(op.value.clone())
            }
            "txn" => {
                let Some(mops) = op.value.as_list() else {
                    return Completion::fail("bad-request: txn takes a list");
                };
                let mut out = Vec::with_capacity(mops.len());
                for m in mops {
                    let Some([f, k, v]) = m.as_list() else {
                        return Completion::fail("bad-request: micro-op is [f, k, v]");
                    };
                    let v = match f.as_str() {
                        Some("append") => {
                            self.lists.entry(k.clone()).or_default().push(v.clone());
                            v.clone()
                        }
                        // A register if one was written, else the list (rw-register and
                        // list-append share the micro-op); an absent key reads nil.
                        Some("r") => match (self.registers.get(k), self.lists.get(k)) {
                            (Some(v), _) => v.clone(),
                            (None, Some(l)) => Value::List(l.clone()),
                            (None, None) => Value::Nil,
                        },
                        Some("w") => {
                            self.registers.insert(k.clone(), v.clone());
                            v.clone()
                        }
                        _ => return Completion::fail("bad-request: unknown micro-op"),
                    };
                    out.push(Value::List(vec![f.clone(), k.clone(), v]));
                }
                Completion::ok(Value::List(out))
            }
            _ => Completion::fail("unsupported"),
        }
    }
}

/// A node's state: running, paused (ops wait), or killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Up,
    Paused,
    Down,
}

pub struct Memory {
    nodes: Vec<String>,
    store: Arc<Mutex<Store>>,
    states: HashMap<String, watch::Sender<State>>,
}

impl Memory {
    pub fn new(n: usize) -> Memory {
        let nodes: Vec<String> = (1..=n.max(1)).map(|i| format!("n{i}")).collect();
        let states = nodes
            .iter()
            .map(|n| (n.clone(), watch::channel(State::Up).0))
            .collect();
        Memory {
            nodes,
            store: Arc::default(),
            states,
        }
    }

    fn set(&self, node: &str, s: State) -> Result<(), TargetError> {
        let tx = self.states.get(node).ok_or_else(|| TargetError::Node {
            node: node.to_string(),
            message: "no such node".into(),
        })?;
        tx.send_replace(s);
        Ok(())
    }
}

struct MemoryClient {
    node: String,
    store: Arc<Mutex<Store>>,
    state: watch::Receiver<State>,
}

impl Client for MemoryClient {
    fn invoke<'a>(&'a mut self, op: &'a Invocation) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            // Fast path: one atomic load when the node is up.
            loop {
                match *self.state.borrow() {
                    State::Up => break,
                    State::Down => return Completion::info("connection-reset"),
                    State::Paused => {}
                }
                if self.state.changed().await.is_err() {
                    return Completion::info("node-gone");
                }
            }
            let c = match self.store.lock() {
                Ok(mut s) => s.apply(op),
                Err(_) => Completion::info("store-poisoned"),
            };
            c.with_node(self.node.clone())
        })
    }
}

fn ready() -> BoxFuture<'static, Result<(), TargetError>> {
    Box::pin(async { Ok(()) })
}

impl Target for Memory {
    fn name(&self) -> &str {
        "memory"
    }
    fn nodes(&self) -> Vec<String> {
        self.nodes.clone()
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        ready()
    }
    fn start<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move { self.set(node, State::Up) })
    }
    fn stop<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move { self.set(node, State::Down) })
    }
    fn kill<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move { self.set(node, State::Down) })
    }
    fn pause<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move { self.set(node, State::Paused) })
    }
    fn resume<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<(), TargetError>> {
        Box::pin(async move { self.set(node, State::Up) })
    }
    fn client<'a>(&'a self, node: &'a str) -> BoxFuture<'a, Result<Box<dyn Client>, TargetError>> {
        Box::pin(async move {
            let tx = self.states.get(node).ok_or_else(|| TargetError::Node {
                node: node.to_string(),
                message: "no such node".into(),
            })?;
            if *tx.borrow() == State::Down {
                return Err(TargetError::Node {
                    node: node.to_string(),
                    message: "connection refused (killed)".into(),
                });
            }
            Ok(Box::new(MemoryClient {
                node: node.to_string(),
                store: self.store.clone(),
                state: tx.subscribe(),
            }) as Box<dyn Client>)
        })
    }
    fn teardown(&self) -> BoxFuture<'_, Result<(), TargetError>> {
        ready()
    }
    fn settle_time(&self) -> std::time::Duration {
        std::time::Duration::from_millis(10)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registers_lists_and_txns_behave_sequentially() {
        let m = Memory::new(2);
        let mut c = m.client("n1").await.unwrap();
        let k = |f: &str, v: Value| Invocation::new(f, v).with_key("x");
        assert_eq!(c.invoke(&k("read", Value::Nil)).await.value, Value::Nil);
        c.invoke(&k("write", 1.into())).await;
        let ok = c
            .invoke(&k("cas", Value::List(vec![1.into(), 2.into()])))
            .await;
        assert_eq!(ok.kind, faultline_core::OpType::Ok);
        let no = c
            .invoke(&k("cas", Value::List(vec![1.into(), 3.into()])))
            .await;
        assert_eq!(no.kind, faultline_core::OpType::Fail);
        let txn = Value::List(vec![
            Value::List(vec!["append".into(), "l".into(), 5.into()]),
            Value::List(vec!["r".into(), "l".into(), Value::Nil]),
        ]);
        let r = c.invoke(&Invocation::new("txn", txn)).await;
        assert_eq!(
            r.value.as_list().unwrap()[1].as_list().unwrap()[2],
            Value::List(vec![5.into()])
        );
        // rw-register micro-ops: r reads the register w wrote; an absent key reads nil.
        let rw = Value::List(vec![
            Value::List(vec!["w".into(), "x9".into(), 4.into()]),
            Value::List(vec!["r".into(), "x9".into(), Value::Nil]),
            Value::List(vec!["r".into(), "x8".into(), Value::Nil]),
        ]);
        let r = c.invoke(&Invocation::new("txn", rw)).await;
        let l = r.value.as_list().unwrap();
        assert_eq!(l[1].as_list().unwrap()[2], Value::Int(4));
        assert_eq!(l[2].as_list().unwrap()[2], Value::Nil);
        m.kill("n2").await.unwrap();
        assert!(m.client("n2").await.is_err());
    }
}
