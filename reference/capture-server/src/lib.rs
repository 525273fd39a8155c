//! The capture HTTP front: PostHog's v0 endpoints (`/e`, `/i/v0/e`, `/capture`, `/track`, `/engage`,
//! `/batch`, each with and without a trailing `/`), decoded and validated by `event-model`, produced
//! through a [`Sink`] (Kafka in production). A request is answered 200 only after every one of its
//! events was acknowledged; one bad event rejects the whole request before anything is produced.
//!
//! **Retries are safe.** A broker failure in the middle of a batch answers 503 after part of it may
//! already be stored; Kafka offers no way to take it back. Rather than make produce transactional
//! (PostHog's capture is not either), a retry of the same request produces the same events with the
//! same uuids, and ClickHouse collapses duplicates by uuid (`ReplacingMergeTree`, read with `FINAL`).
//! Client uuids are kept as sent; a missing one is a UUIDv7 whose time is the client's timestamp and
//! whose random bits are a SHA-256 of the request (path, query, body) and the event's place in it
//! ([`AppState::stable_uuids`]). The trade-off: two byte-identical requests whose events carry no
//! uuid are one request, not two (SDKs send a uuid or a millisecond timestamp per event, so only
//! retries are byte-identical in practice).

mod error;
mod metrics;
mod routes;
mod serve;
mod sink;

use std::sync::Arc;

pub use error::{AppError, Error, Result};
pub use metrics::Metrics;
pub use routes::app;
pub use serve::{ServeConfig, serve, serve_blocking, shutdown_signal};
pub use sink::{
    KafkaSink, MAX_MESSAGE_BYTES, MemorySink, Sink, SinkError, SinkFuture, check_message_sizes,
};

/// Body size limit of the single-event paths (`EVENT_BODY_SIZE`).
pub const EVENT_BODY_LIMIT: usize = 2 * 1024 * 1024;
/// Body size limit of `/batch` (`BATCH_BODY_SIZE`).
pub const BATCH_BODY_LIMIT: usize = 20 * 1024 * 1024;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub sink: Arc<dyn Sink>,
    pub limits: Limits,
    /// The receive time of a request (a fixed clock in tests).
    pub clock: Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>,
    /// Random bits for generated UUIDv7s when [`AppState::stable_uuids`] is off (seeded in tests).
    pub random: Arc<dyn Fn() -> [u8; 10] + Send + Sync>,
    /// Generated uuids derive from the request's bytes, so a retried request repeats them (on by
    /// default; off, [`AppState::random`] gives the bits).
    pub stable_uuids: bool,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Request size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub event_body: usize,
    pub batch_body: usize,
    pub decompressed: usize,
    /// Longest time a request body may take to arrive; a stalled body answers 408.
    pub body_read_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            event_body: EVENT_BODY_LIMIT,
            batch_body: BATCH_BODY_LIMIT,
            decompressed: event_model::Limits::default().decompressed,
            body_read_timeout: std::time::Duration::from_secs(30),
        }
    }
}

impl AppState {
    /// Production state: the system clock and thread-local randomness.
    pub fn new(sink: Arc<dyn Sink>) -> AppState {
        AppState {
            sink,
            limits: Limits::default(),
            clock: Arc::new(chrono::Utc::now),
            random: Arc::new(rand::random::<[u8; 10]>),
            stable_uuids: true,
            metrics: Arc::new(Metrics::default()),
        }
    }
}
