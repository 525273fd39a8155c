//! Person property updates read from an event: `$set` overwrites, `$set_once` fills only absent keys,
//! `$unset` deletes. Applied in ingestion order (the order events arrive), not by event timestamp.

use serde_json::{Map, Value};

/// The person property operations one event carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyUpdates {
    /// `$set`: overwrite when the value differs.
    pub set: Map<String, Value>,
    /// `$set_once`: only for keys the person does not have.
    pub set_once: Map<String, Value>,
    /// `$unset`: keys to delete (from an array of names or an object's keys).
    pub unset: Vec<String>,
}

impl PropertyUpdates {
    /// Reads `$set`, `$set_once` and `$unset` from an event's (already sanitized) properties.
    /// Values of the wrong type are ignored, as PostHog does.
    pub fn from_properties(properties: &Map<String, Value>) -> PropertyUpdates {
        let object = |key: &str| match properties.get(key) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        let unset = match properties.get("$unset") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            Some(Value::Object(map)) => map.keys().cloned().collect(),
            _ => Vec::new(),
        };
        PropertyUpdates {
            set: object("$set"),
            set_once: object("$set_once"),
            unset,
        }
    }

    /// True when the event asks for no change at all.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.set_once.is_empty() && self.unset.is_empty()
    }

    /// The properties of a person created by this event: `$set_once` overlaid by `$set`.
    pub fn initial_properties(&self) -> Map<String, Value> {
        let mut props = self.set_once.clone();
        for (k, v) in &self.set {
            props.insert(k.clone(), v.clone());
        }
        props
    }

    /// Applies the updates to `person` (`$set_once`, then `$set`, then `$unset`); returns the keys whose
    /// value changed, in the order they changed (empty: nothing to write).
    pub fn apply(&self, person: &mut Map<String, Value>) -> Vec<String> {
        let mut changed = Vec::new();
        for (k, v) in &self.set_once {
            if !person.contains_key(k) {
                person.insert(k.clone(), v.clone());
                changed.push(k.clone());
            }
        }
        for (k, v) in &self.set {
            if person.get(k) != Some(v) {
                person.insert(k.clone(), v.clone());
                if !changed.contains(k) {
                    changed.push(k.clone());
                }
            }
        }
        for k in &self.unset {
            if person.shift_remove(k).is_some() && !changed.contains(k) {
                changed.push(k.clone());
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn reads_the_three_operations_and_ignores_wrong_types() {
        let u = PropertyUpdates::from_properties(&map(json!({
            "$set": {"a": 1}, "$set_once": {"b": 2}, "$unset": ["c", 5, "d"], "x": 1
        })));
        assert_eq!(u.set, map(json!({"a": 1})));
        assert_eq!(u.set_once, map(json!({"b": 2})));
        assert_eq!(u.unset, ["c", "d"]);
        let u = PropertyUpdates::from_properties(&map(json!({"$set": "no", "$unset": {"k": 1}})));
        assert!(u.set.is_empty());
        assert_eq!(u.unset, ["k"]);
        assert!(PropertyUpdates::from_properties(&Map::new()).is_empty());
    }

    #[test]
    fn set_overwrites_set_once_fills_absent_unset_deletes() {
        let mut person = map(json!({"a": 1, "b": 1, "c": 1, "keep": true}));
        let u = PropertyUpdates::from_properties(&map(json!({
            "$set": {"a": 2, "b": 1, "new": "n"}, "$set_once": {"c": 9, "first": "f"}, "$unset": ["c", "missing"]
        })));
        let changed = u.apply(&mut person);
        assert_eq!(
            person,
            map(json!({"a": 2, "b": 1, "keep": true, "new": "n", "first": "f"}))
        );
        assert_eq!(changed, ["first", "a", "new", "c"]);
    }

    #[test]
    fn unchanged_values_report_no_change() {
        let mut person = map(json!({"a": 1}));
        let u = PropertyUpdates::from_properties(&map(
            json!({"$set": {"a": 1}, "$set_once": {"a": 2}}),
        ));
        assert!(u.apply(&mut person).is_empty());
        assert_eq!(person, map(json!({"a": 1})));
    }

    #[test]
    fn a_new_person_takes_set_once_overlaid_by_set() {
        let u = PropertyUpdates::from_properties(&map(json!({
            "$set": {"a": "set"}, "$set_once": {"a": "once", "b": "once"}
        })));
        assert_eq!(
            u.initial_properties(),
            map(json!({"a": "set", "b": "once"}))
        );
    }

    #[test]
    fn ingestion_order_decides_not_timestamps() {
        let mut person = Map::new();
        for value in ["first", "second"] {
            PropertyUpdates::from_properties(&map(json!({"$set": {"k": value}})))
                .apply(&mut person);
        }
        assert_eq!(person["k"], "second");
    }
}
