//! Every workload through `faultline run` on the memory target (a linearizable store, with
//! kills and pauses): the adapters and checkers must agree that nothing went wrong, ops of
//! the workload's own vocabulary are recorded, and final reads happen where the workload
//! asks for them. Needs nothing; always runs.

use std::process::{Command, Stdio};

use serde_json::Value;

fn run_valid(workload: &str, fs: &[&str], finals: bool) {
    let runs = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "--runs-dir"])
        .arg(runs.path())
        .args([
            "--target",
            "memory",
            "--workload",
            workload,
            "--nemesis",
            "kill,pause",
            "--nemesis-interval",
            "0.5",
            "--time-limit",
            "2",
            "--seed",
            "11",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("runs faultline");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{workload}\n{stdout}\n{stderr}");
    assert!(stdout.contains("verdict    VALID"), "{stdout}");
    let dir = stdout
        .lines()
        .find_map(|l| l.strip_prefix("run dir"))
        .map(|d| d.trim().to_string())
        .unwrap();
    let text = std::fs::read_to_string(std::path::Path::new(&dir).join("history.jsonl")).unwrap();
    let ops: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    for f in fs {
        let n = ops
            .iter()
            .filter(|o| o["type"] == "ok" && o["f"] == *f)
            .count();
        assert!(n > 10, "{workload}: only {n} ok {f} ops");
    }
    assert_eq!(
        ops.iter().any(|o| o["final"] == true),
        finals,
        "{workload}: final reads"
    );
}

#[test]
fn rw_register_on_memory_is_valid() {
    run_valid("rw-register", &["txn"], false);
}

#[test]
fn counter_on_memory_is_valid() {
    run_valid("counter", &["add", "read"], true);
}

#[test]
fn set_on_memory_is_valid() {
    run_valid("set", &["add", "read"], true);
}

#[test]
fn bank_on_memory_is_valid() {
    run_valid("bank", &["transfer", "read"], true);
}

#[test]
fn causal_on_memory_is_valid() {
    run_valid("causal", &["write", "read"], false);
}
