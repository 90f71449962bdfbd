#![allow(dead_code)] // INVALID and UNKNOWN are used once the checking subcommands land.
//! Exit codes: the CI gate. Named once here; `--help` and the README list the same values.

/// Every checker said valid.
pub const VALID: i32 = 0;
/// At least one checker found an anomaly.
pub const INVALID: i32 = 1;
/// Bad usage, or an input that could not be read (named file, line and field in the message).
pub const USAGE: i32 = 2;
/// No anomaly found, but some checker gave up (a time, state or memory budget ran out).
pub const UNKNOWN: i32 = 3;
/// The harness itself failed (a cluster would not start, not root, a tool missing, ...).
pub const HARNESS: i32 = 4;

/// The text `--help` prints after the command list.
pub const HELP: &str =
    "Exit codes: 0 valid, 1 anomalies found (invalid), 2 bad usage or unreadable input, \
3 unknown (a checker's budget ran out), 4 the harness itself failed.";
