//! Through a REAL Kafka broker (feature `services`, env `KAFKA_HOSTS`): the server runs on a real port
//! with the Kafka sink; every corpus case that produces messages is sent over HTTP, and what the broker
//! holds afterwards is read back with a consumer and compared with the case's expected messages.
//! A second test runs with the real clock and checks the receive time and the generated uuids.
#![cfg(feature = "services")]

mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use capture_server::{AppState, KafkaSink};
use event_model::Topic;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, Message as _};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;

const TOPICS: [Topic; 3] = [Topic::Main, Topic::Historical, Topic::Exceptions];

fn kafka_hosts() -> anyhow::Result<String> {
    Ok(pipeline_kit::stack_settings()?.kafka.bootstrap_servers())
}

fn unique_prefix(tag: &str) -> String {
    format!("{}_", pipeline_kit::unique(tag))
}

async fn create_topics(hosts: &str, prefix: &str) -> anyhow::Result<()> {
    let names: Vec<String> = TOPICS
        .iter()
        .map(|t| format!("{prefix}{}", t.base_name()))
        .collect();
    ingest_worker::create_topics(hosts, &names, 1).await?;
    Ok(())
}

/// Starts capture on 127.0.0.1:<free port>; returns the address and a shutdown trigger.
async fn start(
    state: AppState,
) -> anyhow::Result<(std::net::SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let capture = pipeline_kit::serve_capture(state).await?;
    Ok((capture.addr, capture.stop))
}

/// One HTTP/1.1 request over a fresh connection; returns the status code.
async fn http(addr: std::net::SocketAddr, request: &support::WireRequest) -> anyhow::Result<u16> {
    Ok(pipeline_kit::send(addr, request).await?.status)
}

/// Reads `count` messages of partition 0 of `topic` from the beginning, normalised like the corpus.
fn consume(hosts: &str, prefix: &str, topic: Topic, count: usize) -> anyhow::Result<Vec<Value>> {
    let name = format!("{prefix}{}", topic.base_name());
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", hosts)
        .set("group.id", format!("{name}_reader"))
        .set("enable.auto.commit", "false")
        .create()?;
    let mut partitions = TopicPartitionList::new();
    partitions.add_partition_offset(&name, 0, Offset::Beginning)?;
    consumer.assign(&partitions)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    while out.len() < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out reading {name}: {} of {count} messages",
            out.len()
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let value = String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned();
        let headers: Vec<(String, String)> = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|header| {
                        let value = header
                            .value
                            .map(String::from_utf8_lossy)
                            .unwrap_or_default();
                        (header.key.to_string(), value.into_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(support::normalise_message(
            topic.base_name(),
            &key,
            &headers,
            &value,
        ));
    }
    // Nothing beyond what was expected.
    if let Some(extra) = consumer.poll(Duration::from_secs(1)) {
        anyhow::bail!(
            "unexpected extra message in {name}: {:?}",
            extra.map(|m| m.offset())
        );
    }
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_producing_corpus_case_round_trips_through_kafka() -> anyhow::Result<()> {
    let hosts = kafka_hosts()?;
    let prefix = unique_prefix("capture_corpus");
    create_topics(&hosts, &prefix).await?;
    let sink = Arc::new(KafkaSink::new(&hosts, &prefix)?);
    let (addr, stop) = start(support::corpus_state(sink)).await?;

    let mut expected: BTreeMap<&'static str, Vec<Value>> = BTreeMap::new();
    let mut families = std::collections::BTreeSet::new();
    let mut n_cases = 0;
    for path in support::case_files() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let messages = case["messages"].as_array().cloned().unwrap_or_default();
        if messages.is_empty() {
            continue;
        }
        let name = support::case_name(&path);
        let status = http(addr, &support::wire_request(&case)?).await?;
        assert_eq!(
            Some(u64::from(status)),
            case["response"]["status"].as_u64(),
            "{name}: status over a real socket with the Kafka sink"
        );
        families.insert(name.split('/').next().unwrap_or("").to_string());
        n_cases += 1;
        for message in messages {
            let topic = TOPICS
                .iter()
                .map(|t| t.base_name())
                .find(|t| message["topic"] == *t)
                .with_context(|| format!("{name}: unknown topic {}", message["topic"]))?;
            expected.entry(topic).or_default().push(message);
        }
    }
    let _ = stop.send(());
    assert!(n_cases >= 20, "only {n_cases} producing cases");
    for family in ["batch", "capture", "e", "engage", "i_v0_e", "track"] {
        assert!(
            families.contains(family),
            "no producing case for {family}: {families:?}"
        );
    }

    for topic in TOPICS {
        let want = expected.remove(topic.base_name()).unwrap_or_default();
        let got = tokio::task::block_in_place(|| consume(&hosts, &prefix, topic, want.len()))?;
        assert_eq!(got.len(), want.len(), "{}", topic.base_name());
        for (i, (got, want)) in got.iter().zip(&want).enumerate() {
            if let Err(diff) =
                support::compare(&format!("{} message {i}", topic.base_name()), want, got)
            {
                panic!("{diff}");
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_clock_sets_now_and_uuids_are_v7_of_the_event_time() -> anyhow::Result<()> {
    let hosts = kafka_hosts()?;
    let prefix = unique_prefix("capture_clock");
    create_topics(&hosts, &prefix).await?;
    let sink = Arc::new(KafkaSink::new(&hosts, &prefix)?);
    let (addr, stop) = start(AppState::new(sink)).await?;
    let before = chrono::Utc::now();
    let body = br#"{"api_key":"phc_clock","batch":[{"event":"a","distinct_id":"d"},{"event":"b","distinct_id":"d","offset":60000}]}"#;
    let request = support::WireRequest {
        method: "POST".into(),
        uri: "/batch/".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_vec(),
    };
    assert_eq!(http(addr, &request).await?, 200);
    let after = chrono::Utc::now();
    let _ = stop.send(());
    let got = tokio::task::block_in_place(|| consume(&hosts, &prefix, Topic::Main, 2))?;
    for (message, offset_ms) in got.iter().zip([0i64, 60_000]) {
        assert_eq!(message["key"], "phc_clock:d");
        assert_eq!(message["value"]["uuid"], "<uuid-v7>");
        let header_ts: i64 = match message["headers"]["timestamp"].as_str() {
            Some("<now-ms>") => continue,
            Some(ms) => ms.parse()?,
            None => anyhow::bail!("no timestamp header"),
        };
        let ts =
            chrono::DateTime::from_timestamp_millis(header_ts + offset_ms).context("timestamp")?;
        assert!(
            ts >= before - chrono::TimeDelta::milliseconds(1) && ts <= after,
            "event time {ts} plus the offset is the receive time, between {before} and {after}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_message_limit_rejects_the_whole_batch_with_413() -> anyhow::Result<()> {
    let hosts = kafka_hosts()?;
    let prefix = unique_prefix("capture_size");
    create_topics(&hosts, &prefix).await?;
    let sink = Arc::new(KafkaSink::new(&hosts, &prefix)?);
    let (addr, stop) = start(AppState::new(sink)).await?;
    let big = "x".repeat(capture_server::MAX_MESSAGE_BYTES);
    let body = format!(
        r#"{{"api_key":"phc_size","batch":[{{"event":"small","distinct_id":"d"}},{{"event":"big","distinct_id":"d","properties":{{"pad":"{big}"}}}}]}}"#
    );
    let request = support::WireRequest {
        method: "POST".into(),
        uri: "/batch/".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.into_bytes(),
    };
    assert_eq!(http(addr, &request).await?, 413);
    // A small request afterwards is the only thing on the topic: the small sibling was never produced.
    let request = support::WireRequest {
        body: br#"{"api_key":"phc_size","batch":[{"event":"after","distinct_id":"d"}]}"#.to_vec(),
        ..request
    };
    assert_eq!(http(addr, &request).await?, 200);
    let _ = stop.send(());
    let got = tokio::task::block_in_place(|| consume(&hosts, &prefix, Topic::Main, 1))?;
    assert_eq!(got[0]["value"]["event"], "after");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_topics_are_reported() -> anyhow::Result<()> {
    let hosts = kafka_hosts()?;
    let prefix = unique_prefix("capture_missing");
    let sink = KafkaSink::new(&hosts, &prefix)?;
    let missing = tokio::task::block_in_place(|| sink.missing_topics(Duration::from_secs(10)))?;
    assert_eq!(missing.len(), 3, "{missing:?}");
    create_topics(&hosts, &prefix).await?;
    let missing = tokio::task::block_in_place(|| sink.missing_topics(Duration::from_secs(10)))?;
    assert!(missing.is_empty(), "{missing:?}");
    Ok(())
}
