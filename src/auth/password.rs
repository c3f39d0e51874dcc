//! argon2id password hashing, off the async threads (it is slow on purpose),
//! and the equal-work check for logins to unknown addresses.
//!
//! Every hash and check holds one of a few permits while it runs. Each one
//! takes 19 MiB and a core for a while, so without a bound a burst of
//! sign-ups or logins ran hundreds at once on the blocking pool: gigabytes
//! of memory (5.6 GB seen under a load run's 4,000 sign-ups) and every
//! other request starved. With the bound they queue, and memory stays at
//! permits × 19 MiB.

use std::sync::LazyLock;

use tokio::sync::Semaphore;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};

/// Hashing could not run (a worker thread died) or failed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct PasswordError(String);

/// As many hashes at once as there are cores: more only queue for a core
/// while holding their memory.
static PERMITS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Runs one hash or check on the blocking pool once a permit is free.
async fn with_permit<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = PERMITS
        .acquire()
        .await
        .map_err(|e| PasswordError(e.to_string()))?;
    #[cfg(test)]
    let work = tests::counted(work);
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| PasswordError(e.to_string()))
}

pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    with_permit(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await?
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
    with_permit(move || {
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
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static RUNNING: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);

    /// Wraps a piece of work to count how many run at once.
    pub(super) fn counted<T>(work: impl FnOnce() -> T) -> impl FnOnce() -> T {
        move || {
            let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            let out = work();
            RUNNING.fetch_sub(1, Ordering::SeqCst);
            out
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_burst_of_hashes_runs_no_more_than_the_permits_at_once() {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        let burst: Vec<_> = (0..permits * 4)
            .map(|i| tokio::spawn(hash_password(format!("burst password {i}"))))
            .collect();
        for hash in burst {
            let hash = hash.await.expect("task").expect("hash");
            assert!(hash.starts_with("$argon2id$"));
        }
        let most = MOST.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= permits,
            "{most} at once, {permits} permits"
        );
    }
}
