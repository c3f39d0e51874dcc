//! The named scenarios and what they share: opening many sockets, an
//! open-loop sender, draining, and the server's CPU and memory.

pub mod booking_race;
pub mod capacity;
pub mod chat;
pub mod lesson_rush;
pub mod reconnect;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use hdrhistogram::Histogram;

use crate::conn::{Conn, topic};
use crate::proc_stats;
use crate::stamp::{Stamp, now_us};
use crate::track::Tracker;
use crate::world::World;

/// Sockets connecting at once while ramping.
pub const RAMP: usize = 128;
/// Phoenix closes a socket silent for 60 s; idle sockets beat every 20.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(20);
/// How long deliveries may trail the last send before they count as lost.
pub const DRAIN: Duration = Duration::from_secs(10);
/// The sender's tick.
const TICK: Duration = Duration::from_millis(1);

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{0}")]
    Setup(String),
    #[error("histogram")]
    Histogram(#[from] hdrhistogram::CreationError),
    #[error("client")]
    Client(#[from] crate::error::ClientError),
}

/// The server process, when the generator may read its /proc entries.
#[derive(Debug, Clone, Copy)]
pub struct Server {
    pub pid: Option<u32>,
}

impl Server {
    pub fn cpu(&self) -> Option<f64> {
        self.pid.and_then(proc_stats::cpu_secs)
    }
    pub fn rss(&self) -> Option<u64> {
        self.pid.and_then(proc_stats::rss_kib)
    }
}

/// Open sockets, index = socket number; None where the socket failed.
pub struct Sockets {
    pub conns: Vec<Option<Arc<Conn>>>,
    /// Conversation of each socket.
    pub conv_of: Vec<usize>,
    pub joins: Histogram<u64>,
    pub failed: usize,
    pub first_error: Option<String>,
}

impl Sockets {
    pub fn open(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }
}

/// The tracker for every socket of `world`.
pub fn tracker(world: &World) -> Result<Arc<Tracker>, ScenarioError> {
    let conv_of = world.sockets().iter().map(|(c, _)| *c).collect();
    Ok(Arc::new(Tracker::new(conv_of, world.conversations.len())?))
}

/// Opens sockets `range` of the world, `RAMP` at a time.
pub async fn connect(
    world: &Arc<World>,
    tracker: &Arc<Tracker>,
    range: std::ops::Range<usize>,
    user_topic: bool,
    into: &mut Sockets,
) {
    let all = world.sockets();
    let wanted: Vec<(usize, usize, crate::world::Member)> = range
        .filter_map(|r| all.get(r).map(|(c, m)| (r, *c, (*m).clone())))
        .collect();
    let mut results = futures_util::stream::iter(wanted)
        .map(|(r, c, m)| {
            let (w, t) = (world.clone(), tracker.clone());
            async move { (r, Conn::open(&w, &t, r, c, &m, user_topic, None).await) }
        })
        .buffer_unordered(RAMP);
    while let Some((r, res)) = results.next().await {
        match res {
            Ok(o) => {
                let _ = into.joins.record(o.join_us.max(1));
                if let Some(slot) = into.conns.get_mut(r) {
                    *slot = Some(Arc::new(o.conn));
                }
            }
            Err(e) => {
                into.failed += 1;
                if into.first_error.is_none() {
                    into.first_error = Some(error_chain(&e));
                }
            }
        }
    }
}

/// Opens every socket of the world, or says how many failed and why.
pub async fn connect_all(
    world: &Arc<World>,
    tracker: &Arc<Tracker>,
) -> Result<Sockets, ScenarioError> {
    let mut sockets = empty_sockets(world)?;
    connect(world, tracker, 0..sockets.conns.len(), false, &mut sockets).await;
    if sockets.failed > 0 {
        return Err(ScenarioError::Setup(format!(
            "{} of {} sockets failed to open: {}",
            sockets.failed,
            sockets.conns.len(),
            sockets.first_error.clone().unwrap_or_default()
        )));
    }
    Ok(sockets)
}

pub fn empty_sockets(world: &World) -> Result<Sockets, ScenarioError> {
    let conv_of: Vec<usize> = world.sockets().iter().map(|(c, _)| *c).collect();
    Ok(Sockets {
        conns: conv_of.iter().map(|_| None).collect(),
        conv_of,
        joins: crate::track::latency_histogram()?,
        failed: 0,
        first_error: None,
    })
}

/// Beats on every open socket until dropped.
pub fn heartbeats(sockets: &Sockets) -> tokio::task::JoinHandle<()> {
    let conns: Vec<Arc<Conn>> = sockets.conns.iter().flatten().cloned().collect();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(HEARTBEAT_EVERY).await;
            for c in &conns {
                c.heartbeat().await;
            }
        }
    })
}

/// Per-sender counters, so every sender's messages are numbered 1, 2, 3 …
pub struct Numbers(Vec<u32>);

impl Numbers {
    pub fn new(sockets: usize) -> Self {
        Self(vec![0; sockets])
    }
    fn next(&mut self, r: usize) -> u32 {
        match self.0.get_mut(r) {
            Some(n) => {
                *n += 1;
                *n
            }
            None => 0,
        }
    }
}

/// Offers `rate` messages a second for `secs`, round-robin over the open
/// sockets, each stamped with the instant it was due (open loop: a
/// stalled system makes latency grow, never the offered load shrink).
/// Only open sockets send. Returns messages sent.
pub async fn send_for(
    world: &Arc<World>,
    tracker: &Arc<Tracker>,
    sockets: &Sockets,
    numbers: &mut Numbers,
    rate: f64,
    secs: f64,
    body_bytes: usize,
) -> u64 {
    let senders: Vec<usize> = (0..sockets.conns.len())
        .filter(|r| sockets.conns.get(*r).is_some_and(Option::is_some))
        .collect();
    if senders.is_empty() || rate <= 0.0 {
        return 0;
    }
    let topics: Vec<String> = (0..world.conversations.len())
        .map(|c| topic(world, c))
        .collect();
    let start = Instant::now();
    let start_us = now_us();
    let total = (rate * secs) as u64;
    let mut i: u64 = 0;
    while i < total {
        let elapsed = start.elapsed().as_secs_f64();
        let due = ((elapsed * rate) as u64 + 1).min(total);
        while i < due {
            let r = senders[(i as usize) % senders.len()];
            let c = sockets.conv_of.get(r).copied().unwrap_or(0);
            let stamp = Stamp {
                run: tracker.run,
                sender: r as u32,
                n: numbers.next(r),
                at_us: start_us + (i as f64 * 1e6 / rate) as u64,
            };
            if let Some(conn) = sockets.conns.get(r).and_then(|c| c.clone()) {
                let topic = topics.get(c).cloned().unwrap_or_default();
                let t = tracker.clone();
                let target = world.target;
                tokio::spawn(async move {
                    let body = stamp.body(body_bytes);
                    let id = stamp.client_msg_id();
                    match conn.send(&topic, &body, &id).await {
                        // NATS answers nothing: accepted once written.
                        Ok(()) if target == crate::world::Target::Nats => t.ack(c, &body),
                        Ok(()) => {}
                        Err(_) => t.error(),
                    }
                });
                tracker.sent.fetch_add(1, Ordering::Relaxed);
            }
            i += 1;
        }
        tokio::time::sleep(TICK).await;
    }
    i
}

/// Waits until every owed delivery has arrived and every send is
/// answered, or `DRAIN` has passed.
pub async fn drain(tracker: &Tracker) {
    let deadline = Instant::now() + DRAIN;
    while Instant::now() < deadline {
        let answered = tracker.acked() + tracker.errors.load(Ordering::Relaxed);
        if tracker.received() >= tracker.owed() && answered >= tracker.sent.load(Ordering::Relaxed)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A progress line on stderr once a second while `f` runs.
pub fn progress(label: &'static str, tracker: Arc<Tracker>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let start = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let p = crate::report::Percentiles::of(&tracker.latency());
            eprintln!(
                "[{label}] {:>4.0}s sent {} delivered {} p99 {:.1} ms errors {}",
                start.elapsed().as_secs_f64(),
                tracker.sent.load(Ordering::Relaxed),
                tracker.received(),
                p.p99,
                tracker.errors.load(Ordering::Relaxed),
            );
        }
    })
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

pub async fn close_all(sockets: &Sockets) {
    futures_util::stream::iter(sockets.conns.iter().flatten().cloned())
        .for_each_concurrent(RAMP, |c| async move { c.close().await })
        .await;
}
