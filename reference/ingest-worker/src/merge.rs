//! Identity merges as pure decisions: which distinct id an `$identify` / `$create_alias` /
//! `$merge_dangerously` event links, whether that is allowed, and which person survives. The store
//! carries the decision out.

use serde_json::{Map, Value};

/// Ingestion warning: one of the ids is a placeholder such as `anonymous` or `null`.
pub const WARN_ILLEGAL_ID: &str = "cannot_merge_with_illegal_distinct_id";
/// Ingestion warning: the person to be merged away is already identified.
pub const WARN_ALREADY_IDENTIFIED: &str = "cannot_merge_already_identified";

/// A merge an event asks for: link `other` into the event's own distinct id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// `$anon_distinct_id` of `$identify`, or `alias` of `$create_alias` / `$merge_dangerously`.
    pub other: String,
    /// `$merge_dangerously`: the other person is merged away even when it is already identified.
    pub dangerously: bool,
}

/// The merge `event` asks for, if any: `$identify` with `$anon_distinct_id`, `$create_alias` or
/// `$merge_dangerously` with `alias` (a string, or a number taken as its text).
pub fn merge_request(event: &str, properties: &Map<String, Value>) -> Option<MergeRequest> {
    let key = match event {
        "$identify" => "$anon_distinct_id",
        "$create_alias" | "$merge_dangerously" => "alias",
        _ => return None,
    };
    let other = match properties.get(key)? {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(MergeRequest {
        other,
        dangerously: event == "$merge_dangerously",
    })
}

const ILLEGAL_IGNORING_CASE: &[&str] = &[
    "anonymous",
    "guest",
    "distinctid",
    "distinct_id",
    "id",
    "not_authenticated",
    "email",
    "undefined",
    "true",
    "false",
];
const ILLEGAL_EXACT: &[&str] = &[
    "[object Object]",
    "NaN",
    "None",
    "none",
    "null",
    "0",
    "undefined",
];

/// True for ids that must never be merged: blanks, placeholders, and their quoted forms.
pub fn is_illegal_distinct_id(id: &str) -> bool {
    let trimmed = id.trim();
    let unquoted = trimmed
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| {
            trimmed
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
        })
        .unwrap_or(trimmed)
        .trim();
    unquoted.is_empty()
        || ILLEGAL_IGNORING_CASE
            .iter()
            .any(|bad| bad.eq_ignore_ascii_case(unquoted))
        || ILLEGAL_EXACT.contains(&unquoted)
}

/// What the store knows about the person of one distinct id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PersonFacts {
    /// The person's row id.
    pub id: i64,
    pub is_identified: bool,
}

/// What to do for a merge request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeDecision {
    /// Same id, or both ids already belong to the same person: only mark it identified.
    AlreadyLinked,
    /// Refused with an ingestion warning; the event is still ingested with its own person.
    Refused { warning: &'static str },
    /// Neither id has a person: create one holding both ids.
    CreateWithBoth,
    /// Only one id has a person: add the other distinct id to it.
    AddDistinctId {
        /// The person that gets the id.
        person: i64,
        /// The distinct id to add.
        distinct_id: String,
    },
    /// Both have persons: `source` is merged into `target` and deleted; `target` survives.
    Merge { target: i64, source: i64 },
}

/// Decides a merge of `other` (with its person, if any) into the event's `distinct_id` (with its person).
/// The event's own person survives; the other person is merged away unless it is already identified.
pub fn decide(
    distinct_id: &str,
    person: Option<PersonFacts>,
    other: &str,
    other_person: Option<PersonFacts>,
) -> MergeDecision {
    decide_for(distinct_id, person, other, other_person, false)
}

/// [`decide`], with `dangerously` (`$merge_dangerously`) lifting the one guard on identified persons:
/// the illegal-id guard still applies.
pub fn decide_for(
    distinct_id: &str,
    person: Option<PersonFacts>,
    other: &str,
    other_person: Option<PersonFacts>,
    dangerously: bool,
) -> MergeDecision {
    if distinct_id == other {
        return MergeDecision::AlreadyLinked;
    }
    if is_illegal_distinct_id(distinct_id) || is_illegal_distinct_id(other) {
        return MergeDecision::Refused {
            warning: WARN_ILLEGAL_ID,
        };
    }
    match (person, other_person) {
        (None, None) => MergeDecision::CreateWithBoth,
        (Some(p), None) => MergeDecision::AddDistinctId {
            person: p.id,
            distinct_id: other.to_string(),
        },
        (None, Some(o)) => MergeDecision::AddDistinctId {
            person: o.id,
            distinct_id: distinct_id.to_string(),
        },
        (Some(p), Some(o)) if p.id == o.id => MergeDecision::AlreadyLinked,
        (Some(_), Some(o)) if o.is_identified && !dangerously => MergeDecision::Refused {
            warning: WARN_ALREADY_IDENTIFIED,
        },
        (Some(p), Some(o)) => MergeDecision::Merge {
            target: p.id,
            source: o.id,
        },
    }
}

/// Properties of the merged person: the source's overlaid by the target's (the event's own updates
/// are applied afterwards by the caller).
pub fn merged_properties(
    target: &Map<String, Value>,
    source: &Map<String, Value>,
) -> Map<String, Value> {
    let mut merged = source.clone();
    for (k, v) in target {
        merged.insert(k.clone(), v.clone());
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(id: i64, is_identified: bool) -> Option<PersonFacts> {
        Some(PersonFacts { id, is_identified })
    }

    #[test]
    fn identify_and_alias_name_the_other_id() {
        let props = json!({"$anon_distinct_id": "anon", "alias": "al"});
        let props = props.as_object().unwrap();
        assert_eq!(merge_request("$identify", props).unwrap().other, "anon");
        assert_eq!(merge_request("$create_alias", props).unwrap().other, "al");
        assert!(!merge_request("$create_alias", props).unwrap().dangerously);
        assert_eq!(
            merge_request("$merge_dangerously", props),
            Some(MergeRequest {
                other: "al".into(),
                dangerously: true
            })
        );
        let numeric = json!({"alias": 42});
        assert_eq!(
            merge_request("$merge_dangerously", numeric.as_object().unwrap())
                .unwrap()
                .other,
            "42"
        );
        assert_eq!(merge_request("$merge_dangerously", &Map::new()), None);
        assert_eq!(merge_request("$pageview", props), None);
        assert_eq!(merge_request("$identify", &Map::new()), None);
    }

    #[test]
    fn illegal_ids() {
        for id in [
            "anonymous",
            "Guest",
            " null ",
            "None",
            "\"undefined\"",
            "'id'",
            "",
            "  ",
            "0",
            "[object Object]",
            "NaN",
        ] {
            assert!(is_illegal_distinct_id(id), "{id:?}");
        }
        for id in ["user-1", "Null", "NULL", "NONE", "nan", "00", "object"] {
            assert!(!is_illegal_distinct_id(id), "{id:?}");
        }
    }

    #[test]
    fn decisions() {
        assert_eq!(
            decide("a", p(1, false), "a", None),
            MergeDecision::AlreadyLinked
        );
        assert_eq!(
            decide("user", None, "anonymous", None),
            MergeDecision::Refused {
                warning: WARN_ILLEGAL_ID
            }
        );
        assert_eq!(
            decide("user", None, "anon", None),
            MergeDecision::CreateWithBoth
        );
        assert_eq!(
            decide("user", None, "anon", p(7, false)),
            MergeDecision::AddDistinctId {
                person: 7,
                distinct_id: "user".into()
            }
        );
        assert_eq!(
            decide("user", p(3, true), "anon", None),
            MergeDecision::AddDistinctId {
                person: 3,
                distinct_id: "anon".into()
            }
        );
        assert_eq!(
            decide("user", p(3, true), "anon", p(3, true)),
            MergeDecision::AlreadyLinked
        );
        assert_eq!(
            decide("user", p(3, true), "anon", p(4, false)),
            MergeDecision::Merge {
                target: 3,
                source: 4
            }
        );
        assert_eq!(
            decide("user", p(3, false), "other-user", p(4, true)),
            MergeDecision::Refused {
                warning: WARN_ALREADY_IDENTIFIED
            }
        );
    }

    #[test]
    fn merge_dangerously_merges_identified_persons_but_not_illegal_ids() {
        assert_eq!(
            decide_for("user", p(3, true), "other-user", p(4, true), true),
            MergeDecision::Merge {
                target: 3,
                source: 4
            }
        );
        assert_eq!(
            decide_for("user", p(3, true), "null", p(4, true), true),
            MergeDecision::Refused {
                warning: WARN_ILLEGAL_ID
            }
        );
        assert_eq!(
            decide_for("user", p(3, true), "user", None, true),
            MergeDecision::AlreadyLinked
        );
        assert_eq!(
            decide_for("user", None, "other", p(4, true), true),
            MergeDecision::AddDistinctId {
                person: 4,
                distinct_id: "user".into()
            }
        );
    }

    #[test]
    fn target_properties_win_in_a_merge() {
        let t = json!({"a": "target", "t": 1});
        let s = json!({"a": "source", "s": 1});
        let merged = merged_properties(t.as_object().unwrap(), s.as_object().unwrap());
        assert_eq!(
            Value::Object(merged),
            json!({"a": "target", "s": 1, "t": 1})
        );
    }
}
