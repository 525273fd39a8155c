//! capture → Kafka → ingest-worker → Kafka → ClickHouse, against the REAL stack (feature `services`;
//! `cargo xtask test` turns it on and exports `CLICKHOUSE_URL`, `KAFKA_HOSTS`, `DATABASE_URL`; a missing
//! variable FAILS the test). Each run uses its own topic prefix, consumer groups, ClickHouse database
//! and PostgreSQL schema.
#![cfg(feature = "services")]

use std::time::{Duration, Instant};

use ingest_worker::person_id::person_uuid;
use pipeline_kit::{Harness, json_field as props, post};
use serde_json::{Value, json};

/// Polls `sql` until it returns `count` rows (60 s at most).
async fn wait_rows(h: &Harness, sql: &str, count: usize) -> anyhow::Result<Vec<Value>> {
    h.wait_until(sql, Duration::from_secs(60), |rows| rows.len() >= count)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn captured_events_and_persons_reach_clickhouse() -> anyhow::Result<()> {
    // Kafka topics with one partition (order across distinct ids is then the send order), Hogref's
    // ClickHouse schema in a fresh database reading them, the worker's schema in a PostgreSQL schema
    // of its own, and a team.
    let h = Harness::new("ingest_e2e", 1).await?;
    let team = h.team.clone();
    // The worker waits for its partitions before anything is produced (tansu pitfall 8).
    let worker = h.start_worker().await?;
    let stats = worker.stats.clone();
    let capture = h.start_capture().await?;
    let addr = capture.addr;

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
        &h,
        "SELECT toString(uuid) AS uuid FROM sharded_events WHERE _offset = 3",
        1,
    )
    .await?;
    assert_eq!(retry, [json!({ "uuid": u1 })]);
    let events = h.rows(events_sql)?;
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
        let got = h.rows(person_sql)?;
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
        &h,
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
    .fetch_one(&h.pool)
    .await?;
    assert_eq!(pg_props.0, props(&person, "properties"));
    assert!(identified);
    assert_eq!(version, person["version"].as_i64().unwrap_or(-1));
    let persons: i64 = sqlx::query_scalar("SELECT count(*) FROM person")
        .fetch_one(&h.pool)
        .await?;
    assert_eq!(persons, 1);

    // The stray event was dropped, nothing else was.
    assert!(
        h.rows(&format!(
            "SELECT uuid FROM sharded_events WHERE uuid = '{u4}'"
        ))?
        .is_empty()
    );
    assert_eq!(stats.dropped.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.ingested.load(std::sync::atomic::Ordering::Relaxed), 4);

    capture.stop().await?;
    worker.stop().await?;
    h.cleanup().await?;
    Ok(())
}

fn uuid_of(text: &str) -> sqlx::types::Uuid {
    sqlx::types::Uuid::parse_str(text).unwrap_or_default()
}
