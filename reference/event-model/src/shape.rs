//! The JSON shapes a v0 payload may take: an array of events, a batch object, one event, or an engage
//! object (no `event`, only on `/engage`), parsed into [`RawEvent`]s with typed, located errors.

use serde_json::{Map, Value};

use crate::decode::Endpoint;
use crate::error::{Error, Result};

/// One event as the client sent it (only the fields capture knows; others are dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// `token`, `$token` or `api_key`.
    pub token: Option<String>,
    /// `distinct_id` or `$distinct_id`, any JSON value.
    pub distinct_id: Option<Value>,
    /// A valid UUID; an empty string counts as absent.
    pub uuid: Option<uuid::Uuid>,
    pub event: String,
    pub properties: Map<String, Value>,
    /// Passed through as given.
    pub timestamp: Option<String>,
    /// Milliseconds before `now`.
    pub offset: Option<i64>,
    pub set: Option<Map<String, Value>>,
    pub set_once: Option<Map<String, Value>>,
}

impl RawEvent {
    /// The event re-serialised the way it travels in `CapturedEvent.data` (fields in a fixed order;
    /// `uuid` is written as `null` when absent, the other optional fields are left out). Written from
    /// borrowed fields: the properties are not copied first.
    pub fn to_data_json(&self) -> String {
        let data = DataJson {
            token: self.token.as_deref(),
            distinct_id: self.distinct_id.as_ref(),
            uuid: self.uuid.map(|u| u.hyphenated().to_string()),
            event: &self.event,
            properties: &self.properties,
            timestamp: self.timestamp.as_deref(),
            offset: self.offset,
            set: self.set.as_ref(),
            set_once: self.set_once.as_ref(),
        };
        // Strings, maps and integers only: serialising cannot fail.
        serde_json::to_string(&data).unwrap_or_default()
    }
}

/// [`RawEvent::to_data_json`]'s fields, borrowed, in wire order.
#[derive(serde::Serialize)]
struct DataJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distinct_id: Option<&'a Value>,
    uuid: Option<String>,
    event: &'a str,
    properties: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timestamp: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<i64>,
    #[serde(rename = "$set", skip_serializing_if = "Option::is_none")]
    set: Option<&'a Map<String, Value>>,
    #[serde(rename = "$set_once", skip_serializing_if = "Option::is_none")]
    set_once: Option<&'a Map<String, Value>>,
}

/// Which shape the payload had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Array,
    Batch,
    Single,
    Engage,
}

/// A parsed payload: its events plus the batch-level fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub shape: Shape,
    pub events: Vec<RawEvent>,
    /// The batch's `api_key` / `token`.
    pub token: Option<String>,
    /// The batch's `sent_at`, as given.
    pub sent_at: Option<String>,
    pub historical_migration: bool,
}

/// Parses decoded payload text into events.
pub fn parse(text: &str, endpoint: Endpoint) -> Result<Payload> {
    let value: Value = serde_json::from_str(text).map_err(|e| Error::RequestParsing {
        field: None,
        message: format!("invalid json: {e}"),
    })?;
    match value {
        Value::Array(items) => Ok(Payload {
            shape: Shape::Array,
            events: events_of(items, "")?,
            token: None,
            sent_at: None,
            historical_migration: false,
        }),
        Value::Object(mut object) if object.contains_key("batch") => {
            let items = match object.remove("batch") {
                Some(Value::Array(items)) => items,
                _ => return Err(Error::parsing("batch", "batch must be an array of events")),
            };
            let token = match (object.get("api_key"), object.get("token")) {
                (Some(v), _) | (None, Some(v)) if !v.is_null() => Some(
                    v.as_str()
                        .ok_or_else(|| Error::parsing("api_key", "token must be a string"))?
                        .to_string(),
                ),
                _ => None,
            };
            let sent_at = match object.get("sent_at") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.is_empty() => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(Error::parsing("sent_at", "sent_at must be a string")),
            };
            let historical_migration = match object.get("historical_migration") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => {
                    return Err(Error::parsing(
                        "historical_migration",
                        "historical_migration must be a boolean",
                    ));
                }
            };
            Ok(Payload {
                shape: Shape::Batch,
                events: events_of(items, "batch")?,
                token,
                sent_at,
                historical_migration,
            })
        }
        Value::Object(object) if object.contains_key("event") => Ok(Payload {
            shape: Shape::Single,
            events: vec![event_of(object, "", false)?],
            token: None,
            sent_at: None,
            historical_migration: false,
        }),
        Value::Object(object) if endpoint == Endpoint::Engage => Ok(Payload {
            shape: Shape::Engage,
            events: vec![event_of(object, "", true)?],
            token: None,
            sent_at: None,
            historical_migration: false,
        }),
        Value::Object(_) => Err(Error::RequestHydration {
            message: "an object without event is only accepted on /engage".to_string(),
        }),
        _ => Err(Error::RequestParsing {
            field: None,
            message: "payload must be a json array or object".to_string(),
        }),
    }
}

fn events_of(items: Vec<Value>, prefix: &str) -> Result<Vec<RawEvent>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{prefix}[{i}]");
            match item {
                Value::Object(object) => event_of(object, &path, false),
                _ => Err(Error::parsing(path, "event must be an object")),
            }
        })
        .collect()
}

fn field_path(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn event_of(mut object: Map<String, Value>, prefix: &str, engage: bool) -> Result<RawEvent> {
    let at = |name: &str| field_path(prefix, name);
    let mut take_string = |names: &[&str]| -> Result<Option<String>> {
        for name in names {
            match object.remove(*name) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => return Ok(Some(s)),
                Some(_) => return Err(Error::parsing(at(name), "must be a string")),
            }
        }
        Ok(None)
    };
    let token = take_string(&["token", "$token", "api_key"])?;
    let uuid = match take_string(&["uuid"])? {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(
            uuid::Uuid::parse_str(&s)
                .map_err(|_| Error::parsing(at("uuid"), format!("invalid uuid {s:?}")))?,
        ),
    };
    let event = if engage {
        "$identify".to_string()
    } else {
        take_string(&["event"])?
            .ok_or_else(|| Error::parsing(at("event"), "missing field event"))?
    };
    let timestamp = take_string(&["timestamp"])?;
    let distinct_id = match object.remove("distinct_id") {
        None | Some(Value::Null) => object.remove("$distinct_id").filter(|v| !v.is_null()),
        Some(v) => Some(v),
    };
    let mut take_object = |name: &str| -> Result<Option<Map<String, Value>>> {
        match object.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(Error::parsing(at(name), "must be an object")),
        }
    };
    let properties = take_object("properties")?.unwrap_or_default();
    let set = take_object("$set")?;
    let set_once = take_object("$set_once")?;
    let offset = match object.remove("offset") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_i64()
                .ok_or_else(|| Error::parsing(at("offset"), "offset must be an integer"))?,
        ),
        Some(_) => return Err(Error::parsing(at("offset"), "offset must be an integer")),
    };
    Ok(RawEvent {
        token,
        distinct_id,
        uuid,
        event,
        properties,
        timestamp,
        offset,
        set,
        set_once,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_err(text: &str, endpoint: Endpoint, code: &str, field: Option<&str>) {
        let err = parse(text, endpoint).unwrap_err();
        assert_eq!((err.code(), err.field().as_deref()), (code, field), "{err}");
    }

    #[test]
    fn shapes() {
        let p = parse(r#"[{"event":"a"},{"event":"b"}]"#, Endpoint::E).unwrap();
        assert_eq!((p.shape, p.events.len()), (Shape::Array, 2));
        let p = parse(
            r#"{"api_key":"phc_x","batch":[{"event":"a"}],"sent_at":"2025-01-01T00:00:00Z","historical_migration":true}"#,
            Endpoint::Batch,
        )
        .unwrap();
        assert_eq!(p.shape, Shape::Batch);
        assert_eq!(p.token.as_deref(), Some("phc_x"));
        assert!(p.historical_migration);
        let p = parse(r#"{"event":"a","$token":"t"}"#, Endpoint::Capture).unwrap();
        assert_eq!(p.events[0].token.as_deref(), Some("t"));
        let p = parse(r#"{"$set":{"a":1},"distinct_id":"d"}"#, Endpoint::Engage).unwrap();
        assert_eq!(
            (p.shape, p.events[0].event.as_str()),
            (Shape::Engage, "$identify")
        );
    }

    #[test]
    fn errors_carry_fields() {
        check_err("{", Endpoint::E, "request_parsing_error", None);
        check_err(r#"{"a":1}"#, Endpoint::E, "request_hydration_error", None);
        check_err(
            r#"[{"event":"a"},{"x":1}]"#,
            Endpoint::E,
            "request_parsing_error",
            Some("[1].event"),
        );
        check_err(
            r#"{"batch":[{"event":"a","uuid":"nope"}]}"#,
            Endpoint::Batch,
            "request_parsing_error",
            Some("batch[0].uuid"),
        );
        check_err(
            r#"{"batch":{}}"#,
            Endpoint::Batch,
            "request_parsing_error",
            Some("batch"),
        );
        check_err(
            r#"{"event":"a","properties":[]}"#,
            Endpoint::E,
            "request_parsing_error",
            Some("properties"),
        );
        check_err("42", Endpoint::E, "request_parsing_error", None);
    }

    #[test]
    fn data_json_keeps_known_fields_in_order() {
        let p = parse(
            r#"{"event":"a","zzz":1,"distinct_id":7,"uuid":"","properties":{"b":1,"a":2},"offset":5}"#,
            Endpoint::E,
        )
        .unwrap();
        assert_eq!(
            p.events[0].to_data_json(),
            r#"{"distinct_id":7,"uuid":null,"event":"a","properties":{"b":1,"a":2},"offset":5}"#
        );
        // Every field, escapes and nested values: the same bytes as the event written as a JSON value.
        let p = parse(
            r#"{"$set_once":{"o":[1,{"x":null}]},"event":"e\"\u00e9","$token":"t","timestamp":"2025-01-01T00:00:00Z","uuid":"01890a5d-ac96-774b-bcce-b302099a8057","$set":{"s":"\n"},"distinct_id":{"k":1.5},"properties":{"p":true},"offset":-3}"#,
            Endpoint::Capture,
        )
        .unwrap();
        assert_eq!(
            p.events[0].to_data_json(),
            r#"{"token":"t","distinct_id":{"k":1.5},"uuid":"01890a5d-ac96-774b-bcce-b302099a8057","event":"e\"é","properties":{"p":true},"timestamp":"2025-01-01T00:00:00Z","offset":-3,"$set":{"s":"\n"},"$set_once":{"o":[1,{"x":null}]}}"#
        );
    }
}
