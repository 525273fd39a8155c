//! The Kafka loop: read a batch from `events_plugin_ingestion`, run its PostgreSQL side in one
//! transaction (teams in one query, the batch's persons read and locked in one query, then only the
//! writes; see [`crate::store::PersonBatch`]), produce every row once that transaction committed, and
//! commit the batch's offsets only once all its rows and those of every earlier batch were
//! acknowledged. A crash or a failed commit redelivers the batch (at-least-once); ClickHouse's
//! ReplacingMergeTree on `sharded_events` collapses the duplicate uuids. A batch that loses a race with
//! a concurrent writer (another worker) is rolled back and run again before anything is produced.
//!
//! The stages overlap: librdkafka fetches ahead in its own thread while a batch is in PostgreSQL, and
//! a batch's deliveries are awaited in a task of their own while the next batches run (at most
//! [`PIPELINE_DEPTH`] batches produced and not yet acknowledged). Offsets advance strictly in batch
//! order, so a commit never covers a batch whose rows are not all acknowledged.
//!
//! Partitions are assigned by the worker itself, not by a group coordinator: it reads the topic's
//! partitions from the broker's metadata, keeps its share of them (partition `p` belongs to worker
//! `p % count`; see [`Worker::with_partition_share`]) and starts each at the offset committed under
//! its group id (the beginning when none). The group id is only a place for committed offsets, so a
//! restart, or a broker restart, needs no rebalance (tansu's coordinator mishandles rebalances, infra
//! pitfall 8). A failed batch (a delivery that failed, PostgreSQL down) is not skipped: the worker
//! waits, rewinds every partition to the end of the last batch that succeeded, and reads it again.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers as _, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::PgPool;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::event_row::IncomingEvent;
use crate::event_row::{event_row, parse_message, product_track};
use crate::groups::{
    MAX_GROUP_KEY_CHARS, WARN_GROUP_KEY_TOO_LONG, add_group_columns, group_identify, group_types,
    strip_group_columns,
};
use crate::store::{
    PersonBatch, RACE_ATTEMPTS, Team, distinct_ids_of, group_type_index, is_retryable,
    process_person_in, teams_by_tokens, upsert_group_in,
};

/// Topic the worker consumes (base name).
pub const INPUT_TOPIC: &str = "events_plugin_ingestion";
/// Event rows for ClickHouse's `kafka_events_json`.
pub const EVENTS_TOPIC: &str = "clickhouse_events_json";
/// Person rows for `kafka_person`.
pub const PERSON_TOPIC: &str = "clickhouse_person";
/// Distinct-id rows for `kafka_person_distinct_id2` (and the overrides table).
pub const DISTINCT_ID_TOPIC: &str = "clickhouse_person_distinct_id";
/// Group rows for `kafka_groups`.
pub const GROUPS_TOPIC: &str = "clickhouse_groups";
/// Messages the worker cannot process (unparseable), unchanged, with `dlq-*` headers saying why.
pub const DLQ_TOPIC: &str = "events_plugin_ingestion_dlq";
/// Ingestion warnings for ClickHouse's `kafka_ingestion_warnings` (migration 0009).
pub const WARNINGS_TOPIC: &str = "clickhouse_ingestion_warnings";
/// The `source` column of the warnings this worker raises (PostHog's ingestion service).
pub const WARNING_SOURCE: &str = "plugin-server";

/// One `ingestion_warnings` row as the JSON the Kafka table reads: `details` is itself JSON text
/// (the event's uuid and distinct id, plus `extra`'s fields).
pub fn warning_row(
    team_id: i64,
    kind: &str,
    event_uuid: &str,
    distinct_id: &str,
    extra: serde_json::Map<String, serde_json::Value>,
    at: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut details = serde_json::Map::new();
    details.insert("eventUuid".into(), event_uuid.into());
    details.insert("distinctId".into(), distinct_id.into());
    details.extend(extra);
    serde_json::json!({
        "team_id": team_id,
        "source": WARNING_SOURCE,
        "type": kind,
        "details": serde_json::Value::Object(details).to_string(),
        "timestamp": crate::event_row::ch_datetime(&at),
    })
    .to_string()
}

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
    /// The worker of a server configured by `settings`: its brokers and topic prefix (`KAFKA_HOSTS`,
    /// `KAFKA_PREFIX`) and consumer group (`INGESTION_CONSUMER_GROUP`), batches of at most
    /// [`DEFAULT_BATCH_SIZE`] messages waiting at most [`DEFAULT_BATCH_WAIT`] to fill.
    pub fn from_settings(settings: &settings::Settings) -> WorkerConfig {
        WorkerConfig {
            kafka_hosts: settings.kafka.bootstrap_servers(),
            kafka_prefix: settings.kafka.prefix.clone(),
            group_id: settings.worker.group_id.clone(),
            batch_size: DEFAULT_BATCH_SIZE,
            batch_wait: DEFAULT_BATCH_WAIT,
        }
    }

    fn topic(&self, base: &str) -> String {
        format!("{}{base}", self.kafka_prefix)
    }
}

/// Most messages in one batch, unless the caller says otherwise.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// Longest wait for a batch to fill once its first message arrived, unless the caller says otherwise.
pub const DEFAULT_BATCH_WAIT: Duration = Duration::from_millis(50);

/// Every topic of the pipeline (base names): capture's (the worker's input plus the historical and
/// exceptions topics) and the worker's, in [`WORKER_TOPICS`] order, then capture's other two.
pub fn pipeline_topics() -> Vec<&'static str> {
    let capture = [
        event_model::Topic::Main,
        event_model::Topic::Historical,
        event_model::Topic::Exceptions,
    ]
    .map(event_model::Topic::base_name);
    let mut topics = WORKER_TOPICS.to_vec();
    topics.extend(capture.into_iter().filter(|t| !WORKER_TOPICS.contains(t)));
    topics
}

/// The topics the worker reads and writes (base names).
pub const WORKER_TOPICS: [&str; 7] = [
    INPUT_TOPIC,
    EVENTS_TOPIC,
    PERSON_TOPIC,
    DISTINCT_ID_TOPIC,
    GROUPS_TOPIC,
    DLQ_TOPIC,
    WARNINGS_TOPIC,
];

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
    /// Messages dropped (unknown token, group key too long), as PostHog drops them.
    pub dropped: AtomicU64,
    /// Messages sent to the dead-letter topic (unparseable).
    pub dead_lettered: AtomicU64,
    /// Batches whose offsets were committed (counted when a commit covering them succeeded).
    pub committed_batches: AtomicU64,
    /// Offset commits that failed (retried with the next commit; a crash before it redelivers).
    pub failed_commits: AtomicU64,
    /// Batches that failed and were read again (delivery failures, PostgreSQL errors).
    pub retried_batches: AtomicU64,
    /// `clickhouse_groups` rows produced.
    pub group_rows: AtomicU64,
    /// PostgreSQL statements run by batches (team lookups, person reads and writes, commits): the
    /// work ingestion costs the database.
    pub postgres_statements: AtomicU64,
    /// PostgreSQL transactions committed by batches (one per batch that reached PostgreSQL).
    pub postgres_transactions: AtomicU64,
}

/// One message to produce.
#[derive(Debug)]
struct Outgoing {
    topic: String,
    key: Vec<u8>,
    payload: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

/// What the PostgreSQL side of a batch decided: the messages to produce, and counters.
#[derive(Debug, Default)]
struct Built {
    rows: Vec<Outgoing>,
    ingested: u64,
    dropped: u64,
    dead_lettered: u64,
    group_rows: u64,
}

impl Built {
    fn push(&mut self, topic: &str, key: String, payload: String, track: Option<&'static str>) {
        self.rows.push(Outgoing {
            topic: topic.to_string(),
            key: key.into_bytes(),
            payload: payload.into_bytes(),
            headers: track
                .map(|t| vec![("productTrack".to_string(), t.as_bytes().to_vec())])
                .unwrap_or_default(),
        });
    }

    /// Sends `message` unchanged (key, value, headers) to the dead-letter topic, with headers that
    /// say why and where it came from.
    fn dead_letter(&mut self, dlq_topic: &str, message: &OwnedMessage, step: &str, reason: &str) {
        let mut headers: Vec<(String, Vec<u8>)> = message
            .headers()
            .map(|h| {
                h.iter()
                    .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default();
        for (key, value) in [
            ("dlq-reason", reason.to_string()),
            ("dlq-step", step.to_string()),
            ("dlq-timestamp", chrono::Utc::now().to_rfc3339()),
            ("dlq-topic", message.topic().to_string()),
            ("dlq-partition", message.partition().to_string()),
            ("dlq-offset", message.offset().to_string()),
        ] {
            headers.push((key.to_string(), value.into_bytes()));
        }
        self.rows.push(Outgoing {
            topic: dlq_topic.to_string(),
            key: message.key().unwrap_or_default().to_vec(),
            payload: message.payload().unwrap_or_default().to_vec(),
            headers,
        });
        self.dead_lettered += 1;
    }
}

/// The ingestion worker.
pub struct Worker {
    config: WorkerConfig,
    pool: PgPool,
    consumer: StreamConsumer,
    producer: FutureProducer,
    teams: HashMap<String, (Instant, Option<Team>)>,
    group_types: HashMap<(i64, String), i16>,
    /// Per partition of the input topic: the offset after the last message of a batch that succeeded.
    positions: BTreeMap<i32, i64>,
    /// `positions` moved since the last successful commit.
    uncommitted: bool,
    /// Batches settled since the last successful commit.
    settled_batches: u64,
    /// This worker's index among `share.1` workers that split the input topic's partitions.
    share: (u32, u32),
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
const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);
/// The consumer's `fetch.wait.max.ms`: how long the broker may hold a fetch that found nothing.
pub const FETCH_WAIT_MS: &str = "10";

/// Most batches whose rows were produced and are not all acknowledged yet: the next batch runs its
/// PostgreSQL side while these deliveries are in flight.
pub const PIPELINE_DEPTH: usize = 4;
/// Longest wait, at shutdown, for the acknowledgements of batches in flight before their offsets are
/// committed (what is not acknowledged by then is read again by the next worker).
const SHUTDOWN_SETTLE: Duration = Duration::from_secs(10);

/// What went wrong with one batch: retry it (after rewinding) unless shutting down.
enum BatchError {
    Retry(Error),
}

impl From<Error> for BatchError {
    fn from(e: Error) -> Self {
        BatchError::Retry(e)
    }
}

/// A batch whose PostgreSQL side committed and whose rows were handed to the producer.
struct InFlight {
    /// Resolves once every row of the batch was acknowledged (or one delivery failed).
    deliveries: tokio::task::JoinHandle<Result<()>>,
    /// What the batch's success moves: positions and counters.
    done: BatchDone,
}

/// What a batch moves once all its rows were acknowledged.
struct BatchDone {
    /// Per partition: the offset after the batch's last message.
    ends: BTreeMap<i32, i64>,
    ingested: u64,
    dropped: u64,
    dead_lettered: u64,
    group_rows: u64,
}

impl Worker {
    /// Creates the Kafka clients (no partition is assigned and no message read before [`Worker::run`]).
    pub fn new(config: WorkerConfig, pool: PgPool) -> Result<Worker> {
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_hosts)
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // librdkafka waits up to 500 ms for a fetch to fill; tansu holds a fetch that long even
            // when a message arrives meanwhile, which cost ~380 ms per hop.
            .set("fetch.wait.max.ms", FETCH_WAIT_MS)
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000")
            .create()
            .map_err(|e| Error::Kafka(format!("creating the consumer: {e}")))?;
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.kafka_hosts)
            .set("linger.ms", "5")
            .set("acks", "all")
            .set("enable.idempotence", "false")
            .set("message.timeout.ms", "30000")
            .set("socket.timeout.ms", "10000")
            .set("reconnect.backoff.ms", "100")
            .set("reconnect.backoff.max.ms", "1000")
            .create()
            .map_err(|e| Error::Kafka(format!("creating the producer: {e}")))?;
        let (ready, _) = watch::channel(false);
        Ok(Worker {
            config,
            pool,
            consumer,
            producer,
            teams: HashMap::new(),
            group_types: HashMap::new(),
            positions: BTreeMap::new(),
            uncommitted: false,
            settled_batches: 0,
            share: (0, 1),
            ready,
            stats: Arc::new(Stats::default()),
        })
    }

    /// Makes this worker one of `count` that split the input topic's partitions statically: it reads
    /// partition `p` only when `p % count == index`. Every worker of the share uses the same group id
    /// (committed offsets are per partition, so a restarted worker resumes where its predecessor
    /// committed). An index outside `0..count` is a configuration error.
    pub fn with_partition_share(mut self, index: u32, count: u32) -> Result<Worker> {
        if count == 0 || index >= count {
            return Err(Error::Config(format!(
                "worker index {index} is not below the worker count {count}"
            )));
        }
        self.share = (index, count);
        Ok(self)
    }

    /// Becomes `true` once the worker assigned itself the input topic's partitions at their
    /// committed offsets (messages produced before that are still read: unread offsets stay).
    pub fn ready(&self) -> watch::Receiver<bool> {
        self.ready.subscribe()
    }

    /// The worker's counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Runs until `shutdown` turns `true`. A batch in progress at shutdown is not committed (it is
    /// redelivered). Broker and PostgreSQL outages are waited out: the failed batch is read again. A
    /// partition share that holds no partition of the input topic is an error ([`Error::Config`]).
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) -> Result<()> {
        let mut backoff = Duration::from_millis(200);
        // Assign the partitions at their committed offsets, waiting for the broker if needed.
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            // The dead-letter and warnings topics are the worker's own: make sure they exist (brokers
            // like tansu do not create topics on first use, and a delivery to a missing one fails the
            // batch).
            let dlq = vec![
                self.config.topic(DLQ_TOPIC),
                self.config.topic(WARNINGS_TOPIC),
            ];
            let prepared = match create_topics(&self.config.kafka_hosts, &dlq, 1).await {
                Ok(()) => self.assign_from_committed(),
                Err(e) => Err(e),
            };
            match prepared {
                Ok(()) => break,
                // A share with no partition (more workers than partitions) will not fix itself.
                Err(e @ Error::Config(_)) => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, "assigning partitions failed (retrying)");
                    if sleep_or_stop(&mut shutdown, backoff).await {
                        return Ok(());
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.ready.send_replace(true);
        backoff = Duration::from_millis(200);
        let mut last_error_log = Instant::now() - Duration::from_secs(60);
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let mut batch: Vec<OwnedMessage> = Vec::new();
            let mut deadline = Instant::now() + Duration::from_millis(100);
            loop {
                let wait = deadline.saturating_duration_since(Instant::now());
                tokio::select! {
                    _ = shutdown.changed() => {
                        self.finish(in_flight).await;
                        return Ok(());
                    }
                    received = tokio::time::timeout(wait, self.consumer.recv()) => match received {
                        Err(_) => break,
                        Ok(Ok(message)) => {
                            if batch.is_empty() {
                                deadline = Instant::now() + self.config.batch_wait;
                            }
                            batch.push(message.detach());
                        }
                        Ok(Err(e)) => {
                            // Broker gone for a moment: librdkafka reconnects by itself.
                            if last_error_log.elapsed() > Duration::from_secs(2) {
                                tracing::warn!(error = %e, "consumer error");
                                last_error_log = Instant::now();
                            }
                            break;
                        }
                    }
                }
                if batch.len() >= self.config.batch_size {
                    break;
                }
            }
            // Idle: wait for every batch in flight, then commit. Busy: start the batch, and wait
            // only for the oldest batches beyond the pipeline's depth.
            let step = if batch.is_empty() {
                self.settle(&mut in_flight, 0).await
            } else {
                match self.start_batch(&batch).await {
                    Ok(started) => {
                        in_flight.push_back(started);
                        self.settle(&mut in_flight, PIPELINE_DEPTH).await
                    }
                    Err(BatchError::Retry(e)) => {
                        // What is already in flight may still be acknowledged: keep that progress.
                        if let Err(earlier) = self.settle(&mut in_flight, 0).await {
                            tracing::error!(error = %earlier, "an earlier batch failed too");
                        }
                        Err(e)
                    }
                }
            };
            match step {
                Ok(()) => {
                    if !batch.is_empty() {
                        backoff = Duration::from_millis(200);
                    }
                    if self.uncommitted {
                        self.commit();
                    }
                }
                Err(e) => {
                    // Everything after the last acknowledged batch is read again; deliveries still
                    // in flight may land too, and ClickHouse collapses those copies by uuid.
                    let abandoned = in_flight.len();
                    for f in in_flight.drain(..) {
                        f.deliveries.abort();
                    }
                    if self.uncommitted {
                        self.commit();
                    }
                    self.stats.retried_batches.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(
                        batch = batch.len(),
                        abandoned,
                        retry_in = ?backoff,
                        error = %e,
                        "batch failed; reading again after the last acknowledged batch"
                    );
                    if sleep_or_stop(&mut shutdown, backoff).await {
                        break;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    if let Err(e) = self.rewind() {
                        tracing::warn!(error = %e, "rewinding failed (retrying)");
                    }
                }
            }
        }
        self.finish(in_flight).await;
        Ok(())
    }

    /// Settles the batches in flight in order: each one finished, and (blocking) the oldest ones
    /// while more than `keep` are in flight. A settled batch moves the positions and counters; the
    /// first failed delivery is returned (the batches after it stay in `in_flight`).
    async fn settle(&mut self, in_flight: &mut VecDeque<InFlight>, keep: usize) -> Result<()> {
        while let Some(front) = in_flight.front() {
            if !front.deliveries.is_finished() && in_flight.len() <= keep {
                break;
            }
            let Some(InFlight { deliveries, done }) = in_flight.pop_front() else {
                break;
            };
            match deliveries.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(Error::Kafka(format!("awaiting deliveries: {e}"))),
            }
            for (partition, end) in done.ends {
                let slot = self.positions.entry(partition).or_insert(0);
                *slot = (*slot).max(end);
            }
            self.uncommitted = true;
            self.settled_batches += 1;
            self.stats
                .ingested
                .fetch_add(done.ingested, Ordering::Relaxed);
            self.stats
                .dropped
                .fetch_add(done.dropped, Ordering::Relaxed);
            self.stats
                .dead_lettered
                .fetch_add(done.dead_lettered, Ordering::Relaxed);
            self.stats
                .group_rows
                .fetch_add(done.group_rows, Ordering::Relaxed);
        }
        Ok(())
    }

    /// At shutdown: waits (bounded by [`SHUTDOWN_SETTLE`]) for the batches in flight and commits what
    /// they acknowledged; the rest is read again by the next worker.
    async fn finish(&mut self, mut in_flight: VecDeque<InFlight>) {
        if !in_flight.is_empty() {
            match tokio::time::timeout(SHUTDOWN_SETTLE, self.settle(&mut in_flight, 0)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "at shutdown, a batch in flight failed"),
                Err(_) => tracing::warn!(
                    batches = in_flight.len(),
                    waited = ?SHUTDOWN_SETTLE,
                    "at shutdown, batches still unacknowledged: they will be read again"
                ),
            }
            for f in in_flight.drain(..) {
                f.deliveries.abort();
            }
        }
        if self.uncommitted {
            self.commit();
        }
    }

    /// This worker's share of the input topic's partitions, from the broker's metadata.
    fn partitions(&self) -> Result<Vec<i32>> {
        let topic = self.config.topic(INPUT_TOPIC);
        let metadata = self
            .consumer
            .fetch_metadata(Some(&topic), KAFKA_TIMEOUT)
            .map_err(|e| Error::Kafka(format!("reading the metadata of {topic}: {e}")))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(Error::Kafka(format!(
                "topic {topic} has no partitions (does it exist?)"
            )));
        }
        let (index, count) = self.share;
        let mine: Vec<i32> = partitions
            .into_iter()
            .filter(|p| u32::try_from(*p).is_ok_and(|p| p % count == index))
            .collect();
        if mine.is_empty() {
            return Err(Error::Config(format!(
                "worker {index} of {count} has no partition of {topic}: it has fewer partitions than workers"
            )));
        }
        Ok(mine)
    }

    /// Assigns every partition of the input topic at its committed offset (the beginning when the
    /// group committed none), and remembers those offsets as the positions to rewind to.
    fn assign_from_committed(&mut self) -> Result<()> {
        let topic = self.config.topic(INPUT_TOPIC);
        let mut wanted = TopicPartitionList::new();
        for p in self.partitions()? {
            wanted.add_partition(&topic, p);
        }
        let committed = self
            .consumer
            .committed_offsets(wanted, KAFKA_TIMEOUT)
            .map_err(|e| Error::Kafka(format!("reading committed offsets: {e}")))?;
        self.positions.clear();
        for element in committed.elements() {
            if let Offset::Offset(offset) = element.offset() {
                self.positions.insert(element.partition(), offset);
            }
        }
        self.assign_at_positions(&committed)
    }

    /// Assigns `partitions`, each at its remembered position (or the beginning).
    fn assign_at_positions(&self, partitions: &TopicPartitionList) -> Result<()> {
        let topic = self.config.topic(INPUT_TOPIC);
        let mut list = TopicPartitionList::new();
        for element in partitions.elements() {
            let offset = match self.positions.get(&element.partition()) {
                Some(o) => Offset::Offset(*o),
                None => Offset::Beginning,
            };
            list.add_partition_offset(&topic, element.partition(), offset)
                .map_err(|e| Error::Kafka(format!("offset list: {e}")))?;
        }
        self.consumer
            .assign(&list)
            .map_err(|e| Error::Kafka(format!("assigning partitions: {e}")))
    }

    /// Moves every partition back to the end of the last successful batch (messages read after it,
    /// including the failed batch, are read again).
    fn rewind(&mut self) -> Result<()> {
        let current = self
            .consumer
            .assignment()
            .map_err(|e| Error::Kafka(format!("reading the assignment: {e}")))?;
        if current.count() == 0 {
            return self.assign_from_committed();
        }
        self.assign_at_positions(&current)
    }

    /// The teams of `tokens`, from the cache or, for those missing or stale, one query.
    async fn teams(&mut self, tokens: &[&str]) -> Result<()> {
        let mut wanted: Vec<String> = Vec::new();
        for token in tokens {
            let fresh = self.teams.get(*token).is_some_and(|(at, team)| {
                let ttl = if team.is_some() {
                    TEAM_HIT_TTL
                } else {
                    TEAM_MISS_TTL
                };
                at.elapsed() < ttl
            });
            if !fresh && !wanted.iter().any(|w| w == token) {
                wanted.push((*token).to_string());
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        self.stats
            .postgres_statements
            .fetch_add(1, Ordering::Relaxed);
        let found = teams_by_tokens(&self.pool, &wanted).await?;
        let now = Instant::now();
        for token in wanted {
            let team = found.iter().find(|t| t.api_token == token).cloned();
            self.teams.insert(token, (now, team));
        }
        Ok(())
    }

    /// The index of a group type in the team's project (cached once known).
    async fn group_index(&mut self, team: &Team, group_type: &str) -> Result<Option<i16>> {
        let key = (team.project_id, group_type.to_string());
        if let Some(index) = self.group_types.get(&key) {
            return Ok(Some(*index));
        }
        let index = group_type_index(&self.pool, team, group_type).await?;
        if let Some(i) = index {
            self.group_types.insert(key, i);
        }
        Ok(index)
    }

    fn send(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
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

    /// Runs `batch`'s PostgreSQL side in one transaction (again, a few times, when it lost a race
    /// with a concurrent writer), then hands every row to the producer; the returned [`InFlight`]
    /// resolves once all of them were acknowledged.
    async fn start_batch(&mut self, batch: &[OwnedMessage]) -> Result<InFlight, BatchError> {
        let mut attempt = 0;
        let built = loop {
            attempt += 1;
            match self.build_rows(batch).await {
                Err(e) if attempt < RACE_ATTEMPTS && is_retryable(&e) => {
                    tracing::warn!(error = %e, "batch lost a race with a concurrent writer, again");
                }
                Err(e) => return Err(e.into()),
                Ok(built) => break built,
            }
        };
        let mut pending: Vec<(String, DeliveryFuture)> = Vec::with_capacity(built.rows.len());
        for row in &built.rows {
            let headers = (!row.headers.is_empty()).then(|| {
                row.headers
                    .iter()
                    .fold(OwnedHeaders::new(), |all, (key, value)| {
                        all.insert(Header {
                            key,
                            value: Some(value),
                        })
                    })
            });
            let future = self.send(&row.topic, &row.key, &row.payload, headers)?;
            pending.push((row.topic.clone(), future));
        }
        let deliveries = tokio::spawn(async move {
            for (topic, future) in pending {
                match future.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((e, _))) => {
                        return Err(Error::Kafka(format!("delivery to {topic} failed: {e}")));
                    }
                    Err(_) => {
                        return Err(Error::Kafka(format!("delivery to {topic} was cancelled")));
                    }
                }
            }
            Ok(())
        });
        let mut ends = BTreeMap::new();
        for m in batch {
            let slot = ends.entry(m.partition()).or_insert(0);
            *slot = (*slot).max(m.offset() + 1);
        }
        Ok(InFlight {
            deliveries,
            done: BatchDone {
                ends,
                ingested: built.ingested,
                dropped: built.dropped,
                dead_lettered: built.dead_lettered,
                group_rows: built.group_rows,
            },
        })
    }

    /// Runs the PostgreSQL side of `batch` in one transaction (teams in one query, the batch's
    /// persons read and locked in one query, then only the writes) and returns the rows to produce.
    /// Nothing is produced before the transaction committed.
    async fn build_rows(&mut self, batch: &[OwnedMessage]) -> Result<Built> {
        let events_topic = self.config.topic(EVENTS_TOPIC);
        let person_topic = self.config.topic(PERSON_TOPIC);
        let distinct_id_topic = self.config.topic(DISTINCT_ID_TOPIC);
        let groups_topic = self.config.topic(GROUPS_TOPIC);
        let dlq_topic = self.config.topic(DLQ_TOPIC);
        let warnings_topic = self.config.topic(WARNINGS_TOPIC);
        let mut built = Built::default();

        let mut parsed: Vec<(String, IncomingEvent)> = Vec::with_capacity(batch.len());
        for message in batch {
            let where_ = format!(
                "{}[{}]@{}",
                message.topic(),
                message.partition(),
                message.offset()
            );
            match parse_message(message.payload().unwrap_or_default()) {
                Ok(event) => parsed.push((where_, event)),
                Err(e) => {
                    tracing::warn!(message = %where_, error = %e, "dead-lettering");
                    built.dead_letter(&dlq_topic, message, "parse", &e.to_string());
                }
            }
        }
        let tokens: Vec<&str> = parsed.iter().map(|(_, e)| e.token.as_str()).collect();
        self.teams(&tokens).await?;

        let mut persons = PersonBatch::begin(&self.pool).await?;
        let mut pairs = Vec::new();
        for (_, event) in &parsed {
            if let Some((_, Some(team))) = self.teams.get(&event.token) {
                for id in distinct_ids_of(event) {
                    pairs.push((team.id, id));
                }
            }
        }
        persons.preload(&pairs).await?;

        for (where_, mut event) in parsed {
            let Some((_, Some(team))) = self.teams.get(&event.token) else {
                tracing::info!(
                    message = %where_,
                    token = %event.token,
                    reason = "invalid_token",
                    "dropping an event: no team has its token"
                );
                built.dropped += 1;
                continue;
            };
            let team = team.clone();
            let identify = group_identify(&event.event, &event.properties);
            if let Some(g) = &identify
                && g.group_key.chars().count() > MAX_GROUP_KEY_CHARS
            {
                tracing::info!(
                    team_id = team.id,
                    r#type = WARN_GROUP_KEY_TOO_LONG,
                    event = %event.uuid,
                    "ingestion warning; event dropped"
                );
                let mut extra = serde_json::Map::new();
                extra.insert("groupKey".into(), g.group_key.clone().into());
                let row = warning_row(
                    team.id,
                    WARN_GROUP_KEY_TOO_LONG,
                    &event.uuid.to_string(),
                    &event.distinct_id,
                    extra,
                    chrono::Utc::now(),
                );
                built.push(&warnings_topic, team.id.to_string(), row, None);
                built.dropped += 1;
                continue;
            }
            let outcome = process_person_in(&mut persons, &team, &mut event).await?;
            for warning in &outcome.warnings {
                tracing::info!(
                    team_id = team.id,
                    r#type = warning,
                    event = %event.uuid,
                    distinct_id = %event.distinct_id,
                    "ingestion warning"
                );
                let row = warning_row(
                    team.id,
                    warning,
                    &event.uuid.to_string(),
                    &event.distinct_id,
                    serde_json::Map::new(),
                    chrono::Utc::now(),
                );
                built.push(&warnings_topic, team.id.to_string(), row, None);
            }
            for row in &outcome.persons {
                let payload = serde_json::to_string(row)
                    .map_err(|e| Error::Kafka(format!("serialising a person row: {e}")))?;
                built.push(&person_topic, row.id.to_string(), payload, None);
            }
            for row in &outcome.distinct_ids {
                let payload = serde_json::to_string(row)
                    .map_err(|e| Error::Kafka(format!("serialising a distinct id row: {e}")))?;
                built.push(&distinct_id_topic, row.person_id.to_string(), payload, None);
            }

            // Groups, for events that process persons only (as PostHog does).
            if crate::event_row::is_personless(&event.properties) || team.person_processing_opt_out
            {
                strip_group_columns(&mut event.properties);
            } else {
                let mut resolved = Vec::new();
                for group_type in group_types(&event.properties) {
                    if let Some(index) = self.group_index(&team, &group_type).await? {
                        resolved.push((group_type, index));
                    }
                }
                add_group_columns(&mut event.properties, &resolved);
                if let Some(g) = identify
                    && let Some(index) = self.group_index(&team, &g.group_type).await?
                    && let Some(row) = upsert_group_in(
                        &mut persons,
                        &team,
                        index,
                        &g.group_key,
                        &g.set,
                        event.timestamp,
                    )
                    .await?
                {
                    let payload = serde_json::to_string(&row)
                        .map_err(|e| Error::Kafka(format!("serialising a group row: {e}")))?;
                    let key = format!("{}:{}:{}", row.team_id, row.group_type_index, row.group_key);
                    built.push(&groups_topic, key, payload, None);
                    built.group_rows += 1;
                }
            }

            let row = event_row(
                &event,
                team.id,
                team.project_id,
                &outcome.person,
                chrono::Utc::now(),
            );
            let payload = serde_json::to_string(&row)
                .map_err(|e| Error::Kafka(format!("serialising an event row: {e}")))?;
            built.push(
                &events_topic,
                row.uuid.to_string(),
                payload,
                Some(product_track(&row.event)),
            );
            built.ingested += 1;
        }
        let statements = persons.statements;
        persons.commit().await?;
        self.stats
            .postgres_statements
            .fetch_add(statements + 1, Ordering::Relaxed);
        self.stats
            .postgres_transactions
            .fetch_add(1, Ordering::Relaxed);
        Ok(built)
    }

    /// Commits the positions of every partition that moved. A failed commit (broker restarting) is
    /// logged and tried again later; a crash before then only redelivers, which ClickHouse dedups.
    fn commit(&mut self) {
        let topic = self.config.topic(INPUT_TOPIC);
        let mut list = TopicPartitionList::new();
        for (partition, offset) in &self.positions {
            if let Err(e) = list.add_partition_offset(&topic, *partition, Offset::Offset(*offset)) {
                tracing::error!(error = %e, "building the offset list to commit failed");
                return;
            }
        }
        match self.consumer.commit(&list, CommitMode::Sync) {
            Ok(()) => {
                self.uncommitted = false;
                self.stats
                    .committed_batches
                    .fetch_add(std::mem::take(&mut self.settled_batches), Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.failed_commits.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "committing offsets failed (will retry)");
            }
        }
    }
}

/// Sleeps `wait`; true when `shutdown` turned on meanwhile.
async fn sleep_or_stop(shutdown: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    let stopped = tokio::select! {
        _ = shutdown.wait_for(|s| *s) => true,
        _ = tokio::time::sleep(wait) => false,
    };
    stopped || *shutdown.borrow()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    #[test]
    fn warning_row_has_the_kafka_table_columns_and_json_details() {
        let at = chrono::Utc
            .timestamp_opt(1_767_323_045, 123_456_000)
            .single()
            .unwrap_or_default();
        let mut extra = serde_json::Map::new();
        extra.insert("groupKey".into(), "k".into());
        let row: serde_json::Value = serde_json::from_str(&warning_row(
            7,
            "group_key_too_long",
            "0191e000-0000-7000-8000-000000000001",
            "d1",
            extra,
            at,
        ))
        .unwrap_or_default();
        assert_eq!(row["team_id"], 7);
        assert_eq!(row["source"], "plugin-server");
        assert_eq!(row["type"], "group_key_too_long");
        assert_eq!(row["timestamp"], "2026-01-02 03:04:05.123456");
        let details: serde_json::Value =
            serde_json::from_str(row["details"].as_str().unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            details,
            serde_json::json!({"eventUuid": "0191e000-0000-7000-8000-000000000001",
                "distinctId": "d1", "groupKey": "k"})
        );
    }
}
