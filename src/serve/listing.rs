//! The pages `faultline serve` makes itself: the index of runs with their verdicts, and a
//! plain listing of a directory without an `index.html`.

use std::path::{Path, PathBuf};

use faultline_reports::escape::esc;
use faultline_reports::RunResults;

/// Runs listed at most.
const MAX_RUNS: usize = 2_000;
/// How deep to look for runs: `runs/<test>/<timestamp>/` is two levels.
const MAX_DEPTH: usize = 3;

const STYLE: &str = "body{font:15px/1.5 system-ui,'DejaVu Sans',sans-serif;margin:0;background:#f6f8fa;color:#1f2328}\
main{max-width:1100px;margin:0 auto;padding:24px}h1{font-size:22px}\
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d8dee4}\
th,td{text-align:left;padding:7px 12px;border-bottom:1px solid #d8dee4}th{background:#f0f3f6;font-size:13px;color:#59636e}\
a{color:#0969da;text-decoration:none}code{font-family:'DejaVu Sans Mono',monospace;font-size:13px}\
.b{display:inline-block;padding:1px 10px;border-radius:999px;font-size:12.5px;font-weight:650;text-transform:uppercase}\
.valid{background:#e6f4ea;color:#1e8e3e}.invalid{background:#fce8e6;color:#d93025}.unknown,.none{background:#fef3e0;color:#e37400}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        esc(title)
    )
}

/// A URL path for a relative filesystem path, each segment percent-encoded as needed.
fn href(rel: &Path) -> String {
    let mut out = String::from("/");
    for (i, seg) in rel.iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        for b in seg.to_string_lossy().bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                out.push(b as char);
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

fn find_runs(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if out.len() >= MAX_RUNS {
        return;
    }
    if dir.join("results.json").is_file() || dir.join("index.html").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subdirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subdirs.sort();
    for d in subdirs {
        find_runs(&d, depth - 1, out);
    }
}

/// Every run under `root` (newest path first), with its verdict and what was found.
pub fn runs_index(root: &Path) -> String {
    let mut runs = Vec::new();
    find_runs(root, MAX_DEPTH, &mut runs);
    runs.retain(|r| r != root);
    runs.sort_by(|a, b| b.cmp(a));
    let mut body = format!(
        "<h1>faultline runs</h1><p>{} runs under <code>{}</code>.</p>",
        runs.len(),
        esc(&root.display().to_string())
    );
    if runs.is_empty() {
        body.push_str("<p>No runs yet: each run directory holds results.json and index.html.</p>");
        return page("faultline runs", &body);
    }
    body.push_str("<table><tr><th>run</th><th>verdict</th><th>findings</th><th>files</th></tr>");
    for run in &runs {
        let rel = run.strip_prefix(root).unwrap_or(run);
        let (verdict, findings) = match RunResults::read(&run.join("results.json")) {
            Ok(r) => {
                let found: Vec<String> = r
                    .verdicts
                    .iter()
                    .filter(|v| !v.anomalies.is_empty() || v.unknown_reason.is_some())
                    .map(|v| {
                        if v.anomalies.is_empty() {
                            format!("{}: unknown", v.checker)
                        } else {
                            format!("{}: {}", v.checker, v.kinds().join(", "))
                        }
                    })
                    .collect();
                let found = if found.is_empty() {
                    format!("{} checkers, no anomaly", r.verdicts.len())
                } else {
                    found.join("; ")
                };
                (r.valid.as_str().to_string(), found)
            }
            Err(_) => ("none".to_string(), "no readable results.json".to_string()),
        };
        let link = href(rel);
        body.push_str(&format!(
            "<tr><td><a href=\"{link}/\">{}</a></td><td><span class=\"b {verdict}\">{verdict}</span></td><td>{}</td><td><a href=\"{link}/results.json\">results.json</a> · <a href=\"{link}/junit.xml\">junit.xml</a> · <a href=\"{link}/history.jsonl\">history</a></td></tr>",
            esc(&rel.display().to_string()),
            esc(&findings)
        ));
    }
    body.push_str("</table>");
    if runs.len() >= MAX_RUNS {
        body.push_str(&format!(
            "<p>Only the first {MAX_RUNS} runs are listed.</p>"
        ));
    }
    page("faultline runs", &body)
}

/// A plain listing of a directory under `root`.
pub fn directory(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut names: Vec<(String, bool)> = std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .take(10_000)
                .map(|e| {
                    let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                    (e.file_name().to_string_lossy().into_owned(), is_dir)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut body = format!(
        "<h1>{}</h1><p><a href=\"/\">all runs</a></p><ul>",
        esc(&format!("/{}", rel.display()))
    );
    for (name, is_dir) in names {
        let link = href(&rel.join(&name));
        let slash = if is_dir { "/" } else { "" };
        body.push_str(&format!(
            "<li><a href=\"{link}{slash}\">{}{slash}</a></li>",
            esc(&name)
        ));
    }
    body.push_str("</ul>");
    page(&rel.display().to_string(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_encode_odd_names() {
        assert_eq!(href(Path::new("a b/<x>")), "/a%20b/%3Cx%3E");
    }

    #[test]
    fn the_index_lists_runs_with_their_verdicts() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("etcd/20260101T000000");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(
            run.join("results.json"),
            r#"{"valid":"invalid","verdicts":[{"checker":"elle","valid":"invalid","anomalies":[{"kind":"G2-item","ops":[1],"explanation":"x"}]}]}"#,
        )
        .unwrap();
        let bad = tmp.path().join("<bad>");
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("index.html"), "").unwrap();
        let html = runs_index(tmp.path());
        assert!(html.contains("2 runs"), "{html}");
        assert!(html.contains("<a href=\"/etcd/20260101T000000/\">etcd/20260101T000000</a>"));
        assert!(html.contains("class=\"b invalid\">invalid") && html.contains("elle: G2-item"));
        assert!(html.contains("&lt;bad&gt;") && html.contains("class=\"b none\""));
    }
}
