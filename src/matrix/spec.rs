//! The matrix file: `[defaults]` and `[[row]]`s, each a test (target, mode and options,
//! workload, nemesis, time limit) with what each checker must say. Errors name the file,
//! the line and the field.
//!
//! ```toml
//! [defaults]
//! nodes = 3
//! time_limit = 20
//!
//! [[row]]
//! name = "pg-repeatable-read"
//! target = "postgres"
//! workload = "list-append"
//! nemesis = "none"
//! options = { isolation = "repeatable-read" }
//! literature = "Snapshot isolation allows write skew (G2-item) but no G0/G1."
//! expect = { elle-list-append = { found = ["G2-item"], absent = ["G0", "G1c"] } }
//! ```
//!
//! An expectation is `"valid"`, `"invalid"` (some anomaly), `"any"` (recorded, not judged:
//! for anomalies a mode allows but a short run need not hit), a list of anomaly kinds that
//! must all be found, or a table `{ found = [...], absent = [...] }`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RowSettings {
    pub target: Option<String>,
    pub mode: Option<String>,
    #[serde(default)]
    pub options: BTreeMap<String, toml::Value>,
    pub workload: Option<String>,
    pub nemesis: Option<String>,
    pub nemesis_interval: Option<f64>,
    pub nodes: Option<usize>,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub time_limit: Option<f64>,
    pub op_timeout: Option<f64>,
    pub seed: Option<u64>,
}

/// What one checker must say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Valid,
    Invalid,
    Any,
    Kinds {
        found: Vec<String>,
        absent: Vec<String>,
    },
}

impl Expect {
    pub fn describe(&self) -> String {
        match self {
            Expect::Valid => "valid".into(),
            Expect::Invalid => "invalid".into(),
            Expect::Any => "any".into(),
            Expect::Kinds { found, absent } => {
                let mut parts = Vec::new();
                if !found.is_empty() {
                    parts.push(found.join("+"));
                }
                if !absent.is_empty() {
                    parts.push(format!("no {}", absent.join("/")));
                }
                parts.join(", ")
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawExpect {
    Word(String),
    List(Vec<String>),
    Table {
        #[serde(default)]
        found: Vec<String>,
        #[serde(default)]
        absent: Vec<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRow {
    name: String,
    target: Option<String>,
    mode: Option<String>,
    #[serde(default)]
    options: BTreeMap<String, toml::Value>,
    workload: Option<String>,
    nemesis: Option<String>,
    nemesis_interval: Option<f64>,
    nodes: Option<usize>,
    concurrency: Option<usize>,
    rate: Option<f64>,
    time_limit: Option<f64>,
    op_timeout: Option<f64>,
    seed: Option<u64>,
    /// What the literature says this mode must and must not show (for the table and README).
    literature: Option<String>,
    #[serde(default)]
    expect: BTreeMap<String, RawExpect>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    defaults: RowSettings,
    #[serde(default)]
    row: Vec<RawRow>,
}

/// One row, with the defaults applied.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub name: String,
    pub settings: RowSettings,
    pub literature: String,
    pub expect: Vec<(String, Expect)>,
}

pub use crate::spec_error::SpecFileError as MatrixError;

/// The line of the `n`th `[[row]]` header (1-based), or of `needle` after it.
fn row_line(text: &str, n: usize, needle: Option<&str>) -> usize {
    let mut seen = 0;
    let mut header = 1;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t == "[[row]]" {
            seen += 1;
            if seen == n + 1 {
                header = i + 1;
            } else if seen > n + 1 {
                break;
            }
            continue;
        }
        if seen == n + 1 {
            if let Some(nd) = needle {
                if t.contains(nd) {
                    return i + 1;
                }
            }
        }
    }
    header
}

const EXPECT_WORDS: &[&str] = &["valid", "invalid", "any"];

fn merge(d: &RowSettings, r: &RowSettings) -> RowSettings {
    let mut options = d.options.clone();
    options.extend(r.options.clone());
    RowSettings {
        target: r.target.clone().or(d.target.clone()),
        mode: r.mode.clone().or(d.mode.clone()),
        options,
        workload: r.workload.clone().or(d.workload.clone()),
        nemesis: r.nemesis.clone().or(d.nemesis.clone()),
        nemesis_interval: r.nemesis_interval.or(d.nemesis_interval),
        nodes: r.nodes.or(d.nodes),
        concurrency: r.concurrency.or(d.concurrency),
        rate: r.rate.or(d.rate),
        time_limit: r.time_limit.or(d.time_limit),
        op_timeout: r.op_timeout.or(d.op_timeout),
        seed: r.seed.or(d.seed),
    }
}

pub fn load(path: &Path) -> Result<Vec<Row>, MatrixError> {
    let text = std::fs::read_to_string(path).map_err(|e| MatrixError::Read {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&path.display().to_string(), &text)
}

pub fn parse(file: &str, text: &str) -> Result<Vec<Row>, MatrixError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| MatrixError::Toml {
        file: file.to_string(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let mut rows = Vec::with_capacity(raw.row.len());
    let mut names = std::collections::BTreeSet::new();
    for (i, r) in raw.row.into_iter().enumerate() {
        let err = |field: &str, needle: Option<&str>, message: String| MatrixError::Field {
            file: file.to_string(),
            line: row_line(text, i, needle),
            field: format!("row[{i}].{field}"),
            message,
        };
        if r.name.is_empty()
            || !r
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(err(
                "name",
                Some("name"),
                format!("{:?}: use letters, digits, '-', '_' and '.'", r.name),
            ));
        }
        if !names.insert(r.name.clone()) {
            return Err(err(
                "name",
                Some("name"),
                format!("{:?} names two rows", r.name),
            ));
        }
        let own = RowSettings {
            target: r.target,
            mode: r.mode,
            options: r.options,
            workload: r.workload,
            nemesis: r.nemesis,
            nemesis_interval: r.nemesis_interval,
            nodes: r.nodes,
            concurrency: r.concurrency,
            rate: r.rate,
            time_limit: r.time_limit,
            op_timeout: r.op_timeout,
            seed: r.seed,
        };
        let settings = merge(&raw.defaults, &own);
        if settings.target.is_none() {
            return Err(err(
                "target",
                None,
                "no target (and none in [defaults])".into(),
            ));
        }
        if r.expect.is_empty() {
            return Err(err(
                "expect",
                None,
                "no expectations: say what each checker must find, e.g. expect = { linearizable = \"valid\" }".into(),
            ));
        }
        let mut expect = Vec::new();
        for (checker, e) in r.expect {
            let e = match e {
                RawExpect::Word(w) => match w.as_str() {
                    "valid" => Expect::Valid,
                    "invalid" => Expect::Invalid,
                    "any" => Expect::Any,
                    other => {
                        return Err(err(
                            &format!("expect.{checker}"),
                            Some(&checker),
                            format!(
                                "{other:?} is not an expectation: use {}, a list of anomaly kinds, or {{ found = [...], absent = [...] }}",
                                EXPECT_WORDS.join(", ")
                            ),
                        ))
                    }
                },
                RawExpect::List(found) => Expect::Kinds {
                    found,
                    absent: Vec::new(),
                },
                RawExpect::Table { found, absent } => Expect::Kinds { found, absent },
            };
            expect.push((checker, e));
        }
        rows.push(Row {
            name: r.name,
            settings,
            literature: r.literature.unwrap_or_default(),
            expect,
        });
    }
    if rows.is_empty() {
        return Err(MatrixError::Toml {
            file: file.to_string(),
            message: "no [[row]] tables".into(),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[defaults]
nodes = 3
time_limit = 10
options = { reads = "any" }

[[row]]
name = "a"
target = "replica"
mode = "raft"
expect = { linearizable = "valid" }

[[row]]
name = "b"
target = "postgres"
time_limit = 5
options = { isolation = "repeatable-read" }
expect = { elle-list-append = { found = ["G2-item"], absent = ["G0"] }, session = ["read-your-writes"] }
"#;

    #[test]
    fn parses_rows_with_defaults_applied() {
        let rows = parse("m.toml", GOOD).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].settings.nodes, Some(3));
        assert_eq!(rows[1].settings.time_limit, Some(5.0));
        assert_eq!(rows[1].settings.options.len(), 2);
        assert_eq!(rows[0].expect, vec![("linearizable".into(), Expect::Valid)]);
        assert_eq!(
            rows[1].expect[0].1,
            Expect::Kinds {
                found: vec!["G2-item".into()],
                absent: vec!["G0".into()]
            }
        );
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let bad = GOOD.replace("linearizable = \"valid\"", "linearizable = \"vald\"");
        let e = parse("m.toml", &bad).unwrap_err().to_string();
        assert!(
            e.starts_with("m.toml:11: field row[0].expect.linearizable: \"vald\""),
            "{e}"
        );

        let dup = GOOD.replace("name = \"b\"", "name = \"a\"");
        let e = parse("m.toml", &dup).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:14: field row[1].name"), "{e}");

        let unknown = GOOD.replace("time_limit = 5", "time_limt = 5");
        let e = parse("m.toml", &unknown).unwrap_err().to_string();
        assert!(e.contains("time_limt"), "{e}");

        let typed = GOOD.replace("nodes = 3", "nodes = \"three\"");
        let e = parse("m.toml", &typed).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("nodes"), "{e}");

        let no_target = GOOD.replace("target = \"replica\"\n", "");
        let e = parse("m.toml", &no_target).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:7: field row[0].target"), "{e}");
    }
}
