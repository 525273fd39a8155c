//! The golden corpus: one trial per case file under `fixtures/capture/`, sent in-process through
//! `app()` with `oneshot` and an in-memory sink, at a fixed clock. Response status, body, the listed
//! response headers and the (normalised) messages must match the case exactly.
//! `HOGREF_BLESS=1` rewrites each case's `response` and `messages` from the actual output.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use capture_server::{AppState, MemorySink, app};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::{Map, Value, json};
use tower::ServiceExt as _;

/// A state with a memory sink, the corpus clock and a counter as the random source.
fn state(sink: Arc<MemorySink>) -> AppState {
    support::corpus_state(sink)
}

async fn run_case(case: &Value) -> anyhow::Result<Value> {
    let wire = support::wire_request(case)?;
    let mut builder = Request::builder()
        .method(wire.method.as_str())
        .uri(&wire.uri);
    for (name, value) in &wire.headers {
        builder = builder.header(name, value);
    }
    let request = builder.body(Body::from(wire.body))?;
    let sink = Arc::new(MemorySink::default());
    let response = app(state(sink.clone())).oneshot(request).await?;
    let status = response.status().as_u16();
    let wanted_headers: Vec<String> = case["response"]["headers"]
        .as_object()
        .map(|h| h.keys().cloned().collect())
        .unwrap_or_default();
    let mut headers = Map::new();
    for name in wanted_headers {
        let value = response
            .headers()
            .get(&name)
            .and_then(|v| v.to_str().ok())
            .map_or(Value::Null, |v| Value::String(v.to_string()));
        headers.insert(name, value);
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let messages: Vec<Value> = sink
        .messages()
        .iter()
        .map(|m| {
            let headers: Vec<(String, String)> = m
                .headers
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
            support::normalise_message(m.topic.base_name(), &m.key, &headers, &m.value)
        })
        .collect();
    let mut response = json!({"status": status, "body": body});
    if !headers.is_empty() {
        response["headers"] = Value::Object(headers);
    }
    Ok(json!({"response": response, "messages": messages}))
}

fn trial(path: std::path::PathBuf) -> Trial {
    let name = support::case_name(&path);
    Trial::test(name, move || {
        let text = std::fs::read_to_string(&path).map_err(|e| Failed::from(e.to_string()))?;
        let mut case: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let actual = runtime
            .block_on(run_case(&case))
            .map_err(|e| Failed::from(format!("{e:#}")))?;
        if std::env::var_os("HOGREF_BLESS").is_some() {
            case["response"] = actual["response"].clone();
            case["messages"] = actual["messages"].clone();
            let text = serde_json::to_string_pretty(&case).map_err(|e| e.to_string())?;
            std::fs::write(&path, text + "\n").map_err(|e| e.to_string())?;
            return Ok(());
        }
        support::compare("response", &case["response"], &actual["response"])?;
        support::compare(
            "messages",
            case.get("messages").unwrap_or(&json!([])),
            &actual["messages"],
        )?;
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let files = support::case_files();
    assert!(
        !files.is_empty(),
        "no cases under {}",
        support::fixtures_dir().display()
    );
    let trials = files.into_iter().map(trial).collect();
    libtest_mimic::run(&args, trials).exit();
}
