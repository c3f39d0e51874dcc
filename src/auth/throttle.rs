//! Slowing down password guessing and mass sign-up.
//!
//! - Logins: after `login_failures_before_backoff` wrong passwords for one
//!   address (account) or from one client address, each further attempt
//!   must wait, the wait doubling with each failure from 1 s up to
//!   [`MAX_BACKOFF`]. An attempt inside the wait is refused without the
//!   password being checked. Time alone unlocks it, so there is no
//!   permanent lockout anyone can inflict on someone else's account: at
//!   worst its owner waits [`MAX_BACKOFF`] per attempt while the guessing
//!   goes on. A success clears the account's count (not the client
//!   address's: one's own account would otherwise reset the count between
//!   guesses at others). Unknown addresses count like known ones, so the
//!   throttle does not tell which addresses have accounts either.
//! - Registration: at most `register_per_address_per_hour` accounts from one
//!   client address in any sliding hour.
//!
//! The state is in memory, per node: behind N nodes a guesser gets N times
//! the attempts, which the doubling wait still holds to a handful an hour.
//! Every map is bounded: entries are forgotten [`FORGET_AFTER`] after their
//! last failure and, past [`MAX_ENTRIES`], the oldest are dropped.
//! Client addresses are the TCP peer's; an IPv6 client counts by its /64,
//! the block one subscriber is usually given.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The longest wait between two login attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// The first wait, once the free failures are used up.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// A count with no new failure for this long starts again from zero.
pub const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Most keys one map holds; past it the stalest are dropped.
pub const MAX_ENTRIES: usize = 100_000;
/// The registration window.
const HOUR: Duration = Duration::from_secs(3600);

/// A client address as the limits count it: IPv4 as is, IPv6 by its /64
/// (an IPv4-mapped address counts as the IPv4 one).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

fn to_delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

fn to_std(d: TimeDelta) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
    /// No attempt before this.
    until: Option<DateTime<Utc>>,
}

/// Failure counts by key, bounded.
#[derive(Debug)]
struct Counts<K> {
    map: HashMap<K, Failures>,
    inserts: usize,
}

impl<K: Hash + Eq + Clone> Counts<K> {
    fn new() -> Self {
        Self {
            map: HashMap::new(),
            inserts: 0,
        }
    }

    fn wait(&self, key: &K, now: DateTime<Utc>) -> Option<Duration> {
        let until = self.map.get(key)?.until?;
        (until > now).then(|| to_std(until - now))
    }

    fn fail(&mut self, key: &K, free: u32, now: DateTime<Utc>) {
        let forget = to_delta(FORGET_AFTER);
        if !self.map.contains_key(key) {
            self.make_room(now);
        }
        let f = self.map.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
            until: None,
        });
        if now - f.last > forget {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
        if f.count >= free.max(1) {
            // 1 s after the last free failure, doubling after each further one.
            let doublings = (f.count - free.max(1)).min(20);
            let wait = FIRST_BACKOFF
                .saturating_mul(1 << doublings)
                .min(MAX_BACKOFF);
            f.until = Some(now + to_delta(wait));
        }
    }

    fn clear(&mut self, key: &K) {
        self.map.remove(key);
    }

    /// Drops forgotten counts now and then (and whenever the map is full);
    /// if it is still full, drops the tenth with the oldest failures.
    fn make_room(&mut self, now: DateTime<Utc>) {
        self.inserts += 1;
        let full = self.map.len() >= MAX_ENTRIES;
        if !full && !self.inserts.is_multiple_of(1024) {
            return;
        }
        let forget = to_delta(FORGET_AFTER);
        self.map
            .retain(|_, f| now - f.last <= forget || f.until.is_some_and(|u| u > now));
        if self.map.len() >= MAX_ENTRIES {
            let mut lasts: Vec<DateTime<Utc>> = self.map.values().map(|f| f.last).collect();
            let cut = lasts.len() / 10;
            lasts.select_nth_unstable(cut);
            let cutoff = lasts[cut];
            self.map.retain(|_, f| f.last > cutoff);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.len()
    }
}

/// Login failures per account and per client address.
#[derive(Debug)]
pub struct LoginThrottle {
    free: u32,
    accounts: Mutex<Counts<String>>,
    clients: Mutex<Counts<IpAddr>>,
}

impl LoginThrottle {
    /// `free`: failures allowed before the waits start.
    pub fn new(free: u32) -> Self {
        Self {
            free,
            accounts: Mutex::new(Counts::new()),
            clients: Mutex::new(Counts::new()),
        }
    }

    /// How long a login for `account` (a normalised email) from `client`
    /// must still wait, if at all.
    pub fn wait(&self, account: &str, client: IpAddr, now: DateTime<Utc>) -> Option<Duration> {
        let client = client_key(client);
        let a = lock(&self.accounts).wait(&account.to_owned(), now);
        let c = lock(&self.clients).wait(&client, now);
        a.max(c)
    }

    pub fn failed(&self, account: &str, client: IpAddr, now: DateTime<Utc>) {
        lock(&self.accounts).fail(&account.to_owned(), self.free, now);
        lock(&self.clients).fail(&client_key(client), self.free, now);
    }

    pub fn succeeded(&self, account: &str) {
        lock(&self.accounts).clear(&account.to_owned());
    }
}

/// Registrations per client address in a sliding hour.
#[derive(Debug)]
pub struct RegisterLimit {
    per_hour: u32,
    clients: Mutex<HashMap<IpAddr, VecDeque<DateTime<Utc>>>>,
}

impl RegisterLimit {
    pub fn new(per_hour: u32) -> Self {
        Self {
            per_hour,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one of `client`'s registrations for this hour, or says how
    /// long until one is free.
    pub fn take(&self, client: IpAddr, now: DateTime<Utc>) -> Result<(), Duration> {
        let hour = to_delta(HOUR);
        let mut clients = lock(&self.clients);
        let key = client_key(client);
        if !clients.contains_key(&key) && clients.len() >= MAX_ENTRIES {
            // Stamps older than an hour count for nothing.
            clients.retain(|_, stamps| stamps.back().is_some_and(|t| now - *t < hour));
            if clients.len() >= MAX_ENTRIES {
                // Still full of live windows: forget the tenth least busy.
                let mut sizes: Vec<usize> = clients.values().map(VecDeque::len).collect();
                let cut = sizes.len() / 10;
                sizes.select_nth_unstable(cut);
                let smallest = sizes[cut];
                clients.retain(|_, s| s.len() > smallest);
            }
        }
        let stamps = clients.entry(key).or_default();
        while stamps.front().is_some_and(|t| now - *t >= hour) {
            stamps.pop_front();
        }
        if stamps.len() >= self.per_hour as usize {
            let free_at = stamps.front().map_or(now + hour, |t| *t + hour);
            return Err(to_std(free_at - now).max(Duration::from_secs(1)));
        }
        stamps.push_back(now);
        Ok(())
    }
}

/// A poisoned lock only means another request panicked mid-update; the
/// counts are still counts.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn waits_start_after_the_free_failures_and_double() {
        let th = LoginThrottle::new(3);
        let now = t0();
        for _ in 0..2 {
            th.failed("a@x.test", IP, now);
            assert_eq!(th.wait("a@x.test", IP, now), None);
        }
        th.failed("a@x.test", IP, now);
        assert_eq!(th.wait("a@x.test", IP, now), Some(Duration::from_secs(1)));
        th.failed("a@x.test", IP, now);
        assert_eq!(th.wait("a@x.test", IP, now), Some(Duration::from_secs(2)));
        th.failed("a@x.test", IP, now);
        assert_eq!(th.wait("a@x.test", IP, now), Some(Duration::from_secs(4)));
        // Another client address is held back by the account's count.
        assert_eq!(
            th.wait("a@x.test", OTHER, now),
            Some(Duration::from_secs(4))
        );
        // And this client by its own, on another account.
        assert_eq!(th.wait("b@x.test", IP, now), Some(Duration::from_secs(4)));
        assert_eq!(th.wait("b@x.test", OTHER, now), None);
        assert_eq!(th.wait("a@x.test", IP, now + TimeDelta::seconds(4)), None);
    }

    #[test]
    fn the_wait_is_capped_and_a_success_clears_the_account() {
        let th = LoginThrottle::new(1);
        let now = t0();
        for _ in 0..40 {
            th.failed("a@x.test", IP, now);
        }
        assert_eq!(th.wait("a@x.test", OTHER, now), Some(MAX_BACKOFF));
        th.succeeded("a@x.test");
        assert_eq!(th.wait("a@x.test", OTHER, now), None);
        // The client address keeps its count.
        assert_eq!(th.wait("a@x.test", IP, now), Some(MAX_BACKOFF));
    }

    #[test]
    fn counts_are_forgotten_after_a_quiet_day() {
        let th = LoginThrottle::new(2);
        let now = t0();
        th.failed("a@x.test", IP, now);
        let later = now + to_delta(FORGET_AFTER) + TimeDelta::seconds(1);
        th.failed("a@x.test", IP, later);
        assert_eq!(th.wait("a@x.test", IP, later), None);
    }

    #[test]
    fn the_maps_stay_bounded() {
        let mut counts = Counts::<u32>::new();
        let now = t0();
        for k in 0..(MAX_ENTRIES as u32 + 10) {
            counts.fail(&k, 5, now + TimeDelta::milliseconds(i64::from(k)));
        }
        assert!(counts.len() <= MAX_ENTRIES);
        // The newest are the ones kept.
        assert!(counts.map.contains_key(&(MAX_ENTRIES as u32 + 9)));
    }

    #[test]
    fn registrations_slide_over_an_hour() {
        let limit = RegisterLimit::new(2);
        let now = t0();
        assert!(limit.take(IP, now).is_ok());
        assert!(limit.take(IP, now + TimeDelta::minutes(10)).is_ok());
        assert_eq!(
            limit.take(IP, now + TimeDelta::minutes(20)),
            Err(Duration::from_secs(40 * 60))
        );
        assert!(limit.take(OTHER, now).is_ok());
        assert!(limit.take(IP, now + TimeDelta::minutes(60)).is_ok());
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap_or(IP);
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap_or(IP);
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IP);
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or(OTHER);
        assert_eq!(client_key(mapped), IP);
    }
}
