//! The query API against REAL PostgreSQL, ClickHouse and Redis (feature `services`; `cargo xtask test`
//! turns it on and exports the service variables; a missing variable FAILS the test). Each run applies
//! Hogref's ClickHouse migrations into a database of its own, inserts events for two fresh teams and
//! drives the router with `oneshot`.
#![cfg(feature = "services")]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use migration_runner::topology::Node;
use pipeline_kit::unique;
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn env(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
        panic!("the `services` feature is on but {name} is not set: run `cargo xtask test`, or eval \"$(cargo xtask stack env)\"")
    })
}

struct Fixture {
    state: query_api::AppState,
    a: (i64, String),
    b: (i64, String),
}

/// Migrates a fresh ClickHouse database, makes two teams with keys, inserts two events for a and one for b.
async fn fixture(cache_url: &str) -> anyhow::Result<Fixture> {
    let clickhouse_url = env("CLICKHOUSE_URL");
    let database = unique("query_api_test");
    pipeline_kit::clickhouse_database(&database)?;

    let pool = ingest_worker::connect(&env("DATABASE_URL")).await?;
    ingest_worker::migrate(&pool).await?;
    let mut teams = Vec::new();
    for name in ["a", "b"] {
        let team = ingest_worker::create_team(&pool, &unique(name)).await?;
        let key = query_api::auth::create_api_key(&pool, team.id, "test").await?;
        teams.push((team.id, key));
    }
    let (a, b) = (teams[0].clone(), teams[1].clone());
    let insert = format!(
        "INSERT INTO sharded_events (uuid, event, properties, timestamp, team_id, distinct_id, created_at) VALUES \
         (generateUUIDv4(), 'signed_up', '{{\"plan\": \"pro\"}}', '2025-01-02 10:00:00', {a}, 'u1', now64()), \
         (generateUUIDv4(), 'purchase', '{{\"plan\": \"pro\"}}', '2025-01-02 11:00:00', {a}, 'u1', now64()), \
         (generateUUIDv4(), 'secret_b', '{{}}', '2025-01-02 12:00:00', {b}, 'u2', now64())",
        a = a.0,
        b = b.0
    );
    let node = Node {
        name: "local".into(),
        host: clickhouse_url.clone(),
        role: "ALL".into(),
        shard: None,
        replica: None,
    };
    migration_runner::client::Client::new().exec(&node, Some(&database), &insert)?;

    let state = query_api::AppState {
        pool,
        clickhouse: Arc::new(query_api::ClickHouse::new(
            &clickhouse_url,
            &database,
            "default",
            "",
        )),
        cache: Some(Arc::new(query_api::Cache::new(cache_url, 60)?)),
        metrics: Arc::new(query_api::Metrics::default()),
        limits: Arc::new(query_api::Limits::default()),
        fixed_now: None,
    };
    Ok(Fixture { state, a, b })
}

async fn post(
    state: &query_api::AppState,
    team_id: i64,
    key: Option<&str>,
    body: Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let mut request = Request::post(format!("/api/projects/{team_id}/query"))
        .header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = query_api::app(state.clone())
        .oneshot(request.body(Body::from(body.to_string()))?)
        .await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&bytes)?))
}

fn hogql(query: &str) -> Value {
    json!({"query": {"kind": "HogQLQuery", "query": query}})
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_auth_isolation_errors_and_cache() -> anyhow::Result<()> {
    let f = fixture(&env("REDIS_URL")).await?;
    let (a, key_a) = (f.a.0, f.a.1.as_str());
    let (b, key_b) = (f.b.0, f.b.1.as_str());
    let events = hogql("select event, distinct_id, properties.plan from events order by timestamp");

    // Results, columns, types, SQL and timings.
    let (status, body) = post(&f.state, a, Some(key_a), events.clone()).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["results"],
        json!([["signed_up", "u1", "pro"], ["purchase", "u1", "pro"]])
    );
    assert_eq!(body["columns"], json!(["event", "distinct_id", "plan"]));
    assert_eq!(body["types"][0], json!(["event", "String"]));
    assert!(
        body["clickhouse"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("equals(events.team_id, {a})"))),
        "{body}"
    );
    assert!(body["hogql"].is_string());
    assert_eq!(body["timings"].as_array().map(Vec::len), Some(5));
    assert_eq!(body["is_cached"], false);

    // The same request again comes from Redis, with a TTL set; refresh: true recomputes.
    let (_, cached) = post(&f.state, a, Some(key_a), events.clone()).await?;
    assert_eq!(cached["is_cached"], true);
    assert_eq!(cached["results"], body["results"]);
    let cache = f.state.cache.as_ref().expect("a cache");
    let ttl = cache.ttl(a, body["cache_key"].as_str().unwrap_or_default())?;
    assert!(ttl.is_some_and(|t| t > 0 && t <= 60), "{ttl:?}");
    let mut refresh = events.clone();
    refresh["refresh"] = json!(true);
    let (_, fresh) = post(&f.state, a, Some(key_a), refresh).await?;
    assert_eq!(fresh["is_cached"], false);

    // Team b's key sees only team b's events; it cannot read team a's path.
    let (_, body_b) = post(&f.state, b, Some(key_b), events.clone()).await?;
    assert_eq!(body_b["results"], json!([["secret_b", "u2", null]]));
    assert_eq!(body_b["is_cached"], false);
    let (status, body) = post(&f.state, a, Some(key_b), events.clone()).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = post(&f.state, a, None, events.clone()).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = post(&f.state, a, Some("phx_unknown"), events.clone()).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // HogQL errors: 400 with character offsets; a ClickHouse error: 400 with its name as code.
    let (status, body) = post(&f.state, a, Some(key_a), hogql("select nope from events")).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["start"].clone(), body["end"].clone()),
        (json!(7), json!(11))
    );
    let (status, body) = post(&f.state, a, Some(key_a), hogql("select 1 + 'a'")).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        ["illegal_type_of_argument", "no_common_type"]
            .contains(&body["code"].as_str().unwrap_or("")),
        "{body}"
    );
    assert!(!body.to_string().contains("DB::Exception"), "{body}");

    let metrics = f.state.metrics.render();
    assert!(
        metrics.contains("query_api_cache_hits_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("query_api_responses_total{status=\"403\",code=\"permission_denied\"} 1"),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_redis_queries_still_run_uncached() -> anyhow::Result<()> {
    // Nothing listens on port 1: every cache read and write fails, and is only logged.
    let f = fixture("redis://127.0.0.1:1/").await?;
    let q = hogql("select count() from events");
    for _ in 0..2 {
        let (status, body) = post(&f.state, f.a.0, Some(&f.a.1), q.clone()).await?;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["results"], json!([[2]]));
        assert_eq!(body["is_cached"], false);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn clickhouse_errors_never_show_other_teams_values() -> anyhow::Result<()> {
    let f = fixture("redis://127.0.0.1:1/").await?;
    // A regular expression made of each row's values: ClickHouse's error names the first value it
    // could not compile (team a's own here; team b's when an expression runs before the team filter).
    for query in [
        "select count() from events where match('x', concat(event, '('))",
        "select replaceRegexpAll('x', concat(event, '('), '') from events",
        "select event from events order by match('x', concat(distinct_id, '('))",
    ] {
        let (status, body) = post(&f.state, f.a.0, Some(&f.a.1), hogql(query)).await?;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        let text = body.to_string();
        for leaked in [
            "secret_b",
            "signed_up",
            "purchase",
            "u1(",
            "DB::Exception",
            "Code:",
            "re2",
        ] {
            assert!(!text.contains(leaked), "{query}: {text}");
        }
        assert!(
            ["cannot_compile_regexp", "bad_arguments"]
                .contains(&body["code"].as_str().unwrap_or("")),
            "{query}: {body}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_team_over_its_concurrency_limit_gets_429() -> anyhow::Result<()> {
    let f = fixture("redis://127.0.0.1:1/").await?;
    // The team's slots are all taken (as by long queries): the next query is refused at once.
    let held: Vec<_> = (0..f.state.limits.max_concurrent_per_team)
        .map(|_| f.state.limits.try_acquire(f.a.0).expect("a free slot"))
        .collect();
    let mut request = hogql("select count() from events");
    request["refresh"] = json!(true);
    let (status, body) = post(&f.state, f.a.0, Some(&f.a.1), request.clone()).await?;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "concurrency_limit_exceeded", "{body}");
    // Another team is not affected; the first runs again once a slot is free.
    let (status, _) = post(&f.state, f.b.0, Some(&f.b.1), request.clone()).await?;
    assert_eq!(status, StatusCode::OK);
    drop(held);
    let (status, body) = post(&f.state, f.a.0, Some(&f.a.1), request).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(f.state.limits.running(f.a.0), 0);
    Ok(())
}
