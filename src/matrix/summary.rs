//! The matrix's outputs: a terminal table, `index.html` linking every row's run, and
//! `junit.xml` (one test case per row) for CI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How a row ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every expectation met.
    Pass,
    /// The run finished but some checker said something else than expected.
    Fail,
    /// The target's software is missing and could not be installed.
    Skipped,
    /// The harness could not run the row (a cluster would not start, ...).
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skipped => "skipped",
            Status::Error => "ERROR",
        }
    }
}

#[derive(Clone, Debug)]
pub struct RowResult {
    pub name: String,
    pub target: String,
    pub status: Status,
    pub expected: String,
    pub found: String,
    pub secs: f64,
    pub reasons: Vec<String>,
    pub literature: String,
    /// The row's run directory.
    pub run_dir: Option<PathBuf>,
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The terminal table.
pub fn table(rows: &[RowResult]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<44} {:<44} {:<8} {:>7}",
        "row", "expected", "found", "result", "time"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<28} {:<44} {:<44} {:<8} {:>6.1}s",
            cut(&r.name, 28),
            cut(&r.expected, 44),
            cut(&r.found, 44),
            r.status.as_str(),
            r.secs
        );
        for why in &r.reasons {
            let _ = writeln!(out, "    {why}");
        }
    }
    out
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A link to a row's report, relative to `out` when possible: its index.html if the run
/// wrote one, else results.json.
fn report_link(out: &Path, dir: &Path) -> Option<String> {
    let target = ["index.html", "results.json"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())?;
    let abs_out = out.canonicalize().unwrap_or_else(|_| out.to_path_buf());
    let rel = target
        .strip_prefix(&abs_out)
        .map(Path::to_path_buf)
        .unwrap_or(target);
    Some(rel.display().to_string())
}

/// A self-contained summary page.
pub fn html(title: &str, out: &Path, rows: &[RowResult]) -> String {
    let mut body = String::new();
    for r in rows {
        let color = match r.status {
            Status::Pass => "#e6f4ea",
            Status::Fail | Status::Error => "#fce8e6",
            Status::Skipped => "#f1f3f4",
        };
        let link = r
            .run_dir
            .as_deref()
            .and_then(|d| report_link(out, d))
            .map(|l| format!("<a href=\"{}\">report</a>", escape(&l)))
            .unwrap_or_default();
        let reasons = if r.reasons.is_empty() {
            String::new()
        } else {
            format!("<br><small>{}</small>", escape(&r.reasons.join("; ")))
        };
        let _ = writeln!(
            body,
            "<tr style=\"background:{color}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td><b>{}</b>{reasons}</td><td>{:.1} s</td><td>{link}</td><td><small>{}</small></td></tr>",
            escape(&r.name),
            escape(&r.target),
            escape(&r.expected),
            escape(&r.found),
            r.status.as_str(),
            r.secs,
            escape(&r.literature)
        );
    }
    let passed = rows.iter().filter(|r| r.status == Status::Pass).count();
    let skipped = rows.iter().filter(|r| r.status == Status::Skipped).count();
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}}</style>\n\
         </head><body><h1>{t}</h1><p>{passed} of {n} rows matched their expectations; {skipped} skipped.</p>\n\
         <table><tr><th>row</th><th>target</th><th>expected</th><th>found</th><th>result</th>\
         <th>time</th><th>run</th><th>what the literature says</th></tr>\n{body}</table></body></html>\n",
        t = escape(title),
        n = rows.len()
    )
}

/// JUnit XML: one test case per row; a mismatch is a failure, a harness error an error.
pub fn junit(suite: &str, rows: &[RowResult]) -> String {
    let failures = rows.iter().filter(|r| r.status == Status::Fail).count();
    let errors = rows.iter().filter(|r| r.status == Status::Error).count();
    let skipped = rows.iter().filter(|r| r.status == Status::Skipped).count();
    let total: f64 = rows.iter().map(|r| r.secs).sum();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"{}\" tests=\"{}\" \
         failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{total:.3}\">\n",
        escape(suite),
        rows.len()
    );
    for r in rows {
        let _ = write!(
            out,
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            escape(suite),
            escape(&r.name),
            r.secs
        );
        let msg = escape(&r.reasons.join("; "));
        match r.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Fail => {
                let _ = write!(
                    out,
                    ">\n    <failure message=\"{msg}\">expected: {}\nfound: {}</failure>\n  </testcase>\n",
                    escape(&r.expected),
                    escape(&r.found)
                );
            }
            Status::Error => {
                let _ = write!(out, ">\n    <error message=\"{msg}\"/>\n  </testcase>\n");
            }
            Status::Skipped => {
                let _ = write!(out, ">\n    <skipped message=\"{msg}\"/>\n  </testcase>\n");
            }
        }
    }
    out.push_str("</testsuite>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, status: Status) -> RowResult {
        RowResult {
            name: name.into(),
            target: "replica".into(),
            status,
            expected: "linearizable: valid".into(),
            found: "linearizable: valid".into(),
            secs: 1.5,
            reasons: if status == Status::Pass {
                vec![]
            } else {
                vec!["x <y>".into()]
            },
            literature: "Raft: linearizable".into(),
            run_dir: None,
        }
    }

    #[test]
    fn junit_counts_and_escapes() {
        let x = junit(
            "m",
            &[
                row("a", Status::Pass),
                row("b", Status::Fail),
                row("c", Status::Skipped),
            ],
        );
        assert!(
            x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{x}"
        );
        assert!(x.contains("<failure message=\"x &lt;y&gt;\">"), "{x}");
        assert!(x.contains("<skipped message="), "{x}");
    }

    #[test]
    fn html_and_table_list_every_row() {
        let rows = [row("a<b", Status::Pass), row("c", Status::Error)];
        let h = html("matrix", Path::new("."), &rows);
        assert!(h.contains("a&lt;b") && h.contains("ERROR"));
        assert!(h.contains("1 of 2 rows matched"));
        let t = table(&rows);
        assert!(t.contains("a<b") && t.contains("    x <y>"));
    }
}
