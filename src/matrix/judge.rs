//! Comparing what a row's run found (its `results.json`) with what the row expects.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::spec::Expect;

/// What one checker said, as read from results.json.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub checker: String,
    /// `valid`, `invalid` or `unknown`.
    pub valid: String,
    pub kinds: BTreeSet<String>,
}

impl Found {
    pub fn describe(&self) -> String {
        if self.kinds.is_empty() {
            self.valid.clone()
        } else {
            self.kinds.iter().cloned().collect::<Vec<_>>().join("+")
        }
    }
}

/// The checkers' verdicts in a results.json.
pub fn read_found(results: &Json) -> Vec<Found> {
    // `verdicts` in the reports' shape; `checkers` in results.json files written before it.
    let list = results.get("verdicts").or_else(|| results.get("checkers"));
    let Some(checkers) = list.and_then(Json::as_array) else {
        return Vec::new();
    };
    checkers
        .iter()
        .map(|c| {
            let mut kinds: BTreeSet<String> = c
                .get("anomalies")
                .and_then(Json::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("kind").and_then(Json::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            // Checkers that cap the anomalies they list still count every kind.
            if let Some(Json::Object(m)) = c.get("stats").and_then(|s| s.get("anomaly-counts")) {
                kinds.extend(m.keys().cloned());
            }
            Found {
                checker: c
                    .get("checker")
                    .and_then(Json::as_str)
                    .unwrap_or("?")
                    .to_string(),
                valid: c
                    .get("valid")
                    .and_then(Json::as_str)
                    .unwrap_or("unknown")
                    .to_string(),
                kinds,
            }
        })
        .collect()
}

/// Whether `found` meets every expectation; the reasons it does not.
pub fn judge(expect: &[(String, Expect)], found: &[Found]) -> Vec<String> {
    let mut reasons = Vec::new();
    for (checker, e) in expect {
        let Some(f) = found.iter().find(|f| &f.checker == checker) else {
            if *e != Expect::Any {
                reasons.push(format!("{checker}: did not run"));
            }
            continue;
        };
        match e {
            Expect::Any => {}
            Expect::Valid if f.valid != "valid" => {
                reasons.push(format!("{checker}: expected valid, found {}", f.describe()))
            }
            Expect::Invalid if f.valid != "invalid" => {
                reasons.push(format!("{checker}: expected anomalies, found {}", f.valid))
            }
            Expect::Kinds {
                found: want,
                absent,
            } => {
                let missing: Vec<&String> = want.iter().filter(|k| !f.kinds.contains(*k)).collect();
                if !missing.is_empty() {
                    reasons.push(format!(
                        "{checker}: expected {}, not found (found {})",
                        missing
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        f.describe()
                    ));
                }
                let present: Vec<&String> =
                    absent.iter().filter(|k| f.kinds.contains(*k)).collect();
                if !present.is_empty() {
                    reasons.push(format!(
                        "{checker}: found {}, which this mode must not show",
                        present
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            _ => {}
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results() -> Json {
        serde_json::json!({"verdicts": [
            {"checker": "elle-list-append", "valid": "invalid",
             "anomalies": [{"kind": "G2-item"}], "stats": {"anomaly-counts": {"G-single": 2}}},
            {"checker": "session", "valid": "valid", "anomalies": []},
            {"checker": "linearizable", "valid": "unknown", "anomalies": []},
        ]})
    }

    #[test]
    fn reads_kinds_from_anomalies_and_counts() {
        let f = read_found(&results());
        assert_eq!(f[0].describe(), "G-single+G2-item");
        assert_eq!(f[1].describe(), "valid");
    }

    #[test]
    fn judges_each_kind_of_expectation() {
        let f = read_found(&results());
        let k = |found: &[&str], absent: &[&str]| Expect::Kinds {
            found: found.iter().map(|s| s.to_string()).collect(),
            absent: absent.iter().map(|s| s.to_string()).collect(),
        };
        assert!(judge(&[("elle-list-append".into(), k(&["G2-item"], &["G0"]))], &f).is_empty());
        assert!(judge(&[("session".into(), Expect::Valid)], &f).is_empty());
        assert!(judge(&[("linearizable".into(), Expect::Any)], &f).is_empty());
        assert!(judge(&[("prefix".into(), Expect::Any)], &f).is_empty());
        let r = judge(&[("linearizable".into(), Expect::Valid)], &f);
        assert_eq!(r, vec!["linearizable: expected valid, found unknown"]);
        let r = judge(&[("elle-list-append".into(), k(&["G0"], &["G2-item"]))], &f);
        assert_eq!(r.len(), 2, "{r:?}");
        let r = judge(&[("bank".into(), Expect::Valid)], &f);
        assert_eq!(r, vec!["bank: did not run"]);
    }
}
