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

use std::time::{Duration, Instant};

use anyhow::Context as _;
use pipeline_kit::{Harness, Options};
use serde_json::{Value, json};

const EVENTS: usize = 20_000;

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

/// POST `body` to `/batch/`; the status, or `None` when the connection failed or no answer came
/// within 90 s.
async fn post(addr: std::net::SocketAddr, body: &str) -> Option<u16> {
    pipeline_kit::post_within(addr, "/batch/", body, Duration::from_secs(90))
        .await
        .ok()
        .map(|(status, _)| status)
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
    // The pipeline kit's namespace on the private stack: capture's topics with two partitions.
    let options = Options {
        input_partitions: 2,
        batch_size: 2000,
        ..Options::default()
    };
    let settings = pipeline_kit::settings_for(stack.endpoints())?;
    let h = Harness::create(&settings, "retry", &options).await?;
    let team = h.team.clone();
    let worker = h.start_worker().await?;
    let capture = h.start_capture().await?;
    let addr = capture.addr;

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
        let got = h.rows(&sql)?;
        let row = got.into_iter().next().unwrap_or(Value::Null);
        let events = row["events"].as_u64().unwrap_or(0);
        if events as usize >= EVENTS || Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let copies = h.rows(&format!(
        "SELECT count() AS n FROM sharded_events WHERE team_id = {}",
        team.id
    ))?;
    eprintln!("FINAL: {last}; rows before merging: {copies:?}");
    assert_eq!(last["events"], EVENTS, "every event arrived: {last}");
    assert_eq!(last["ids"], EVENTS, "one uuid per event: {last}");
    assert_eq!(last["n"], EVENTS, "no event twice after FINAL: {last}");

    let _ = capture.stop().await;
    let _ = worker.stop().await;
    let _ = h.cleanup().await;
    Ok(())
}
