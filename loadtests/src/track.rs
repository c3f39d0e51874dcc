//! What every receiver got: end-to-end latency of live deliveries, and the
//! exact set of messages each receiver holds, so lost, duplicated and
//! out-of-order deliveries are counted, not guessed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hdrhistogram::Histogram;

use crate::stamp::{Stamp, now_us};

/// Latencies up to an hour, in microseconds, to 3 significant figures.
const MAX_US: u64 = 3_600_000_000;

/// A histogram for latencies in microseconds.
pub fn latency_histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, MAX_US, 3)
}

#[derive(Default)]
struct Receiver {
    seen: HashSet<u64>,
    /// Highest n seen from each sender: a lower new one arrived out of order.
    max_n: HashMap<u32, u32>,
    /// Highest conversation seq seen, for `since_seq` on reconnect.
    last_seq: u64,
}

/// Shared by every socket of a run.
pub struct Tracker {
    /// This run's number, in every body it sends.
    pub run: u64,
    latency: Mutex<Histogram<u64>>,
    receivers: Vec<Mutex<Receiver>>,
    /// Conversation of each receiver.
    conv_of: Vec<usize>,
    /// Messages the system accepted, per conversation.
    acked: Vec<Mutex<Vec<u64>>>,
    pub delivered: AtomicU64,
    pub recovered: AtomicU64,
    pub duplicated: AtomicU64,
    pub out_of_order: AtomicU64,
    pub errors: AtomicU64,
    pub sent: AtomicU64,
}

/// The tally once the run has drained.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Tally {
    pub sent: u64,
    pub acked: u64,
    /// Deliveries every receiver should have: acked messages × members.
    pub expected: u64,
    pub delivered: u64,
    pub recovered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub out_of_order: u64,
    pub errors: u64,
}

impl Tally {
    /// Any loss, duplicate, reordering or error fails the run.
    pub fn clean(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.out_of_order == 0 && self.errors == 0
    }
}

impl Tracker {
    /// `conv_of[r]` is the conversation receiver `r` is in.
    pub fn new(
        conv_of: Vec<usize>,
        conversations: usize,
    ) -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            run: crate::stamp::new_run(),
            latency: Mutex::new(latency_histogram()?),
            receivers: conv_of.iter().map(|_| Mutex::default()).collect(),
            conv_of,
            acked: (0..conversations).map(|_| Mutex::default()).collect(),
            delivered: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// A live delivery to receiver `r`; `seq` is the conversation's, when
    /// the system numbers messages.
    pub fn deliver(&self, r: usize, body: &str, seq: Option<u64>) {
        let arrived = now_us();
        if self.take(r, body, seq, false)
            && let Some(s) = Stamp::parse(body, self.run)
        {
            let _ = lock(&self.latency).record(arrived.saturating_sub(s.at_us).max(1));
        }
    }

    /// A message fetched after a reconnect rather than pushed live.
    pub fn recover(&self, r: usize, body: &str, seq: Option<u64>) {
        self.take(r, body, seq, true);
    }

    /// Records the message for `r`; true when it was new.
    fn take(&self, r: usize, body: &str, seq: Option<u64>, recovered: bool) -> bool {
        let Some(s) = Stamp::parse(body, self.run) else {
            return false;
        };
        let Some(slot) = self.receivers.get(r) else {
            return false;
        };
        let mut rx = lock(slot);
        if let Some(q) = seq {
            rx.last_seq = rx.last_seq.max(q);
        }
        if !rx.seen.insert(s.key()) {
            self.duplicated.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        let max = rx.max_n.entry(s.sender).or_insert(0);
        // Recovered messages come after later live ones by design.
        if s.n < *max && !recovered {
            self.out_of_order.fetch_add(1, Ordering::Relaxed);
        }
        *max = (*max).max(s.n);
        let counter = if recovered {
            &self.recovered
        } else {
            &self.delivered
        };
        counter.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The system accepted this message for conversation `c`.
    pub fn ack(&self, c: usize, body: &str) {
        match (Stamp::parse(body, self.run), self.acked.get(c)) {
            (Some(s), Some(list)) => lock(list).push(s.key()),
            _ => self.error(),
        }
    }

    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// The conversation's latest seq when `r` joined: where its catch-up
    /// starts if it has seen nothing since.
    pub fn note_seq(&self, r: usize, seq: u64) {
        if let Some(m) = self.receivers.get(r) {
            let mut rx = lock(m);
            rx.last_seq = rx.last_seq.max(seq);
        }
    }

    pub fn last_seq(&self, r: usize) -> u64 {
        self.receivers.get(r).map_or(0, |m| lock(m).last_seq)
    }

    /// Deliveries (live and recovered) so far.
    pub fn received(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed) + self.recovered.load(Ordering::Relaxed)
    }

    /// Messages the system has accepted so far.
    pub fn acked(&self) -> u64 {
        self.acked.iter().map(|a| lock(a).len() as u64).sum()
    }

    /// Deliveries owed for what has been acked so far.
    pub fn owed(&self) -> u64 {
        let mut members = vec![0u64; self.acked.len()];
        for &c in &self.conv_of {
            if let Some(m) = members.get_mut(c) {
                *m += 1;
            }
        }
        self.acked
            .iter()
            .zip(members)
            .map(|(a, m)| lock(a).len() as u64 * m)
            .sum()
    }

    /// Compares what every receiver holds with what was acked.
    pub fn tally(&self) -> Tally {
        let acked: Vec<HashSet<u64>> = self
            .acked
            .iter()
            .map(|a| lock(a).iter().copied().collect())
            .collect();
        let mut t = Tally {
            sent: self.sent.load(Ordering::Relaxed),
            acked: acked.iter().map(|a| a.len() as u64).sum(),
            delivered: self.delivered.load(Ordering::Relaxed),
            recovered: self.recovered.load(Ordering::Relaxed),
            duplicated: self.duplicated.load(Ordering::Relaxed),
            out_of_order: self.out_of_order.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            ..Tally::default()
        };
        for (r, slot) in self.receivers.iter().enumerate() {
            let Some(want) = self.conv_of.get(r).and_then(|&c| acked.get(c)) else {
                continue;
            };
            let rx = lock(slot);
            t.expected += want.len() as u64;
            t.lost += want.iter().filter(|k| !rx.seen.contains(k)).count() as u64;
        }
        t
    }

    pub fn latency(&self) -> Histogram<u64> {
        lock(&self.latency).clone()
    }

    pub fn reset_latency(&self) {
        lock(&self.latency).reset();
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(t: &Tracker, sender: u32, n: u32) -> String {
        Stamp {
            run: t.run,
            sender,
            n,
            at_us: now_us(),
        }
        .body(0)
    }

    #[test]
    fn losses_duplicates_and_reordering_are_counted() {
        // Two conversations: receivers 0,1 in the first, 2 in the second.
        let t = Tracker::new(vec![0, 0, 1], 2).unwrap();
        for n in 1..=3 {
            t.ack(0, &body(&t, 0, n));
        }
        t.ack(1, &body(&t, 2, 1));
        t.deliver(0, &body(&t, 0, 1), Some(1));
        t.deliver(0, &body(&t, 0, 3), Some(3));
        t.deliver(0, &body(&t, 0, 2), Some(2)); // late
        t.deliver(1, &body(&t, 0, 1), Some(1));
        t.deliver(1, &body(&t, 0, 1), Some(1)); // twice
        t.recover(1, &body(&t, 0, 2), Some(2));
        let tally = t.tally();
        assert_eq!(tally.expected, 3 + 3 + 1);
        // Receiver 1 misses n=3, receiver 2 misses its one message.
        assert_eq!(tally.lost, 2);
        assert_eq!(tally.duplicated, 1);
        assert_eq!(tally.out_of_order, 1);
        assert_eq!(tally.recovered, 1);
        assert_eq!(t.last_seq(0), 3);
        assert!(!tally.clean());
        assert_eq!(t.owed(), 7);
    }
}
