//! The request body of `POST /api/projects/:team_id/query`: a `HogQLQuery` with its values and
//! modifiers, and the `refresh` mode. Pure.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How the cache is used, from the request's `refresh` (PostHog's execution modes, the blocking subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Fresh cached results if present, else compute (`false`, absent, `"blocking"`; the async modes
    /// are answered the same way, since this server always computes synchronously).
    Blocking,
    /// Always compute, then refresh the cache (`true`, `"force_blocking"`, `"force_async"`).
    ForceBlocking,
    /// Only the cache: a miss answers with `results: null` (`"force_cache"`).
    ForceCache,
}

/// A parsed query request.
#[derive(Debug, Clone)]
pub struct QueryRequest {
    /// The HogQL text.
    pub query: String,
    /// Values for `{name}` placeholders in the HogQL.
    pub values: Map<String, Value>,
    /// The modifiers as sent (for the cache key and the response).
    pub modifiers_json: Value,
    /// The modifiers the compiler understands.
    pub modifiers: hogql_compiler::Modifiers,
    /// The refresh mode.
    pub refresh: Refresh,
}

/// Parses a request body.
pub fn parse(body: &[u8]) -> Result<QueryRequest> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(Error::BadRequest("the body must be a JSON object".into()));
    };
    let refresh = refresh_mode(top.get("refresh").unwrap_or(&Value::Null))?;
    let Some(Value::Object(mut query)) = top.remove("query") else {
        return Err(Error::BadRequest(
            "`query` must be an object like {\"kind\": \"HogQLQuery\", \"query\": \"select …\"}"
                .into(),
        ));
    };
    match query.get("kind") {
        Some(Value::String(kind)) if kind == "HogQLQuery" => {}
        Some(Value::String(kind)) => {
            return Err(Error::BadRequest(format!(
                "query kind `{kind}` is not supported (HogQLQuery, TrendsQuery, StickinessQuery, LifecycleQuery, FunnelsQuery)"
            )));
        }
        _ => {
            return Err(Error::BadRequest(
                "`query.kind` is missing (expected \"HogQLQuery\")".into(),
            ));
        }
    }
    let Some(Value::String(text)) = query.remove("query") else {
        return Err(Error::BadRequest(
            "`query.query` must be a string of HogQL".into(),
        ));
    };
    let values = match query.remove("values") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(Error::BadRequest("`query.values` must be an object".into()));
        }
    };
    let modifiers_json = match query.remove("modifiers") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(Error::BadRequest(
                "`query.modifiers` must be an object".into(),
            ));
        }
    };
    let modifiers = serde_json::from_value(modifiers_json.clone())
        .map_err(|e| Error::BadRequest(format!("`query.modifiers`: {e}")))?;
    Ok(QueryRequest {
        query: text,
        values,
        modifiers_json,
        modifiers,
        refresh,
    })
}

pub(crate) fn refresh_mode(value: &Value) -> Result<Refresh> {
    Ok(match value {
        Value::Null | Value::Bool(false) => Refresh::Blocking,
        Value::Bool(true) => Refresh::ForceBlocking,
        Value::String(s) => match s.as_str() {
            "blocking" | "async" | "lazy_async" | "async_except_on_cache_miss" => Refresh::Blocking,
            "force_blocking" | "force_async" => Refresh::ForceBlocking,
            "force_cache" => Refresh::ForceCache,
            other => {
                return Err(Error::BadRequest(format!(
                    "unknown refresh mode `{other}` (expected true, false, blocking, force_blocking, force_cache, async, force_async, lazy_async or async_except_on_cache_miss)"
                )));
            }
        },
        _ => {
            return Err(Error::BadRequest(
                "`refresh` must be a boolean or a mode name".into(),
            ));
        }
    })
}

/// `value` with every object's keys sorted, so equal requests give equal cache keys.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_request() {
        let r = parse(br#"{"query": {"kind": "HogQLQuery", "query": "select 1", "values": {"a": 1}, "modifiers": {"convertToProjectTimezone": false}}, "refresh": true}"#).unwrap();
        assert_eq!(r.query, "select 1");
        assert_eq!(r.values["a"], 1);
        assert_eq!(r.modifiers.convert_to_project_timezone, Some(false));
        assert_eq!(r.refresh, Refresh::ForceBlocking);
    }

    #[test]
    fn refresh_modes() {
        let mode = |v: &str| {
            parse(
                format!(
                    r#"{{"query": {{"kind": "HogQLQuery", "query": "select 1"}}, "refresh": {v}}}"#
                )
                .as_bytes(),
            )
            .map(|r| r.refresh)
        };
        assert_eq!(mode("false").unwrap(), Refresh::Blocking);
        assert_eq!(mode("null").unwrap(), Refresh::Blocking);
        assert_eq!(mode("\"force_cache\"").unwrap(), Refresh::ForceCache);
        assert_eq!(mode("\"force_blocking\"").unwrap(), Refresh::ForceBlocking);
        assert_eq!(mode("\"soon\"").unwrap_err().code(), "invalid_input");
        assert_eq!(mode("3").unwrap_err().code(), "invalid_input");
    }

    #[test]
    fn bad_bodies_are_400_with_a_reason() {
        for (body, needle) in [
            ("", "not valid JSON"),
            ("[]", "JSON object"),
            (r#"{"query": "select 1"}"#, "must be an object"),
            (r#"{"query": {"query": "select 1"}}"#, "kind"),
            (r#"{"query": {"kind": "TrendsQuery"}}"#, "TrendsQuery"),
            (r#"{"query": {"kind": "HogQLQuery"}}"#, "query.query"),
            (
                r#"{"query": {"kind": "HogQLQuery", "query": "select 1", "values": []}}"#,
                "values",
            ),
            (
                r#"{"query": {"kind": "HogQLQuery", "query": "select 1", "modifiers": {"nope": 1}}}"#,
                "modifiers",
            ),
        ] {
            let err = parse(body.as_bytes()).unwrap_err();
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
    }

    #[test]
    fn canonical_sorts_keys_deeply() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"d": [ {"z": 1, "y": 2} ], "c": 2}}"#).unwrap();
        assert_eq!(
            canonical(&a).to_string(),
            r#"{"a":{"c":2,"d":[{"y":2,"z":1}]},"b":1}"#
        );
    }
}
