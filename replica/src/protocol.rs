//! The client protocol: line-delimited JSON, one request per line, one response per line.
//! See docs/replica-protocol.md. Parsing never panics: every malformed line becomes a
//! `bad-request` response and the connection stays open.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Frames (lines) longer than this are refused.
pub const MAX_FRAME: usize = 1 << 20;

/// One micro-op of a `txn`: `["append","x",3]`, `["r","y",null]`, `["w","z",1]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MicroOp(pub String, pub String, pub Value);

/// A client request without its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    Read {
        key: String,
    },
    Write {
        key: String,
        value: Value,
        /// The `context` of an earlier read (siblings mode): the write supersedes those values.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<Value>,
    },
    Cas {
        key: String,
        from: Value,
        to: Value,
    },
    Append {
        key: String,
        value: Value,
    },
    Txn {
        txn: Vec<MicroOp>,
    },
    Status,
    Admin {
        action: String,
        #[serde(default)]
        value: Value,
    },
}

impl Op {
    /// Whether this op can change state (so must go to a leader in leader modes).
    pub fn is_write(&self) -> bool {
        match self {
            Op::Write { .. } | Op::Cas { .. } | Op::Append { .. } => true,
            Op::Txn { txn } => txn.iter().any(|m| m.0 != "r"),
            _ => false,
        }
    }
}

/// A parsed request: the echoed id and the op.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: Value,
    pub op: Op,
}

/// A response line. Fields that do not apply are left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Response {
    pub id: Value,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub siblings: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definite: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
}

impl Response {
    pub fn ok(value: Value) -> Self {
        Response {
            ok: true,
            value,
            ..Default::default()
        }
    }
    pub fn with_version(mut self, v: Value) -> Self {
        self.version = Some(v);
        self
    }
    /// An error; `definite` says the op certainly did not take effect.
    pub fn err(error: impl Into<String>, definite: bool) -> Self {
        Response {
            ok: false,
            error: Some(error.into()),
            definite: Some(definite),
            ..Default::default()
        }
    }
    pub fn bad_request(msg: impl std::fmt::Display) -> Self {
        Self::err(format!("bad-request: {msg}"), true)
    }
    pub fn unsupported(msg: impl std::fmt::Display) -> Self {
        Self::err(format!("unsupported: {msg}"), true)
    }
    pub fn not_leader(leader: Option<String>) -> Self {
        let mut r = Self::err("not-leader", true);
        r.leader = leader;
        r
    }
}

/// Parse one line into a request, or the error response to send back.
pub fn parse_request(line: &[u8]) -> Result<Request, Box<Response>> {
    let v: Value = serde_json::from_slice(line)
        .map_err(|e| Box::new(Response::bad_request(format!("malformed JSON: {e}"))))?;
    let Value::Object(ref obj) = v else {
        return Err(Box::new(Response::bad_request(
            "request must be a JSON object",
        )));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let fail = |msg: String| {
        let mut r = Response::bad_request(msg);
        r.id = id.clone();
        Box::new(r)
    };
    match obj.get("op") {
        Some(Value::String(_)) => {}
        Some(_) => return Err(fail("field `op` must be a string".into())),
        None => return Err(fail("missing field `op`".into())),
    }
    let op: Op = serde_json::from_value(v.clone()).map_err(|e| fail(e.to_string()))?;
    if let Op::Txn { txn } = &op {
        for (i, m) in txn.iter().enumerate() {
            if !matches!(m.0.as_str(), "r" | "w" | "append") {
                return Err(fail(format!(
                    "txn[{i}]: unknown micro-op `{}` (want r, w or append)",
                    m.0
                )));
            }
        }
    }
    Ok(Request { id, op })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_every_op_of_the_contract() {
        for l in [
            r#"{"id": 7, "op": "read", "key": "x"}"#,
            r#"{"id": 8, "op": "write", "key": "x", "value": 5}"#,
            r#"{"id": 9, "op": "cas", "key": "x", "from": 5, "to": 6}"#,
            r#"{"id": 10, "op": "append", "key": "x", "value": 3}"#,
            r#"{"id": 11, "op": "txn", "txn": [["append","x",3],["r","y",null],["w","z",1]]}"#,
            r#"{"id": 12, "op": "status"}"#,
            r#"{"id": 13, "op": "admin", "action": "clock-offset", "value": 30000}"#,
        ] {
            let r = parse_request(l.as_bytes()).unwrap();
            assert!(r.id.is_number());
        }
    }

    #[test]
    fn bad_input_keeps_the_id_when_it_can() {
        let e = parse_request(br#"{"id": 3, "op": "frobnicate"}"#).unwrap_err();
        assert_eq!(e.id, json!(3));
        assert!(e.error.unwrap().starts_with("bad-request"));
        let e = parse_request(b"{nope").unwrap_err();
        assert_eq!(e.id, Value::Null);
        assert_eq!(e.definite, Some(true));
        let e = parse_request(br#"{"id": 4, "op": "read", "key": 5}"#).unwrap_err();
        assert_eq!(e.id, json!(4));
        let e = parse_request(br#"{"id": 5, "op": "txn", "txn": [["x","k",1]]}"#).unwrap_err();
        assert!(e.error.unwrap().contains("micro-op"));
    }

    #[test]
    fn responses_leave_out_what_does_not_apply() {
        let mut r = Response::ok(json!(5)).with_version(json!(12));
        r.id = json!(7);
        r.node = Some("n1".into());
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"id": 7, "ok": true, "node": "n1", "value": 5, "version": 12})
        );
    }
}
