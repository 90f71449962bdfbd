//! `faultline check` end to end: exit codes 0/1/2/3, `--json`, and bad input naming the line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .args(args)
        .output()
        .expect("faultline runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn check_cli_valid_history_exits_0() {
    let h = data("porcupine/etcd/etcd_002.log");
    let out = check(&[path(&h), "--model", "etcd"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("valid: linearizable under the etcd model"));
}

#[test]
fn check_cli_invalid_history_exits_1_with_the_sentence() {
    let h = data("jepsen/cas-register-bad.edn");
    let out = check(&[path(&h), "--model", "cas-register"]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("process 0's read of 1"), "{stdout}");
    assert!(stdout.contains("cannot take effect"), "{stdout}");
}

#[test]
fn check_cli_independent_keys() {
    let ok = check(&[
        path(&data("jepsen/independent-cas-ok.edn")),
        "-m",
        "cas-register",
        "--independent",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stdout));
    let bad = check(&[
        path(&data("jepsen/independent-cas-bad.edn")),
        "-m",
        "cas-register",
        "--independent",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(text(&bad.stdout).contains("On key 1"));
}

#[test]
fn check_cli_json_is_the_verdict() {
    let h = data("porcupine/kv/c01-bad.txt");
    let out = check(&[path(&h), "--model", "kv", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["checker"], "linearizable");
    assert_eq!(v["valid"], "invalid");
    assert_eq!(v["anomalies"][0]["evidence"]["type"], "linearization");
}

#[test]
fn check_cli_exhausted_budget_exits_3() {
    let h = data("porcupine/kv/c50-ok.txt");
    let out = check(&[
        path(&h),
        "--model",
        "kv",
        "--no-partition",
        "--max-states",
        "100",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("unknown"));
}

#[test]
fn check_cli_malformed_line_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.jsonl");
    std::fs::write(
        &p,
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
         {\"type\":\"okk\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
         {\"type\":\"invoke\",\"process\":1,\"f\":\"read\",\"value\":null}\n",
    )
    .unwrap();
    let out = check(&[path(&p), "--model", "register"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("h.jsonl:2"), "{err}");
    assert!(err.contains("type"), "{err}");
}

#[test]
fn check_cli_truncated_last_line_warns_and_checks_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("h.jsonl");
    std::fs::write(
        &p,
        "{\"type\":\"invoke\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
         {\"type\":\"ok\",\"process\":0,\"f\":\"write\",\"value\":1}\n\
         {\"type\":\"invoke\",\"proc",
    )
    .unwrap();
    let out = check(&[path(&p), "--model", "register"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_cli_unknown_f_and_unknown_model_exit_2() {
    let h = data("jepsen/cas-register-ok.edn");
    let out = check(&[path(&h), "--model", "register"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no operation \"cas\""),
        "{}",
        text(&out.stderr)
    );
    let out = check(&[path(&h), "--model", "btree"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown model"));
    let out = check(&[path(&h)]);
    assert_eq!(out.status.code(), Some(2));
    let out = check(&["/nonexistent/history.jsonl", "--model", "register"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn check_cli_other_checkers_by_name() {
    let out = check(&[
        path(&data("jepsen/list-append.edn")),
        "--checker",
        "elle-list-append",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn check_cli_report_writes_a_page_for_an_imported_history() {
    let h = data("jepsen/cas-register-bad.edn");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("report");
    let out = check(&[
        path(&h),
        "--model",
        "cas-register",
        "--report",
        path(&out_dir),
    ]);
    // The report never changes the verdict.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    assert!(html.contains("Invalid"), "verdict missing from the page");
    assert!(html.contains("href=\"#op-"), "no link to an op");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("results.json")).unwrap())
            .unwrap();
    assert_eq!(results["valid"], "invalid");
    let junit = std::fs::read_to_string(out_dir.join("junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}
