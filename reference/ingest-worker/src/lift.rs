//! Person-ish event properties lifted into the person (ingestion spec §3.4): the latest value of each
//! listed key goes into `$set`, the first one seen as `$initial_<key without $>` into `$set_once`.
//!
//! Rules (PostHog's plugin server, current behaviour):
//! - only keys present in the event's properties are lifted; an explicit `$set` / `$set_once` entry
//!   of the same name wins over the lifted value;
//! - `$set` takes the value as it is (a `null` clears the latest-touch value), `$set_once` never
//!   takes a `null` (it would block the real first-touch value forever);
//! - server-side events (`$is_server == true`) do not lift `$os` / `$os_version` (the host's OS);
//! - `$os_name` is an alias of `$os`: when `$os` is absent or `null`, a non-null `$os_name` is lifted
//!   as `$os` and `$initial_os`; `$os_name` itself never reaches the person;
//! - `$snapshot` and `$performance_event` are left alone;
//! - a `$set` / `$set_once` that is not an object is replaced when something is lifted.
//!
//! The worker applies this only to events that process persons (personless events and
//! `$groupidentify` lose their person operations anyway).

use serde_json::{Map, Value};

/// The event properties copied into the person, in PostHog's order.
pub const LIFTED_KEYS: [&str; 33] = [
    // mobile
    "$app_build",
    "$app_name",
    "$app_namespace",
    "$app_version",
    // web
    "$browser",
    "$browser_version",
    "$device_type",
    "$current_url",
    "$pathname",
    "$os",
    "$os_version",
    "$referring_domain",
    "$referrer",
    // campaign parameters
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_name",
    "utm_term",
    "gclid",
    "gad_source",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
    "twclid",
    "li_fat_id",
    "mc_cid",
    "igshid",
    "ttclid",
    "rdt_cid",
];

/// Events whose properties are never lifted.
const NOT_LIFTED_EVENTS: [&str; 2] = ["$snapshot", "$performance_event"];

/// `$initial_<key without its first $>`: `$current_url` → `$initial_current_url`,
/// `utm_source` → `$initial_utm_source`.
pub fn initial_key(key: &str) -> String {
    format!("$initial_{}", key.replacen('$', "", 1))
}

/// Lifts the person-ish properties of event `event` into its `properties.$set` / `$set_once`.
/// Returns true when something was lifted (the properties changed).
pub fn lift_person_properties(event: &str, properties: &mut Map<String, Value>) -> bool {
    if NOT_LIFTED_EVENTS.contains(&event) {
        return false;
    }
    let is_server = properties.get("$is_server") == Some(&Value::Bool(true));
    let mut found: Vec<(&'static str, Value)> = LIFTED_KEYS
        .iter()
        .filter(|key| !(is_server && matches!(**key, "$os" | "$os_version")))
        .filter_map(|key| properties.get(*key).map(|v| (*key, v.clone())))
        .collect();
    let os_alias = properties
        .get("$os_name")
        .filter(|v| !v.is_null() && !is_server)
        .cloned();
    if let Some(os_name) = os_alias {
        match found.iter_mut().find(|(k, _)| *k == "$os") {
            Some((_, v)) if v.is_null() => *v = os_name,
            Some(_) => {}
            None => found.push(("$os", os_name)),
        }
    }
    if found.is_empty() {
        return false;
    }
    let mut set = object_or_empty(properties.get("$set"));
    let mut set_once = object_or_empty(properties.get("$set_once"));
    for (key, value) in found {
        let initial = initial_key(key);
        if !value.is_null() && !set_once.contains_key(&initial) {
            set_once.insert(initial, value.clone());
        }
        if !set.contains_key(key) {
            set.insert(key.to_string(), value);
        }
    }
    properties.insert("$set".into(), Value::Object(set));
    properties.insert("$set_once".into(), Value::Object(set_once));
    true
}

fn object_or_empty(value: Option<&Value>) -> Map<String, Value> {
    match value {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn lifted(event: &str, v: Value) -> Map<String, Value> {
        let mut props = map(v);
        lift_person_properties(event, &mut props);
        props
    }

    #[test]
    fn initial_keys_drop_the_first_dollar_only() {
        assert_eq!(initial_key("$current_url"), "$initial_current_url");
        assert_eq!(initial_key("utm_source"), "$initial_utm_source");
        assert_eq!(initial_key("gclid"), "$initial_gclid");
        assert_eq!(LIFTED_KEYS.len(), 33);
        assert!(!LIFTED_KEYS.contains(&"$os_name"));
    }

    #[test]
    fn lifts_into_set_and_initial_into_set_once() {
        let props = lifted(
            "$pageview",
            json!({"$current_url": "https://a/x", "utm_source": "news", "$browser": "Chrome",
                   "other": 1, "$lib": "web"}),
        );
        assert_eq!(
            props["$set"],
            json!({"$current_url": "https://a/x", "utm_source": "news", "$browser": "Chrome"})
        );
        assert_eq!(
            props["$set_once"],
            json!({"$initial_current_url": "https://a/x", "$initial_utm_source": "news",
                   "$initial_browser": "Chrome"})
        );
        // The event's own properties stay.
        assert_eq!(props["$current_url"], "https://a/x");
        assert_eq!(props["other"], 1);
    }

    #[test]
    fn explicit_set_and_set_once_win() {
        let props = lifted(
            "$identify",
            json!({"$current_url": "lifted", "$set": {"$current_url": "mine", "email": "e"},
                   "$set_once": {"$initial_current_url": "first"}}),
        );
        assert_eq!(props["$set"], json!({"$current_url": "mine", "email": "e"}));
        assert_eq!(props["$set_once"], json!({"$initial_current_url": "first"}));
    }

    #[test]
    fn nothing_to_lift_changes_nothing() {
        let before = map(json!({"a": 1, "$set": "not an object"}));
        let mut props = before.clone();
        assert!(!lift_person_properties("e", &mut props));
        assert_eq!(props, before);
    }

    #[test]
    fn nulls_go_to_set_but_never_to_set_once() {
        let props = lifted("e", json!({"gclid": null, "utm_medium": "cpc"}));
        assert_eq!(props["$set"], json!({"gclid": null, "utm_medium": "cpc"}));
        assert_eq!(props["$set_once"], json!({"$initial_utm_medium": "cpc"}));
    }

    #[test]
    fn malformed_set_is_replaced_when_something_is_lifted() {
        let props = lifted("e", json!({"$os": "Linux", "$set": 5, "$set_once": [1]}));
        assert_eq!(props["$set"], json!({"$os": "Linux"}));
        assert_eq!(props["$set_once"], json!({"$initial_os": "Linux"}));
    }

    #[test]
    fn server_events_keep_their_host_os_off_the_person() {
        let props = lifted(
            "e",
            json!({"$is_server": true, "$os": "Linux", "$os_version": "6", "$os_name": "Linux",
                   "$current_url": "u"}),
        );
        assert_eq!(props["$set"], json!({"$current_url": "u"}));
        assert_eq!(props["$set_once"], json!({"$initial_current_url": "u"}));
        let props = lifted("e", json!({"$is_server": true, "$os": "Linux"}));
        assert!(!props.contains_key("$set"));
    }

    #[test]
    fn os_name_is_an_alias_of_os() {
        let props = lifted("e", json!({"$os_name": "iOS"}));
        assert_eq!(props["$set"], json!({"$os": "iOS"}));
        assert_eq!(props["$set_once"], json!({"$initial_os": "iOS"}));
        let props = lifted("e", json!({"$os": null, "$os_name": "iOS"}));
        assert_eq!(props["$set"], json!({"$os": "iOS"}));
        let props = lifted("e", json!({"$os": "Android", "$os_name": "iOS"}));
        assert_eq!(props["$set"], json!({"$os": "Android"}));
        assert_eq!(props["$set_once"], json!({"$initial_os": "Android"}));
        let props = lifted("e", json!({"$os_name": null}));
        assert!(!props.contains_key("$set"));
    }

    #[test]
    fn recordings_and_performance_events_are_not_lifted() {
        for event in NOT_LIFTED_EVENTS {
            let props = lifted(event, json!({"$current_url": "u"}));
            assert!(!props.contains_key("$set"), "{event}");
        }
    }
}
