//! Golden files for the page, its two hand-written drawings and junit.xml, from a small fixed
//! history with hand-built verdicts. After an intended change, regenerate them with
//! `FAULTLINE_BLESS=1 cargo test -p faultline-reports --test golden` and review the diff.

mod fixture;

use std::path::PathBuf;

use faultline_reports::{junit, render_html, Options, ReportModel};

fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var("FAULTLINE_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with FAULTLINE_BLESS=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        let got = path.with_extension("actual");
        std::fs::write(&got, actual).unwrap();
        panic!(
            "{} differs from the golden file at line {} (actual output in {}); \
             if the change is intended, rerun with FAULTLINE_BLESS=1",
            path.display(),
            line + 1,
            got.display()
        );
    }
}

/// The first `<svg ... class="CLASS"` element of the page.
fn svg_of_class<'a>(html: &'a str, class: &str) -> &'a str {
    let start = html
        .find(&format!("class=\"{class}\""))
        .and_then(|i| html[..i].rfind("<svg"))
        .unwrap_or_else(|| panic!("no svg of class {class}"));
    let end = start + html[start..].find("</svg>").expect("unclosed svg") + "</svg>".len();
    &html[start..end]
}

#[test]
fn invalid_page_and_drawings() {
    let (history, verdicts, settings) = fixture::golden_run();
    let model = ReportModel::build(&history, &verdicts, &settings, &Options::default());
    let (html, failures) = render_html(&model);
    assert!(failures.is_empty(), "{failures:?}");
    golden("invalid.html", &html);
    golden("cycle.svg", svg_of_class(&html, "cycle"));
    golden("linearization.svg", svg_of_class(&html, "lin"));
    golden("invalid.junit.xml", &junit("fixture", &verdicts));
}

#[test]
fn valid_page() {
    let (history, verdicts, settings) = fixture::valid_run();
    let model = ReportModel::build(&history, &verdicts, &settings, &Options::default());
    let (html, failures) = render_html(&model);
    assert!(failures.is_empty(), "{failures:?}");
    golden("valid.html", &html);
}

#[test]
fn the_real_lin_checker_gives_a_drawable_failure() {
    let (history, verdicts, _) = fixture::lin_run();
    let v = &verdicts[0];
    assert_eq!(v.valid, faultline_checker::Validity::Invalid, "{v:?}");
    let a = &v.anomalies[0];
    assert!(
        matches!(
            a.evidence,
            faultline_checker::Evidence::Linearization { .. }
        ),
        "{:?}",
        a.evidence
    );
    let model = ReportModel::build(
        &history,
        &verdicts,
        &serde_json::Value::Null,
        &Options::default(),
    );
    let (html, failures) = render_html(&model);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(html.contains("class=\"lin\""));
    eprintln!("{}: {}", a.kind, a.explanation);
}
