//! A token bucket per socket (every frame costs a token), the rule for
//! closing abusive sockets, and the per-user bucket for chat messages that
//! every socket of a user shares.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Frames per second allowed on average.
    pub per_second: f64,
    /// Frames allowed at once after a quiet spell.
    pub burst: f64,
    /// Refused frames within [`STRIKE_WINDOW`] after which the socket is
    /// closed: a client that keeps pushing through errors is misbehaving.
    pub close_after: u32,
}

/// The window over which refused frames are counted.
pub const STRIKE_WINDOW: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct TokenBucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    strikes: u32,
    window_start: Instant,
}

/// What to do with one incoming frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Answer with an error reply.
    Refuse,
    /// Close the socket.
    Close,
}

impl TokenBucket {
    pub fn new(limit: RateLimit, now: Instant) -> Self {
        Self {
            limit,
            tokens: limit.burst,
            last: now,
            strikes: 0,
            window_start: now,
        }
    }

    pub fn check(&mut self, now: Instant) -> Verdict {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Verdict::Allow;
        }
        if now.saturating_duration_since(self.window_start) > STRIKE_WINDOW {
            self.window_start = now;
            self.strikes = 0;
        }
        self.strikes += 1;
        if self.strikes >= self.limit.close_after {
            Verdict::Close
        } else {
            Verdict::Refuse
        }
    }
}

/// Chat messages one user may send, across all their sockets: a bucket of
/// `per_second` tokens refilled at `per_second` a second. It runs on the
/// injected clock (unlike the per-socket frame bucket, a transport guard on
/// the monotonic clock) because it is an account-level limit like the other
/// `[limits]`, and so tests can hold time still.
#[derive(Debug)]
pub struct MessageRate {
    per_second: f64,
    tokens: f64,
    last: DateTime<Utc>,
}

/// One user's [`MessageRate`], shared by their sockets.
pub type SharedMessageRate = Arc<Mutex<MessageRate>>;

impl MessageRate {
    pub fn new(per_second: u32, now: DateTime<Utc>) -> Self {
        let per_second = f64::from(per_second);
        Self {
            per_second,
            tokens: per_second,
            last: now,
        }
    }

    /// Takes a token if there is one. A clock moved backwards refills
    /// nothing rather than taking tokens away.
    pub fn try_take(&mut self, now: DateTime<Utc>) -> bool {
        let elapsed = (now - self.last).to_std().unwrap_or_default();
        if now > self.last {
            self.last = now;
        }
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.per_second).min(self.per_second);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_rate_allows_a_second_worth_then_refills_with_the_clock() {
        let t0 = DateTime::<Utc>::UNIX_EPOCH;
        let mut r = MessageRate::new(3, t0);
        assert!((0..3).all(|_| r.try_take(t0)));
        assert!(!r.try_take(t0), "the fourth in the same instant");
        // A third of a second at 3/s is one token.
        assert!(r.try_take(t0 + chrono::Duration::milliseconds(334)));
        assert!(!r.try_take(t0 + chrono::Duration::milliseconds(334)));
        // Never more than a second's worth, however long the quiet.
        let later = t0 + chrono::Duration::hours(1);
        assert!((0..3).all(|_| r.try_take(later)));
        assert!(!r.try_take(later));
    }

    const LIMIT: RateLimit = RateLimit {
        per_second: 10.0,
        burst: 5.0,
        close_after: 3,
    };

    #[test]
    fn allows_a_burst_then_refuses_then_closes() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(LIMIT, t0);
        for _ in 0..5 {
            assert_eq!(b.check(t0), Verdict::Allow);
        }
        assert_eq!(b.check(t0), Verdict::Refuse);
        assert_eq!(b.check(t0), Verdict::Refuse);
        assert_eq!(b.check(t0), Verdict::Close);
    }

    #[test]
    fn refills_over_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(LIMIT, t0);
        for _ in 0..5 {
            b.check(t0);
        }
        assert_eq!(b.check(t0), Verdict::Refuse);
        // 100 ms at 10/s is one token.
        assert_eq!(b.check(t0 + Duration::from_millis(100)), Verdict::Allow);
    }

    #[test]
    fn strikes_reset_after_the_window() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(LIMIT, t0);
        for _ in 0..5 {
            b.check(t0);
        }
        assert_eq!(b.check(t0), Verdict::Refuse);
        assert_eq!(b.check(t0), Verdict::Refuse);
        let later = t0 + STRIKE_WINDOW + Duration::from_secs(1);
        // Drain what refilled, then the count starts again.
        while b.check(later) == Verdict::Allow {}
        assert_eq!(b.check(later), Verdict::Refuse);
    }
}
