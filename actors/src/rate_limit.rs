//! A token bucket per socket, and the rule for closing abusive sockets.

use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
