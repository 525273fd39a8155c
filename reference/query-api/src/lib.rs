//! The query API: `POST /api/projects/:team_id/query` with a `HogQLQuery`, answered as PostHog's query
//! endpoint answers (`results`, `columns`, `types`, `hogql`, `clickhouse`, `timings`, cache fields).
//!
//! This crate is the I/O shell; the work is pure and lives elsewhere: [`request`] reads the body,
//! [`prepare`] compiles through `hogql-compiler` (team guard, `%(hogql_val_N)s` values, bound into one
//! statement), [`clickhouse`] runs it over HTTP in `JSONCompact`, [`cache`] keeps answers in Redis and
//! [`auth`] checks the `Authorization: Bearer` key against the team's keys in PostgreSQL.
//!
//! Errors answer with PostHog's error body (`type`, `code`, `detail`, `attr`), plus `start`/`end`
//! character offsets for HogQL errors (400). A missing or unknown key is 401; a key of another team is 403.
//! A ClickHouse error answers with a code and a fixed message from [`clickhouse_errors`], never with
//! ClickHouse's text (it may hold other teams' values). [`limits`] caps the body (413), its arrival
//! time (408) and each team's running queries (429 with `Retry-After`); ClickHouse calls have a
//! deadline (504). A panic while answering is a 500 without detail; the server keeps serving.

pub mod auth;
pub mod cache;
pub mod clickhouse;
pub mod clickhouse_errors;
mod error;
pub mod insights;
pub mod limits;
pub mod metrics;
pub mod prepare;
pub mod request;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

pub use crate::cache::Cache;
pub use crate::clickhouse::ClickHouse;
pub use crate::error::{Error, Result};
pub use crate::limits::Limits;
pub use crate::metrics::Metrics;
use crate::request::Refresh;

/// Default time a cached result is served, in seconds.
pub const DEFAULT_CACHE_TTL_SECONDS: u64 = 300;

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// PostgreSQL: teams and API keys.
    pub pool: sqlx::PgPool,
    /// Where queries run.
    pub clickhouse: Arc<ClickHouse>,
    /// The results cache; `None` runs every query.
    pub cache: Option<Arc<Cache>>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Body size and time, per-team concurrency (`Limits::default()` in production).
    pub limits: Arc<Limits>,
    /// The instant insight queries take as now (`None` in production: ClickHouse's clock). Tests
    /// that replay PostHog's frozen-time cases set it.
    pub fixed_now: Option<chrono::DateTime<chrono::Utc>>,
}

/// The query routes only (`/api/projects/{team_id}/query`, with and without a trailing `/`), for a
/// server that mounts them next to other routes.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/projects/{team_id}/query", post(query))
        .route("/api/projects/{team_id}/query/", post(query))
        .with_state(state)
}

/// The query API on its own: [`routes`] plus `/metrics`, `/_liveness` and `/_readiness`.
pub fn app(state: AppState) -> Router {
    let metrics = state.metrics.clone();
    routes(state)
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                        metrics.render(),
                    )
                }
            }),
        )
        .route("/_liveness", get(|| async { "ok" }))
        .route("/_readiness", get(|| async { "query" }))
}

async fn query(
    State(state): State<AppState>,
    Path(team_id): Path<String>,
    request: Request,
) -> Response {
    let started = Instant::now();
    // Its own task, so that a panic anywhere below is an answer (500) and not a dropped connection;
    // the team's slot is given back when the task unwinds.
    let task = {
        let (state, team_id) = (state.clone(), team_id.clone());
        tokio::spawn(async move {
            let (parts, body) = request.into_parts();
            let body = read_body(&state.limits, &parts.headers, body).await?;
            answer(&state, &team_id, &parts.headers, &body).await
        })
    };
    let outcome = match task.await {
        Ok(outcome) => outcome,
        Err(e) if e.is_panic() => Err(Error::Internal("a request handler panicked".into())),
        Err(e) => Err(Error::Internal(e.to_string())),
    };
    let (response, status, code) = match outcome {
        Ok(body) => (
            (StatusCode::OK, axum::Json(body)).into_response(),
            200,
            "ok",
        ),
        Err(e) => {
            let status = e.status().as_u16();
            let code = e.code();
            let detail = e.to_string();
            if status >= 500 {
                tracing::error!(%team_id, status, code, detail, "query rejected");
            } else {
                tracing::info!(%team_id, status, code, detail, "query rejected");
            }
            (e.into_response(), status, code)
        }
    };
    state.metrics.record_response(status, code);
    tracing::debug!(
        %team_id,
        status,
        seconds = started.elapsed().as_secs_f64(),
        "query answered"
    );
    response
}

/// The body, within the size limit (a declared `Content-Length` over it is refused before reading) and
/// the arrival deadline.
async fn read_body(limits: &Limits, headers: &HeaderMap, body: Body) -> Result<Vec<u8>> {
    let limit = limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().parse::<u64>());
    match declared {
        Some(Ok(n)) if n > limit as u64 => return Err(Error::PayloadTooLarge { limit }),
        // Digits beyond u64 are larger than any limit.
        Some(Err(_)) => return Err(Error::PayloadTooLarge { limit }),
        _ => {}
    }
    let seconds = limits.body_read_timeout.as_secs();
    let read = tokio::time::timeout(limits.body_read_timeout, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| Error::BodyReadTimeout { seconds })?;
    match read {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(error) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return Err(Error::PayloadTooLarge { limit });
                }
                source = e.source();
            }
            Err(Error::BadRequest(format!(
                "could not read the request body: {error}"
            )))
        }
    }
}

/// Everything a query request does that needs no service: the body read as a request, then compiled
/// for `team_id` in `timezone`. The fuzz target and the property tests drive this.
pub fn prepare_body(body: &[u8], team_id: i64, timezone: &str) -> Result<prepare::Prepared> {
    let request = request::parse(body)?;
    prepare::prepare(
        &request.query,
        &request.values,
        &request.modifiers,
        team_id,
        timezone,
    )
}

async fn answer(
    state: &AppState,
    team_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value> {
    let started = Instant::now();
    let team_id: i64 = team_id
        .parse()
        .map_err(|_| Error::InvalidTeamId(team_id.to_owned()))?;
    let key = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::bearer)
        .ok_or(Error::NotAuthenticated)?;
    let key_team = auth::team_for_key(&state.pool, key)
        .await?
        .ok_or(Error::InvalidKey)?;
    if key_team != team_id {
        return Err(Error::Forbidden { team_id });
    }
    let timezone = auth::team_timezone(&state.pool, team_id)
        .await?
        .ok_or(Error::Forbidden { team_id })?;
    if let Some(insight) = insights::parse(body)? {
        // An insight holds the team's slot for its whole answer (cache look-up included): it may run
        // several ClickHouse queries.
        let _slot = state
            .limits
            .try_acquire(team_id)
            .ok_or(Error::TooManyConcurrentQueries {
                limit: state.limits.max_concurrent_per_team,
            })?;
        return insights::answer(state, team_id, &timezone, insight, started).await;
    }
    let request = request::parse(body)?;
    let cache_key = cache::cache_key(team_id, &request);

    if request.refresh != Refresh::ForceBlocking
        && let Some(body) = cached_answer(state, team_id, &cache_key).await?
    {
        return Ok(body);
    }
    if request.refresh == Refresh::ForceCache {
        return Ok(json!({
            "results": null,
            "is_cached": false,
            "cache_key": cache_key,
            "query": request.query,
            "modifiers": request.modifiers_json,
        }));
    }

    state.metrics.record_cache_miss();
    let _slot = state
        .limits
        .try_acquire(team_id)
        .ok_or(Error::TooManyConcurrentQueries {
            limit: state.limits.max_concurrent_per_team,
        })?;
    let prepared = {
        let request = request.clone();
        let timezone = timezone.clone();
        tokio::task::spawn_blocking(move || {
            prepare::prepare(
                &request.query,
                &request.values,
                &request.modifiers,
                team_id,
                &timezone,
            )
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))??
    };
    let output = {
        let clickhouse = state.clickhouse.clone();
        let sql = prepared.sql.clone();
        tokio::task::spawn_blocking(move || clickhouse.query(&sql))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??
    };
    state.metrics.record_clickhouse(output.seconds);

    let mut timings: Vec<Value> = prepared
        .timings
        .iter()
        .map(|(k, t)| json!({"k": k, "t": t}))
        .collect();
    timings.push(json!({"k": "./clickhouse_execute", "t": output.seconds}));
    timings.push(json!({"k": ".", "t": started.elapsed().as_secs_f64()}));
    let types: Vec<Value> = output
        .columns
        .iter()
        .zip(&output.types)
        .map(|(c, t)| json!([c, t]))
        .collect();
    let body = json!({
        "results": output.rows,
        "columns": output.columns,
        "types": types,
        "hogql": prepared.hogql,
        "clickhouse": prepared.clickhouse,
        "timings": timings,
        "query": request.query,
        "modifiers": request.modifiers_json,
        "timezone": timezone,
        "error": null,
        "explain": null,
        "is_cached": false,
        "cache_key": cache_key,
        "last_refresh": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "cache_target_age_seconds": state.cache.as_ref().map(|c| c.ttl_seconds),
        "query_status": null,
    });
    if let Some(cache) = &state.cache {
        let (cache, key, text) = (cache.clone(), cache_key, body.to_string());
        let stored = tokio::task::spawn_blocking(move || cache.put(team_id, &key, &text))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "redis write failed; result not cached");
        }
    }
    Ok(body)
}

/// The cached answer of `key` for `team_id`, marked `is_cached` (none without a cache, on a miss, or
/// when Redis fails: then the query runs uncached and a warning is logged). A hit is counted.
pub(crate) async fn cached_answer(
    state: &AppState,
    team_id: i64,
    key: &str,
) -> Result<Option<Value>> {
    let Some(cache) = &state.cache else {
        return Ok(None);
    };
    let cached = {
        let (cache, key) = (cache.clone(), key.to_owned());
        tokio::task::spawn_blocking(move || cache.get(team_id, &key))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
    };
    match cached {
        Ok(Some(text)) => {
            if let Ok(Value::Object(mut body)) = serde_json::from_str::<Value>(&text) {
                state.metrics.record_cache_hit();
                body.insert("is_cached".into(), Value::Bool(true));
                return Ok(Some(Value::Object(body)));
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "redis read failed; running uncached"),
    }
    Ok(None)
}
