//! `chat`: S sockets in conversations of K, M messages a second offered
//! for T seconds; every message reaches every member (the sender too) and
//! is counted. With `find_max`, steps the rate up until p99 passes the
//! limit (or anything is lost), then bisects: the highest rate held.

use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use super::{
    Numbers, ScenarioError, Server, Sockets, close_all, connect_all, drain, heartbeats, progress,
    send_for, tracker,
};
use crate::report::{Percentiles, Report};
use crate::track::Tracker;
use crate::world::World;

#[derive(Debug, Clone)]
pub struct ChatOptions {
    pub rate: f64,
    pub secs: f64,
    pub body_bytes: usize,
    /// Search for the highest rate whose p99 stays within `p99_limit_ms`.
    pub find_max: bool,
    pub p99_limit_ms: f64,
    /// Bisection steps after the first rate that fails.
    pub bisect_steps: u32,
    /// The search never offers more than this.
    pub max_rate: f64,
}

impl Default for ChatOptions {
    fn default() -> Self {
        Self {
            rate: 1_000.0,
            secs: 10.0,
            body_bytes: 100,
            find_max: false,
            p99_limit_ms: 50.0,
            bisect_steps: 3,
            max_rate: 200_000.0,
        }
    }
}

/// One measured step at one rate.
struct Step {
    rate: f64,
    report: Report,
}

pub async fn run(
    world: Arc<World>,
    server: Server,
    o: &ChatOptions,
) -> Result<Vec<Report>, ScenarioError> {
    let tracker = tracker(&world)?;
    let sockets = connect_all(&world, &tracker).await?;
    let beats = heartbeats(&sockets);
    let ticker = progress("chat", tracker.clone());
    let mut numbers = Numbers::new(sockets.conns.len());
    let mut reports = Vec::new();
    let first = step(
        &world,
        &tracker,
        &sockets,
        &mut numbers,
        server,
        o,
        o.rate,
        // The search's steps are told apart from a plain run.
        if o.find_max { "chat-step" } else { "chat" },
    )
    .await;
    let mut held = ok(&first.report, o).then_some(first.rate);
    reports.push(first.report);
    if o.find_max {
        // Up by doubling while the rate holds, then bisect.
        let mut failed: Option<f64> = None;
        let mut rate = o.rate;
        while failed.is_none() && rate * 2.0 <= o.max_rate && held == Some(rate) {
            rate *= 2.0;
            let s = step(
                &world,
                &tracker,
                &sockets,
                &mut numbers,
                server,
                o,
                rate,
                "chat-step",
            )
            .await;
            if ok(&s.report, o) {
                held = Some(rate);
            } else {
                failed = Some(rate);
            }
            reports.push(s.report);
        }
        if let (Some(mut lo), Some(mut hi)) = (held, failed) {
            for _ in 0..o.bisect_steps {
                let mid = ((lo + hi) / 2.0).round();
                let s = step(
                    &world,
                    &tracker,
                    &sockets,
                    &mut numbers,
                    server,
                    o,
                    mid,
                    "chat-step",
                )
                .await;
                if ok(&s.report, o) {
                    lo = mid;
                } else {
                    hi = mid;
                }
                reports.push(s.report);
            }
            held = Some(lo);
        }
        let last = reports.last().cloned();
        if let Some(mut r) = last {
            r.scenario = "chat-max".into();
            r.extra = json!({
                "max_rate_at_p99_limit": held.unwrap_or(0.0),
                "p99_limit_ms": o.p99_limit_ms,
                "steps": reports.iter().map(|s| json!({
                    "rate": s.offered_per_sec, "p99_ms": s.latency_ms.p99,
                    "delivered_per_sec": s.deliveries_per_sec, "clean": s.passed(),
                })).collect::<Vec<_>>(),
            });
            reports.push(r);
        }
    }
    beats.abort();
    ticker.abort();
    close_all(&sockets).await;
    Ok(reports)
}

/// A rate holds when p99 is within the limit, nothing went wrong, and the
/// system delivered what was offered.
fn ok(r: &Report, o: &ChatOptions) -> bool {
    r.passed() && r.latency_ms.p99 <= o.p99_limit_ms
}

#[allow(clippy::too_many_arguments)]
async fn step(
    world: &Arc<World>,
    tracker: &Arc<Tracker>,
    sockets: &Sockets,
    numbers: &mut Numbers,
    server: Server,
    o: &ChatOptions,
    rate: f64,
    name: &str,
) -> Step {
    tracker.reset_latency();
    let before = tracker.tally();
    let cpu0 = server.cpu();
    let started = Instant::now();
    send_for(world, tracker, sockets, numbers, rate, o.secs, o.body_bytes).await;
    drain(tracker).await;
    let secs = started.elapsed().as_secs_f64();
    let cpu1 = server.cpu();
    let mut tally = tracker.tally();
    // This step's share of the counts.
    tally.sent -= before.sent;
    tally.acked -= before.acked;
    tally.expected -= before.expected;
    tally.delivered -= before.delivered;
    tally.lost = tally.lost.saturating_sub(before.lost);
    tally.duplicated -= before.duplicated;
    tally.out_of_order -= before.out_of_order;
    tally.errors -= before.errors;
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) if tally.delivered > 0 => Some((b - a) * 1e6 / tally.delivered as f64),
        _ => None,
    };
    let report = Report {
        scenario: name.into(),
        target: world.target.name().into(),
        sockets: sockets.open(),
        offered_per_sec: rate,
        duration_secs: o.secs,
        latency_ms: Percentiles::of(&tracker.latency()),
        deliveries_per_sec: tally.delivered as f64 / secs.max(o.secs),
        server_cpu_secs_per_1m: cpu,
        server_rss_kib: server.rss(),
        tally,
        extra: json!({ "members": world.conversations.first().map_or(0, |c| c.members.len()) }),
    };
    eprintln!("{}", report.summary());
    Step { rate, report }
}
