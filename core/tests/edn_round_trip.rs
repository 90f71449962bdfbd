//! Jepsen EDN -> ops -> EDN -> ops is the identity on the hand-written histories, and the
//! EDN writer is a fixed point (writing what it wrote and read back gives the same text).

use std::path::{Path, PathBuf};

use faultline_core::format::{jsonl, read_path, read_str, write_edn, Format};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

fn edn_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data().join("jepsen"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "edn"))
        .collect();
    v.sort();
    assert!(v.len() >= 5);
    v
}

#[test]
fn edn_round_trip_is_identity_on_ops() {
    for path in edn_files() {
        let first = read_path(&path, None).unwrap().history;
        let mut text = Vec::new();
        write_edn(&mut text, first.ops()).unwrap();
        let text = String::from_utf8(text).unwrap();
        let second = read_str(&path, &text, None).unwrap();
        assert_eq!(second.format, Format::Edn);
        assert_eq!(second.history.ops(), first.ops(), "{}", path.display());

        let mut again = Vec::new();
        write_edn(&mut again, second.history.ops()).unwrap();
        assert_eq!(
            String::from_utf8(again).unwrap(),
            text,
            "{}",
            path.display()
        );
    }
}

#[test]
fn jsonl_round_trip_is_identity_on_imported_ops() {
    for path in edn_files() {
        let first = read_path(&path, None).unwrap().history;
        let mut text = Vec::new();
        jsonl::write(&mut text, first.ops()).unwrap();
        let text = String::from_utf8(text).unwrap();
        let second = read_str(Path::new("h.jsonl"), &text, None).unwrap();
        assert_eq!(second.format, Format::Jsonl);
        assert_eq!(second.history.ops(), first.ops(), "{}", path.display());
    }
}

#[test]
fn canonical_edn_comes_back_byte_for_byte() {
    // list-append.edn is written the way the exporter writes (Jepsen 0.3 key order,
    // keywords only where they are restored), so its text survives a round trip.
    let path = data().join("jepsen/list-append.edn");
    let original = std::fs::read_to_string(&path).unwrap();
    let ops = read_path(&path, None).unwrap().history;
    let mut out = Vec::new();
    write_edn(&mut out, ops.ops()).unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), original);
}
