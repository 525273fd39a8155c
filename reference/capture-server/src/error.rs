//! The one error type of the HTTP layer; it renders PostHog's status codes and a JSON body
//! `{"status", "code", "error", "field"?}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::sink::SinkError;

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the capture server (startup and requests).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request was rejected by decoding or validation.
    #[error(transparent)]
    Capture(#[from] event_model::Error),
    /// The body exceeds the endpoint's limit.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The body did not arrive in time.
    #[error("request body was not received within {seconds:.1} s")]
    BodyReadTimeout { seconds: f64 },
    /// The body could not be read.
    #[error("failed to read request body: {0}")]
    BodyRead(String),
    /// The sink failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// A configuration problem at startup (missing variable, bad address).
    #[error("configuration: {0}")]
    Config(String),
    /// Binding or serving failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// The name handlers use for the error they return.
pub type AppError = Error;

impl Error {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Capture(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyReadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::BodyRead(_) => StatusCode::BAD_REQUEST,
            Error::Sink(SinkError::MessageTooLarge(_)) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Sink(SinkError::Retryable(_)) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Sink(SinkError::Fatal(_)) | Error::Config(_) | Error::Io(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The stable code in the body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Capture(e) => e.code(),
            Error::BodyTooLarge { .. } => "payload_too_large",
            Error::BodyReadTimeout { .. } => "body_read_timeout",
            Error::BodyRead(_) => "request_decoding_error",
            Error::Sink(SinkError::MessageTooLarge(_)) => "payload_too_large",
            Error::Sink(SinkError::Retryable(_)) => "service_unavailable",
            Error::Sink(SinkError::Fatal(_)) | Error::Config(_) | Error::Io(_) => "internal_error",
        }
    }

    fn client_message(&self) -> String {
        match self {
            // Internal detail is logged, not sent.
            Error::Sink(SinkError::Retryable(_)) => "service unavailable, retry later".to_string(),
            Error::Sink(SinkError::Fatal(_)) | Error::Config(_) | Error::Io(_) => {
                "internal error".to_string()
            }
            other => other.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut body = serde_json::json!({
            "status": status.as_u16(),
            "code": self.code(),
            "error": self.client_message(),
        });
        if let Error::Capture(e) = &self
            && let Some(field) = e.field()
        {
            body["field"] = serde_json::Value::String(field);
        }
        let mut response = (status, axum::Json(body)).into_response();
        // Carried to the logging middleware, which logs internal detail once.
        response
            .extensions_mut()
            .insert(LoggedError(self.to_string()));
        response
    }
}

/// The full error text, attached to error responses for the log line.
#[derive(Debug, Clone)]
pub(crate) struct LoggedError(pub(crate) String);
