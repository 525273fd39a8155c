//! The results cache in Redis: one key per team and request (query, values, modifiers), with a TTL.
//! A Redis failure never fails a query: the query runs uncached and the failure is logged.

use std::time::Duration;

use redis::Commands as _;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::request::{QueryRequest, canonical};

/// The cache (a Redis client, connections opened per use).
#[derive(Debug, Clone)]
pub struct Cache {
    client: redis::Client,
    /// How long a result stays, in seconds.
    pub ttl_seconds: u64,
}

/// The cache key of a request for a team: `hogql_` and the SHA-256 of the canonical JSON of team,
/// query, values and modifiers (object keys sorted, so key order in the request does not matter).
pub fn cache_key(team_id: i64, request: &QueryRequest) -> String {
    let material = canonical(&serde_json::json!({
        "team_id": team_id,
        "kind": "HogQLQuery",
        "query": request.query,
        "values": request.values,
        "modifiers": request.modifiers_json,
    }));
    let digest = Sha256::digest(material.to_string().as_bytes());
    let mut key = String::with_capacity(6 + 64);
    key.push_str("hogql_");
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

impl Cache {
    /// A cache at `url` (`redis://…`); nothing is contacted yet.
    pub fn new(url: &str, ttl_seconds: u64) -> Result<Cache> {
        let client =
            redis::Client::open(url).map_err(|e| Error::Internal(format!("REDIS_URL: {e}")))?;
        Ok(Cache {
            client,
            ttl_seconds,
        })
    }

    fn connection(&self) -> redis::RedisResult<redis::Connection> {
        self.client
            .get_connection_with_timeout(Duration::from_secs(2))
    }

    fn redis_key(team_id: i64, key: &str) -> String {
        format!("hogref:query_cache:{team_id}:{key}")
    }

    /// The cached response body, if any (blocking).
    pub fn get(&self, team_id: i64, key: &str) -> redis::RedisResult<Option<String>> {
        self.connection()?.get(Self::redis_key(team_id, key))
    }

    /// Stores a response body with the TTL (blocking).
    pub fn put(&self, team_id: i64, key: &str, body: &str) -> redis::RedisResult<()> {
        self.connection()?
            .set_ex(Self::redis_key(team_id, key), body, self.ttl_seconds)
    }

    /// Seconds until the entry expires (`None` when absent).
    pub fn ttl(&self, team_id: i64, key: &str) -> redis::RedisResult<Option<i64>> {
        let ttl: i64 = self.connection()?.ttl(Self::redis_key(team_id, key))?;
        Ok((ttl >= 0).then_some(ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(body: &str) -> QueryRequest {
        crate::request::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn keys_depend_on_team_query_values_and_modifiers_only() {
        let a = request(
            r#"{"query": {"kind": "HogQLQuery", "query": "select {x}", "values": {"x": 1, "y": 2}}}"#,
        );
        let same = request(
            r#"{"query": {"values": {"y": 2, "x": 1}, "query": "select {x}", "kind": "HogQLQuery"}, "refresh": true}"#,
        );
        let other_values = request(
            r#"{"query": {"kind": "HogQLQuery", "query": "select {x}", "values": {"x": 2, "y": 2}}}"#,
        );
        let other_modifiers = request(
            r#"{"query": {"kind": "HogQLQuery", "query": "select {x}", "values": {"x": 1, "y": 2}, "modifiers": {"convertToProjectTimezone": false}}}"#,
        );
        assert_eq!(cache_key(1, &a), cache_key(1, &same));
        assert_ne!(cache_key(1, &a), cache_key(2, &a));
        assert_ne!(cache_key(1, &a), cache_key(1, &other_values));
        assert_ne!(cache_key(1, &a), cache_key(1, &other_modifiers));
        assert!(cache_key(1, &a).starts_with("hogql_"));
        assert_eq!(cache_key(1, &a).len(), 6 + 64);
    }
}
