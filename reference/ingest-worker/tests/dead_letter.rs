//! Messages the worker cannot process go to `events_plugin_ingestion_dlq` unchanged, with `dlq-*`
//! headers naming the reason and where they came from, against the REAL stack (feature `services`);
//! the batch around them is ingested as usual and its offsets move on.
#![cfg(feature = "services")]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pipeline_kit::{Harness, post};
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unparseable_messages_go_to_the_dead_letter_topic_with_the_reason() -> anyhow::Result<()> {
    let h = Harness::new("ingest_dlq", 1).await?;
    let input = format!("{}events_plugin_ingestion", h.prefix);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &h.kafka_hosts)
        .create()?;
    // Not JSON at all, then JSON without the double-encoded `data`.
    for (key, value) in [("k1", "not json {"), ("k2", r#"{"uuid": "x"}"#)] {
        producer
            .send(
                FutureRecord::to(&input).key(key).payload(value),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| anyhow::anyhow!("producing: {e}"))?;
    }
    let worker = h.start_worker().await?;
    let stats = worker.stats.clone();
    let capture = h.start_capture().await?;
    let good = json!({"api_key": h.team.api_token, "event": "fine", "distinct_id": "d1",
        "uuid": "0191e000-0000-7000-8000-000000000001", "properties": {}});
    let (status, text) = post(capture.addr, "/e/", &good.to_string()).await?;
    assert_eq!(status, 200, "{text}");
    h.wait_until(
        "SELECT event FROM sharded_events",
        Duration::from_secs(60),
        |rows| !rows.is_empty(),
    )
    .await?;
    assert_eq!(stats.dead_lettered.load(Ordering::Relaxed), 2);

    // The dead-letter topic holds both messages, unchanged, with the reason.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &h.kafka_hosts)
        .set("group.id", format!("{}dlq_reader", h.prefix))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut list = TopicPartitionList::new();
    list.add_partition_offset(
        &format!("{}events_plugin_ingestion_dlq", h.prefix),
        0,
        Offset::Beginning,
    )?;
    consumer.assign(&list)?;
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while got.len() < 2 && Instant::now() < deadline {
        let polled = tokio::task::block_in_place(|| consumer.poll(Duration::from_millis(200)));
        if let Some(message) = polled {
            let message = message?;
            let header = |name: &str| {
                message.headers().and_then(|hs| {
                    hs.iter()
                        .find(|h| h.key == name)
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                })
            };
            got.push((
                String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
                header("dlq-reason").unwrap_or_default(),
                header("dlq-step"),
                header("dlq-topic"),
                header("dlq-offset"),
            ));
        }
    }
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!((got[0].0.as_str(), got[0].1.as_str()), ("k1", "not json {"));
    assert_eq!(
        (got[1].0.as_str(), got[1].1.as_str()),
        ("k2", r#"{"uuid": "x"}"#)
    );
    for (i, (_, _, reason, step, topic, offset)) in got.iter().enumerate() {
        assert!(reason.starts_with("bad message: "), "{reason}");
        assert_eq!(step.as_deref(), Some("parse"));
        assert_eq!(topic.as_deref(), Some(input.as_str()));
        assert_eq!(offset.as_deref(), Some(i.to_string().as_str()));
    }
    assert!(
        got[1].2.contains("data"),
        "names the missing field: {}",
        got[1].2
    );
    worker.stop().await?;
    capture.stop().await?;
    h.cleanup().await
}
