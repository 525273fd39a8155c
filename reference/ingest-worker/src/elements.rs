//! `$elements` (autocapture's element list) to the `elements_chain` string, as PostHog's ingestion
//! writes it: per element, from the innermost out, the tag, its classes (sorted, `"` removed) after
//! dots, then `:` and the attributes `key="value"` sorted by key (`text`, `nth-child`, `nth-of-type`,
//! `href`, `attr_id` and every `attr__*` of the element, `"` escaped as `\"`); elements are joined
//! by `;`. A non-empty `$elements_chain` sent by the client wins; both properties leave the event.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Longest `text` kept, in characters (`$el_text`).
pub const MAX_TEXT_CHARS: usize = 400;
/// Longest `href` kept, in characters (`attr__href`).
pub const MAX_HREF_CHARS: usize = 2048;

/// Removes `$elements_chain` and `$elements` from `properties` and returns the chain: the client's
/// `$elements_chain` when it is a non-empty value, else the chain built from a non-empty `$elements`
/// array, else the empty string.
pub fn take_elements_chain(properties: &mut Map<String, Value>) -> String {
    let chain = properties.shift_remove("$elements_chain");
    let elements = properties.shift_remove("$elements");
    match chain {
        Some(value) if is_truthy(&value) => js_string(&value),
        _ => match elements {
            Some(Value::Array(list)) if !list.is_empty() => elements_to_chain(&list),
            _ => String::new(),
        },
    }
}

/// The chain of an `$elements` array (items that are not objects count as elements without fields).
pub fn elements_to_chain(elements: &[Value]) -> String {
    let empty = Map::new();
    elements
        .iter()
        .map(|e| element_string(e.as_object().unwrap_or(&empty)))
        .collect::<Vec<_>>()
        .join(";")
}

fn element_string(el: &Map<String, Value>) -> String {
    let mut out = String::new();
    if let Some(tag) = el.get("tag_name").filter(|v| is_truthy(v)) {
        out.push_str(&js_string(tag));
    }
    let mut classes: Vec<String> = match el.get("attr__class") {
        Some(Value::Array(list)) => list.iter().map(js_string).collect(),
        Some(v) if is_truthy(v) => js_string(v).split(' ').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    classes.sort_by(|a, b| utf16_cmp(a, b));
    for class in classes {
        out.push('.');
        out.push_str(&class.replace('"', ""));
    }
    let mut attributes: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: String| {
        if let Some(slot) = attributes.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value;
        } else {
            attributes.push((key.to_string(), value));
        }
    };
    if let Some(text) = el.get("$el_text").filter(|v| is_truthy(v)) {
        set("text", truncate(&js_string(text), MAX_TEXT_CHARS));
    }
    set("nth-child", nullish_or_zero(el.get("nth_child")));
    set("nth-of-type", nullish_or_zero(el.get("nth_of_type")));
    if let Some(href) = el.get("attr__href").filter(|v| is_truthy(v)) {
        set("href", truncate(&js_string(href), MAX_HREF_CHARS));
    }
    if let Some(id) = el.get("attr__id").filter(|v| is_truthy(v)) {
        set("attr_id", js_string(id));
    }
    for (key, value) in el {
        if key.starts_with("attr__") {
            set(key, js_string(value));
        }
    }
    attributes.sort_by(|a, b| locale_cmp(&a.0, &b.0));
    out.push(':');
    for (key, value) in attributes {
        out.push_str(&escape_quotes(&key));
        out.push_str("=\"");
        out.push_str(&escape_quotes(&value));
        out.push('"');
    }
    out
}

fn escape_quotes(s: &str) -> String {
    s.replace('"', "\\\"")
}

fn truncate(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

/// `value ?? 0`, as a string.
fn nullish_or_zero(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "0".to_string(),
        Some(v) => js_string(v),
    }
}

/// JavaScript truthiness of a JSON value.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// JavaScript's `String(value)` for a JSON value.
fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e21 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

/// JavaScript's default `sort` order: UTF-16 code units.
fn utf16_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// An approximation of `String.prototype.localeCompare` (ICU root collation) good for attribute
/// names: first by primary weight (whitespace, then punctuation in CLDR's order, then digits, then
/// letters case-insensitively), then lower case before upper case, then code units.
fn locale_cmp(a: &str, b: &str) -> Ordering {
    let primary = |s: &str| -> Vec<(u8, u32)> { s.chars().map(primary_weight).collect() };
    let tertiary = |s: &str| -> Vec<bool> { s.chars().map(char::is_uppercase).collect() };
    primary(a)
        .cmp(&primary(b))
        .then_with(|| tertiary(a).cmp(&tertiary(b)))
        .then_with(|| utf16_cmp(a, b))
}

/// CLDR root order of common ASCII punctuation and symbols.
const PUNCTUATION: &str = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";

fn primary_weight(c: char) -> (u8, u32) {
    if c.is_whitespace() {
        (0, c as u32)
    } else if let Some(i) = PUNCTUATION.find(c) {
        (1, i as u32)
    } else if c.is_ascii_digit() {
        (2, c as u32)
    } else if c.is_alphabetic() {
        (3, c.to_lowercase().next().unwrap_or(c) as u32)
    } else {
        (1, 100 + c as u32)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn chain(elements: Value) -> String {
        let mut props = Map::new();
        props.insert("$elements".into(), elements);
        take_elements_chain(&mut props)
    }

    #[test]
    fn autocapture_elements_become_posthogs_chain() {
        // The first two elements of an `$autocapture` of PostHog's capture corpus
        // (rust/capture/tests/requests_dump.jsonl); the chain is what PostHog's elementsToString
        // makes of them.
        let got = chain(json!([
            {"tag_name": "span", "attr__data-attr": "persons-related-flags-tab", "nth_child": 1,
             "nth_of_type": 1, "$el_text": "Feature flags"},
            {"tag_name": "div", "classes": ["LemonTabs__tab-content"],
             "attr__class": "LemonTabs__tab-content", "nth_child": 1, "nth_of_type": 1},
            {"tag_name": "li", "classes": ["LemonTabs__tab"], "attr__class": "LemonTabs__tab",
             "attr__role": "tab", "attr__aria-selected": "false", "attr__tabindex": "0",
             "nth_child": 5, "nth_of_type": 5},
        ]));
        assert_eq!(
            got,
            concat!(
                r#"span:attr__data-attr="persons-related-flags-tab"nth-child="1"nth-of-type="1"text="Feature flags";"#,
                r#"div.LemonTabs__tab-content:attr__class="LemonTabs__tab-content"nth-child="1"nth-of-type="1";"#,
                r#"li.LemonTabs__tab:attr__aria-selected="false"attr__class="LemonTabs__tab"attr__role="tab"attr__tabindex="0"nth-child="5"nth-of-type="5""#
            )
        );
    }

    #[test]
    fn href_id_classes_quotes_and_defaults() {
        let got = chain(json!([
            {"tag_name": "a", "attr__href": "/a-url", "attr__id": "go", "attr__class": "small big",
             "$el_text": "say \"hi\"; bye", "attr__data-x": "semi;colon"},
            {"tag_name": "body"},
        ]));
        assert_eq!(
            got,
            concat!(
                r#"a.big.small:attr__class="small big"attr__data-x="semi;colon"attr__href="/a-url"attr__id="go"attr_id="go"href="/a-url"nth-child="0"nth-of-type="0"text="say \"hi\"; bye";"#,
                r#"body:nth-child="0"nth-of-type="0""#
            )
        );
    }

    #[test]
    fn a_client_chain_wins_and_both_properties_leave() {
        let mut props = Map::new();
        props.insert("$elements_chain".into(), json!("button:nth-child=\"1\""));
        props.insert("$elements".into(), json!([{"tag_name": "a"}]));
        props.insert("k".into(), json!(1));
        assert_eq!(take_elements_chain(&mut props), "button:nth-child=\"1\"");
        assert_eq!(Value::Object(props), json!({"k": 1}));
        // An empty chain does not win; an empty or non-array `$elements` gives nothing.
        let mut props = Map::new();
        props.insert("$elements_chain".into(), json!(""));
        props.insert("$elements".into(), json!([{"tag_name": "a"}]));
        assert_eq!(
            take_elements_chain(&mut props),
            "a:nth-child=\"0\"nth-of-type=\"0\""
        );
        assert_eq!(chain(json!([])), "");
        assert_eq!(chain(json!("span")), "");
    }

    #[test]
    fn long_text_and_href_are_cut() {
        let long = "x".repeat(5000);
        let got = chain(json!([{"$el_text": long, "attr__href": long}]));
        assert!(got.contains(&format!("text=\"{}\"", "x".repeat(MAX_TEXT_CHARS))));
        assert!(got.contains(&format!("href=\"{}\"", "x".repeat(MAX_HREF_CHARS))));
    }
}
