use super::*;

fn s(x: &str) -> Value {
    Value::Str(x.into())
}
fn i(x: i64) -> Value {
    Value::Int(x)
}
fn list(v: Vec<Value>) -> Value {
    Value::List(v)
}
fn ok(text: &str) -> Value {
    parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}
fn err(text: &str) -> EdnError {
    match parse(text) {
        Ok(v) => panic!("{text:?} parsed as {v}"),
        Err(e) => e,
    }
}

#[test]
fn scalars() {
    assert_eq!(ok("nil"), Value::Nil);
    assert_eq!(ok("true"), Value::Bool(true));
    assert_eq!(ok("false"), Value::Bool(false));
    assert_eq!(ok("42"), i(42));
    assert_eq!(ok("-7"), i(-7));
    assert_eq!(ok("+7"), i(7));
    assert_eq!(ok("42N"), i(42));
    assert_eq!(ok("-9223372036854775808"), i(i64::MIN));
    assert_eq!(ok("9223372036854775807N"), i(i64::MAX));
    assert_eq!(ok("0x1F"), i(31));
    assert_eq!(ok("1.5"), Value::Float(1.5));
    assert_eq!(ok("-1.5e3"), Value::Float(-1500.0));
    assert_eq!(ok("2E2"), Value::Float(200.0));
    assert_eq!(ok("1.25M"), Value::Float(1.25));
    assert_eq!(ok("3M"), Value::Float(3.0));
    assert_eq!(ok("1/4"), Value::Float(0.25));
    assert_eq!(ok("-4/2"), i(-2));
    assert_eq!(ok("##Inf"), Value::Float(f64::INFINITY));
    assert_eq!(ok("##-Inf"), Value::Float(f64::NEG_INFINITY));
    assert!(matches!(ok("##NaN"), Value::Float(x) if x.is_nan()));
}

#[test]
fn keywords_and_symbols_are_strings_without_the_colon() {
    assert_eq!(ok(":timed-out"), s("timed-out"));
    assert_eq!(ok(":jepsen.history/foo"), s("jepsen.history/foo"));
    assert_eq!(ok("foo/bar"), s("foo/bar"));
    assert_eq!(
        ok("clojure.core$eval12$fn__13"),
        s("clojure.core$eval12$fn__13")
    );
    assert_eq!(ok("+"), s("+"));
    assert_eq!(ok("-"), s("-"));
    assert_eq!(ok("-a"), s("-a"));
    assert_eq!(ok("nil?"), s("nil?"));
    assert_eq!(ok("ünïcode"), s("ünïcode"));
}

#[test]
fn strings_and_escapes() {
    assert_eq!(ok(r#""a\nb\t\"c\"\\""#), s("a\nb\t\"c\"\\"));
    assert_eq!(ok(r#""\u00e9\u0041""#), s("éA"));
    assert_eq!(ok(r#""\ud83d\ude00""#), s("😀"));
    assert_eq!(ok(r#""\ud83d""#), s("\u{fffd}"));
    assert_eq!(ok(r#""\101""#), s("A"));
    assert_eq!(ok("\"two\nlines\""), s("two\nlines"));
    assert_eq!(ok(r#""héllo, wörld""#), s("héllo, wörld"));
    assert_eq!(ok(r#""""#), s(""));
}

#[test]
fn characters_are_one_char_strings() {
    assert_eq!(ok(r"\a"), s("a"));
    assert_eq!(ok(r"\newline"), s("\n"));
    assert_eq!(ok(r"\space"), s(" "));
    assert_eq!(ok(r"\tab"), s("\t"));
    assert_eq!(ok(r"\u00e9"), s("é"));
    assert_eq!(ok(r"\o101"), s("A"));
    assert_eq!(ok(r"\("), s("("));
    assert_eq!(ok(r"\é"), s("é"));
    assert_eq!(ok(r"[\a\b]"), list(vec![s("a"), s("b")]));
    assert!(err(r"\foo").message.contains("unknown character literal"));
}

#[test]
fn collections_commas_and_spacing() {
    let want = list(vec![i(1), i(2), list(vec![i(3), s("x")])]);
    for text in [
        "[1 2 [3 :x]]",
        "[1,2,[3,:x]]",
        "[ 1 ,, 2\n\t[3 :x ] ]",
        "(1 2 (3 :x))",
        "#{1 2 [3 :x]}",
        "[1 2 [3 :x]] ; trailing comment",
        "; leading comment\n[1 2 [3 :x]]",
        "[1 #_ 99 2 [3 #_#_ 7 8 :x]]",
        "[1 #_[nested [discard]] 2 [3 :x #_ 9]]",
        "#!shebang line\n[1 2 [3 :x]]",
        "\u{feff}[1 2 [3 :x]]",
    ] {
        assert_eq!(ok(text), want, "{text:?}");
    }
    assert_eq!(ok("[]"), list(vec![]));
    assert_eq!(ok("{}"), Value::Map(vec![]));
}

#[test]
fn maps_keep_their_order() {
    let v = ok(r#"{:b 1, :a [1 2], "s" {:n nil}}"#);
    assert_eq!(
        v,
        Value::Map(vec![
            (s("b"), i(1)),
            (s("a"), list(vec![i(1), i(2)])),
            (s("s"), Value::Map(vec![(s("n"), Value::Nil)])),
        ])
    );
    assert_eq!(v.get("a"), Some(&list(vec![i(1), i(2)])));
}

#[test]
fn namespaced_maps_qualify_bare_keyword_keys() {
    let v = ok(r#"{:x #:op{:type :ok, :other/f 1, :_/bare 2, "str" 3}}"#);
    let inner = v.get("x").unwrap();
    let keys: Vec<&str> = match inner {
        Value::Map(m) => m.iter().map(|(k, _)| k.as_str().unwrap()).collect(),
        _ => panic!(),
    };
    assert_eq!(keys, ["op/type", "other/f", "bare", "str"]);
}

#[test]
fn tagged_literals_read_as_their_value() {
    assert_eq!(
        ok(r#"#inst "2020-01-01T00:00:00.000-00:00""#),
        s("2020-01-01T00:00:00.000-00:00")
    );
    assert_eq!(
        ok(r#"#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6""#),
        s("f81d4fae-7dec-11d0-a765-00a0c91e6bf6")
    );
    assert_eq!(
        ok("#jepsen.history.Op{:index 0, :type :invoke}"),
        Value::Map(vec![(s("index"), i(0)), (s("type"), s("invoke"))])
    );
    assert_eq!(ok("#my/tag   [1]"), list(vec![i(1)]));
    assert_eq!(ok("#a #b 1"), i(1));
    assert_eq!(
        ok(r#"#object[clojure.lang.ExceptionInfo 0x3c5b2d "boom"]"#),
        list(vec![
            s("clojure.lang.ExceptionInfo"),
            i(0x3c5b2d),
            s("boom")
        ])
    );
    assert_eq!(ok(r#"#"a\d+""#), s(r"a\d+"));
}

#[test]
fn out_of_range_integers_are_a_clear_error() {
    for text in [
        "9223372036854775808",
        "-9223372036854775809N",
        "123456789012345678901234567890N",
    ] {
        let e = err(text);
        assert!(
            e.message.contains("outside the 64-bit range"),
            "{text}: {e}"
        );
        assert_eq!((e.line, e.column), (1, 1));
        assert!(!e.at_end);
    }
}

#[test]
fn malformed_input_names_line_and_column() {
    let cases: &[(&str, usize, usize, &str)] = &[
        ("[1 2", 1, 5, "ends inside the '['"),
        ("{:a 1\n :b}", 2, 4, "key with no value"),
        ("[1 2)", 1, 5, "expected ']' to close the '['"),
        ("{:a [1}", 1, 7, "expected ']'"),
        ("]", 1, 1, "nothing open to close"),
        ("\"abc", 1, 5, "never closed"),
        (r#""a\qb""#, 1, 3, "unknown escape"),
        (r#""\u12""#, 1, 2, "four hex digits"),
        ("1.2.3", 1, 1, "malformed number"),
        ("12abc", 1, 1, "malformed number"),
        ("1/0", 1, 1, "divides by zero"),
        (":", 1, 1, "needs a name"),
        ("::auto", 1, 1, "auto-resolved"),
        ("#", 1, 2, "after '#'"),
        ("#'var", 1, 1, "unsupported '#''"),
        ("##Foo", 1, 1, "unknown symbolic value"),
        ("#:ns[1]", 1, 5, "expected '{'"),
        ("#_", 1, 3, "no form after it to discard"),
        ("#tag", 1, 5, "no value"),
        ("[1]\n  [2]", 2, 3, "end of input after one value"),
        ("", 1, 1, "found nothing"),
        ("; only a comment", 1, 17, "found nothing"),
        ("@deref", 1, 1, "unexpected character '@'"),
        ("[1\n2\n  é @x]", 3, 5, "unexpected character '@'"),
        ("{:a \"x\n\ny\" :b}", 3, 6, "key with no value"),
    ];
    for (text, line, column, needle) in cases {
        let e = err(text);
        assert_eq!((e.line, e.column), (*line, *column), "{text:?}: {e}");
        assert!(e.message.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn truncation_is_told_apart_from_malformation() {
    for text in [
        "[1 2",
        "{:a",
        "\"abc",
        "[\"a\\",
        "#{1",
        "#tag",
        "{:a 1 :b [1 2",
    ] {
        assert!(err(text).at_end, "{text:?}");
    }
    for text in ["[1 2)", "{:a}", "]", "1.2.3"] {
        assert!(!err(text).at_end, "{text:?}");
    }
}

#[test]
fn hostile_nesting_is_refused_not_overflowed() {
    let deep = "[".repeat(100_000);
    let e = err(&deep);
    assert!(e.message.contains("nesting deeper than 512"), "{e}");
    let deep_tags = "#a ".repeat(100_000) + "1";
    assert!(err(&deep_tags).message.contains("nesting deeper"));
    let deep_discards = "#_".repeat(100_000) + "1";
    assert!(err(&deep_discards).message.contains("nesting deeper"));
    let ok_depth = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
    assert!(parse(&ok_depth).is_ok());
    let too_deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
    assert!(parse(&too_deep).is_err());
}

#[test]
fn the_parser_streams_values_with_their_lines() {
    let text = "[{:a 1}\n {:a 2}\n\n {:a\n  3}]";
    let mut p = Parser::new(text);
    p.skip_ws().unwrap();
    assert_eq!(p.peek(), Some(b'['));
    p.bump();
    let mut lines = Vec::new();
    loop {
        p.skip_ws().unwrap();
        if p.peek() == Some(b']') {
            break;
        }
        lines.push(p.line_at(p.pos()));
        p.read_value().unwrap();
    }
    assert_eq!(lines, [1, 2, 4]);
}

#[test]
fn writer_round_trips_values() {
    let values = [
        Value::Nil,
        Value::Bool(false),
        i(-3),
        i(i64::MIN),
        Value::Float(1.0),
        Value::Float(-0.5),
        Value::Float(1e300),
        Value::Float(1.5e-7),
        Value::Float(f64::INFINITY),
        s("quote \" backslash \\ newline \n tab \t bell \u{7} é 😀"),
        list(vec![i(1), list(vec![]), Value::Map(vec![])]),
        Value::Map(vec![(s("k"), list(vec![i(1), s("v")])), (i(3), Value::Nil)]),
    ];
    for v in values {
        let text = to_string(&v);
        assert_eq!(parse(&text), Ok(v.clone()), "{text}");
    }
    assert_eq!(to_string(&Value::Float(2.0)), "2.0");
    assert_eq!(
        to_string(&Value::Map(vec![
            (s("a"), i(1)),
            (s("b"), list(vec![i(1), i(2)]))
        ])),
        r#"{"a" 1, "b" [1 2]}"#
    );
}

#[test]
fn keyword_names() {
    for good in [
        "read",
        "timed-out",
        "jepsen.history/foo",
        "cas?",
        "a1",
        "->x",
        "-1",
        "+",
    ] {
        assert!(is_keyword_name(good), "{good}");
        let mut out = String::new();
        write_keyword(&mut out, good);
        assert_eq!(parse(&out), Ok(s(good)), "{out}");
    }
    for bad in [
        "",
        "1a",
        "has space",
        "a/b/c",
        "/x",
        "x/",
        "é",
        "a\"b",
        "a,b",
        ":x",
    ] {
        assert!(!is_keyword_name(bad), "{bad}");
        let mut out = String::new();
        write_keyword(&mut out, bad);
        assert_eq!(parse(&out), Ok(s(bad)), "{out}");
    }
}
