//! The clocks behind `cms_domain::Clock`: the real one, and a manual one
//! that tests and tools move, which wakes sleepers when it passes their
//! time (no real waiting, no polling). They need tokio, so they live here
//! rather than in the domain crate.

use chrono::{DateTime, Utc};
use tokio::sync::watch;

pub use cms_domain::clock::{Clock, Sleep};

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        Box::pin(async move {
            // Sleep in steps of at most an hour and look again, so a
            // wall-clock jump (NTP, suspend) delays a wake-up by at most
            // that much rather than by the whole span.
            const STEP: std::time::Duration = std::time::Duration::from_secs(3600);
            loop {
                let left = at - Utc::now();
                let Ok(left) = left.to_std() else { return };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(STEP)).await;
            }
        })
    }
}

/// A clock that stands still until told to move: tests and tools set it.
/// Sleepers watch it and wake when it passes their time.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            now: watch::Sender::new(now),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        self.now.send_replace(t);
    }

    pub fn advance(&self, d: chrono::Duration) {
        self.now.send_modify(|now| *now += d);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            // Err: the clock is gone, so time will never come; stay asleep.
            if rx.wait_for(|now| *now >= at).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use futures_util::FutureExt;

    #[tokio::test]
    async fn manual_sleepers_wake_when_the_clock_passes_them() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let clock = ManualClock::new(t0);
        let at = t0 + chrono::Duration::minutes(10);
        let mut sleeper = clock.sleep_until(at);
        assert!((&mut sleeper).now_or_never().is_none(), "woke at once");
        clock.advance(chrono::Duration::minutes(9));
        assert!(
            (&mut sleeper).now_or_never().is_none(),
            "woke a minute early"
        );
        clock.advance(chrono::Duration::minutes(1));
        assert!(
            (&mut sleeper).now_or_never().is_some(),
            "slept past its time"
        );
        // A time already passed resolves at once.
        assert!(clock.sleep_until(at).now_or_never().is_some());
    }
}
