//! faultline-reports: what a person reads after a run. A serialisable view-model
//! ([`ReportModel`]) is built from the history, the checkers' verdicts and the test's
//! settings; renderers turn it into one self-contained `index.html` (CSS, JS, SVG and data
//! inlined, no network), and the verdicts into `results.json` and `junit.xml`.
//!
//! Rendering never changes a verdict: the model only reads them, and a drawing that fails
//! becomes a note on the page and in [`ReportFiles::notes`] (and on stderr), never a panic.
//! Every value that came from the system under test is escaped ([`escape`]).
//!
//! ```
//! use faultline_checker::elle::ListAppend;
//! use faultline_checker::{Budget, Checker};
//! use faultline_core::dsl::{la, Builder};
//!
//! let mut b = Builder::new();
//! b.txn(0, la("rx_ ry_ ax1")).txn(1, la("rx_ ry_ ay1"))
//!     .ok(0, la("rx_ ry_ ax1")).ok(1, la("rx_ ry_ ay1"))
//!     .txn_ok(2, la("rx1 ry1"));
//! let history = b.build();
//! let verdicts = vec![ListAppend::default().check(&history, &Budget::unlimited())];
//! let dir = tempfile::tempdir().unwrap();
//! let settings = serde_json::json!({"name": "doc example", "seed": 7});
//! let files = faultline_reports::write_report(dir.path(), &history, &verdicts, &settings).unwrap();
//! let html = std::fs::read_to_string(&files.index_html).unwrap();
//! assert!(html.contains("Invalid") && html.contains("G2-item"));
//! ```

pub mod escape;
mod junit;
pub mod model;
mod render;
pub mod results;

use std::path::{Path, PathBuf};

use faultline_checker::Verdict;
use faultline_core::History;

pub use junit::junit;
pub use model::{Options, ReportModel};
pub use results::RunResults;

/// The files a report wrote.
#[derive(Clone, Debug)]
pub struct ReportFiles {
    pub index_html: PathBuf,
    pub results_json: PathBuf,
    pub junit_xml: PathBuf,
    /// Drawings that failed (also on the page and on stderr). The verdicts are unaffected.
    pub notes: Vec<String>,
}

/// Why a report could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl ReportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ReportError {
        ReportError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Renders the page for a model. Returns the HTML and the notes of drawings that failed.
pub fn render_html(model: &ReportModel) -> (String, Vec<String>) {
    render::page(model)
}

/// Writes `index.html`, `results.json` and `junit.xml` into `out_dir` (created if missing).
/// `settings` is the test's settings (`test.json`), shown as a table; `Null` if there are none.
pub fn write_report(
    out_dir: &Path,
    history: &History,
    verdicts: &[Verdict],
    settings: &serde_json::Value,
) -> Result<ReportFiles, ReportError> {
    let results = RunResults::new(verdicts);
    write_report_with(out_dir, history, &results, settings, &Options::default())
}

/// [`write_report`] with results read from disk (keeping fields the harness added) and
/// explicit limits.
pub fn write_report_with(
    out_dir: &Path,
    history: &History,
    results: &RunResults,
    settings: &serde_json::Value,
    options: &Options,
) -> Result<ReportFiles, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    // The verdicts first: they matter more than any picture of them.
    results.write(&out_dir.join("results.json"))?;
    write_pages(out_dir, history, results, settings, options)
}

/// Writes `index.html` and `junit.xml` only, leaving `results.json` as it is: what
/// `faultline report RUN_DIR` does to regenerate a run's report.
pub fn write_pages(
    out_dir: &Path,
    history: &History,
    results: &RunResults,
    settings: &serde_json::Value,
    options: &Options,
) -> Result<ReportFiles, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|e| ReportError::io(out_dir, e))?;
    let files = ReportFiles {
        index_html: out_dir.join("index.html"),
        results_json: out_dir.join("results.json"),
        junit_xml: out_dir.join("junit.xml"),
        notes: Vec::new(),
    };
    let suite = settings
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("faultline");
    std::fs::write(&files.junit_xml, junit(suite, &results.verdicts))
        .map_err(|e| ReportError::io(&files.junit_xml, e))?;
    let mut model = ReportModel::build(history, &results.verdicts, settings, options);
    // The page shows the overall verdict as recorded, even if a harness combined it differently.
    model.valid = results.valid;
    let (html, notes) = render_html(&model);
    for n in &notes {
        eprintln!("faultline report: {n}");
    }
    std::fs::write(&files.index_html, html).map_err(|e| ReportError::io(&files.index_html, e))?;
    Ok(ReportFiles { notes, ..files })
}
