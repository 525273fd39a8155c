//! Groups as pure rules: the `$groups` map of an event becomes `$group_{index}` properties, a
//! `$groupidentify` event names one group and the properties to set on it, and a group update is
//! computed and serialised for `clickhouse_groups`. The store resolves type indexes and writes groups.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::event_row::ch_datetime_seconds;

/// At most this many group types per project (indexes `0..5`).
pub const MAX_GROUP_TYPES: i16 = 5;
/// A `$groupidentify` whose `$group_key` is longer than this (in characters) is dropped.
pub const MAX_GROUP_KEY_CHARS: usize = 400;
/// Ingestion warning: a `$groupidentify` event's group key is too long.
pub const WARN_GROUP_KEY_TOO_LONG: &str = "group_key_too_long";

/// The name of the property holding the key of group type `index`: `$group_0` … `$group_4`.
pub fn group_column(index: i16) -> String {
    format!("$group_{index}")
}

/// False for JavaScript's falsy JSON values (`null`, `false`, `0`, `""`), which PostHog skips.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A JSON value as text the way a group key is stored: strings as they are, other values as JSON.
fn key_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The group types an event names in `$groups` (an object `{type: key}`), in order. Anything else
/// (absent, an array, a string) names none.
pub fn group_types(properties: &Map<String, Value>) -> Vec<String> {
    match properties.get("$groups") {
        Some(Value::Object(groups)) => groups.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Writes `$group_{index} = key` for every `$groups` entry whose type resolved to an index (types
/// beyond the five a project may have resolve to nothing and are left out). The key is copied as is.
pub fn add_group_columns(properties: &mut Map<String, Value>, resolved: &[(String, i16)]) {
    let Some(Value::Object(groups)) = properties.get("$groups").cloned() else {
        return;
    };
    for (group_type, key) in groups {
        if let Some((_, index)) = resolved.iter().find(|(t, _)| *t == group_type) {
            properties.insert(group_column(*index), key);
        }
    }
}

/// Removes `$group_0..4` (personless events carry no group columns).
pub fn strip_group_columns(properties: &mut Map<String, Value>) {
    for index in 0..MAX_GROUP_TYPES {
        properties.shift_remove(&group_column(index));
    }
}

/// What a `$groupidentify` event asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupIdentify {
    /// `$group_type`, e.g. `company`.
    pub group_type: String,
    /// `$group_key`, as text (NUL characters replaced by U+FFFD).
    pub group_key: String,
    /// `$group_set`: properties to set on the group (overwrite when different).
    pub set: Map<String, Value>,
}

/// The group a `$groupidentify` event names, if it names one: both `$group_type` and `$group_key`
/// must be present and not falsy. A `$group_set` that is not an object sets nothing.
pub fn group_identify(event: &str, properties: &Map<String, Value>) -> Option<GroupIdentify> {
    if event != "$groupidentify" {
        return None;
    }
    let group_type = properties.get("$group_type").filter(|v| truthy(v))?;
    let group_key = properties.get("$group_key").filter(|v| truthy(v))?;
    Some(GroupIdentify {
        group_type: key_text(group_type),
        group_key: key_text(group_key).replace('\0', "\u{FFFD}"),
        set: match properties.get("$group_set") {
            Some(Value::Object(set)) => set.clone(),
            _ => Map::new(),
        },
    })
}

/// Applies `set` to a group's `current` properties; returns the new properties when any key was
/// added or changed its value, `None` when nothing changed (no write, no new version).
pub fn apply_group_set(
    current: &Map<String, Value>,
    set: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let mut next = current.clone();
    let mut changed = false;
    for (k, v) in set {
        if next.get(k) != Some(v) {
            next.insert(k.clone(), v.clone());
            changed = true;
        }
    }
    changed.then_some(next)
}

/// The JSON row for `clickhouse_groups` (the `kafka_groups` table reads the first five fields).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub group_type_index: i16,
    pub group_key: String,
    pub team_id: i64,
    /// The properties as a JSON string.
    pub group_properties: String,
    /// Second precision, ClickHouse text format.
    pub created_at: String,
    pub version: i64,
}

impl GroupRow {
    /// A group row.
    pub fn new(
        team_id: i64,
        group_type_index: i16,
        group_key: &str,
        properties: &Map<String, Value>,
        created_at: &DateTime<Utc>,
        version: i64,
    ) -> GroupRow {
        GroupRow {
            group_type_index,
            group_key: group_key.to_string(),
            team_id,
            group_properties: Value::Object(properties.clone()).to_string(),
            created_at: ch_datetime_seconds(created_at),
            version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn groups_become_columns_for_resolved_types_only() {
        let mut props = map(json!({"$groups": {"company": "acme", "project": 42, "sixth": "x"}}));
        assert_eq!(group_types(&props), ["company", "project", "sixth"]);
        add_group_columns(&mut props, &[("company".into(), 0), ("project".into(), 3)]);
        assert_eq!(props["$group_0"], "acme");
        assert_eq!(props["$group_3"], 42);
        assert!(!props.contains_key("$group_1"));
        strip_group_columns(&mut props);
        assert_eq!(
            Value::Object(props),
            json!({"$groups": {"company": "acme", "project": 42, "sixth": "x"}})
        );
        for odd in [
            json!({"$groups": ["a"]}),
            json!({"$groups": "a"}),
            json!({}),
        ] {
            assert!(group_types(&map(odd)).is_empty());
        }
    }

    #[test]
    fn group_identify_needs_type_and_key() {
        let props = map(json!({"$group_type": "company", "$group_key": "ac\u{0}me",
            "$group_set": {"name": "Acme"}}));
        assert_eq!(
            group_identify("$groupidentify", &props),
            Some(GroupIdentify {
                group_type: "company".into(),
                group_key: "ac\u{FFFD}me".into(),
                set: map(json!({"name": "Acme"})),
            })
        );
        assert_eq!(group_identify("$pageview", &props), None);
        for bad in [
            json!({"$group_type": "company"}),
            json!({"$group_type": "company", "$group_key": ""}),
            json!({"$group_type": "company", "$group_key": 0}),
            json!({"$group_type": "", "$group_key": "k"}),
            json!({"$group_type": null, "$group_key": "k"}),
        ] {
            assert_eq!(
                group_identify("$groupidentify", &map(bad.clone())),
                None,
                "{bad}"
            );
        }
        let numeric = group_identify(
            "$groupidentify",
            &map(json!({"$group_type": "company", "$group_key": 17, "$group_set": "nope"})),
        )
        .unwrap();
        assert_eq!(numeric.group_key, "17");
        assert!(numeric.set.is_empty());
    }

    #[test]
    fn group_set_overwrites_and_reports_changes() {
        let current = map(json!({"name": "Acme", "size": 10}));
        assert_eq!(
            apply_group_set(&current, &map(json!({"name": "Acme"}))),
            None
        );
        assert_eq!(apply_group_set(&current, &Map::new()), None);
        assert_eq!(
            apply_group_set(&current, &map(json!({"size": 11, "plan": "pro"}))).map(Value::Object),
            Some(json!({"name": "Acme", "size": 11, "plan": "pro"}))
        );
    }

    #[test]
    fn group_row_shape() {
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 1).unwrap();
        let row = GroupRow::new(7, 2, "acme", &map(json!({"name": "Acme"})), &at, 3);
        assert_eq!(
            serde_json::to_value(&row).unwrap(),
            json!({"group_type_index": 2, "group_key": "acme", "team_id": 7,
                   "group_properties": "{\"name\":\"Acme\"}", "created_at": "2026-03-01 10:00:01",
                   "version": 3})
        );
    }
}
