//! Registers: `register` (read, write), `cas-register` (also cas, Jepsen's rule that `fail`
//! did not happen) and `etcd` (the semantics of the etcd logs Porcupine checks).

use faultline_core::{OpType, Value};

use super::super::model::{Model, ModelError, OpView};
use super::pair;

/// Which register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegisterKind {
    /// Read and write.
    Plain,
    /// Read, write and compare-and-set; a failed op did not happen.
    Cas,
    /// As `Cas`, but a failed cas proves the value differed from `from` (etcd answers a
    /// mismatch with a definite failure), and a failed read constrains nothing (a timed-out
    /// read in the etcd logs). This is how Porcupine reads the etcd logs.
    Etcd,
}

/// A single register holding any value, `nil` at first.
#[derive(Clone, Copy, Debug)]
pub struct Register(pub RegisterKind);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    Read,
    Write(Value),
    Cas(Value, Value),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Output {
    /// A read that returned this value.
    Read(Value),
    /// A write or cas that took effect (or, indeterminate, may have).
    Done,
    /// A cas that definitely did not take effect because the value differed (etcd).
    Mismatch,
}

impl Model for Register {
    type State = Value;
    type Input = Input;
    type Output = Output;

    fn name(&self) -> &str {
        match self.0 {
            RegisterKind::Plain => "register",
            RegisterKind::Cas => "cas-register",
            RegisterKind::Etcd => "etcd",
        }
    }

    fn op(&self, op: &OpView<'_>) -> Result<Option<(Input, Output)>, ModelError> {
        let known: &[&str] = if self.0 == RegisterKind::Plain {
            &["read", "write"]
        } else {
            &["read", "write", "cas"]
        };
        let name = self.name();
        match (op.f, op.outcome) {
            ("read", OpType::Ok) => Ok(Some((Input::Read, Output::Read(op.value().clone())))),
            // An indeterminate or failed read returned nothing to check.
            ("read", _) => Ok(None),
            ("write", OpType::Fail) => Ok(None),
            ("write", _) => Ok(Some((Input::Write(op.invoke_value.clone()), Output::Done))),
            ("cas", outcome) if self.0 != RegisterKind::Plain => {
                let (from, to) = pair(op.invoke_value).ok_or_else(|| {
                    ModelError::bad_value(name, "cas", "a [from to] pair", op.invoke_value)
                })?;
                let input = Input::Cas(from.clone(), to.clone());
                match outcome {
                    OpType::Fail if self.0 == RegisterKind::Etcd => {
                        Ok(Some((input, Output::Mismatch)))
                    }
                    OpType::Fail => Ok(None),
                    _ => Ok(Some((input, Output::Done))),
                }
            }
            (f, _) => Err(ModelError::unknown_f(name, f, known)),
        }
    }

    fn init(&self) -> Value {
        Value::Nil
    }

    fn step(&self, state: &Value, input: &Input, output: &Output) -> Option<Value> {
        match (input, output) {
            (Input::Read, Output::Read(v)) => (v == state).then(|| state.clone()),
            (Input::Write(v), _) => Some(v.clone()),
            (Input::Cas(from, to), Output::Done) => (from == state).then(|| to.clone()),
            (Input::Cas(from, _), Output::Mismatch) => (from != state).then(|| state.clone()),
            _ => None,
        }
    }

    fn describe_op(&self, input: &Input, output: &Output) -> String {
        match (input, output) {
            (Input::Read, Output::Read(v)) => format!("read of {v}"),
            (Input::Read, _) => "read".into(),
            (Input::Write(v), _) => format!("write of {v}"),
            (Input::Cas(f, t), Output::Mismatch) => format!("failed cas from {f} to {t}"),
            (Input::Cas(f, t), _) => format!("cas from {f} to {t}"),
        }
    }

    fn describe_state(&self, state: &Value) -> String {
        if state.is_nil() {
            "the register was empty (nil)".into()
        } else {
            format!("the register held {state}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(
        f: &'a str,
        outcome: OpType,
        inv: &'a Value,
        done: Option<&'a Value>,
    ) -> OpView<'a> {
        OpView {
            f,
            outcome,
            invoke_value: inv,
            complete_value: done,
            process: 0,
        }
    }

    #[test]
    fn etcd_keeps_failed_cas_as_proof_and_drops_failed_reads() {
        let m = Register(RegisterKind::Etcd);
        let cas = Value::from(vec![1, 2]);
        let (i, o) = m
            .op(&view("cas", OpType::Fail, &cas, Some(&cas)))
            .unwrap()
            .unwrap();
        assert_eq!(m.step(&Value::Int(1), &i, &o), None);
        assert_eq!(m.step(&Value::Int(3), &i, &o), Some(Value::Int(3)));
        let t = Value::from("timed-out");
        assert!(m
            .op(&view("read", OpType::Fail, &Value::Nil, Some(&t)))
            .unwrap()
            .is_none());
        let cr = Register(RegisterKind::Cas);
        assert!(cr
            .op(&view("cas", OpType::Fail, &cas, Some(&cas)))
            .unwrap()
            .is_none());
    }

    #[test]
    fn an_unknown_f_names_the_model_and_what_it_knows() {
        let m = Register(RegisterKind::Plain);
        let err = m
            .op(&view("cas", OpType::Ok, &Value::Nil, None))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the register model has no operation \"cas\"; it knows read, write"
        );
    }
}
