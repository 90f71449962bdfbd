//! Renderers: the view-model to HTML and SVG. Each drawing that can fail (a plot, an
//! evidence picture) is isolated: its failure, or even its panic, becomes a note on the page
//! and in the returned notes, and the rest of the page is still written.

mod cycle;
mod linearization;
mod page;
mod plots;
mod timeline;

use std::panic::{catch_unwind, AssertUnwindSafe};

pub use page::page;

/// Writes into a `String`; formatting into a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($arg)*);
    }};
}
pub(crate) use w;

/// Runs one drawing; an error or a panic becomes `Err(sentence)`.
pub(crate) fn guarded(
    what: &str,
    draw: impl FnOnce() -> Result<String, String>,
) -> Result<String, String> {
    match catch_unwind(AssertUnwindSafe(draw)) {
        Ok(Ok(svg)) => Ok(svg),
        Ok(Err(e)) => Err(format!("The {what} could not be drawn: {e}")),
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_string());
            Err(format!("The {what} could not be drawn: {why}"))
        }
    }
}

/// Formats a count with thousands separators: 100000 -> "100,000".
pub(crate) fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration for people: `850 ms`, `12.5 s`.
pub(crate) fn duration(secs: f64) -> String {
    if secs < 1.0 {
        format!("{} ms", num(secs * 1e3))
    } else {
        format!("{} s", num(secs))
    }
}

/// A short number for axes and tables: 3 significant-ish digits.
pub(crate) fn num(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 0.01 {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(num(3.0), "3");
        assert_eq!(num(0.25), "0.25");
        assert_eq!(num(12.5), "12.5");
    }

    #[test]
    fn a_panicking_drawing_is_a_note() {
        let r = guarded("test plot", || panic!("boom"));
        assert_eq!(r.unwrap_err(), "The test plot could not be drawn: boom");
    }
}
