//! The generic EDN reader: never panics (deep nesting included); a value it reads writes
//! back as text that reads as the same value, and writing is then a fixpoint.
#![no_main]
use faultline_core::format::edn;
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let Ok(v) = edn::parse(text) else { return };
    let written = edn::to_string(&v);
    let back = match edn::parse(&written) {
        Ok(b) => b,
        Err(e) => panic!("{written:?} (written from {text:?}) does not read back: {e}"),
    };
    if edn_exact(&v) {
        assert_eq!(back, v, "{text:?} -> {written:?}");
    }
    assert_eq!(edn::to_string(&back), written);
});
