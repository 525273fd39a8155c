//! The worker's batches against the REAL stack (feature `services`; `cargo xtask test` exports the
//! services): a batch runs its PostgreSQL side in one transaction with the batch's persons read in one
//! query, so the statements per event stay far below one (counted, not timed); every event still lands
//! once, with the person of its distinct id. Ingested events also fill `sessions` (the materialized view
//! of migration 0008), which HogQL's sessions table reads.
#![cfg(feature = "services")]

use std::sync::atomic::Ordering;
use std::time::Duration;

use ingest_worker::person_id::person_uuid;
use pipeline_kit::{Harness, post};
use serde_json::{Value, json};

fn as_u64(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_costs_few_statements_and_keeps_every_event_once() -> anyhow::Result<()> {
    let h = Harness::new("ingest_batching", 1).await?;
    let team = h.team.clone();
    let capture = h.start_capture().await?;
    // 300 events of 30 distinct ids, all captured before the worker starts, so that it reads them in
    // few batches: each id's first event creates its person, the others change nothing or set a
    // property the person already has after the first event of that id.
    let ids = 30;
    let events = 300;
    let mut batch = Vec::new();
    for i in 0..events {
        let id = i % ids;
        batch.push(
            json!({"event": "$pageview", "distinct_id": format!("user-{id}"),
            "uuid": format!("0191b000-0000-7000-8000-{i:012}"),
            "timestamp": format!("2026-03-01T10:{:02}:{:02}Z", i / 60, i % 60),
            "properties": {"$set": {"plan": "pro"}, "n": i}}),
        );
    }
    for chunk in batch.chunks(100) {
        let body = json!({"api_key": team.api_token, "batch": chunk});
        let (status, text) = post(capture.addr, "/batch/", &body.to_string()).await?;
        assert_eq!(status, 200, "{text}");
    }
    let worker = h.start_worker().await?;
    let stats = worker.stats.clone();

    let sql = "SELECT count() AS n, uniqExact(uuid) AS u FROM sharded_events FINAL";
    let got = h
        .wait_until(sql, Duration::from_secs(60), |rows| {
            rows.first().is_some_and(|r| as_u64(&r["u"]) >= events)
        })
        .await?;
    assert_eq!(as_u64(&got[0]["n"]), events, "every event exactly once");

    // Every event carries the person of its distinct id.
    let people = h.rows(
        "SELECT distinct_id, toString(any(person_id)) AS person, uniqExact(person_id) AS persons \
         FROM sharded_events FINAL GROUP BY distinct_id ORDER BY distinct_id",
    )?;
    assert_eq!(people.len() as u64, ids);
    for row in &people {
        let did = row["distinct_id"].as_str().unwrap_or_default();
        assert_eq!(as_u64(&row["persons"]), 1, "{row}");
        assert_eq!(
            row["person"].as_str(),
            Some(person_uuid(team.id, did).to_string().as_str()),
            "{row}"
        );
    }
    let (persons,): (i64,) = sqlx::query_as("SELECT count(*) FROM person")
        .fetch_one(&h.pool)
        .await?;
    assert_eq!(persons as u64, ids);

    // The work: one transaction per batch; per batch one team lookup, one read of its persons, two
    // writes per new person (person, distinct id), one person update per id whose `plan` was new,
    // and the commit. One transaction per event (the old worker) ran at least 2 statements per event.
    let transactions = stats.postgres_transactions.load(Ordering::Relaxed);
    let statements = stats.postgres_statements.load(Ordering::Relaxed);
    let batches = stats.committed_batches.load(Ordering::Relaxed);
    assert!(
        transactions >= 1 && transactions <= batches,
        "{transactions} transactions, {batches} batches"
    );
    assert!(
        statements <= 3 * transactions + 2 * ids,
        "{statements} statements for {events} events in {transactions} transactions"
    );
    worker.stop().await?;
    capture.stop().await?;
    h.cleanup().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingested_events_fill_sessions() -> anyhow::Result<()> {
    let h = Harness::new("ingest_sessions", 1).await?;
    let team = h.team.clone();
    let worker = h.start_worker().await?;
    let capture = h.start_capture().await?;
    let event = |i: u32, name: &str, session: &str, url: &str, second: u32, extra: Value| {
        let mut properties = json!({"$session_id": session, "$current_url": url});
        if let (Some(p), Value::Object(more)) = (properties.as_object_mut(), extra) {
            p.extend(more);
        }
        json!({"event": name, "distinct_id": "visitor", "uuid": format!("0191c000-0000-7000-8000-{i:012}"),
            "timestamp": format!("2026-03-01T10:00:{second:02}Z"), "properties": properties})
    };
    // Session s1 over two requests (so over two rows of the aggregate, merged when read), s2 in
    // one; an event without a session id is not a session.
    let first = json!({"api_key": team.api_token, "batch": [
        event(1, "$pageview", "s1", "https://a.example/entry", 5,
            json!({"utm_source": "newsletter", "$referring_domain": "mail.example"})),
        event(2, "$autocapture", "s1", "https://a.example/entry", 7, json!({})),
        event(3, "$pageview", "s2", "https://b.example/only", 9, json!({})),
    ]});
    let second = json!({"api_key": team.api_token, "batch": [
        event(4, "$pageview", "s1", "https://a.example/exit", 30, json!({"utm_source": "later"})),
        event(5, "custom", "s1", "https://a.example/exit", 40, json!({})),
        {"event": "no_session", "distinct_id": "visitor", "uuid": "0191c000-0000-7000-8000-000000000006",
         "timestamp": "2026-03-01T10:00:50Z", "properties": {}},
    ]});
    for body in [first, second] {
        let (status, text) = post(capture.addr, "/batch/", &body.to_string()).await?;
        assert_eq!(status, 200, "{text}");
    }
    // What HogQL's sessions (v1) table reads: the aggregate states merged per session.
    let sql = "SELECT session_id, toInt32(team_id) AS team_id, any(distinct_id) AS distinct_id, \
         toString(min(min_timestamp)) AS start, toString(max(max_timestamp)) AS end, \
         arraySort(arrayDistinct(arrayFlatten(groupArray(urls)))) AS urls, \
         argMinMerge(entry_url) AS entry_url, argMaxMerge(exit_url) AS exit_url, \
         argMinMerge(initial_utm_source) AS utm_source, \
         argMinMerge(initial_referring_domain) AS referring_domain, \
         toString(sumMap(event_count_map)) AS event_counts, \
         toInt32(sum(pageview_count)) AS pageviews, toInt32(sum(autocapture_count)) AS autocaptures \
         FROM sessions GROUP BY session_id, team_id ORDER BY session_id";
    let rows = h
        .wait_until(sql, Duration::from_secs(60), |rows| {
            rows.iter()
                .map(|r| as_u64(&r["pageviews"]) + as_u64(&r["autocaptures"]))
                .sum::<u64>()
                >= 4
                && rows
                    .iter()
                    .any(|r| r["exit_url"] == "https://a.example/exit")
        })
        .await?;
    assert_eq!(
        rows,
        vec![
            json!({"session_id": "s1", "team_id": team.id, "distinct_id": "visitor",
                "start": "2026-03-01 10:00:05.000000", "end": "2026-03-01 10:00:40.000000",
                "urls": ["https://a.example/entry", "https://a.example/exit"],
                "entry_url": "https://a.example/entry", "exit_url": "https://a.example/exit",
                "utm_source": "newsletter", "referring_domain": "mail.example",
                "event_counts": "{'$autocapture':1,'$pageview':2,'custom':1}",
                "pageviews": 2, "autocaptures": 1}),
            json!({"session_id": "s2", "team_id": team.id, "distinct_id": "visitor",
                "start": "2026-03-01 10:00:09.000000", "end": "2026-03-01 10:00:09.000000",
                "urls": ["https://b.example/only"],
                "entry_url": "https://b.example/only", "exit_url": "https://b.example/only",
                "utm_source": "", "referring_domain": "",
                "event_counts": "{'$pageview':1}",
                "pageviews": 1, "autocaptures": 0}),
        ]
    );
    worker.stop().await?;
    capture.stop().await?;
    h.cleanup().await
}
