//! Prometheus metrics (README, "Metrics"): every layer records through the
//! `metrics` facade, and `GET /metrics` renders what was recorded in
//! Prometheus's text format. One recorder per process, installed on first
//! use, so several servers in one test process share it.
//!
//! What is measured, by name: open sockets and joins; messages stored,
//! answered as duplicates and delivered; the group-commit writer's batch
//! sizes, commit time and queue; store queries by operation; reminders'
//! lateness and every delivery's outcome; HTTP requests by route, method
//! and status.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Seconds, from a quarter of a millisecond to a minute.
const SECONDS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    30.0, 60.0,
];
/// Messages in one batch.
const BATCH: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed the first time.
pub fn handle() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full("cms_chat_batch_size".into()), BATCH)
            });
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            // The buckets above are never empty; should the builder refuse
            // them, the defaults serve.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was installed already; /metrics shows this one's");
        }
        handle
    })
}

/// Records every HTTP request: its route's pattern (not the path, so ids
/// do not make a series each), method, status and time.
pub async fn http(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().to_string();
    let res = next.call(req).await;
    let (route, status) = match &res {
        Ok(r) => (
            r.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned()),
            r.status().as_u16(),
        ),
        Err(e) => (
            "unmatched".to_owned(),
            e.as_response_error().status_code().as_u16(),
        ),
    };
    metrics::histogram!(
        "cms_http_request_seconds",
        "method" => method, "route" => route, "status" => status.to_string()
    )
    .record(started.elapsed().as_secs_f64());
    res
}

/// Times a store operation under `op`.
pub async fn timed<T>(op: &'static str, work: impl std::future::Future<Output = T>) -> T {
    let started = std::time::Instant::now();
    let out = work.await;
    metrics::histogram!("cms_store_query_seconds", "op" => op)
        .record(started.elapsed().as_secs_f64());
    out
}
