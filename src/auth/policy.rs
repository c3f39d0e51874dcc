//! Which passwords an account may have, after NIST SP 800-63B §5.1.1.2:
//! length (10 to 1024 characters, spaces and any Unicode allowed), not one
//! of the commonest breached passwords, not built on the account's own
//! address, not one character repeated. No composition rules (a digit, a
//! capital…): they push people to `Password1!` and buy nothing.
//!
//! The breached list, `common-passwords.txt` beside this file, is the list
//! Django ships for its `CommonPasswordValidator`: Royce Williams' 20,000
//! commonest passwords from public breach corpora, lower-cased and
//! deduplicated (19,640 lines), in frequency order. Only its entries of 10
//! characters or more can ever match (shorter ones are refused by length);
//! the whole list is kept so lowering the minimum stays a one-line change.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password accepted, in characters: argon2 takes any length, but
/// hashing megabytes per request would be a cheap way to burn CPU.
pub const MAX_PASSWORD_CHARS: usize = 1024;
/// An address's local part shorter than this is not looked for inside the
/// password: `a@…` would otherwise refuse every password with an `a`.
const MIN_LOCAL_PART_CHARS: usize = 3;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password was refused; the text is shown to the person choosing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")]
    Length,
    #[error("that password is one of the most common in published breaches; choose another")]
    Common,
    #[error("password must not contain your email address or its name part")]
    ContainsEmail,
    #[error("password must not be one character repeated")]
    Repeated,
}

/// Checks a new password for the account at `email` (already normalised).
pub fn check_password(password: &str, email: &str) -> Result<(), PolicyError> {
    let len = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&len) {
        return Err(PolicyError::Length);
    }
    let mut chars = password.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(PolicyError::Repeated);
    }
    let lower = password.to_lowercase();
    // The list is lower-cased: `PassWord123` is as guessable as the
    // all-lower form, guessers try case variants first.
    if COMMON.contains(lower.as_str()) {
        return Err(PolicyError::Common);
    }
    let local = email.split_once('@').map_or(email, |(l, _)| l);
    if local.chars().count() >= MIN_LOCAL_PART_CHARS && lower.contains(&local.to_lowercase()) {
        return Err(PolicyError::ContainsEmail);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_list_is_loaded() {
        assert!(COMMON.len() > 19_000);
        assert!(COMMON.contains("password"));
        assert!(COMMON.contains("1234567890"));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(
            check_password("short", "a@b.test"),
            Err(PolicyError::Length)
        );
        assert_eq!(
            check_password("        ", "a@b.test"),
            Err(PolicyError::Length)
        );
        assert_eq!(
            check_password("ééééé", "a@b.test"),
            Err(PolicyError::Length)
        );
        assert!(check_password("éclair rose", "a@b.test").is_ok());
        assert_eq!(
            check_password(&"xy".repeat(513), "a@b.test"),
            Err(PolicyError::Length)
        );
    }

    #[test]
    fn breached_passwords_are_refused_in_any_case() {
        for p in ["1234567890", "qwertyuiop", "Basketball", "PASSWORD12"] {
            assert_eq!(
                check_password(p, "a@b.test"),
                Err(PolicyError::Common),
                "{p}"
            );
        }
    }

    #[test]
    fn the_address_name_may_not_be_in_the_password() {
        assert_eq!(
            check_password("my JaneDoe password", "janedoe@example.test"),
            Err(PolicyError::ContainsEmail)
        );
        assert_eq!(
            check_password("janedoe@example.test", "janedoe@example.test"),
            Err(PolicyError::ContainsEmail)
        );
        // A one- or two-letter name part is not looked for.
        assert!(check_password("a long passphrase", "a@b.test").is_ok());
    }

    #[test]
    fn one_repeated_character_is_refused() {
        assert_eq!(
            check_password(&" ".repeat(12), "a@b.test"),
            Err(PolicyError::Repeated)
        );
        assert_eq!(
            check_password(&"z".repeat(12), "a@b.test"),
            Err(PolicyError::Repeated)
        );
    }
}
