//! The linearizability checker against every history with a known verdict: the Porcupine
//! corpus (`tests/data/porcupine/VERDICTS.tsv`: etcd logs with the `etcd` model, kv files with
//! `kv`) and the hand-written Jepsen EDN cas-register histories (`tests/data/jepsen/VERDICTS.tsv`).
//! The expected verdicts live in the tables, not here.

use std::path::{Path, PathBuf};

use faultline_checker::linearizable::{check_named, Options};
use faultline_checker::{Budget, Evidence, Validity};
use faultline_core::format::read_path;

fn data(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(dir)
}

/// Rows of a TSV with a header, as maps from column name to cell.
fn rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split('\t')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(String::from))
                .collect()
        })
        .collect()
}

fn expected(cell: &str) -> Validity {
    match cell {
        "ok" => Validity::Valid,
        "illegal" => Validity::Invalid,
        other => panic!("unknown expected verdict {other:?}"),
    }
}

fn model_for(corpus_model: &str) -> &'static str {
    match corpus_model {
        "etcd-cas-register" => "etcd",
        "kv-append-put-get" => "kv",
        "cas-register" => "cas-register",
        other => panic!("no model for {other:?}"),
    }
}

fn check_table(dir: &str, options: impl Fn(&std::collections::HashMap<String, String>) -> Options) {
    let dir = data(dir);
    let mut checked = 0;
    let mut wrong = Vec::new();
    for row in rows(&dir.join("VERDICTS.tsv")) {
        if row["model"] == "list-append" {
            continue; // Elle's business
        }
        let path = dir.join(&row["file"]);
        let loaded = read_path(&path, None).unwrap_or_else(|e| panic!("{e}"));
        let model = model_for(&row["model"]);
        let v = check_named(model, &loaded.history, &options(&row), &Budget::unlimited())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let want = expected(&row["expected"]);
        if v.valid != want {
            wrong.push(format!("{}: {} (expected {want})", row["file"], v.valid));
        }
        if v.valid == Validity::Invalid {
            let a = &v.anomalies[0];
            assert!(
                a.explanation.contains("cannot take effect"),
                "{}",
                a.explanation
            );
            let Evidence::Linearization {
                prefix,
                states,
                unplaceable,
                ..
            } = &a.evidence
            else {
                panic!("no linearization evidence for {}", row["file"]);
            };
            assert_eq!(prefix.len(), states.len());
            assert!(!unplaceable.is_empty());
        }
        checked += 1;
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
    assert!(checked > 0);
}

#[test]
fn linearizable_porcupine_corpus_verdicts() {
    check_table("porcupine", |_| Options::default());
}

#[test]
fn linearizable_jepsen_edn_verdicts() {
    check_table("jepsen", |row| Options {
        independent: row["independent"] == "yes",
        ..Options::default()
    });
}

#[test]
fn linearizable_kv_split_and_unsplit_agree_on_the_small_files() {
    for file in ["c01-ok.txt", "c01-bad.txt", "c10-ok.txt", "c10-bad.txt"] {
        let h = read_path(&data("porcupine/kv").join(file), None)
            .unwrap()
            .history;
        let split = check_named("kv", &h, &Options::default(), &Budget::unlimited()).unwrap();
        let whole = Options {
            partition: false,
            ..Options::default()
        };
        let unsplit = check_named("kv", &h, &whole, &Budget::unlimited()).unwrap();
        assert_eq!(split.valid, unsplit.valid, "{file}");
    }
}

#[test]
fn linearizable_all_keys_reports_every_illegal_key() {
    let h = read_path(&data("porcupine/kv/c10-bad.txt"), None)
        .unwrap()
        .history;
    let opts = Options {
        all_keys: true,
        ..Options::default()
    };
    let v = check_named("kv", &h, &opts, &Budget::unlimited()).unwrap();
    assert_eq!(v.valid, Validity::Invalid);
    assert!(v.anomalies.iter().all(|a| a.key.is_some()));
    assert!(!v.stats.contains_key("keys_unchecked"));
}

#[test]
fn linearizable_budget_gives_unknown_not_valid() {
    let h = read_path(&data("porcupine/kv/c50-ok.txt"), None)
        .unwrap()
        .history;
    let opts = Options {
        partition: false,
        ..Options::default()
    };
    let v = check_named("kv", &h, &opts, &Budget::unlimited().with_max_states(1000)).unwrap();
    assert_eq!(v.valid, Validity::Unknown);
    assert!(v.unknown_reason.unwrap().contains("search states ran out"));
}
