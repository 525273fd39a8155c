//! Printing values exactly as PostHog's VM does: `print`/`toString` (`printHogValue`: strings quoted with
//! `'`, tuples as `(a, b)`, dates as `DateTime(…)`, cycles as `null`), and `jsonStringify` (JavaScript's
//! `JSON.stringify` after PostHog's conversion: dicts become objects, functions `fn<name(n)>`).

use std::fmt::Write as _;

use crate::js::{array_index, num_str};
use crate::value::{Callable, Chunk, Value};

/// `'...'` with PostHog's escapes.
pub fn escape_string(s: &str, out: &mut String) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// An identifier as it prints in `fn<name(n)>`: bare when it is a plain identifier, else backquoted.
pub fn escape_identifier(name: &Value, out: &mut String) {
    let s = match name {
        Value::Str(s) => s.to_string(),
        v if v.is_number() => {
            out.push_str(&num_str(v));
            return;
        }
        v => crate::js::to_string(v),
    };
    let plain = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if plain {
        out.push_str(&s);
        return;
    }
    out.push('`');
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("``"),
            c => out.push(c),
        }
    }
    out.push('`');
}

/// `printHogValue`: how `print` shows a non-string and how values appear inside containers.
pub fn print_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(v, &mut out, &mut Vec::new());
    out
}

/// `printHogStringOutput`: strings as they are, everything else as [`print_value`].
pub fn print_output(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        other => print_value(other),
    }
}

fn write_list(items: &[Value], out: &mut String, path: &mut Vec<usize>) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(item, out, path);
    }
}

fn write_callable(c: &Callable, out: &mut String) {
    out.push_str("fn<");
    escape_identifier(&c.name, out);
    out.push('(');
    let _ = write!(out, "{}", c.arg_count);
    out.push_str(")>");
}

/// Nesting deeper than this prints as `null` (PostHog's VM fails with JavaScript's stack overflow
/// somewhere around here; Hogref neither overflows nor recurses without bound).
pub const MAX_DEPTH: usize = 10_000;

fn write_value(v: &Value, out: &mut String, path: &mut Vec<usize>) {
    if path.len() >= MAX_DEPTH {
        out.push_str("null");
        return;
    }
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || write_value_inner(v, out, path));
}

fn write_value_inner(v: &Value, out: &mut String, path: &mut Vec<usize>) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(_) => out.push_str(&num_str(v)),
        Value::Str(s) => escape_string(s, out),
        Value::Array(a) | Value::Tuple(a) => {
            let p = v.ptr().unwrap_or(0);
            if path.contains(&p) {
                out.push_str("null");
                return;
            }
            path.push(p);
            let items = a.borrow();
            if matches!(v, Value::Tuple(_)) {
                if items.len() < 2 {
                    out.push_str("tuple(");
                } else {
                    out.push('(');
                }
                write_list(&items, out, path);
                out.push(')');
            } else {
                out.push('[');
                write_list(&items, out, path);
                out.push(']');
            }
            path.pop();
        }
        Value::Dict(d) => {
            let p = v.ptr().unwrap_or(0);
            if path.contains(&p) {
                out.push_str("null");
                return;
            }
            path.push(p);
            out.push('{');
            for (i, (k, val)) in d.borrow().iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(&k.0, out, path);
                out.push_str(": ");
                write_value(val, out, path);
            }
            out.push('}');
            path.pop();
        }
        Value::DateTime(d) => {
            let millis = crate::js::to_string(&d.dt);
            out.push_str("DateTime(");
            out.push_str(&millis);
            if !millis.contains('.') {
                out.push_str(".0");
            }
            out.push_str(", ");
            escape_string(&crate::js::to_string(&d.zone), out);
            out.push(')');
        }
        Value::Date(d) => {
            let _ = write!(
                out,
                "Date({}, {}, {})",
                crate::js::to_string(&d.year),
                crate::js::to_string(&d.month),
                crate::js::to_string(&d.day)
            );
        }
        Value::Error(e) => {
            out.push_str(&crate::js::to_string(&e.kind));
            out.push('(');
            escape_string(&crate::js::to_string(&e.message), out);
            if let Some(p) = &e.payload
                && p.truthy()
            {
                out.push_str(", ");
                write_value(p, out, path);
            }
            out.push(')');
        }
        Value::Closure(c) => write_callable(&c.callable, out),
        Value::Callable(c) => write_callable(c, out),
    }
}

/// A JSON string literal as `JSON.stringify` writes it.
pub fn json_quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON tree in JavaScript's shape: objects keep JavaScript's key order (array-index keys first,
/// ascending, then the others in insertion order; a repeated key keeps its first place).
#[derive(Debug)]
enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
    /// A property whose value is `undefined`: left out.
    Skip,
}

fn obj_from(pairs: Vec<(String, Json)>) -> Json {
    let mut index: Vec<(String, Json)> = Vec::new();
    let mut other: Vec<(String, Json)> = Vec::new();
    for (k, v) in pairs {
        let list = if array_index(&k).is_some() {
            &mut index
        } else {
            &mut other
        };
        if let Some(slot) = list.iter_mut().find(|(key, _)| *key == k) {
            slot.1 = v;
        } else {
            list.push((k, v));
        }
    }
    index.sort_by_key(|(k, _)| array_index(k).unwrap_or(0));
    index.extend(other);
    Json::Obj(index)
}

fn number_json(v: &Value) -> Json {
    match v.as_f64() {
        Some(f) if f.is_finite() => Json::Num(num_str(v)),
        _ => Json::Null,
    }
}

fn callable_obj(c: &Callable) -> Json {
    let chunk = match &c.chunk {
        Chunk::Root => "root".to_string(),
        Chunk::Stl(_) => format!("stl/{}", crate::js::to_string(&c.name)),
        Chunk::None(n) => (*n).to_string(),
    };
    obj_from(vec![
        ("__hogCallable__".into(), Json::Str(c.kind.name().into())),
        ("name".into(), scalar_json(&c.name)),
        ("chunk".into(), Json::Str(chunk)),
        ("argCount".into(), Json::Num(c.arg_count.to_string())),
        (
            "upvalueCount".into(),
            Json::Num(c.upvalue_count.to_string()),
        ),
        ("ip".into(), Json::Num(c.ip.to_string())),
    ])
}

fn scalar_json(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(_) | Value::Float(_) => number_json(v),
        Value::Str(s) => Json::Str(s.to_string()),
        _ => Json::Null,
    }
}

/// The fields of the plain JavaScript objects (errors, dates), recursively converted by `conv`.
fn special_obj(v: &Value, conv: &mut dyn FnMut(&Value) -> Json) -> Option<Json> {
    Some(match v {
        Value::Error(e) => obj_from(vec![
            ("__hogError__".into(), Json::Bool(true)),
            ("type".into(), conv(&e.kind)),
            ("message".into(), conv(&e.message)),
            (
                "payload".into(),
                e.payload.as_ref().map_or(Json::Skip, &mut *conv),
            ),
        ]),
        Value::DateTime(d) => obj_from(vec![
            ("__hogDateTime__".into(), Json::Bool(true)),
            ("dt".into(), conv(&d.dt)),
            ("zone".into(), conv(&d.zone)),
        ]),
        Value::Date(d) => obj_from(vec![
            ("__hogDate__".into(), Json::Bool(true)),
            ("year".into(), conv(&d.year)),
            ("month".into(), conv(&d.month)),
            ("day".into(), conv(&d.day)),
        ]),
        _ => return None,
    })
}

/// PostHog's `jsonStringify` conversion, then JSON text.
fn to_json(v: &Value, path: &mut Vec<usize>) -> Json {
    if path.len() >= MAX_DEPTH {
        return Json::Null;
    }
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || to_json_inner(v, path))
}

fn to_json_inner(v: &Value, path: &mut Vec<usize>) -> Json {
    match v {
        Value::Array(a) | Value::Tuple(a) => {
            let p = v.ptr().unwrap_or(0);
            if path.contains(&p) {
                return Json::Null;
            }
            path.push(p);
            let out = Json::Arr(a.borrow().iter().map(|x| to_json(x, path)).collect());
            path.pop();
            out
        }
        Value::Dict(d) => {
            let p = v.ptr().unwrap_or(0);
            if path.contains(&p) {
                return Json::Null;
            }
            path.push(p);
            let pairs = d
                .borrow()
                .iter()
                .map(|(k, val)| {
                    // `obj[convert(key)]`: the key converts, then becomes a property name (String()).
                    let key = match &k.0 {
                        Value::Str(s) => s.to_string(),
                        Value::Array(_) | Value::Tuple(_) | Value::Dict(_) => {
                            json_text(&to_json(&k.0, path), None)
                        }
                        other => crate::js::to_string(other),
                    };
                    (key, to_json(val, path))
                })
                .collect();
            path.pop();
            obj_from(pairs)
        }
        Value::Closure(c) => Json::Str(closure_label(&c.callable)),
        Value::Callable(c) => Json::Str(closure_label(c)),
        Value::Error(_) | Value::DateTime(_) | Value::Date(_) => {
            special_obj(v, &mut |x| raw_json_tree(x, &mut Vec::new())).unwrap_or(Json::Null)
        }
        other => scalar_json(other),
    }
}

fn closure_label(c: &Callable) -> String {
    let name = if c.name.truthy() {
        crate::js::to_string(&c.name)
    } else {
        "lambda".into()
    };
    format!("fn<{name}({})>", c.arg_count)
}

/// `JSON.stringify` of a value as the VM holds it (dicts are JavaScript Maps, so `{}`), used in
/// PostHog's error messages.
fn raw_json_tree(v: &Value, path: &mut Vec<usize>) -> Json {
    if path.len() >= MAX_DEPTH {
        return Json::Null;
    }
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || raw_json_tree_inner(v, path))
}

fn raw_json_tree_inner(v: &Value, path: &mut Vec<usize>) -> Json {
    match v {
        Value::Array(a) | Value::Tuple(a) => {
            let p = v.ptr().unwrap_or(0);
            if path.contains(&p) {
                return Json::Null;
            }
            path.push(p);
            let out = Json::Arr(a.borrow().iter().map(|x| raw_json_tree(x, path)).collect());
            path.pop();
            out
        }
        Value::Dict(_) => Json::Obj(Vec::new()),
        Value::Callable(c) => callable_obj(c),
        Value::Closure(c) => obj_from(vec![
            ("__hogClosure__".into(), Json::Bool(true)),
            ("callable".into(), callable_obj(&c.callable)),
            (
                "upvalues".into(),
                Json::Arr(
                    c.upvalues
                        .iter()
                        .map(|u| Json::Num(u.to_string()))
                        .collect(),
                ),
            ),
        ]),
        Value::Error(_) | Value::DateTime(_) | Value::Date(_) => {
            special_obj(v, &mut |x| raw_json_tree(x, &mut Vec::new())).unwrap_or(Json::Null)
        }
        other => scalar_json(other),
    }
}

fn json_text(j: &Json, indent: Option<&str>) -> String {
    let mut out = String::new();
    write_json(j, indent, 0, &mut out);
    out
}

fn write_json(j: &Json, indent: Option<&str>, depth: usize, out: &mut String) {
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || {
        write_json_inner(j, indent, depth, out)
    });
}

fn write_json_inner(j: &Json, indent: Option<&str>, depth: usize, out: &mut String) {
    let newline = |out: &mut String, depth: usize| {
        if let Some(ind) = indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    };
    match j {
        Json::Null | Json::Skip => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Num(n) => out.push_str(n),
        Json::Str(s) => json_quote(s, out),
        Json::Arr(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_json(item, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push(']');
        }
        Json::Obj(pairs) => {
            let pairs: Vec<_> = pairs
                .iter()
                .filter(|(_, v)| !matches!(v, Json::Skip))
                .collect();
            if pairs.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                json_quote(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_json(v, indent, depth + 1, out);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

/// `jsonStringify(value[, indent])`; `None` where JavaScript returns `undefined` (never for Hog values).
pub fn json_stringify(v: &Value, indent: usize) -> String {
    let tree = to_json(v, &mut Vec::new());
    let ind = " ".repeat(indent.min(10));
    json_text(&tree, (indent > 0).then_some(ind.as_str()))
}

/// `JSON.stringify` of a raw VM value, as PostHog's error messages embed it.
pub fn raw_json(v: &Value) -> String {
    json_text(&raw_json_tree(v, &mut Vec::new()), None)
}
