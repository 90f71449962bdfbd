//! A 100,000-op history gives a page under 10 MB (the time target, under 5 s, is measured by
//! `bench/report.sh`, not asserted here).

mod fixture;

#[test]
fn a_100k_op_report_is_under_10_mb() {
    let (history, verdicts, settings) = fixture::big_run(100_000);
    let tmp = tempfile::tempdir().unwrap();
    let files =
        faultline_reports::write_report(tmp.path(), &history, &verdicts, &settings).unwrap();
    assert!(files.notes.is_empty(), "{:?}", files.notes);
    let size = std::fs::metadata(&files.index_html).unwrap().len();
    assert!(size < 10 * 1024 * 1024, "index.html is {size} bytes");
    let html = std::fs::read_to_string(&files.index_html).unwrap();
    assert!(html.contains("This timeline is capped"));
    // The anomaly's ops are on the capped timeline, so its links resolve.
    let first = verdicts[0].anomalies[0].ops[0];
    assert!(html.contains(&format!("href=\"#op-{first}\"")));
    assert!(html.contains(&format!("id=\"op-{first}\"")));
}
