//! PostHog's capture compatibility corpus: SDK requests recorded against PostHog with the events PostHog
//! produced for them (`fixtures/capture/corpus/requests_dump.jsonl`, transcribed from PostHog's
//! `rust/capture/tests/requests_dump.jsonl`; see the README there). One trial per recorded request:
//! it is sent in-process through `app()` with the server clock at the recorded `now` and
//! `X-Forwarded-For` at the recorded ip, and every Kafka message capture produces is checked against
//! the recorded event.
//!
//! Compared exactly: the number and order of messages, `uuid`, `distinct_id`, `ip`, `token`, the
//! message key (`token:distinct_id`) and topic (historical batches go to
//! `events_plugin_ingestion_historical`), and `data` as JSON (the event as the client sent it; the
//! recorded side drops posthog-node's top-level `type`, `library` and `library_version`, which capture
//! does not carry). `sent_at` must be the recorded instant written as PostHog's Rust capture writes it
//! (RFC 3339, `Z`, trailing zeros of the fraction dropped) and absent when the recording has none;
//! `now` must be the recorded receive time in that same format (the recording was made by PostHog's
//! Python capture, which wrote `+00:00` and six digits: only the format of these two differs, never
//! the instant).
//!
//! Not in the recording, so checked against PostHog's rules instead: `event` (the data's event name),
//! `timestamp` (plugin-server's formula: `now + (timestamp - sent_at)` when both are sent, else the
//! client's timestamp, else `now`), `historical_migration`, and the headers (`token`,
//! `distinct_id`, `session_id`, `timestamp` in ms, `event`, `uuid`, `now`). `site_url` is dropped:
//! PostHog's own Rust capture no longer writes it. Nothing here is per run: every recorded event
//! carries its client uuid, and the clock is the recording's.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use capture_server::{AppState, MemorySink, app};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// One recorded request, in PostHog's dump format.
#[derive(Debug, Clone, serde::Deserialize)]
struct Recorded {
    path: String,
    method: String,
    content_encoding: String,
    content_type: String,
    ip: String,
    now: String,
    body: String,
    output: Vec<Value>,
    #[serde(default)]
    historical_migration: bool,
}

fn corpus_path() -> std::path::PathBuf {
    conformance::paths::fixtures_dir().join("capture/corpus/requests_dump.jsonl")
}

fn parse_instant(text: &str) -> Result<DateTime<FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| format!("{text:?} is not RFC 3339: {e}"))
}

/// RFC 3339 in UTC with `Z` and the fraction's trailing zeros dropped, as PostHog's Rust capture
/// prints a time (written out here independently of event-model's formatter).
fn posthog_rfc3339(instant: DateTime<Utc>) -> String {
    let whole = instant.to_rfc3339_opts(SecondsFormat::Secs, true);
    let nanos = instant.timestamp_subsec_nanos();
    if nanos == 0 {
        return whole;
    }
    let digits = format!("{nanos:09}");
    format!(
        "{}.{}Z",
        whole.trim_end_matches('Z'),
        digits.trim_end_matches('0')
    )
}

/// Equality with a message naming the field and both sides.
fn same(what: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "{what}: expected {expected}, capture wrote {actual}"
        ))
    }
}

async fn run(case: &Recorded) -> Result<(), String> {
    let now = parse_instant(&case.now)?.with_timezone(&Utc);
    let sink = Arc::new(MemorySink::default());
    let mut state = AppState::new(sink.clone());
    state.clock = Arc::new(move || now);
    let body = base64::engine::general_purpose::STANDARD
        .decode(&case.body)
        .map_err(|e| format!("body is not base64: {e}"))?;
    let mut request = Request::builder()
        .method(case.method.as_str())
        .uri(&case.path);
    if !case.content_encoding.is_empty() {
        request = request.header("content-encoding", &case.content_encoding);
    }
    if !case.content_type.is_empty() {
        request = request.header("content-type", &case.content_type);
    }
    if !case.ip.is_empty() {
        request = request.header("x-forwarded-for", &case.ip);
    }
    let request = request.body(Body::from(body)).map_err(|e| e.to_string())?;
    let response = app(state)
        .oneshot(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| e.to_string())?;
    let answer: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    if status != 200 || answer != json!({"status": "Ok"}) {
        return Err(format!("rejected: {status} {answer}"));
    }

    let messages = sink.messages();
    if messages.len() != case.output.len() {
        return Err(format!(
            "{} messages produced, PostHog produced {}",
            messages.len(),
            case.output.len()
        ));
    }
    let wanted_topic = if case.historical_migration {
        "events_plugin_ingestion_historical"
    } else {
        "events_plugin_ingestion"
    };
    for (index, (message, recorded)) in messages.iter().zip(&case.output).enumerate() {
        let at = |what: &str| format!("event {index}: {what}");
        if message.topic.base_name() != wanted_topic {
            return Err(at(&format!(
                "topic {} (wanted {wanted_topic})",
                message.topic.base_name()
            )));
        }
        let value: Value = serde_json::from_str(&message.value)
            .map_err(|e| at(&format!("value is not JSON: {e}")))?;

        for field in ["uuid", "distinct_id", "ip", "token"] {
            same(&at(field), &recorded[field], &value[field])?;
        }

        let mut wanted_data: Value = recorded["data"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| at("recorded data is not a JSON string"))?;
        if let Some(object) = wanted_data.as_object_mut() {
            for dropped in ["type", "library", "library_version"] {
                object.remove(dropped);
            }
        }
        let data: Value = value["data"]
            .as_str()
            .and_then(|d| serde_json::from_str(d).ok())
            .ok_or_else(|| at("data is not a JSON string"))?;
        same(&at("data"), &wanted_data, &data)?;

        let recorded_sent_at = recorded["sent_at"].as_str().unwrap_or("");
        let sent_at = if recorded_sent_at.is_empty() {
            None
        } else {
            Some(parse_instant(recorded_sent_at)?.with_timezone(&Utc))
        };
        let wanted_sent_at = sent_at.map_or(Value::Null, |s| Value::String(posthog_rfc3339(s)));
        same(
            &at("sent_at"),
            &wanted_sent_at,
            value.get("sent_at").unwrap_or(&Value::Null),
        )?;
        let recorded_now = recorded["now"]
            .as_str()
            .ok_or_else(|| at("recorded now missing"))?;
        let wanted_now = posthog_rfc3339(parse_instant(recorded_now)?.with_timezone(&Utc));
        same(&at("now"), &json!(wanted_now), &value["now"])?;

        // Fields the recording predates: PostHog's rules.
        same(&at("event"), &data["event"], &value["event"])?;
        let client_timestamp = data["timestamp"]
            .as_str()
            .map(parse_instant)
            .transpose()?
            .map(|t| t.with_timezone(&Utc));
        let wanted_timestamp = match (client_timestamp, sent_at) {
            (Some(timestamp), Some(sent_at)) => now + (timestamp - sent_at),
            (Some(timestamp), None) => timestamp,
            (None, _) => now,
        };
        let timestamp = value["timestamp"]
            .as_str()
            .map(parse_instant)
            .transpose()?
            .map(|t| t.with_timezone(&Utc));
        if timestamp != Some(wanted_timestamp) {
            return Err(at(&format!(
                "timestamp {} (wanted {wanted_timestamp})",
                value["timestamp"]
            )));
        }
        same(
            &at("historical_migration"),
            &json!(case.historical_migration),
            value.get("historical_migration").unwrap_or(&json!(false)),
        )?;
        let known = [
            "uuid",
            "distinct_id",
            "ip",
            "data",
            "now",
            "sent_at",
            "token",
            "event",
            "timestamp",
            "historical_migration",
        ];
        if let Some(extra) = value
            .as_object()
            .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
        {
            return Err(at(&format!("unexpected field {extra:?}")));
        }

        let token = recorded["token"].as_str().unwrap_or("");
        let distinct_id = recorded["distinct_id"].as_str().unwrap_or("");
        same(
            &at("key"),
            &json!(format!("{token}:{distinct_id}")),
            &json!(message.key),
        )?;
        let header = |name: &str| {
            message
                .headers
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(Value::Null, |(_, v)| Value::String(v.clone()))
        };
        same(&at("header token"), &recorded["token"], &header("token"))?;
        same(
            &at("header distinct_id"),
            &recorded["distinct_id"],
            &header("distinct_id"),
        )?;
        same(&at("header uuid"), &recorded["uuid"], &header("uuid"))?;
        same(&at("header event"), &data["event"], &header("event"))?;
        same(&at("header now"), &value["now"], &header("now"))?;
        same(
            &at("header timestamp"),
            &json!(wanted_timestamp.timestamp_millis().to_string()),
            &header("timestamp"),
        )?;
        same(
            &at("header session_id"),
            &data["properties"]["$session_id"],
            &header("session_id"),
        )?;
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let path = corpus_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut section = String::from("start");
    let mut trials = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if let Some(title) = line.strip_prefix('#') {
            section = title
                .trim_start_matches('#')
                .trim()
                .replace([' ', ','], "_")
                .replace("__", "_");
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let name = format!("line_{:03}_{section}", number + 1);
        let case: Result<Recorded, String> =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", number + 1));
        trials.push(Trial::test(name, move || {
            let case = case?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Failed::from(e.to_string()))?;
            runtime.block_on(run(&case)).map_err(Failed::from)
        }));
    }
    assert!(
        trials.len() >= 4,
        "the corpus at {} holds {} requests",
        path.display(),
        trials.len()
    );
    libtest_mimic::run(&args, trials).exit();
}
