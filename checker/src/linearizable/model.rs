//! The model trait: what a sequential object does, one op at a time.
//!
//! A model turns each client op into an input and an output of its own types
//! ([`Model::op`]), says from a state whether an op with that output could happen and what
//! state follows ([`Model::step`]), and may split a history into independent parts
//! ([`Model::partition`]). The search never looks inside states: it interns them, so a
//! state may be as large as a map (the unsplit `kv` model) without slowing the inner loop.

use std::hash::Hash;

use faultline_core::{OpType, Value};

/// One client op as a model sees it.
#[derive(Clone, Copy, Debug)]
pub struct OpView<'h> {
    /// The function: `read`, `write`, `cas`, ...
    pub f: &'h str,
    /// `Ok`, `Fail` or `Info`; an op that never completed is `Info`.
    pub outcome: OpType,
    /// The invocation's value (with `--independent`, the value part of the `[key value]` tuple).
    pub invoke_value: &'h Value,
    /// The completion's value, when the op completed.
    pub complete_value: Option<&'h Value>,
    /// The client process.
    pub process: u64,
}

impl<'h> OpView<'h> {
    /// The completion's value if the op completed, else the invocation's.
    pub fn value(&self) -> &'h Value {
        self.complete_value.unwrap_or(self.invoke_value)
    }

    /// Whether the op's effect is unknown (`info`, or never completed).
    pub fn indeterminate(&self) -> bool {
        self.outcome == OpType::Info
    }
}

/// Why an op cannot be read by a model: an `f` it does not know, or a value of the wrong
/// shape. The checker names the op's line and process around this message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ModelError(pub String);

impl ModelError {
    /// The error for an `f` the model has no meaning for.
    pub fn unknown_f(model: &str, f: &str, known: &[&str]) -> ModelError {
        ModelError(format!(
            "the {model} model has no operation {f:?}; it knows {}",
            known.join(", ")
        ))
    }

    /// The error for a value of the wrong shape.
    pub fn bad_value(model: &str, f: &str, expected: &str, got: &Value) -> ModelError {
        ModelError(format!(
            "the {model} model expects {f}'s value to be {expected}, found {got}"
        ))
    }
}

/// A sequential specification. Implement `op`, `init` and `step`; the rest have defaults.
///
/// Indeterminate ops (`info`, never completed) may take effect at any time after their
/// invocation, or never: the search makes them optional, so `step` only has to say what
/// happens *if* the op took effect, given the output `op` built for an unknown result.
pub trait Model: Send + Sync {
    type State: Clone + Eq + Hash + Send + Sync;
    type Input: Send + Sync;
    type Output: Send + Sync;

    /// The model's name, as `--model` spells it.
    fn name(&self) -> &str;

    /// Reads one op. `Ok(None)` drops an op that cannot constrain anything (a failed write
    /// under Jepsen's rule that `fail` did not happen, an indeterminate read).
    fn op(&self, op: &OpView<'_>) -> Result<Option<(Self::Input, Self::Output)>, ModelError>;

    /// The state before any op.
    fn init(&self) -> Self::State;

    /// The state after the op, or `None` if the op could not have returned this output from
    /// this state.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;

    /// Splits the ops (by position in `ops`) into parts that can be checked apart, each
    /// named by a key (P-compositionality). `None`: one part.
    fn partition(&self, _ops: &[(Self::Input, Self::Output)]) -> Option<Vec<(Value, Vec<usize>)>> {
        None
    }

    /// The op, for sentences: `read 2`, `cas 1 -> 4`.
    fn describe_op(&self, _input: &Self::Input, _output: &Self::Output) -> String {
        "an op".to_string()
    }

    /// The state, for sentences: `the register held 5`.
    fn describe_state(&self, _state: &Self::State) -> String {
        "the model's state".to_string()
    }
}
