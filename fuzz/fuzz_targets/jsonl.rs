//! JSONL history reader: never panics; what it reads writes back (JSONL and EDN) and reads
//! again as the same history.
#![no_main]
use faultline_core::format::Format;
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let Some(loaded) = read(text, Some(Format::Jsonl)) else {
        return;
    };
    assert_jsonl_round_trip(loaded.history.ops());
    assert_edn_round_trip(loaded.history.ops());
});
