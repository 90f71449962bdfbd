//! `faultline matrix` spec files (TOML): any text gives rows or an error naming the file,
//! never a panic; row names are unique.
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

// The spec reader lives in the binary crate; compile the same files here.
#[path = "../../src/spec_error.rs"]
mod spec_error;
#[path = "../../src/matrix/spec.rs"]
mod spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match spec::parse("m.toml", text) {
        Ok(rows) => {
            let mut names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
            names.sort_unstable();
            let n = names.len();
            names.dedup();
            assert_eq!(n, names.len(), "duplicate row names were accepted");
        }
        Err(e) => assert!(e.to_string().starts_with("m.toml")),
    }
});
