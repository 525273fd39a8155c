//! From parsed events to Kafka messages: token and distinct_id rules, UUIDv7 for missing uuids (time
//! from the client's timestamp, so that equal requests can get equal ids), the
//! computed timestamp, the `CapturedEvent` JSON value, the partition key and the headers.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::decode::Decoded;
use crate::error::{Error, Result};
use crate::shape::{Payload, RawEvent};
use crate::timestamp;

/// Longest distinct_id kept, in characters.
pub const MAX_DISTINCT_ID_CHARS: usize = 200;
/// Longest accepted token, in characters.
pub const MAX_TOKEN_CHARS: usize = 64;

/// The topic a message goes to (base names; the deployment adds its prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `events_plugin_ingestion`.
    Main,
    /// `events_plugin_ingestion_historical` (`historical_migration` batches).
    Historical,
    /// `exceptions_ingestion` (`$exception` events).
    Exceptions,
}

impl Topic {
    /// The topic's base name.
    pub fn base_name(self) -> &'static str {
        match self {
            Topic::Main => "events_plugin_ingestion",
            Topic::Historical => "events_plugin_ingestion_historical",
            Topic::Exceptions => "exceptions_ingestion",
        }
    }
}

/// Request-wide facts the caller supplies.
#[derive(Debug, Clone, Copy)]
pub struct CaptureContext<'a> {
    /// When the request was received.
    pub now: DateTime<Utc>,
    /// The client IP (forwarding header or socket address).
    pub client_ip: &'a str,
}

/// The JSON value of a message from capture (`CapturedEvent`), fields in wire order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapturedEvent {
    pub uuid: String,
    pub distinct_id: String,
    pub ip: String,
    /// The [`RawEvent`] re-serialised to a JSON string.
    pub data: String,
    pub now: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<String>,
    pub token: String,
    pub event: String,
    pub timestamp: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_cookieless_mode: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub historical_migration: bool,
}

/// One message ready for the producer.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    pub topic: Topic,
    /// `token:distinct_id` (or `token:ip` for cookieless events).
    pub key: String,
    /// The serialised [`CapturedEvent`].
    pub value: String,
    /// Header names and string values, in a fixed order.
    pub headers: Vec<(&'static str, String)>,
    pub event: CapturedEvent,
}

/// Checks a token's shape and returns it trimmed.
pub fn validate_token(token: &str) -> Result<String> {
    let token = token.trim();
    let reason = if token.is_empty() {
        return Err(Error::NoToken);
    } else if token.chars().count() > MAX_TOKEN_CHARS {
        "longer than 64 characters"
    } else if !token.is_ascii() {
        "not ascii"
    } else if token.contains('\0') {
        "contains a nul byte"
    } else if token.starts_with("phx_") {
        "a personal api key (phx_) cannot be used for capture"
    } else {
        return Ok(token.to_string());
    };
    Err(Error::InvalidToken { reason })
}

/// The token of a payload: the batch's wins, else every event's (its own or `properties.token`) must agree.
pub fn extract_token(payload: &Payload) -> Result<String> {
    if let Some(token) = &payload.token {
        return validate_token(token);
    }
    let mut found: Option<&str> = None;
    for event in &payload.events {
        let token = event
            .token
            .as_deref()
            .or_else(|| event.properties.get("token").and_then(Value::as_str));
        match (found, token) {
            (_, None) => {}
            (None, Some(t)) => found = Some(t),
            (Some(a), Some(b)) if a == b => {}
            (Some(_), Some(_)) => return Err(Error::MultipleTokens),
        }
    }
    validate_token(found.ok_or(Error::NoToken)?)
}

/// The distinct_id of an event: root, else `properties.distinct_id`; stringified, NUL replaced, cut to 200 chars.
pub fn extract_distinct_id(event: &RawEvent, index: usize, path: &str) -> Result<String> {
    let missing = || Error::MissingDistinctId {
        index,
        path: path.to_string(),
    };
    let value = match &event.distinct_id {
        Some(v) if !v.is_null() => Some(v),
        _ => event.properties.get("distinct_id").filter(|v| !v.is_null()),
    };
    let text = match value {
        None => return Err(missing()),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    if text.trim().is_empty() {
        return Err(missing());
    }
    // Most ids are short and clean: no second and third copy for them.
    if text.len() <= MAX_DISTINCT_ID_CHARS && !text.contains('\0') {
        return Ok(text);
    }
    Ok(text
        .replace('\0', "\u{FFFD}")
        .chars()
        .take(MAX_DISTINCT_ID_CHARS)
        .collect())
}

/// A UUIDv7 for `ms` since the epoch with the given random bits.
pub fn uuid_v7(ms: i64, random: [u8; 10]) -> uuid::Uuid {
    let ms = u64::try_from(ms.max(0)).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random);
    bytes[6] = (bytes[6] & 0x0F) | 0x70;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    uuid::Uuid::from_bytes(bytes)
}

/// Builds every message of a payload, or rejects the whole payload on the first bad event.
pub fn build(
    payload: &Payload,
    decoded: &Decoded,
    context: &CaptureContext<'_>,
    random: &mut dyn FnMut() -> [u8; 10],
) -> Result<Vec<OutgoingMessage>> {
    if payload.events.is_empty() {
        return Err(Error::EmptyBatch);
    }
    let events: Vec<(usize, &RawEvent)> = payload
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.event != "$performance_event")
        .collect();
    if events.is_empty() {
        return Err(Error::EmptyPayloadFiltered);
    }
    let token = extract_token(payload)?;

    // sent_at: the batch's (kept with the client's offset), else the `_` parameter.
    let sent_at_fixed = match &payload.sent_at {
        Some(text) => Some(
            timestamp::parse_with_offset(text)
                .ok_or_else(|| Error::parsing("sent_at", format!("invalid sent_at {text:?}")))?,
        ),
        None => decoded
            .sent_at_ms
            .and_then(DateTime::from_timestamp_millis)
            .map(|d| d.fixed_offset()),
    };
    let sent_at_utc = sent_at_fixed.map(|d| d.with_timezone(&Utc));
    // `now` as PostHog's capture writes its receive time: RFC 3339, `Z`, no trailing zeros.
    let now_text = timestamp::format_sent_at(&context.now.fixed_offset());

    let mut out = Vec::with_capacity(events.len());
    for (index, event) in events {
        // The event's place in the payload, for errors only (not formatted per event).
        let path = || Error::event_path(payload.shape, index);
        if event.event.is_empty() {
            return Err(Error::MissingEventName {
                index,
                path: path(),
            });
        }
        let distinct_id = extract_distinct_id(event, index, "").map_err(|e| match e {
            Error::MissingDistinctId { index, .. } => Error::MissingDistinctId {
                index,
                path: path(),
            },
            other => other,
        })?;
        let is_cookieless_mode = match event.properties.get("$cookieless_mode") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                return Err(Error::InvalidCookielessMode {
                    index,
                    path: path(),
                });
            }
        };
        let capture_internal = event
            .properties
            .get("capture_internal")
            .is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)));
        let ip = if capture_internal {
            "127.0.0.1".to_string()
        } else {
            context.client_ip.to_string()
        };
        let ignore_sent_at = event.properties.get("$ignore_sent_at") == Some(&Value::Bool(true));
        let computed = timestamp::compute(&timestamp::TimestampInputs {
            timestamp: event.timestamp.as_deref(),
            offset: event.offset,
            sent_at: sent_at_utc,
            ignore_sent_at,
            now: context.now,
        });
        // A generated uuid takes its time from what the client sent (the event's own timestamp,
        // else the batch's sent_at), not from the receive time, so that a retried request whose
        // random bits the caller derives from its bytes gets the same uuids (see capture-server).
        let uuid_ms = event
            .timestamp
            .as_deref()
            .and_then(timestamp::parse)
            .or(sent_at_utc)
            .unwrap_or(context.now)
            .timestamp_millis();
        let uuid = event.uuid.unwrap_or_else(|| uuid_v7(uuid_ms, random()));
        let topic = if event.event == "$exception" {
            Topic::Exceptions
        } else if payload.historical_migration {
            Topic::Historical
        } else {
            Topic::Main
        };
        let session_id = event
            .properties
            .get("$session_id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let captured = CapturedEvent {
            uuid: uuid.hyphenated().to_string(),
            distinct_id,
            ip,
            data: event.to_data_json(),
            now: now_text.clone(),
            sent_at: sent_at_fixed.as_ref().map(timestamp::format_sent_at),
            token: token.clone(),
            event: event.event.clone(),
            timestamp: timestamp::format_rfc3339(&computed),
            is_cookieless_mode,
            historical_migration: payload.historical_migration,
        };
        let key = if is_cookieless_mode {
            format!("{}:{}", captured.token, captured.ip)
        } else {
            format!("{}:{}", captured.token, captured.distinct_id)
        };
        let mut headers = vec![
            ("token", captured.token.clone()),
            ("distinct_id", captured.distinct_id.clone()),
        ];
        if let Some(session_id) = session_id {
            headers.push(("session_id", session_id));
        }
        headers.push(("timestamp", computed.timestamp_millis().to_string()));
        headers.push(("event", captured.event.clone()));
        headers.push(("uuid", captured.uuid.clone()));
        headers.push(("now", captured.now.clone()));
        if captured.historical_migration {
            headers.push(("historical_migration", "true".to_string()));
        }
        let value = serde_json::to_string(&captured).map_err(|e| Error::RequestParsing {
            field: None,
            message: format!("event cannot be serialised: {e}"),
        })?;
        out.push(OutgoingMessage {
            topic,
            key,
            value,
            headers,
            event: captured,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Compression, Endpoint};
    use crate::shape::parse;

    fn decoded(text: &str) -> Decoded {
        Decoded {
            text: text.to_string(),
            compression: Compression::None,
            lib_version: None,
            sent_at_ms: None,
            beacon: false,
        }
    }

    fn run(text: &str) -> Result<Vec<OutgoingMessage>> {
        let payload = parse(text, Endpoint::Batch)?;
        let context = CaptureContext {
            now: DateTime::from_timestamp(1_735_819_200, 0).unwrap(),
            client_ip: "10.0.0.1",
        };
        build(&payload, &decoded(text), &context, &mut || [0x5a; 10])
    }

    #[track_caller]
    fn check_err(text: &str, code: &str) {
        assert_eq!(run(text).unwrap_err().code(), code);
    }

    #[test]
    fn token_rules() {
        check_err(
            r#"[{"event":"a","distinct_id":"d"}]"#,
            "ingest_key_required",
        );
        check_err(
            r#"[{"event":"a","distinct_id":"d","token":"a"},{"event":"a","distinct_id":"d","token":"b"}]"#,
            "unroutable_events",
        );
        check_err(
            r#"[{"event":"a","distinct_id":"d","token":"phx_abc"}]"#,
            "ingest_key_invalid",
        );
        check_err(
            r#"[{"event":"a","distinct_id":"d","token":"   "}]"#,
            "ingest_key_required",
        );
        let long = "x".repeat(65);
        check_err(
            &format!(r#"[{{"event":"a","distinct_id":"d","token":"{long}"}}]"#),
            "ingest_key_invalid",
        );
        let m = run(
            r#"{"api_key":" phc_root ","batch":[{"event":"a","distinct_id":"d","token":"other"}]}"#,
        )
        .unwrap();
        assert_eq!(m[0].event.token, "phc_root");
        let m = run(r#"[{"event":"a","properties":{"token":"t","distinct_id":"p"}}]"#).unwrap();
        assert_eq!(
            (m[0].key.as_str(), m[0].event.distinct_id.as_str()),
            ("t:p", "p")
        );
    }

    #[test]
    fn distinct_id_rules() {
        check_err(r#"[{"event":"a","token":"t"}]"#, "missing_distinct_id");
        check_err(
            r#"[{"event":"a","token":"t","distinct_id":"  "}]"#,
            "missing_distinct_id",
        );
        check_err(
            r#"[{"event":"a","token":"t","distinct_id":null}]"#,
            "missing_distinct_id",
        );
        let m = run(r#"[{"event":"a","token":"t","distinct_id":23},{"event":"a","token":"t","distinct_id":{"a":[1]}}]"#).unwrap();
        assert_eq!(m[0].event.distinct_id, "23");
        assert_eq!(m[1].event.distinct_id, r#"{"a":[1]}"#);
        let long = "é".repeat(300);
        let m = run(&format!(
            r#"[{{"event":"a","token":"t","distinct_id":"{long}\u0000"}}]"#
        ))
        .unwrap();
        assert_eq!(m[0].event.distinct_id.chars().count(), 200);
    }

    #[test]
    fn whole_request_rejected_on_one_bad_event() {
        check_err(
            r#"[{"event":"a","token":"t","distinct_id":"d"},{"event":"","token":"t","distinct_id":"d"}]"#,
            "missing_event_name",
        );
        check_err(
            r#"[{"event":"a","token":"t","distinct_id":"d","properties":{"$cookieless_mode":"yes"}}]"#,
            "invalid_cookieless_mode",
        );
        check_err("[]", "empty_batch");
        check_err(
            r#"[{"event":"$performance_event","token":"t","distinct_id":"d"}]"#,
            "empty_payload_filtered",
        );
    }

    #[test]
    fn message_fields_key_and_headers() {
        let m = run(r#"{"api_key":"t","sent_at":"2025-01-02T12:00:10Z","batch":[{"event":"a","distinct_id":"d","timestamp":"2025-01-02T11:00:00Z","properties":{"$session_id":"s1"}}]}"#).unwrap();
        let m = &m[0];
        assert_eq!(m.topic, Topic::Main);
        assert_eq!(m.key, "t:d");
        assert_eq!(m.event.timestamp, "2025-01-02T10:59:50Z");
        assert_eq!(m.event.sent_at.as_deref(), Some("2025-01-02T12:00:10Z"));
        assert_eq!(m.event.now, "2025-01-02T12:00:00Z");
        let uuid = uuid::Uuid::parse_str(&m.event.uuid).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
        // The id's time is the client's timestamp, not the receive time (equal retries, equal ids).
        let ms = u64::from_be_bytes([
            0,
            0,
            uuid.as_bytes()[0],
            uuid.as_bytes()[1],
            uuid.as_bytes()[2],
            uuid.as_bytes()[3],
            uuid.as_bytes()[4],
            uuid.as_bytes()[5],
        ]);
        assert_eq!(ms, 1_735_815_600_000);
        let names: Vec<&str> = m.headers.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "token",
                "distinct_id",
                "session_id",
                "timestamp",
                "event",
                "uuid",
                "now"
            ]
        );
        assert_eq!(m.headers[3].1, "1735815590000");
        let value: Value = serde_json::from_str(&m.value).unwrap();
        let data: Value = serde_json::from_str(value["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["uuid"], Value::Null);
    }

    #[test]
    fn cookieless_and_internal_and_historical() {
        let m = run(r#"{"api_key":"t","historical_migration":true,"batch":[{"event":"a","distinct_id":"d","properties":{"$cookieless_mode":true,"capture_internal":true}}]}"#).unwrap();
        assert_eq!(m[0].key, "t:127.0.0.1");
        assert_eq!(m[0].topic, Topic::Historical);
        assert!(
            m[0].value
                .contains(r#""is_cookieless_mode":true,"historical_migration":true"#)
        );
    }
}
