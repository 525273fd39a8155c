//! ClickHouse's Kafka engine: a Kafka table plus a materialized view move JSONEachRow messages from the
//! broker into a MergeTree table, every one of them exactly once.
//!
//! The whole scenario runs under one deadline (the ClickHouse client's calls have none of their own).
#![cfg(feature = "services")]

use std::time::{Duration, Instant};

/// Longest run of the scenario (it usually takes a few seconds).
const SCENARIO_DEADLINE: Duration = Duration::from_secs(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_table_and_materialized_view_land_every_message() -> anyhow::Result<()> {
    tokio::time::timeout(SCENARIO_DEADLINE, land_every_message())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "the Kafka-engine scenario did not finish within {}s (ClickHouse at CLICKHOUSE_URL or the broker at KAFKA_HOSTS stopped answering)",
                SCENARIO_DEADLINE.as_secs()
            )
        })?
}

async fn land_every_message() -> anyhow::Result<()> {
    let endpoints = scenarios::endpoints()?;
    // How ClickHouse itself reaches the broker (differs from KAFKA_HOSTS only with the docker provider).
    let clickhouse_kafka_hosts =
        std::env::var("CLICKHOUSE_KAFKA_HOSTS").unwrap_or_else(|_| endpoints.kafka_hosts.clone());
    let db = scenarios::unique("ch_kafka");
    let topic = scenarios::unique("t_ch_kafka");
    scenarios::create_topic(&topic, 3).await?;
    let client = scenarios::clickhouse()?;
    client
        .query(&format!("CREATE DATABASE {db}"))
        .execute()
        .await?;
    let client = client.with_database(&db);
    client
        .query(&format!(
            "CREATE TABLE queue (id UInt64, event String, team_id UInt32, ts DateTime) ENGINE = Kafka \
             SETTINGS kafka_broker_list = '{}', kafka_topic_list = '{topic}', \
             kafka_group_name = '{db}_consumer', kafka_format = 'JSONEachRow', \
             kafka_flush_interval_ms = 100, kafka_poll_timeout_ms = 100",
            clickhouse_kafka_hosts
        ))
        .execute()
        .await?;
    client
        .query(
            "CREATE TABLE sink (id UInt64, event String, team_id UInt32, ts DateTime) \
             ENGINE = MergeTree ORDER BY id",
        )
        .execute()
        .await?;
    client
        .query("CREATE MATERIALIZED VIEW mv TO sink AS SELECT id, event, team_id, ts FROM queue")
        .execute()
        .await?;

    let messages: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                r#"{{"id":{i},"event":"e{}","team_id":{},"ts":"2024-01-01 00:00:00"}}"#,
                i % 5,
                i % 3
            )
        })
        .collect();
    scenarios::produce(&topic, 3, &messages).await?;

    let start = Instant::now();
    let (count, unique) = loop {
        let (count, unique): (u64, u64) = client
            .query("SELECT count(), uniqExact(id) FROM sink")
            .fetch_one()
            .await?;
        if count >= 10_000 || start.elapsed() > Duration::from_secs(90) {
            break (count, unique);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(count, 10_000, "rows landed in the MergeTree table");
    assert_eq!(unique, 10_000, "no message landed twice");
    let teams: u64 = client
        .query("SELECT count() FROM sink WHERE team_id = 1")
        .fetch_one()
        .await?;
    assert_eq!(teams, (0..10_000u64).filter(|i| i % 3 == 1).count() as u64);

    // Stop the engine's consumer before the database goes away.
    client.query("DROP TABLE mv").execute().await?;
    client.query("DROP TABLE queue").execute().await?;
    scenarios::clickhouse()?
        .query(&format!("DROP DATABASE {db}"))
        .execute()
        .await?;
    Ok(())
}
