//! The Elle checkers on histories read from disk, as the CLI will run them.

use faultline_checker::elle::{ListAppend, Options};
use faultline_checker::{Budget, Checker, Validity};
use faultline_core::format::read_path;

fn data(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/jepsen")
        .join(file)
}

/// A hand-written Jepsen EDN list-append history, serializable in the order T0 T1 T2 T3 T4
/// (T2 indeterminate but observed, T4 failed): see tests/data/jepsen/README.md.
#[test]
fn the_jepsen_list_append_history_is_strict_serializable() {
    let loaded = read_path(&data("list-append.edn"), None).expect("readable");
    let v = ListAppend::default().check(&loaded.history, &Budget::unlimited());
    assert_eq!(v.valid, Validity::Valid, "{v:#?}");
    assert!(v.models.kept.iter().any(|m| m == "strict-serializable"));
    assert_eq!(v.stats["info"], 1);
    assert_eq!(v.stats["fail"], 1);
    // EDN keywords are read as strings: `:append` is "append", `:r` is "r".
    let v = ListAppend::new(Options::default().models(["read-committed"]))
        .check(&loaded.history, &Budget::unlimited());
    assert_eq!(v.valid, Validity::Valid);
}
