//! A broker restart: topics, records and a group's committed offsets survive it (tansu's SQLite storage),
//! and a consumer of the group resumes after the restart exactly where the group committed.
//!
//! This binary holds one test on purpose: it restarts the shared broker, so nothing may run beside it
//! (cargo runs test binaries one after another).
#![cfg(feature = "services")]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::Message as _;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};

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
    let name = std::env::var("HOGREF_STACK").context(
        "HOGREF_STACK is not set: this test restarts the broker of the stack that `cargo xtask test` started",
    )?;
    let topic = scenarios::unique("t_restart");
    let group = scenarios::unique("g_restart");
    scenarios::create_topic(&topic, 1).await?;
    let before: Vec<String> = (0..100).map(|i| format!("before-{i:03}")).collect();
    scenarios::produce(&topic, 1, &before).await?;

    let consumer: StreamConsumer = scenarios::consumer_config(&group)?.create()?;
    consumer.subscribe(&[topic.as_str()])?;
    let got = consume(&consumer, 100).await?;
    assert_eq!(got, before);
    consumer.commit_consumer_state(CommitMode::Sync)?;
    drop(consumer);

    let state = stack::StackState::load(&name)?;
    if state.provider != stack::Provider::Local {
        // Only the local provider owns its broker; others must refuse clearly instead of pretending.
        let err = stack::restart_kafka(&name).expect_err("only a local broker can be restarted");
        assert!(err.to_string().contains("no local kafka broker"), "{err}");
        return Ok(());
    }
    let secs = stack::restart_kafka(&name)?;
    assert!(secs < 30.0, "the broker answered again after {secs}s");

    let after: Vec<String> = (0..50).map(|i| format!("after-{i:03}")).collect();
    scenarios::produce(&topic, 1, &after).await?;
    let consumer: StreamConsumer = scenarios::consumer_config(&group)?.create()?;
    consumer.subscribe(&[topic.as_str()])?;
    let resumed = consume(&consumer, 50).await?;
    assert_eq!(resumed, after, "the group resumes at its committed offset");
    drop(consumer);

    // A fresh group still finds all 150 records on the restarted broker.
    let fresh: StreamConsumer =
        scenarios::consumer_config(&scenarios::unique("g_fresh"))?.create()?;
    fresh.subscribe(&[topic.as_str()])?;
    let all = consume(&fresh, 150).await?;
    assert_eq!(all.len(), 150);
    assert_eq!(&all[..100], &before[..]);
    Ok(())
}
