//! Writes the fixture reports (an invalid, a valid and a 100,000-op run) to a directory, to look at:
//! `cargo run -p faultline-reports --example sample -- /tmp/out`.

#[path = "../tests/fixture/mod.rs"]
mod fixture;

fn main() {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/report-sample".to_string());
    let out = std::path::Path::new(&out);
    for (name, (h, v, s)) in [
        ("invalid", fixture::invalid_run()),
        ("valid", fixture::valid_run()),
        ("big", fixture::big_run(100_000)),
    ] {
        let files = faultline_reports::write_report(&out.join(name), &h, &v, &s)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        println!("{}", files.index_html.display());
    }
}
