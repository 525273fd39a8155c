//! JSON output in PostHog's shape, written straight to a `String` (keys sorted like the oracle).

use std::fmt::Write as _;

use crate::ast::{Node, Value};
use crate::{Error, LineIndex};

/// Serialises `node`; with a line index, every node with a span gets `start`/`end`.
pub fn to_json_string(node: &Node, idx: Option<&LineIndex>) -> String {
    let mut out = String::with_capacity(256);
    write_node(&mut out, node, idx);
    out
}

fn write_pos(out: &mut String, idx: &LineIndex, b: u32) {
    let (line, col, off) = idx.position(b as usize);
    let _ = write!(out, "{{\"column\":{col},\"line\":{line},\"offset\":{off}}}");
}

/// Grows the stack on demand: the writer recurses once per tree level.
fn write_node(out: &mut String, n: &Node, idx: Option<&LineIndex>) {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || write_node_here(out, n, idx));
}

fn write_node_here(out: &mut String, n: &Node, idx: Option<&LineIndex>) {
    let mut keys: Vec<(&str, Option<&Value>)> = Vec::with_capacity(n.fields.len() + 3);
    keys.push(("node", None));
    let with_span = idx.is_some() && n.span.is_some();
    if with_span {
        keys.push(("start", None));
        keys.push(("end", None));
    }
    for (k, v) in &n.fields {
        keys.push((k, Some(v)));
    }
    keys.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push('{');
    for (i, (k, v)) in keys.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, k);
        out.push(':');
        match (k, v) {
            (_, Some(v)) => write_value(out, v, idx),
            (&"node", None) => write_str(out, n.kind),
            (&"start", None) => {
                if let (Some(ix), Some(s)) = (idx, n.span) {
                    write_pos(out, ix, s.start);
                }
            }
            (_, None) => {
                if let (Some(ix), Some(s)) = (idx, n.span) {
                    write_pos(out, ix, s.end);
                }
            }
        }
    }
    out.push('}');
}

fn write_value(out: &mut String, v: &Value, idx: Option<&LineIndex>) {
    match v {
        Value::Node(n) => write_node(out, n, idx),
        Value::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, x, idx);
            }
            out.push(']');
        }
        Value::Str(s) => write_str(out, s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            if f.is_finite() {
                let _ = write!(out, "{f:?}");
            } else {
                out.push_str("null");
            }
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
        Value::Map(m) => {
            let mut items: Vec<&(String, Value)> = m.iter().collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            out.push('{');
            for (i, (k, x)) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, x, idx);
            }
            out.push('}');
        }
    }
}

pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        last = i + 1;
    }
    out.push_str(&s[last..]);
    out.push('"');
}

/// The error envelope, with positions converted from bytes.
pub(crate) fn error_json(e: &Error, idx: &LineIndex) -> String {
    let (s, en) = e.offsets();
    let mut out = String::from("{\"end\":");
    write_pos(&mut out, idx, en as u32);
    out.push_str(",\"error\":true,\"message\":");
    write_str(&mut out, e.message());
    out.push_str(",\"start\":");
    write_pos(&mut out, idx, s as u32);
    out.push_str(",\"type\":");
    write_str(&mut out, e.type_name());
    out.push('}');
    out
}
