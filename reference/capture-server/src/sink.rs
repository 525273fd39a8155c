//! Where messages go: the [`Sink`] seam, the Kafka producer used in production, and an in-memory sink
//! for in-process router tests.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use event_model::{OutgoingMessage, Topic};
use rdkafka::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SinkError {
    /// Worth retrying (broker down, timeout, queue full): HTTP 503.
    #[error("sink unavailable: {0}")]
    Retryable(String),
    /// One message is larger than the broker accepts: HTTP 413.
    #[error("event too large for the broker: {0}")]
    MessageTooLarge(String),
    /// Anything else: HTTP 500.
    #[error("sink failed: {0}")]
    Fatal(String),
}

/// The future a sink returns.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), SinkError>> + Send + 'a>>;

/// Delivers a request's messages; resolves only when every message is acknowledged (or one failed).
pub trait Sink: Send + Sync {
    fn send(&self, messages: Vec<OutgoingMessage>) -> SinkFuture<'_>;
}

/// Keeps messages in memory, in order (router tests only).
#[derive(Debug, Default)]
pub struct MemorySink {
    messages: Mutex<Vec<OutgoingMessage>>,
    fail_with: Mutex<Option<SinkError>>,
}

impl MemorySink {
    /// Every message sent so far.
    pub fn messages(&self) -> Vec<OutgoingMessage> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Makes every following send fail with `error` (or succeed again with `None`).
    pub fn fail_with(&self, error: Option<SinkError>) {
        if let Ok(mut slot) = self.fail_with.lock() {
            *slot = error;
        }
    }
}

impl Sink for MemorySink {
    fn send(&self, messages: Vec<OutgoingMessage>) -> SinkFuture<'_> {
        Box::pin(async move {
            if let Some(error) = self.fail_with.lock().ok().and_then(|f| f.clone()) {
                return Err(error);
            }
            self.messages
                .lock()
                .map_err(|_| SinkError::Fatal("memory sink poisoned".into()))?
                .extend(messages);
            Ok(())
        })
    }
}

/// The broker's (and producer's) `message.max.bytes`, capture's default.
pub const MAX_MESSAGE_BYTES: usize = 1_000_000;

/// Produces to Kafka with capture's producer settings; topics are `prefix + base name`.
pub struct KafkaSink {
    producer: FutureProducer,
    topics: [(Topic, String); 3],
}

/// Rejects the whole request if any message is over `max_bytes` (key + value + headers), before
/// anything is queued, so an oversize event never leaves its smaller siblings half-written.
pub fn check_message_sizes(
    messages: &[OutgoingMessage],
    max_bytes: usize,
) -> Result<(), SinkError> {
    for (index, message) in messages.iter().enumerate() {
        let size = message.key.len()
            + message.value.len()
            + message
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        if size > max_bytes {
            return Err(SinkError::MessageTooLarge(format!(
                "event at index {index} is {size} bytes, over the {max_bytes} byte message limit"
            )));
        }
    }
    Ok(())
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// A producer for `hosts` (comma separated) writing to `prefix`-ed topics.
    pub fn new(hosts: &str, prefix: &str) -> Result<KafkaSink, SinkError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", hosts)
            // Every request waits for its acks, so linger is a floor under each response: 20 ms made
            // p50 22.7 ms at 8 connections; 2 ms gave 3.8 ms. 0 sent one produce request per event and
            // halved throughput at 256 connections (the broker pays per request).
            .set("linger.ms", "2")
            .set("queue.buffering.max.kbytes", "409600")
            .set("queue.buffering.max.messages", "1000000")
            .set("message.timeout.ms", "20000")
            .set("message.max.bytes", MAX_MESSAGE_BYTES.to_string())
            .set("acks", "all")
            .set("message.send.max.retries", "2")
            .set("partitioner", "murmur2_random")
            .set("socket.timeout.ms", "10000")
            .create()
            .map_err(|e| SinkError::Fatal(format!("creating the kafka producer: {e}")))?;
        let topic = |t: Topic| (t, format!("{prefix}{}", t.base_name()));
        Ok(KafkaSink {
            producer,
            topics: [
                topic(Topic::Main),
                topic(Topic::Historical),
                topic(Topic::Exceptions),
            ],
        })
    }

    /// The full name of a topic.
    pub fn topic_name(&self, topic: Topic) -> &str {
        self.topics
            .iter()
            .find(|(t, _)| *t == topic)
            .map_or("", |(_, name)| name.as_str())
    }

    /// The topics this sink writes to that the broker does not know (brokers like tansu do not
    /// auto-create topics; producing to a missing one fails after `message.timeout.ms`). Blocking.
    pub fn missing_topics(&self, timeout: Duration) -> Result<Vec<String>, SinkError> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(None, timeout)
            .map_err(|e| SinkError::Retryable(format!("fetching kafka metadata: {e}")))?;
        let known: Vec<&str> = metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| t.name())
            .collect();
        Ok(self
            .topics
            .iter()
            .filter(|(_, name)| !known.contains(&name.as_str()))
            .map(|(_, name)| name.clone())
            .collect())
    }

    /// Waits until everything queued is delivered (shutdown).
    pub fn flush(&self, timeout: Duration) {
        let _ = self.producer.flush(timeout);
    }
}

fn classify(error: &KafkaError) -> SinkError {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageSizeTooLarge | RDKafkaErrorCode::InvalidMessageSize) => {
            SinkError::MessageTooLarge(error.to_string())
        }
        Some(
            RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::UnknownTopic
            | RDKafkaErrorCode::TopicAuthorizationFailed,
        ) => SinkError::Fatal(error.to_string()),
        _ => SinkError::Retryable(error.to_string()),
    }
}

impl Sink for KafkaSink {
    fn send(&self, messages: Vec<OutgoingMessage>) -> SinkFuture<'_> {
        Box::pin(async move {
            check_message_sizes(&messages, MAX_MESSAGE_BYTES)?;
            // Queue everything first (librdkafka batches by linger.ms), then wait for every ack.
            let mut pending = Vec::with_capacity(messages.len());
            for message in &messages {
                let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
                for (name, value) in &message.headers {
                    headers = headers.insert(Header {
                        key: name,
                        value: Some(value.as_str()),
                    });
                }
                let mut record = FutureRecord::to(self.topic_name(message.topic))
                    .key(message.key.as_str())
                    .payload(message.value.as_str())
                    .headers(headers);
                let mut attempts = 0;
                loop {
                    match self.producer.send_result(record) {
                        Ok(delivery) => {
                            pending.push(delivery);
                            break;
                        }
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                            if attempts < 500 =>
                        {
                            attempts += 1;
                            record = back;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                        Err((error, _)) => return Err(classify(&error)),
                    }
                }
            }
            for delivery in pending {
                match delivery.await {
                    Ok(Ok(_)) => {}
                    Ok(Err((error, _))) => return Err(classify(&error)),
                    Err(_) => return Err(SinkError::Retryable("delivery was cancelled".into())),
                }
            }
            Ok(())
        })
    }
}
