//! The Kafka loop: read a batch from `events_plugin_ingestion`, process it event by event (team by
//! token, persons in PostgreSQL, the event row), produce every row, wait for all acknowledgements,
//! and only then commit the batch's offsets. A crash or a failed commit redelivers the batch
//! (at-least-once); ClickHouse's ReplacingMergeTree on `sharded_events` collapses the duplicate uuids.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::event_row::{event_row, parse_message, product_track};
use crate::store::{Team, process_person, team_by_token};

/// Topic the worker consumes (base name).
pub const INPUT_TOPIC: &str = "events_plugin_ingestion";
/// Event rows for ClickHouse's `kafka_events_json`.
pub const EVENTS_TOPIC: &str = "clickhouse_events_json";
/// Person rows for `kafka_person`.
pub const PERSON_TOPIC: &str = "clickhouse_person";
/// Distinct-id rows for `kafka_person_distinct_id2` (and the overrides table).
pub const DISTINCT_ID_TOPIC: &str = "clickhouse_person_distinct_id";

/// How the worker connects and batches.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Kafka bootstrap servers.
    pub kafka_hosts: String,
    /// Prepended to every topic name.
    pub kafka_prefix: String,
    /// Consumer group id.
    pub group_id: String,
    /// Most messages in one batch.
    pub batch_size: usize,
    /// Longest wait for a batch to fill once its first message arrived.
    pub batch_wait: Duration,
}

impl WorkerConfig {
    /// `KAFKA_HOSTS` (required), `KAFKA_PREFIX` (default empty), `INGESTION_CONSUMER_GROUP`
    /// (default `ingestion-events`).
    pub fn from_env() -> Result<WorkerConfig> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Ok(WorkerConfig {
            kafka_hosts: get("KAFKA_HOSTS").ok_or_else(|| {
                Error::Config("environment variable KAFKA_HOSTS is not set".into())
            })?,
            kafka_prefix: get("KAFKA_PREFIX").unwrap_or_default(),
            group_id: get("INGESTION_CONSUMER_GROUP")
                .unwrap_or_else(|| "ingestion-events".to_string()),
            batch_size: 500,
            batch_wait: Duration::from_millis(50),
        })
    }

    fn topic(&self, base: &str) -> String {
        format!("{}{base}", self.kafka_prefix)
    }
}

/// The topics the worker reads and writes (base names).
pub const WORKER_TOPICS: [&str; 4] = [INPUT_TOPIC, EVENTS_TOPIC, PERSON_TOPIC, DISTINCT_ID_TOPIC];

/// Creates the worker's topics that the broker lacks (brokers like tansu do not auto-create topics).
pub async fn ensure_topics(hosts: &str, prefix: &str, partitions: i32) -> Result<()> {
    let names: Vec<String> = WORKER_TOPICS
        .iter()
        .map(|t| format!("{prefix}{t}"))
        .collect();
    create_topics(hosts, &names, partitions).await
}

/// Creates the named topics; topics that already exist are fine.
pub async fn create_topics(hosts: &str, names: &[String], partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", hosts)
        .create()
        .map_err(|e| Error::Kafka(format!("creating the admin client: {e}")))?;
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(15)));
    let results = admin
        .create_topics(&topics, &options)
        .await
        .map_err(|e| Error::Kafka(format!("creating topics: {e}")))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::Kafka(format!("creating topic {name}: {code}")));
            }
        }
    }
    Ok(())
}

/// Counters, readable while the worker runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Events whose rows were produced and acknowledged.
    pub ingested: AtomicU64,
    /// Messages dropped (unparseable, unknown token).
    pub dropped: AtomicU64,
    /// Batches whose offsets were committed.
    pub committed_batches: AtomicU64,
    /// Offset commits that failed (the batch will be redelivered).
    pub failed_commits: AtomicU64,
}

/// The ingestion worker.
pub struct Worker {
    config: WorkerConfig,
    pool: PgPool,
    consumer: StreamConsumer,
    producer: FutureProducer,
    teams: HashMap<String, (Instant, Option<Team>)>,
    ready: watch::Sender<bool>,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

const TEAM_HIT_TTL: Duration = Duration::from_secs(60);
const TEAM_MISS_TTL: Duration = Duration::from_secs(5);

impl Worker {
    /// Creates the Kafka clients and subscribes (no message is read before [`Worker::run`]).
    pub fn new(config: WorkerConfig, pool: PgPool) -> Result<Worker> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_hosts)
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("heartbeat.interval.ms", "500")
            .set("session.timeout.ms", "6000")
            .set("socket.timeout.ms", "10000")
            .create()
            .map_err(|e| Error::Kafka(format!("creating the consumer: {e}")))?;
        consumer
            .subscribe(&[&config.topic(INPUT_TOPIC)])
            .map_err(|e| Error::Kafka(format!("subscribing: {e}")))?;
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_hosts)
            .set("linger.ms", "5")
            .set("acks", "all")
            .set("message.timeout.ms", "20000")
            .set("socket.timeout.ms", "10000")
            .create()
            .map_err(|e| Error::Kafka(format!("creating the producer: {e}")))?;
        let (ready, _) = watch::channel(false);
        Ok(Worker {
            config,
            pool,
            consumer,
            producer,
            teams: HashMap::new(),
            ready,
            stats: Arc::new(Stats::default()),
        })
    }

    /// Becomes `true` once the consumer holds a partition assignment (produce after that in tests:
    /// tansu's group coordinator mishandles rebalances during consumption).
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// The worker's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` turns `true`. A batch in progress at shutdown is not committed (it is
    /// redelivered). Returns an error when producing fails or PostgreSQL fails repeatedly.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        loop {
            if *shutdown.borrow() {
                break;
            }
            let mut batch: Vec<OwnedMessage> = Vec::new();
            let mut deadline = Instant::now() + Duration::from_millis(100);
            loop {
                let wait = deadline.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = shutdown.changed() => return Ok(()),
                    received = tokio::time::timeout(wait, self.consumer.recv()) => match received {
                        Err(_) => break,
                        Ok(Ok(message)) => {
                            if batch.is_empty() {
                                deadline = Instant::now() + self.config.batch_wait;
                            }
                            batch.push(message.detach());
                        }
                        Ok(Err(e)) => {
                            eprintln!("ingest: consumer error: {e}");
                            break;
                        }
                    }
                }
                if batch.len() >= self.config.batch_size {
                    break;
                }
            }
            if !*self.ready.borrow() {
                let assigned = self.consumer.assignment().map(|a| a.count()).unwrap_or(0);
                if assigned > 0 {
                    self.ready.send_replace(true);
                }
            }
            if batch.is_empty() {
                continue;
            }
            self.process_batch(&batch).await?;
            self.commit(&batch);
        }
        Ok(())
    }

    async fn team(&mut self, token: &str) -> Result<Option<Team>> {
        if let Some((at, team)) = self.teams.get(token) {
            let ttl = if team.is_some() {
                TEAM_HIT_TTL
            } else {
                TEAM_MISS_TTL
            };
            if at.elapsed() < ttl {
                return Ok(team.clone());
            }
        }
        let team = team_by_token(&self.pool, token).await?;
        self.teams
            .insert(token.to_string(), (Instant::now(), team.clone()));
        Ok(team)
    }

    fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &str,
        headers: Option<OwnedHeaders>,
    ) -> Result<DeliveryFuture> {
        let mut record = FutureRecord::to(topic).key(key).payload(payload);
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send_result(record) {
                Ok(future) => return Ok(future),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => return Err(Error::Kafka(format!("producing to {topic}: {e}"))),
            }
        }
    }

    async fn process_batch(&mut self, batch: &[OwnedMessage]) -> Result<()> {
        let events_topic = self.config.topic(EVENTS_TOPIC);
        let person_topic = self.config.topic(PERSON_TOPIC);
        let distinct_id_topic = self.config.topic(DISTINCT_ID_TOPIC);
        let mut pending: Vec<(String, DeliveryFuture)> = Vec::new();
        let mut ingested = 0;
        for message in batch {
            let where_ = format!(
                "{}[{}]@{}",
                message.topic(),
                message.partition(),
                message.offset()
            );
            let mut event = match parse_message(message.payload().unwrap_or_default()) {
                Ok(event) => event,
                Err(e) => {
                    eprintln!("ingest: dropping {where_}: {e}");
                    self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
            };
            let Some(team) = self.team(&event.token).await? else {
                eprintln!(
                    "ingest: dropping {where_}: invalid_token (no team has token {:?})",
                    event.token
                );
                self.stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let outcome = process_person(&self.pool, &team, &mut event).await?;
            for warning in &outcome.warnings {
                eprintln!(
                    "ingest: ingestion warning team={} type={warning} event={} distinct_id={:?}",
                    team.id, event.uuid, event.distinct_id
                );
            }
            for row in &outcome.persons {
                let value = serde_json::to_string(row)
                    .map_err(|e| Error::Kafka(format!("serialising a person row: {e}")))?;
                let future = self.send(&person_topic, &row.id.to_string(), &value, None)?;
                pending.push((person_topic.clone(), future));
            }
            for row in &outcome.distinct_ids {
                let value = serde_json::to_string(row)
                    .map_err(|e| Error::Kafka(format!("serialising a distinct id row: {e}")))?;
                let future =
                    self.send(&distinct_id_topic, &row.person_id.to_string(), &value, None)?;
                pending.push((distinct_id_topic.clone(), future));
            }
            let row = event_row(
                &event,
                team.id,
                team.project_id,
                &outcome.person,
                chrono::Utc::now(),
            );
            let value = serde_json::to_string(&row)
                .map_err(|e| Error::Kafka(format!("serialising an event row: {e}")))?;
            let headers = OwnedHeaders::new().insert(Header {
                key: "productTrack",
                value: Some(product_track(&row.event)),
            });
            let future = self.send(&events_topic, &row.uuid.to_string(), &value, Some(headers))?;
            pending.push((events_topic.clone(), future));
            ingested += 1;
        }
        for (topic, future) in pending {
            match future.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(Error::Kafka(format!("delivery to {topic} failed: {e}")));
                }
                Err(_) => return Err(Error::Kafka(format!("delivery to {topic} was cancelled"))),
            }
        }
        self.stats.ingested.fetch_add(ingested, Ordering::Relaxed);
        Ok(())
    }

    /// Commits the offset after the last message of each partition in `batch`. A failed commit (a
    /// rebalance, a flaky coordinator) is logged: the batch will be redelivered and deduplicated.
    fn commit(&self, batch: &[OwnedMessage]) {
        let mut next: BTreeMap<(String, i32), i64> = BTreeMap::new();
        for m in batch {
            let slot = next
                .entry((m.topic().to_string(), m.partition()))
                .or_insert(0);
            *slot = (*slot).max(m.offset() + 1);
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &next {
            if let Err(e) = list.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
                eprintln!("ingest: offset list: {e}");
                return;
            }
        }
        match self.consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                self.stats.committed_batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.failed_commits.fetch_add(1, Ordering::Relaxed);
                eprintln!("ingest: committing offsets failed (the batch will be redelivered): {e}");
            }
        }
    }
}
