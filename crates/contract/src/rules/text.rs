//! Text checks every field shares: a hard size cap, control and invisible
//! characters, trimming, 全形 (full-width) detection.

use super::{codes, Field, RuleError};

/// No text field accepts more raw bytes than this (before trimming); larger
/// input is refused with `too_long` before any other work, so a 10 kB (or
/// 10 MB) paste costs nothing.
pub const MAX_INPUT_BYTES: usize = 1024;

/// Control characters (Unicode Cc), bidi overrides/isolates/marks, line and
/// paragraph separators, zero-width space and the BOM. Zero-width joiners
/// (emoji sequences) and variation selectors are allowed.
pub(crate) fn is_forbidden_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{2060}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// 全形 forms of ASCII (`！`…`～`) and the ideographic space.
pub(crate) fn is_fullwidth(c: char) -> bool {
    matches!(c, '\u{FF01}'..='\u{FF5E}' | '\u{3000}')
}

/// The 半形 (ASCII) character for a 全形 one; other characters unchanged.
pub(crate) fn to_halfwidth(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The shared first stage of every text field: size cap, trim (Unicode
/// whitespace, so a pasted trailing newline or a 全形 space is harmless),
/// then no control characters inside. Returns the trimmed text, which may be
/// empty.
pub(crate) fn clean(field: Field, raw: &str) -> Result<&str, RuleError> {
    if raw.len() > MAX_INPUT_BYTES {
        return Err(RuleError::new(field, codes::TOO_LONG));
    }
    let text = raw.trim();
    if text.chars().any(is_forbidden_control) {
        return Err(RuleError::new(field, codes::CONTROL_CHARS));
    }
    Ok(text)
}

/// [`clean`], and empty after trimming is `required`.
pub(crate) fn clean_required(field: Field, raw: &str) -> Result<&str, RuleError> {
    let text = clean(field, raw)?;
    if text.is_empty() {
        return Err(RuleError::new(field, codes::REQUIRED));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_cap_comes_first_then_controls_then_trim() {
        let big = "a".repeat(10 * 1024);
        assert_eq!(clean(Field::Name, &big).unwrap_err().code, codes::TOO_LONG);
        assert_eq!(
            clean(Field::Name, &format!("{big}\u{0}")).unwrap_err().code,
            codes::TOO_LONG
        );
        assert_eq!(
            clean(Field::Name, &"a".repeat(MAX_INPUT_BYTES))
                .unwrap()
                .len(),
            MAX_INPUT_BYTES
        );
        for bad in [
            "a\u{0}b",
            "a\nb",
            "a\tb",
            "a\u{7f}",
            "a\u{202E}b",
            "a\u{200B}b",
            "\u{FEFF}ab",
            "ab\u{0}",
        ] {
            assert_eq!(
                clean(Field::Name, bad).unwrap_err(),
                RuleError::new(Field::Name, codes::CONTROL_CHARS),
                "{bad:?}"
            );
        }
        assert_eq!(
            clean(Field::Name, " \u{3000}王小明\u{a0}\r\n").unwrap(),
            "王小明"
        );
        assert_eq!(
            clean_required(Field::Nickname, " \u{3000} ")
                .unwrap_err()
                .code,
            codes::REQUIRED
        );
        // Emoji ZWJ sequences are not control characters.
        assert!(clean(Field::Nickname, "👩\u{200D}🏫").is_ok());
    }

    #[test]
    fn fullwidth_maps_to_halfwidth() {
        let s: String = "ｎｔｐｃ０９＠－\u{3000}"
            .chars()
            .map(to_halfwidth)
            .collect();
        assert_eq!(s, "ntpc09@- ");
        assert!("ｎｔｐｃｔｅｓｔ".chars().all(is_fullwidth));
        assert!(!"ntpc中文с".chars().any(is_fullwidth));
    }
}
