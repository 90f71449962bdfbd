//! Porcupine's kv EDN (the `kv/` histories of Porcupine's test data): one Jepsen-style map
//! per line with the key in a separate field,
//!
//! ```text
//! {:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}
//! ```
//!
//! read as a Jepsen independent-key op: the value becomes the tuple `[key value]` (here
//! `["4" "x 0 1 y"]`), so the `kv` model and `--independent` splitting treat it exactly like
//! a Jepsen independent history. Written back (JSONL or EDN) it stays in that tuple form.

use super::jepsen_edn::{op_from_map, read_line_value};
use super::{Line, LineError};
use crate::value::Value;

/// Parses one line; blank and comment lines are skipped.
pub fn parse_line(line: &str) -> Result<Line, LineError> {
    let Some(v) = read_line_value(line)? else {
        return Ok(Line::Skip);
    };
    let (mut op, _) = op_from_map(v)?;
    let key = op.extra.remove("key").ok_or_else(|| {
        LineError::field(
            "key",
            "missing; every Porcupine kv op names its key with :key (use --format edn for Jepsen histories)",
        )
    })?;
    op.value = Value::List(vec![key, std::mem::take(&mut op.value)]);
    Ok(Line::Op(op))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::format::{read_str, Format, ReadError};
    use crate::history::{OpType, Process};

    #[test]
    fn the_key_and_value_become_a_tuple() {
        let text = "{:process 0, :type :invoke, :f :append, :key \"4\", :value \"x 0 1 y\"}\n\
                    {:process 1, :type :invoke, :f :get, :key \"4\", :value nil}\n\
                    {:process 0, :type :ok, :f :append, :key \"4\", :value \"x 0 1 y\"}\n\
                    {:process 1, :type :ok, :f :get, :key \"4\", :value \"x 0 1 y\"}\n";
        let loaded = read_str(Path::new("c01.txt"), text, None).unwrap();
        assert_eq!(loaded.format, Format::PorcupineKv);
        let ops = loaded.history.ops();
        assert_eq!(ops[0].value.to_string(), r#"["4" "x 0 1 y"]"#);
        assert_eq!(ops[1].value.to_string(), r#"["4" nil]"#);
        assert_eq!(ops[3].kind, OpType::Ok);
        assert_eq!(ops[3].process, Process::Client(1));
        assert!(ops.iter().all(|o| o.extra.is_empty()));
    }

    #[test]
    fn spacing_and_field_order_do_not_matter() {
        for line in [
            "{:process 0, :type :invoke, :f :put, :key \"k\", :value \"v\"}",
            "{:key \"k\" :value \"v\" :f :put :type :invoke :process 0}",
            "  { :process 0 ,:type :invoke,:f :put,:key \"k\",:value \"v\" }  ; note",
        ] {
            match parse_line(line) {
                Ok(Line::Op(op)) => assert_eq!(op.value.to_string(), r#"["k" "v"]"#, "{line}"),
                other => panic!("{line}: {:?}", other.err()),
            }
        }
    }

    #[test]
    fn a_missing_key_or_bad_field_names_line_and_field() {
        let text = "{:process 0, :type :invoke, :f :put, :key \"k\", :value \"v\"}\n\
                    {:process 0, :type :ok, :f :put, :value \"v\"}\n";
        let err = read_str(Path::new("kv.txt"), text, Some(Format::PorcupineKv)).unwrap_err();
        assert!(
            matches!(&err, ReadError::Parse { line: 2, field: Some(f), .. } if f == "key"),
            "{err}"
        );
        let text = "{:process \"zero\", :type :invoke, :f :put, :key \"k\", :value \"v\"}\n";
        let err = read_str(Path::new("kv.txt"), text, Some(Format::PorcupineKv)).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "kv.txt:1: field `process`: expected a non-negative integer or :nemesis"
            ),
            "{err}"
        );
    }
}
