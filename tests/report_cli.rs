//! `faultline report RUN_DIR` and `faultline serve` end to end, on a run directory written
//! the way a run leaves it (history.jsonl, results.json, test.json).

#[path = "../reports/tests/fixture/mod.rs"]
mod fixture;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use faultline_core::format::jsonl;
use faultline_reports::RunResults;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

fn write_run(dir: &Path) {
    let (history, verdicts, settings) = fixture::invalid_run();
    std::fs::create_dir_all(dir).unwrap();
    let mut f = std::fs::File::create(dir.join("history.jsonl")).unwrap();
    jsonl::write(&mut f, history.ops()).unwrap();
    let mut results = RunResults::new(&verdicts);
    results.extra.insert("elapsed_s".into(), 1.5.into());
    results.write(&dir.join("results.json")).unwrap();
    std::fs::write(dir.join("test.json"), settings.to_string()).unwrap();
}

#[test]
fn report_regenerates_the_page_and_keeps_results() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run(&run);
    let before = std::fs::read_to_string(run.join("results.json")).unwrap();
    let out = Command::new(BIN).arg("report").arg(&run).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("</span>Invalid</div>"));
    assert!(html.contains("G2-item") && html.contains("seed <code>42</code>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains(fixture::SCRIPT));
    let junit = std::fs::read_to_string(run.join("junit.xml")).unwrap();
    assert!(junit.contains("failures=\"2\""), "{junit}");
    assert_eq!(
        std::fs::read_to_string(run.join("results.json")).unwrap(),
        before
    );
}

#[test]
fn report_tolerates_missing_pieces_and_names_them() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    write_run(&run);
    std::fs::remove_file(run.join("results.json")).unwrap();
    std::fs::remove_file(run.join("test.json")).unwrap();
    let out = Command::new(BIN).arg("report").arg(&run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("no results.json"), "{stderr}");
    let html = std::fs::read_to_string(run.join("index.html")).unwrap();
    assert!(html.contains("</span>Unknown</div>"));

    std::fs::remove_file(run.join("history.jsonl")).unwrap();
    let out = Command::new(BIN).arg("report").arg(&run).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to report"));

    std::fs::write(run.join("results.json"), "{\"valid\": \"maybe\"}").unwrap();
    let out = Command::new(BIN).arg("report").arg(&run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("results.json:1:"), "{stderr}");
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn serve_lists_runs_and_serves_only_files_under_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    write_run(&runs.join("fixture/20260101T000000"));
    std::fs::write(tmp.path().join("secret.txt"), "secret").unwrap();
    let out = Command::new(BIN)
        .arg("report")
        .arg(runs.join("fixture/20260101T000000"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    assert_eq!(
        Command::new(BIN)
            .args(["serve", "--addr", "0.0.0.0:0", "--dir"])
            .arg(&runs)
            .output()
            .unwrap()
            .status
            .code(),
        Some(2),
        "a non-loopback address must be refused"
    );

    let requests = [
        "/",
        "/fixture/20260101T000000/",
        "/fixture/20260101T000000/junit.xml",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/fixture/%2e%2e/%2e%2e/secret.txt",
    ];
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--max-requests"])
        .arg(requests.len().to_string())
        .arg("--dir")
        .arg(&runs)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();

    let (code, index) = get(&addr, requests[0]);
    assert_eq!(code, 200);
    assert!(
        index.contains("fixture/20260101T000000") && index.contains(">invalid<"),
        "{index}"
    );
    let (code, page) = get(&addr, requests[1]);
    assert_eq!(code, 200);
    assert!(page.contains("</span>Invalid</div>"));
    let (code, junit) = get(&addr, requests[2]);
    assert_eq!(code, 200);
    assert!(junit.contains("application/xml") && junit.contains("<testsuites"));
    for bad in &requests[3..] {
        let (code, body) = get(&addr, bad);
        assert_eq!(code, 404, "{bad}");
        assert!(
            !body.contains("secret\n") && !body.ends_with("secret"),
            "{bad}"
        );
    }

    // The server stops after its request budget; kill it (ours, by handle) if it does not.
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop after --max-requests");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
