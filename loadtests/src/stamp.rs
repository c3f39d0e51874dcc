//! The body of every load message: who sent it, its number in that
//! sender's sequence, and when it was meant to leave, in microseconds on
//! the generator's monotonic clock. Receivers in the same process read the
//! stamp back, so latency is end to end with no clock skew.

use std::sync::OnceLock;
use std::time::Instant;

/// The generator's time zero; every stamp counts from it.
pub fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// A fresh run number: tells one run's messages apart from earlier runs'
/// on the same store (the server answers a repeated client_msg_id with the
/// stored original and broadcasts nothing, as a retrying client needs).
pub fn new_run() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    // Time, the process, and a counter for runs started in the same instant.
    (t << 8)
        ^ (u64::from(std::process::id()) << 40)
        ^ NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Microseconds since [`base`].
pub fn now_us() -> u64 {
    u64::try_from(base().elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The run, from [`new_run`].
    pub run: u64,
    /// The sending socket's index in the run.
    pub sender: u32,
    /// 1, 2, 3 … per sender.
    pub n: u32,
    pub at_us: u64,
}

impl Stamp {
    /// `lt <run> <sender> <n> <at_us> ` padded with `x` to `size` bytes.
    pub fn body(&self, size: usize) -> String {
        let mut s = format!(
            "lt {:x} {} {} {} ",
            self.run, self.sender, self.n, self.at_us
        );
        while s.len() < size {
            s.push('x');
        }
        s
    }

    /// Run `run`'s stamp; None for anything else, other runs' messages on
    /// the same store included.
    pub fn parse(body: &str, run: u64) -> Option<Stamp> {
        let mut it = body.split(' ');
        if it.next()? != "lt" || u64::from_str_radix(it.next()?, 16).ok()? != run {
            return None;
        }
        Some(Stamp {
            run,
            sender: it.next()?.parse().ok()?,
            n: it.next()?.parse().ok()?,
            at_us: it.next()?.parse().ok()?,
        })
    }

    /// The message's client_msg_id: unique across runs.
    pub fn client_msg_id(&self) -> String {
        format!("{:x}-{}-{}", self.run, self.sender, self.n)
    }

    /// One number per message, for sets.
    pub fn key(&self) -> u64 {
        (u64::from(self.sender) << 32) | u64::from(self.n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_reads_back_whatever_its_padding() {
        let s = Stamp {
            run: new_run(),
            sender: 7,
            n: 42,
            at_us: 123_456,
        };
        let b = s.body(100);
        assert_eq!(b.len(), 100);
        assert_eq!(Stamp::parse(&b, s.run), Some(s));
        assert_eq!(Stamp::parse(&s.body(0), s.run), Some(s));
        assert_eq!(Stamp::parse("hello there", s.run), None);
        assert_eq!(Stamp::parse(&b, new_run()), None, "another run's");
    }
}
