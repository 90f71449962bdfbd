//! Every history under tests/data parses with the format `detect` picks, into the number of
//! events its table says.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use faultline_core::format::{read_path, Format};
use faultline_core::{OpType, Process, Value};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// A TSV table as (first column -> row, by header name).
fn table(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(l.split('\t'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect();
            (row["file"].clone(), row)
        })
        .collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

#[test]
fn every_porcupine_file_parses_into_its_event_count() {
    let root = data().join("porcupine");
    let verdicts = table(&root.join("VERDICTS.tsv"));
    // The `events` column counts lines; every line of these files is one op event, which
    // this checks independently below rather than assuming.
    let mut seen = 0;
    for (group, format) in [("etcd", Format::JepsenLog), ("kv", Format::PorcupineKv)] {
        for path in files(&root.join(group)) {
            let name = format!("{group}/{}", path.file_name().unwrap().to_string_lossy());
            let text = fs::read_to_string(&path).unwrap();
            let loaded = read_path(&path, None).unwrap_or_else(|e| panic!("{e}"));
            let h = &loaded.history;
            assert!(
                h.warnings().is_empty() || group == "etcd",
                "{name}: {:?}",
                h.warnings()
            );
            let Some(row) = verdicts.get(&name) else {
                // etcd_095: its cluster never started, so the log is empty and has no verdict.
                assert!(text.trim().is_empty(), "{name} is not in VERDICTS.tsv");
                assert!(h.is_empty(), "{name}");
                continue;
            };
            seen += 1;
            assert_eq!(loaded.format, format, "{name}");
            let events: usize = row["events"].parse().unwrap();
            assert_eq!(text.lines().count(), events, "{name}: lines");
            assert_eq!(h.len(), events, "{name}: events");
            for op in h.ops() {
                assert!(matches!(op.process, Process::Client(_)), "{name}: {op:?}");
                match group {
                    "etcd" => assert!(["read", "write", "cas"].contains(&op.f.as_str())),
                    _ => assert!(
                        matches!(op.value.as_list(), Some([Value::Str(_), _])),
                        "{name}: {op:?} is not a [key value] tuple"
                    ),
                }
            }
            let invokes = h.ops().iter().filter(|o| o.kind == OpType::Invoke).count();
            assert_eq!(invokes, h.client_pairs().count(), "{name}");
        }
    }
    assert_eq!(
        seen,
        verdicts.len(),
        "every row of VERDICTS.tsv names a file"
    );
}

#[test]
fn every_hand_written_jepsen_history_parses_into_its_event_count() {
    let root = data().join("jepsen");
    let verdicts = table(&root.join("VERDICTS.tsv"));
    for (name, row) in &verdicts {
        let loaded = read_path(&root.join(name), None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.format, Format::Edn, "{name}");
        assert_eq!(
            loaded.history.len(),
            row["events"].parse::<usize>().unwrap(),
            "{name}"
        );
        assert!(
            loaded.history.warnings().is_empty(),
            "{name}: {:?}",
            loaded.history.warnings()
        );
        if row["independent"] == "yes" {
            for op in loaded.history.client_pairs().map(|(inv, _)| inv) {
                assert!(
                    matches!(op.value.as_list(), Some([Value::Int(_), _])),
                    "{name}: {op:?}"
                );
            }
        }
    }
}
