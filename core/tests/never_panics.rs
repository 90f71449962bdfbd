//! The EDN reader and every history reader return an error, never a panic, on arbitrary
//! bytes and on valid histories with random edits.

use std::path::{Path, PathBuf};

use faultline_core::format::{edn, read_str, Format};
use proptest::prelude::*;

fn sample(rel: &str) -> String {
    let p: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(rel);
    std::fs::read_to_string(p).unwrap()
}

fn read_every_way(text: &str) {
    let path = Path::new("fuzz");
    let _ = read_str(path, text, None);
    for f in Format::ALL {
        let _ = read_str(path, text, Some(f));
    }
}

/// An edit: replace, insert or delete bytes at a position (as a fraction of the length).
#[derive(Debug, Clone)]
enum Edit {
    Replace(f64, u8),
    Insert(f64, Vec<u8>),
    Delete(f64, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    // Bytes that matter to EDN more often than chance would pick them.
    let byte = prop_oneof![
        prop::sample::select(b"[](){}#_:;\\\"\n\t ,0123456789-+.eNM/^@'`~".to_vec()),
        any::<u8>(),
    ];
    prop_oneof![
        (0.0..1.0, byte.clone()).prop_map(|(at, b)| Edit::Replace(at, b)),
        (0.0..1.0, prop::collection::vec(byte, 1..8)).prop_map(|(at, b)| Edit::Insert(at, b)),
        (0.0..1.0, 1usize..40).prop_map(|(at, n)| Edit::Delete(at, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut b = text.as_bytes().to_vec();
    for e in edits {
        let at = |f: f64, len: usize| ((f * len as f64) as usize).min(len);
        match e {
            Edit::Replace(f, x) => {
                if !b.is_empty() {
                    let i = at(*f, b.len() - 1);
                    b[i] = *x;
                }
            }
            Edit::Insert(f, xs) => {
                let i = at(*f, b.len());
                b.splice(i..i, xs.iter().copied());
            }
            Edit::Delete(f, n) => {
                let i = at(*f, b.len());
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = edn::parse(&text);
        read_every_way(&text);
    }

    #[test]
    fn edn_shaped_noise(tokens in prop::collection::vec(prop::sample::select(vec![
        "[", "]", "(", ")", "{", "}", "#{", "#_", "#inst", "#:ns{", "##Inf", "\"s\\n\"", "\"",
        "\\a", "\\newline", ":k", ":a/b", "sym", "1", "-2N", "3.5M", "1/2", "99999999999999999999",
        "nil", "true", ";c\n", ",", " ", "\n", "\\u00e9", "#jepsen.history.Op", ":type :invoke",
        ":process 0", ":f :read", ":process :nemesis", ":type :ok", ":value", ":key \"k\"",
    ]), 0..60)) {
        let text = tokens.concat();
        let _ = edn::parse(&text);
        read_every_way(&text);
    }

    #[test]
    fn mutated_histories(
        which in 0usize..5,
        edits in prop::collection::vec(edit(), 1..6),
    ) {
        let file = [
            "jepsen/cas-register-ok.edn",
            "jepsen/independent-cas-ok.edn",
            "jepsen/list-append.edn",
            "porcupine/etcd/etcd_000.log",
            "porcupine/kv/c01-ok.txt",
        ][which];
        let text = apply(&sample(file), &edits);
        read_every_way(&text);
    }
}
