//! From capture's message to ClickHouse rows: parse the `CapturedEvent` JSON (the double-encoded `data`
//! merged under the outer fields), sanitize the properties, and build the `clickhouse_events_json` row,
//! plus the `clickhouse_person` and `clickhouse_person_distinct_id` rows.

use chrono::{DateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::error::{Error, Result};

/// Longest event name kept, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 200;

/// The outer fields of a capture message (spec §2.2).
#[derive(Debug, Deserialize)]
struct Outer {
    uuid: Option<String>,
    distinct_id: Option<Value>,
    ip: Option<String>,
    data: String,
    now: Option<String>,
    sent_at: Option<String>,
    token: Option<String>,
    event: Option<Value>,
    timestamp: Option<String>,
    #[serde(default)]
    historical_migration: bool,
}

/// A capture message after merging and sanitizing, ready for team and person processing.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingEvent {
    pub uuid: Uuid,
    pub token: String,
    pub distinct_id: String,
    pub event: String,
    pub properties: Map<String, Value>,
    /// Capture's computed event time.
    pub timestamp: DateTime<Utc>,
    /// Capture's receive time (`captured_at`).
    pub now: Option<DateTime<Utc>>,
    pub historical_migration: bool,
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parses one message value. Outer fields win over the inner `data` ones; top-level `$set` /
/// `$set_once` are merged into `properties` (top-level keys win); `$ip` comes from `ip` when absent;
/// `sent_at` is copied to `$sent_at`. A missing or invalid uuid, token or distinct id is an error
/// (PostHog sends those to the DLQ).
pub fn parse_message(bytes: &[u8]) -> Result<IncomingEvent> {
    let outer: Outer = serde_json::from_slice(bytes).map_err(|e| Error::BadMessage {
        field: "value".into(),
        message: e.to_string(),
    })?;
    let inner: Map<String, Value> = match serde_json::from_str(&outer.data) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(Error::BadMessage {
                field: "data".into(),
                message: "not a json object".into(),
            });
        }
        Err(e) => {
            return Err(Error::BadMessage {
                field: "data".into(),
                message: e.to_string(),
            });
        }
    };
    let bad = |field: &str, message: &str| Error::BadMessage {
        field: field.into(),
        message: message.into(),
    };
    let uuid_text = outer
        .uuid
        .clone()
        .or_else(|| {
            inner
                .get("uuid")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .ok_or_else(|| bad("uuid", "missing"))?;
    let uuid = Uuid::parse_str(&uuid_text).map_err(|_| bad("uuid", "not a uuid"))?;
    let token = outer
        .token
        .clone()
        .or_else(|| {
            inner
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("token", "missing"))?;
    let distinct_id = outer
        .distinct_id
        .as_ref()
        .or_else(|| inner.get("distinct_id"))
        .filter(|v| !v.is_null())
        .map(text_of)
        .ok_or_else(|| bad("distinct_id", "missing"))?;
    let event = outer
        .event
        .as_ref()
        .or_else(|| inner.get("event"))
        .map(text_of)
        .ok_or_else(|| bad("event", "missing"))?;
    let event: String = event.chars().take(MAX_EVENT_NAME_CHARS).collect();
    let now = outer.now.as_deref().and_then(event_model::timestamp::parse);
    let timestamp = outer
        .timestamp
        .as_deref()
        .and_then(event_model::timestamp::parse)
        .or(now)
        .ok_or_else(|| bad("timestamp", "neither timestamp nor now parses"))?;

    let mut properties = match inner.get("properties") {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    for key in ["$set", "$set_once"] {
        if let Some(Value::Object(top)) = inner.get(key) {
            let mut merged = match properties.get(key) {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            for (k, v) in top {
                merged.insert(k.clone(), v.clone());
            }
            properties.insert(key.to_string(), Value::Object(merged));
        }
    }
    if let Some(ip) = &outer.ip {
        properties
            .entry("$ip")
            .or_insert_with(|| Value::String(ip.clone()));
    }
    if let Some(sent_at) = &outer.sent_at {
        properties.insert("$sent_at".into(), Value::String(sent_at.clone()));
    }
    Ok(IncomingEvent {
        uuid,
        token,
        distinct_id,
        event,
        properties,
        timestamp,
        now,
        historical_migration: outer.historical_migration,
    })
}

/// `properties.$process_person_profile == false`: no person is created or updated.
pub fn is_personless(properties: &Map<String, Value>) -> bool {
    properties.get("$process_person_profile") == Some(&Value::Bool(false))
}

/// Removes the person operations from a personless event's properties.
pub fn strip_person_operations(properties: &mut Map<String, Value>) {
    for key in ["$set", "$set_once", "$unset"] {
        properties.shift_remove(key);
    }
}

/// ClickHouse text format with microseconds: `YYYY-MM-DD HH:MM:SS.ffffff`.
pub fn ch_datetime(ts: &DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// ClickHouse text format with seconds: `YYYY-MM-DD HH:MM:SS`.
pub fn ch_datetime_seconds(ts: &DateTime<Utc>) -> String {
    ts.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// How the event relates to a person (`person_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonMode {
    Full,
    Propertyless,
    ForceUpgrade,
}

/// The person an event is written with.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPerson {
    pub uuid: Uuid,
    pub properties: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub mode: PersonMode,
}

impl EventPerson {
    /// The stand-in person of a personless event: deterministic id, no properties, created 1970-01-01T00:00:05Z.
    pub fn propertyless(team_id: i64, distinct_id: &str) -> EventPerson {
        EventPerson {
            uuid: crate::person_id::person_uuid(team_id, distinct_id),
            properties: Map::new(),
            created_at: Utc.timestamp_opt(5, 0).single().unwrap_or_default(),
            mode: PersonMode::Propertyless,
        }
    }
}

/// The JSON row for `clickhouse_events_json` (spec §2.3), fields in PostHog's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRow {
    pub uuid: Uuid,
    pub event: String,
    /// The properties as a JSON string.
    pub properties: String,
    pub timestamp: String,
    pub team_id: i64,
    pub project_id: i64,
    pub distinct_id: String,
    pub elements_chain: String,
    pub created_at: String,
    pub captured_at: Option<String>,
    pub person_id: Uuid,
    pub person_properties: String,
    pub person_created_at: String,
    pub person_mode: PersonMode,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub historical_migration: bool,
}

/// Builds the event row; `created_at` is the emit time. `$elements_chain` and `$elements` leave the
/// properties for the `elements_chain` column (see [`crate::elements::take_elements_chain`]).
pub fn event_row(
    event: &IncomingEvent,
    team_id: i64,
    project_id: i64,
    person: &EventPerson,
    created_at: DateTime<Utc>,
) -> EventRow {
    let mut properties = event.properties.clone();
    let elements_chain = crate::elements::take_elements_chain(&mut properties);
    EventRow {
        uuid: event.uuid,
        event: event.event.clone(),
        properties: Value::Object(properties).to_string(),
        timestamp: ch_datetime(&event.timestamp),
        team_id,
        project_id,
        distinct_id: event.distinct_id.clone(),
        elements_chain,
        created_at: ch_datetime(&created_at),
        captured_at: event.now.as_ref().map(ch_datetime),
        person_id: person.uuid,
        person_properties: Value::Object(person.properties.clone()).to_string(),
        person_created_at: ch_datetime_seconds(&person.created_at),
        person_mode: person.mode,
        historical_migration: event.historical_migration,
    }
}

/// The `productTrack` header of an event row: `llma` for `$ai_*` events, else `general`.
pub fn product_track(event: &str) -> &'static str {
    if event.starts_with("$ai_") {
        "llma"
    } else {
        "general"
    }
}

/// The JSON row for `clickhouse_person`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonRow {
    pub id: Uuid,
    pub created_at: String,
    pub properties: String,
    pub team_id: i64,
    pub is_identified: i8,
    pub is_deleted: i8,
    pub version: i64,
}

impl PersonRow {
    /// A person row; `is_deleted` rows carry PostHog's `version + 100`.
    pub fn new(
        id: Uuid,
        team_id: i64,
        created_at: &DateTime<Utc>,
        properties: &Map<String, Value>,
        is_identified: bool,
        version: i64,
        is_deleted: bool,
    ) -> PersonRow {
        PersonRow {
            id,
            created_at: ch_datetime_seconds(created_at),
            properties: Value::Object(properties.clone()).to_string(),
            team_id,
            is_identified: i8::from(is_identified),
            is_deleted: i8::from(is_deleted),
            version: if is_deleted { version + 100 } else { version },
        }
    }
}

/// The JSON row for `clickhouse_person_distinct_id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistinctIdRow {
    pub team_id: i64,
    pub distinct_id: String,
    pub person_id: Uuid,
    pub is_deleted: i8,
    pub version: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(data: Value, outer: Value) -> Vec<u8> {
        let mut m = json!({
            "uuid": "0190f3c2-0000-7000-8000-000000000001",
            "distinct_id": "d1",
            "ip": "10.0.0.1",
            "data": data.to_string(),
            "now": "2026-01-02T03:04:05.678Z",
            "token": "phc_t",
            "event": "$pageview",
            "timestamp": "2026-01-02T03:00:00.123456Z",
        });
        for (k, v) in outer.as_object().unwrap() {
            m[k] = v.clone();
        }
        serde_json::to_vec(&m).unwrap()
    }

    #[test]
    fn outer_fields_win_and_top_level_set_merges() {
        let ev = parse_message(&message(
            json!({"event": "inner", "distinct_id": "inner", "properties": {"a": 1, "$set": {"x": 1, "y": 1}},
                   "$set": {"y": 2}, "$set_once": {"z": 3}}),
            json!({"sent_at": "2026-01-02T03:04:05Z"}),
        ))
        .unwrap();
        assert_eq!(ev.event, "$pageview");
        assert_eq!(ev.distinct_id, "d1");
        assert_eq!(ev.token, "phc_t");
        assert_eq!(
            Value::Object(ev.properties.clone()),
            json!({"a": 1, "$set": {"x": 1, "y": 2}, "$set_once": {"z": 3},
                   "$ip": "10.0.0.1", "$sent_at": "2026-01-02T03:04:05Z"})
        );
        assert_eq!(ch_datetime(&ev.timestamp), "2026-01-02 03:00:00.123456");
        assert_eq!(ch_datetime(&ev.now.unwrap()), "2026-01-02 03:04:05.678000");
    }

    #[test]
    fn client_ip_property_is_kept() {
        let ev = parse_message(&message(
            json!({"properties": {"$ip": "1.2.3.4"}}),
            json!({}),
        ))
        .unwrap();
        assert_eq!(ev.properties["$ip"], "1.2.3.4");
    }

    #[test]
    fn bad_messages_name_the_field() {
        let err = |bytes: &[u8]| match parse_message(bytes) {
            Err(Error::BadMessage { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(b"not json"), "value");
        assert_eq!(err(&message(json!({}), json!({"data": "[1]"}))), "data");
        assert_eq!(err(&message(json!({}), json!({"uuid": "nope"}))), "uuid");
        assert_eq!(err(&message(json!({}), json!({"token": null}))), "token");
        assert_eq!(
            err(&message(json!({}), json!({"distinct_id": null}))),
            "distinct_id"
        );
    }

    #[test]
    fn non_string_distinct_ids_and_long_names() {
        let long = "e".repeat(300);
        let ev = parse_message(&message(
            json!({}),
            json!({"distinct_id": 42, "event": long}),
        ))
        .unwrap();
        assert_eq!(ev.distinct_id, "42");
        assert_eq!(ev.event.chars().count(), MAX_EVENT_NAME_CHARS);
    }

    #[test]
    fn event_row_fields() {
        let ev = parse_message(&message(
            json!({"properties": {"$elements_chain": "a:nth-child=\"1\"", "k": "v"}}),
            json!({"historical_migration": true}),
        ))
        .unwrap();
        let person = EventPerson {
            uuid: crate::person_id::person_uuid(7, "d1"),
            properties: json!({"email": "a@b"}).as_object().cloned().unwrap(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            mode: PersonMode::Full,
        };
        let created = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap();
        let row = event_row(&ev, 7, 7, &person, created);
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(
            json,
            json!({
                "uuid": "0190f3c2-0000-7000-8000-000000000001",
                "event": "$pageview",
                "properties": "{\"k\":\"v\",\"$ip\":\"10.0.0.1\"}",
                "timestamp": "2026-01-02 03:00:00.123456",
                "team_id": 7,
                "project_id": 7,
                "distinct_id": "d1",
                "elements_chain": "a:nth-child=\"1\"",
                "created_at": "2026-01-02 03:04:06.000000",
                "captured_at": "2026-01-02 03:04:05.678000",
                "person_id": person.uuid.to_string(),
                "person_properties": "{\"email\":\"a@b\"}",
                "person_created_at": "2026-01-01 00:00:00",
                "person_mode": "full",
                "historical_migration": true,
            })
        );
    }

    #[test]
    fn personless_stand_in_and_stripping() {
        let p = EventPerson::propertyless(3, "d");
        assert_eq!(p.uuid, crate::person_id::person_uuid(3, "d"));
        assert_eq!(ch_datetime_seconds(&p.created_at), "1970-01-01 00:00:05");
        assert_eq!(serde_json::to_value(p.mode).unwrap(), "propertyless");
        let mut props =
            json!({"$set": {}, "$set_once": {}, "$unset": [], "$process_person_profile": false})
                .as_object()
                .cloned()
                .unwrap();
        assert!(is_personless(&props));
        strip_person_operations(&mut props);
        assert_eq!(
            Value::Object(props),
            json!({"$process_person_profile": false})
        );
    }

    #[test]
    fn rows_for_persons() {
        let id = Uuid::nil();
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let row = PersonRow::new(id, 1, &at, &Map::new(), true, 3, true);
        assert_eq!(
            (row.version, row.is_deleted, row.is_identified),
            (103, 1, 1)
        );
        assert_eq!(product_track("$ai_generation"), "llma");
        assert_eq!(product_track("$pageview"), "general");
    }
}
