//! Making accounts: the checks on what a person types and the one store
//! call, shared by sign-up, a second parent joining a family, the admin
//! command and the load-test seeder. Answers [`AccountError`], whoever
//! asks.

use chrono::{DateTime, Utc};
use cms_domain::Role;
use cms_store::{NewUser, Store, StoreError, UserRow};

use crate::auth::{PasswordError, hash_password};

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

/// Checks the fields a person types; returns the normalised email.
pub fn check_account(email: &str, password: &str, name: &str) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let valid_email = email.len() <= 254
        && !email.contains(char::is_whitespace)
        && email
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'));
    if !valid_email {
        return Err(AccountError::Invalid("email is not a valid address".into()));
    }
    let len = password.chars().count();
    if !(8..=1024).contains(&len) {
        return Err(AccountError::Invalid(
            "password must be 8 to 1024 characters".into(),
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(AccountError::Invalid(
            "name must be 1 to 200 characters".into(),
        ));
    }
    Ok(email)
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
    let email = check_account(new.email, new.password, new.name)?;
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
        name: new.name.trim(),
        role: new.role,
        phone: phone.as_deref(),
        timezone,
        family_id,
    };
    Ok(store.create_user(user, now).await?)
}
