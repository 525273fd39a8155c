//! The test stack: real ClickHouse, a Kafka-protocol broker, PostgreSQL and Redis, brought up by a provider.
//!
//! Providers (`local`, `docker`, `external`) sit behind one interface so that every test runs unchanged on each.
//! This crate knows nothing about HogQL, capture or ingestion: it only starts, describes and stops services.

use serde::{Deserialize, Serialize};

/// Connection settings of a running stack, as every Hogref program and test reads them from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// ClickHouse HTTP interface, e.g. `http://127.0.0.1:18123`. Env: `CLICKHOUSE_URL`.
    pub clickhouse_url: String,
    /// Kafka bootstrap servers, comma separated, e.g. `127.0.0.1:19092`. Env: `KAFKA_HOSTS`.
    pub kafka_hosts: String,
    /// PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:15432/hogref`. Env: `DATABASE_URL`.
    pub database_url: String,
    /// Redis URL, e.g. `redis://127.0.0.1:16379/`. Env: `REDIS_URL`.
    pub redis_url: String,
}

impl Endpoints {
    /// The environment variables that carry these endpoints, in a stable order.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLICKHOUSE_URL", self.clickhouse_url.clone()),
            ("KAFKA_HOSTS", self.kafka_hosts.clone()),
            ("DATABASE_URL", self.database_url.clone()),
            ("REDIS_URL", self.redis_url.clone()),
        ]
    }
}

/// Which provider brings the services up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// chDB behind an HTTP front, tansu, private PostgreSQL and Redis: no Docker needed.
    Local,
    /// testcontainers with the official images.
    Docker,
    /// Existing services named by environment variables.
    External,
}
