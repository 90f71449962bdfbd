//! Jepsen's log lines (`jepsen.util/log-op`), as in the etcd logs of Porcupine's test data
//! and any `jepsen.log`:
//!
//! ```text
//! INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[1 4]
//! 2017-04-19 22:04:28,556{GMT}<TAB>INFO<TAB>[jepsen worker 2] jepsen.util: 2<TAB>:ok<TAB>:read<TAB>3
//! ```
//!
//! After the logger name come the process (an integer or `:nemesis`), the type, the function
//! and the value, each printed as EDN and separated by tabs (some logs use spaces; any
//! whitespace will do), then optionally the op's error. Lines from other loggers, stack
//! traces and blank lines are skipped. Log lines carry no index; the time is taken from a
//! leading `YYYY-MM-DD HH:MM:SS,mmm` timestamp when there is one (relative to the first op
//! line), else 0.

use std::cell::Cell;
use std::path::Path;

use super::edn::{self, Parser};
use super::{read_lines, Line, LineError, ReadError};
use crate::history::{History, Op, OpType, Process};
use crate::value::Value;

const MARKERS: [&str; 2] = ["jepsen.util - ", "jepsen.util: "];

/// Where the op text starts: just after the first `jepsen.util` logger marker in `text`.
pub fn marker_end(text: &str) -> Option<usize> {
    MARKERS
        .iter()
        .filter_map(|m| text.find(m).map(|at| at + m.len()))
        .min()
}

/// Reads a whole log.
pub fn read(path: &Path, text: &str) -> Result<History, ReadError> {
    let first_ms = Cell::new(None);
    read_lines(path, text, |line| parse(line, &first_ms))
}

/// Parses one log line (times are left at 0: they are relative to the first op line).
pub fn parse_line(line: &str) -> Result<Line, LineError> {
    parse(line, &Cell::new(None))
}

fn parse(line: &str, first_ms: &Cell<Option<i64>>) -> Result<Line, LineError> {
    let Some(at) = marker_end(line) else {
        return Ok(Line::Skip);
    };
    let text = line.get(at..).unwrap_or("");
    let mut p = Parser::for_line(text, line.get(..at).map_or(at, |s| s.chars().count()));
    // Other messages of the same logger are noise; an op line starts "<process> :<type>".
    let process = match p.read() {
        Ok(Some(Value::Int(n))) if n >= 0 => Process::Client(n as u64),
        Ok(Some(Value::Str(s))) if s == "nemesis" && text.trim_start().starts_with(':') => {
            Process::Nemesis
        }
        _ => return Ok(Line::Skip),
    };
    if p.skip_ws().is_err() || p.peek() != Some(b':') {
        return Ok(Line::Skip);
    }
    let kind = match p.read_value() {
        Ok(Value::Str(t)) => OpType::parse(&t).ok_or_else(|| {
            LineError::field(
                "type",
                format!("expected :invoke, :ok, :fail or :info, found :{t}"),
            )
        })?,
        _ => return Ok(Line::Skip),
    };
    let f = match p.read() {
        Ok(Some(Value::Str(f))) => f,
        Ok(Some(other)) => {
            return Err(LineError::field(
                "f",
                format!("expected a keyword such as :read, found {other}"),
            ))
        }
        Ok(None) => return Err(LineError::field("f", "missing after the type")),
        Err(e) => return Err(LineError::field("f", at_column(&e))),
    };
    let value = match p.read() {
        Ok(Some(v)) => v,
        Ok(None) => return Err(LineError::field("value", "missing after the function")),
        Err(e) => return Err(LineError::field("value", at_column(&e))),
    };
    // log-op prints the error with `str`, not as EDN: keep it as text unless it reads as
    // exactly one EDN value.
    let rest = p.rest().trim();
    // An error that reads as `nil` is no error, as in history.edn and JSONL (found by
    // fuzz/jepsen_log: it made the EDN export read back differently).
    let error = (!rest.is_empty())
        .then(|| edn::parse(rest).unwrap_or_else(|_| Value::Str(rest.to_string())))
        .filter(|e| !e.is_nil());
    let mut op = Op::invoke(0, f, value);
    op.kind = kind;
    op.process = process;
    op.error = error;
    if let Some(ms) = timestamp_ms(line) {
        let t0 = first_ms.get().unwrap_or(ms);
        first_ms.set(Some(t0));
        // Saturating: timestamps centuries apart overflowed u64 nanoseconds (fuzz/detect).
        op.time = u64::try_from(ms.saturating_sub(t0))
            .unwrap_or(0)
            .saturating_mul(1_000_000)
            .min(i64::MAX as u64);
    }
    Ok(Line::Op(op))
}

fn at_column(e: &edn::EdnError) -> String {
    format!("column {}: {}", e.column, e.message)
}

/// Milliseconds since 1970 from a leading `YYYY-MM-DD HH:MM:SS,mmm` (or `.mmm`).
fn timestamp_ms(line: &str) -> Option<i64> {
    let b = line.as_bytes().get(..23)?;
    let shape = b"dddd-dd-dd dd:dd:dd,ddd";
    for (&c, &s) in b.iter().zip(shape) {
        let fits = match s {
            b'd' => c.is_ascii_digit(),
            b',' => c == b',' || c == b'.',
            b' ' => c == b' ' || c == b'T',
            _ => c == s,
        };
        if !fits {
            return None;
        }
    }
    let num = |from: usize, to: usize| -> i64 {
        b[from..to]
            .iter()
            .fold(0, |n, d| n * 10 + i64::from(d - b'0'))
    };
    let days = days_from_civil(num(0, 4), num(5, 7), num(8, 10));
    let secs = days * 86_400 + num(11, 13) * 3600 + num(14, 16) * 60 + num(17, 19);
    Some(secs * 1000 + num(20, 23))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::format::{read_str, Format, ReadError};

    fn op(line: &str) -> Op {
        match parse_line(line) {
            Ok(Line::Op(op)) => op,
            Ok(Line::Skip) => panic!("{line:?} was skipped"),
            Err(e) => panic!("{line:?}: {e:?}"),
        }
    }

    fn skipped(line: &str) -> bool {
        matches!(parse_line(line), Ok(Line::Skip))
    }

    #[test]
    fn reads_the_corpus_shapes_with_tabs_or_spaces() {
        for line in [
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]",
            "INFO  jepsen.util - 3   :invoke :cas    [1 4]",
            "INFO  jepsen.util - 3 :invoke :cas [1,4]  ",
            "2017-04-19 22:04:28,556{GMT}\tINFO\t[jepsen worker 3] jepsen.util: 3\t:invoke\t:cas\t[1 4]",
        ] {
            let o = op(line);
            assert_eq!(o.process, Process::Client(3), "{line}");
            assert_eq!(o.kind, OpType::Invoke);
            assert_eq!(o.f, "cas");
            assert_eq!(o.value, Value::List(vec![1.into(), 4.into()]));
            assert_eq!(o.error, None);
        }
        assert_eq!(
            op("INFO  jepsen.util - 0\t:ok\t:read\tnil").value,
            Value::Nil
        );
        let t = op("INFO  jepsen.util - 1\t:fail\t:read\t:timed-out");
        assert_eq!((t.kind, t.value), (OpType::Fail, "timed-out".into()));
    }

    #[test]
    fn nemesis_ops_and_errors() {
        let n = op("INFO  jepsen.util - :nemesis\t:info\t:start\t{\"n1\" #{\"n2\" \"n3\"}}");
        assert_eq!(n.process, Process::Nemesis);
        assert_eq!(n.kind, OpType::Info);
        assert_eq!(n.value.to_string(), r#"{"n1" ["n2" "n3"]}"#);
        let e = op("INFO  jepsen.util - 2\t:info\t:write\t3\t:timeout");
        assert_eq!(e.error, Some("timeout".into()));
        let e = op("INFO  jepsen.util - 2\t:fail\t:write\t3\tindeterminate: connection reset");
        assert_eq!(e.error, Some("indeterminate: connection reset".into()));
    }

    #[test]
    fn noise_is_skipped() {
        for line in [
            "",
            "   ",
            "INFO  jepsen.core - Running test",
            "\tat clojure.lang.AFn.run(AFn.java:22)",
            "java.net.SocketTimeoutException: Read timed out",
            "INFO  jepsen.util - Running [ unbalanced",
            "INFO  jepsen.util - 3 nodes ready",
            "INFO  jepsen.util - :setup done",
            "WARN  jepsen.util - -1\t:invoke\t:read\tnil",
        ] {
            assert!(skipped(line), "{line:?}");
        }
    }

    #[test]
    fn malformed_op_lines_name_the_field() {
        let cases = [
            ("INFO  jepsen.util - 3\t:invok\t:cas\t[1 4]", "type"),
            ("INFO  jepsen.util - 3\t:invoke\t7\t[1 4]", "f"),
            ("INFO  jepsen.util - 3\t:invoke\t:cas", "value"),
            ("INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4", "value"),
            (
                "INFO  jepsen.util - 3\t:invoke\t:cas\t99999999999999999999",
                "value",
            ),
        ];
        for (line, field) in cases {
            match parse_line(line) {
                Err(e) => assert_eq!(e.field.as_deref(), Some(field), "{line}: {e:?}"),
                Ok(_) => panic!("{line:?} parsed"),
            }
        }
        let text = "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 3\t:ok\t:cas\t[1 4\nINFO  jepsen.util - 1\t:invoke\t:read\tnil\n";
        let err = read_str(Path::new("etcd.log"), text, None).unwrap_err();
        assert!(
            matches!(&err, ReadError::Parse { line: 2, field: Some(f), .. } if f == "value"),
            "{err}"
        );
        assert!(err.to_string().starts_with("etcd.log:2: field `value`: column 36: the input ends inside the '[' opened at column 32"), "{err}");
    }

    #[test]
    fn a_cut_off_last_line_is_dropped_with_a_warning() {
        let text =
            "INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 3\t:ok\t:cas\t[1 ";
        let loaded = read_str(Path::new("etcd.log"), text, None).unwrap();
        assert_eq!(loaded.format, Format::JepsenLog);
        assert_eq!(loaded.history.len(), 1);
        assert!(loaded.history.warnings()[0].contains("incomplete"));
    }

    #[test]
    fn timestamps_become_times_relative_to_the_first_op() {
        let text = "2017-12-31 23:59:59,900{GMT}\tINFO\t[w] jepsen.util: 0\t:invoke\t:read\tnil\n\
                    2017-12-31 23:59:59,950{GMT}\tINFO\t[w] jepsen.core: noise\n\
                    2018-01-01 00:00:00,150{GMT}\tINFO\t[w] jepsen.util: 0\t:ok\t:read\t1\n";
        let h = read_str(Path::new("jepsen.log"), text, None)
            .unwrap()
            .history;
        let times: Vec<u64> = h.ops().iter().map(|o| o.time).collect();
        assert_eq!(times, [0, 250_000_000]);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn timestamps_millennia_apart_do_not_overflow() {
        // Found by fuzz/detect: the nanosecond offset overflowed u64 (a panic in debug).
        let text = "0001-01-01 00:00:00,000\tINFO\tjepsen.util: 1\t:invoke\t:read\tnil\n\
                    9999-12-31 23:59:59,999\tINFO\tjepsen.util: 1\t:ok\t:read\t3\n";
        let loaded = read_str(Path::new("j.log"), text, Some(Format::JepsenLog)).unwrap();
        assert_eq!(loaded.history.ops()[1].time, i64::MAX as u64);
    }

    #[test]
    fn a_nil_error_is_no_error() {
        // Found by fuzz/jepsen_log: `nil` after the value became Some(nil), which history.edn
        // and JSONL read as no error, so an export did not read back the same.
        assert_eq!(
            op("INFO  jepsen.util - 3\t:fail\t:read\tnil\tnil").error,
            None
        );
    }
}
