//! Insight queries (`TrendsQuery`, ...) over HTTP: the `insights` crate plans the HogQL, [`prepare`]
//! compiles it for the team (team guard included), ClickHouse runs it, the crate shapes the rows into
//! PostHog's response, and the answer is cached in Redis like a HogQL query's.
//!
//! "Now" is read from ClickHouse in the project timezone (the crates stay free of a timezone
//! database), so relative date ranges follow the project's calendar.

use std::time::Instant;

use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::request::{Refresh, canonical, refresh_mode};
use crate::{AppState, prepare};

/// A parsed insight request.
#[derive(Debug, Clone)]
pub struct InsightRequest {
    /// The `query` object as sent.
    pub query: Value,
    /// The refresh mode.
    pub refresh: Refresh,
}

/// The request when its `query.kind` is an insight kind, `None` otherwise (a HogQL query or a body
/// for [`crate::request::parse`] to judge).
pub fn parse(body: &[u8]) -> Result<Option<InsightRequest>> {
    let Ok(Value::Object(mut top)) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    let is_insight = top
        .get("query")
        .and_then(|q| q.get("kind"))
        .and_then(Value::as_str)
        .is_some_and(insights::is_insight_kind);
    if !is_insight {
        return Ok(None);
    }
    for key in top.keys() {
        if !matches!(
            key.as_str(),
            "query"
                | "refresh"
                | "client_query_id"
                | "name"
                | "async"
                | "filters_override"
                | "variables_override"
        ) {
            return Err(Error::BadRequest(format!("`{key}`: unknown field")));
        }
    }
    if top.get("filters_override").is_some_and(|v| !v.is_null())
        || top.get("variables_override").is_some_and(|v| !v.is_null())
    {
        return Err(Error::BadRequest(
            "`filters_override` / `variables_override` are not supported".into(),
        ));
    }
    let refresh = refresh_mode(top.get("refresh").unwrap_or(&Value::Null))?;
    let query = top.remove("query").unwrap_or(Value::Null);
    Ok(Some(InsightRequest { query, refresh }))
}

/// The cache key: `insight_` and the SHA-256 of the canonical JSON of team and query.
pub fn cache_key(team_id: i64, query: &Value) -> String {
    let material = canonical(&json!({"team_id": team_id, "query": query}));
    let digest = Sha256::digest(material.to_string().as_bytes());
    let mut key = String::from("insight_");
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

fn plan_error(e: insights::Error) -> Error {
    match e {
        insights::Error::Rows(m) => Error::Internal(m),
        other => Error::BadRequest(other.to_string()),
    }
}

/// Answers an insight request for `team_id` (already authenticated) in `timezone`.
pub async fn answer(
    state: &AppState,
    team_id: i64,
    timezone: &str,
    request: InsightRequest,
    started: Instant,
) -> Result<Value> {
    let key = cache_key(team_id, &request.query);
    if request.refresh != Refresh::ForceBlocking
        && let Some(body) = crate::cached_answer(state, team_id, &key).await?
    {
        return Ok(body);
    }
    if request.refresh == Refresh::ForceCache {
        return Ok(json!({
            "results": null,
            "is_cached": false,
            "cache_key": key,
            "query": request.query,
        }));
    }
    state.metrics.record_cache_miss();

    let now = project_now(state, team_id, timezone).await?;
    let earliest_event = match insights::wants_earliest_event(&request.query) {
        true => Some(earliest_event(state, team_id, timezone).await?),
        false => None,
    };
    let ctx = insights::Context {
        timezone: timezone.to_owned(),
        now,
        earliest_event,
    };
    let plan = insights::plan(&request.query, &ctx).map_err(plan_error)?;
    let prepared = {
        let (hogql, timezone) = (plan.hogql.clone(), timezone.to_owned());
        tokio::task::spawn_blocking(move || {
            prepare::prepare(&hogql, &Map::new(), &Default::default(), team_id, &timezone)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??
    };
    let output = {
        let (clickhouse, sql) = (state.clickhouse.clone(), prepared.sql.clone());
        tokio::task::spawn_blocking(move || clickhouse.query(&sql))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    state.metrics.record_clickhouse(output.seconds);
    let shaped = plan.shape(&output.rows).map_err(plan_error)?;

    let mut timings: Vec<Value> = prepared
        .timings
        .iter()
        .map(|(k, t)| json!({"k": k, "t": t}))
        .collect();
    timings.push(json!({"k": "./clickhouse_execute", "t": output.seconds}));
    timings.push(json!({"k": ".", "t": started.elapsed().as_secs_f64()}));
    let mut body = shaped;
    for (k, v) in [
        ("hogql", Value::String(plan.hogql.clone())),
        ("clickhouse", Value::String(prepared.clickhouse.clone())),
        ("timings", Value::Array(timings)),
        ("query", request.query.clone()),
        ("timezone", Value::String(timezone.to_owned())),
        ("error", Value::Null),
        ("is_cached", Value::Bool(false)),
        ("cache_key", Value::String(key.clone())),
        (
            "last_refresh",
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        ),
        (
            "cache_target_age_seconds",
            json!(state.cache.as_ref().map(|c| c.ttl_seconds)),
        ),
        ("query_status", Value::Null),
    ] {
        body.insert(k.into(), v);
    }
    let body = Value::Object(body);
    if let Some(cache) = &state.cache {
        let (cache, text) = (cache.clone(), body.to_string());
        let stored = tokio::task::spawn_blocking(move || cache.put(team_id, &key, &text))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "redis write failed; result not cached");
        }
    }
    Ok(body)
}

/// Now (or [`AppState::fixed_now`]) as wall-clock time in the project timezone, read from
/// ClickHouse.
async fn project_now(
    state: &AppState,
    team_id: i64,
    timezone: &str,
) -> Result<chrono::NaiveDateTime> {
    let hogql = match state.fixed_now {
        None => "select toString(now())".to_owned(),
        Some(at) => format!("select toString(toDateTime({}))", at.timestamp()),
    };
    first_cell(state, team_id, timezone, hogql)
        .await?
        .as_deref()
        .and_then(wall_clock)
        .ok_or_else(|| Error::Internal("clickhouse did not tell the time".into()))
}

/// The team's earliest event as wall-clock time in the project timezone, or PostHog's fallback
/// (2015-01-01) for a team without events: where `date_from: "all"` starts.
async fn earliest_event(
    state: &AppState,
    team_id: i64,
    timezone: &str,
) -> Result<chrono::NaiveDateTime> {
    let hogql =
        "select if(count() = 0, '2015-01-01 00:00:00', toString(min(timestamp))) from events";
    first_cell(state, team_id, timezone, hogql.to_owned())
        .await?
        .as_deref()
        .and_then(wall_clock)
        .ok_or_else(|| Error::Internal("clickhouse did not tell the earliest event".into()))
}

/// `2020-01-09 13:00:00[.000000]` as a wall-clock time.
fn wall_clock(text: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(text.get(..19)?, "%Y-%m-%d %H:%M:%S").ok()
}

/// The first cell of a one-row HogQL query for the team, as text.
async fn first_cell(
    state: &AppState,
    team_id: i64,
    timezone: &str,
    hogql: String,
) -> Result<Option<String>> {
    let prepared = {
        let timezone = timezone.to_owned();
        tokio::task::spawn_blocking(move || {
            prepare::prepare(&hogql, &Map::new(), &Default::default(), team_id, &timezone)
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??
    };
    let output = {
        let (clickhouse, sql) = (state.clickhouse.clone(), prepared.sql);
        tokio::task::spawn_blocking(move || clickhouse.query(&sql))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    Ok(output
        .rows
        .first()
        .and_then(|row| row.get(0))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_insight_kinds_are_taken() {
        assert!(
            parse(br#"{"query": {"kind": "HogQLQuery", "query": "select 1"}}"#)
                .unwrap()
                .is_none()
        );
        assert!(parse(b"nope").unwrap().is_none());
        let r = parse(
            br#"{"query": {"kind": "TrendsQuery", "series": []}, "refresh": "force_blocking"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.refresh, Refresh::ForceBlocking);
        assert!(parse(br#"{"query": {"kind": "TrendsQuery"}, "bogus": 1}"#).is_err());
    }

    #[test]
    fn cache_keys_ignore_key_order_and_depend_on_the_team() {
        let a = json!({"kind": "TrendsQuery", "series": [], "interval": "day"});
        let b = json!({"interval": "day", "series": [], "kind": "TrendsQuery"});
        assert_eq!(cache_key(1, &a), cache_key(1, &b));
        assert_ne!(cache_key(1, &a), cache_key(2, &a));
    }
}
