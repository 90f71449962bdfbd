//! Jepsen's `history.edn`, in and out (docs/history-format.md).
//!
//! In: either one op map per line (what `jepsen.store` writes: `prn` of each op, plain maps
//! in Jepsen 0.2, `#jepsen.history.Op{...}` records in 0.3), or one top-level vector (or
//! list) of op maps, possibly pretty-printed across many lines (older Jepsen and Knossos
//! test data). Errors in the vector form name the line where the offending map starts.
//!
//! An op map becomes an [`Op`]: `:type`, `:f`, `:process` (an integer or `:nemesis`),
//! `:value`, `:time`, `:index`, `:node` and `:error` fill the fields of the same name; every
//! other key is kept in [`Op::extra`] so an import writes back whole. Values keep their
//! shape: independent-key `[k v]` tuples stay two-element lists.
//!
//! Out: one map per line, with keywords restored where Jepsen has them: `:type`, `:f`,
//! `:process :nemesis`, the function of each micro-op of a `txn` (`[:append 1 2]`), an
//! `:error` that is an identifier-like string or a vector headed by one
//! (`[:timeout "no reply"]`), and the op's own keys.

use std::cell::Cell;
use std::io::{self, Write};
use std::path::Path;

use super::edn::{self, Parser};
use super::{parse_error, read_lines_into, Line, LineError, ReadError};
use crate::history::{History, HistoryBuilder, Op, OpType, Process};
use crate::value::Value;

/// Reads a whole `history.edn`, in either of its shapes.
pub fn read(path: &Path, text: &str) -> Result<History, ReadError> {
    let mut b = HistoryBuilder::new();
    let mut probe = Parser::new(text);
    let vector = probe.skip_ws().is_ok() && matches!(probe.peek(), Some(b'[' | b'('));
    if vector {
        read_vector(path, text, &mut b)?;
    } else {
        // Ops without an :index get their position, so only real gaps count as renumbering.
        let next = Cell::new(0u64);
        read_lines_into(path, text, &mut b, |line| {
            Ok(match parse_op_line(line)? {
                None => Line::Skip,
                Some((mut op, has_index)) => {
                    if !has_index {
                        op.index = next.get();
                    }
                    next.set(next.get() + 1);
                    Line::Op(op)
                }
            })
        })?;
    }
    if !b.indices_were_dense() {
        b.warn(format!(
            "{}: the ops' :index values are not 0, 1, 2, ... in file order; they were \
             renumbered by position, and messages cite the new numbers",
            path.display()
        ));
    }
    Ok(b.finish())
}

/// Parses one line of the one-map-per-line form; blank and comment lines are skipped.
pub fn parse_line(line: &str) -> Result<Line, LineError> {
    Ok(match parse_op_line(line)? {
        Some((op, _)) => Line::Op(op),
        None => Line::Skip,
    })
}

fn parse_op_line(line: &str) -> Result<Option<(Op, bool)>, LineError> {
    match read_line_value(line)? {
        Some(v) => op_from_map(v).map(Some),
        None => Ok(None),
    }
}

/// The one EDN value on a line, or `None` for a blank or comment-only line.
pub(crate) fn read_line_value(line: &str) -> Result<Option<Value>, LineError> {
    let mut p = Parser::for_line(line, 0);
    let v = match p.read() {
        Ok(None) => return Ok(None),
        Ok(Some(v)) => v,
        Err(e) if e.at_end => {
            return Err(LineError::new(format!(
                "column {}: {} (history.edn holds one whole op per line, or one vector of ops)",
                e.column, e.message
            )))
        }
        Err(e) => {
            return Err(LineError::new(format!(
                "column {}: {}",
                e.column, e.message
            )))
        }
    };
    let after = p.skip_ws().map(|()| p.at_end());
    if after != Ok(true) {
        let (_, column) = p.line_col(p.pos());
        return Err(LineError::new(format!(
            "column {column}: more than one value on a line; expected one op map per line"
        )));
    }
    Ok(Some(v))
}

/// The vector form: `[{...} {...} ...]`, each element an op.
fn read_vector(path: &Path, text: &str, b: &mut HistoryBuilder) -> Result<(), ReadError> {
    let syntax = |line: usize, message: String| ReadError::Parse {
        path: path.to_path_buf(),
        line,
        field: None,
        message,
    };
    let mut p = Parser::new(text);
    p.skip_ws().map_err(|e| syntax(e.line, e.message))?;
    let open = p.pos();
    let close = if p.peek() == Some(b'[') { b']' } else { b')' };
    p.bump();
    let truncated = |b: &mut HistoryBuilder, line: usize, why: &str| {
        b.warn(format!(
            "{}:{line}: {why}; the {} events before it were kept (a recorder stopped mid-write?)",
            path.display(),
            b.len()
        ));
    };
    loop {
        if let Err(e) = p.skip_ws() {
            if e.at_end {
                truncated(b, e.line, "the history ends inside a discarded form");
                return Ok(());
            }
            return Err(syntax(e.line, e.to_string()));
        }
        let start = p.pos();
        let line = p.line_at(start);
        match p.peek() {
            None => {
                let why = format!("the vector opened at line {} never closes", p.line_at(open));
                truncated(b, line, &why);
                return Ok(());
            }
            Some(c) if c == close => {
                p.bump();
                break;
            }
            Some(c @ (b')' | b']' | b'}')) => {
                return Err(syntax(
                    line,
                    format!(
                        "expected '{}' to close the history opened at line {}, found '{}'",
                        close as char,
                        p.line_at(open),
                        c as char
                    ),
                ))
            }
            Some(_) => {}
        }
        match p.read_value() {
            Ok(v) => {
                let (mut op, has_index) = op_from_map(v).map_err(|e| parse_error(path, line, e))?;
                if !has_index {
                    op.index = b.len() as u64;
                }
                b.push(op).map_err(|source| ReadError::History {
                    path: path.to_path_buf(),
                    line,
                    source,
                })?;
            }
            Err(e) if e.at_end => {
                let why =
                    format!("the history ends inside the op starting here ({e}); it was dropped");
                truncated(b, line, &why);
                return Ok(());
            }
            Err(e) => {
                return Err(syntax(
                    line,
                    format!("in the op starting on this line: {e}"),
                ))
            }
        }
    }
    match p.read() {
        Ok(None) => Ok(()),
        Ok(Some(_)) | Err(_) => {
            let line = p.line_at(p.pos());
            Err(syntax(
                line,
                "expected nothing after the history vector closed".to_string(),
            ))
        }
    }
}

/// An op map (with keyword or string keys) as an [`Op`], and whether it had an `:index`.
pub(crate) fn op_from_map(v: Value) -> Result<(Op, bool), LineError> {
    let Value::Map(pairs) = v else {
        return Err(LineError::new(format!(
            "expected an op map such as {{:type :invoke, :f :read, :process 0, :value nil}}, found {}",
            show(&v)
        )));
    };
    let mut op = Op::invoke(0, "", Value::Nil);
    let (mut kind, mut process, mut f, mut has_index) = (None, None, None, false);
    let mut seen: Vec<String> = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        let Value::Str(key) = k else {
            return Err(LineError::new(format!(
                "op keys must be keywords such as :type, found {}",
                show(&k)
            )));
        };
        if seen.contains(&key) {
            return Err(LineError::field(key, "appears twice in one op"));
        }
        match key.as_str() {
            "type" => {
                kind = Some(match v.as_str().and_then(OpType::parse) {
                    Some(t) => t,
                    None => {
                        return Err(LineError::field(
                            "type",
                            format!("expected :invoke, :ok, :fail or :info, found {}", show(&v)),
                        ))
                    }
                })
            }
            "f" => match v {
                Value::Str(s) => f = Some(s),
                other => {
                    return Err(LineError::field(
                        "f",
                        format!("expected a keyword such as :read, found {}", show(&other)),
                    ))
                }
            },
            "process" => {
                process = Some(match &v {
                    Value::Int(p) if *p >= 0 => Process::Client(*p as u64),
                    Value::Str(s) if s == "nemesis" => Process::Nemesis,
                    other => {
                        return Err(LineError::field(
                            "process",
                            format!(
                                "expected a non-negative integer or :nemesis, found {}",
                                show(other)
                            ),
                        ))
                    }
                })
            }
            "value" => op.value = v,
            "time" => op.time = non_negative("time", &v)?,
            "index" => {
                op.index = non_negative("index", &v)?;
                has_index = true;
            }
            "node" => {
                op.node = match v {
                    Value::Nil => None,
                    Value::Str(s) => Some(s),
                    other => {
                        return Err(LineError::field(
                            "node",
                            format!("expected a string such as \"n1\", found {}", show(&other)),
                        ))
                    }
                }
            }
            "error" => op.error = (!v.is_nil()).then_some(v),
            _ => op.extra.insert(key.clone(), v),
        }
        seen.push(key);
    }
    let missing = |name: &str| {
        LineError::field(
            name,
            format!("missing; every op needs :type, :f and :process (this one lacks :{name})"),
        )
    };
    op.kind = kind.ok_or_else(|| missing("type"))?;
    op.f = f.ok_or_else(|| missing("f"))?;
    op.process = process.ok_or_else(|| missing("process"))?;
    Ok((op, has_index))
}

fn non_negative(field: &str, v: &Value) -> Result<u64, LineError> {
    match v {
        Value::Int(n) if *n >= 0 => Ok(*n as u64),
        other => Err(LineError::field(
            field,
            format!("expected a non-negative integer, found {}", show(other)),
        )),
    }
}

/// A value for a message, cut short when long.
fn show(v: &Value) -> String {
    let text = format!("{} {}", v.type_name(), edn::to_string(v));
    let mut cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        cut.push_str("...");
    }
    cut
}

/// Writes ops as Jepsen `history.edn`, one map per line.
pub fn write<'a, W: Write>(mut w: W, ops: impl IntoIterator<Item = &'a Op>) -> io::Result<()> {
    let mut line = String::new();
    for op in ops {
        line.clear();
        write_op(&mut line, op);
        line.push('\n');
        w.write_all(line.as_bytes())?;
    }
    w.flush()
}

/// Appends one op as an EDN map, in Jepsen's key order.
pub fn write_op(out: &mut String, op: &Op) {
    use std::fmt::Write as _;
    let _ = write!(out, "{{:index {}, :time {}, :type ", op.index, op.time);
    edn::write_keyword(out, op.kind.as_str());
    out.push_str(", :process ");
    match op.process {
        Process::Client(p) => {
            let _ = write!(out, "{p}");
        }
        Process::Nemesis => out.push_str(":nemesis"),
    }
    out.push_str(", :f ");
    edn::write_keyword(out, &op.f);
    out.push_str(", :value ");
    if op.f == "txn" {
        write_txn(out, &op.value);
    } else {
        edn::write_value(out, &op.value);
    }
    if let Some(node) = &op.node {
        out.push_str(", :node ");
        edn::write_string(out, node);
    }
    if let Some(error) = &op.error {
        out.push_str(", :error ");
        match error {
            Value::Str(s) => edn::write_keyword(out, s),
            Value::List(items) => write_keyword_headed(out, items),
            other => edn::write_value(out, other),
        }
    }
    for (k, v) in op.extra.iter() {
        out.push_str(", ");
        edn::write_keyword(out, k);
        out.push(' ');
        edn::write_value(out, v);
    }
    out.push('}');
}

/// A transaction in Elle's micro-op form, each micro-op's function as a keyword.
fn write_txn(out: &mut String, value: &Value) {
    let Value::List(mops) = value else {
        return edn::write_value(out, value);
    };
    out.push('[');
    for (i, mop) in mops.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match mop {
            Value::List(items) => write_keyword_headed(out, items),
            other => edn::write_value(out, other),
        }
    }
    out.push(']');
}

/// A vector whose first element, a string, is written as a keyword when it can be: a
/// micro-op `[:append 1 2]`, or an error such as `[:timeout "no reply"]`.
fn write_keyword_headed(out: &mut String, items: &[Value]) {
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        match (i, x) {
            (0, Value::Str(head)) => edn::write_keyword(out, head),
            _ => {
                if i > 0 {
                    out.push(' ');
                }
                edn::write_value(out, x);
            }
        }
    }
    out.push(']');
}

#[cfg(test)]
#[path = "jepsen_edn_tests.rs"]
mod tests;
