//! Wall-clock time, injected so tests control it: `now()` for reading and
//! `sleep_until()` for waiting, so an actor that sleeps until a due time
//! (the reminder scheduler) wakes when a test moves the clock, with no real
//! waiting and no polling. The implementations (a real clock and a manual
//! one) need a runtime and live in `cms-actors`.

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves once `now() >= at` (at once if it already is).
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep;
}
