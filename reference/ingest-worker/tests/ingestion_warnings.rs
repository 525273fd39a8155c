//! Ingestion warnings reach ClickHouse's `ingestion_warnings` table (migration 0009) through the
//! `clickhouse_ingestion_warnings` topic, against the REAL stack (feature `services`): an `$identify`
//! that would merge an already identified person is refused with PostHog's warning type
//! `cannot_merge_already_identified`, and the event itself is still ingested.
#![cfg(feature = "services")]

use std::time::Duration;

use pipeline_kit::{Harness, post};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_merge_writes_an_ingestion_warning_row() -> anyhow::Result<()> {
    let h = Harness::new("ingest_warnings", 1).await?;
    let worker = h.start_worker().await?;
    let capture = h.start_capture().await?;
    let token = h.team.api_token.clone();
    // Two identified users, then `b` identifies as `a`: `b`'s person is already identified.
    let events = [
        json!({"api_key": token, "event": "$identify", "distinct_id": "user-a",
            "uuid": "0191e000-0000-7000-8000-00000000a001",
            "properties": {"$anon_distinct_id": "anon-a"}}),
        json!({"api_key": token, "event": "$identify", "distinct_id": "user-b",
            "uuid": "0191e000-0000-7000-8000-00000000a002",
            "properties": {"$anon_distinct_id": "anon-b"}}),
        json!({"api_key": token, "event": "$identify", "distinct_id": "user-a",
            "uuid": "0191e000-0000-7000-8000-00000000a003",
            "properties": {"$anon_distinct_id": "user-b"}}),
    ];
    // One request each, in order, so the third is processed after the first two.
    for event in &events {
        let (status, text) = post(capture.addr, "/e/", &event.to_string()).await?;
        assert_eq!(status, 200, "{text}");
        h.wait_until(
            &format!(
                "SELECT uuid FROM sharded_events WHERE uuid = '{}'",
                event["uuid"].as_str().unwrap_or_default()
            ),
            Duration::from_secs(60),
            |rows| !rows.is_empty(),
        )
        .await?;
    }
    let rows = h
        .wait_until(
            "SELECT toInt32(team_id) AS team_id, source, type, details FROM ingestion_warnings",
            Duration::from_secs(60),
            |rows| !rows.is_empty(),
        )
        .await?;
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(row["team_id"], json!(h.team.id));
    assert_eq!(row["source"], json!("plugin-server"));
    assert_eq!(row["type"], json!("cannot_merge_already_identified"));
    let details: Value = pipeline_kit::json_field(row, "details");
    assert_eq!(
        details["eventUuid"],
        json!("0191e000-0000-7000-8000-00000000a003")
    );
    assert_eq!(details["distinctId"], json!("user-a"));
    worker.stop().await?;
    capture.stop().await?;
    h.cleanup().await
}
