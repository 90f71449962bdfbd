//! `junit.xml` for CI systems: one test case per checker. Invalid is a `<failure>` carrying
//! each anomaly's explanation; unknown is `<skipped>` with the reason (not a pass: the exit
//! code still says 3); valid is a plain test case.

use faultline_checker::{Validity, Verdict};

use crate::escape::{esc, truncate};
use crate::render::w;

/// Anomalies written out in full per failure; the count says how many there were.
const MAX_EXPLAINED: usize = 100;

pub fn junit(suite: &str, verdicts: &[Verdict]) -> String {
    let failures = verdicts
        .iter()
        .filter(|v| v.valid == Validity::Invalid)
        .count();
    let skipped = verdicts
        .iter()
        .filter(|v| v.valid == Validity::Unknown)
        .count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w!(
        x,
        "<testsuites name=\"faultline\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n  <testsuite name=\"{s}\" tests=\"{n}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\">\n",
        n = verdicts.len(),
        s = esc(suite)
    );
    for v in verdicts {
        w!(
            x,
            "    <testcase classname=\"{}\" name=\"{}\"",
            esc(suite),
            esc(&v.checker)
        );
        match v.valid {
            Validity::Valid => x.push_str("/>\n"),
            Validity::Unknown => w!(
                x,
                ">\n      <skipped message=\"unknown: {}\"/>\n    </testcase>\n",
                esc(v.unknown_reason.as_deref().unwrap_or("no reason given"))
            ),
            Validity::Invalid => {
                let kinds = v.kinds().join(", ");
                w!(
                    x,
                    ">\n      <failure type=\"invalid\" message=\"{} {}: {}\">",
                    v.anomalies.len(),
                    if v.anomalies.len() == 1 {
                        "anomaly"
                    } else {
                        "anomalies"
                    },
                    esc(&kinds)
                );
                for (i, a) in v.anomalies.iter().take(MAX_EXPLAINED).enumerate() {
                    if i > 0 {
                        x.push_str("\n\n");
                    }
                    let ops: Vec<String> = a.ops.iter().take(50).map(|o| o.to_string()).collect();
                    w!(
                        x,
                        "{}: {} (ops {})",
                        esc(&a.kind),
                        esc(&truncate(&a.explanation, 5_000)),
                        ops.join(", ")
                    );
                }
                if v.anomalies.len() > MAX_EXPLAINED {
                    w!(
                        x,
                        "\n\n... and {} more in results.json",
                        v.anomalies.len() - MAX_EXPLAINED
                    );
                }
                x.push_str("</failure>\n    </testcase>\n");
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_checker::Anomaly;

    #[test]
    fn one_case_per_checker_with_failures_explained_and_escaped() {
        let mut bad = Verdict::valid("elle");
        bad.push(Anomaly::new("G2-item", vec![1, 3], "T1 < T2 & <b>"));
        let vs = [
            Verdict::valid("stats"),
            bad,
            Verdict::unknown("lin", "budget ran out"),
        ];
        let x = junit("run <1>", &vs);
        assert!(
            x.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{x}"
        );
        assert!(x.contains("<testcase classname=\"run &lt;1&gt;\" name=\"stats\"/>"));
        assert!(x.contains("message=\"1 anomaly: G2-item\">G2-item: T1 &lt; T2 &amp; &lt;b&gt; (ops 1, 3)</failure>"), "{x}");
        assert!(x.contains("<skipped message=\"unknown: budget ran out\"/>"));
    }
}
