//! Graceful shutdown through a REAL Kafka broker (feature `services`, env `KAFKA_HOSTS`): 8 clients
//! send events as fast as they can while capture is told to stop; requests in flight finish, new
//! connections are refused, and every event that got a 200 is in the topic afterwards (none lost).
#![cfg(feature = "services")]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capture_server::{AppState, KafkaSink, serve};
use event_model::Topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CLIENTS: usize = 8;

/// One POST over a fresh connection: `Ok(Some(status))`, or `Ok(None)` when the connection was
/// refused or closed without an answer (the server is gone).
async fn post(addr: std::net::SocketAddr, body: &str) -> anyhow::Result<Option<u16>> {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return Ok(None);
    };
    let head = format!(
        "POST /e/ HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    if stream.write_all(head.as_bytes()).await.is_err()
        || stream.write_all(body.as_bytes()).await.is_err()
    {
        return Ok(None);
    }
    let mut response = Vec::new();
    if stream.read_to_end(&mut response).await.is_err() || response.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&response);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in {text:?}"))?;
    Ok(Some(status))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_shutdown_loses_no_accepted_event() -> anyhow::Result<()> {
    let hosts = std::env::var("KAFKA_HOSTS")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .context("the services feature needs KAFKA_HOSTS (run `cargo xtask test`, or eval `cargo xtask stack env`)")?;
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    let prefix = format!("capture_shutdown_{}_{millis}_", std::process::id());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &hosts)
        .create()?;
    let names: Vec<String> = [Topic::Main, Topic::Historical, Topic::Exceptions]
        .iter()
        .map(|t| format!("{prefix}{}", t.base_name()))
        .collect();
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, 1, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
    for result in admin.create_topics(&topics, &options).await? {
        result.map_err(|(name, code)| anyhow::anyhow!("creating topic {name}: {code}"))?;
    }

    let sink = Arc::new(KafkaSink::new(&hosts, &prefix)?);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, AppState::new(sink), async {
        let _ = stopped.await;
    }));

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
                match post(addr, &body).await? {
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
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .context("capture did not stop within 60 s")???;
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
