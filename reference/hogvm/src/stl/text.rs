//! Strings, JSON, types, errors and printing.

use std::rc::Rc;

use base64::Engine as _;

use super::{Ctx, Row, arg, hog_typeof, type_err};
use crate::error::{Error, Result};
use crate::js::{self, utf16_len};
use crate::ops;
use crate::print::{json_stringify, print_output};
use crate::program::{JsonFlavor, json_to_value, new_error};
use crate::value::{Key, Value};

pub(super) const FUNCTIONS: &[Row] = &[
    ("concat", 1, None, concat),
    ("match", 2, Some(2), match_),
    ("extractRegex", 2, Some(2), extract_regex),
    ("like", 2, Some(2), like),
    ("ilike", 2, Some(2), like),
    ("notLike", 2, Some(2), like),
    ("notILike", 2, Some(2), like),
    ("toString", 1, Some(2), to_string),
    ("toUUID", 1, Some(1), to_string),
    ("toInt", 1, Some(1), to_int),
    ("toFloat", 1, Some(1), to_float),
    ("ifNull", 2, Some(2), if_null),
    ("isNull", 1, Some(1), is_null),
    ("isNotNull", 1, Some(1), is_null),
    ("length", 1, Some(1), length),
    ("empty", 1, Some(1), empty),
    ("notEmpty", 1, Some(1), empty),
    ("tuple", 0, None, tuple),
    ("lower", 1, Some(1), lower),
    ("upper", 1, Some(1), upper),
    ("reverse", 1, Some(1), reverse),
    ("print", 0, None, print),
    ("jsonParse", 1, Some(1), json_parse),
    ("jsonStringify", 1, Some(2), json_stringify_fn),
    ("JSONHas", 1, None, json_has),
    ("isValidJSON", 1, Some(1), is_valid_json),
    ("JSONLength", 1, None, json_length),
    ("JSONExtractBool", 1, None, json_extract_bool),
    ("JSONExtract", 2, None, json_extract),
    ("JSONExtractArrayRaw", 1, None, json_extract_array_raw),
    ("JSONExtractFloat", 1, None, json_extract_float),
    ("JSONExtractInt", 1, None, json_extract_int),
    ("JSONExtractString", 1, None, json_extract_string),
    ("base64Encode", 1, Some(1), base64_encode),
    ("base64Decode", 1, Some(1), base64_decode),
    ("tryBase64Decode", 1, Some(1), base64_decode),
    ("encodeURLComponent", 1, Some(1), encode_url),
    ("decodeURLComponent", 1, Some(1), decode_url),
    ("tryDecodeURLComponent", 1, Some(1), decode_url),
    ("replaceOne", 3, Some(3), replace),
    ("replaceAll", 3, Some(3), replace),
    ("position", 2, Some(3), position),
    ("positionCaseInsensitive", 2, Some(3), position),
    ("trim", 1, Some(2), trim),
    ("trimLeft", 1, Some(2), trim),
    ("trimRight", 1, Some(2), trim),
    ("splitByString", 2, Some(3), split_by_string),
    ("generateUUIDv4", 0, Some(0), generate_uuid),
    ("randomFloat", 0, Some(0), random_float),
    ("HogError", 1, Some(3), hog_error),
    ("Error", 0, Some(2), named_error),
    ("RetryError", 0, Some(2), named_error),
    ("NotImplementedError", 0, Some(2), named_error),
    ("typeof", 1, Some(1), typeof_),
    ("startsWith", 2, Some(2), starts_with),
    ("substring", 2, Some(3), substring),
    ("multiSearchAnyCaseInsensitive", 2, Some(2), multi_search),
];

fn s(v: &str) -> Value {
    Value::str(v)
}

fn str_arg<'v>(ctx: &Ctx<'_>, v: &'v Value) -> Result<&'v str> {
    match v {
        Value::Str(s) => Ok(s),
        other => Err(type_err(ctx, other)),
    }
}

/// `STLToString`: dates as `YYYY-MM-DD`, datetimes as ISO 8601, strings as they are, the rest printed.
pub(crate) fn stl_to_string(v: &Value) -> Result<String> {
    match v {
        Value::Date(d) => {
            let two = |x: &Value| {
                let t = js::to_string(x);
                if js::to_number(x) < 10.0 {
                    format!("0{t}")
                } else {
                    t
                }
            };
            Ok(format!(
                "{}-{}-{}",
                js::to_string(&d.year),
                two(&d.month),
                two(&d.day)
            ))
        }
        Value::DateTime(d) => super::time::iso(d),
        other => Ok(print_output(other)),
    }
}

fn concat(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let mut out = String::new();
    for a in &args {
        if !matches!(a, Value::Null) {
            out.push_str(&stl_to_string(a)?);
        }
    }
    Ok(Value::string(out))
}

fn to_string(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::string(stl_to_string(arg(&args, 0))?))
}

fn regex_host(ctx: &mut Ctx<'_>, pattern: &str, value: &str) -> Result<bool> {
    Ok(ctx.vm.regex(pattern)?.is_match(value))
}

fn match_(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (v, re) = (arg(&args, 0), arg(&args, 1));
    if !v.truthy() || !re.truthy() {
        return Ok(Value::Bool(false));
    }
    Ok(Value::Bool(regex_host(
        ctx,
        &js::to_string(re),
        &js::to_string(v),
    )?))
}

fn extract_regex(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (v, re) = (arg(&args, 0), arg(&args, 1));
    if matches!(v, Value::Null) || matches!(re, Value::Null) {
        return Ok(s(""));
    }
    let re = ctx.vm.regex(&js::to_string(re))?;
    let hay = js::to_string(v);
    Ok(match re.captures(&hay) {
        Some(c) => s(c.get(1).or_else(|| c.get(0)).map_or("", |m| m.as_str())),
        None => s(""),
    })
}

fn like(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let ci = ctx.name == "ilike" || ctx.name == "notILike";
    let negate = ctx.name.starts_with("not");
    let pattern = ops::like_regex(arg(&args, 1), ci);
    let m = regex_host(ctx, &pattern, &js::to_string(arg(&args, 0)))?;
    Ok(Value::Bool(m != negate))
}

fn to_int(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::DateTime(d) => Ok(Value::number(js::to_number(&d.dt).floor())),
        Value::Date(d) => Ok(Value::number((ops::date_seconds(d) / 86400.0).floor())),
        v => Ok(js::parse_int(v).map_or(Value::Null, Value::number)),
    }
}

fn to_float(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::DateTime(d) => Ok(d.dt.clone()),
        Value::Date(d) => Ok(Value::number((ops::date_seconds(d) / 86400.0).floor())),
        v => Ok(js::parse_float(v)
            .filter(|f| !f.is_nan())
            .map_or(Value::Null, Value::number)),
    }
}

fn if_null(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let a = arg(&args, 0);
    Ok(if matches!(a, Value::Null) {
        arg(&args, 1).clone()
    } else {
        a.clone()
    })
}

fn is_null(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let null = matches!(arg(&args, 0), Value::Null);
    Ok(Value::Bool(if ctx.name == "isNull" { null } else { !null }))
}

fn length(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    #[allow(clippy::cast_possible_wrap)]
    match arg(&args, 0) {
        Value::Str(s) => Ok(Value::Int(utf16_len(s) as i64)),
        Value::Array(a) | Value::Tuple(a) => Ok(Value::Int(a.borrow().len() as i64)),
        Value::Null => Err(type_err(ctx, &Value::Null)),
        _ => Ok(Value::Null),
    }
}

pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) | Value::Tuple(a) => a.borrow().is_empty(),
        Value::Null => true,
        Value::Dict(d) => d.borrow().is_empty(),
        Value::Int(_) | Value::Float(_) | Value::Bool(_) => false,
        Value::Str(s) => s.is_empty(),
        _ => false,
    }
}

fn empty(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let e = is_empty(arg(&args, 0));
    Ok(Value::Bool(if ctx.name == "empty" { e } else { !e }))
}

fn tuple(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::tuple(args))
}

fn lower(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::Null => Ok(Value::Null),
        Value::Str(x) => Ok(Value::string(x.to_lowercase())),
        other => Err(type_err(ctx, other)),
    }
}

fn upper(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let x = str_arg(ctx, arg(&args, 0))?;
    Ok(Value::string(x.to_uppercase()))
}

fn reverse(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let x = str_arg(ctx, arg(&args, 0))?;
    if x.is_ascii() {
        return Ok(Value::string(x.chars().rev().collect()));
    }
    let mut units: Vec<u16> = x.encode_utf16().collect();
    units.reverse();
    Ok(Value::string(String::from_utf16_lossy(&units)))
}

fn print(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let parts: Vec<String> = args.iter().map(print_output).collect();
    ctx.host.print(&parts.join(" "));
    Ok(Value::Null)
}

fn parse_json(text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| Error::type_error(format!("invalid JSON: {e}")))
}

fn json_parse(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let text = match args.first() {
        None => "undefined".to_string(),
        Some(v) => js::to_string(v),
    };
    Ok(json_to_value(&parse_json(&text)?, JsonFlavor::Parse))
}

fn json_stringify_fn(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let indent = match arg(&args, 1) {
        v @ (Value::Int(_) | Value::Float(_)) if v.truthy() && v.as_f64().unwrap_or(0.0) > 0.0 => {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = v.as_f64().unwrap_or(0.0).min(10.0).floor() as usize;
            n
        }
        _ => 0,
    };
    if args.is_empty() {
        return Ok(Value::Null);
    }
    Ok(Value::string(json_stringify(arg(&args, 0), indent)))
}

/// `JSON.parse` when the value is a string, as the `JSONExtract*` family does first.
fn parsed(v: &Value) -> Option<Value> {
    match v {
        Value::Str(s) => serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .map(|j| json_to_value(&j, JsonFlavor::Raw)),
        other => Some(other.clone()),
    }
}

/// `getNestedValue(obj, path, true)`.
fn nested(obj: &Value, path: &[Value]) -> Result<Value> {
    if !obj.is_object() {
        return Ok(Value::Null);
    }
    let mut cur = obj.clone();
    for key in path {
        if matches!(cur, Value::Null) {
            return Ok(Value::Null);
        }
        cur = ops::get_property(&cur, key)?;
    }
    Ok(cur)
}

fn json_has(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let mut cur = arg(&args, 0).clone();
    for key in args.iter().skip(1) {
        let parsed = match &cur {
            Value::Str(s) => match serde_json::from_str::<serde_json::Value>(s) {
                Ok(j) => json_to_value(&j, JsonFlavor::Raw),
                Err(_) => return Ok(Value::Bool(false)),
            },
            other => other.clone(),
        };
        match &parsed {
            Value::Dict(d) => {
                let next = d.borrow().get(&Key(key.clone())).cloned();
                match next {
                    Some(v) => cur = v,
                    None => return Ok(Value::Bool(false)),
                }
            }
            Value::Array(a) | Value::Tuple(a) => {
                if let Some(k) = key.as_f64() {
                    let items = a.borrow();
                    #[allow(clippy::cast_precision_loss)]
                    let len = items.len() as f64;
                    if k < 0.0 {
                        if k < -len {
                            return Ok(Value::Bool(false));
                        }
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let idx = (len + k) as usize;
                        cur = items.get(idx).cloned().unwrap_or(Value::Null);
                    } else if k == 0.0 {
                        return Ok(Value::Bool(false));
                    } else {
                        if k > len {
                            return Ok(Value::Bool(false));
                        }
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        let idx = (k - 1.0) as usize;
                        cur = items.get(idx).cloned().unwrap_or(Value::Null);
                    }
                } else {
                    let k = js::to_string(key);
                    if k == "length" {
                        #[allow(clippy::cast_possible_wrap)]
                        {
                            cur = Value::Int(a.borrow().len() as i64);
                        }
                    } else if let Some(i) =
                        js::array_index(&k).filter(|&i| (i as usize) < a.borrow().len())
                    {
                        cur = a.borrow()[i as usize].clone();
                    } else {
                        return Ok(Value::Bool(false));
                    }
                }
            }
            Value::Null => {
                return Err(Error::type_error(
                    "Cannot use 'in' operator to search for a key in null",
                ));
            }
            Value::Error(_)
            | Value::Date(_)
            | Value::DateTime(_)
            | Value::Closure(_)
            | Value::Callable(_) => {
                if key.is_number() {
                    // a number key on a non-array object leaves `current` as it is
                } else {
                    match ops::get_property(&parsed, key)? {
                        Value::Null => return Ok(Value::Bool(false)),
                        v => cur = v,
                    }
                }
            }
            _ => return Ok(Value::Bool(false)),
        }
    }
    Ok(Value::Bool(true))
}

fn is_valid_json(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let text = args
        .first()
        .map_or_else(|| "undefined".to_string(), js::to_string);
    Ok(Value::Bool(
        serde_json::from_str::<serde_json::Value>(&text).is_ok(),
    ))
}

fn json_length(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Int(0));
    };
    if !obj.is_object() {
        return Ok(Value::Int(0));
    }
    #[allow(clippy::cast_possible_wrap)]
    Ok(match &nested(&obj, &args[1..])? {
        Value::Array(a) | Value::Tuple(a) => Value::Int(a.borrow().len() as i64),
        Value::Dict(d) => Value::Int(d.borrow().len() as i64),
        Value::Null => {
            return Err(Error::type_error(
                "Cannot convert undefined or null to object",
            ));
        }
        Value::Error(_) | Value::Date(_) => Value::Int(4),
        Value::DateTime(_) => Value::Int(3),
        _ => Value::Int(0),
    })
}

fn json_extract_bool(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(mut obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Bool(false));
    };
    if args.len() > 1 {
        obj = nested(&obj, &args[1..])?;
    }
    Ok(match obj {
        Value::Bool(b) => Value::Bool(b),
        _ => Value::Bool(false),
    })
}

fn json_extract(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    if args.len() < 2 {
        return Ok(Value::Null);
    }
    let Some(obj) = parsed(&args[0]) else {
        return Ok(Value::Null);
    };
    let path = if args.len() > 2 {
        &args[1..args.len() - 1]
    } else {
        &[][..]
    };
    nested(&obj, path)
}

fn json_extract_array_raw(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Null);
    };
    Ok(match nested(&obj, args.get(1..).unwrap_or(&[]))? {
        v @ (Value::Array(_) | Value::Tuple(_)) => v,
        _ => Value::Null,
    })
}

fn json_extract_float(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Null);
    };
    let v = nested(&obj, args.get(1..).unwrap_or(&[]))?;
    Ok(js::parse_float(&v)
        .filter(|f| !f.is_nan())
        .map_or(Value::Null, Value::number))
}

fn json_extract_int(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Null);
    };
    let v = nested(&obj, args.get(1..).unwrap_or(&[]))?;
    Ok(js::parse_int(&v).map_or(Value::Null, Value::number))
}

fn json_extract_string(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(obj) = parsed(arg(&args, 0)) else {
        return Ok(Value::Null);
    };
    Ok(match nested(&obj, args.get(1..).unwrap_or(&[]))? {
        Value::Null => Value::Null,
        v => Value::string(js::to_string(&v)),
    })
}

fn base64_encode(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let bytes: Vec<u8> = match arg(&args, 0) {
        Value::Str(x) => x.as_bytes().to_vec(),
        // `Buffer.from(array)`: each element as a byte (ToNumber, modulo 256).
        Value::Array(a) | Value::Tuple(a) => a
            .borrow()
            .iter()
            .map(|v| {
                let n = js::to_number(v);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let b = if n.is_finite() {
                    n.trunc().rem_euclid(256.0) as u8
                } else {
                    0
                };
                b
            })
            .collect(),
        other => return Err(type_err(ctx, other)),
    };
    Ok(Value::string(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
}

/// Node's lenient base64 decoding: both alphabets, other characters skipped, stops at `=`.
fn lenient_base64(input: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for c in input.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            #[allow(clippy::cast_possible_truncation)]
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    out
}

fn base64_decode(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::Str(x) => Ok(Value::string(
            String::from_utf8_lossy(&lenient_base64(x)).into_owned(),
        )),
        other if ctx.name == "tryBase64Decode" => {
            let _ = other;
            Ok(s(""))
        }
        other => Err(type_err(ctx, other)),
    }
}

fn encode_url(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let text = args
        .first()
        .map_or_else(|| "undefined".to_string(), js::to_string);
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(Value::string(out))
}

fn decode_url(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let text = args
        .first()
        .map_or_else(|| "undefined".to_string(), js::to_string);
    match decode_uri_component(&text) {
        Some(d) => Ok(Value::string(d)),
        None if ctx.name == "tryDecodeURLComponent" => Ok(Value::Null),
        None => Err(Error::type_error("URI malformed")),
    }
}

/// `decodeURIComponent`: every `%XX` run must be valid UTF-8, one character at a time.
fn decode_uri_component(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let hex = |i: usize| -> Option<u8> {
        let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
        u8::from_str_radix(h, 16)
            .ok()
            .filter(|_| h.bytes().all(|c| c.is_ascii_hexdigit()))
    };
    while i < b.len() {
        if b[i] != b'%' {
            let ch = text[i..].chars().next()?;
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let first = hex(i)?;
        let n = match first {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => return None,
        };
        let mut bytes = vec![first];
        i += 3;
        for _ in 1..n {
            if b.get(i) != Some(&b'%') {
                return None;
            }
            bytes.push(hex(i)?);
            i += 3;
        }
        out.push_str(std::str::from_utf8(&bytes).ok()?);
    }
    Some(out)
}

/// `GetSubstitution` of `String.prototype.replace` with a string pattern.
fn substitute(replacement: &str, matched: &str, before: &str, after: &str, out: &mut String) {
    let mut chars = replacement.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        if c == '$' {
            match chars.peek().map(|&(_, n)| n) {
                Some('$') => {
                    out.push('$');
                    chars.next();
                }
                Some('&') => {
                    out.push_str(matched);
                    chars.next();
                }
                Some('`') => {
                    out.push_str(before);
                    chars.next();
                }
                Some('\'') => {
                    out.push_str(after);
                    chars.next();
                }
                _ => out.push('$'),
            }
        } else {
            out.push(c);
        }
    }
}

fn replace(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let hay = str_arg(ctx, arg(&args, 0))?;
    let needle = js::to_string(arg(&args, 1));
    let replacement = js::to_string(arg(&args, 2));
    let all = ctx.name == "replaceAll";
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    let positions: Vec<usize> = if needle.is_empty() {
        let mut p: Vec<usize> = hay.char_indices().map(|(i, _)| i).collect();
        p.push(hay.len());
        p
    } else {
        hay.match_indices(needle.as_str()).map(|(i, _)| i).collect()
    };
    for pos in positions {
        out.push_str(&hay[last..pos]);
        substitute(
            &replacement,
            &needle,
            &hay[..pos],
            &hay[pos + needle.len()..],
            &mut out,
        );
        last = pos + needle.len();
        if !all {
            break;
        }
    }
    out.push_str(&hay[last..]);
    Ok(Value::string(out))
}

fn position(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Value::Str(hay) = arg(&args, 0) else {
        return Ok(Value::Int(0));
    };
    let needle = js::to_string(arg(&args, 1));
    let (hay, needle) = if ctx.name == "positionCaseInsensitive" {
        (hay.to_lowercase(), needle.to_lowercase())
    } else {
        (hay.to_string(), needle)
    };
    #[allow(clippy::cast_possible_wrap)]
    Ok(match hay.find(&needle) {
        Some(i) => Value::Int(utf16_len(&hay[..i]) as i64 + 1),
        None => Value::Int(0),
    })
}

fn trim(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let ch = match arg(&args, 1) {
        Value::Null => ' '.to_string(),
        Value::Str(c) => c.to_string(),
        _ => return Ok(s("")),
    };
    if utf16_len(&ch) != 1 {
        return Ok(s(""));
    }
    let hay = match arg(&args, 0) {
        Value::Str(x) => x.clone(),
        // JavaScript indexes and slices an array the same way: trimming works on elements.
        Value::Array(a) | Value::Tuple(a) => {
            let items = a.borrow();
            let is_ch = |v: &Value| matches!(v, Value::Str(x) if **x == *ch);
            let mut start = 0;
            let mut end = items.len();
            if ctx.name != "trimRight" {
                while start < end && is_ch(&items[start]) {
                    start += 1;
                }
            }
            if ctx.name != "trimLeft" {
                while end > start && is_ch(&items[end - 1]) {
                    end -= 1;
                }
            }
            if ctx.name == "trim" && start >= end {
                return Ok(s(""));
            }
            return Ok(Value::array(items[start..end].to_vec()));
        }
        other => return Err(type_err(ctx, other)),
    };
    let c = ch.chars().next().unwrap_or(' ');
    let out = match ctx.name {
        "trim" => hay.trim_matches(c),
        "trimLeft" => hay.trim_start_matches(c),
        _ => hay.trim_end_matches(c),
    };
    Ok(s(out))
}

fn split_by_string(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let sep = js::to_string(arg(&args, 0));
    let hay = str_arg(ctx, arg(&args, 1))?;
    let limit = match args.get(2) {
        None | Some(Value::Null) => usize::MAX,
        Some(v) => {
            let n = js::to_number(v);
            if n.is_finite() {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let l = (n.trunc().rem_euclid(4_294_967_296.0)) as usize;
                l
            } else {
                0
            }
        }
    };
    let parts: Vec<Value> = if sep.is_empty() {
        if hay.is_ascii() {
            hay.bytes()
                .take(limit)
                .map(|b| Value::string((b as char).to_string()))
                .collect()
        } else {
            hay.encode_utf16()
                .take(limit)
                .map(|u| Value::string(String::from_utf16_lossy(&[u])))
                .collect()
        }
    } else {
        hay.split(sep.as_str()).take(limit).map(s).collect()
    };
    Ok(Value::array(parts))
}

fn generate_uuid(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    let mut out = String::with_capacity(36);
    for c in "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".chars() {
        match c {
            'x' | 'y' => {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let r = (ctx.host.random() * 16.0) as u32 & 15;
                let v = if c == 'x' { r } else { (r & 0x3) | 0x8 };
                out.push(char::from_digit(v, 16).unwrap_or('0'));
            }
            c => out.push(c),
        }
    }
    Ok(Value::string(out))
}

fn random_float(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    Ok(Value::Float(ctx.host.random()))
}

fn hog_error(_: &mut Ctx<'_>, mut args: Vec<Value>) -> Result<Value> {
    let payload = if args.len() > 2 { args.pop() } else { None };
    Ok(Value::Error(Rc::new(new_error(
        arg(&args, 0).clone(),
        arg(&args, 1).clone(),
        payload,
    ))))
}

fn named_error(ctx: &mut Ctx<'_>, mut args: Vec<Value>) -> Result<Value> {
    let payload = if args.len() > 1 { args.pop() } else { None };
    Ok(Value::Error(Rc::new(new_error(
        s(ctx.name),
        arg(&args, 0).clone(),
        payload,
    ))))
}

fn typeof_(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(s(hog_typeof(arg(&args, 0))))
}

fn starts_with(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(match (arg(&args, 0), arg(&args, 1)) {
        (Value::Str(a), Value::Str(b)) => a.starts_with(&**b),
        _ => false,
    }))
}

fn substring(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Value::Str(hay) = arg(&args, 0) else {
        return Ok(s(""));
    };
    let start = js::to_number(arg(&args, 1)) - 1.0;
    #[allow(clippy::cast_precision_loss)]
    let len_units = utf16_len(hay) as f64;
    let length = match arg(&args, 2) {
        v if v.is_number() => v.as_f64().unwrap_or(0.0),
        _ => len_units - start,
    };
    if start < 0.0 || length < 0.0 || start.is_nan() || length.is_nan() {
        return Ok(s(""));
    }
    if start >= len_units {
        return Ok(s(""));
    }
    let end = (start + length).min(len_units);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let (a, b) = (start.trunc() as usize, end.trunc() as usize);
    if a >= b {
        return Ok(s(""));
    }
    if hay.is_ascii() {
        return Ok(s(&hay[a..b]));
    }
    let units: Vec<u16> = hay.encode_utf16().collect();
    Ok(Value::string(String::from_utf16_lossy(&units[a..b])))
}

fn multi_search(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (hay, needles) = (arg(&args, 0), arg(&args, 1));
    if matches!(hay, Value::Null) || matches!(needles, Value::Null) {
        return Ok(Value::Int(0));
    }
    let (Value::Array(list) | Value::Tuple(list)) = needles else {
        return Ok(Value::Int(0));
    };
    let hay = js::to_string(hay).to_lowercase();
    let found = list
        .borrow()
        .iter()
        .any(|n| hay.contains(&js::to_string(n).to_lowercase()));
    Ok(Value::Int(i64::from(found)))
}
