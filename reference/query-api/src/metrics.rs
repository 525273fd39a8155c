//! Counters of the query API, rendered in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the query API.
#[derive(Debug, Default)]
pub struct Metrics {
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    clickhouse_micros: AtomicU64,
    responses: Mutex<BTreeMap<(u16, &'static str), u64>>,
}

impl Metrics {
    /// One answered request, by status and code (`ok` for successes).
    pub fn record_response(&self, status: u16, code: &'static str) {
        if let Ok(mut responses) = self.responses.lock() {
            *responses.entry((status, code)).or_default() += 1;
        }
    }

    /// A result served from the cache.
    pub fn record_cache_hit(&self) {
        self.cache_hits.fetch_add(1, Ordering::Relaxed);
    }

    /// A result computed (cache miss or refresh).
    pub fn record_cache_miss(&self) {
        self.cache_misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Time spent waiting for ClickHouse.
    pub fn record_clickhouse(&self, seconds: f64) {
        self.clickhouse_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP query_api_responses_total Query API responses, by HTTP status and code."
        );
        let _ = writeln!(out, "# TYPE query_api_responses_total counter");
        if let Ok(responses) = self.responses.lock() {
            for ((status, code), n) in responses.iter() {
                let _ = writeln!(
                    out,
                    "query_api_responses_total{{status=\"{status}\",code=\"{code}\"}} {n}"
                );
            }
        }
        for (name, help, value) in [
            (
                "query_api_cache_hits_total",
                "Results served from the Redis cache.",
                self.cache_hits.load(Ordering::Relaxed),
            ),
            (
                "query_api_cache_misses_total",
                "Results computed on ClickHouse.",
                self.cache_misses.load(Ordering::Relaxed),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {value}");
        }
        let _ = writeln!(
            out,
            "# HELP query_api_clickhouse_seconds_total Time spent waiting for ClickHouse."
        );
        let _ = writeln!(out, "# TYPE query_api_clickhouse_seconds_total counter");
        let _ = writeln!(
            out,
            "query_api_clickhouse_seconds_total {:.6}",
            self.clickhouse_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        out
    }
}
