//! Text helpers both sides need, pure functions without I/O: the one HTML
//! escape every server-rendered page uses (the app's loopback page, the
//! sandbox's cloud and IdP pages) and the one way an error with causes is
//! written out on a single line.

/// Escapes text for HTML element content and quoted attribute values:
/// `& < > " '` become `&amp; &lt; &gt; &quot; &#39;`; everything else is
/// kept as is.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An error and each of its causes, `outer: inner: innermost`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_markup_characters_and_nothing_else() {
        assert_eq!(
            escape_html(r#"<a href="x">Tom & 'Jerry'</a> 臺北"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt; 臺北"
        );
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] Inner);
    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner;

    #[test]
    fn error_chain_lists_every_cause() {
        assert_eq!(error_chain(&Outer(Inner)), "outer: inner");
        assert_eq!(error_chain(&Inner), "inner");
    }
}
