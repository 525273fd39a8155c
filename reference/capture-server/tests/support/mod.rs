//! Shared by the corpus runner and the service-backed tests: the fixture case format under
//! `fixtures/capture/`, turning a case into request bytes, and the one normalisation of volatile fields.
//!
//! # Case format (one JSON file per case)
//! ```json
//! { "description": "…",
//!   "request": { "method": "POST", "path": "/batch/", "query": "a=b",
//!                "headers": { "content-type": "application/json" },
//!                "body_json": {…} | "body_text": "…" | "body_base64": "…",
//!                "encode": ["gzip", "base64", "lz64", "form", "form-raw", "query"] },
//!   "response": { "status": 200, "body": {…} | null, "headers": { "name": "value" } },
//!   "messages": [ { "topic": "events_plugin_ingestion", "key": "…", "headers": {…}, "value": {…} } ] }
//! ```
//! `encode` steps apply in order to the body bytes: `gzip`; `base64` (standard, padded); `lz64`
//! (LZ-string `compressToBase64`); `form` (`data=<percent-encoded>`); `form-raw` (`data=<bytes as is>`,
//! so `+` reads back as a space); `query` (move the bytes into the query's `data=` and send no body).
//! `response.headers` is a subset check. Cases run with the clock at [`NOW`] and a client without
//! `X-Forwarded-For` is `127.0.0.1`.
//!
//! # Normalisation (volatile fields)
//! In each message: `value.data` (a JSON string) is parsed into JSON; `value.now` and header `now`
//! become `"<now>"`; a `value.timestamp` equal to `now` becomes `"<now>"` and header `timestamp` equal
//! to now in ms becomes `"<now-ms>"`; when the client sent no uuid (`data.uuid` is null), the outer
//! `uuid` and header `uuid` must be a UUIDv7 and become `"<uuid-v7>"`.

#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};

pub use conformance::http::WireRequest;
use serde_json::{Map, Value, json};

/// The receive time every corpus case runs with.
pub const NOW: &str = "2025-01-02T12:00:00Z";

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("NOW parses")
        .with_timezone(&chrono::Utc)
}

pub fn fixtures_dir() -> PathBuf {
    conformance::paths::fixtures_dir().join("capture")
}

/// A capture state for the corpus: `sink`, the clock at [`NOW`] and a counter as the random source
/// (so generated uuids are the same on every run).
pub fn corpus_state(sink: std::sync::Arc<dyn capture_server::Sink>) -> capture_server::AppState {
    let counter = std::sync::atomic::AtomicU64::new(1);
    let mut state = capture_server::AppState::new(sink);
    state.clock = std::sync::Arc::new(now);
    state.random = std::sync::Arc::new(move || {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut bytes = [0u8; 10];
        bytes[2..].copy_from_slice(&n.to_be_bytes());
        bytes
    });
    state
}

/// Every case file, sorted.
pub fn case_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures_dir(), &mut out);
    out.sort();
    out
}

/// A case's name: its path below `fixtures/capture` without `.json`.
pub fn case_name(path: &Path) -> String {
    path.strip_prefix(fixtures_dir())
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace('\\', "/")
}

/// The request of a case, as bytes on the wire (the conformance suite's reader of the format).
pub fn wire_request(case: &Value) -> anyhow::Result<WireRequest> {
    conformance::http::corpus_request(&case["request"])
}

/// One produced message in the normalised fixture form.
pub fn normalise_message(
    topic: &str,
    key: &str,
    headers: &[(String, String)],
    value: &str,
) -> Value {
    let mut value: Value = serde_json::from_str(value).unwrap_or(Value::String(value.to_string()));
    let now_text = value["now"].as_str().unwrap_or("").to_string();
    let now_ms = chrono::DateTime::parse_from_rfc3339(&now_text)
        .map(|d| d.timestamp_millis().to_string())
        .unwrap_or_default();
    let mut generated_uuid = false;
    if let Some(object) = value.as_object_mut() {
        if let Some(Value::String(data)) = object.get("data") {
            let parsed: Value = serde_json::from_str(data).unwrap_or(Value::String(data.clone()));
            generated_uuid = parsed.get("uuid") == Some(&Value::Null);
            object.insert("data".into(), parsed);
        }
        if object.contains_key("now") {
            object.insert("now".into(), json!("<now>"));
        }
        // The same instant, however many digits of its fraction each one writes.
        let instant = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
        let timestamp_is_now = object
            .get("timestamp")
            .and_then(Value::as_str)
            .and_then(instant)
            .is_some_and(|t| Some(t) == instant(&now_text));
        if timestamp_is_now {
            object.insert("timestamp".into(), json!("<now>"));
        }
        if generated_uuid {
            let uuid = object.get("uuid").and_then(Value::as_str).unwrap_or("");
            let v7 = uuid::Uuid::parse_str(uuid).is_ok_and(|u| u.get_version_num() == 7);
            object.insert(
                "uuid".into(),
                json!(if v7 {
                    "<uuid-v7>"
                } else {
                    "<generated uuid is not v7>"
                }),
            );
        }
    }
    let mut header_map = Map::new();
    for (name, v) in headers {
        let v = match name.as_str() {
            "now" => "<now>".to_string(),
            "timestamp" if *v == now_ms => "<now-ms>".to_string(),
            "uuid" if generated_uuid => "<uuid-v7>".to_string(),
            _ => v.clone(),
        };
        header_map.insert(name.clone(), Value::String(v));
    }
    json!({"topic": topic, "key": key, "headers": header_map, "value": value})
}

/// Compares and explains: `Ok` or a message with both sides pretty-printed.
pub fn compare(what: &str, expected: &Value, actual: &Value) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "{what} differs\n--- expected\n{}\n--- actual\n{}",
        serde_json::to_string_pretty(expected).unwrap_or_default(),
        serde_json::to_string_pretty(actual).unwrap_or_default()
    ))
}
