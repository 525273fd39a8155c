//! Running a statement on ClickHouse over its HTTP interface, in `JSONCompact`, so the answer carries
//! column names and types next to the rows.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{Error, Result};

/// Where ClickHouse is and how to log in.
#[derive(Clone)]
pub struct ClickHouse {
    /// Base URL of the HTTP interface.
    pub url: String,
    /// Database the queries run in.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password (may be empty).
    pub password: String,
    /// ClickHouse's `max_execution_time` for every query, in seconds; the HTTP deadline is this plus
    /// [`HTTP_GRACE_SECONDS`].
    pub max_execution_seconds: u64,
    agent: ureq::Agent,
}

/// Default `max_execution_time` of a query, in seconds (PostHog's API default).
pub const DEFAULT_MAX_EXECUTION_SECONDS: u64 = 60;
/// How long past `max_execution_time` the HTTP call waits for ClickHouse's own timeout error.
pub const HTTP_GRACE_SECONDS: u64 = 10;

impl std::fmt::Debug for ClickHouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouse")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The rows of one query with their columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// ClickHouse type names, in order.
    pub types: Vec<String>,
    /// Rows, each an array of JSON values.
    pub rows: Vec<Value>,
    /// Wall time of the HTTP round trip, in seconds.
    pub seconds: f64,
}

impl ClickHouse {
    /// A client whose queries stop after [`DEFAULT_MAX_EXECUTION_SECONDS`].
    pub fn new(url: &str, database: &str, user: &str, password: &str) -> ClickHouse {
        ClickHouse::with_timeout(url, database, user, password, DEFAULT_MAX_EXECUTION_SECONDS)
    }

    /// A client whose queries stop after `max_execution_seconds` (ClickHouse's `max_execution_time`),
    /// and whose HTTP calls give up [`HTTP_GRACE_SECONDS`] later.
    pub fn with_timeout(
        url: &str,
        database: &str,
        user: &str,
        password: &str,
        max_execution_seconds: u64,
    ) -> ClickHouse {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(
                max_execution_seconds + HTTP_GRACE_SECONDS,
            )))
            .build()
            .into();
        ClickHouse {
            url: url.trim_end_matches('/').to_owned(),
            database: database.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
            max_execution_seconds,
            agent,
        }
    }

    /// Runs one SELECT (blocking). Integers come back as JSON numbers, DateTimes in ISO 8601.
    pub fn query(&self, sql: &str) -> Result<Output> {
        let started = Instant::now();
        let response = self
            .agent
            .post(format!("{}/", self.url))
            .query("database", &self.database)
            .query("default_format", "JSONCompact")
            .query("output_format_json_quote_64bit_integers", "0")
            .query("output_format_json_quote_denormals", "1")
            .query("date_time_output_format", "iso")
            .query("max_execution_time", self.max_execution_seconds.to_string())
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password)
            .send(sql)
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        let code_header = response
            .headers()
            .get("x-clickhouse-exception-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_string()
            .map_err(|e| self.transport_error(&e))?;
        if status != 200 {
            return Err(answer_error(status, code_header.as_deref(), &body));
        }
        let mut output = parse_json_compact(&body)?;
        output.seconds = started.elapsed().as_secs_f64();
        Ok(output)
    }
}

impl ClickHouse {
    fn transport_error(&self, error: &ureq::Error) -> Error {
        match error {
            ureq::Error::Timeout(_) => Error::QueryTimeout {
                seconds: self.max_execution_seconds,
            },
            ureq::Error::BodyExceedsLimit(_) => Error::ClickHouse {
                kind: crate::clickhouse_errors::lookup(396),
                detail: format!("the answer is over {MAX_ANSWER_BYTES} bytes"),
            },
            other => Error::ClickHouseUnavailable(other.to_string()),
        }
    }
}

/// Largest answer read from ClickHouse (the API's row limit keeps real answers far below it).
pub const MAX_ANSWER_BYTES: u64 = 512 << 20;

/// The error for a non-200 answer: by ClickHouse's error number (header or text), with the text kept
/// for the log only. An answer without a number (a proxy, a crash) is "unavailable".
pub fn answer_error(status: u16, code_header: Option<&str>, body: &str) -> Error {
    match crate::clickhouse_errors::number(code_header, body) {
        Some(number) => Error::ClickHouse {
            kind: crate::clickhouse_errors::lookup(number),
            detail: first_line(body),
        },
        None => Error::ClickHouseUnavailable(format!("http {status}: {}", first_line(body))),
    }
}

/// ClickHouse's error text without its stack trace.
fn first_line(body: &str) -> String {
    body.trim()
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Reads a `JSONCompact` answer: `meta` (name, type per column) and `data` (rows as arrays).
pub fn parse_json_compact(body: &str) -> Result<Output> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| Error::ClickHouseUnavailable(format!("the answer is not JSONCompact: {e}")))?;
    let mut columns = Vec::new();
    let mut types = Vec::new();
    for column in value["meta"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        columns.push(column["name"].as_str().unwrap_or_default().to_owned());
        types.push(column["type"].as_str().unwrap_or_default().to_owned());
    }
    let rows = match value.get("data") {
        Some(Value::Array(rows)) => rows.clone(),
        _ => {
            return Err(Error::ClickHouseUnavailable(
                "the answer has no `data` array".into(),
            ));
        }
    };
    Ok(Output {
        columns,
        types,
        rows,
        seconds: 0.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meta_and_data() {
        let out = parse_json_compact(
            r#"{"meta": [{"name": "a", "type": "UInt8"}, {"name": "b", "type": "String"}], "data": [[1, "x"]], "rows": 1}"#,
        )
        .unwrap();
        assert_eq!(out.columns, ["a", "b"]);
        assert_eq!(out.types, ["UInt8", "String"]);
        assert_eq!(out.rows, [serde_json::json!([1, "x"])]);
        assert!(parse_json_compact("Code: 62. DB::Exception").is_err());
    }

    #[test]
    fn error_answers_never_carry_clickhouse_text() {
        let text = "Code: 6. DB::Exception: Cannot parse string 'secret@other.team' as Int64: syntax error at begin of string. (CANNOT_PARSE_TEXT)";
        for header in [Some("6"), None] {
            let error = answer_error(400, header, text);
            assert_eq!(error.code(), "cannot_parse_text");
            assert_eq!(error.status().as_u16(), 400);
            let body = error.body().to_string();
            assert!(!body.contains("secret"), "{body}");
            assert!(!body.contains("DB::Exception"), "{body}");
            // The log line keeps the detail.
            assert!(error.to_string().contains("secret"));
        }
        let unknown = answer_error(
            500,
            Some("123456"),
            "Code: 123456. DB::Exception: x 'secret'",
        );
        assert_eq!(unknown.code(), "clickhouse_error");
        assert!(!unknown.body().to_string().contains("secret"));
        let proxy = answer_error(502, None, "<html>bad gateway 'secret'</html>");
        assert_eq!(proxy.code(), "clickhouse_unavailable");
        assert!(!proxy.body().to_string().contains("secret"));
    }

    #[test]
    fn error_text_loses_its_trace() {
        assert_eq!(first_line("\nCode: 47. boom\nstack\n"), "Code: 47. boom");
    }
}
