//! The one error type of the crate: every rejection has a stable code, an HTTP status and, when known, the field.

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a capture request was rejected. One bad event rejects the whole request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither a non-empty `data` parameter nor a body.
    #[error("request holds no payload (no data parameter and an empty body)")]
    EmptyPayload,
    /// The bytes could not be decoded (gzip, lz64, base64, form or UTF-8).
    #[error("failed to decode request: {message}")]
    RequestDecoding { message: String },
    /// The decoded text is not JSON of an accepted shape, or a field has the wrong type.
    #[error("failed to parse request: {message}")]
    RequestParsing {
        field: Option<String>,
        message: String,
    },
    /// An object without `event` outside the engage endpoint.
    #[error("failed to hydrate events from request: {message}")]
    RequestHydration { message: String },
    /// A batch or array with no events.
    #[error("request holds no events")]
    EmptyBatch,
    /// Every event was filtered out (`$performance_event`).
    #[error("request holds no events after filtering")]
    EmptyPayloadFiltered,
    /// An event whose name is empty.
    #[error("event at index {index} has an empty event name")]
    MissingEventName { index: usize, path: String },
    /// An event without a usable distinct_id.
    #[error("event at index {index} has no distinct_id")]
    MissingDistinctId { index: usize, path: String },
    /// `properties.$cookieless_mode` is present and not a boolean.
    #[error("event at index {index} has a $cookieless_mode that is not a boolean")]
    InvalidCookielessMode { index: usize, path: String },
    /// No token anywhere in the request.
    #[error("no api token found in the request")]
    NoToken,
    /// Events of one request carry different tokens.
    #[error("request holds events for several api tokens")]
    MultipleTokens,
    /// The token fails the shape check.
    #[error("api token is invalid: {reason}")]
    InvalidToken { reason: &'static str },
    /// A size limit was exceeded.
    #[error("payload too large: {what} exceeds {limit} bytes")]
    PayloadTooLarge { what: &'static str, limit: usize },
}

impl Error {
    /// The stable snake_case code sent to clients in the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::EmptyPayload => "empty_payload",
            Error::RequestDecoding { .. } => "request_decoding_error",
            Error::RequestParsing { .. } => "request_parsing_error",
            Error::RequestHydration { .. } => "request_hydration_error",
            Error::EmptyBatch => "empty_batch",
            Error::EmptyPayloadFiltered => "empty_payload_filtered",
            Error::MissingEventName { .. } => "missing_event_name",
            Error::MissingDistinctId { .. } => "missing_distinct_id",
            Error::InvalidCookielessMode { .. } => "invalid_cookieless_mode",
            Error::NoToken => "ingest_key_required",
            Error::MultipleTokens => "unroutable_events",
            Error::InvalidToken { .. } => "ingest_key_invalid",
            Error::PayloadTooLarge { .. } => "payload_too_large",
        }
    }

    /// The HTTP status PostHog's v0 capture answers with.
    pub fn status(&self) -> u16 {
        match self {
            Error::NoToken => 401,
            Error::InvalidToken { .. } => 401,
            Error::PayloadTooLarge { .. } => 413,
            _ => 400,
        }
    }

    /// The offending field as a path (`batch[2].event`), when one is known.
    pub fn field(&self) -> Option<String> {
        match self {
            Error::RequestParsing { field, .. } => field.clone(),
            Error::MissingEventName { path, .. } => Some(join_path(path, "event")),
            Error::MissingDistinctId { path, .. } => Some(join_path(path, "distinct_id")),
            Error::InvalidCookielessMode { path, .. } => {
                Some(join_path(path, "properties.$cookieless_mode"))
            }
            Error::NoToken | Error::MultipleTokens | Error::InvalidToken { .. } => {
                Some("token".to_string())
            }
            _ => None,
        }
    }

    /// The path of event `index` in a payload of `shape`: `batch[i]`, `[i]`, or empty for a single object.
    pub(crate) fn event_path(shape: crate::shape::Shape, index: usize) -> String {
        match shape {
            crate::shape::Shape::Batch => format!("batch[{index}]"),
            crate::shape::Shape::Array => format!("[{index}]"),
            crate::shape::Shape::Single | crate::shape::Shape::Engage => String::new(),
        }
    }

    pub(crate) fn decoding(message: impl Into<String>) -> Error {
        Error::RequestDecoding {
            message: message.into(),
        }
    }

    pub(crate) fn parsing(field: impl Into<String>, message: impl Into<String>) -> Error {
        Error::RequestParsing {
            field: Some(field.into()),
            message: message.into(),
        }
    }
}

fn join_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}
