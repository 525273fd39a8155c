//! Request and event counters, rendered in the Prometheus text format on `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of the capture server.
#[derive(Debug, Default)]
pub struct Metrics {
    requests_ok: AtomicU64,
    events_ingested: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

impl Metrics {
    /// A request whose `n_events` events were all acknowledged.
    pub fn record_ok(&self, n_events: usize) {
        self.requests_ok.fetch_add(1, Ordering::Relaxed);
        self.events_ingested
            .fetch_add(n_events as u64, Ordering::Relaxed);
    }

    /// A rejected request, by error code.
    pub fn record_error(&self, code: &'static str) {
        if let Ok(mut errors) = self.errors.lock() {
            *errors.entry(code).or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP capture_requests_ok_total Requests answered with success."
        );
        let _ = writeln!(out, "# TYPE capture_requests_ok_total counter");
        let _ = writeln!(
            out,
            "capture_requests_ok_total {}",
            self.requests_ok.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP capture_events_ingested_total Events acknowledged by the sink."
        );
        let _ = writeln!(out, "# TYPE capture_events_ingested_total counter");
        let _ = writeln!(
            out,
            "capture_events_ingested_total {}",
            self.events_ingested.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP capture_requests_rejected_total Requests rejected, by error code."
        );
        let _ = writeln!(out, "# TYPE capture_requests_rejected_total counter");
        if let Ok(errors) = self.errors.lock() {
            for (code, n) in errors.iter() {
                let _ = writeln!(
                    out,
                    "capture_requests_rejected_total{{code=\"{code}\"}} {n}"
                );
            }
        }
        out
    }
}
