//! Plain text a person types into a one-line field: a name, a subject, a
//! level. Such text ends up in e-mail headers, SMS bodies, calendar files
//! and log lines, where a line break or a NUL changes what the receiving
//! format means (a name with a CRLF once crashed the mailer). The check is
//! here, pure, so every route that takes a name refuses the same things.

/// Why a one-line field was refused; the message names the field and is
/// written for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field} must be 1 to {max} characters")]
    Length { field: String, max: usize },
    #[error("{field} must not contain line breaks or control characters")]
    Control { field: String },
}

/// Characters refused in one-line text: every C0 and C1 control (CR, LF,
/// TAB, NUL, DEL, NEL…), the Unicode line and paragraph separators, and
/// the explicit bidi embeddings, overrides and isolates, which reorder how
/// the text around them is displayed (a name could then pass for another).
/// The marks (LRM, RLM) and joiners (ZWJ, ZWNJ) stay allowed: names in
/// Arabic, Persian or Indic scripts and emoji need them.
pub fn is_line_breaking_or_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Characters that show as nothing (or nearly nothing), so two strings
/// that differ only by them look the same: zero-width spaces and joiners,
/// bidi marks and controls, the soft hyphen, fillers, tag characters and
/// variation selectors. Refused in identifiers such as e-mail addresses.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                // combining grapheme joiner
            | '\u{061C}'                // Arabic letter mark
            | '\u{115F}' | '\u{1160}'   // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'   // Khmer inherent vowels
            | '\u{180B}'..='\u{180F}'   // Mongolian selectors and separator
            | '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}'   // bidi embeddings and overrides
            | '\u{2060}'..='\u{206F}'   // word joiner, invisible operators, isolates
            | '\u{3164}'                // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'   // variation selectors
            | '\u{FEFF}'                // zero-width no-break space (BOM)
            | '\u{FFA0}'                // halfwidth Hangul filler
            | '\u{FFF9}'..='\u{FFFB}'   // interlinear annotation
            | '\u{1D173}'..='\u{1D17A}' // musical formatting
            | '\u{E0000}'..='\u{E0FFF}' // tags and supplementary selectors
    )
}

/// Checks one line of text a person typed: trimmed, 1 to `max_chars`
/// characters, no line breaks or control characters. Returns the trimmed
/// text, which is what should be stored.
pub fn check_plain_text<'a>(
    field: &str,
    value: &'a str,
    max_chars: usize,
) -> Result<&'a str, TextError> {
    let trimmed = value.trim();
    // Checked on the whole value: a trailing CRLF is as much a smuggling
    // attempt as one in the middle, and trimming would hide it.
    if value.chars().any(is_line_breaking_or_control) {
        return Err(TextError::Control {
            field: field.to_owned(),
        });
    }
    let n = trimmed.chars().count();
    if n == 0 || n > max_chars {
        return Err(TextError::Length {
            field: field.to_owned(),
            max: max_chars,
        });
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_names_pass_trimmed() {
        assert_eq!(
            check_plain_text("name", "  Zoë O'Brien ", 200),
            Ok("Zoë O'Brien")
        );
        assert_eq!(check_plain_text("name", "مريم", 200), Ok("مريم"));
        // ZWNJ is part of ordinary Persian spelling.
        assert!(check_plain_text("name", "می\u{200C}خواهم", 200).is_ok());
    }

    #[test]
    fn line_breaks_and_controls_are_refused() {
        for bad in [
            "Ann\r\nBcc: x@y.test",
            "Ann\n",
            "Ann\0",
            "Ann\tLee",
            "Ann\u{7F}",
            "Ann\u{85}",
            "Ann\u{2028}Lee",
            "Ann\u{2029}",
            "Ann\u{202E}eeL",
        ] {
            assert!(
                matches!(
                    check_plain_text("name", bad, 200),
                    Err(TextError::Control { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn empty_and_long_are_refused_by_length() {
        assert!(matches!(
            check_plain_text("level", "   ", 100),
            Err(TextError::Length { max: 100, .. })
        ));
        assert!(check_plain_text("level", &"x".repeat(101), 100).is_err());
        assert!(check_plain_text("level", &"é".repeat(100), 100).is_ok());
    }

    #[test]
    fn invisible_characters_are_told_apart() {
        for c in [
            '\u{200B}',
            '\u{200D}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{202E}',
            '\u{2066}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', 'é', '@', '.', ' ', '-'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }
}
