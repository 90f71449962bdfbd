//! `results.json`: the verdict data a report is built from, written next to `index.html` and
//! read back by `faultline report`.

use std::path::Path;

use faultline_checker::{Validity, Verdict};
use serde::{Deserialize, Serialize};

use crate::ReportError;

/// What a run concluded: the overall verdict and every checker's verdict. Fields this
/// struct does not name (written by the run harness) are kept in `extra` and written back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub valid: Validity,
    #[serde(default)]
    pub verdicts: Vec<Verdict>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RunResults {
    /// Results for these verdicts; the overall verdict combines them (invalid beats unknown
    /// beats valid). No verdicts at all is unknown: nothing was checked.
    pub fn new(verdicts: &[Verdict]) -> RunResults {
        RunResults {
            valid: overall(verdicts),
            verdicts: verdicts.to_vec(),
            extra: serde_json::Map::new(),
        }
    }

    /// Reads `results.json`, naming the file and the problem on failure.
    pub fn read(path: &Path) -> Result<RunResults, ReportError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| ReportError::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            message: e.to_string(),
        })
    }

    /// Writes pretty JSON, so a diff of two runs' results reads well.
    pub fn write(&self, path: &Path) -> Result<(), ReportError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| ReportError::Parse {
            path: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })?;
        std::fs::write(path, text + "\n").map_err(|e| ReportError::io(path, e))
    }
}

/// The overall verdict of a set of checker verdicts.
pub fn overall(verdicts: &[Verdict]) -> Validity {
    if verdicts.is_empty() {
        return Validity::Unknown;
    }
    verdicts
        .iter()
        .fold(Validity::Valid, |acc, v| acc.and(v.valid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"valid":"invalid","verdicts":[],"seed":42,"elapsed_s":1.5}"#;
        let r: RunResults = serde_json::from_str(text).unwrap();
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.extra["seed"], 42);
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["elapsed_s"], 1.5);
    }

    #[test]
    fn no_verdicts_is_unknown_and_invalid_dominates() {
        assert_eq!(overall(&[]), Validity::Unknown);
        let mut bad = Verdict::valid("b");
        bad.valid = Validity::Invalid;
        let vs = [Verdict::valid("a"), Verdict::unknown("u", "budget"), bad];
        assert_eq!(overall(&vs), Validity::Invalid);
        assert_eq!(overall(&vs[..2]), Validity::Unknown);
    }
}
