//! `faultline matrix` end to end on the in-process `memory` target (no root needed): a row
//! that matches exits 0 and writes index.html and junit.xml; a row that does not exits 1;
//! bad files and row names are usage errors naming file, line and field.

use std::path::Path;
use std::process::{Command, Output};

fn faultline(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run faultline")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const ROWS: &str = r#"
[defaults]
target = "memory"
workload = "list-append"
nemesis = "none"
time_limit = 1.5
concurrency = 3
rate = 200
nodes = 1

[[row]]
name = "memory-valid"
literature = "one lock: strict serializable"
expect = { elle-list-append = "valid", session = "valid" }

[[row]]
name = "memory-wrongly-expected"
expect = { elle-list-append = ["G2-item"] }
"#;

#[test]
fn a_matching_row_passes_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), ROWS).unwrap();
    let o = faultline(
        &["matrix", "m.toml", "--rows", "memory-valid", "--out", "out"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("memory-valid"), "{}", text(&o));
    let html = std::fs::read_to_string(dir.path().join("out/index.html")).unwrap();
    assert!(
        html.contains("memory-valid") && html.contains("report"),
        "{html}"
    );
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(junit.contains("tests=\"1\" failures=\"0\""), "{junit}");
}

#[test]
fn a_row_that_does_not_match_fails_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.toml"), ROWS).unwrap();
    let o = faultline(
        &[
            "matrix",
            "m.toml",
            "--rows",
            "memory-wrongly-expected",
            "--out",
            "out",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("expected G2-item, not found"),
        "{}",
        text(&o)
    );
    let junit = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn bad_files_and_row_names_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ROWS.replace("session = \"valid\"", "session = \"vaild\"");
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let o = faultline(&["matrix", "bad.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("bad.toml:14: field row[0].expect.session"),
        "{}",
        text(&o)
    );
    std::fs::write(dir.path().join("m.toml"), ROWS).unwrap();
    let o = faultline(&["matrix", "m.toml", "--rows", "nope"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no such row"), "{}", text(&o));
}

#[test]
fn the_shipped_matrices_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for m in ["matrix/replication-modes.toml", "matrix/ci.toml"] {
        let o = faultline(&["matrix", m, "--list"], root);
        assert_eq!(o.status.code(), Some(0), "{m}: {}", text(&o));
    }
}
