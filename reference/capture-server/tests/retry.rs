//! A retried batch is stored once, against a REAL stack of its own (feature `services`): the broker
//! is restarted while capture produces a 20 000-event batch whose events carry no uuid, and the
//! client sends the same bytes again (as after a 503, or an answer lost on the way), until one
//! attempt gets a 200. Capture, the ingestion worker and ClickHouse's Kafka tables run as in
//! production. `sharded_events FINAL` must then hold every event exactly once: capture derives the
//! missing uuids from the request's bytes, so the copies of a retry collapse.
//!
//! It starts a private local stack (`capture-retry-<pid>`), since restarting the shared broker would
//! disturb every other test; the stack is stopped at the end.
#![cfg(feature = "services")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use migration_runner::Topology;
use migration_runner::client::Client;
use migration_runner::topology::Env;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const EVENTS: usize = 20_000;
const TOPICS: &[&str] = &[
    "events_plugin_ingestion",
    "events_plugin_ingestion_historical",
    "exceptions_ingestion",
    "clickhouse_events_json",
    "clickhouse_person",
    "clickhouse_person_distinct_id",
    "clickhouse_groups",
];

/// One batch without uuids; every event has its own timestamp (no `sent_at`, so nothing in an
/// event depends on when the request arrives).
fn batch(token: &str) -> String {
    let events: Vec<Value> = (0..EVENTS)
        .map(|i| {
            json!({"event": "retry_load", "distinct_id": format!("user-{}", i % 100),
                "timestamp": format!("2026-03-01T10:{:02}:{:02}.{:03}Z", i / 60_000 % 60, i / 1000 % 60, i % 1000),
                "properties": {"i": i}})
        })
        .collect();
    json!({"api_key": token, "batch": events}).to_string()
}

/// POST `body` to `/batch/`; the status, or `None` when the connection failed.
async fn post(addr: std::net::SocketAddr, body: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "POST /batch/ HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body.as_bytes()).await.ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(90), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn rows(topology: &Topology, sql: &str) -> anyhow::Result<Vec<Value>> {
    let text = Client::new().exec(
        &topology.nodes[0],
        Some(&topology.database),
        &format!("{sql} FORMAT JSONEachRow"),
    )?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("a JSONEachRow line"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_retried_across_a_broker_restart_is_stored_exactly_once() -> anyhow::Result<()> {
    let name = format!("capture-retry-{}", std::process::id());
    let mut stack = tokio::task::block_in_place(|| {
        stack::Stack::up(&stack::UpOptions {
            name: name.clone(),
            provider: stack::Provider::Local,
        })
    })
    .context("starting a private local stack")?;
    let outcome = run(&mut stack).await;
    let stopped = tokio::task::block_in_place(|| stack.stop());
    outcome?;
    stopped?;
    Ok(())
}

async fn run(stack: &mut stack::Stack) -> anyhow::Result<()> {
    let endpoints = stack.endpoints().clone();
    let kafka_hosts = endpoints.kafka_hosts.clone();
    let prefix = "retry_".to_owned();
    let (input, output): (Vec<&str>, Vec<&str>) =
        TOPICS.iter().partition(|t| !t.starts_with("clickhouse_"));
    let names =
        |list: &[&str]| -> Vec<String> { list.iter().map(|t| format!("{prefix}{t}")).collect() };
    ingest_worker::create_topics(&kafka_hosts, &names(&input), 2).await?;
    ingest_worker::create_topics(&kafka_hosts, &names(&output), 1).await?;

    let mut ch_env = Env::from_process();
    ch_env.kafka_hosts = Some(kafka_hosts.clone());
    ch_env.topic_prefix = Some(prefix.clone());
    ch_env.group_prefix = Some(prefix.clone());
    let topology = Topology::single_node(&endpoints.clickhouse_url, "capture_retry", &ch_env);
    let dir = format!("{}/../../migrations/clickhouse", env!("CARGO_MANIFEST_DIR"));
    let (migrations, problems) = migration_checker::SourceSet::read(&dir)?.migrations();
    anyhow::ensure!(problems.is_empty(), "{problems:?}");
    tokio::task::block_in_place(|| migration_runner::apply(&topology, &migrations))?;

    let pool = ingest_worker::connect(&endpoints.database_url).await?;
    ingest_worker::migrate(&pool).await?;
    let team = ingest_worker::create_team(&pool, "retry").await?;

    let worker = ingest_worker::Worker::new(
        ingest_worker::WorkerConfig {
            kafka_hosts: kafka_hosts.clone(),
            kafka_prefix: prefix.clone(),
            group_id: format!("{prefix}ingestion"),
            batch_size: 2000,
            batch_wait: Duration::from_millis(50),
        },
        pool.clone(),
    )?;
    let mut ready = worker.ready();
    let (stop_worker, stopped) = tokio::sync::watch::channel(false);
    let worker_task = tokio::spawn(worker.run(stopped));
    tokio::time::timeout(Duration::from_secs(60), ready.wait_for(|r| *r))
        .await
        .context("the worker held no partitions within 60 s")??;

    let sink = Arc::new(capture_server::KafkaSink::new(&kafka_hosts, &prefix)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop_capture, capture_stopped) = tokio::sync::oneshot::channel::<()>();
    let capture_task = tokio::spawn(capture_server::serve(
        listener,
        capture_server::AppState::new(sink),
        async {
            let _ = capture_stopped.await;
        },
    ));

    // The first attempt races a broker restart; then the same bytes again until a 200, and once more
    // after it (an answer lost on the way): at least two copies of every event reach the broker.
    let body = batch(&team.api_token);
    let first = tokio::spawn({
        let body = body.clone();
        async move { post(addr, &body).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let restart = tokio::task::block_in_place(|| stack.restart_kafka())?;
    let mut statuses = vec![first.await?];
    let deadline = Instant::now() + Duration::from_secs(180);
    while statuses.last() != Some(&Some(200)) {
        anyhow::ensure!(
            Instant::now() < deadline,
            "no attempt got a 200 within 180 s: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        statuses.push(post(addr, &body).await);
    }
    statuses.push(post(addr, &body).await);
    anyhow::ensure!(
        statuses.last() == Some(&Some(200)),
        "the last retry failed: {statuses:?}"
    );
    eprintln!("broker restarted in {restart:.1} s; attempts: {statuses:?}");

    // Every event exactly once: as many distinct uuids as events, and FINAL has no copy left.
    let sql = format!(
        "SELECT count() AS n, uniqExact(uuid) AS ids, uniqExact(JSONExtractInt(properties, 'i')) AS events \
         FROM sharded_events FINAL WHERE team_id = {}",
        team.id
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    let last = loop {
        let got = tokio::task::block_in_place(|| rows(&topology, &sql))?;
        let row = got.into_iter().next().unwrap_or(Value::Null);
        let events = row["events"].as_u64().unwrap_or(0);
        if events as usize >= EVENTS || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let copies = tokio::task::block_in_place(|| {
        rows(
            &topology,
            &format!(
                "SELECT count() AS n FROM sharded_events WHERE team_id = {}",
                team.id
            ),
        )
    })?;
    eprintln!("FINAL: {last}; rows before merging: {copies:?}");
    assert_eq!(last["events"], EVENTS, "every event arrived: {last}");
    assert_eq!(last["ids"], EVENTS, "one uuid per event: {last}");
    assert_eq!(last["n"], EVENTS, "no event twice after FINAL: {last}");

    let _ = stop_capture.send(());
    let _ = stop_worker.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(30), capture_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(30), worker_task).await;
    pool.close().await;
    Ok(())
}
