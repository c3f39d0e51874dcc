//! Making accounts: the checks on what a person types and the one store
//! call, shared by sign-up, a second parent joining a family, the admin
//! command and the load-test seeder. Answers [`AccountError`], whoever
//! asks.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use cms_domain::text::{check_plain_text, is_invisible};
use cms_store::{NewUser, Store, StoreError, UserRow};

use crate::auth::{PasswordError, check_password, hash_password};

pub const DEFAULT_TIMEZONE: &str = "Europe/London";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("that email is already registered")]
    EmailTaken,
    #[error(transparent)]
    Password(#[from] PasswordError),
    /// Boxed: a store error is large.
    #[error(transparent)]
    Store(Box<StoreError>),
}

impl From<StoreError> for AccountError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate(_) => Self::EmailTaken,
            other => Self::Store(Box::new(other)),
        }
    }
}

/// What a person gives to open an account.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub password: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub phone: Option<&'a str>,
    /// IANA zone; Europe/London when absent.
    pub timezone: Option<&'a str>,
}

/// The one form an address is stored and looked up in, so addresses that
/// look the same are the same account: NFKC (full-width and compatibility
/// forms fold to plain ones), trimmed, lower-cased, the domain's trailing
/// dot (the DNS root) dropped. Invisible and control characters are
/// refused rather than removed: an address that needs them is a trick.
pub fn normalise_email(raw: &str) -> Result<String, AccountError> {
    use unicode_normalization::UnicodeNormalization;
    let hidden = |s: &str| s.chars().any(|c| c.is_control() || is_invisible(c));
    if hidden(raw) {
        return Err(AccountError::Invalid(
            "email must not contain invisible or control characters".into(),
        ));
    }
    let folded: String = raw.nfkc().collect();
    let lower = folded.trim().to_lowercase();
    if hidden(&lower) {
        return Err(AccountError::Invalid(
            "email must not contain invisible or control characters".into(),
        ));
    }
    let invalid = || AccountError::Invalid("email is not a valid address".into());
    let (local, domain) = lower.split_once('@').ok_or_else(invalid)?;
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let email = format!("{local}@{domain}");
    let valid = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty());
    if !valid {
        return Err(invalid());
    }
    Ok(email)
}

/// Checks the fields a person types; returns the normalised email and the
/// name as stored.
pub fn check_account<'a>(
    email: &str,
    password: &str,
    name: &'a str,
) -> Result<(String, &'a str), AccountError> {
    let email = normalise_email(email)?;
    check_password(password, &email).map_err(|e| AccountError::Invalid(e.to_string()))?;
    let name = check_name(name)?;
    Ok((email, name))
}

/// A person's name: one line of 1 to 200 characters, trimmed.
pub fn check_name(name: &str) -> Result<&str, AccountError> {
    check_plain_text("name", name, 200).map_err(|e| AccountError::Invalid(e.to_string()))
}

/// A typed number in E.164, or what is wanted.
pub fn check_phone(phone: &str) -> Result<String, AccountError> {
    crate::notify::phone::to_e164(phone).map_err(|e| AccountError::Invalid(e.to_string()))
}

/// Checks and stores a new account; `family_id` adds a parent to an
/// existing family (a parent without one gets a new family).
pub async fn create(
    store: &Store,
    new: NewAccount<'_>,
    family_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<UserRow, AccountError> {
    let (email, name) = check_account(new.email, new.password, new.name)?;
    let phone = new.phone.map(check_phone).transpose()?;
    let timezone = new.timezone.unwrap_or(DEFAULT_TIMEZONE);
    if timezone.parse::<chrono_tz::Tz>().is_err() {
        return Err(AccountError::Invalid(format!(
            "{timezone:?} is not an IANA time zone"
        )));
    }
    let hash = hash_password(new.password.to_owned()).await?;
    let user = NewUser {
        email: &email,
        password_hash: &hash,
        name,
        role: new.role,
        phone: phone.as_deref(),
        timezone,
        family_id,
    };
    Ok(store.create_user(user, now).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_addresses_normalise_to_one() {
        for raw in [
            "Mum@Example.test",
            "  mum@example.test ",
            "mum@example.test.",
            "MUM@EXAMPLE.TEST.",
            "\u{FF4D}\u{FF55}\u{FF4D}@example.test",
        ] {
            assert_eq!(
                normalise_email(raw).ok().as_deref(),
                Some("mum@example.test"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused() {
        for raw in [
            "mum\u{200B}@example.test",
            "mum@exa\u{00AD}mple.test",
            "\u{FEFF}mum@example.test",
            "mum@example.test\u{202E}",
            "mum@example.test\r\n",
            "mum\0@example.test",
        ] {
            let err = normalise_email(raw).err().map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some("email must not contain invisible or control characters"),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for raw in [
            "not-an-email",
            "@x.test",
            "a@b@c.test",
            "a@test",
            "a@x..test",
            "a b@x.test",
            "a@.x.test",
            "a@x.test..",
        ] {
            assert!(normalise_email(raw).is_err(), "{raw:?}");
        }
    }
}
