//! [`Value`] written as EDN.

use std::fmt::Write as _;

use crate::value::Value;

/// A value as EDN text: strings stay strings (the keywords they may have been are not
/// guessed), lists are written as vectors.
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

/// Appends a value as EDN.
pub fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Nil => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(x) => write_float(out, *x),
        Value::Str(s) => write_string(out, s),
        Value::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, x);
            }
            out.push(']');
        }
        Value::Map(pairs) => {
            out.push('{');
            for (i, (k, x)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, k);
                out.push(' ');
                write_value(out, x);
            }
            out.push('}');
        }
    }
}

fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("##NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "##Inf" } else { "##-Inf" });
    } else {
        // Debug always keeps a '.' or an exponent, so the text reads back as a float.
        let _ = write!(out, "{x:?}");
    }
}

/// Appends a string literal with EDN escapes.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `name` as a keyword when it is a valid keyword name, else as a string (which our
/// readers accept wherever they accept a keyword).
pub fn write_keyword(out: &mut String, name: &str) {
    if is_keyword_name(name) {
        out.push(':');
        out.push_str(name);
    } else {
        write_string(out, name);
    }
}

/// Whether `s` can be written as `:s` and read back as the same name: ASCII symbol
/// characters, not starting with a digit, at most one `/` between a namespace and a name.
pub fn is_keyword_name(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "*+!-_?<>=$%&.'#".contains(c);
    let ok_start = |c: char| c.is_ascii_alphabetic() || "*+!-_?<>=$%&.".contains(c);
    let part = |p: &str| p.chars().next().is_some_and(ok_start) && p.chars().all(ok_char);
    match s.split_once('/') {
        None => part(s),
        Some((ns, name)) => part(ns) && part(name),
    }
}
