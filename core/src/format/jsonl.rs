//! faultline's JSON Lines history format: one op object per line (docs/history-format.md).

use std::io::{self, Write};

use super::{Line, LineError};
use crate::history::Op;

/// Parses one line; blank lines are skipped.
pub fn parse_line(line: &str) -> Result<Line, LineError> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(Line::Skip);
    }
    serde_json::from_str::<Op>(trimmed)
        .map(Line::Op)
        .map_err(|e| {
            let message = e.to_string();
            // Our Op visitor prefixes field errors with "field `name`: ".
            let field = message
                .strip_prefix("field `")
                .and_then(|rest| rest.split('`').next())
                .or_else(|| {
                    message
                        .strip_prefix("missing field `")
                        .and_then(|r| r.split('`').next())
                })
                .map(str::to_string);
            LineError { field, message }
        })
}

/// Writes ops as JSON Lines.
pub fn write<'a, W: Write>(mut w: W, ops: impl IntoIterator<Item = &'a Op>) -> io::Result<()> {
    for op in ops {
        write_op(&mut w, op)?;
    }
    w.flush()
}

/// Writes one op as one line.
pub fn write_op<W: Write>(w: &mut W, op: &Op) -> io::Result<()> {
    serde_json::to_writer(&mut *w, op)?;
    w.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::format::{read_str, Format, ReadError};
    use crate::value::Value;

    const GOOD: &str = r#"{"index":0,"time":10,"type":"invoke","process":0,"f":"write","value":1}
{"index":1,"time":20,"type":"ok","process":0,"f":"write","value":1,"node":"n1","trace":"abc"}
"#;

    #[test]
    fn round_trips_including_unknown_fields() {
        let loaded = read_str(Path::new("h.jsonl"), GOOD, None).unwrap();
        assert_eq!(loaded.format, Format::Jsonl);
        let ops = loaded.history.ops();
        assert_eq!(ops[1].extra.get("trace"), Some(&Value::Str("abc".into())));
        let mut out = Vec::new();
        write(&mut out, ops).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), GOOD);
    }

    #[test]
    fn a_bad_field_names_file_line_and_field() {
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\n{\"type\":\"okay\",\"process\":0,\"f\":\"read\"}\n";
        let err = read_str(Path::new("h.jsonl"), text, Some(Format::Jsonl)).unwrap_err();
        match &err {
            ReadError::Parse { line, field, .. } => {
                assert_eq!(*line, 2);
                assert_eq!(field.as_deref(), Some("type"));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string().starts_with("h.jsonl:2: field `type`"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = read_str(
            Path::new("h.jsonl"),
            "{\"type\":\"invoke\",\"f\":\"read\"}\n",
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing field `process`"), "{err}");
    }

    #[test]
    fn a_truncated_last_line_is_dropped_with_a_warning() {
        let text = format!("{GOOD}{{\"index\":2,\"time\":30,\"type\":\"inv");
        let loaded = read_str(Path::new("h.jsonl"), &text, None).unwrap();
        assert_eq!(loaded.history.len(), 2);
        assert!(loaded.history.warnings()[0].contains("incomplete"));
    }

    #[test]
    fn a_malformed_middle_line_is_an_error() {
        let text =
            format!("{{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}}\nnot json\n{GOOD}");
        let err = read_str(Path::new("h.jsonl"), &text, Some(Format::Jsonl)).unwrap_err();
        assert_eq!(err.line(), Some(2));
    }

    #[test]
    fn an_unmatched_completion_names_its_line() {
        let text = "{\"type\":\"ok\",\"process\":4,\"f\":\"read\",\"value\":1}\n";
        let err = read_str(Path::new("h.jsonl"), text, None).unwrap_err();
        assert!(matches!(err, ReadError::History { line: 1, .. }), "{err:?}");
        assert!(err.to_string().contains("unmatched completion"));
    }

    #[test]
    fn floats_read_back_exactly() {
        // Found by fuzz/jsonl: serde_json's fast float parser read this one ULP off, so a
        // JSONL round trip changed the history; the float_roundtrip feature fixes it.
        let text =
            "{\"type\":\"invoke\",\"process\":0,\"f\":\"w\",\"value\":1.4444444444444443e121}\n";
        let loaded = read_str(Path::new("h.jsonl"), text, None).unwrap();
        let want: f64 = "1.4444444444444443e121".parse().unwrap();
        assert_eq!(loaded.history.ops()[0].value, Value::Float(want));
        let mut out = Vec::new();
        write(&mut out, loaded.history.ops()).unwrap();
        let again = read_str(
            Path::new("h.jsonl"),
            std::str::from_utf8(&out).unwrap(),
            None,
        );
        assert_eq!(again.unwrap().history.ops(), loaded.history.ops());
    }
}
