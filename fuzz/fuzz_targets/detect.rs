//! Format detection plus whichever reader it picks (what `faultline check FILE` does with
//! no --format): never panics, on any text.
#![no_main]
use faultline_fuzz::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let _ = faultline_core::format::detect(text);
    let _ = read(text, None);
});
