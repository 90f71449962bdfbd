//! Imported histories written as JSON Lines (and the Jepsen EDN ones exported back to EDN),
//! compared byte for byte with tests/data/golden/. `BLESS=1 cargo test -p faultline-core
//! --test golden` rewrites the golden files; review the diff before committing it.

use std::fs;
use std::path::{Path, PathBuf};

use faultline_core::format::{jsonl, read_path, write_edn};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

const INPUTS: &[(&str, bool)] = &[
    // (input under tests/data, whether to also export it as EDN)
    ("porcupine/etcd/etcd_000.log", false),
    ("porcupine/etcd/etcd_100.log", false), // spaces instead of tabs
    ("porcupine/kv/c01-bad.txt", true),
    ("jepsen/cas-register-ok.edn", true),
    ("jepsen/independent-cas-ok.edn", true),
    ("jepsen/independent-cas-bad.edn", true),
    ("jepsen/list-append.edn", true),
];

fn check(golden: &Path, actual: &[u8], failures: &mut Vec<String>) {
    if std::env::var_os("BLESS").is_some() {
        fs::create_dir_all(golden.parent().unwrap()).unwrap();
        fs::write(golden, actual).unwrap();
        return;
    }
    match fs::read(golden) {
        Ok(want) if want == actual => {}
        Ok(_) => failures.push(format!("{} differs", golden.display())),
        Err(e) => failures.push(format!("{}: {e} (run with BLESS=1)", golden.display())),
    }
}

#[test]
fn imports_match_their_golden_files() {
    let mut failures = Vec::new();
    for (input, export) in INPUTS {
        let loaded = read_path(&data().join(input), None).unwrap_or_else(|e| panic!("{e}"));
        let stem = Path::new(input)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let golden = data().join("golden");
        let mut out = Vec::new();
        jsonl::write(&mut out, loaded.history.ops()).unwrap();
        check(&golden.join(format!("{stem}.jsonl")), &out, &mut failures);
        if *export {
            let mut out = Vec::new();
            write_edn(&mut out, loaded.history.ops()).unwrap();
            check(
                &golden.join(format!("{stem}.export.edn")),
                &out,
                &mut failures,
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
