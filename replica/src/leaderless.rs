//! Not built yet.
use crate::node::{Ctx, NodeError};
use crate::peer::{handler, Handler};
use crate::protocol::{Op, Response};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct Leaderless {
    _ctx: Arc<Ctx>,
}

impl Leaderless {
    pub async fn start(ctx: Arc<Ctx>) -> Result<Arc<Self>, NodeError> {
        Ok(Arc::new(Leaderless { _ctx: ctx }))
    }
    pub fn handler(self: &Arc<Self>) -> Handler {
        handler(|_q: Value| async move { Value::Null })
    }
    pub fn status(&self) -> Value {
        json!({"role": "peer", "term": 0, "log_index": 0, "leader": null})
    }
    pub async fn handle(&self, _op: Op) -> Response {
        Response::unsupported("mode not built yet")
    }
    pub async fn shutdown(&self) {}
}
