//! Insight queries (`fixtures/insights/<kind>/NAME.json`) through the query API's router against
//! REAL ClickHouse, PostgreSQL and Redis (feature `services`). Each case gets a team of its own; its
//! dataset (`fixtures/insights/datasets/`) is inserted straight into ClickHouse (events, persons,
//! distinct ids) and the query's numbers are compared with PostHog's expectations, key by key.
//! Cases listed in `fixtures/insights/known-gaps.toml` must fail; a listed case that passes fails
//! the run. Also checked: another team sees none of a team's events, a second request is served
//! from the cache, and an unsupported field is a 400 naming it. `INSIGHTS_DUMP_DIR=DIR` writes each
//! case's full response to `DIR/<case>.json` for inspection; `INSIGHTS_FILTER=TEXT` runs only the cases
//! whose name holds TEXT. A case's `timezone` becomes its team's, its `now` (PostHog's frozen time)
//! the query API's clock, and its dataset's `groups` rows of the groups table.
#![cfg(feature = "services")]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;

use migration_runner::topology::Node;
use serde_json::{Value, json};
use tower::ServiceExt as _;

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| {
            panic!("the `services` feature is on but {name} is not set: run `cargo xtask test`")
        })
}

fn fixtures() -> PathBuf {
    conformance::paths::fixtures_dir().join("insights")
}

struct Harness {
    state: query_api::AppState,
    node: Node,
    database: String,
}

impl Harness {
    async fn new() -> anyhow::Result<Harness> {
        let clickhouse_url = env("CLICKHOUSE_URL");
        let database = pipeline_kit::unique("insights_test");
        pipeline_kit::clickhouse_database(&database)?;
        let pool = ingest_worker::connect(&env("DATABASE_URL")).await?;
        ingest_worker::migrate(&pool).await?;
        let state = query_api::AppState {
            pool,
            clickhouse: Arc::new(query_api::ClickHouse::new(
                &clickhouse_url,
                &database,
                "default",
                "",
            )),
            cache: Some(Arc::new(query_api::Cache::new(&env("REDIS_URL"), 60)?)),
            metrics: Arc::new(query_api::Metrics::default()),
            limits: Arc::new(query_api::Limits::default()),
            fixed_now: None,
        };
        let node = Node {
            name: "local".into(),
            host: clickhouse_url,
            role: "ALL".into(),
            shard: None,
            replica: None,
        };
        Ok(Harness {
            state,
            node,
            database,
        })
    }

    async fn team(&self, name: &str) -> anyhow::Result<(i64, String)> {
        let team = ingest_worker::create_team(&self.state.pool, name).await?;
        let key = query_api::auth::create_api_key(&self.state.pool, team.id, "test").await?;
        Ok((team.id, key))
    }

    fn insert(&self, table: &str, rows: &[Value]) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let lines: Vec<String> = rows.iter().map(Value::to_string).collect();
        let sql = format!(
            "INSERT INTO {table} FORMAT JSONEachRow\n{}\n",
            lines.join("\n")
        );
        migration_runner::client::Client::new().exec(&self.node, Some(&self.database), &sql)?;
        Ok(())
    }

    /// Loads a dataset file for `team`: persons with their distinct ids, then events.
    fn load(&self, team: i64, dataset: &str) -> anyhow::Result<()> {
        let path = fixtures().join("datasets").join(format!("{dataset}.json"));
        let data: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
            .with_context(|| path.display().to_string())?;
        let (mut persons, mut pdis, mut events) = (Vec::new(), Vec::new(), Vec::new());
        let mut person_of = std::collections::HashMap::new();
        for (i, person) in data["persons"].as_array().into_iter().flatten().enumerate() {
            let id = format!("{team:08x}-0000-4000-a000-{i:012x}");
            let properties = person["properties"].to_string();
            // Created at `created_at`, else at its first event (PostHog's tests freeze time there).
            let dids: Vec<&str> = person["distinct_ids"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let created_at = person["created_at"]
                .as_str()
                .or_else(|| {
                    data["events"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|e| e["distinct_id"].as_str().is_some_and(|d| dids.contains(&d)))
                        .filter_map(|e| e["timestamp"].as_str())
                        .min()
                })
                .unwrap_or("2020-01-01T00:00:00Z")
                .trim_end_matches('Z')
                .replace('T', " ");
            persons.push(json!({"id": id, "created_at": created_at, "team_id": team,
                "properties": properties, "is_identified": 0, "is_deleted": 0, "version": 0}));
            for did in person["distinct_ids"].as_array().into_iter().flatten() {
                let did = did.as_str().context("distinct id")?;
                pdis.push(json!({"team_id": team, "distinct_id": did, "person_id": id, "is_deleted": 0, "version": 0}));
                person_of.insert(did.to_owned(), (id.clone(), properties.clone()));
            }
        }
        for (i, event) in data["events"].as_array().into_iter().flatten().enumerate() {
            let did = event["distinct_id"].as_str().context("distinct_id")?;
            let timestamp = event["timestamp"].as_str().context("timestamp")?;
            let timestamp = timestamp.trim_end_matches('Z').replace('T', " ");
            let (person_id, person_properties) = person_of
                .get(did)
                .cloned()
                .unwrap_or_else(|| (format!("{team:08x}-0000-4000-b000-{i:012x}"), "{}".into()));
            events.push(json!({
                "uuid": format!("{team:08x}-0000-4000-8000-{i:012x}"),
                "event": event["event"],
                "properties": event["properties"].to_string(),
                "timestamp": timestamp,
                "team_id": team,
                "distinct_id": did,
                "created_at": timestamp,
                "person_id": person_id,
                "person_properties": person_properties,
            }));
        }
        let groups: Vec<Value> = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                let created_at = g["created_at"]
                    .as_str()
                    .unwrap_or("2020-01-01T00:00:00Z")
                    .trim_end_matches('Z')
                    .replace('T', " ");
                json!({"team_id": team, "group_type_index": g["group_type_index"],
                    "group_key": g["group_key"], "group_properties": g["properties"].to_string(),
                    "created_at": created_at, "_timestamp": "2020-01-01 00:00:00", "_offset": 0})
            })
            .collect();
        self.insert("person", &persons)?;
        self.insert("person_distinct_id2", &pdis)?;
        self.insert("groups", &groups)?;
        self.insert("sharded_events", &events)?;
        self.wait_for_events(team, events.len())
    }

    /// Waits (10 s at most) until `events` shows the team's `n` inserted rows.
    fn wait_for_events(&self, team: i64, n: usize) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let sql = format!("SELECT count() FROM events WHERE team_id = {team} FORMAT TSV");
        loop {
            let out = migration_runner::client::Client::new().exec(
                &self.node,
                Some(&self.database),
                &sql,
            )?;
            if out.trim() == n.to_string() {
                return Ok(());
            }
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "waited 10 s for ClickHouse's events table to show team {team}'s {n} events (it shows {})",
                out.trim()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    async fn post(&self, team: i64, key: &str, body: Value) -> anyhow::Result<(StatusCode, Value)> {
        self.post_at(team, key, body, None).await
    }

    /// [`Harness::post`] with the query API's clock frozen at `now` (PostHog's `freeze_time`).
    async fn post_at(
        &self,
        team: i64,
        key: &str,
        body: Value,
        now: Option<chrono::DateTime<chrono::Utc>>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let request = Request::post(format!("/api/projects/{team}/query"))
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .body(Body::from(body.to_string()))?;
        let mut state = self.state.clone();
        state.fixed_now = now;
        let response = query_api::app(state).oneshot(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, serde_json::from_slice(&bytes)?))
    }
}

/// The problems of one case (empty: it gives PostHog's numbers).
async fn run_case(h: &Harness, name: &str, case: &Value) -> anyhow::Result<Vec<String>> {
    let (team, key) = h.team(&format!("insights_{name}")).await?;
    let dataset = case["dataset"].as_str().context("dataset")?;
    let timezone = case["timezone"].as_str().context("timezone")?;
    if timezone != "UTC" {
        sqlx::query("UPDATE team SET timezone = $1 WHERE id = $2")
            .bind(timezone)
            .bind(team)
            .execute(&h.state.pool)
            .await?;
    }
    // `"now"`: the instant PostHog's test froze time at, for relative dates.
    let now = match case["now"].as_str() {
        None => None,
        Some(text) => Some(
            chrono::DateTime::parse_from_rfc3339(text)
                .with_context(|| format!("now {text:?}"))?
                .with_timezone(&chrono::Utc),
        ),
    };
    h.load(team, dataset)?;
    let (status, body) = h
        .post_at(
            team,
            &key,
            json!({"query": case["query"], "refresh": "force_blocking"}),
            now,
        )
        .await?;
    if status != StatusCode::OK {
        return Ok(vec![format!("status {status}: {body}")]);
    }
    if let Ok(dir) = std::env::var("INSIGHTS_DUMP_DIR") {
        std::fs::write(
            Path::new(&dir).join(format!("{name}.json")),
            body.to_string(),
        )?;
    }
    Ok(conformance::suites::insights::compare_results(
        &case["expect"],
        &body["results"],
    ))
}

fn known_gaps() -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(fixtures().join("known-gaps.toml"))?;
    let table: toml::Table = toml::from_str(&text)?;
    Ok(table
        .get("gap")
        .and_then(|g| g.as_array())
        .into_iter()
        .flatten()
        // Gaps of the capture path only (`only = "conformance"`) do not concern direct inserts.
        .filter(|g| g.get("only").and_then(|o| o.as_str()) != Some("conformance"))
        .filter_map(|g| g.get("case").and_then(|c| c.as_str()).map(str::to_owned))
        .collect())
}

/// One test, one database: the local stack's ClickHouse front serves one database at a time, so
/// two tests on two databases at once would read each other's.
#[tokio::test(flavor = "multi_thread")]
async fn insights_through_the_query_api() -> anyhow::Result<()> {
    let h = Harness::new().await?;
    isolation_cache_and_refusals(&h).await?;
    transcribed_cases_give_posthogs_numbers(&h).await
}

async fn transcribed_cases_give_posthogs_numbers(h: &Harness) -> anyhow::Result<()> {
    let gaps = known_gaps()?;
    let mut failures = Vec::new();
    let mut n_cases = 0;
    for kind in ["trends", "lifecycle", "stickiness", "retention", "funnels"] {
        let dir = fixtures().join(kind);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let name = format!(
                "{kind}/{}",
                path.file_stem().unwrap_or_default().to_string_lossy()
            );
            // `INSIGHTS_FILTER=TEXT` runs only the cases whose name holds TEXT.
            if std::env::var("INSIGHTS_FILTER").is_ok_and(|f| !name.contains(&f)) {
                continue;
            }
            let case: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)
                .with_context(|| path.display().to_string())?;
            n_cases += 1;
            let problems = run_case(h, &name.replace('/', "_"), &case).await?;
            let listed = gaps.contains(&name);
            match (problems.is_empty(), listed) {
                (true, false) | (false, true) => {}
                (true, true) => {
                    failures.push(format!("{name}: listed in known-gaps.toml but passes"))
                }
                (false, false) => failures.push(format!(
                    "{name} ({}):\n  {}",
                    case["source"],
                    problems.join("\n  ")
                )),
            }
        }
    }
    anyhow::ensure!(
        n_cases > 0,
        "no insight fixtures found under {}",
        fixtures().display()
    );
    anyhow::ensure!(
        failures.is_empty(),
        "{} of {n_cases} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}

async fn isolation_cache_and_refusals(h: &Harness) -> anyhow::Result<()> {
    let (a, key_a) = h.team("insights_iso_a").await?;
    let (b, key_b) = h.team("insights_iso_b").await?;
    h.load(a, "trends_basic")?;
    let query = json!({"kind": "TrendsQuery", "series": [{"kind": "EventsNode", "event": "$pageview"}],
        "dateRange": {"date_from": "2020-01-09", "date_to": "2020-01-19"},
        "breakdownFilter": {"breakdown": "$browser"}});

    let (status, body) = h.post(a, &key_a, json!({"query": query})).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().map(Vec::len), Some(4), "{body}");
    assert_eq!(body["is_cached"], false);
    assert!(
        body["hogql"]
            .as_str()
            .is_some_and(|h| h.contains("FROM events")),
        "{body}"
    );
    assert!(
        body["clickhouse"]
            .as_str()
            .is_some_and(|c| c.contains(&format!("equals(events.team_id, {a})"))),
        "{body}"
    );
    let (_, again) = h.post(a, &key_a, json!({"query": query})).await?;
    assert_eq!(again["is_cached"], true);
    assert_eq!(again["results"], body["results"]);

    // Team b sees none of team a's events, and b's key cannot read a.
    let (status, other) = h.post(b, &key_b, json!({"query": query})).await?;
    assert_eq!(status, StatusCode::OK, "{other}");
    assert_eq!(other["results"], json!([]), "{other}");
    let (status, _) = h.post(a, &key_b, json!({"query": query})).await?;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Outside the supported subset: a 400 naming the field.
    let mut per_actor = query.clone();
    per_actor["series"][0]["math"] = json!("avg_count_per_actor");
    let (status, err) = h.post(a, &key_a, json!({"query": per_actor})).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    assert!(
        err["detail"]
            .as_str()
            .is_some_and(|d| d.contains("query.series[0].math")),
        "{err}"
    );
    Ok(())
}
