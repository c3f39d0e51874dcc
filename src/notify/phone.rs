//! Phone numbers as people type them, checked and turned into E.164
//! (`+447400123456`), the one form we store and Twilio accepts.

use phonenumber::Mode;
use phonenumber::country::Id;

/// Longer input is not a phone number; refusing it early keeps the parser
/// away from pasted essays.
const MAX_INPUT: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// Not a number in the numbering plan, or not only digits and the usual
    /// separators.
    #[error("phone must be a valid number, e.g. +447400123456 or 07400 123456")]
    Invalid,
}

/// Digits, plus and the separators people type (including the no-break
/// spaces copied from web pages). Letters are
/// refused: the parser would read them as a vanity number ("0800 FLOWERS")
/// or drop them, and an extension cannot receive a text anyway.
fn plausible(raw: &str) -> bool {
    raw.chars()
        .all(|c| c.is_ascii_digit() || c.is_whitespace() || "+()-./".contains(c))
        && raw.chars().any(|c| c.is_ascii_digit())
}

/// Parses a user-typed number (national UK forms like "07400 123456"
/// default to GB; "+1 415 555 2671" works too), checks it against the
/// numbering plan, and returns E.164 ("+447400123456").
pub fn to_e164(raw: &str) -> Result<String, PhoneError> {
    let raw = raw.trim();
    if raw.len() > MAX_INPUT || !plausible(raw) {
        return Err(PhoneError::Invalid);
    }
    // Our users are in the UK, so a number without a country code is British.
    let number = phonenumber::parse(Some(Id::GB), raw).map_err(|_| PhoneError::Invalid)?;
    if number.extension().is_some() || !phonenumber::is_valid(&number) {
        return Err(PhoneError::Invalid);
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        to_e164(raw).unwrap_or_else(|e| panic!("{raw:?}: {e}"))
    }

    #[test]
    fn a_uk_mobile_in_national_form_becomes_e164() {
        assert_eq!(ok("07400 123456"), "+447400123456");
        assert_eq!(ok("07400123456"), "+447400123456");
        assert_eq!(ok(" (07400) 123-456 "), "+447400123456");
        assert_eq!(ok("07400.123.456"), "+447400123456");
        assert_eq!(ok("07911 123456"), "+447911123456");
        assert_eq!(ok("07400\u{a0}123456"), "+447400123456");
    }

    #[test]
    fn international_forms_of_a_uk_number_are_accepted() {
        assert_eq!(ok("+447400123456"), "+447400123456");
        assert_eq!(ok("+44 7400 123456"), "+447400123456");
        assert_eq!(ok("+44 (0)7400 123456"), "+447400123456");
        assert_eq!(ok("+44 07400 123456"), "+447400123456");
        assert_eq!(ok("0044 7400 123456"), "+447400123456");
        // Country code without the plus, or the trunk 0 forgotten.
        assert_eq!(ok("447400123456"), "+447400123456");
        assert_eq!(ok("7400 123456"), "+447400123456");
    }

    #[test]
    fn a_uk_landline_is_valid_too() {
        assert_eq!(ok("020 7946 0018"), "+442079460018");
    }

    #[test]
    fn a_us_number_keeps_its_country_code() {
        assert_eq!(ok("+1 415 555 2671"), "+14155552671");
        assert_eq!(ok("+1 (415) 555-2671"), "+14155552671");
        assert_eq!(ok("001 415 555 2671"), "+14155552671");
        // Without its country code it is read as British, and is not.
        assert!(to_e164("415 555 2671").is_err());
    }

    #[test]
    fn garbage_short_and_impossible_numbers_are_refused() {
        for raw in [
            "",
            "   ",
            "+",
            "not a number",
            "12",
            "0740",
            "+44 1234",
            "+44 7400 12345",
            "+44 7400 1234567890",
            "+999 123456789",
            "0800 FLOWERS",
            "O7400 123456",
            "07400 123456!",
            "tel:+44-7400-123456",
            "\u{ff10}7400 123456",
            "07400 123456 and more text that makes it far too long",
        ] {
            assert!(to_e164(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn an_extension_is_refused() {
        assert!(to_e164("020 7946 0018 ext. 12").is_err());
        assert!(to_e164("020 7946 0018 x12").is_err());
    }

    /// Ofcom keeps 07700 900000-900999 for drama, but the numbering data
    /// does not list it as mobile, so it cannot be used in tests here.
    #[test]
    fn ofcoms_drama_range_is_not_a_valid_number() {
        assert!(to_e164("07700 900123").is_err());
        assert!(to_e164("+447700900123").is_err());
    }

    #[test]
    fn the_error_reads_well_in_a_422() {
        assert_eq!(
            PhoneError::Invalid.to_string(),
            "phone must be a valid number, e.g. +447400123456 or 07400 123456"
        );
    }
}
