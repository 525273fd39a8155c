//! JavaScript's conversions, which PostHog's VM inherits from its host language: `Number(x)`,
//! `String(x)`, number printing (`Number.prototype.toString`), relational comparison and UTF-16 lengths.

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::value::Value;

/// Formats a number as JavaScript's `String(n)` does (shortest round-trip digits, exponent outside
/// 1e-7 ≤ |n| < 1e21).
pub fn number_to_string(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "d.ddde±x".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    let n = exp + 1; // the decimal point sits after n digits
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        for _ in 0..(n - k) {
            out.push('0');
        }
    } else if 0 < n && n <= 21 {
        let (a, b) = digits.split_at(usize::try_from(n).unwrap_or(0));
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        for _ in 0..(-n) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let (a, b) = digits.split_at(1);
        out.push_str(a);
        if !b.is_empty() {
            out.push('.');
            out.push_str(b);
        }
        out.push('e');
        let e = n - 1;
        if e >= 0 {
            out.push('+');
        }
        let _ = write!(out, "{e}");
    }
    out
}

/// `String(n)` for a number value.
pub fn num_str(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Float(f) => number_to_string(*f),
        _ => String::new(),
    }
}

/// JavaScript's `String(x)` (arrays join with `,`, dicts are `[object Map]`, other objects
/// `[object Object]`).
pub fn to_string(v: &Value) -> String {
    let mut out = String::new();
    write_string(v, &mut out, &mut Vec::new());
    out
}

fn write_string(v: &Value, out: &mut String, path: &mut Vec<usize>) {
    if path.len() >= crate::print::MAX_DEPTH {
        return;
    }
    stacker::maybe_grow(32 * 1024, 1024 * 1024, || write_string_inner(v, out, path));
}

fn write_string_inner(v: &Value, out: &mut String, path: &mut Vec<usize>) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => out.push_str(&number_to_string(*f)),
        Value::Str(s) => out.push_str(s),
        Value::Array(a) | Value::Tuple(a) => {
            let p = Rc_ptr(v);
            if path.contains(&p) {
                return; // JavaScript's join prints a cycle as ''
            }
            path.push(p);
            for (i, item) in a.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !matches!(item, Value::Null) {
                    write_string(item, out, path);
                }
            }
            path.pop();
        }
        Value::Dict(_) => out.push_str("[object Map]"),
        _ => out.push_str("[object Object]"),
    }
}

#[allow(non_snake_case)]
fn Rc_ptr(v: &Value) -> usize {
    v.ptr().unwrap_or(0)
}

/// JavaScript's `Number(s)` for a string.
pub fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    let lower = t.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = lower.strip_prefix(prefix) {
            if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
                return f64::NAN;
            }
            let mut acc = 0f64;
            for c in rest.chars() {
                acc = acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0));
            }
            return acc;
        }
    }
    match t {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    // Only decimal literals: digits, one dot, an exponent. Rust's parser also takes "inf"/"nan": refuse.
    let ok = t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && t.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// JavaScript's `Number(x)`.
pub fn to_number(v: &Value) -> f64 {
    match v {
        Value::Null => 0.0,
        Value::Bool(b) => f64::from(u8::from(*b)),
        #[allow(clippy::cast_precision_loss)]
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Str(s) => string_to_number(s),
        Value::Array(_) | Value::Tuple(_) => string_to_number(&to_string(v)),
        _ => f64::NAN,
    }
}

/// JavaScript's `parseInt(String(x))` (radix 10).
pub fn parse_int(v: &Value) -> Option<f64> {
    if let Value::Int(i) = v {
        #[allow(clippy::cast_precision_loss)]
        return Some(*i as f64);
    }
    let s = to_string(v);
    let t = s.trim_start();
    let (neg, rest) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, rest) = if rest.len() >= 2 && (rest.starts_with("0x") || rest.starts_with("0X")) {
        (16, &rest[2..])
    } else {
        (10, rest)
    };
    let digits: Vec<u32> = rest.chars().map_while(|c| c.to_digit(radix)).collect();
    if digits.is_empty() {
        return None;
    }
    let mut acc = 0f64;
    for d in digits {
        acc = acc * f64::from(radix) + f64::from(d);
    }
    Some(if neg { -acc } else { acc })
}

/// JavaScript's `parseFloat(String(x))`.
pub fn parse_float(v: &Value) -> Option<f64> {
    if v.is_number() {
        return v.as_f64();
    }
    let s = to_string(v);
    let t = s.trim_start();
    for (lit, val) in [
        ("Infinity", f64::INFINITY),
        ("+Infinity", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ] {
        if t.starts_with(lit) {
            return Some(val);
        }
    }
    // The longest prefix that is a decimal literal.
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut has_digits = i > int_start;
    if i < b.len() && b[i] == b'.' {
        let frac = i + 1;
        let mut j = frac;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > frac || has_digits {
            has_digits = has_digits || j > frac;
            i = j;
        }
    }
    if !has_digits {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let ds = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > ds {
            i = j;
        }
    }
    t[..i].parse::<f64>().ok()
}

/// The number of UTF-16 code units (JavaScript's `length`).
pub fn utf16_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

/// Compares strings by UTF-16 code units, as JavaScript's `<` does.
pub fn cmp_str(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// JavaScript's `ToPrimitive` for the relational operators: strings stay strings, numbers numbers.
enum Prim {
    Num(f64),
    Str(String),
}

fn to_primitive(v: &Value) -> Prim {
    match v {
        Value::Str(s) => Prim::Str(s.to_string()),
        Value::Array(_) | Value::Tuple(_) | Value::Dict(_) => Prim::Str(to_string(v)),
        Value::Closure(_)
        | Value::Callable(_)
        | Value::Error(_)
        | Value::DateTime(_)
        | Value::Date(_) => Prim::Str("[object Object]".into()),
        other => Prim::Num(to_number(other)),
    }
}

/// JavaScript's `a < b`-family: `None` when the comparison is undefined (a NaN is involved).
pub fn relational(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
        return x.partial_cmp(&y);
    }
    if let (Value::Str(x), Value::Str(y)) = (a, b) {
        return Some(cmp_str(x, y));
    }
    match (to_primitive(a), to_primitive(b)) {
        (Prim::Str(x), Prim::Str(y)) => Some(cmp_str(&x, &y)),
        (x, y) => {
            let x = match x {
                Prim::Num(n) => n,
                Prim::Str(s) => string_to_number(&s),
            };
            let y = match y {
                Prim::Num(n) => n,
                Prim::Str(s) => string_to_number(&s),
            };
            x.partial_cmp(&y)
        }
    }
}

/// Whether `s` is a canonical array index ("0", "17", not "01"), as JavaScript orders object keys.
pub fn array_index(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok().filter(|&n| n != u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(f: f64, want: &str) {
        assert_eq!(number_to_string(f), want);
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        check(1.0, "1");
        check(-0.5, "-0.5");
        check(0.1 + 0.2, "0.30000000000000004");
        check(1e21, "1e+21");
        check(123_456_789_012_345_680_000.0, "123456789012345680000");
        check(1e-7, "1e-7");
        check(0.000_001, "0.000001");
        check(1.5e-10, "1.5e-10");
        check(f64::NAN, "NaN");
        check(-f64::INFINITY, "-Infinity");
    }

    #[test]
    fn strings_convert_to_numbers_as_javascript_does() {
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number("0x1f"), 31.0);
        assert!(string_to_number("1a").is_nan());
        assert!(string_to_number("inf").is_nan());
        assert_eq!(parse_int(&Value::str("42px")), Some(42.0));
        assert_eq!(parse_float(&Value::str("3.5e2x")), Some(350.0));
        assert_eq!(parse_float(&Value::str(".5")), Some(0.5));
        assert_eq!(parse_float(&Value::str("abc")), None);
    }
}
