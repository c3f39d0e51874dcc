//! One scenario's result: a human summary and one JSON line.

use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

use crate::track::Tally;

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            count: h.len(),
            p50: ms(0.5),
            p90: ms(0.9),
            p99: ms(0.99),
            p999: ms(0.999),
            max: h.max() as f64 / 1000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub target: String,
    pub sockets: usize,
    /// Messages per second offered, where the scenario sends.
    pub offered_per_sec: f64,
    pub duration_secs: f64,
    pub latency_ms: Percentiles,
    /// Deliveries per second over the sending window.
    pub deliveries_per_sec: f64,
    /// Server CPU seconds (user + system) per million deliveries.
    pub server_cpu_secs_per_1m: Option<f64>,
    pub server_rss_kib: Option<u64>,
    pub tally: Tally,
    /// Whatever else the scenario measured.
    pub extra: Value,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.tally.clean()
    }

    pub fn json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn summary(&self) -> String {
        let l = &self.latency_ms;
        let t = &self.tally;
        let mut s = format!(
            "{} on {}: {} sockets, {:.0} msg/s offered for {:.1} s\n  latency ms: p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ({} samples)\n  \
             {:.0} deliveries/s; sent {} acked {} expected {} delivered {} recovered {}\n  \
             lost {} duplicated {} out-of-order {} errors {}",
            self.scenario,
            self.target,
            self.sockets,
            self.offered_per_sec,
            self.duration_secs,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max,
            l.count,
            self.deliveries_per_sec,
            t.sent,
            t.acked,
            t.expected,
            t.delivered,
            t.recovered,
            t.lost,
            t.duplicated,
            t.out_of_order,
            t.errors,
        );
        if let Some(c) = self.server_cpu_secs_per_1m {
            s.push_str(&format!("\n  server CPU {c:.1} s per 1M deliveries"));
        }
        if let Some(r) = self.server_rss_kib {
            s.push_str(&format!(", RSS {} MiB", r / 1024));
        }
        if !self.extra.is_null() {
            s.push_str(&format!("\n  {}", self.extra));
        }
        s.push_str(if self.passed() {
            "\n  PASS"
        } else {
            "\n  FAIL"
        });
        s
    }
}
