//! The crate's error type and how each error answers over HTTP (status, stable code, message, span).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::clickhouse_errors::ClickHouseError;

/// Everything that can go wrong while answering a query request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `Authorization: Bearer …` header.
    #[error(
        "authentication credentials were not provided (send `Authorization: Bearer <personal API key>`)"
    )]
    NotAuthenticated,
    /// The key is unknown.
    #[error("the API key in the Authorization header is not valid")]
    InvalidKey,
    /// The key is valid but belongs to another team.
    #[error("this API key cannot access team {team_id}")]
    Forbidden {
        /// The team the request asked for.
        team_id: i64,
    },
    /// The path's team id is not an integer.
    #[error("invalid team id `{0}` in the path")]
    InvalidTeamId(String),
    /// The body is not a valid query request.
    #[error("{0}")]
    BadRequest(String),
    /// A HogQL error (syntax, resolution, unsupported construct), with character offsets.
    #[error("{message}")]
    HogQL {
        /// The stable code, e.g. `syntax_error`.
        code: &'static str,
        /// What is wrong.
        message: String,
        /// Character offset where the problem starts.
        start: Option<usize>,
        /// Character offset where it ends.
        end: Option<usize>,
    },
    /// ClickHouse answered the query with an error. Its text (`detail`) may hold values of rows of
    /// other teams: it is logged, never sent; the client gets `kind`'s fixed message.
    #[error("clickhouse error {}: {detail}", kind.number)]
    ClickHouse {
        /// The stable code, status and fixed message of the error's number.
        kind: ClickHouseError,
        /// ClickHouse's text without its stack trace (for the log only).
        detail: String,
    },
    /// ClickHouse could not be reached, or answered something unreadable.
    #[error("clickhouse is unavailable: {0}")]
    ClickHouseUnavailable(String),
    /// ClickHouse did not answer within the deadline.
    #[error("the query did not finish within {seconds} s")]
    QueryTimeout {
        /// The deadline.
        seconds: u64,
    },
    /// The team already runs as many queries as it may at once.
    #[error(
        "too many queries of this team are running at once (limit {limit}); retry when one finished"
    )]
    TooManyConcurrentQueries {
        /// Queries a team may run at once.
        limit: usize,
    },
    /// The body is larger than the limit (or says it is).
    #[error("the request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive within the deadline.
    #[error("the request body was not received within {seconds} s")]
    BodyReadTimeout {
        /// The deadline.
        seconds: u64,
    },
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// A bug or an unexpected failure inside the server.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotAuthenticated | Error::InvalidKey => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::InvalidTeamId(_) | Error::BadRequest(_) | Error::HogQL { .. } => {
                StatusCode::BAD_REQUEST
            }
            Error::ClickHouse { kind, .. } => {
                StatusCode::from_u16(kind.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::QueryTimeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            Error::TooManyConcurrentQueries { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::BodyReadTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Error::ClickHouseUnavailable(_) | Error::Postgres(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable error code of the response body.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotAuthenticated => "not_authenticated",
            Error::InvalidKey => "authentication_failed",
            Error::Forbidden { .. } => "permission_denied",
            Error::InvalidTeamId(_) => "invalid_team_id",
            Error::BadRequest(_) => "invalid_input",
            Error::HogQL { code, .. } => code,
            Error::ClickHouse { kind, .. } => kind.code,
            Error::QueryTimeout { .. } => "query_timeout",
            Error::TooManyConcurrentQueries { .. } => "concurrency_limit_exceeded",
            Error::PayloadTooLarge { .. } => "payload_too_large",
            Error::BodyReadTimeout { .. } => "body_read_timeout",
            Error::ClickHouseUnavailable(_) => "clickhouse_unavailable",
            Error::Postgres(_) => "postgres_unavailable",
            Error::Internal(_) => "internal_error",
        }
    }

    /// PostHog's error `type` family.
    fn kind(&self) -> &'static str {
        match self {
            Error::NotAuthenticated | Error::InvalidKey | Error::Forbidden { .. } => {
                "authentication_error"
            }
            Error::InvalidTeamId(_)
            | Error::BadRequest(_)
            | Error::HogQL { .. }
            | Error::PayloadTooLarge { .. } => "validation_error",
            Error::ClickHouse { kind, .. } if kind.status == 400 => "validation_error",
            Error::TooManyConcurrentQueries { .. } => "throttled_error",
            _ => "server_error",
        }
    }

    /// What the client reads in `detail`. Errors whose text may hold data of any team or internals
    /// (ClickHouse, PostgreSQL, the server itself) answer with fixed text; the full text is logged.
    pub fn client_message(&self) -> String {
        match self {
            Error::ClickHouse { kind, .. } => kind.message.to_owned(),
            Error::ClickHouseUnavailable(_) => "clickhouse is unavailable, retry later".to_owned(),
            Error::Postgres(_) => {
                "the database of teams and keys is unavailable, retry later".to_owned()
            }
            Error::Internal(_) => "internal error".to_owned(),
            other => other.to_string(),
        }
    }

    /// Seconds a client should wait before retrying (`Retry-After`), for errors worth retrying.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::TooManyConcurrentQueries { .. } => Some(1),
            Error::ClickHouse { kind, .. } if kind.status == 429 || kind.status == 503 => Some(5),
            Error::ClickHouseUnavailable(_) | Error::Postgres(_) => Some(5),
            _ => None,
        }
    }

    /// The JSON body: `type`, `code`, `detail`, `attr` (as PostHog's API errors), plus `start`/`end`
    /// character offsets into the HogQL text for HogQL errors.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": self.kind(),
            "code": self.code(),
            "detail": self.client_message(),
            "attr": null,
        });
        if let Error::HogQL { start, end, .. } = self {
            body["start"] = serde_json::json!(start);
            body["end"] = serde_json::json!(end);
        }
        body
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_and_unavailable_answers_say_when_to_retry() {
        let response = Error::TooManyConcurrentQueries { limit: 3 }.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response =
            Error::ClickHouseUnavailable("connection refused 10.0.0.7".into()).into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        assert!(Error::PayloadTooLarge { limit: 1 }.retry_after().is_none());
    }

    #[test]
    fn internal_detail_stays_in_the_log() {
        for error in [
            Error::ClickHouseUnavailable("http 502: 10.0.0.7 'secret'".into()),
            Error::Internal("thread panicked at src/x.rs 'secret'".into()),
            Error::Postgres(sqlx::Error::Protocol("host 10.0.0.7 'secret'".into())),
        ] {
            let body = error.body().to_string();
            assert!(
                !body.contains("secret") && !body.contains("10.0.0.7"),
                "{body}"
            );
            assert!(error.to_string().contains("secret"));
        }
    }
}
