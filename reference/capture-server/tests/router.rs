//! Router behaviour that does not fit a corpus file: body and decompression limits, sink failures
//! mapped to 503/413/500 with nothing acknowledged, and the metrics exposition.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use capture_server::{AppState, Limits, MemorySink, SinkError, app};
use serde_json::Value;
use tower::ServiceExt as _;

const BATCH: &str = r#"{"api_key":"phc_t","batch":[{"event":"a","distinct_id":"d"}]}"#;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn send(state: AppState, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A batch body of at least `size` bytes (one event with a padded property).
fn batch_of_size(size: usize) -> Vec<u8> {
    format!(
        r#"{{"api_key":"phc_t","batch":[{{"event":"a","distinct_id":"d","properties":{{"pad":"{}"}}}}]}}"#,
        "x".repeat(size)
    )
    .into_bytes()
}

#[tokio::test]
async fn event_paths_reject_bodies_over_2_mib_and_batch_accepts_them() {
    let sink = Arc::new(MemorySink::default());
    let body = batch_of_size(2 * 1024 * 1024 + 1);
    let (status, error) = send(AppState::new(sink.clone()), "/e/", body.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error["code"], "payload_too_large");
    let (status, _) = send(AppState::new(sink.clone()), "/batch/", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn batch_rejects_bodies_over_20_mib() {
    let sink = Arc::new(MemorySink::default());
    let (status, error) = send(
        AppState::new(sink.clone()),
        "/batch",
        batch_of_size(20 * 1024 * 1024 + 1),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn a_small_gzip_body_over_the_decompressed_limit_is_413() {
    let sink = Arc::new(MemorySink::default());
    let mut state = AppState::new(sink.clone());
    state.limits = Limits {
        decompressed: 1024 * 1024,
        ..Limits::default()
    };
    let body = gzip(&batch_of_size(2 * 1024 * 1024));
    assert!(body.len() < 64 * 1024, "the bomb is small on the wire");
    let (status, error) = send(state, "/e/", body).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn sink_failures_map_to_statuses_and_hide_detail() {
    for (failure, status, code) in [
        (
            SinkError::Retryable("broker down at 10.1.2.3".into()),
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        ),
        (
            SinkError::MessageTooLarge("1.2 MB".into()),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            SinkError::Fatal("topic missing".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
        ),
    ] {
        let sink = Arc::new(MemorySink::default());
        sink.fail_with(Some(failure));
        let (got, body) = send(AppState::new(sink.clone()), "/batch/", BATCH.into()).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)));
        assert!(
            !body["error"].as_str().unwrap_or("").contains("10.1.2.3"),
            "{body}"
        );
        assert!(sink.messages().is_empty());
    }
}

#[tokio::test]
async fn metrics_count_accepted_events_and_rejections_by_code() {
    let sink = Arc::new(MemorySink::default());
    let state = AppState::new(sink);
    let two = r#"[{"event":"a","distinct_id":"d","token":"t"},{"event":"b","distinct_id":"d","token":"t"}]"#;
    assert_eq!(
        send(state.clone(), "/e/", two.into()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(state.clone(), "/e/", b"{".to_vec()).await.0,
        StatusCode::BAD_REQUEST
    );
    let response = app(state)
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = String::from_utf8(
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains("capture_requests_ok_total 1\n"), "{text}");
    assert!(text.contains("capture_events_ingested_total 2\n"), "{text}");
    assert!(
        text.contains("capture_requests_rejected_total{code=\"request_parsing_error\"} 1\n"),
        "{text}"
    );
}

/// A body that never delivers a byte.
struct Stalled;

impl axum::body::HttpBody for Stalled {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

#[tokio::test]
async fn a_stalled_body_answers_408() {
    let sink = Arc::new(MemorySink::default());
    let mut state = AppState::new(sink.clone());
    state.limits.body_read_timeout = std::time::Duration::from_millis(100);
    let request = Request::post("/batch/").body(Body::new(Stalled)).unwrap();
    let response = app(state).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let error: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(error["code"], "body_read_timeout");
    assert!(sink.messages().is_empty());
}

/// The uuids of the messages a sink received, in order.
fn uuids(sink: &MemorySink) -> Vec<String> {
    sink.messages()
        .iter()
        .map(|m| m.event.uuid.clone())
        .collect()
}

#[tokio::test]
async fn a_retried_request_repeats_its_generated_uuids() {
    // A batch that failed half way (503) is sent again byte for byte: its events without a uuid get
    // the same uuids as the first time, so ClickHouse collapses the copies; client uuids are kept.
    let body = r#"{"api_key":"phc_t","sent_at":"2025-01-02T12:00:00Z","batch":[
        {"event":"a","distinct_id":"d","timestamp":"2025-01-02T11:00:00Z"},
        {"event":"a","distinct_id":"d","timestamp":"2025-01-02T11:00:00Z"},
        {"event":"b","distinct_id":"d","uuid":"0192f0e6-0000-7000-8000-000000000462"},
        {"event":"c","distinct_id":"d"}]}"#;
    let first = Arc::new(MemorySink::default());
    let second = Arc::new(MemorySink::default());
    let mut later = AppState::new(second.clone());
    // The retry arrives later: the receive time is not part of the ids.
    later.clock = Arc::new(|| chrono::Utc::now() + chrono::Duration::minutes(5));
    let (status, _) = send(AppState::new(first.clone()), "/batch/", body.into()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(later, "/batch/", body.into()).await;
    assert_eq!(status, StatusCode::OK);
    let (a, b) = (uuids(&first), uuids(&second));
    assert_eq!(a, b);
    assert_eq!(a[2], "0192f0e6-0000-7000-8000-000000000462");
    // Events of one request never share an id, even when identical.
    assert_ne!(a[0], a[1]);
    for uuid in &a {
        assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 7);
    }

    // Another body (one byte differs) gets other ids.
    let other = Arc::new(MemorySink::default());
    let (status, _) = send(
        AppState::new(other.clone()),
        "/batch/",
        body.replace("\"c\"", "\"C\"").into(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(uuids(&other)[0], a[0]);
}
