//! Groups and `$merge_dangerously` end to end, against the REAL stack (feature `services`): capture on
//! a real port → Kafka → worker → Kafka → ClickHouse's Kafka tables and materialized views.
//! `$groupidentify` fills ClickHouse `groups` (through `clickhouse_groups`), `$groups` on an event
//! becomes its `$group_N` columns, personless events carry none, and `$merge_dangerously` merges two
//! identified persons (the distinct ids of the merged-away person point at the survivor).
#![cfg(feature = "services")]

use std::time::Duration;

use ingest_worker::person_id::person_uuid;
use pipeline_kit::{Harness, json_field, post};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn groups_and_dangerous_merges_reach_clickhouse() -> anyhow::Result<()> {
    let h = Harness::new("groups_e2e", 1).await?;
    let worker = h.start_worker().await?;
    let capture = h.start_capture().await?;
    let t = h.team.id;
    let u = |n: u32| format!("0192b000-0000-7000-8000-{n:012}");

    let batch = json!({"api_key": h.team.api_token, "batch": [
        {"event": "$groupidentify", "distinct_id": "$company_acme", "uuid": u(1),
         "timestamp": "2026-03-02T09:00:00Z",
         "properties": {"$group_type": "company", "$group_key": "acme",
                        "$group_set": {"name": "Acme", "employees": 10}}},
        {"event": "$pageview", "distinct_id": "user-1", "uuid": u(2), "timestamp": "2026-03-02T09:00:01Z",
         "properties": {"$groups": {"company": "acme", "project": "p-1"}}},
        {"event": "$groupidentify", "distinct_id": "$company_acme", "uuid": u(3),
         "timestamp": "2026-03-02T09:00:02Z",
         "properties": {"$group_type": "company", "$group_key": "acme", "$group_set": {"employees": 11}}},
        {"event": "$pageview", "distinct_id": "ghost", "uuid": u(4), "timestamp": "2026-03-02T09:00:03Z",
         "properties": {"$process_person_profile": false, "$groups": {"company": "acme"}, "$group_1": "forged"}},
        {"event": "$identify", "distinct_id": "user-2", "uuid": u(5), "timestamp": "2026-03-02T09:00:04Z",
         "properties": {"$anon_distinct_id": "anon-2"}, "$set": {"who": "two"}},
        {"event": "$identify", "distinct_id": "user-3", "uuid": u(6), "timestamp": "2026-03-02T09:00:05Z",
         "properties": {"$anon_distinct_id": "anon-3"}, "$set": {"who": "three", "three": true}},
        {"event": "$create_alias", "distinct_id": "user-2", "uuid": u(7), "timestamp": "2026-03-02T09:00:06Z",
         "properties": {"alias": "user-3"}},
        {"event": "$merge_dangerously", "distinct_id": "user-2", "uuid": u(8), "timestamp": "2026-03-02T09:00:07Z",
         "properties": {"alias": "user-3"}},
    ]});
    let (status, body) = post(capture.addr, "/batch/", &batch.to_string()).await?;
    assert_eq!(status, 200, "{body}");

    let events_sql = "SELECT toString(uuid) AS uuid, event, `$group_0` AS g0, `$group_1` AS g1, properties, \
         toString(person_id) AS person_id FROM sharded_events FINAL ORDER BY timestamp";
    let events = h
        .wait_until(events_sql, Duration::from_secs(90), |r| r.len() >= 8)
        .await?;
    // Group type indexes in order of first sight.
    let mapping: Vec<(String, i16)> = sqlx::query_as(
        "SELECT group_type, group_type_index FROM group_type_mapping ORDER BY group_type_index",
    )
    .fetch_all(&h.pool)
    .await?;
    assert_eq!(
        mapping,
        [("company".to_string(), 0), ("project".to_string(), 1)]
    );
    let columns: Vec<(String, String, String)> = events
        .iter()
        .map(|r| {
            (
                r["event"].as_str().unwrap_or("").to_string(),
                r["g0"].as_str().unwrap_or("?").to_string(),
                r["g1"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    let col = |e: &str, g0: &str, g1: &str| (e.to_string(), g0.to_string(), g1.to_string());
    assert_eq!(
        columns[..4],
        [
            col("$groupidentify", "", ""),
            col("$pageview", "acme", "p-1"),
            col("$groupidentify", "", ""),
            // personless: no group columns, even a forged one is removed
            col("$pageview", "", ""),
        ]
    );
    let pageview = json_field(&events[1], "properties");
    assert_eq!(pageview["$group_0"], "acme");
    assert_eq!(
        pageview["$groups"],
        json!({"company": "acme", "project": "p-1"})
    );

    // ClickHouse groups: the latest properties of (0, acme).
    let groups_sql = "SELECT group_type_index, group_key, toInt64(team_id) AS team_id, group_properties, \
         toString(created_at) AS created_at FROM groups FINAL";
    let groups = h
        .wait_until(groups_sql, Duration::from_secs(60), |r| {
            r.iter()
                .any(|g| json_field(g, "group_properties")["employees"] == 11)
        })
        .await?;
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["group_type_index"], 0);
    assert_eq!(groups[0]["group_key"], "acme");
    assert_eq!(groups[0]["team_id"], t);
    assert_eq!(
        json_field(&groups[0], "group_properties"),
        json!({"name": "Acme", "employees": 11})
    );
    assert_eq!(groups[0]["created_at"], "2026-03-02 09:00:00.000");

    // $create_alias refused to merge user-3's identified person; $merge_dangerously did it: every
    // distinct id of that person now points at user-2's person, whose properties gained `three`.
    let survivor = person_uuid(t, "user-2").to_string();
    let pdi_sql = "SELECT distinct_id, toString(argMax(person_id, version)) AS person_id FROM person_distinct_id2 \
         GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0 ORDER BY distinct_id";
    let pdi = h
        .wait_until(pdi_sql, Duration::from_secs(60), |r| {
            r.iter()
                .any(|p| p["distinct_id"] == "user-3" && p["person_id"] == survivor.as_str())
        })
        .await?;
    let owners: Vec<(String, bool)> = pdi
        .iter()
        .filter(|p| {
            p["distinct_id"]
                .as_str()
                .is_some_and(|d| d.ends_with("-2") || d.ends_with("-3"))
        })
        .map(|p| {
            (
                p["distinct_id"].as_str().unwrap_or("").to_string(),
                p["person_id"] == survivor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        [
            ("anon-2".to_string(), true),
            ("anon-3".to_string(), true),
            ("user-2".to_string(), true),
            ("user-3".to_string(), true)
        ]
    );
    let persons_sql = "SELECT toString(id) AS id, properties, is_identified FROM person FINAL WHERE is_deleted = 0 \
         ORDER BY id";
    let persons = h
        .wait_until(persons_sql, Duration::from_secs(60), |r| {
            r.iter().any(|p| {
                p["id"] == survivor.as_str() && json_field(p, "properties")["three"] == true
            })
        })
        .await?;
    let merged = persons
        .iter()
        .find(|p| p["id"] == survivor.as_str())
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        json_field(&merged, "properties"),
        json!({"who": "two", "three": true})
    );
    assert_eq!(merged["is_identified"], 1);
    assert!(
        !persons
            .iter()
            .any(|p| p["id"] == person_uuid(t, "user-3").to_string().as_str()),
        "the merged-away person is deleted: {persons:?}"
    );

    capture.stop().await?;
    worker.stop().await?;
    h.cleanup().await
}
