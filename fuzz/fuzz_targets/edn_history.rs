//! Jepsen history.edn reader (both shapes): never panics; export -> import is the identity.
#![no_main]
use faultline_core::format::Format;
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let Some(loaded) = read(text, Some(Format::Edn)) else {
        return;
    };
    assert_edn_round_trip(loaded.history.ops());
    assert_jsonl_round_trip(loaded.history.ops());
});
