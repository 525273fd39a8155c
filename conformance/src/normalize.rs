//! Normalisation rules, in one place, applied before any comparison.
//!
//! HogQL ASTs (the rules of PostHog's own parser parity checks):
//! - keys whose value is `null` or `false` are dropped (one parser writes them, the other omits them),
//!   except a Constant's `value: false`, which must stay distinct from NULL (a Constant without value);
//! - `start`/`end` positions are dropped;
//! - an error envelope is reduced to `{"error": true, "type": <type>}`: messages differ between
//!   parsers, so acceptance and error type are what conform.

use serde_json::{Map, Value};

/// Normalises a parser result (AST or error envelope) for comparison.
pub fn hogql_ast(value: &Value) -> Value {
    if let Some(obj) = value.as_object()
        && obj.get("error") == Some(&Value::Bool(true))
    {
        let mut out = Map::new();
        out.insert("error".into(), Value::Bool(true));
        out.insert(
            "type".into(),
            obj.get("type").cloned().unwrap_or(Value::Null),
        );
        return Value::Object(out);
    }
    strip(value)
}

fn strip(value: &Value) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.iter()
                .filter(|(k, v)| match (k.as_str(), v) {
                    ("start" | "end", _) | (_, Value::Null) => false,
                    ("value", Value::Bool(false)) => true,
                    (_, Value::Bool(false)) => false,
                    _ => true,
                })
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
        other => other.clone(),
    }
}

/// The first place where two JSON values differ, as a path and both sides (for failure messages).
pub fn first_difference(expected: &Value, actual: &Value) -> Option<String> {
    fn walk(path: &str, e: &Value, a: &Value) -> Option<String> {
        match (e, a) {
            (Value::Object(eo), Value::Object(ao)) => {
                let mut keys: Vec<&String> = eo.keys().chain(ao.keys()).collect();
                keys.sort();
                keys.dedup();
                keys.into_iter().find_map(|k| match (eo.get(k), ao.get(k)) {
                    (Some(ev), Some(av)) => walk(&format!("{path}.{k}"), ev, av),
                    (Some(ev), None) => Some(format!("{path}.{k}: expected {ev}, missing")),
                    (None, Some(av)) => Some(format!("{path}.{k}: unexpected {av}")),
                    (None, None) => None,
                })
            }
            (Value::Array(ea), Value::Array(aa)) if ea.len() == aa.len() => ea
                .iter()
                .zip(aa)
                .enumerate()
                .find_map(|(i, (ev, av))| walk(&format!("{path}[{i}]"), ev, av)),
            _ if e == a => None,
            _ => Some(format!("{path}: expected {e}, got {a}")),
        }
    }
    walk("$", expected, actual)
}

/// `v` with every string that starts with one of the `today` dates (yesterday's, today's and
/// tomorrow's) replaced by `[now]`, at any depth: a tuple or array cell (e.g. `tumble(now(), …)`'s
/// window) is redacted inside too.
pub fn redact_now(v: &Value, today: &[String]) -> Value {
    match v {
        Value::String(s) if today.iter().any(|d| s.starts_with(d.as_str())) => {
            Value::String("[now]".into())
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| redact_now(i, today)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn null_false_and_positions_are_dropped() {
        let raw = json!({"node": "Call", "name": "f", "distinct": false, "params": null,
                         "start": {"offset": 0}, "args": [{"node": "Constant", "value": 1, "end": {"offset": 1}}]});
        assert_eq!(
            hogql_ast(&raw),
            json!({"node": "Call", "name": "f", "args": [{"node": "Constant", "value": 1}]})
        );
    }

    #[test]
    fn constant_false_stays_distinct_from_null() {
        let raw = json!({"node": "Constant", "value": false});
        assert_eq!(hogql_ast(&raw), json!({"node": "Constant", "value": false}));
        assert_ne!(
            hogql_ast(&raw),
            hogql_ast(&json!({"node": "Constant", "value": null}))
        );
    }

    #[test]
    fn errors_compare_by_type_only() {
        let raw =
            json!({"error": true, "type": "SyntaxError", "message": "x", "start": {"offset": 3}});
        assert_eq!(
            hogql_ast(&raw),
            json!({"error": true, "type": "SyntaxError"})
        );
    }

    #[test]
    fn first_difference_names_the_path() {
        let e = json!({"a": [1, {"b": 2}]});
        let a = json!({"a": [1, {"b": 3}]});
        assert_eq!(
            first_difference(&e, &a).as_deref(),
            Some("$.a[1].b: expected 2, got 3")
        );
        assert_eq!(first_difference(&e, &e), None);
    }
}
