//! argon2id password hashing, off the async threads (it is slow on purpose),
//! and the equal-work check for logins to unknown addresses.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

/// Hashing could not run (a worker thread died) or failed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|e| PasswordError(e.to_string()))?
    .map_err(|e| PasswordError(e.to_string()))
}

pub async fn verify_password(password: String, hash: String) -> Result<bool, PasswordError> {
    verify_password_or_dummy(password, Some(hash)).await
}

/// A hash of a random password, made once with the same parameters as
/// every account's: checking a login for an unknown address against it
/// costs what checking a known one costs, so the answer's timing does not
/// tell which addresses have accounts. `None` only if hashing failed,
/// which it does not with the default parameters.
static DUMMY_HASH: LazyLock<Option<String>> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    let secret = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(secret.as_str().as_bytes(), &salt)
        .map(|h| h.to_string())
        .ok()
});

/// Makes the dummy hash now, so the first login for an unknown address
/// does not pay for making it (and so stand out by its timing).
pub async fn warm_dummy_hash() {
    let _ = tokio::task::spawn_blocking(|| LazyLock::force(&DUMMY_HASH).is_some()).await;
}

/// Checks `password` against `hash`, or, when there is no account
/// (`None`), against the dummy hash with the same work, answering false.
pub async fn verify_password_or_dummy(
    password: String,
    hash: Option<String>,
) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let Some(hash) = hash.or_else(|| DUMMY_HASH.clone()) else {
            return false;
        };
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && matches
    })
    .await
    .map_err(|e| PasswordError(e.to_string()))
}
