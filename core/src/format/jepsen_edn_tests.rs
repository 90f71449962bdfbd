use std::path::Path;

use super::*;
use crate::format::{read_str, Format, Loaded};

fn load(text: &str) -> Loaded {
    read_str(Path::new("history.edn"), text, Some(Format::Edn))
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn fail(text: &str) -> ReadError {
    match read_str(Path::new("history.edn"), text, Some(Format::Edn)) {
        Ok(l) => panic!("parsed {} events from\n{text}", l.history.len()),
        Err(e) => e,
    }
}

const LINES: &str = r#"{:type :invoke, :f :cas, :value [1 4], :process 0, :time 10, :index 0}
{:type :info, :f :start-partition, :value nil, :process :nemesis, :time 15, :index 1}
{:type :fail, :f :cas, :value [1 4], :process 0, :time 20, :index 2, :error :cas-mismatch, :node "n1"}
#jepsen.history.Op{:index 3, :time 30, :type :invoke, :process 1, :f :read, :value nil}
#jepsen.history.Op{:index 4, :time 40, :type :info, :process 1, :f :read, :value nil, :error [:timeout "no reply"], :sub-type :x}
"#;

#[test]
fn reads_one_map_per_line_in_both_jepsen_shapes() {
    let loaded = load(LINES);
    let ops = loaded.history.ops();
    assert_eq!(ops.len(), 5);
    assert_eq!(ops[0].value, Value::List(vec![1.into(), 4.into()]));
    assert_eq!(ops[1].process, Process::Nemesis);
    assert_eq!(ops[1].f, "start-partition");
    assert_eq!(ops[2].error, Some("cas-mismatch".into()));
    assert_eq!(ops[2].node.as_deref(), Some("n1"));
    assert_eq!(ops[4].time, 40);
    assert_eq!(ops[4].extra.get("sub-type"), Some(&"x".into()));
    assert_eq!(
        loaded.history.completion(3).map(|o| o.kind),
        Some(OpType::Info)
    );
    assert!(
        loaded.history.warnings().is_empty(),
        "{:?}",
        loaded.history.warnings()
    );
}

#[test]
fn spacing_commas_comments_and_discards_do_not_matter() {
    let variants = [
        "{:type :invoke :f :write :value 1 :process 0}\n{:type :ok :f :write :value 1 :process 0}\n",
        "{:type :invoke, :f :write, :value 1, :process 0}\n\n{:type :ok, :f :write, :value 1, :process 0}",
        "; a comment\n  {  :type :invoke ,:f :write,:value 1,:process 0 }  ; trailing\n{:type :ok :f :write :value 1 :process 0 #_ :node}\n",
        "{:process 0 :value 1N :f \"write\" :type \"invoke\"}\r\n{:type :ok :f write :value 1 :process 0}\r\n",
    ];
    let mut want = None;
    for text in variants {
        let ops = load(text).history.into_ops();
        assert_eq!(ops.len(), 2);
        match &want {
            None => want = Some(ops),
            Some(w) => assert_eq!(&ops, w, "{text}"),
        }
    }
}

const VECTOR: &str = r#"[{:type :invoke,
  :f :write,
  :value [:x 1],
  :process 0}
 {:type :ok, :f :write, :value [:x 1], :process 0}

 {:type :invoke,
  :f :read, :value nil, :process 1}
 {:type :ok, :f :read, :value 1, :process 1}]
"#;

#[test]
fn reads_a_pretty_printed_vector() {
    let loaded = load(VECTOR);
    assert_eq!(loaded.format, Format::Edn);
    assert_eq!(loaded.history.len(), 4);
    assert_eq!(loaded.history.ops()[1].value.to_string(), r#"["x" 1]"#);
    let listed = format!("({})", &VECTOR.trim()[1..VECTOR.trim().len() - 1]);
    assert_eq!(load(&listed).history.len(), 4);
    assert_eq!(
        read_str(Path::new("h.edn"), VECTOR, None).unwrap().format,
        Format::Edn
    );
}

#[test]
fn vector_errors_name_the_line_where_the_map_starts() {
    let bad_type = VECTOR.replace("{:type :invoke,\n  :f :read", "{:type :invok,\n  :f :read");
    let e = fail(&bad_type);
    assert!(
        matches!(&e, ReadError::Parse { line: 7, field: Some(f), .. } if f == "type"),
        "{e}"
    );
    assert!(
        e.to_string().contains(":invoke, :ok, :fail or :info"),
        "{e}"
    );

    let bad_syntax = VECTOR.replace(":f :read, :value nil", ":f :read, :value [nil");
    let e = fail(&bad_syntax);
    assert_eq!(e.line(), Some(7), "{e}");
    assert!(e.to_string().contains("line 8, column"), "{e}");

    let unmatched = VECTOR.replace(
        "{:type :ok, :f :read, :value 1, :process 1}",
        "{:type :ok, :f :read, :value 1, :process 2}",
    );
    let e = fail(&unmatched);
    assert!(matches!(e, ReadError::History { line: 9, .. }), "{e}");

    let stray = VECTOR.replace(":process 1}]", ":process 1})");
    assert!(fail(&stray).to_string().contains("expected ']' to close"));

    let after = format!("{VECTOR}\n[]");
    assert_eq!(fail(&after).line(), Some(11));

    let not_map = "[{:type :invoke, :f :read, :value nil, :process 0}\n 42]";
    let e = fail(not_map);
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("expected an op map"), "{e}");
}

#[test]
fn a_truncated_vector_keeps_the_whole_ops_before_the_cut() {
    let cut = &VECTOR[..VECTOR.find(":f :read, :value nil").unwrap()];
    let loaded = load(cut);
    assert_eq!(loaded.history.len(), 2);
    let w = &loaded.history.warnings()[0];
    assert!(
        w.starts_with("history.edn:7: the history ends inside the op starting here"),
        "{w}"
    );

    let unclosed = VECTOR.trim_end().trim_end_matches(']');
    let loaded = load(unclosed);
    assert_eq!(loaded.history.len(), 4);
    assert!(loaded.history.warnings()[0].contains("never closes"));
}

#[test]
fn line_form_errors_name_line_and_field() {
    let ok0 = "{:type :invoke, :f :read, :value nil, :process 0}\n";
    let cases: &[(&str, Option<&str>, &str)] = &[
        (
            "{:type :invok, :f :read, :process 0}",
            Some("type"),
            "expected :invoke, :ok, :fail or :info, found string \"invok\"",
        ),
        ("{:type :ok, :process 0}", Some("f"), "missing"),
        ("{:type :ok, :f :read}", Some("process"), "missing"),
        ("{:f :read, :process 0}", Some("type"), "missing"),
        (
            "{:type :ok, :f 3, :process 0}",
            Some("f"),
            "expected a keyword",
        ),
        (
            "{:type :ok, :f :read, :process -1}",
            Some("process"),
            "non-negative integer or :nemesis",
        ),
        (
            "{:type :ok, :f :read, :process :client}",
            Some("process"),
            "non-negative integer or :nemesis",
        ),
        (
            "{:type :ok, :f :read, :process 0, :time -5}",
            Some("time"),
            "non-negative integer",
        ),
        (
            "{:type :ok, :f :read, :process 0, :time 1.5}",
            Some("time"),
            "non-negative integer",
        ),
        (
            "{:type :ok, :f :read, :process 0, :index :x}",
            Some("index"),
            "non-negative integer",
        ),
        (
            "{:type :ok, :f :read, :process 0, :node 3}",
            Some("node"),
            "expected a string",
        ),
        (
            "{:type :ok, :f :read, :process 0, :type :ok}",
            Some("type"),
            "appears twice",
        ),
        (
            "{:type :ok, :f :read, :process 0, 1 2}",
            None,
            "keys must be keywords",
        ),
        ("[:type :ok]", None, "expected an op map"),
        (
            "{:type :ok, :f :read, :process 0} {:x 1}",
            None,
            "more than one value",
        ),
        (
            "{:type :ok, :f :read, :process 0, :value 99999999999999999999}",
            None,
            "64-bit range",
        ),
        (
            "{:type :ok, :f :read, :process 0, :value [1 2}",
            None,
            "column 46: expected ']' to close the '[' opened at column 42, found '}'",
        ),
        ("{:type :ok,", None, "one whole op per line"),
    ];
    for (line, field, needle) in cases {
        let text = format!("{ok0}{line}\n{ok0}");
        let e = fail(&text);
        match &e {
            ReadError::Parse {
                line: 2, field: f, ..
            } => assert_eq!(f.as_deref(), *field, "{line}: {e}"),
            other => panic!("{line}: {other}"),
        }
        assert!(e.to_string().contains(needle), "{line}: {e}");
    }
    let e = fail("{:type :ok, :f :read, :process 0}\n");
    assert!(matches!(e, ReadError::History { line: 1, .. }), "{e}");
}

#[test]
fn a_truncated_last_line_warns() {
    let text = format!("{LINES}{{:type :ok, :f :read, :pro");
    let loaded = load(&text);
    assert_eq!(loaded.history.len(), 5);
    assert!(loaded.history.warnings()[0].contains("incomplete"));
}

#[test]
fn indices_out_of_order_are_renumbered_with_a_warning() {
    let text = "{:index 5, :type :invoke, :f :read, :value nil, :process 0}\n{:index 9, :type :ok, :f :read, :value 1, :process 0}\n";
    let h = load(text).history;
    assert_eq!(h.ops()[1].index, 1);
    assert!(h.warnings()[0].contains("renumbered"), "{:?}", h.warnings());
    let no_index = "{:type :invoke, :f :read, :value nil, :process 0}\n{:type :ok, :f :read, :value 1, :process 0}\n";
    assert!(load(no_index).history.warnings().is_empty());
}

#[test]
fn writes_jepsen_keywords_back() {
    let mut out = Vec::new();
    write(&mut out, load(LINES).history.ops()).unwrap();
    let text = String::from_utf8(out).unwrap();
    let want = r#"{:index 0, :time 10, :type :invoke, :process 0, :f :cas, :value [1 4]}
{:index 1, :time 15, :type :info, :process :nemesis, :f :start-partition, :value nil}
{:index 2, :time 20, :type :fail, :process 0, :f :cas, :value [1 4], :node "n1", :error :cas-mismatch}
{:index 3, :time 30, :type :invoke, :process 1, :f :read, :value nil}
{:index 4, :time 40, :type :info, :process 1, :f :read, :value nil, :error [:timeout "no reply"], :sub-type "x"}
"#;
    assert_eq!(text, want);
    // Reading the output back gives the same ops, and writing them again the same text.
    let again = load(&text).history;
    assert_eq!(again.ops(), load(LINES).history.ops());
}

#[test]
fn txn_micro_ops_get_keyword_functions() {
    let text = "{:type :ok, :f :txn, :value [[:append 1 2] [:r 1 [1 2]] [:w \"k\" 3] [\"has space\" 1 1]], :process 0}";
    let (op, _) = op_from_map(edn::parse(text).unwrap()).unwrap();
    let mut out = String::new();
    write_op(&mut out, &op);
    assert_eq!(
        out,
        "{:index 0, :time 0, :type :ok, :process 0, :f :txn, :value [[:append 1 2] [:r 1 [1 2]] [:w \"k\" 3] [\"has space\" 1 1]]}"
    );
    // Only txn values are rewritten: a read of the string "r" stays a string.
    let (op, _) =
        op_from_map(edn::parse("{:type :ok, :f :read, :value [\"r\" 1], :process 0}").unwrap())
            .unwrap();
    out.clear();
    write_op(&mut out, &op);
    assert!(out.ends_with(":value [\"r\" 1]}"), "{out}");
}
