//! The ingestion worker: consumes capture's `events_plugin_ingestion` messages, resolves the team by
//! token and the person by distinct id in PostgreSQL, and produces the ClickHouse rows
//! (`clickhouse_events_json`, `clickhouse_person`, `clickhouse_person_distinct_id`,
//! `clickhouse_groups`). Offsets are
//! committed only after every produced row of a batch was acknowledged (at-least-once); duplicates
//! collapse in ClickHouse (`sharded_events` is a ReplacingMergeTree whose key includes the uuid).
//!
//! The rules are pure modules with unit tests: [`person_id`], [`properties`], [`lift`], [`merge`],
//! [`groups`], [`elements`], [`event_row`].
//! [`store`] is the PostgreSQL side, [`worker`] the Kafka loop.

pub mod elements;
pub mod error;
pub mod event_row;
pub mod groups;
pub mod lift;
pub mod merge;
pub mod person_id;
pub mod properties;
pub mod store;
pub mod worker;

pub use error::{Error, Result};
pub use store::{Team, connect, create_team, migrate};
pub use worker::{Stats, Worker, WorkerConfig, create_topics, ensure_topics, pipeline_topics};
