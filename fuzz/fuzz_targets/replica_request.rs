//! The built-in store's client protocol (one JSON request per line): any line parses to a
//! request or a `bad-request` response, never a panic; a parsed request written back as JSON
//! parses to the same request, and every error response serializes.
#![no_main]
use faultline_replica::protocol::{parse_request, Op, Response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_request(data) {
        Ok(req) => {
            let mut v = serde_json::to_value(&req.op).expect("an op serializes");
            if let serde_json::Value::Object(m) = &mut v {
                m.insert("id".into(), req.id.clone());
            }
            let line = serde_json::to_vec(&v).expect("a value serializes");
            let back = parse_request(&line).unwrap_or_else(|e| {
                panic!(
                    "{} does not parse back: {e:?}",
                    String::from_utf8_lossy(&line)
                )
            });
            assert_eq!(back.id, req.id);
            assert_eq!(back.op, req.op);
            let _: bool = Op::is_write(&back.op);
        }
        Err(resp) => {
            let r: Response = *resp;
            assert!(!r.ok);
            assert!(r
                .error
                .as_deref()
                .is_some_and(|e| e.starts_with("bad-request")));
            serde_json::to_vec(&r).expect("a response serializes");
        }
    }
});
