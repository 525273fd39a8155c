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
    agent: ureq::Agent,
}

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
    /// A client with a 120 s timeout per query.
    pub fn new(url: &str, database: &str, user: &str, password: &str) -> ClickHouse {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        ClickHouse {
            url: url.trim_end_matches('/').to_owned(),
            database: database.to_owned(),
            user: user.to_owned(),
            password: password.to_owned(),
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
            .header("X-ClickHouse-User", &self.user)
            .header("X-ClickHouse-Key", &self.password)
            .send(sql)
            .map_err(|e| Error::ClickHouseUnavailable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .read_to_string()
            .map_err(|e| Error::ClickHouseUnavailable(format!("reading the answer: {e}")))?;
        if status != 200 {
            return Err(if status >= 500 && !body.contains("Code:") {
                Error::ClickHouseUnavailable(format!("http {status}: {}", body.trim()))
            } else {
                Error::QueryFailed(first_line(&body))
            });
        }
        let mut output = parse_json_compact(&body)?;
        output.seconds = started.elapsed().as_secs_f64();
        Ok(output)
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
    fn error_text_loses_its_trace() {
        assert_eq!(first_line("\nCode: 47. boom\nstack\n"), "Code: 47. boom");
    }
}
