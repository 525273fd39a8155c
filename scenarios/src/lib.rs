//! Scenario tests: whole flows against the real services of a running stack (never mocks).
//!
//! The tests live in `tests/` and compile only with the `services` feature; `cargo xtask test` turns it on
//! and exports the stack's endpoints (`CLICKHOUSE_URL`, `KAFKA_HOSTS`, `DATABASE_URL`, `REDIS_URL`).
//! With the feature on and a variable missing, a test fails with a message naming it (it never skips).
//! This library holds what the tests share: endpoints, unique namespaces, Kafka and ClickHouse helpers.

#[cfg(feature = "services")]
pub use services::*;

#[cfg(feature = "services")]
mod services {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use anyhow::Context as _;
    use rdkafka::ClientConfig;
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    /// The running stack's endpoints, from the environment; an error names the missing variable.
    pub fn endpoints() -> anyhow::Result<stack::Endpoints> {
        Ok(stack::Endpoints::from_env()?)
    }

    /// A name no other test (or earlier run) uses: `<prefix>_<pid>_<counter>_<millis>`, valid as a
    /// ClickHouse database, a Kafka topic, a PostgreSQL schema and a Redis key prefix.
    pub fn unique(prefix: &str) -> String {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() % 100_000_000)
            .unwrap_or(0);
        format!(
            "{prefix}_{}_{}_{millis}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A ClickHouse client for `CLICKHOUSE_URL` (the `clickhouse` crate with its default features).
    pub fn clickhouse() -> anyhow::Result<clickhouse::Client> {
        Ok(clickhouse::Client::default().with_url(endpoints()?.clickhouse_url))
    }

    /// Client settings every Kafka client in the scenarios uses.
    pub fn kafka_config() -> anyhow::Result<ClientConfig> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", endpoints()?.kafka_hosts)
            .set("socket.timeout.ms", "10000")
            .set("message.timeout.ms", "15000");
        Ok(config)
    }

    /// A consumer config for `group`: manual commits, earliest offsets, fast group formation (pitfall 8/9).
    pub fn consumer_config(group: &str) -> anyhow::Result<ClientConfig> {
        let mut config = kafka_config()?;
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("heartbeat.interval.ms", "500")
            .set("session.timeout.ms", "6000");
        Ok(config)
    }

    /// Creates `topic` with `partitions` partitions (the broker does not auto-create topics).
    pub async fn create_topic(topic: &str, partitions: i32) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = kafka_config()?
            .create()
            .context("creating the Kafka admin client")?;
        let results = admin
            .create_topics(
                &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
                &AdminOptions::new().operation_timeout(Some(Duration::from_secs(15))),
            )
            .await
            .with_context(|| format!("creating topic {topic}"))?;
        for result in results {
            result.map_err(|(name, code)| anyhow::anyhow!("creating topic {name}: {code}"))?;
        }
        Ok(())
    }

    /// Produces `payloads` to `topic`, message `i` to partition `i % partitions`, and waits for every delivery.
    pub async fn produce(topic: &str, partitions: i32, payloads: &[String]) -> anyhow::Result<()> {
        let producer: FutureProducer = kafka_config()?
            .set("linger.ms", "5")
            .create()
            .context("creating the Kafka producer")?;
        let mut pending = Vec::with_capacity(payloads.len());
        for (i, payload) in payloads.iter().enumerate() {
            let partition = i32::try_from(i).unwrap_or(0) % partitions;
            let record = FutureRecord::<(), String>::to(topic)
                .payload(payload)
                .partition(partition);
            let future = producer
                .send_result(record)
                .map_err(|(e, _)| anyhow::anyhow!("queueing message {i} for {topic}: {e}"))?;
            pending.push(future);
        }
        for (i, future) in pending.into_iter().enumerate() {
            future
                .await
                .context("the producer went away")?
                .map_err(|(e, _)| anyhow::anyhow!("delivering message {i} to {topic}: {e}"))?;
        }
        Ok(())
    }
}
