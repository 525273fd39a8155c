//! A broker restart: topics, records and a group's committed offsets survive it (tansu's SQLite storage),
//! and a consumer of the group resumes after the restart exactly where the group committed.
//!
//! The broker it restarts is its own (`stack::Stack::private_broker`, named after `HOGREF_STACK`), never
//! the stack's shared one, so a broker that does not come back affects no other test. Every wait has a
//! deadline.
#![cfg(feature = "services")]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

/// Longest wait for one Kafka call (topic creation, a produce); the clients' own timeouts are shorter.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// The scenarios' Kafka client settings, pointed at `hosts` (the test's own broker).
fn config(hosts: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", hosts)
        .set("socket.timeout.ms", "10000")
        .set("message.timeout.ms", "15000");
    config
}

/// A consumer config for `group` on `hosts`: manual commits, earliest offsets, fast group formation.
fn consumer_config(hosts: &str, group: &str) -> ClientConfig {
    let mut config = config(hosts);
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("heartbeat.interval.ms", "500")
        .set("session.timeout.ms", "6000");
    config
}

async fn create_topic(hosts: &str, topic: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = config(hosts).create()?;
    let results = tokio::time::timeout(
        CALL_DEADLINE,
        admin.create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(15))),
        ),
    )
    .await
    .with_context(|| format!("creating topic {topic} on {hosts}: no answer within 60s"))??;
    for result in results {
        result.map_err(|(name, code)| anyhow::anyhow!("creating topic {name}: {code}"))?;
    }
    Ok(())
}

async fn produce(hosts: &str, topic: &str, payloads: &[String]) -> anyhow::Result<()> {
    let producer: FutureProducer = config(hosts).set("linger.ms", "5").create()?;
    let mut pending = Vec::with_capacity(payloads.len());
    for (i, payload) in payloads.iter().enumerate() {
        let record = FutureRecord::<(), String>::to(topic)
            .payload(payload)
            .partition(0);
        let future = producer
            .send_result(record)
            .map_err(|(e, _)| anyhow::anyhow!("queueing message {i} for {topic}: {e}"))?;
        pending.push(future);
    }
    for (i, future) in pending.into_iter().enumerate() {
        tokio::time::timeout(CALL_DEADLINE, future)
            .await
            .with_context(|| {
                format!("delivering message {i} to {topic} on {hosts}: no answer within 60s")
            })?
            .context("the producer went away")?
            .map_err(|(e, _)| anyhow::anyhow!("delivering message {i} to {topic}: {e}"))?;
    }
    Ok(())
}

/// Consumes until `count` messages arrived (60 s at most); returns their payloads.
async fn consume(consumer: &StreamConsumer, count: usize) -> anyhow::Result<Vec<String>> {
    let start = Instant::now();
    let mut seen = Vec::new();
    while seen.len() < count {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(60),
            "timed out with {} of {count} messages",
            seen.len()
        );
        if let Ok(message) = tokio::time::timeout(Duration::from_millis(500), consumer.recv()).await
        {
            let message = message?;
            seen.push(
                message
                    .payload_view::<str>()
                    .and_then(Result::ok)
                    .unwrap_or_default()
                    .to_string(),
            );
        }
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_and_records_survive_a_broker_restart() -> anyhow::Result<()> {
    let main = std::env::var("HOGREF_STACK").context(
        "HOGREF_STACK is not set: run through `cargo xtask test` (the test's own broker is named after that stack)",
    )?;
    let state = stack::StackState::load(&main)?;
    if state.provider != stack::Provider::Local {
        // Only the local provider owns its brokers; others must refuse clearly instead of pretending.
        let err = stack::restart_kafka(&main).expect_err("only a local broker can be restarted");
        assert!(err.to_string().contains("no local kafka broker"), "{err}");
        return Ok(());
    }
    let name = format!("{main}-restart-{}", std::process::id());
    let mut broker = tokio::task::block_in_place(|| {
        stack::Stack::private_broker(&name, Some(stack::TansuStorage::Sqlite))
    })?;
    let hosts = broker.endpoints().kafka_hosts.clone();

    let topic = scenarios::unique("t_restart");
    let group = scenarios::unique("g_restart");
    create_topic(&hosts, &topic).await?;
    let before: Vec<String> = (0..100).map(|i| format!("before-{i:03}")).collect();
    produce(&hosts, &topic, &before).await?;

    let consumer: StreamConsumer = consumer_config(&hosts, &group).create()?;
    consumer.subscribe(&[topic.as_str()])?;
    let got = consume(&consumer, 100).await?;
    assert_eq!(got, before);
    consumer.commit_consumer_state(CommitMode::Sync)?;
    drop(consumer);

    let secs = tokio::task::block_in_place(|| broker.restart_kafka())?;
    broker
        .kafka_health()
        .map_err(|why| anyhow::anyhow!("the restarted broker is not healthy: {why}"))?;
    assert!(secs < 30.0, "the broker answered again after {secs}s");

    let after: Vec<String> = (0..50).map(|i| format!("after-{i:03}")).collect();
    produce(&hosts, &topic, &after).await?;
    let consumer: StreamConsumer = consumer_config(&hosts, &group).create()?;
    consumer.subscribe(&[topic.as_str()])?;
    let resumed = consume(&consumer, 50).await.with_context(|| {
        format!(
            "resuming group {group} after the restart; broker: {}",
            broker
                .kafka_health()
                .map_or_else(|e| e, |()| "healthy".into())
        )
    })?;
    assert_eq!(resumed, after, "the group resumes at its committed offset");
    drop(consumer);

    // A fresh group still finds all 150 records on the restarted broker.
    let fresh: StreamConsumer = consumer_config(&hosts, &scenarios::unique("g_fresh")).create()?;
    fresh.subscribe(&[topic.as_str()])?;
    let all = consume(&fresh, 150).await?;
    assert_eq!(all.len(), 150);
    assert_eq!(&all[..100], &before[..]);
    drop(fresh);
    tokio::task::block_in_place(|| broker.stop())?;
    Ok(())
}
