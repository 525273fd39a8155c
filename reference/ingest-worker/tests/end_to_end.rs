//! capture → Kafka → ingest-worker → Kafka → ClickHouse, against the REAL stack (feature `services`;
//! `cargo xtask test` turns it on and exports `CLICKHOUSE_URL`, `KAFKA_HOSTS`, `DATABASE_URL`; a missing
//! variable FAILS the test). Each run uses its own topic prefix, consumer groups, ClickHouse database
//! and PostgreSQL schema.
#![cfg(feature = "services")]

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ingest_worker::person_id::person_uuid;
use ingest_worker::{Worker, WorkerConfig, create_team, create_topics, migrate};
use migration_runner::Topology;
use migration_runner::client::Client;
use migration_runner::topology::Env;
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn env(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
        panic!("the `services` feature is on but {name} is not set: run `cargo xtask test`, or eval \"$(cargo xtask stack env)\"")
    })
}

fn unique(tag: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    format!("{tag}_{}_{millis}", std::process::id())
}

/// Every topic capture, the worker and the ClickHouse schema name.
const TOPICS: &[&str] = &[
    "events_plugin_ingestion",
    "events_plugin_ingestion_historical",
    "exceptions_ingestion",
    "clickhouse_events_json",
    "clickhouse_person",
    "clickhouse_person_distinct_id",
    "clickhouse_groups",
];

/// One HTTP/1.1 POST over a fresh connection; returns the status and body.
async fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in {text:?}"))?;
    Ok((status, text))
}

/// Rows of a ClickHouse query (`FORMAT JSONEachRow` is appended).
fn rows(topology: &Topology, sql: &str) -> anyhow::Result<Vec<Value>> {
    let text = tokio::task::block_in_place(|| {
        Client::new().exec(
            &topology.nodes[0],
            Some(&topology.database),
            &format!("{sql} FORMAT JSONEachRow"),
        )
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("a JSONEachRow line"))
        .collect()
}

/// Polls `sql` until it returns `count` rows (60 s at most).
async fn wait_rows(topology: &Topology, sql: &str, count: usize) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = rows(topology, sql)?;
        if got.len() >= count {
            return Ok(got);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out after 60 s waiting for {count} rows of `{sql}`; have {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn props(row: &Value, field: &str) -> Value {
    serde_json::from_str(row[field].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn captured_events_and_persons_reach_clickhouse() -> anyhow::Result<()> {
    let clickhouse_url = env("CLICKHOUSE_URL");
    let kafka_hosts = env("KAFKA_HOSTS");
    let database_url = env("DATABASE_URL");
    let name = unique("ingest_e2e");
    let prefix = format!("{name}_");

    // Kafka: every topic, one partition (order across distinct ids is then the send order).
    let topics: Vec<String> = TOPICS.iter().map(|t| format!("{prefix}{t}")).collect();
    create_topics(&kafka_hosts, &topics, 1).await?;

    // ClickHouse: Hogref's schema in a fresh database, reading the prefixed topics.
    let mut ch_env = Env::from_process();
    ch_env.kafka_hosts = Some(kafka_hosts.clone());
    ch_env.topic_prefix = Some(prefix.clone());
    ch_env.group_prefix = Some(prefix.clone());
    let topology = Topology::single_node(&clickhouse_url, &name, &ch_env);
    let dir = format!("{}/../../migrations/clickhouse", env!("CARGO_MANIFEST_DIR"));
    let (migrations, problems) = migration_checker::SourceSet::read(&dir)?.migrations();
    anyhow::ensure!(problems.is_empty(), "{problems:?}");
    tokio::task::block_in_place(|| migration_runner::apply(&topology, &migrations))?;

    // PostgreSQL: the worker's schema in a schema of its own, and a team.
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&database_url)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {name}"))
        .execute(&admin)
        .await?;
    let options =
        PgConnectOptions::from_str(&database_url)?.options([("search_path", name.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    let team = create_team(&pool, "e2e").await?;

    // The worker, waiting for its partition assignment before anything is produced (tansu pitfall 8).
    let worker = Worker::new(
        WorkerConfig {
            kafka_hosts: kafka_hosts.clone(),
            kafka_prefix: prefix.clone(),
            group_id: format!("{prefix}ingestion"),
            batch_size: 100,
            batch_wait: Duration::from_millis(50),
        },
        pool.clone(),
    )?;
    let stats = worker.stats();
    let mut ready = worker.ready();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker_task = tokio::spawn(worker.run(stopped));
    tokio::time::timeout(Duration::from_secs(60), ready.wait_for(|r| *r))
        .await
        .context("the worker got no partition assignment within 60 s")??;

    // Capture on a real port with the Kafka sink.
    let sink = Arc::new(capture_server::KafkaSink::new(&kafka_hosts, &prefix)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (capture_stop, capture_stopped) = tokio::sync::oneshot::channel::<()>();
    let capture_task = tokio::spawn(capture_server::serve(
        listener,
        capture_server::AppState::new(sink),
        async {
            let _ = capture_stopped.await;
        },
    ));

    let u1 = "0191a000-0000-7000-8000-000000000001";
    let u2 = "0191a000-0000-7000-8000-000000000002";
    let u3 = "0191a000-0000-7000-8000-000000000003";
    let u4 = "0191a000-0000-7000-8000-000000000004";
    let first = json!({"event": "$pageview", "distinct_id": "anon-1", "uuid": u1,
        "timestamp": "2026-03-01T10:00:01.250Z", "properties": {"$current_url": "https://example.com/a", "n": 1}});
    let batch = json!({"api_key": team.api_token, "batch": [
        first,
        {"event": "$identify", "distinct_id": "user-1", "uuid": u2, "timestamp": "2026-03-01T10:00:02Z",
         "properties": {"$anon_distinct_id": "anon-1"}, "$set": {"email": "u1@example.com", "plan": "pro"}},
        {"event": "$pageview", "distinct_id": "user-1", "uuid": u3, "timestamp": "2026-03-01T10:00:03Z",
         "properties": {"$set_once": {"first_plan": "pro"}, "$set": {"plan": "team"}}},
    ]});
    let (status, body) = post(addr, "/batch/", &batch.to_string()).await?;
    assert_eq!(status, 200, "{body}");
    // An unknown token is dropped by the worker, not by capture.
    let stray = json!({"api_key": "phc_no_such_team", "event": "$pageview", "distinct_id": "x", "uuid": u4,
        "properties": {}});
    let (status, body) = post(addr, "/e/", &stray.to_string()).await?;
    assert_eq!(status, 200, "{body}");
    // The first event again (a client retry): same uuid, must not count twice.
    let again = json!({"api_key": team.api_token, "batch": [first]});
    let (status, body) = post(addr, "/batch/", &again.to_string()).await?;
    assert_eq!(status, 200, "{body}");

    // Events in ClickHouse. Raw rows may hold the retry twice until a merge; FINAL collapses by key.
    let events_sql = "SELECT toString(uuid) AS uuid, event, properties, toString(timestamp) AS ts, toInt32(team_id) AS team_id, \
         distinct_id, toString(person_id) AS person_id, person_properties, toString(person_mode) AS person_mode \
         FROM sharded_events FINAL ORDER BY timestamp";
    // The retry is the 4th row produced to clickhouse_events_json (offset 3). Wait for it: before a
    // merge it is a second raw row; after one, ReplacingMergeTree kept it (the later insert wins).
    let retry = wait_rows(
        &topology,
        "SELECT toString(uuid) AS uuid FROM sharded_events WHERE _offset = 3",
        1,
    )
    .await?;
    assert_eq!(retry, [json!({ "uuid": u1 })]);
    let events = rows(&topology, events_sql)?;
    let anon_person = person_uuid(team.id, "anon-1").to_string();
    let summary: Vec<(String, String, String, i64, String, String)> = events
        .iter()
        .map(|r| {
            (
                r["uuid"].as_str().unwrap_or("").to_string(),
                r["event"].as_str().unwrap_or("").to_string(),
                r["ts"].as_str().unwrap_or("").to_string(),
                r["team_id"].as_i64().unwrap_or(-1),
                r["distinct_id"].as_str().unwrap_or("").to_string(),
                r["person_id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expect = |u: &str, e: &str, ts: &str, d: &str| {
        (
            u.to_string(),
            e.to_string(),
            ts.to_string(),
            team.id,
            d.to_string(),
            anon_person.clone(),
        )
    };
    assert_eq!(
        summary,
        [
            expect(u1, "$pageview", "2026-03-01 10:00:01.250000", "anon-1"),
            expect(u2, "$identify", "2026-03-01 10:00:02.000000", "user-1"),
            expect(u3, "$pageview", "2026-03-01 10:00:03.000000", "user-1"),
        ],
        "rows: {events:?}"
    );
    let p1 = props(&events[0], "properties");
    assert_eq!(p1["$current_url"], "https://example.com/a");
    assert_eq!(p1["n"], 1);
    assert!(p1["$ip"].is_string(), "{p1}");
    // $current_url is lifted into $set and, as $initial_current_url, into $set_once (spec §3.4).
    assert_eq!(p1["$set"], json!({"$current_url": "https://example.com/a"}));
    assert_eq!(
        p1["$set_once"],
        json!({"$initial_current_url": "https://example.com/a"})
    );
    assert_eq!(
        props(&events[1], "properties")["$set"],
        json!({"email": "u1@example.com", "plan": "pro"})
    );
    // The kept u1 row is the retry, written with the person as it was by then.
    assert_eq!(
        props(&events[0], "person_properties"),
        json!({"email": "u1@example.com", "plan": "team", "first_plan": "pro", "$current_url": "https://example.com/a", "$initial_current_url": "https://example.com/a"})
    );
    assert_eq!(
        props(&events[1], "person_properties"),
        json!({"email": "u1@example.com", "plan": "pro", "$current_url": "https://example.com/a", "$initial_current_url": "https://example.com/a"})
    );
    assert_eq!(
        props(&events[2], "person_properties"),
        json!({"email": "u1@example.com", "plan": "team", "first_plan": "pro", "$current_url": "https://example.com/a", "$initial_current_url": "https://example.com/a"})
    );
    assert!(events.iter().all(|r| r["person_mode"] == "full"));

    // Persons in ClickHouse: the latest version has the $set properties and is identified; both
    // distinct ids point at the one person.
    let person_sql = "SELECT toString(id) AS id, properties, is_identified, toInt64(version) AS version \
         FROM person FINAL WHERE is_deleted = 0";
    let deadline = Instant::now() + Duration::from_secs(60);
    let person = loop {
        let got = rows(&topology, person_sql)?;
        if let Some(p) = got
            .first()
            .filter(|p| props(p, "properties")["plan"] == "team")
        {
            break p.clone();
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "person row never reached its last version: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(person["id"], anon_person.as_str());
    assert_eq!(
        props(&person, "properties"),
        json!({"email": "u1@example.com", "plan": "team", "first_plan": "pro", "$current_url": "https://example.com/a", "$initial_current_url": "https://example.com/a"})
    );
    assert_eq!(person["is_identified"], 1);
    let pdi = wait_rows(
        &topology,
        "SELECT distinct_id, toString(argMax(person_id, version)) AS person_id FROM person_distinct_id2 \
         GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0 ORDER BY distinct_id",
        2,
    )
    .await?;
    assert_eq!(
        pdi,
        [
            json!({"distinct_id": "anon-1", "person_id": anon_person}),
            json!({"distinct_id": "user-1", "person_id": anon_person}),
        ]
    );

    // The same person in PostgreSQL.
    let (pg_props, identified, version): (sqlx::types::Json<Value>, bool, i64) = sqlx::query_as(
        "SELECT properties, is_identified, version FROM person WHERE team_id = $1 AND uuid = $2",
    )
    .bind(team.id)
    .bind(uuid_of(&anon_person))
    .fetch_one(&pool)
    .await?;
    assert_eq!(pg_props.0, props(&person, "properties"));
    assert!(identified);
    assert_eq!(version, person["version"].as_i64().unwrap_or(-1));
    let persons: i64 = sqlx::query_scalar("SELECT count(*) FROM person")
        .fetch_one(&pool)
        .await?;
    assert_eq!(persons, 1);

    // The stray event was dropped, nothing else was.
    assert!(
        rows(
            &topology,
            &format!("SELECT uuid FROM sharded_events WHERE uuid = '{u4}'")
        )?
        .is_empty()
    );
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.ingested.load(std::sync::atomic::Ordering::Relaxed), 4);

    let _ = capture_stop.send(());
    stop.send_replace(true);
    capture_task.await??;
    worker_task.await??;
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {name} CASCADE"))
        .execute(&admin)
        .await?;
    let _ = tokio::task::block_in_place(|| {
        Client::new().exec(
            &topology.nodes[0],
            None,
            &format!("DROP DATABASE IF EXISTS `{name}` SYNC"),
        )
    });
    Ok(())
}

fn uuid_of(text: &str) -> sqlx::types::Uuid {
    sqlx::types::Uuid::parse_str(text).unwrap_or_default()
}
