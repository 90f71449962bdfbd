//! Escaping for HTML, SVG and XML text and attributes. Every value that came from the system
//! under test goes through here before it reaches a page; the page is built by string
//! concatenation, so this is the one place that keeps `<script>` in a history as text.

/// Appends `s` to `out`, escaped for HTML/XML text and double- or single-quoted attributes.
/// Control characters other than tab and newline are dropped: XML 1.0 forbids them.
pub fn push(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
}

/// `s` escaped for HTML/XML text and attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    push(&mut out, s);
    out
}

/// JSON made safe to sit inside `<script type="application/json">`: no `<` can close the
/// element, and U+2028/2029 cannot end a line.
pub fn json_in_script(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// At most `max` characters of `s`, with an ellipsis when cut, so one huge value cannot
/// blow up a page.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(esc("a\u{0}b\u{1b}c\nd"), "abc\nd");
    }

    #[test]
    fn script_json_cannot_close_its_element() {
        let j = json_in_script(r#"{"v":"</script><script>x()</script>"}"#);
        assert!(!j.contains("</script"), "{j}");
        assert!(j.contains("\\u003c/script>"));
    }

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ééé", 2), "éé…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}
