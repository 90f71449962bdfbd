//! `faultline check` on a pathological history (40 concurrent writes of the same value, then
//! a read of a value never written: ~2^40 search states) gives up under --timeout or
//! --max-states or --max-memory with exit code 3 (unknown) instead of hanging or saying valid (issue 9).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The history as JSON Lines.
fn pathological(writes: u64) -> String {
    let mut s = String::new();
    let mut index = 0;
    let mut line = |s: &mut String, kind: &str, p: u64, f: &str, v: &str| {
        s.push_str(&format!(
            "{{\"index\":{index},\"type\":\"{kind}\",\"process\":{p},\"f\":\"{f}\",\"value\":{v}}}\n"
        ));
        index += 1;
    };
    for p in 0..writes {
        line(&mut s, "invoke", p, "write", "1");
    }
    for p in 0..writes {
        line(&mut s, "ok", p, "write", "1");
    }
    line(&mut s, "invoke", writes, "read", "null");
    line(&mut s, "ok", writes, "read", "2");
    s
}

/// Runs `faultline check` and returns its exit code and stdout; a run still going after
/// two minutes is killed and fails the test as a hang (a guard, not a speed target).
fn check(file: &std::path::Path, extra: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .arg(file)
        .args(["--model", "register", "--json"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start faultline check");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
            return (status.code().unwrap_or(-1), out);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("faultline check {extra:?} hung");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_pathological_history_is_unknown_with_exit_code_3() {
    let mut file = tempfile::Builder::new()
        .suffix(".jsonl")
        .tempfile()
        .unwrap();
    file.write_all(pathological(40).as_bytes()).unwrap();
    file.flush().unwrap();
    for extra in [
        &["--timeout", "1"][..],
        &["--max-states", "100000"][..],
        &["--max-memory", "1"][..],
    ] {
        let (code, out) = check(file.path(), extra);
        assert_eq!(code, 3, "{extra:?}: {out}");
        assert!(out.contains("\"unknown\""), "{extra:?}: {out}");
    }
}
