//! etcd's v3 KV API over the JSON gateway (`/v3/kv/range`, `/v3/kv/put`, `/v3/kv/txn`):
//! keys and values are base64 in JSON, 64-bit integers are JSON strings.
//!
//! The JSON gateway instead of gRPC: it is part of every etcd 3.x server, needs no
//! protobuf/tonic build (minutes on this 2-core machine), and the few calls used here are
//! simple JSON shapes. Reads are linearizable by default; `serializable: true` makes a member
//! answer from its local state, which may be stale: the target option that must show it.

use std::time::Duration;

use serde_json::{json, Value as Json};

use super::http::HttpConn;
use crate::targets::outcome::OpError;

/// Standard base64 with padding (RFC 4648), as protobuf's JSON mapping wants for bytes.
pub fn b64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard or URL-safe base64, padded or not. `None` on a bad character.
pub fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for ch in s.bytes() {
        let v = match ch {
            b'A'..=b'Z' => ch - b'A',
            b'a'..=b'z' => ch - b'a' + 26,
            b'0'..=b'9' => ch - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// One key's value as read, with the revision that last modified it (0 if absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    pub value: Option<String>,
    pub mod_revision: i64,
}

/// A client of one etcd member.
pub struct EtcdKv {
    http: HttpConn,
    /// Serializable (member-local, possibly stale) reads instead of linearizable ones.
    pub serializable: bool,
}

/// What a step of a transaction does.
#[derive(Clone, Debug)]
pub enum TxnStep {
    Put(String, String),
    Range(String),
}

/// A JSON int64, which protobuf's JSON mapping writes as a string.
fn int64(v: &Json) -> i64 {
    match v {
        Json::String(s) => s.parse().unwrap_or(0),
        Json::Number(n) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn kv_read(kvs: Option<&Json>) -> Read {
    let first = kvs.and_then(Json::as_array).and_then(|a| a.first());
    match first {
        None => Read {
            value: None,
            mod_revision: 0,
        },
        Some(kv) => Read {
            value: kv
                .get("value")
                .and_then(Json::as_str)
                .and_then(b64_decode)
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            mod_revision: kv.get("mod_revision").map(int64).unwrap_or(0),
        },
    }
}

/// Classifies an error reply from the gateway. Reads never change state, so any error on a
/// read is `fail`; for writes only the errors etcd returns before proposing to Raft are.
pub fn classify(status: u16, body: &[u8], read_only: bool) -> OpError {
    let text = String::from_utf8_lossy(body);
    let msg = serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|j| {
            j.get("message")
                .or_else(|| j.get("error"))
                .and_then(Json::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.trim().to_string());
    let detail = format!("HTTP {status}: {msg}");
    let kind = if msg.contains("no leader") {
        "no-leader"
    } else if msg.contains("timed out") {
        "timeout"
    } else if msg.contains("too many requests") {
        "too-many-requests"
    } else if msg.contains("leader changed") {
        "leader-changed"
    } else {
        "etcd-error"
    };
    let definite = matches!(kind, "no-leader" | "too-many-requests") || status == 400;
    if read_only || definite {
        OpError::not_applied(kind, detail)
    } else {
        OpError::unknown(kind, detail)
    }
}

impl EtcdKv {
    pub fn new(addr: impl Into<String>, timeout: Duration, serializable: bool) -> EtcdKv {
        EtcdKv {
            http: HttpConn::new(addr, timeout),
            serializable,
        }
    }

    async fn call(&mut self, path: &str, body: Json, read_only: bool) -> Result<Json, OpError> {
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let resp = match self.http.post(path, &bytes).await {
            Ok(r) => r,
            Err(mut e) if read_only => {
                e.certainty = crate::targets::outcome::Certainty::NotApplied;
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        if resp.status != 200 {
            return Err(classify(resp.status, &resp.body, read_only));
        }
        serde_json::from_slice(&resp.body).map_err(|e| {
            let e = OpError::unknown("protocol", format!("bad JSON from etcd: {e}"));
            if read_only {
                OpError::not_applied(e.kind, e.detail)
            } else {
                e
            }
        })
    }

    pub async fn get(&mut self, key: &str) -> Result<Read, OpError> {
        let body = json!({"key": b64_encode(key.as_bytes()), "serializable": self.serializable});
        let r = self.call("/v3/kv/range", body, true).await?;
        Ok(kv_read(r.get("kvs")))
    }

    pub async fn put(&mut self, key: &str, value: &str) -> Result<(), OpError> {
        let body =
            json!({"key": b64_encode(key.as_bytes()), "value": b64_encode(value.as_bytes())});
        self.call("/v3/kv/put", body, false).await.map(|_| ())
    }

    /// Compare-and-set on the value; true if it swapped. A key that does not exist never
    /// matches (etcd compares against an absent value as unequal).
    pub async fn cas(&mut self, key: &str, old: &str, new: &str) -> Result<bool, OpError> {
        let k = b64_encode(key.as_bytes());
        let body = json!({
            "compare": [{"key": k, "target": "VALUE", "result": "EQUAL",
                         "value": b64_encode(old.as_bytes())}],
            "success": [{"request_put": {"key": k, "value": b64_encode(new.as_bytes())}}],
        });
        let r = self.call("/v3/kv/txn", body, false).await?;
        Ok(r.get("succeeded").and_then(Json::as_bool).unwrap_or(false))
    }

    /// A transaction guarded by `mod_revision` equality on every key in `guards`: runs
    /// `steps` if no guarded key changed since it was read, else nothing. Returns whether it
    /// ran, and the reads of its `Range` steps in order.
    pub async fn guarded_txn(
        &mut self,
        guards: &[(String, i64)],
        steps: &[TxnStep],
    ) -> Result<(bool, Vec<Read>), OpError> {
        let compare: Vec<Json> = guards
            .iter()
            .map(|(k, rev)| {
                json!({"key": b64_encode(k.as_bytes()), "target": "MOD",
                       "result": "EQUAL", "mod_revision": rev.to_string()})
            })
            .collect();
        let success: Vec<Json> = steps
            .iter()
            .map(|s| match s {
                TxnStep::Put(k, v) => json!({"request_put": {
                    "key": b64_encode(k.as_bytes()), "value": b64_encode(v.as_bytes())}}),
                TxnStep::Range(k) => json!({"request_range": {
                    "key": b64_encode(k.as_bytes()), "serializable": self.serializable}}),
            })
            .collect();
        let read_only = steps.iter().all(|s| matches!(s, TxnStep::Range(_)));
        let body = json!({"compare": compare, "success": success});
        let r = self.call("/v3/kv/txn", body, read_only).await?;
        let ok = r.get("succeeded").and_then(Json::as_bool).unwrap_or(false);
        let reads = r
            .get("responses")
            .and_then(Json::as_array)
            .map(|rs| {
                rs.iter()
                    .filter_map(|x| x.get("response_range"))
                    .map(|rr| kv_read(rr.get("kvs")))
                    .collect()
            })
            .unwrap_or_default();
        Ok((ok, reads))
    }

    /// Several ranges in one transaction: a consistent snapshot of `keys`.
    pub async fn read_many(&mut self, keys: &[String]) -> Result<Vec<Read>, OpError> {
        let steps: Vec<TxnStep> = keys.iter().cloned().map(TxnStep::Range).collect();
        let (_, reads) = self.guarded_txn(&[], &steps).await?;
        Ok(reads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_rfc4648_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in vectors {
            assert_eq!(b64_encode(plain.as_bytes()), enc);
            assert_eq!(b64_decode(enc).unwrap(), plain.as_bytes());
        }
        assert_eq!(b64_decode("Zm9v!"), None);
    }

    #[test]
    fn reads_range_replies_with_string_int64s() {
        let r: Json = serde_json::from_str(
            r#"{"header":{"revision":"7"},"kvs":[{"key":"eA==","value":"NDI=","mod_revision":"6"}],"count":"1"}"#,
        )
        .unwrap();
        assert_eq!(
            kv_read(r.get("kvs")),
            Read {
                value: Some("42".into()),
                mod_revision: 6
            }
        );
        assert_eq!(kv_read(None).value, None);
    }

    #[test]
    fn classifies_gateway_errors_by_whether_a_write_may_have_happened() {
        let timeout = br#"{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}"#;
        assert!(!classify(503, timeout, false).is_fail());
        assert!(classify(503, timeout, true).is_fail());
        let no_leader = br#"{"error":"etcdserver: no leader","code":14}"#;
        assert!(classify(503, no_leader, false).is_fail());
        assert_eq!(classify(503, no_leader, false).kind, "no-leader");
    }
}
