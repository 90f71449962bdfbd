//! EDN, the Extensible Data Notation (<https://github.com/edn-format/edn>), for the subset
//! Jepsen and Clojure's printer emit: read into [`Value`], and [`Value`] written back.
//!
//! [`Value`] is JSON-shaped, so reading folds some EDN types together (docs/history-format.md
//! says what that loses):
//! - keywords and symbols become strings without the colon; a namespace stays
//!   (`:jepsen.history/foo` -> `"jepsen.history/foo"`); characters become one-char strings;
//! - vectors, lists and sets (`#{}`) become lists;
//! - a tagged literal reads as its value and the tag is dropped: `#inst "2020-01-01"` is the
//!   string, `#jepsen.history.Op{...}` the map, `#object[...]` the vector;
//! - `1N` is an integer, `1.5M` a float, a ratio `1/3` a float (an integer when exact);
//!   an integer outside the 64-bit range is an error rather than a silent rounding.
//!
//! The reader is hand-written recursive descent over bytes. It never panics on any input:
//! nesting is capped at [`MAX_DEPTH`], and every error carries a line and column, and says
//! whether the input simply ended early (a truncated file) or is malformed.

mod scalar;
mod write;

use std::cell::Cell;

use crate::value::Value;

pub use write::{is_keyword_name, to_string, write_keyword, write_string, write_value};

/// How deeply collections, tags and discards may nest: deep enough for any real history,
/// shallow enough that hostile input cannot overflow the stack.
pub const MAX_DEPTH: usize = 512;

/// A syntax error at a line and column (both from 1; columns count characters).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct EdnError {
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The input ended inside a form: what a file cut off mid-write looks like.
    pub at_end: bool,
}

/// Reads exactly one EDN value (surrounding whitespace and comments allowed).
pub fn parse(text: &str) -> Result<Value, EdnError> {
    let mut p = Parser::new(text);
    let Some(v) = p.read()? else {
        return Err(p.error_at_end("expected an EDN value, found nothing"));
    };
    p.skip_ws()?;
    if !p.at_end() {
        return Err(p.error(p.pos(), "expected the end of input after one value"));
    }
    Ok(v)
}

/// A cursor over EDN text that reads one value at a time, so callers can stream the
/// elements of a top-level vector and know the line each starts on.
pub struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    /// (byte position, line at that position): line numbers are counted incrementally from
    /// here, so asking for the line of each element of a large file stays linear.
    mark: Cell<(usize, usize)>,
    /// Set for text cut from one line of a file: positions are given as columns only,
    /// counted from `column_offset` characters in.
    single_line: bool,
    column_offset: usize,
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str) -> Parser<'a> {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
            mark: Cell::new((0, 1)),
            single_line: false,
            column_offset: 0,
        }
    }

    /// A parser for text that is one line of a file, from `column_offset` characters in:
    /// errors give columns of the whole line and never a line number.
    pub fn for_line(src: &'a str, column_offset: usize) -> Parser<'a> {
        Parser {
            single_line: true,
            column_offset,
            ..Parser::new(src)
        }
    }

    /// The byte offset of the cursor.
    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next byte, without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    /// Consumes one byte (callers use it for ASCII delimiters they have peeked).
    pub fn bump(&mut self) {
        if self.pos < self.bytes.len() {
            self.pos += 1;
        }
    }

    /// The unread text.
    pub fn rest(&self) -> &'a str {
        self.slice(self.pos, self.bytes.len())
    }

    // Every cut we make is next to an ASCII byte, so it falls on a char boundary; `get`
    // keeps that an invariant rather than a panic.
    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    /// The line (from 1) of a byte offset.
    pub fn line_at(&self, pos: usize) -> usize {
        let pos = pos.min(self.bytes.len());
        let (mut from, mut line) = self.mark.get();
        if pos < from {
            (from, line) = (0, 1);
        }
        line += self.bytes[from..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.mark.set((pos, line));
        line
    }

    /// The line and column (both from 1, columns in characters) of a byte offset.
    pub fn line_col(&self, pos: usize) -> (usize, usize) {
        let pos = pos.min(self.bytes.len());
        let line = self.line_at(pos);
        let start = self.bytes[..pos]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = match self.src.get(start..pos) {
            Some(s) => s.chars().count(),
            None => pos - start,
        };
        let offset = if line == 1 { self.column_offset } else { 0 };
        (line, column + 1 + offset)
    }

    pub fn error(&self, pos: usize, message: impl Into<String>) -> EdnError {
        let (line, column) = self.line_col(pos);
        EdnError {
            line,
            column,
            message: message.into(),
            at_end: false,
        }
    }

    pub fn error_at_end(&self, message: impl Into<String>) -> EdnError {
        EdnError {
            at_end: true,
            ..self.error(self.bytes.len(), message)
        }
    }

    fn opener(&self, start: usize) -> &'static str {
        match self.bytes.get(start) {
            Some(b'[') => "[",
            Some(b'(') => "(",
            Some(b'#') => "#{",
            _ => "{",
        }
    }

    fn describe_pos(&self, pos: usize) -> String {
        let (line, column) = self.line_col(pos);
        if self.single_line {
            format!("column {column}")
        } else {
            format!("line {line}, column {column}")
        }
    }

    /// Skips whitespace (commas included), `;` comments, `#!` comments and `#_` discarded
    /// forms.
    pub fn skip_ws(&mut self) -> Result<(), EdnError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | 0x0b | 0x0c) => self.pos += 1,
                Some(0xEF) if self.bytes[self.pos..].starts_with("\u{feff}".as_bytes()) => {
                    self.pos += 3; // a byte-order mark
                }
                Some(b';') => self.skip_line(),
                Some(b'#') if self.peek_at(1) == Some(b'!') => self.skip_line(),
                Some(b'#') if self.peek_at(1) == Some(b'_') => {
                    let start = self.pos;
                    self.pos += 2;
                    self.nested(start, |p| {
                        p.skip_ws()?;
                        if p.at_end() {
                            return Err(p.error_at_end("'#_' has no form after it to discard"));
                        }
                        p.value().map(drop)
                    })?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn skip_line(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' {
                break;
            }
            self.pos += 1;
        }
    }

    /// Reads the next value, or `None` when only whitespace and comments are left.
    pub fn read(&mut self) -> Result<Option<Value>, EdnError> {
        self.skip_ws()?;
        if self.at_end() {
            return Ok(None);
        }
        self.value().map(Some)
    }

    /// Reads the next value; the end of input is an error.
    pub fn read_value(&mut self) -> Result<Value, EdnError> {
        self.skip_ws()?;
        self.value()
    }

    /// Runs `f` one nesting level deeper, refusing to go past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        start: usize,
        f: impl FnOnce(&mut Self) -> Result<T, EdnError>,
    ) -> Result<T, EdnError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.error(
                start,
                format!("nesting deeper than {MAX_DEPTH} levels; refusing to read further"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Reads the value at the cursor (whitespace already skipped).
    fn value(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        let Some(b) = self.peek() else {
            return Err(self.error_at_end("expected a value, found the end of input"));
        };
        match b {
            b'"' => {
                self.pos += 1;
                self.string(start).map(Value::Str)
            }
            b'\\' => self.character(),
            b':' => self.keyword(),
            b'[' | b'(' => {
                self.pos += 1;
                let close = if b == b'[' { b']' } else { b')' };
                self.nested(start, |p| p.seq(start, close)).map(Value::List)
            }
            b'{' => {
                self.pos += 1;
                self.nested(start, |p| p.map(start, None))
            }
            b'#' => self.dispatch(start),
            b')' | b']' | b'}' => Err(self.error(
                start,
                format!("unexpected '{}' with nothing open to close", b as char),
            )),
            b'0'..=b'9' => self.number(),
            b'+' | b'-' if matches!(self.peek_at(1), Some(b'0'..=b'9')) => self.number(),
            _ => self.symbol(),
        }
    }

    /// Elements up to `close`; the opening delimiter at `start` is already consumed.
    fn seq(&mut self, start: usize, close: u8) -> Result<Vec<Value>, EdnError> {
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return Err(self.error_at_end(format!(
                        "the input ends inside the '{}' opened at {}",
                        self.opener(start),
                        self.describe_pos(start)
                    )))
                }
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(items);
                }
                Some(c @ (b')' | b']' | b'}')) => {
                    return Err(self.error(
                        self.pos,
                        format!(
                            "expected '{}' to close the '{}' opened at {}, found '{}'",
                            close as char,
                            self.opener(start),
                            self.describe_pos(start),
                            c as char
                        ),
                    ))
                }
                Some(_) => items.push(self.value()?),
            }
        }
    }

    /// A map whose `{` is consumed. With `ns` (a `#:ns{}` map) keyword keys without a
    /// namespace take that one.
    fn map(&mut self, start: usize, ns: Option<&str>) -> Result<Value, EdnError> {
        let mut pairs = Vec::new();
        let mut key: Option<Value> = None;
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return Err(self.error_at_end(format!(
                        "the input ends inside the map opened at {}",
                        self.describe_pos(start)
                    )))
                }
                Some(b'}') => {
                    if key.is_some() {
                        return Err(self.error(
                            self.pos,
                            format!(
                                "the map opened at {} has a key with no value",
                                self.describe_pos(start)
                            ),
                        ));
                    }
                    self.pos += 1;
                    return Ok(Value::Map(pairs));
                }
                Some(c @ (b')' | b']')) => {
                    return Err(self.error(
                        self.pos,
                        format!(
                            "expected '}}' to close the map opened at {}, found '{}'",
                            self.describe_pos(start),
                            c as char
                        ),
                    ))
                }
                Some(c) => match key.take() {
                    None => {
                        let is_keyword = c == b':';
                        let mut k = self.value()?;
                        if let (Some(ns), true, Value::Str(name)) = (ns, is_keyword, &mut k) {
                            if let Some(bare) = name.strip_prefix("_/") {
                                *name = bare.to_string();
                            } else if !name.contains('/') {
                                *name = format!("{ns}/{name}");
                            }
                        }
                        key = Some(k);
                    }
                    Some(k) => pairs.push((k, self.value()?)),
                },
            }
        }
    }

    /// `#` forms: sets, tagged literals, `##Inf`, `#:ns{}` maps, `#"regex"`.
    fn dispatch(&mut self, start: usize) -> Result<Value, EdnError> {
        match self.peek_at(1) {
            Some(b'{') => {
                self.pos += 2;
                self.nested(start, |p| p.seq(start, b'}')).map(Value::List)
            }
            Some(b'_') => {
                self.skip_ws()?;
                self.value()
            }
            Some(b'#') => {
                self.pos += 2;
                match self.token() {
                    "Inf" => Ok(Value::Float(f64::INFINITY)),
                    "-Inf" => Ok(Value::Float(f64::NEG_INFINITY)),
                    "NaN" => Ok(Value::Float(f64::NAN)),
                    other => Err(self.error(
                        start,
                        format!(
                            "unknown symbolic value '##{other}'; expected ##Inf, ##-Inf or ##NaN"
                        ),
                    )),
                }
            }
            Some(b':') => {
                self.pos += 2;
                let ns = self.token();
                if ns.is_empty() {
                    return Err(self.error(start, "'#:' must be followed by a namespace"));
                }
                self.skip_ws()?;
                match self.peek() {
                    Some(b'{') => {
                        let open = self.pos;
                        self.pos += 1;
                        self.nested(start, |p| p.map(open, Some(ns)))
                    }
                    None => Err(self.error_at_end(format!("expected '{{' after '#:{ns}'"))),
                    Some(_) => Err(self.error(self.pos, format!("expected '{{' after '#:{ns}'"))),
                }
            }
            Some(b'"') => {
                self.pos += 2;
                self.regex(start).map(Value::Str)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                self.pos += 1;
                let tag = self.token();
                self.nested(start, |p| {
                    p.skip_ws()?;
                    if p.at_end() {
                        return Err(p.error_at_end(format!("the tag #{tag} has no value after it")));
                    }
                    p.value()
                })
            }
            None => Err(self.error_at_end("expected a form after '#'")),
            Some(c) => Err(self.error(
                start,
                format!(
                    "unsupported '#{}': EDN has #{{}} sets, #_ discards and #tag values",
                    char_at(self.rest().get(1..).unwrap_or(""), c)
                ),
            )),
        }
    }

    /// The run of non-delimiter bytes at the cursor (possibly empty).
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    fn keyword(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        self.pos += 1;
        let name = self.token();
        if name.is_empty() {
            return Err(self.error(start, "a keyword needs a name after ':'"));
        }
        if name.starts_with(':') {
            return Err(self.error(
                start,
                format!("auto-resolved keyword ':{name}' is Clojure source, not EDN data"),
            ));
        }
        Ok(Value::Str(name.to_string()))
    }

    fn symbol(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        let tok = self.token();
        let first = tok.chars().next();
        match first {
            Some(c) if is_symbol_start(c) => {}
            _ => {
                let c = self
                    .slice(start, self.bytes.len())
                    .chars()
                    .next()
                    .unwrap_or('?');
                return Err(self.error(start, format!("unexpected character {c:?}")));
            }
        }
        Ok(match tok {
            "nil" => Value::Nil,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Str(tok.to_string()),
        })
    }
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | 0x0b
            | 0x0c
            | b','
            | b'('
            | b')'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'"'
            | b';'
            | b'\\'
    )
}

fn is_symbol_start(c: char) -> bool {
    c.is_alphabetic() || !c.is_ascii() || "*+!-_?$%&=<>./".contains(c)
}

/// The character starting `rest` for a message, or the byte when `rest` is unusable.
fn char_at(rest: &str, byte: u8) -> char {
    rest.chars().next().unwrap_or(byte as char)
}

#[cfg(test)]
mod tests;
