//! On-disk history formats: our JSON Lines (read and write), Jepsen `history.edn` (read and
//! write), Jepsen's log lines and Porcupine's kv EDN (read). `detect` picks one from a file's
//! first bytes; callers can override it.
//!
//! Every reader reports bad input as a [`ReadError`] naming the file, the line and, where it
//! can, the field. A malformed *last* line is taken to be a recorder cut off mid-write: it is
//! dropped with a warning and everything before it is kept. docs/history-format.md describes
//! each format and what converting between them loses.
//!
//! ```
//! use std::path::Path;
//! use faultline_core::format::{jsonl, read_str, write_edn, Format};
//! let edn = "{:type :invoke, :f :cas, :value [0 [1 2]], :process 0}\n\
//!            {:type :fail, :f :cas, :value [0 [1 2]], :process 0, :error :mismatch}\n";
//! let loaded = read_str(Path::new("history.edn"), edn, None).unwrap();
//! assert_eq!(loaded.format, Format::Edn);
//! let mut json = Vec::new();
//! jsonl::write(&mut json, loaded.history.ops()).unwrap();
//! assert!(String::from_utf8(json).unwrap().ends_with(
//!     r#""type":"fail","process":0,"f":"cas","value":[0,[1,2]],"error":"mismatch"}
//! "#));
//! let mut back = Vec::new();
//! write_edn(&mut back, loaded.history.ops()).unwrap();
//! assert!(String::from_utf8(back).unwrap().contains(":type :fail, :process 0, :f :cas"));
//! ```

pub mod edn;
pub mod jepsen_edn;
pub mod jepsen_log;
pub mod jsonl;
pub mod porcupine;

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::history::{History, HistoryBuilder, HistoryError, Op};

/// Writes ops as Jepsen `history.edn` (one map per line), for Knossos, Elle or Jepsen's
/// own tools; the JSON Lines writer is [`jsonl::write`].
pub fn write_edn<'a, W: Write>(w: W, ops: impl IntoIterator<Item = &'a Op>) -> io::Result<()> {
    jepsen_edn::write(w, ops)
}

/// A history file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// faultline's JSON Lines: one op object per line.
    Jsonl,
    /// Jepsen `history.edn`: one map per line, or one vector of maps.
    Edn,
    /// Jepsen log lines (`INFO  jepsen.util - 3 :invoke :cas [1 4]`, tab-separated), as in the
    /// etcd corpus.
    JepsenLog,
    /// Porcupine's kv EDN: Jepsen maps with a separate `:key`; read as `[key value]` tuples.
    PorcupineKv,
}

impl Format {
    pub const ALL: [Format; 4] = [
        Format::Jsonl,
        Format::Edn,
        Format::JepsenLog,
        Format::PorcupineKv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::JepsenLog => "jepsen-log",
            Format::PorcupineKv => "porcupine-kv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format {s:?}; expected one of jsonl, edn, jepsen-log, porcupine-kv"
                )
            })
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line that is not what the format says it should be.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        /// The field at fault, when one is.
        field: Option<String>,
        message: String,
    },
    /// Lines that parse but do not form a history (an unmatched completion, ...).
    #[error("{}:{line}: {source}", path.display())]
    History {
        path: PathBuf,
        line: usize,
        #[source]
        source: HistoryError,
    },
    #[error("{}: cannot tell the history format ({why}); pass --format jsonl|edn|jepsen-log|porcupine-kv", path.display())]
    UnknownFormat { path: PathBuf, why: String },
}

impl ReadError {
    /// The line the error is on, if it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReadError::Parse { line, .. } | ReadError::History { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// A parse problem inside one line, before the reader attaches path and line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineError {
    pub field: Option<String>,
    pub message: String,
}

impl LineError {
    pub fn new(message: impl Into<String>) -> LineError {
        LineError {
            field: None,
            message: message.into(),
        }
    }
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> LineError {
        LineError {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

/// A history read from a file, with the format it was read as.
#[derive(Debug)]
pub struct Loaded {
    pub history: History,
    pub format: Format,
}

/// Guesses the format from the first non-blank bytes of a file.
pub fn detect(head: &str) -> Result<Format, String> {
    let mut lines = head
        .lines()
        .map(|l| l.trim().trim_start_matches('\u{feff}'))
        .filter(|l| !l.is_empty() && !l.starts_with(';'));
    let Some(first) = lines.next() else {
        return Ok(Format::Jsonl); // an empty file is an empty history in any format
    };
    if let Some(rest) = first.strip_prefix('{') {
        // JSON objects have "quoted" keys; EDN maps have :keywords.
        let after = rest.trim_start();
        if after.starts_with('"') || after.starts_with('}') {
            return Ok(Format::Jsonl);
        }
        if after.starts_with(':') {
            let edn_lines: Vec<&str> = std::iter::once(first).chain(lines.take(50)).collect();
            if edn_lines.iter().any(|l| l.contains(":key ")) {
                return Ok(Format::PorcupineKv);
            }
            return Ok(Format::Edn);
        }
        return Err(format!(
            "first line starts with '{{' but is neither JSON nor EDN: {}",
            snippet(first)
        ));
    }
    if first.starts_with('[') || first.starts_with('(') || first.starts_with("#jepsen") {
        return Ok(Format::Edn);
    }
    if jepsen_log::marker_end(head).is_some() {
        return Ok(Format::JepsenLog);
    }
    Err(format!("first line is {}", snippet(first)))
}

fn snippet(s: &str) -> String {
    let cut: String = s.chars().take(60).collect();
    if cut.len() < s.len() {
        format!("{cut:?}...")
    } else {
        format!("{cut:?}")
    }
}

/// Reads a history file, detecting its format unless one is given.
pub fn read_path(path: &Path, format: Option<Format>) -> Result<Loaded, ReadError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_str(path, &text, format)
}

/// Reads a history held in memory; `path` names it in errors.
pub fn read_str(path: &Path, text: &str, format: Option<Format>) -> Result<Loaded, ReadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        Some(f) => f,
        None => {
            let head: String = text.chars().take(16 * 1024).collect();
            detect(&head).map_err(|why| ReadError::UnknownFormat {
                path: path.to_path_buf(),
                why,
            })?
        }
    };
    let history = match format {
        Format::Jsonl => read_lines(path, text, jsonl::parse_line)?,
        Format::Edn => jepsen_edn::read(path, text)?,
        Format::JepsenLog => jepsen_log::read(path, text)?,
        Format::PorcupineKv => read_lines(path, text, porcupine::parse_line)?,
    };
    Ok(Loaded { history, format })
}

/// What one line of a line-oriented format holds.
pub enum Line {
    Op(Op),
    /// Blank, comment or log noise.
    Skip,
}

/// Drives a line parser over a whole text: attaches path and line numbers to errors, treats
/// a malformed last line as a truncated write (warns, keeps the rest), and validates pairing.
pub fn read_lines(
    path: &Path,
    text: &str,
    parse: impl Fn(&str) -> Result<Line, LineError>,
) -> Result<History, ReadError> {
    let mut b = HistoryBuilder::new();
    read_lines_into(path, text, &mut b, parse)?;
    Ok(b.finish())
}

/// [`read_lines`] into a builder the caller keeps, to add warnings of its own.
pub fn read_lines_into(
    path: &Path,
    text: &str,
    b: &mut HistoryBuilder,
    parse: impl Fn(&str) -> Result<Line, LineError>,
) -> Result<(), ReadError> {
    let lines: Vec<&str> = text.lines().collect();
    let last_content = lines.iter().rposition(|l| !l.trim().is_empty());
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        match parse(raw) {
            Ok(Line::Skip) => {}
            Ok(Line::Op(op)) => b.push(op).map_err(|source| ReadError::History {
                path: path.to_path_buf(),
                line,
                source,
            })?,
            Err(e) if Some(i) == last_content && !text.ends_with('\n') => {
                b.warn(format!(
                    "{}:{line}: the last line is incomplete ({}); it was dropped and the {} events before it kept (a recorder stopped mid-write?)",
                    path.display(),
                    e.message,
                    b.len()
                ));
            }
            Err(e) => return Err(parse_error(path, line, e)),
        }
    }
    Ok(())
}

/// A line's parse problem as a [`ReadError`], the field named in the message.
pub fn parse_error(path: &Path, line: usize, e: LineError) -> ReadError {
    let message = match &e.field {
        Some(f) if !e.message.contains(&format!("`{f}`")) => {
            format!("field `{f}`: {}", e.message)
        }
        _ => e.message,
    };
    ReadError::Parse {
        path: path.to_path_buf(),
        line,
        field: e.field,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_its_first_line() {
        assert_eq!(
            detect("{\"index\":0,\"type\":\"invoke\"}\n"),
            Ok(Format::Jsonl)
        );
        assert_eq!(detect("{:type :invoke, :f :read}\n"), Ok(Format::Edn));
        assert_eq!(detect("[{:type :invoke}]"), Ok(Format::Edn));
        assert_eq!(
            detect("{:process 0, :type :invoke, :f :get, :key \"4\", :value nil}\n"),
            Ok(Format::PorcupineKv)
        );
        assert_eq!(
            detect("2014-01-01 noise\nINFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]\n"),
            Ok(Format::JepsenLog)
        );
        assert!(detect("hello world").is_err());
    }

    #[test]
    fn detects_other_jepsen_shapes() {
        assert_eq!(detect("; comment\n\n{:type :invoke}\n"), Ok(Format::Edn));
        assert_eq!(detect("({:type :invoke})"), Ok(Format::Edn));
        assert_eq!(
            detect("#jepsen.history.Op{:index 0, :type :invoke}\n"),
            Ok(Format::Edn)
        );
        assert_eq!(
            detect("2017-04-19 22:04:28,556{GMT}\tINFO\t[jepsen worker 2] jepsen.util: 2\t:ok\t:read\t3\n"),
            Ok(Format::JepsenLog)
        );
        assert_eq!(detect("\u{feff}{\"type\":\"ok\"}"), Ok(Format::Jsonl));
    }

    #[test]
    fn losses_documented_in_history_format_md() {
        use crate::value::Value;
        // JSON has no NaN: written as null. Non-string map keys become their text.
        let v = Value::List(vec![
            Value::Float(f64::NAN),
            Value::Map(vec![(Value::Int(1), Value::Int(2))]),
        ]);
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"[null,{"1":2}]"#);
        // EDN keeps both.
        assert_eq!(edn::to_string(&v), "[##NaN {1 2}]");
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let text = "\u{feff}{:type :invoke, :f :read, :value nil, :process 0}\n";
        let loaded = read_str(Path::new("h.edn"), text, None).unwrap();
        assert_eq!((loaded.format, loaded.history.len()), (Format::Edn, 1));
    }

    #[test]
    fn every_format_reads_an_empty_file_as_an_empty_history() {
        for f in Format::ALL {
            for text in ["", "\n\n", "  \n"] {
                let loaded = read_str(Path::new("empty"), text, Some(f)).unwrap();
                assert!(loaded.history.is_empty(), "{f}");
            }
        }
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
        }
    }
}
