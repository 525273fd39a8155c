//! The query API's answers that need no service: body limits (413 JSON, also for a huge declared
//! `Content-Length`), the JSON error shape of refusals, and a property test that no request body makes
//! the request path panic (parse and compile, as the handler runs them). The router gets a lazy
//! PostgreSQL pool that is never reached: these requests are refused before authentication.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt as _;

fn state(limits: query_api::Limits) -> query_api::AppState {
    query_api::AppState {
        pool: sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(200))
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .expect("a lazy pool"),
        clickhouse: Arc::new(query_api::ClickHouse::new(
            "http://127.0.0.1:1",
            "none",
            "default",
            "",
        )),
        cache: None,
        metrics: Arc::new(query_api::Metrics::default()),
        limits: Arc::new(limits),
        fixed_now: None,
    }
}

#[track_caller]
fn check(response: (StatusCode, Option<String>, Value), status: StatusCode, code: &str) {
    let (got, content_type, body) = response;
    assert_eq!(got, status, "{body}");
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "every refusal is JSON"
    );
    assert_eq!(body["code"], code, "{body}");
}

async fn send(
    state: &query_api::AppState,
    request: Request<Body>,
) -> (StatusCode, Option<String>, Value) {
    let response = query_api::app(state.clone())
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, content_type, body)
}

fn post() -> axum::http::request::Builder {
    Request::post("/api/projects/1/query").header("content-type", "application/json")
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_json() {
    let state = state(query_api::Limits::new(1000, 3, Duration::from_secs(5)));
    let big = format!(
        r#"{{"query": {{"kind": "HogQLQuery", "query": "select '{}'"}}}}"#,
        "x".repeat(2000)
    );
    // Declared by Content-Length.
    let request = post()
        .header("content-length", big.len().to_string())
        .body(Body::from(big.clone()))
        .unwrap();
    check(
        send(&state, request).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
    // Streamed without a length.
    let request = post().body(chunked(big.into_bytes())).unwrap();
    check(
        send(&state, request).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
    );
}

#[tokio::test]
async fn a_ten_gigabyte_content_length_is_413_not_400() {
    let state = state(query_api::Limits::default());
    for declared in ["10000000000", "99999999999999999999999999"] {
        let request = post()
            .header("content-length", declared)
            .body(Body::from("{}"))
            .unwrap();
        check(
            send(&state, request).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        );
    }
}

#[tokio::test]
async fn refusals_before_authentication_are_json() {
    let state = state(query_api::Limits::default());
    let request = post()
        .body(Body::from(
            r#"{"query": {"kind": "HogQLQuery", "query": "select 1"}}"#,
        ))
        .unwrap();
    check(
        send(&state, request).await,
        StatusCode::UNAUTHORIZED,
        "not_authenticated",
    );
    // PostgreSQL is down: 503 without its error text.
    let request = post()
        .header("authorization", "Bearer phx_x")
        .body(Body::from(
            r#"{"query": {"kind": "HogQLQuery", "query": "select 1"}}"#,
        ))
        .unwrap();
    let response = send(&state, request).await;
    assert!(
        !response.2.to_string().contains("127.0.0.1"),
        "{}",
        response.2
    );
    check(
        response,
        StatusCode::SERVICE_UNAVAILABLE,
        "postgres_unavailable",
    );
}

/// A body as 100-byte chunks, with no known length.
fn chunked(bytes: Vec<u8>) -> Body {
    let chunks: Vec<axum::body::Bytes> = bytes
        .chunks(100)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    Body::new(Chunks(chunks.into_iter()))
}

struct Chunks(std::vec::IntoIter<axum::body::Bytes>);

impl http_body::Body for Chunks {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.next().map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// A request body: mostly well-formed query requests with random HogQL, sometimes random JSON or bytes.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let hogql = prop_oneof![
        "[a-z0-9_ ,.()'*+<>=!|{}\\[\\]-]{0,80}",
        Just("select 1".to_owned()),
        "select [a-z_.]{1,20} from (events|persons|groups|sessions) where [a-z_.]{1,12} = '[a-z]{0,5}'",
        "select (\\(|1|\\+|\\)){0,200}",
    ];
    let value = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
        "[a-z{}']{0,8}".prop_map(Value::from),
    ];
    prop_oneof![
        6 => (hogql, proptest::collection::btree_map("[a-z]{1,3}", value, 0..3)).prop_map(|(q, values)| {
            serde_json::json!({"query": {"kind": "HogQLQuery", "query": q, "values": values}})
                .to_string()
                .into_bytes()
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => "\\{\"query\": \\{\"kind\": \"HogQLQuery\", \"query\": [a-z0-9\"{}\\[\\],: ]{0,40}\\}\\}".prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Whatever the body, the request path answers: a compiled query or an error with a stable code
    /// and a 4xx status (5xx would be the server's fault), and its JSON body renders.
    #[test]
    fn no_body_panics_the_request_path(body in body()) {
        match query_api::prepare_body(&body, 7, "UTC") {
            Ok(prepared) => prop_assert!(prepared.sql.contains("7")),
            Err(e) => {
                prop_assert!(e.status().is_client_error(), "{} {}", e.code(), e);
                prop_assert!(!e.code().is_empty());
                let _ = e.body().to_string();
            }
        }
    }
}
