//! `reconnect`: a chat run in which a share of the sockets drop, messages
//! keep flowing, and the dropped ones come back with `since_seq`: every
//! message they missed must come back exactly once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::json;

use super::{
    Numbers, RAMP, ScenarioError, Server, close_all, connect_all, drain, empty_sockets,
    error_chain, heartbeats, progress, send_for, tracker,
};
use crate::conn::Conn;
use crate::report::{Percentiles, Report};
use crate::world::World;

#[derive(Debug, Clone)]
pub struct ReconnectOptions {
    pub rate: f64,
    /// Sending before the drop, while the sockets are away, and after.
    pub secs: f64,
    /// Share of sockets dropped, 0–1.
    pub share: f64,
    pub body_bytes: usize,
}

pub async fn run(
    world: Arc<World>,
    server: Server,
    o: &ReconnectOptions,
) -> Result<Report, ScenarioError> {
    let tracker = tracker(&world)?;
    let mut sockets = connect_all(&world, &tracker).await?;
    let total = sockets.conns.len();
    let every = (1.0 / o.share.clamp(1e-6, 1.0)).round().max(1.0) as usize;
    let dropped: HashSet<usize> = (0..total).filter(|r| r % every == 0).collect();
    let ticker = progress("reconnect", tracker.clone());
    let mut numbers = Numbers::new(total);
    let phase = o.secs / 3.0;
    let cpu0 = server.cpu();
    let started = Instant::now();

    send_for(
        &world,
        &tracker,
        &sockets,
        &mut numbers,
        o.rate,
        phase,
        o.body_bytes,
    )
    .await;
    // Drop them; the rest keep talking.
    let gone: Vec<_> = dropped
        .iter()
        .filter_map(|r| sockets.conns.get_mut(*r).and_then(Option::take))
        .collect();
    futures_util::stream::iter(gone)
        .for_each_concurrent(RAMP, |c| async move { c.close().await })
        .await;
    let beats = heartbeats(&sockets);
    send_for(
        &world,
        &tracker,
        &sockets,
        &mut numbers,
        o.rate,
        phase,
        o.body_bytes,
    )
    .await;

    // Back with since_seq, while the others go on sending.
    let back_started = Instant::now();
    let all = world.sockets();
    let mut rejoin = futures_util::stream::iter(dropped.iter().copied())
        .map(|r| {
            let (w, t) = (world.clone(), tracker.clone());
            let (c, m) = all.get(r).map(|(c, m)| (*c, (*m).clone())).unzip();
            async move {
                let since = t.last_seq(r);
                let res = match (c, m) {
                    (Some(c), Some(m)) => Conn::open(&w, &t, r, c, &m, false, Some(since)).await,
                    _ => Err(crate::error::ClientError::Closed),
                };
                (r, res)
            }
        })
        .buffer_unordered(RAMP);
    let mut rejoins = crate::track::latency_histogram()?;
    let mut failed = 0usize;
    let mut first_error = None;
    let sending = {
        let (w, t) = (world.clone(), tracker.clone());
        // Socket list without the dropped ones, for the concurrent sender.
        let mut rest = empty_sockets(&w)?;
        rest.conns = sockets.conns.clone();
        let mut n = std::mem::replace(&mut numbers, Numbers::new(0));
        let (rate, secs, bytes) = (o.rate, phase, o.body_bytes);
        tokio::spawn(async move {
            send_for(&w, &t, &rest, &mut n, rate, secs, bytes).await;
            n
        })
    };
    while let Some((r, res)) = rejoin.next().await {
        match res {
            Ok(opened) => {
                let _ = rejoins.record(opened.join_us.max(1));
                if let Some(slot) = sockets.conns.get_mut(r) {
                    *slot = Some(Arc::new(opened.conn));
                }
            }
            Err(e) => {
                failed += 1;
                first_error.get_or_insert_with(|| error_chain(&e));
            }
        }
    }
    let back_secs = back_started.elapsed().as_secs_f64();
    drop(rejoin);
    let _ = sending.await;
    drain(&tracker).await;
    let cpu1 = server.cpu();
    beats.abort();
    ticker.abort();
    let mut tally = tracker.tally();
    tally.errors += failed as u64;
    let cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) if tally.delivered > 0 => {
            Some((b - a) * 1e6 / (tally.delivered + tally.recovered) as f64)
        }
        _ => None,
    };
    let report = Report {
        scenario: "reconnect".into(),
        target: world.target.name().into(),
        sockets: total,
        offered_per_sec: o.rate,
        duration_secs: started.elapsed().as_secs_f64(),
        latency_ms: Percentiles::of(&tracker.latency()),
        deliveries_per_sec: tally.delivered as f64 / o.secs.max(1e-9),
        server_cpu_secs_per_1m: cpu,
        server_rss_kib: server.rss(),
        tally,
        extra: json!({
            "dropped": dropped.len(),
            "reconnected": dropped.len() - failed,
            "failed": failed,
            "first_error": first_error,
            "rejoin_ms": Percentiles::of(&rejoins),
            "all_back_in_secs": back_secs,
        }),
    };
    close_all(&sockets).await;
    Ok(report)
}
