//! `capacity`: ramps to N sockets, each joined to its `user:` topic and
//! its conversation, reporting join latency and the server's memory per
//! socket at 1k, 5k, 20k and the largest N reached.

use std::sync::Arc;

use serde_json::json;

use super::{ScenarioError, Server, close_all, connect, empty_sockets, heartbeats, tracker};
use crate::report::{Percentiles, Report};
use crate::world::{Target, World};

/// Where memory per socket is read on the way up.
const CHECKPOINTS: [usize; 3] = [1_000, 5_000, 20_000];

#[derive(Debug, Clone)]
pub struct CapacityOptions {
    pub sockets: usize,
    /// Seconds to hold every socket open at the top (heartbeating).
    pub hold_secs: f64,
}

pub async fn run(
    world: Arc<World>,
    server: Server,
    o: &CapacityOptions,
) -> Result<Report, ScenarioError> {
    let tracker = tracker(&world)?;
    let mut sockets = empty_sockets(&world)?;
    let n = o.sockets.min(sockets.conns.len());
    let base = server.rss();
    let started = std::time::Instant::now();
    let mut marks = Vec::new();
    let mut from = 0;
    for top in CHECKPOINTS.iter().copied().filter(|&c| c < n).chain([n]) {
        connect(
            &world,
            &tracker,
            from..top,
            world.target == Target::Cms,
            &mut sockets,
        )
        .await;
        from = top;
        let open = sockets.open();
        let rss = server.rss();
        eprintln!(
            "[capacity] {open} sockets open, server RSS {} MiB",
            rss.unwrap_or(0) / 1024
        );
        marks.push(json!({
            "sockets": open,
            "server_rss_kib": rss,
            "kib_per_socket": match (rss, base) {
                (Some(r), Some(b)) if open > 0 => Some(r.saturating_sub(b) as f64 / open as f64),
                _ => None,
            },
        }));
        if sockets.failed > 0 {
            break;
        }
    }
    let ramp_secs = started.elapsed().as_secs_f64();
    let beats = heartbeats(&sockets);
    tokio::time::sleep(std::time::Duration::from_secs_f64(o.hold_secs)).await;
    beats.abort();
    let mut tally = tracker.tally();
    tally.errors += sockets.failed as u64;
    let report = Report {
        scenario: "capacity".into(),
        target: world.target.name().into(),
        sockets: sockets.open(),
        offered_per_sec: 0.0,
        duration_secs: ramp_secs,
        latency_ms: Percentiles::of(&sockets.joins),
        deliveries_per_sec: 0.0,
        server_cpu_secs_per_1m: None,
        server_rss_kib: server.rss(),
        tally,
        extra: json!({
            "asked": o.sockets,
            "largest": sockets.open(),
            "failed": sockets.failed,
            "first_error": sockets.first_error,
            "base_rss_kib": base,
            "topics_per_socket": if world.target == Target::Cms { 2 } else { 1 },
            "checkpoints": marks,
            "sockets_per_sec": sockets.open() as f64 / ramp_secs.max(1e-9),
        }),
    };
    close_all(&sockets).await;
    Ok(report)
}
