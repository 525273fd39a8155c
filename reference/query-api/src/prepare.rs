//! HogQL to a ClickHouse statement for one team: the request's values converted to
//! placeholder values, then hogql-compiler's [`compile_bound`] (parse, substitute, limits,
//! compile, bind), the same entry point the `hogref hogql compile` CLI uses. Pure (no I/O), on
//! the caller's thread (the compiler bounds or grows every recursion itself).

use hogql_compiler::{PlaceholderValue, compile_bound};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A query ready to run.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The compiled SQL with `%(hogql_val_N)s` placeholders (the response's `clickhouse`).
    pub clickhouse: String,
    /// The same SQL with the values bound as literals (what ClickHouse receives).
    pub sql: String,
    /// The query re-printed as HogQL (the response's `hogql`).
    pub hogql: Option<String>,
    /// `(step, seconds)` for parse, compile and bind.
    pub timings: Vec<(&'static str, f64)>,
}

/// The compiler context the query API compiles with: `team_id`, the project timezone, the
/// request's modifiers, the API limit context and PostHog's global settings.
pub fn context(
    modifiers: &hogql_compiler::Modifiers,
    team_id: i64,
    timezone: &str,
) -> hogql_compiler::Context {
    let mut ctx = hogql_compiler::Context::new(team_id);
    ctx.timezone = timezone.to_owned();
    ctx.modifiers = modifiers.clone();
    ctx.limit_context = hogql_compiler::LimitContext::Api;
    ctx
}

/// Compiles `src` for `team_id` in `timezone` with the request's `{name}` values.
pub fn prepare(
    src: &str,
    values: &Map<String, Value>,
    modifiers: &hogql_compiler::Modifiers,
    team_id: i64,
    timezone: &str,
) -> Result<Prepared> {
    if src.trim().is_empty() {
        return Err(Error::HogQL {
            code: "empty_query",
            message: "the query is empty".into(),
            start: None,
            end: None,
        });
    }
    let placeholders: Vec<(String, PlaceholderValue)> = values
        .iter()
        .map(|(k, v)| (k.clone(), placeholder_value(v)))
        .collect();
    let mut ctx = context(modifiers, team_id, timezone);
    let bound = compile_bound(src, &mut ctx, &placeholders).map_err(|e| {
        let (start, end) = e.char_offsets(src).unzip();
        Error::HogQL {
            code: e.code(),
            message: e.to_string(),
            start,
            end,
        }
    })?;
    Ok(Prepared {
        clickhouse: bound.clickhouse,
        sql: bound.sql,
        hogql: bound.hogql,
        timings: bound
            .timings
            .iter()
            .map(|(step, d)| {
                let step = match *step {
                    "parse" => "./parse",
                    "compile" => "./compile",
                    _ => "./bind",
                };
                (step, d.as_secs_f64())
            })
            .collect(),
    })
}

/// A request value as a placeholder value. serde_json bounds the nesting of what it parsed
/// (128 levels), so this recursion is bounded.
fn placeholder_value(value: &Value) -> PlaceholderValue {
    match value {
        Value::Null => PlaceholderValue::Null,
        Value::Bool(b) => PlaceholderValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => PlaceholderValue::Int(i),
            (None, Some(f)) => PlaceholderValue::Float(f),
            (None, None) => PlaceholderValue::Unsupported,
        },
        Value::String(s) => PlaceholderValue::Str(s.clone()),
        Value::Array(items) => {
            PlaceholderValue::Array(items.iter().map(placeholder_value).collect())
        }
        Value::Object(_) => PlaceholderValue::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str, values: Value) -> Result<Prepared> {
        let Value::Object(values) = values else {
            panic!("values must be an object")
        };
        prepare(src, &values, &Default::default(), 7, "UTC")
    }

    /// The CLI (`hogref hogql compile --limit-context api`) and the query API print the same SQL:
    /// both go through `compile_bound` with the same context.
    #[test]
    fn the_cli_and_the_query_api_print_the_same_sql() {
        let src =
            "select event, count() from events where properties.$browser = 'Chrome' group by event";
        let p = run(src, serde_json::json!({})).unwrap();
        let mut ctx = hogql_compiler::Context::new(7);
        ctx.limit_context = hogql_compiler::LimitContext::Api;
        let cli = hogql_compiler::compile_bound(src, &mut ctx, &[]).unwrap();
        assert_eq!(p.clickhouse, cli.clickhouse);
        assert_eq!(p.sql, cli.sql);
        assert_eq!(p.hogql, cli.hogql);
    }

    #[test]
    fn limit_breaches_are_coded_400s() {
        let deep = format!("select {}", vec!["1"; 5_000].join("+"));
        let err = run(&deep, serde_json::json!({})).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "syntax_error");
        let wide = format!("select {}", vec!["1"; 120_000].join(", "));
        let err = run(&wide, serde_json::json!({})).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(err.code(), "query_too_large");
    }

    #[test]
    fn compiles_and_binds_for_the_team() {
        let p = run(
            "select event from events where event = 'a'",
            serde_json::json!({}),
        )
        .unwrap();
        assert!(
            p.clickhouse.contains("equals(events.team_id, 7)"),
            "{}",
            p.clickhouse
        );
        assert!(p.clickhouse.contains("%(hogql_val_"), "{}", p.clickhouse);
        assert!(!p.sql.contains("%(hogql_val_"), "{}", p.sql);
        assert!(p.sql.contains("'a'"), "{}", p.sql);
        assert_eq!(p.timings.len(), 3);
    }

    #[test]
    fn placeholders_take_the_request_values() {
        let p = run(
            "select {a}, {b}, {c}, {d} from events where event = {e}",
            serde_json::json!({"a": 1, "b": "x'y", "c": [1, 2], "d": null, "e": "$pageview"}),
        )
        .unwrap();
        assert!(p.sql.contains("'$pageview'"), "{}", p.sql);
        assert!(p.sql.contains(r"'x\'y'"), "{}", p.sql);
        assert!(p.sql.contains("[1, 2]"), "{}", p.sql);
    }

    #[test]
    fn a_missing_placeholder_value_is_an_error_with_its_position() {
        let err = run("select {nope}", serde_json::json!({})).unwrap_err();
        let body = err.body();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(body["start"], 7, "{body}");
        assert_eq!(body["end"], 13, "{body}");
    }

    #[test]
    fn an_object_value_is_rejected() {
        let err = run("select {a}", serde_json::json!({"a": {"b": 1}})).unwrap_err();
        assert_eq!(err.code(), "invalid_placeholder_value");
        assert_eq!(err.body()["start"], 7);
    }

    #[test]
    fn syntax_and_resolution_errors_carry_character_offsets() {
        let err = run("select é from events whre", serde_json::json!({})).unwrap_err();
        assert_eq!(err.code(), "syntax_error");
        assert!(err.body()["start"].is_u64(), "{}", err.body());
        let err = run("select nope from events", serde_json::json!({})).unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST);
        assert_eq!(err.body()["start"], 7, "{}", err.body());
        assert_eq!(err.body()["end"], 11, "{}", err.body());
        let err = run("  ", serde_json::json!({})).unwrap_err();
        assert_eq!(err.code(), "empty_query");
    }
}
