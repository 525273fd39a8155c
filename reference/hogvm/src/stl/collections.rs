//! Arrays, dicts, logic and arithmetic functions.

use std::cmp::Ordering;

use super::{Ctx, Row, arg, type_err};
use crate::error::{Code, Error, Result};
use crate::js;
use crate::value::Value;

pub(super) const FUNCTIONS: &[Row] = &[
    ("keys", 1, Some(1), keys),
    ("values", 1, Some(1), values),
    ("indexOf", 2, Some(2), index_of),
    ("arrayPushBack", 2, Some(2), push_back),
    ("arrayPushFront", 2, Some(2), push_front),
    ("arrayPopBack", 1, Some(1), pop_back),
    ("arrayPopFront", 1, Some(1), pop_front),
    ("arraySort", 1, None, sort),
    ("arrayReverse", 1, Some(1), reverse),
    ("arrayReverseSort", 1, None, sort),
    ("arrayStringConcat", 1, Some(2), string_concat),
    ("has", 2, Some(2), has),
    ("coalesce", 1, None, coalesce),
    ("assumeNotNull", 1, Some(1), assume_not_null),
    ("equals", 2, Some(2), compare),
    ("notEquals", 2, Some(2), compare),
    ("greater", 2, Some(2), compare),
    ("greaterOrEquals", 2, Some(2), compare),
    ("less", 2, Some(2), compare),
    ("lessOrEquals", 2, Some(2), compare),
    ("not", 1, Some(1), not),
    ("and", 1, None, and_or),
    ("or", 1, None, and_or),
    ("if", 3, Some(3), if_),
    ("in", 2, Some(2), in_),
    ("min2", 2, Some(2), min2),
    ("plus", 2, Some(2), plus),
    ("minus", 2, Some(2), minus),
    ("multiIf", 3, None, multi_if),
    ("floor", 1, Some(2), floor),
    ("round", 1, Some(2), round),
    ("range", 1, Some(2), range),
];

fn items(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(a) | Value::Tuple(a) => Some(a.borrow().clone()),
        _ => None,
    }
}

/// Own property names of the plain objects PostHog's VM uses.
fn object_keys(v: &Value) -> Vec<&'static str> {
    match v {
        Value::Error(_) => vec!["__hogError__", "type", "message", "payload"],
        Value::DateTime(_) => vec!["__hogDateTime__", "dt", "zone"],
        Value::Date(_) => vec!["__hogDate__", "year", "month", "day"],
        Value::Closure(_) => vec!["__hogClosure__", "callable", "upvalues"],
        Value::Callable(_) => vec![
            "__hogCallable__",
            "name",
            "chunk",
            "argCount",
            "upvalueCount",
            "ip",
        ],
        _ => Vec::new(),
    }
}

fn keys(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(&args, 0);
    #[allow(clippy::cast_possible_wrap)]
    Ok(match v {
        Value::Array(a) | Value::Tuple(a) => Value::array(
            (0..a.borrow().len())
                .map(|i| Value::Int(i as i64))
                .collect(),
        ),
        Value::Dict(d) => Value::array(d.borrow().keys().map(|k| k.0.clone()).collect()),
        Value::Null => return Err(type_err(ctx, v)),
        other if other.is_object() => {
            Value::array(object_keys(other).into_iter().map(Value::str).collect())
        }
        _ => Value::array(Vec::new()),
    })
}

fn values(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(&args, 0);
    Ok(match v {
        Value::Array(a) | Value::Tuple(a) => Value::array(a.borrow().clone()),
        Value::Dict(d) => Value::array(d.borrow().values().cloned().collect()),
        Value::Null => return Err(type_err(ctx, v)),
        other if other.is_object() => Value::array(
            object_keys(other)
                .into_iter()
                .map(|k| crate::ops::get_property(other, &Value::str(k)).unwrap_or(Value::Null))
                .collect(),
        ),
        _ => Value::array(Vec::new()),
    })
}

fn index_of(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let elem = arg(&args, 1);
    #[allow(clippy::cast_possible_wrap)]
    Ok(match items(arg(&args, 0)) {
        Some(list) => Value::Int(
            list.iter()
                .position(|x| x.strict_eq(elem))
                .map_or(0, |i| i as i64 + 1),
        ),
        None => Value::Int(0),
    })
}

fn push_back(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let item = arg(&args, 1).clone();
    let mut list = items(arg(&args, 0)).unwrap_or_default();
    list.push(item);
    Ok(Value::array(list))
}

fn push_front(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let item = arg(&args, 1).clone();
    let mut list = items(arg(&args, 0)).unwrap_or_default();
    list.insert(0, item);
    Ok(Value::array(list))
}

fn pop_back(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let mut list = items(arg(&args, 0)).unwrap_or_default();
    list.pop();
    Ok(Value::array(list))
}

fn pop_front(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let mut list = items(arg(&args, 0)).unwrap_or_default();
    if !list.is_empty() {
        list.remove(0);
    }
    Ok(Value::array(list))
}

/// JavaScript's default `sort()`: by `String(x)` in UTF-16 order, `undefined` last; stable.
fn js_sort(list: &mut [Value]) {
    let mut keyed: Vec<(String, Value)> =
        list.iter().map(|v| (js::to_string(v), v.clone())).collect();
    keyed.sort_by(|a, b| js::cmp_str(&a.0, &b.0));
    for (slot, (_, v)) in list.iter_mut().zip(keyed) {
        *slot = v;
    }
}

fn sort(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(mut list) = items(arg(&args, 0)) else {
        return Ok(Value::array(Vec::new()));
    };
    js_sort(&mut list);
    if ctx.name == "arrayReverseSort" {
        list.reverse();
    }
    Ok(Value::array(list))
}

fn reverse(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let mut list = items(arg(&args, 0)).unwrap_or_default();
    list.reverse();
    Ok(Value::array(list))
}

fn string_concat(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Some(list) = items(arg(&args, 0)) else {
        return Ok(Value::str(""));
    };
    let sep = match args.get(1) {
        None => String::new(),
        Some(v) => js::to_string(v),
    };
    let parts: Vec<String> = list
        .iter()
        .map(|v| {
            if matches!(v, Value::Null) {
                String::new()
            } else {
                js::to_string(v)
            }
        })
        .collect();
    Ok(Value::string(parts.join(&sep)))
}

fn has(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let elem = arg(&args, 1);
    Ok(Value::Bool(items(arg(&args, 0)).is_some_and(|l| {
        l.iter().any(|x| x.same_value_zero(elem))
    })))
}

fn coalesce(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(args
        .into_iter()
        .find(|v| !matches!(v, Value::Null))
        .unwrap_or(Value::Null))
}

fn assume_not_null(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::Null => Err(Error::func("Value is null in assumeNotNull")),
        v => Ok(v.clone()),
    }
}

fn compare(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (a, b) = (arg(&args, 0), arg(&args, 1));
    let rel = || js::relational(a, b);
    Ok(Value::Bool(match ctx.name {
        "equals" => a.strict_eq(b),
        "notEquals" => !a.strict_eq(b),
        "greater" => rel().is_some_and(Ordering::is_gt),
        "greaterOrEquals" => rel().is_some_and(Ordering::is_ge),
        "less" => rel().is_some_and(Ordering::is_lt),
        _ => rel().is_some_and(Ordering::is_le),
    }))
}

fn not(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(!arg(&args, 0).truthy()))
}

fn and_or(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::Bool(if ctx.name == "and" {
        args.iter().all(Value::truthy)
    } else {
        args.iter().any(Value::truthy)
    }))
}

fn if_(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(if arg(&args, 0).truthy() {
        arg(&args, 1).clone()
    } else {
        arg(&args, 2).clone()
    })
}

fn in_(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(&args, 0);
    Ok(Value::Bool(
        items(arg(&args, 1)).is_some_and(|l| l.iter().any(|x| x.same_value_zero(v))),
    ))
}

fn min2(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (a, b) = (arg(&args, 0), arg(&args, 1));
    Ok(if js::relational(a, b).is_some_and(Ordering::is_lt) {
        a.clone()
    } else {
        b.clone()
    })
}

/// JavaScript's `a + b`: string concatenation when either side is (or becomes) a string.
fn plus(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (a, b) = (arg(&args, 0), arg(&args, 1));
    let stringy = |v: &Value| {
        !matches!(
            v,
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_)
        )
    };
    if stringy(a) || stringy(b) {
        let side = |v: &Value| match v {
            Value::Str(s) => s.to_string(),
            Value::Array(_) | Value::Tuple(_) | Value::Dict(_) => js::to_string(v),
            v if v.is_object() => "[object Object]".to_string(),
            v => js::to_string(v),
        };
        return Ok(Value::string(side(a) + &side(b)));
    }
    Ok(crate::ops::add(a, b))
}

fn minus(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(crate::ops::sub(arg(&args, 0), arg(&args, 1)))
}

fn multi_if(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let last = args.last().cloned().unwrap_or(Value::Null);
    let pairs = &args[..args.len().saturating_sub(1)];
    for pair in pairs.chunks(2) {
        if pair[0].truthy() {
            return Ok(pair.get(1).cloned().unwrap_or(Value::Null));
        }
    }
    Ok(last)
}

fn floor(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    Ok(Value::number(js::to_number(arg(&args, 0)).floor()))
}

fn round(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let x = js::to_number(arg(&args, 0));
    // Math.round: halves go towards +∞.
    let r = (x + 0.5).floor();
    let r = if x.is_finite() && (r - x) > 0.5 {
        r - 1.0
    } else {
        r
    };
    Ok(Value::number(if x.is_finite() { r } else { x }))
}

/// The longest list `range` builds (JavaScript fails with "Invalid array length" past 2^32-1).
const MAX_RANGE: f64 = 10_000_000.0;

fn range(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let (start, len) = if args.len() == 1 {
        (0.0, js::to_number(&args[0]))
    } else {
        let a = js::to_number(arg(&args, 0));
        (a, js::to_number(arg(&args, 1)) - a)
    };
    if len.is_nan() || len <= 0.0 {
        if len < 0.0 {
            return Err(Error::type_error("Invalid array length"));
        }
        return Ok(Value::array(Vec::new()));
    }
    if len.fract() != 0.0 || len > 4_294_967_295.0 {
        return Err(Error::type_error("Invalid array length"));
    }
    if len > MAX_RANGE {
        return Err(Error::vm(
            Code::MemoryLimit,
            format!(
                "range of {} elements is too long",
                js::number_to_string(len)
            ),
        ));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let n = len as usize;
    #[allow(clippy::cast_precision_loss)]
    Ok(Value::array(
        (0..n).map(|i| Value::number(start + i as f64)).collect(),
    ))
}
