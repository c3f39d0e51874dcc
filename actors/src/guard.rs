//! Catching panics inside actor handlers.
//!
//! actix does not catch a handler's panic: the actor's task would die and
//! every socket holding its address would lose it. Handlers run their body
//! through [`guarded`]; on a panic the actor stops itself and its
//! `Supervisor` restarts it in place (the address stays valid), reloading
//! its cache from the store.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// The handler panicked; the actor restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

/// Runs `fut`, turning a panic into `Err(Panicked)`.
pub async fn guarded<T>(fut: impl Future<Output = T>) -> Result<T, Panicked> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(v) => Ok(v),
        Err(cause) => {
            let what = cause
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| cause.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            tracing::error!(panic = %what, "actor handler panicked; restarting the actor");
            Err(Panicked)
        }
    }
}
