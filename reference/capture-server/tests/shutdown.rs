//! Graceful shutdown through a REAL Kafka broker (feature `services`, env `KAFKA_HOSTS`): 8 clients
//! send events as fast as they can while capture is told to stop; requests in flight finish, new
//! connections are refused, and every event that got a 200 is in the topic afterwards (none lost).
#![cfg(feature = "services")]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use event_model::Topic;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

const CLIENTS: usize = 8;

/// One POST over a fresh connection: `Some(status)`, or `None` when the connection was refused or
/// closed without an answer (the server is gone).
async fn post(addr: std::net::SocketAddr, body: &str) -> Option<u16> {
    pipeline_kit::post(addr, "/e/", body)
        .await
        .ok()
        .map(|(status, _)| status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_loses_no_accepted_event() -> anyhow::Result<()> {
    let hosts = pipeline_kit::stack_settings()?.kafka.bootstrap_servers();
    let prefix = format!("{}_", pipeline_kit::unique("capture_shutdown"));
    let names: Vec<String> = [Topic::Main, Topic::Historical, Topic::Exceptions]
        .iter()
        .map(|t| format!("{prefix}{}", t.base_name()))
        .collect();
    ingest_worker::create_topics(&hosts, &names, 1).await?;
    let capture = pipeline_kit::start_capture(&hosts, &prefix).await?;
    let addr = capture.addr;

    // Clients send until the server is gone; each remembers what got a 200.
    let accepted = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let accepted = accepted.clone();
        clients.push(tokio::spawn(async move {
            let mut ok = Vec::new();
            let mut other = Vec::new();
            for i in 0.. {
                let uuid = uuid::Uuid::from_u128(((c as u128) << 32) | i as u128 | (1 << 100));
                let body = serde_json::json!({"api_key": "phc_shutdown", "event": "e", "distinct_id": format!("c{c}"),
                    "uuid": uuid.to_string(), "properties": {"i": i}})
                .to_string();
                match post(addr, &body).await {
                    Some(200) => {
                        ok.push(uuid.to_string());
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    Some(status) => other.push(status),
                    None => break,
                }
            }
            anyhow::Ok((ok, other))
        }));
    }
    // Stop once the load is well under way.
    let start = Instant::now();
    while accepted.load(Ordering::Relaxed) < 200 {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "capture accepted only {} events in 60 s",
            accepted.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    capture.stop().await?;
    let mut ok = Vec::new();
    let mut other = Vec::new();
    for client in clients {
        let (o, s) = client.await??;
        ok.extend(o);
        other.extend(s);
    }
    assert!(
        other.is_empty(),
        "requests in flight at shutdown must finish normally, got statuses {other:?}"
    );

    // Everything accepted is in the main topic.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &hosts)
        .set("group.id", format!("{prefix}reader"))
        .set("enable.auto.commit", "false")
        .create()?;
    let main = &names[0];
    let (_, high) = consumer.fetch_watermarks(main, 0, Duration::from_secs(10))?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(main, 0, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    while read < high {
        anyhow::ensure!(Instant::now() < deadline, "timed out reading {main}");
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        read = message.offset() + 1;
        let value: serde_json::Value =
            serde_json::from_slice(message.payload().unwrap_or_default())?;
        seen.insert(value["uuid"].as_str().unwrap_or_default().to_string());
    }
    let lost: Vec<&String> = ok.iter().filter(|u| !seen.contains(*u)).collect();
    eprintln!(
        "capture shutdown: {} accepted, {} messages in the topic, {} lost",
        ok.len(),
        high,
        lost.len()
    );
    assert!(ok.len() >= 200);
    assert!(lost.is_empty(), "accepted but not in Kafka: {lost:?}");
    Ok(())
}
