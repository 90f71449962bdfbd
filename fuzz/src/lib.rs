//! Helpers shared by the fuzz targets: reading a history from fuzz bytes, writing it back in
//! each format, and knowing which values a format cannot carry (so a round-trip property
//! is asserted only where the format promises one; docs/history-format.md lists the losses).

use std::path::Path;

use faultline_core::format::{jsonl, read_str, write_edn, Format, Loaded};
use faultline_core::{Op, Value};

/// The fuzz input as text: every reader starts from `read_to_string`, so bytes that are not
/// UTF-8 never reach a parser.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Reads `text` as `format` (or detected); errors are fine, panics are not.
pub fn read(text: &str, format: Option<Format>) -> Option<Loaded> {
    read_str(Path::new("fuzz"), text, format).ok()
}

pub fn to_jsonl(ops: &[Op]) -> String {
    let mut out = Vec::new();
    jsonl::write(&mut out, ops).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the JSONL writer writes UTF-8")
}

pub fn to_edn(ops: &[Op]) -> String {
    let mut out = Vec::new();
    write_edn(&mut out, ops).expect("writing to a Vec cannot fail");
    String::from_utf8(out).expect("the EDN writer writes UTF-8")
}

/// Whether JSON can carry `v` exactly: no NaN or infinite floats (written as null), map keys
/// only strings (others are written as their text).
pub fn json_exact(v: &Value) -> bool {
    match v {
        Value::Float(x) => x.is_finite(),
        Value::List(items) => items.iter().all(json_exact),
        Value::Map(pairs) => pairs
            .iter()
            .all(|(k, x)| matches!(k, Value::Str(_)) && json_exact(x)),
        _ => true,
    }
}

/// Whether JSON can carry every value of `op` exactly.
pub fn op_json_exact(op: &Op) -> bool {
    json_exact(&op.value)
        && op.error.as_ref().is_none_or(json_exact)
        && op.extra.iter().all(|(_, v)| json_exact(v))
}

/// Whether EDN can carry `v` exactly: everything except NaNs with a payload other than the
/// one `##NaN` reads as.
pub fn edn_exact(v: &Value) -> bool {
    match v {
        Value::Float(x) => !x.is_nan() || x.to_bits() == f64::NAN.to_bits(),
        Value::List(items) => items.iter().all(edn_exact),
        Value::Map(pairs) => pairs.iter().all(|(k, x)| edn_exact(k) && edn_exact(x)),
        _ => true,
    }
}

pub fn op_edn_exact(op: &Op) -> bool {
    edn_exact(&op.value)
        && op.error.as_ref().is_none_or(edn_exact)
        && op.extra.iter().all(|(_, v)| edn_exact(v))
}

/// Asserts that ops written as JSONL read back as the same ops.
pub fn assert_jsonl_round_trip(ops: &[Op]) {
    let text = to_jsonl(ops);
    let back = match read_str(Path::new("rt.jsonl"), &text, Some(Format::Jsonl)) {
        Ok(l) => l,
        Err(e) => panic!("our JSONL did not read back: {e}\n{text}"),
    };
    if ops.iter().all(op_json_exact) {
        assert_eq!(
            back.history.ops(),
            ops,
            "JSONL round trip changed the history\n{text}"
        );
    } else {
        // Lossy values (NaN -> null, non-string keys -> text) are gone after one trip, so
        // from there on the trip must be exact.
        let ops = back.history.ops();
        assert!(
            ops.iter().all(op_json_exact),
            "one JSONL trip left lossy values\n{text}"
        );
        assert_jsonl_round_trip(ops);
    }
}

/// Asserts that ops written as Jepsen EDN read back as the same ops.
pub fn assert_edn_round_trip(ops: &[Op]) {
    let text = to_edn(ops);
    let back = match read_str(Path::new("rt.edn"), &text, Some(Format::Edn)) {
        Ok(l) => l,
        Err(e) => panic!("our EDN did not read back: {e}\n{text}"),
    };
    if ops.iter().all(op_edn_exact) {
        assert_eq!(
            back.history.ops(),
            ops,
            "EDN round trip changed the history\n{text}"
        );
    }
}
