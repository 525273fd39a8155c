//! HogQL to a ClickHouse statement for one team: parse, substitute the request's `{name}` values,
//! compile with hogql-compiler, bind the `%(hogql_val_N)s` values. Pure (no I/O).

use std::time::Instant;

use hogql_parser::{Node, Value as AstValue};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Stack for the thread that compiles: parsing, lowering and printing recurse once per nesting level.
const STACK_BYTES: usize = 256 << 20;

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

/// Compiles `src` for `team_id` in `timezone`, on a helper thread with a large stack.
pub fn prepare(
    src: &str,
    values: &Map<String, Value>,
    modifiers: &hogql_compiler::Modifiers,
    team_id: i64,
    timezone: &str,
) -> Result<Prepared> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("query-prepare".into())
            .stack_size(STACK_BYTES)
            .spawn_scoped(scope, || {
                prepare_here(src, values, modifiers, team_id, timezone)
            })
            .map_err(|e| Error::Internal(format!("could not start the compiler thread: {e}")))?;
        worker
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the compiler panicked".into())))
    })
}

/// [`prepare`] on the caller's thread.
pub fn prepare_here(
    src: &str,
    values: &Map<String, Value>,
    modifiers: &hogql_compiler::Modifiers,
    team_id: i64,
    timezone: &str,
) -> Result<Prepared> {
    let mut timings = Vec::new();
    if src.trim().is_empty() {
        return Err(Error::HogQL {
            code: "empty_query",
            message: "the query is empty".into(),
            start: None,
            end: None,
        });
    }
    let started = Instant::now();
    let mut node = hogql_parser::parse_select(src).map_err(|e| {
        let (start, end) = e.offsets();
        Error::HogQL {
            code: "syntax_error",
            message: e.message().to_owned(),
            start: Some(start),
            end: Some(end),
        }
    })?;
    substitute(&mut node, values, src)?;
    timings.push(("./parse", started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let mut ctx = hogql_compiler::Context::new(team_id);
    ctx.timezone = timezone.to_owned();
    ctx.modifiers = modifiers.clone();
    ctx.limit_context = hogql_compiler::LimitContext::Api;
    let compile_error = |e: hogql_compiler::CompileError| {
        let (start, end) = e.char_offsets(src).unzip();
        Error::HogQL {
            code: e.code(),
            message: e.to_string(),
            start,
            end,
        }
    };
    let query = hogql_compiler::lower::query(&node).map_err(compile_error)?;
    let compiled =
        hogql_compiler::compile::compile_query(&query, &mut ctx).map_err(compile_error)?;
    timings.push(("./compile", started.elapsed().as_secs_f64()));

    let started = Instant::now();
    let sql = hogql_compiler::bind_values(&compiled.clickhouse, &compiled.values)
        .map_err(|e| Error::Internal(format!("binding values: {e}")))?;
    timings.push(("./bind", started.elapsed().as_secs_f64()));
    Ok(Prepared {
        clickhouse: compiled.clickhouse,
        sql,
        hogql: Some(hogql_parser::printer::print(&node)),
        timings,
    })
}

/// Replaces every `{name}` placeholder whose name is in `values` by the value as a constant (arrays
/// become array literals). Placeholders without a value are left for the compiler, which rejects them
/// with their position.
fn substitute(node: &mut Node, values: &Map<String, Value>, src: &str) -> Result<()> {
    if node.kind == "Placeholder"
        && let Some(name) = placeholder_name(node)
        && let Some(value) = values.get(&name)
    {
        let span = node.span;
        *node = constant(value, span).ok_or_else(|| {
            let index = hogql_parser::LineIndex::new(src);
            let offsets = span.map(|s| {
                (
                    index.char_offset(s.start as usize),
                    index.char_offset(s.end as usize),
                )
            });
            Error::HogQL {
                code: "invalid_placeholder_value",
                message: format!("the value of placeholder {{{name}}} must be a string, number, boolean, null or an array of those"),
                start: offsets.map(|o| o.0),
                end: offsets.map(|o| o.1),
            }
        })?;
        return Ok(());
    }
    for (_, field) in &mut node.fields {
        substitute_value(field, values, src)?;
    }
    Ok(())
}

fn substitute_value(value: &mut AstValue, values: &Map<String, Value>, src: &str) -> Result<()> {
    match value {
        AstValue::Node(child) => substitute(child, values, src),
        AstValue::List(items) => items
            .iter_mut()
            .try_for_each(|v| substitute_value(v, values, src)),
        AstValue::Map(entries) => entries
            .iter_mut()
            .try_for_each(|(_, v)| substitute_value(v, values, src)),
        _ => Ok(()),
    }
}

/// `name` of `{name}`: a placeholder whose expression is a one-part field.
fn placeholder_name(node: &Node) -> Option<String> {
    let expr = node.node("expr")?;
    if expr.kind != "Field" {
        return None;
    }
    match expr.list("chain") {
        [AstValue::Str(name)] => Some(name.clone()),
        _ => None,
    }
}

fn constant(value: &Value, span: Option<hogql_parser::Span>) -> Option<Node> {
    let literal = |v: AstValue| Some(Node::new("Constant", span).with("value", v));
    match value {
        Value::Null => literal(AstValue::Null),
        Value::Bool(b) => literal(AstValue::Bool(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => literal(AstValue::Int(i)),
            None => literal(AstValue::Float(n.as_f64()?)),
        },
        Value::String(s) => literal(AstValue::Str(s.clone())),
        Value::Array(items) => {
            let exprs = items
                .iter()
                .map(|v| constant(v, span))
                .collect::<Option<Vec<_>>>()?;
            Some(Node::new("Array", span).with("exprs", AstValue::nodes(exprs)))
        }
        Value::Object(_) => None,
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
