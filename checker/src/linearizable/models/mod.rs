//! The built-in models. Each is a few lines of [`Model`](super::Model): how to read an op,
//! and what a step does.

mod collections;
mod kv;
mod register;

pub use collections::{Counter, Mutex, Queue, Set};
pub use kv::Kv;
pub use register::{Register, RegisterKind};

use faultline_core::Value;

/// The two halves of a `[a b]` pair.
pub(crate) fn pair(v: &Value) -> Option<(&Value, &Value)> {
    match v.as_list() {
        Some([a, b]) => Some((a, b)),
        _ => None,
    }
}
