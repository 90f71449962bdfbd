//! Loads reports in Debian's headless Chromium (needs FAULTLINE_E2E=1 and /usr/bin/chromium):
//! the page's scripts must run without an error, the verdict and an anomaly link whose target
//! exists must be in the rendered DOM, and screenshots land in target/report-screenshots/.
//!
//! Console errors are caught in the page: a probe script that runs first records any
//! `window.onerror` or `console.error` as `data-js-error` on `<html>`, and the page script
//! sets `data-js-ready="1"` when it finishes; `--dump-dom` shows both.

mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

fn enabled() -> bool {
    if std::env::var("FAULTLINE_E2E").as_deref() != Ok("1") {
        eprintln!("skipping the browser test: set FAULTLINE_E2E=1 to run it (needs {CHROMIUM})");
        return false;
    }
    assert!(
        Path::new(CHROMIUM).exists(),
        "FAULTLINE_E2E=1 but {CHROMIUM} is missing: apt-get install -y chromium"
    );
    true
}

/// Runs headless Chromium with LAB.md's flags plus `extra`, bounded to 90 s; returns
/// (stdout, stderr).
fn chromium(extra: &[String], page: &Path) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend(extra.iter().cloned());
    args.push(format!("file://{}", page.display()));
    let out_path = profile.path().join("stdout");
    let err_path = profile.path().join("stderr");
    let mut child = Command::new(CHROMIUM)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            // Only the child we started, by its handle.
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (
        std::fs::read_to_string(out_path).unwrap_or_default(),
        std::fs::read_to_string(err_path).unwrap_or_default(),
    )
}

fn dump_dom(page: &Path) -> (String, String) {
    chromium(
        &[
            "--dump-dom".into(),
            "--virtual-time-budget=2000".into(),
            "--window-size=1400,1000".into(),
        ],
        page,
    )
}

fn screenshots_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/report-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn screenshot(page: &Path, name: &str, height: u32) -> PathBuf {
    let png = screenshots_dir().join(name);
    let _ = std::fs::remove_file(&png);
    chromium(
        &[
            format!("--screenshot={}", png.display()),
            format!("--window-size=1400,{height}"),
            "--hide-scrollbars".into(),
        ],
        page,
    );
    assert!(png.exists(), "no screenshot at {}", png.display());
    png
}

fn assert_clean(dom: &str, stderr: &str, what: &str) {
    assert!(
        dom.contains("data-js-ready=\"1\""),
        "{what}: the page script did not finish; DOM starts {:?}",
        &dom[..dom.len().min(300)]
    );
    assert!(
        !dom.contains("data-js-error=\""),
        "{what}: a script error was recorded: {}",
        dom.split("data-js-error=\"")
            .nth(1)
            .unwrap_or("")
            .split('"')
            .next()
            .unwrap_or("")
    );
    let console: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(console.is_empty(), "{what}: console output: {console:?}");
}

fn write(
    dir: &Path,
    run: (
        faultline_core::History,
        Vec<faultline_checker::Verdict>,
        serde_json::Value,
    ),
) -> PathBuf {
    let (h, v, s) = run;
    let files = faultline_reports::write_report(dir, &h, &v, &s).unwrap();
    assert!(files.notes.is_empty(), "{:?}", files.notes);
    files.index_html.canonicalize().unwrap()
}

/// Every link to an op points at an element that exists, and there is at least one.
fn assert_links_resolve(dom: &str) {
    let links: Vec<&str> = dom
        .split("<a href=\"#op-")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(!links.is_empty(), "no anomaly links to ops");
    for n in &links {
        assert!(
            dom.contains(&format!("id=\"op-{n}\"")),
            "link #op-{n} has no target"
        );
    }
}

#[test]
fn reports_render_in_headless_chromium() {
    if !enabled() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();

    let invalid = write(&tmp.path().join("invalid"), fixture::invalid_run());
    let (dom, stderr) = dump_dom(&invalid);
    assert_clean(&dom, &stderr, "invalid report");
    assert!(
        dom.contains("class=\"verdict-word\" id=\"verdict\""),
        "no verdict heading"
    );
    assert!(dom.contains("</span>Invalid</div>"), "verdict text missing");
    assert!(dom.contains("G2-item"), "the Elle anomaly is missing");
    assert!(
        dom.contains("nonlinearizable"),
        "the linearizability anomaly is missing"
    );
    // Every anomaly link points at an element that exists.
    let links: Vec<&str> = dom
        .split("<a href=\"#op-")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert!(!links.is_empty(), "no anomaly links to ops");
    for n in &links {
        assert!(
            dom.contains(&format!("id=\"op-{n}\"")),
            "link #op-{n} has no target"
        );
    }
    // The system's `<script>` value is text, not markup.
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    screenshot(&invalid, "invalid.png", 2600);

    let valid = write(&tmp.path().join("valid"), fixture::valid_run());
    let (dom, stderr) = dump_dom(&valid);
    assert_clean(&dom, &stderr, "valid report");
    assert!(dom.contains("</span>Valid</div>"), "verdict text missing");
    screenshot(&valid, "valid.png", 1800);

    // A failure found by the real linearizability checker, with its own evidence.
    let lin = write(&tmp.path().join("lin"), fixture::lin_run());
    let (dom, stderr) = dump_dom(&lin);
    assert_clean(&dom, &stderr, "linearizability report");
    assert!(dom.contains("</span>Invalid</div>"), "verdict text missing");
    assert!(dom.contains("class=\"lin\""), "no linearization drawing");
    assert_links_resolve(&dom);
    screenshot(&lin, "lin.png", 1400);
}

#[test]
fn the_error_probe_catches_a_script_error() {
    if !enabled() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let page = write(tmp.path(), fixture::valid_run());
    let html = std::fs::read_to_string(&page).unwrap();
    let broken = html.replace("</body>", "<script>undefinedFunction()</script></body>");
    std::fs::write(&page, broken).unwrap();
    let (dom, _) = dump_dom(&page);
    assert!(
        dom.contains("data-js-error="),
        "the probe missed a thrown error"
    );
}
