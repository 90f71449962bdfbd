//! `--target external` spec files (TOML with `{placeholder}` commands): any text gives a
//! spec or an error naming the file, never a panic; placeholder parsing and filling never
//! panic on any command.
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

// The spec reader lives in the binary crate; compile the same files here.
#[path = "../../src/spec_error.rs"]
mod spec_error;
#[path = "../../src/targets/external/spec.rs"]
mod spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let names = spec::placeholders(text);
    let values: Vec<(&str, String)> = names
        .iter()
        .map(|n| (n.as_str(), "v".to_string()))
        .collect();
    let _ = spec::fill(text, &values);
    if let Err(e) = spec::Spec::parse("t.toml", text, std::path::PathBuf::from("/nonexistent")) {
        assert!(e.to_string().starts_with("t.toml"), "{e}");
    }
});
