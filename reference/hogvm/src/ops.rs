//! The operators' semantics, as PostHog's VM gets them from JavaScript: arithmetic on `Number(x)`,
//! comparisons after PostHog's type unification, `like` as an unanchored regex search, `in` as
//! `includes`, and property access with 1-based arrays.

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::js::{self, to_number};
use crate::value::{Date, Key, Value};

/// The comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
}

fn zero_sign(result: i64, a: i64, b: i64, negative_zero: bool) -> Value {
    if result == 0 && negative_zero && (a < 0 || b < 0) {
        Value::Float(-0.0)
    } else {
        Value::int(result)
    }
}

/// `Number(a) + Number(b)`.
pub fn add(a: &Value, b: &Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return Value::int(x + y); // |x|,|y| ≤ 2^53: cannot overflow i64
    }
    Value::number(to_number(a) + to_number(b))
}

/// `Number(a) - Number(b)`.
pub fn sub(a: &Value, b: &Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        return Value::int(x - y);
    }
    Value::number(to_number(a) - to_number(b))
}

/// `Number(a) * Number(b)`.
pub fn mul(a: &Value, b: &Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (a, b)
        && let Some(r) = x.checked_mul(*y)
    {
        // JavaScript: 0 * -5 is -0.
        return if r == 0 && (*x < 0 || *y < 0) {
            Value::Float(-0.0)
        } else {
            Value::int(r)
        };
    }
    Value::number(to_number(a) * to_number(b))
}

/// `Number(a) / Number(b)`.
pub fn div(a: &Value, b: &Value) -> Value {
    Value::number(to_number(a) / to_number(b))
}

/// `Number(a) % Number(b)`.
pub fn rem(a: &Value, b: &Value) -> Value {
    if let (Value::Int(x), Value::Int(y)) = (a, b) {
        if *y == 0 {
            return Value::Float(f64::NAN);
        }
        return zero_sign(x.wrapping_rem(*y), *x, 0, true);
    }
    Value::number(to_number(a) % to_number(b))
}

/// Epoch seconds of a date or datetime (a date is UTC midnight).
pub fn temporal_seconds(v: &Value) -> Option<Value> {
    match v {
        Value::DateTime(d) => Some(d.dt.clone()),
        Value::Date(d) => Some(Value::number(date_seconds(d))),
        _ => None,
    }
}

/// Seconds since the epoch of UTC midnight of a date.
pub fn date_seconds(d: &Date) -> f64 {
    let (y, m, day) = (to_number(&d.year), to_number(&d.month), to_number(&d.day));
    if !(y.is_finite() && m.is_finite() && day.is_finite()) {
        return f64::NAN;
    }
    #[allow(clippy::cast_possible_truncation)]
    let days = crate::date::days_from_civil(y as i64, m as i64, day as i64);
    #[allow(clippy::cast_precision_loss)]
    let s = days as f64 * 86400.0;
    s
}

fn unify(left: &Value, right: &Value) -> (Value, Value) {
    let ls = temporal_seconds(left);
    let rs = temporal_seconds(right);
    match (&ls, &rs) {
        (Some(l), Some(r)) => return (l.clone(), r.clone()),
        (Some(l), None) => {
            if let Value::Str(s) = right
                && let Some(r) = crate::date::parse_date_like(s)
            {
                return (l.clone(), Value::number(r));
            }
        }
        (None, Some(r)) => {
            if let Value::Str(s) = left
                && let Some(l) = crate::date::parse_date_like(s)
            {
                return (Value::number(l), r.clone());
            }
        }
        (None, None) => {}
    }
    match (left, right) {
        (l, Value::Str(s)) if l.is_number() => (l.clone(), Value::number(js::string_to_number(s))),
        (Value::Str(s), r) if r.is_number() => (Value::number(js::string_to_number(s)), r.clone()),
        (Value::Bool(b), Value::Str(s)) => (Value::Bool(*b), Value::Bool(&**s == "true")),
        (Value::Str(s), Value::Bool(b)) => (Value::Bool(&**s == "true"), Value::Bool(*b)),
        (Value::Bool(b), r) if r.is_number() => (Value::Int(i64::from(*b)), r.clone()),
        (l, Value::Bool(b)) if l.is_number() => (l.clone(), Value::Int(i64::from(*b))),
        _ => (left.clone(), right.clone()),
    }
}

fn finite_numbers(items: &[Value]) -> bool {
    items.iter().all(|v| v.as_f64().is_some_and(f64::is_finite))
}

/// `compareValues(left, right, op)`.
pub fn compare(left: &Value, right: &Value, op: Cmp) -> bool {
    // Fast paths that unification leaves alone.
    if let (Value::Int(a), Value::Int(b)) = (left, right) {
        return match op {
            Cmp::Eq => a == b,
            Cmp::NotEq => a != b,
            Cmp::Gt => a > b,
            Cmp::GtEq => a >= b,
            Cmp::Lt => a < b,
            Cmp::LtEq => a <= b,
        };
    }
    let (l, r) = unify(left, right);
    if let (Value::Array(a) | Value::Tuple(a), Value::Array(b) | Value::Tuple(b)) = (&l, &r) {
        let (a, b) = (a.borrow(), b.borrow());
        if finite_numbers(&a) && finite_numbers(&b) {
            let mut ordering = std::cmp::Ordering::Equal;
            for (x, y) in a.iter().zip(b.iter()) {
                if !x.strict_eq(y) {
                    ordering = if x.as_f64() < y.as_f64() {
                        std::cmp::Ordering::Less
                    } else {
                        std::cmp::Ordering::Greater
                    };
                    break;
                }
            }
            if ordering == std::cmp::Ordering::Equal {
                ordering = a.len().cmp(&b.len());
            }
            return match op {
                Cmp::Eq => ordering.is_eq(),
                Cmp::NotEq => ordering.is_ne(),
                Cmp::Gt => ordering.is_gt(),
                Cmp::GtEq => ordering.is_ge(),
                Cmp::Lt => ordering.is_lt(),
                Cmp::LtEq => ordering.is_le(),
            };
        }
    }
    match op {
        Cmp::Eq => l.strict_eq(&r),
        Cmp::NotEq => !l.strict_eq(&r),
        Cmp::Gt => js::relational(&l, &r).is_some_and(std::cmp::Ordering::is_gt),
        Cmp::GtEq => js::relational(&l, &r).is_some_and(std::cmp::Ordering::is_ge),
        Cmp::Lt => js::relational(&l, &r).is_some_and(std::cmp::Ordering::is_lt),
        Cmp::LtEq => js::relational(&l, &r).is_some_and(std::cmp::Ordering::is_le),
    }
}

/// The regex a LIKE pattern becomes (unanchored, as PostHog's VM searches with it).
pub fn like_regex(pattern: &Value, case_insensitive: bool) -> String {
    let p = js::to_string(pattern);
    let mut out = String::with_capacity(p.len() + 8);
    if case_insensitive {
        out.push_str("(?i)");
    }
    for c in p.chars() {
        match c {
            '-' | '/' | '\\' | '^' | '$' | '*' | '+' | '?' | '.' | '(' | ')' | '|' | '[' | ']'
            | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push(c),
        }
    }
    out
}

/// `container.includes(item)` (the `in` operator).
pub fn includes(container: &Value, item: &Value) -> Result<bool> {
    match container {
        Value::Array(a) | Value::Tuple(a) => Ok(a.borrow().iter().any(|x| x.same_value_zero(item))),
        Value::Str(s) => Ok(s.contains(js::to_string(item).as_str())),
        other => Err(Error::type_error(format!(
            "cannot look for a value in {}",
            crate::stl::hog_typeof(other)
        ))),
    }
}

/// `getNestedValue(obj, [key])`: dict lookup, 1-based array index (negative from the end), and
/// JavaScript's own properties of the plain objects (errors, dates; `length` of arrays).
pub fn get_property(obj: &Value, key: &Value) -> Result<Value> {
    match obj {
        Value::Dict(d) => Ok(d
            .borrow()
            .get(&Key(key.clone()))
            .cloned()
            .unwrap_or(Value::Null)),
        Value::Array(a) | Value::Tuple(a) => {
            let items = a.borrow();
            match key {
                Value::Int(_) | Value::Float(_) => index_array(&items, key),
                other => {
                    let k = js::to_string(other);
                    if k == "length" {
                        #[allow(clippy::cast_possible_wrap)]
                        return Ok(Value::Int(items.len() as i64));
                    }
                    if k == "__isHogTuple" && matches!(obj, Value::Tuple(_)) {
                        return Ok(Value::Bool(true));
                    }
                    Ok(js::array_index(&k)
                        .and_then(|i| items.get(i as usize).cloned())
                        .unwrap_or(Value::Null))
                }
            }
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {
            Ok(Value::Null)
        }
        other => {
            if key.is_number() {
                if key.as_f64() == Some(0.0) {
                    return Err(Error::func("Hog arrays start from index 1"));
                }
                return Ok(Value::Null);
            }
            Ok(object_field(other, &js::to_string(key)).unwrap_or(Value::Null))
        }
    }
}

fn index_array(items: &[Value], key: &Value) -> Result<Value> {
    let k = key.as_f64().unwrap_or(f64::NAN);
    if k == 0.0 {
        return Err(Error::func("Hog arrays start from index 1"));
    }
    if k.fract() != 0.0 || k.is_nan() {
        return Ok(Value::Null);
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let idx = if k > 0.0 {
        k - 1.0
    } else {
        items.len() as f64 + k
    };
    if idx < 0.0 || idx >= items.len() as f64 {
        return Ok(Value::Null);
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(items[idx as usize].clone())
}

/// An own property of one of the plain JavaScript objects PostHog's VM uses.
fn object_field(obj: &Value, key: &str) -> Option<Value> {
    match obj {
        Value::Error(e) => match key {
            "__hogError__" => Some(Value::Bool(true)),
            "type" => Some(e.kind.clone()),
            "message" => Some(e.message.clone()),
            "payload" => Some(e.payload.clone().unwrap_or(Value::Null)),
            _ => None,
        },
        Value::DateTime(d) => match key {
            "__hogDateTime__" => Some(Value::Bool(true)),
            "dt" => Some(d.dt.clone()),
            "zone" => Some(d.zone.clone()),
            _ => None,
        },
        Value::Date(d) => match key {
            "__hogDate__" => Some(Value::Bool(true)),
            "year" => Some(d.year.clone()),
            "month" => Some(d.month.clone()),
            "day" => Some(d.day.clone()),
            _ => None,
        },
        Value::Closure(c) => match key {
            "__hogClosure__" => Some(Value::Bool(true)),
            "callable" => Some(Value::Callable(Rc::clone(&c.callable))),
            _ => None,
        },
        Value::Callable(c) => match key {
            "__hogCallable__" => Some(Value::str(c.kind.name())),
            "name" => Some(c.name.clone()),
            "argCount" => Some(Value::Int(c.arg_count)),
            "upvalueCount" => Some(Value::Int(c.upvalue_count)),
            "ip" => Some(Value::Int(c.ip)),
            _ => None,
        },
        _ => None,
    }
}

/// The most holes `SET_PROPERTY` may open past an array's end (JavaScript allows any, sparsely).
const MAX_ARRAY_GROWTH: usize = 1 << 16;

/// `setNestedValue(obj, [key], value)`.
pub fn set_property(obj: &Value, key: &Value, value: Value) -> Result<()> {
    match obj {
        Value::Dict(d) => {
            d.borrow_mut().insert(Key(key.clone()), value);
            Ok(())
        }
        Value::Array(a) | Value::Tuple(a) if key.is_number() => {
            let k = key.as_f64().unwrap_or(f64::NAN);
            if k <= 0.0 {
                return Err(Error::func("Hog arrays start from index 1"));
            }
            if k.fract() != 0.0 || k.is_nan() {
                return Ok(()); // a non-index property: invisible to Hog
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let idx = (k - 1.0) as usize;
            let mut items = a.borrow_mut();
            if idx < items.len() {
                items[idx] = value;
            } else if idx - items.len() <= MAX_ARRAY_GROWTH {
                items.resize(idx, Value::Null);
                items.push(value);
            } else {
                return Err(Error::vm(
                    crate::error::Code::MemoryLimit,
                    format!(
                        "Array index {} is too far past the end of the array",
                        js::to_string(key)
                    ),
                ));
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {
            Err(Error::func(format!(
                "Can not set {} on non-object: {}",
                js::to_string(key),
                obj.js_typeof()
            )))
        }
        _ => Err(Error::func(format!(
            "Can not set {} on element of type object",
            js::to_string(key)
        ))),
    }
}
