//! Porcupine kv reader: never panics; what it reads exports as EDN and JSONL and reads back.
#![no_main]
use faultline_core::format::Format;
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let Some(loaded) = read(text, Some(Format::PorcupineKv)) else {
        return;
    };
    assert_edn_round_trip(loaded.history.ops());
    assert_jsonl_round_trip(loaded.history.ops());
});
