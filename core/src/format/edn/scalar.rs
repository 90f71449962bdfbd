//! EDN scalars: numbers, strings, characters and regex literals.

use super::{char_at, EdnError, Parser};
use crate::value::Value;

impl Parser<'_> {
    pub(super) fn number(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        let tok = self.token();
        parse_number(tok).map_err(|m| self.error(start, m))
    }

    /// A string whose opening quote (at `start`) is consumed.
    pub(super) fn string(&mut self, start: usize) -> Result<String, EdnError> {
        let mut out = String::new();
        loop {
            let seg = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.slice(seg, self.pos));
            match self.peek() {
                None => {
                    return Err(self.error_at_end(format!(
                        "the string opened at {} is never closed",
                        self.describe_pos(start)
                    )))
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(_) => {
                    let esc = self.pos;
                    self.pos += 1;
                    let Some(c) = self.peek() else {
                        return Err(self.error_at_end("the input ends inside a string escape"));
                    };
                    self.pos += 1;
                    match c {
                        b'n' => out.push('\n'),
                        b't' => out.push('\t'),
                        b'r' => out.push('\r'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'u' => out.push(self.unicode_escape(esc)?),
                        b'0'..=b'7' => {
                            self.pos -= 1;
                            out.push(self.octal_escape(esc)?);
                        }
                        _ => {
                            let shown = char_at(self.slice(esc + 1, self.bytes.len()), c);
                            return Err(self.error(
                                esc,
                                format!("unknown escape '\\{shown}' in a string; expected \\n \\t \\r \\b \\f \\\" \\\\ or \\uXXXX"),
                            ));
                        }
                    }
                }
            }
        }
    }

    /// `XXXX` after `\u` (the cursor is on the first hex digit). A UTF-16 surrogate pair
    /// written as two escapes becomes one character; a lone surrogate becomes U+FFFD.
    fn unicode_escape(&mut self, esc: usize) -> Result<char, EdnError> {
        let hi = self.hex4(esc)?;
        if (0xD800..0xDC00).contains(&hi) {
            if self.peek() == Some(b'\\') && self.peek_at(1) == Some(b'u') {
                let save = self.pos;
                self.pos += 2;
                let lo = self.hex4(save)?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
                }
                self.pos = save;
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self, esc: usize) -> Result<u32, EdnError> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let parsed = digits
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match parsed {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None if self.bytes.len() < self.pos + 4
                && self.bytes[self.pos..].iter().all(u8::is_ascii_hexdigit) =>
            {
                Err(self.error_at_end("the input ends inside a \\u escape"))
            }
            None => Err(self.error(esc, "'\\u' must be followed by four hex digits")),
        }
    }

    /// Up to three octal digits (`\0`..`\377`), Clojure's other string escape.
    fn octal_escape(&mut self, esc: usize) -> Result<char, EdnError> {
        let mut v = 0u32;
        let mut n = 0;
        while n < 3 {
            match self.peek() {
                Some(d @ b'0'..=b'7') => {
                    v = v * 8 + u32::from(d - b'0');
                    self.pos += 1;
                    n += 1;
                }
                _ => break,
            }
        }
        if v > 0o377 {
            return Err(self.error(esc, "octal escape above \\377"));
        }
        Ok(char::from_u32(v).unwrap_or('\u{fffd}'))
    }

    /// `#"..."`: a regex literal, kept as its source text (backslashes are not escapes).
    pub(super) fn regex(&mut self, start: usize) -> Result<String, EdnError> {
        let from = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(self.error_at_end(format!(
                        "the regex opened at {} is never closed",
                        self.describe_pos(start)
                    )))
                }
                Some(b'\\') => self.pos = (self.pos + 2).min(self.bytes.len()),
                Some(b'"') => {
                    let s = self.slice(from, self.pos).to_string();
                    self.pos += 1;
                    return Ok(s);
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// `\a`, `\newline`, `\u00e9`, ...: read as a one-character string.
    pub(super) fn character(&mut self) -> Result<Value, EdnError> {
        let start = self.pos;
        self.pos += 1;
        let Some(c) = self.rest().chars().next() else {
            return Err(self.error_at_end("expected a character after '\\'"));
        };
        if !c.is_ascii_alphanumeric() {
            self.pos += c.len_utf8();
            return Ok(Value::Str(c.to_string()));
        }
        let name = self.token();
        let c = match name {
            _ if name.chars().count() == 1 => c,
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "formfeed" => '\u{c}',
            "backspace" => '\u{8}',
            _ => {
                let code = if let Some(hex) = name.strip_prefix('u').filter(|h| h.len() == 4) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(oct) = name
                    .strip_prefix('o')
                    .filter(|o| (1..=3).contains(&o.len()))
                {
                    u32::from_str_radix(oct, 8).ok().filter(|&v| v <= 0o377)
                } else {
                    None
                };
                match code.and_then(char::from_u32) {
                    Some(c) => c,
                    None => {
                        return Err(
                            self.error(start, format!("unknown character literal '\\{name}'"))
                        )
                    }
                }
            }
        };
        Ok(Value::Str(c.to_string()))
    }
}

/// A numeric token: integers (`N` allowed; `0x` hex, which Clojure prints inside
/// `#object[...]`), floats (`M` allowed), ratios.
fn parse_number(tok: &str) -> Result<Value, String> {
    let malformed = || format!("malformed number '{tok}'");
    let (neg, body) = match tok.as_bytes().first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if let Some(digits) = body.strip_suffix('N') {
        return parse_int(neg, digits, 10, tok);
    }
    if let Some(dec) = tok.strip_suffix('M') {
        return parse_float(dec).ok_or_else(malformed);
    }
    if let Some((n, d)) = body.split_once('/') {
        let n = parse_int(neg, n, 10, tok)?.as_int().ok_or_else(malformed)?;
        let d = parse_int(false, d, 10, tok)?
            .as_int()
            .ok_or_else(malformed)?;
        if d == 0 {
            return Err(format!("ratio '{tok}' divides by zero"));
        }
        if n % d == 0 {
            return Ok(Value::Int(n / d));
        }
        return Ok(Value::Float(n as f64 / d as f64));
    }
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        return parse_int(neg, hex, 16, tok);
    }
    if body.contains(['.', 'e', 'E']) {
        return parse_float(tok).ok_or_else(malformed);
    }
    parse_int(neg, body, 10, tok)
}

fn parse_int(neg: bool, digits: &str, radix: u32, tok: &str) -> Result<Value, String> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(format!("malformed number '{tok}'"));
    }
    let out_of_range = || {
        format!("integer {tok} is outside the 64-bit range (-2^63 .. 2^63-1) that histories use")
    };
    let magnitude = u128::from_str_radix(digits, radix).map_err(|_| out_of_range())?;
    let v = if neg {
        -i128::try_from(magnitude).map_err(|_| out_of_range())?
    } else {
        i128::try_from(magnitude).map_err(|_| out_of_range())?
    };
    i64::try_from(v).map(Value::Int).map_err(|_| out_of_range())
}

fn parse_float(s: &str) -> Option<Value> {
    // Rust also accepts "inf" and "nan"; EDN spells those ##Inf and ##NaN.
    let body = s.trim_start_matches(['+', '-']);
    if !body.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok().map(Value::Float)
}
