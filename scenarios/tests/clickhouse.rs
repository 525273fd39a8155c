//! ClickHouse through its HTTP interface with the `clickhouse` crate: a MergeTree table, 100k rows in and
//! back out, server-side query parameters, and ClickHouse's error code and message for bad queries.
#![cfg(feature = "services")]

use clickhouse::Row;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
struct Event {
    id: u64,
    team_id: i32,
    event: String,
    distinct_id: String,
    score: f64,
    tags: Vec<String>,
    note: Option<String>,
    ts: u32,
}

fn event(i: u64) -> Event {
    Event {
        id: i,
        team_id: i32::try_from(i % 7).unwrap_or(0),
        event: format!("event_{}", i % 13),
        distinct_id: format!("user-{}", i % 1000),
        score: i as f64 * 0.5,
        tags: (0..i % 3).map(|t| format!("t{t}")).collect(),
        note: i
            .is_multiple_of(2)
            .then(|| format!("note {i} with 'quotes'")),
        ts: 1_700_000_000 + u32::try_from(i).unwrap_or(0),
    }
}

/// Creates a fresh database with an `events` MergeTree table; returns a client bound to it.
async fn events_table() -> anyhow::Result<(clickhouse::Client, String)> {
    let db = scenarios::unique("ch");
    let client = scenarios::clickhouse()?;
    client
        .query(&format!("CREATE DATABASE {db}"))
        .execute()
        .await?;
    let client = client.with_database(&db);
    client
        .query(
            "CREATE TABLE events (id UInt64, team_id Int32, event String, distinct_id String, \
             score Float64, tags Array(String), note Nullable(String), ts DateTime) \
             ENGINE = MergeTree ORDER BY id",
        )
        .execute()
        .await?;
    Ok((client, db))
}

async fn drop_database(db: &str) -> anyhow::Result<()> {
    scenarios::clickhouse()?
        .query(&format!("DROP DATABASE {db}"))
        .execute()
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_rows_go_in_and_come_back_unchanged() -> anyhow::Result<()> {
    let (client, db) = events_table().await?;
    let rows: Vec<Event> = (0..100_000).map(event).collect();
    let mut insert = client.insert::<Event>("events").await?;
    for row in &rows {
        insert.write(row).await?;
    }
    insert.end().await?;

    let count: u64 = client
        .query("SELECT count() FROM events")
        .fetch_one()
        .await?;
    assert_eq!(count, 100_000);
    let back: Vec<Event> = client
        .query("SELECT ?fields FROM events ORDER BY id")
        .fetch_all()
        .await?;
    assert_eq!(back.len(), rows.len());
    assert!(back == rows, "rows read back differ from the rows inserted");
    drop_database(&db).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_parameters_and_client_side_binds_agree() -> anyhow::Result<()> {
    let (client, db) = events_table().await?;
    let mut insert = client.insert::<Event>("events").await?;
    for i in 0..1000 {
        insert.write(&event(i)).await?;
    }
    insert.end().await?;
    let expected = (0..1000).filter(|i| i % 7 == 3 && i % 13 == 5).count() as u64;

    let by_param: u64 = client
        .query("SELECT count() FROM events WHERE team_id = {team:Int32} AND event = {name:String}")
        .param("team", 3)
        .param("name", "event_5")
        .fetch_one()
        .await?;
    let by_bind: u64 = client
        .query("SELECT count() FROM events WHERE team_id = ? AND event = ?")
        .bind(3)
        .bind("event_5")
        .fetch_one()
        .await?;
    assert_eq!(by_param, expected);
    assert_eq!(by_bind, expected);

    let quoted: u64 = client
        .query("SELECT count() FROM events WHERE note = {note:String}")
        .param("note", "note 10 with 'quotes'")
        .fetch_one()
        .await?;
    assert_eq!(quoted, 1);
    drop_database(&db).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_return_clickhouse_error_codes_and_messages() -> anyhow::Result<()> {
    let db = scenarios::unique("ch_err");
    let client = scenarios::clickhouse()?;

    let missing = client
        .query(&format!("SELECT * FROM {db}.no_such_table"))
        .fetch_all::<u8>()
        .await
        .expect_err("a query on a missing table must fail");
    let text = missing.to_string();
    assert!(
        matches!(missing, clickhouse::error::Error::BadResponse(_)),
        "{text}"
    );
    assert!(
        text.contains("Code: 81.") || text.contains("Code: 60."),
        "{text}"
    );
    assert!(
        text.contains("UNKNOWN_DATABASE") || text.contains("UNKNOWN_TABLE"),
        "{text}"
    );

    let syntax = client
        .query("SELECT FROM WHERE")
        .fetch_all::<u8>()
        .await
        .expect_err("a malformed query must fail")
        .to_string();
    assert!(syntax.contains("Code: 62."), "{syntax}");
    assert!(syntax.contains("SYNTAX_ERROR"), "{syntax}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_formats_settings_and_databases_pass_through() -> anyhow::Result<()> {
    let client = scenarios::clickhouse()?;
    let mut cursor = client
        .query(
            "SELECT toUInt32(number) AS n, toString(number * 2) AS s FROM system.numbers LIMIT 3",
        )
        .fetch_bytes("JSONEachRow")?;
    let body = cursor.collect().await?;
    assert_eq!(
        std::str::from_utf8(&body)?,
        "{\"n\":0,\"s\":\"0\"}\n{\"n\":1,\"s\":\"2\"}\n{\"n\":2,\"s\":\"4\"}\n"
    );

    // A per-query setting applies to that query only.
    let limited = client
        .query("SELECT number FROM system.numbers LIMIT 10")
        .with_setting("max_result_rows", "2")
        .with_setting("result_overflow_mode", "throw")
        .fetch_all::<u64>()
        .await
        .expect_err("the row limit applies")
        .to_string();
    assert!(limited.contains("TOO_MANY_ROWS_OR_BYTES"), "{limited}");
    let unlimited: Vec<u64> = client
        .query("SELECT number FROM system.numbers LIMIT 10")
        .fetch_all()
        .await?;
    assert_eq!(unlimited.len(), 10);

    // `database` selects the default database of one query.
    let tables: u64 = client
        .clone()
        .with_database("system")
        .query("SELECT count() FROM tables WHERE database = 'system' AND name = 'numbers'")
        .fetch_one()
        .await?;
    assert_eq!(tables, 1);
    Ok(())
}
