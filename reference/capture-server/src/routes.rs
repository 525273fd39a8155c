//! The router: capture endpoints (GET/POST/OPTIONS, with and without a trailing `/`), status routes,
//! PostHog's permissive CORS (mirror the origin and requested headers, allow credentials) and one log
//! line per failed request.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use event_model::{CaptureContext, Endpoint, HttpRequest};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, LoggedError};
use crate::{AppState, Result};

/// The capture router.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(readiness))
        .route("/_readiness", get(readiness))
        .route("/_liveness", get(liveness))
        .route("/metrics", get(metrics));
    for (endpoint, path) in Endpoint::ALL {
        router = router
            .route(path, capture_route(endpoint))
            .route(&format!("{path}/"), capture_route(endpoint));
    }
    router
        .layer(middleware::from_fn(log_errors))
        .layer(middleware::from_fn(cors))
        .with_state(state)
}

fn capture_route(endpoint: Endpoint) -> MethodRouter<AppState> {
    let handler = move |State(state): State<AppState>, request: Request| async move {
        let response = capture(&state, endpoint, request).await;
        if let Err(e) = &response {
            state.metrics.record_error(e.code());
        }
        response
    };
    axum::routing::get(handler)
        .post(handler)
        .options(|| async { ok_body() })
}

/// `{"status":"Ok"}` as JSON, written once rather than serialised per request.
fn ok_body() -> Response {
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        r#"{"status":"Ok"}"#,
    )
        .into_response()
}

async fn readiness() -> &'static str {
    "capture"
}

async fn liveness() -> &'static str {
    "ok"
}

async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The client IP: first `X-Forwarded-For` entry, else the socket address, else loopback.
fn client_ip(request: &Request) -> String {
    if let Some(forwarded) = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        return forwarded.to_string();
    }
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "127.0.0.1".to_string(), |c| c.0.ip().to_string())
}

async fn capture(state: &AppState, endpoint: Endpoint, request: Request) -> Result<Response> {
    let now = (state.clock)();
    let limit = if endpoint == Endpoint::Batch {
        state.limits.batch_body
    } else {
        state.limits.event_body
    };
    let ip = client_ip(&request);
    let (parts, body) = request.into_parts();
    let declared =
        header_str(&parts.headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::BodyTooLarge { limit });
    }
    let timeout = state.limits.body_read_timeout;
    let body = tokio::time::timeout(timeout, read_body(body, limit))
        .await
        .map_err(|_| Error::BodyReadTimeout {
            seconds: timeout.as_secs_f64(),
        })??;
    let http = HttpRequest {
        endpoint,
        query: parts.uri.query().unwrap_or(""),
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        content_encoding: header_str(&parts.headers, header::CONTENT_ENCODING),
        body: &body,
    };
    let limits = event_model::Limits {
        decompressed: state.limits.decompressed,
    };
    let context = CaptureContext {
        now,
        client_ip: &ip,
    };
    let random = state.random.clone();
    let mut stable = state
        .stable_uuids
        .then(|| StableBits::new(parts.uri.path(), http.query, &body));
    let mut bits = || match &mut stable {
        Some(stable) => stable.next(),
        None => random(),
    };
    let captured = event_model::capture(&http, &limits, &context, &mut bits)?;
    let n_events = captured.messages.len();
    state.sink.send(captured.messages).await?;
    state.metrics.record_ok(n_events);
    if captured.beacon {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(ok_body())
}

/// The random bits of generated uuids for one request: SHA-256 of the request's path, query and body,
/// then of that digest and a counter per generated uuid. A retry of the same bytes gets the same bits.
struct StableBits {
    request: [u8; 32],
    n: u64,
}

impl StableBits {
    fn new(path: &str, query: &str, body: &[u8]) -> StableBits {
        let mut hash = Sha256::new();
        for part in [path.as_bytes(), query.as_bytes(), body] {
            hash.update((part.len() as u64).to_le_bytes());
            hash.update(part);
        }
        StableBits {
            request: hash.finalize().into(),
            n: 0,
        }
    }

    fn next(&mut self) -> [u8; 10] {
        let digest = Sha256::new()
            .chain_update(self.request)
            .chain_update(self.n.to_le_bytes())
            .finalize();
        self.n += 1;
        let mut bits = [0u8; 10];
        bits.copy_from_slice(&digest[..10]);
        bits
    }
}

async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes> {
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => Ok(bytes),
        Err(error) => {
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return Err(Error::BodyTooLarge { limit });
                }
                source = e.source();
            }
            Err(Error::BodyRead(error.to_string()))
        }
    }
}

/// PostHog's CORS: any origin is mirrored, credentials allowed, requested headers mirrored.
async fn cors(request: Request, next: Next) -> Response {
    let origin = request.headers().get(header::ORIGIN).cloned();
    let requested_headers = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned();
    let is_options = request.method() == Method::OPTIONS;
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("origin"));
        if is_options {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET,POST,OPTIONS"),
            );
            if let Some(requested) = requested_headers {
                headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
            }
        }
    }
    response
}

/// Logs internal detail of failed requests once; clients only see the stable body.
async fn log_errors(request: Request, next: Next) -> Response {
    // The URI is shared bytes: cloning it copies no text, unlike the path as a `String` per request.
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if let Some(LoggedError(detail)) = response.extensions().get::<LoggedError>()
        && response.status().is_server_error()
    {
        tracing::error!(
            path = uri.path(),
            status = response.status().as_u16(),
            detail = %detail,
            "request failed"
        );
    }
    response
}
