//! Property tests: the worker's pure rules never panic on what a Kafka message may hold. Any bytes
//! parse to an event or a clear error; any JSON properties go through the person, merge and group
//! rules; the only keys the group rules add are `$group_0` … `$group_4`.

use ingest_worker::event_row::{parse_message, strip_person_operations};
use ingest_worker::groups::{
    add_group_columns, apply_group_set, group_identify, group_types, strip_group_columns,
};
use ingest_worker::lift::{LIFTED_KEYS, initial_key, lift_person_properties};
use ingest_worker::merge::{decide_for, is_illegal_distinct_id, merge_request};
use ingest_worker::properties::PropertyUpdates;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z$_0-9\\x00]{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["company", "$group_0", "alias", "null", "", "0"])
            .prop_map(|s| Value::String(s.to_string())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "$groups",
            "$group_type",
            "$group_key",
            "$group_set",
            "$group_1",
            "$set",
            "$set_once",
            "$unset",
            "$anon_distinct_id",
            "alias",
            "$process_person_profile",
            "company",
            "$current_url",
            "$os",
            "$os_name",
            "$is_server",
            "utm_source",
            "gclid",
        ])
        .prop_map(str::to_string),
        "[a-z$]{1,6}",
    ]
}

fn properties() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(key(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_bytes_parse_or_fail_cleanly(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_message(&bytes);
    }

    #[test]
    fn any_message_shaped_json_parses_or_fails_cleanly(
        outer in prop::collection::btree_map(
            prop::sample::select(vec!["uuid", "distinct_id", "ip", "data", "now", "sent_at", "token",
                "event", "timestamp", "historical_migration"]).prop_map(str::to_string),
            json_value(), 0..10),
        inner in properties(),
    ) {
        let mut outer: Map<String, Value> = outer.into_iter().collect();
        if !outer.contains_key("data") {
            outer.insert("data".into(), Value::String(Value::Object(inner).to_string()));
        }
        let _ = parse_message(Value::Object(outer).to_string().as_bytes());
    }

    #[test]
    fn rules_never_panic(mut props in properties(), event in prop::sample::select(vec![
        "$groupidentify", "$identify", "$create_alias", "$merge_dangerously", "$pageview"])) {
        let updates = PropertyUpdates::from_properties(&props);
        let mut person = Map::new();
        let _ = updates.apply(&mut person);
        if let Some(request) = merge_request(event, &props) {
            let _ = is_illegal_distinct_id(&request.other);
            let _ = decide_for("me", None, &request.other, None, request.dangerously);
        }
        if let Some(g) = group_identify(event, &props) {
            prop_assert!(!g.group_key.is_empty() && !g.group_key.contains('\0'));
            let _ = apply_group_set(&Map::new(), &g.set);
        }
        let resolved: Vec<(String, i16)> = group_types(&props)
            .into_iter()
            .zip(0..5)
            .collect();
        let before: Vec<String> = props.keys().cloned().collect();
        add_group_columns(&mut props, &resolved);
        for k in props.keys().filter(|k| !before.contains(k)) {
            let index = k.strip_prefix("$group_").and_then(|n| n.parse::<i16>().ok());
            prop_assert!(index.is_some_and(|n| (0..5).contains(&n)), "added {k}");
        }
        strip_group_columns(&mut props);
        strip_person_operations(&mut props);
        prop_assert!(!props.keys().any(|k| k.starts_with("$group_") && k.len() == 8));
        prop_assert!(!props.contains_key("$set"));
    }

    /// Lifting only adds to `$set` / `$set_once`, never loses an explicit entry, leaves every other
    /// property alone, and a second pass changes nothing (the lifted values are already there).
    #[test]
    fn lifting_is_additive_and_idempotent(props in properties()) {
        let mut once = props.clone();
        let lifted = lift_person_properties("$pageview", &mut once);
        if !lifted {
            prop_assert_eq!(&once, &props);
        }
        for (k, v) in &props {
            if k == "$set" || k == "$set_once" {
                if let (Value::Object(before), true) = (v, lifted) {
                    for (ik, iv) in before {
                        prop_assert_eq!(once[k].get(ik), Some(iv), "{} lost {}", k, ik);
                    }
                }
            } else {
                prop_assert_eq!(once.get(k), Some(v));
            }
        }
        prop_assert_eq!(once.len(), props.len() + usize::from(lifted && !props.contains_key("$set"))
            + usize::from(lifted && !props.contains_key("$set_once")));
        if lifted {
            let set = once["$set"].as_object().expect("$set is an object");
            let set_once = once["$set_once"].as_object().expect("$set_once is an object");
            let server = props.get("$is_server") == Some(&Value::Bool(true));
            for key in LIFTED_KEYS {
                if props.contains_key(key) && !(server && key.starts_with("$os")) {
                    prop_assert!(set.contains_key(key), "{} not in $set", key);
                }
            }
            for (k, v) in set_once {
                if k.starts_with("$initial_") && props.get("$set_once").and_then(|s| s.get(k)).is_none() {
                    prop_assert!(!v.is_null(), "null {}", k);
                    prop_assert!(LIFTED_KEYS.iter().any(|l| initial_key(l) == *k));
                }
            }
        }
        let mut twice = once.clone();
        lift_person_properties("$pageview", &mut twice);
        prop_assert_eq!(twice, once);
        let mut untouched = props.clone();
        prop_assert!(!lift_person_properties("$snapshot", &mut untouched));
        prop_assert_eq!(untouched, props);
    }
}
