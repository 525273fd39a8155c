//! Property test: whatever bytes, encoding hints, content types and paths a client sends, the router
//! answers a 2xx or a 4xx with a JSON error body, never panics and never a 5xx (with a healthy sink);
//! a 4xx never leaves a message behind.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use capture_server::{AppState, MemorySink, app};
use proptest::prelude::*;
use tower::ServiceExt as _;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn path() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "/e/",
        "/i/v0/e",
        "/capture/",
        "/track",
        "/engage/",
        "/batch/",
    ])
}

fn query() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        "?compression=gzip-js",
        "?compression=lz64",
        "?compression=base64&beacon=1",
        "?_=1735819200000&ver=1",
        "?data=e30%3D",
    ])
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
    ])
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let json_like = r#"[\[\]{}":,a-z0-9 $_.-]{0,120}"#.prop_map(String::into_bytes);
    let event = (
        "[a-z$]{0,8}",
        prop::option::of("[a-z0-9 ]{0,8}"),
        prop::option::of("[a-z_]{0,6}"),
    )
        .prop_map(|(event, id, token)| {
            serde_json::json!({"event": event, "distinct_id": id, "token": token})
                .to_string()
                .into_bytes()
        });
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        json_like,
        event.clone(),
        event.prop_map(|b| gzip(&b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn the_router_answers_every_request_with_2xx_or_4xx(
        path in path(), query in query(), content_type in content_type(), body in body(), get in any::<bool>()
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (status, bytes, n_messages) = runtime.block_on(async {
            let sink = Arc::new(MemorySink::default());
            let request = Request::builder()
                .method(if get { "GET" } else { "POST" })
                .uri(format!("{path}{query}"))
                .header("content-type", content_type)
                .body(Body::from(body))
                .unwrap();
            let response = app(AppState::new(sink.clone())).oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, bytes, sink.messages().len())
        });
        prop_assert!(status.is_success() || status.is_client_error(), "{status}");
        if status.is_client_error() {
            prop_assert_eq!(n_messages, 0);
            let error: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert!(error["code"].is_string() && error["error"].is_string(), "{}", error);
        }
    }
}
