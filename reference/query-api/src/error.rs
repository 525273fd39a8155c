//! The crate's error type and how each error answers over HTTP (status, stable code, message, span).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

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
    /// ClickHouse answered the query with an error.
    #[error("clickhouse rejected the query: {0}")]
    QueryFailed(String),
    /// ClickHouse could not be reached, or answered something unreadable.
    #[error("clickhouse is unavailable: {0}")]
    ClickHouseUnavailable(String),
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
            Error::QueryFailed(_) => StatusCode::BAD_REQUEST,
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
            Error::QueryFailed(_) => "query_failed",
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
            | Error::QueryFailed(_) => "validation_error",
            _ => "server_error",
        }
    }

    /// The JSON body: `type`, `code`, `detail`, `attr` (as PostHog's API errors), plus `start`/`end`
    /// character offsets into the HogQL text for HogQL errors.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": self.kind(),
            "code": self.code(),
            "detail": self.to_string(),
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
        (self.status(), axum::Json(self.body())).into_response()
    }
}
