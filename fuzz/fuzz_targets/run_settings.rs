//! `faultline run --test FILE.toml`: any file is read as settings or an error naming file
//! and line, never a panic; settings that pass `check` can be turned into the durations the
//! run loop uses and into the reproduce command.
#![no_main]
#![allow(dead_code)]
use libfuzzer_sys::fuzz_target;

// The settings live in the binary crate; compile the same file here.
#[path = "../../src/run/settings.rs"]
mod settings;

use settings::{read_file, File, Settings};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("faultline-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("test.toml");
    if std::fs::write(&path, text).is_err() {
        return;
    }
    let read = read_file(&path);
    // Leave nothing behind in /tmp.
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
    let file = match read {
        Ok(f) => f,
        Err(e) => {
            assert!(e.to_string().starts_with(&path.display().to_string()));
            return;
        }
    };
    let s = Settings::resolve(file, File::default(), None);
    if s.check().is_ok() {
        for v in [
            s.time_limit,
            s.op_timeout,
            s.nemesis_interval,
            s.check_timeout,
        ] {
            let _ = std::time::Duration::from_secs_f64(v);
        }
        let _ = s.reproduce();
        let _ = s.node_options();
        let _ = serde_json::to_string(&s).expect("settings serialize");
    }
});
