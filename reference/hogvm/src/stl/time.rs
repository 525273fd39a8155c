//! Dates and datetimes in UTC. Hogref has no time-zone database yet: a datetime in any other zone is
//! refused with an error naming the zone (listed in the missing features), never converted wrongly.

use std::rc::Rc;

use super::{Ctx, Row, arg};
use crate::date::{civil_from_days, days_from_civil, parse_date_like};
use crate::error::{Error, Result};
use crate::js;
use crate::ops::date_seconds;
use crate::value::{Date, DateTime, Dict, Key, Value};

pub(super) const FUNCTIONS: &[Row] = &[
    ("now", 0, Some(1), now),
    ("today", 0, Some(0), today),
    ("toUnixTimestamp", 1, Some(2), to_unix),
    ("toUnixTimestampMilli", 1, Some(2), to_unix),
    ("fromUnixTimestamp", 1, Some(1), from_unix),
    ("fromUnixTimestampMilli", 1, Some(1), from_unix),
    ("toTimeZone", 2, Some(2), to_time_zone),
    ("toDate", 1, Some(1), to_date),
    ("toDateTime", 1, Some(2), to_date_time),
    ("toIntervalDay", 1, Some(1), interval),
    ("toIntervalHour", 1, Some(1), interval),
    ("toIntervalMinute", 1, Some(1), interval),
    ("toIntervalMonth", 1, Some(1), interval),
    ("toYear", 1, Some(1), part),
    ("toMonth", 1, Some(1), part),
    ("toYYYYMM", 1, Some(1), part),
    ("extract", 2, Some(2), extract),
    ("addDays", 2, Some(2), add_days),
    ("dateAdd", 3, Some(3), date_add),
    ("dateTrunc", 2, Some(3), date_trunc),
    ("toStartOfDay", 1, Some(2), start_of),
    ("toStartOfHour", 1, Some(1), start_of),
    ("toStartOfMonth", 1, Some(1), start_of),
    ("toStartOfWeek", 1, Some(2), start_of),
    ("dateDiff", 3, Some(3), date_diff),
    ("formatDateTime", 2, Some(3), format_date_time),
];

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// ISO 8601 week number of a UTC day.
fn iso_week(days: i64, weekday: i64) -> i64 {
    // The Thursday of this week decides the year.
    let thursday = days - (weekday - 1) + 3;
    let (y, _, _) = civil_from_days(thursday);
    (thursday - days_from_civil(y, 1, 1)) / 7 + 1
}

/// `formatDateTime(dt, format[, zone])` with ClickHouse's `%` codes, as PostHog maps them to luxon.
fn format_date_time(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let Value::DateTime(d) = arg(&args, 0) else {
        return Err(Error::func("Expected a DateTime"));
    };
    let format = arg(&args, 1);
    if !format.truthy() {
        return Err(Error::func("formatDateTime requires at least 2 arguments"));
    }
    let zone = arg(&args, 2);
    utc(if zone.truthy() { zone } else { &d.zone })?;
    let format = js::to_string(format);
    let secs = js::to_number(&d.dt);
    let Some([y, m, day, h, mi, sec, ms, wd]) = parts(secs) else {
        return Ok(Value::str("Invalid DateTime"));
    };
    let days = days_from_civil(y, m, day);
    let h12 = if h % 12 == 0 { 12 } else { h % 12 };
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(code) = chars.next() else { break };
        let piece = match code {
            'a' => WEEKDAYS[usize::try_from(wd - 1).unwrap_or(0)][..3].to_string(),
            'b' => MONTHS[usize::try_from(m - 1).unwrap_or(0)][..3].to_string(),
            'c' | 'm' => format!("{m:02}"),
            'C' | 'g' | 'y' => format!("{:02}", y.rem_euclid(100)),
            'd' => format!("{day:02}"),
            'D' => format!("{m:02}/{day:02}/{:02}", y.rem_euclid(100)),
            'e' => day.to_string(),
            'f' => format!("{ms:03}"),
            'F' => format!("{y:04}-{m:02}-{day:02}"),
            'G' | 'Y' => format!("{y:04}"),
            'h' | 'I' | 'l' => format!("{h12:02}"),
            'H' | 'k' => format!("{h:02}"),
            'i' => format!("{mi:02}"),
            'j' => format!("{:03}", days - days_from_civil(y, 1, 1) + 1),
            'M' => MONTHS[usize::try_from(m - 1).unwrap_or(0)].to_string(),
            'n' => "\n".to_string(),
            'p' => (if h < 12 { "AM" } else { "PM" }).to_string(),
            'Q' => ((m - 1) / 3 + 1).to_string(),
            'r' => format!("{h12:02}:{mi:02} {}", if h < 12 { "AM" } else { "PM" }),
            'R' => format!("{h:02}:{mi:02}"),
            's' | 'S' => format!("{sec:02}"),
            't' => "\t".to_string(),
            'T' => format!("{h:02}:{mi:02}:{sec:02}"),
            'u' | 'w' => wd.to_string(),
            'V' => format!("{:02}", iso_week(days, wd)),
            'W' => WEEKDAYS[usize::try_from(wd - 1).unwrap_or(0)].to_string(),
            'z' => "+0000".to_string(),
            '%' => "%".to_string(),
            _ => String::new(),
        };
        out.push_str(&piece);
    }
    Ok(Value::string(out))
}

fn utc(zone: &Value) -> Result<()> {
    match zone {
        Value::Str(z) if &**z == "UTC" => Ok(()),
        other => Err(Error::func(format!(
            "time zone {} is not supported by Hogref yet",
            js::to_string(other)
        ))),
    }
}

fn datetime(dt: Value, zone: Value) -> Value {
    Value::DateTime(Rc::new(DateTime { dt, zone }))
}

fn date(y: i64, m: i64, d: i64) -> Value {
    Value::Date(Rc::new(Date {
        year: Value::Int(y),
        month: Value::Int(m),
        day: Value::Int(d),
    }))
}

/// Broken-down UTC time of epoch seconds: (y, m, d, hour, minute, second, millisecond, weekday 1=Mon).
fn parts(secs: f64) -> Option<[i64; 8]> {
    if !secs.is_finite() || secs.abs() > 8.64e12 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation)]
    let ms = (secs * 1000.0).round() as i64; // luxon works in whole milliseconds
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let weekday = (days + 3).rem_euclid(7) + 1;
    Some([
        y,
        m,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
        weekday,
    ])
}

/// luxon's `toISO()` of a datetime (UTC only).
pub(super) fn iso(d: &DateTime) -> Result<String> {
    utc(&d.zone)?;
    let Some([y, m, day, h, mi, s, ms, _]) = parts(js::to_number(&d.dt)) else {
        return Ok("null".into());
    };
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y < 0 {
        format!("-{:06}", -y)
    } else {
        format!("+{y:06}")
    };
    Ok(format!(
        "{year}-{m:02}-{day:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z"
    ))
}

fn now(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    Ok(datetime(
        Value::number(ctx.host.now_ms() / 1000.0),
        Value::str("UTC"),
    ))
}

fn today(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    let [y, m, d, ..] = parts(ctx.host.now_ms() / 1000.0).unwrap_or([1970, 1, 1, 0, 0, 0, 0, 4]);
    Ok(date(y, m, d))
}

/// Epoch seconds of a datetime, a date or a date-like string (NaN when not one).
fn seconds_of(v: &Value, zone: Option<&Value>) -> Result<Value> {
    match v {
        Value::DateTime(d) => Ok(d.dt.clone()),
        Value::Date(d) => Ok(Value::number(date_seconds(d))),
        Value::Str(s) => {
            let zone = match zone {
                None | Some(Value::Null) => None,
                Some(z) => {
                    utc(z)?;
                    Some("UTC")
                }
            };
            Ok(Value::number(parse_date_like(s, zone).unwrap_or(f64::NAN)))
        }
        _ => Ok(Value::Float(f64::NAN)),
    }
}

fn to_unix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let s = seconds_of(arg(&args, 0), args.get(1))?;
    if ctx.name == "toUnixTimestampMilli" {
        return Ok(crate::ops::mul(&s, &Value::Int(1000)));
    }
    Ok(s)
}

fn from_unix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = arg(&args, 0);
    let dt = if ctx.name == "fromUnixTimestampMilli" {
        Value::number(js::to_number(v) / 1000.0)
    } else {
        v.clone()
    };
    Ok(datetime(dt, Value::str("UTC")))
}

fn to_time_zone(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    match arg(&args, 0) {
        Value::DateTime(d) => Ok(datetime(d.dt.clone(), arg(&args, 1).clone())),
        _ => Err(Error::func("Expected a DateTime")),
    }
}

fn to_date(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let secs = match arg(&args, 0) {
        v if v.is_number() => js::to_number(v),
        Value::Str(s) => parse_date_like(s, None).unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    Ok(match parts(secs) {
        Some([y, m, d, ..]) => date(y, m, d),
        None => Value::Date(Rc::new(Date {
            year: Value::Float(f64::NAN),
            month: Value::Float(f64::NAN),
            day: Value::Float(f64::NAN),
        })),
    })
}

fn to_date_time(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let zone = arg(&args, 1);
    let zone = if zone.truthy() {
        zone.clone()
    } else {
        Value::str("UTC")
    };
    let dt = match arg(&args, 0) {
        v if v.is_number() => v.clone(),
        Value::Str(s) => {
            utc(&zone)?;
            Value::number(parse_date_like(s, Some("UTC")).unwrap_or(f64::NAN))
        }
        _ => Value::Float(f64::NAN),
    };
    Ok(datetime(dt, zone))
}

fn interval(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let unit = match ctx.name {
        "toIntervalDay" => "day",
        "toIntervalHour" => "hour",
        "toIntervalMinute" => "minute",
        _ => "month",
    };
    let mut d = Dict::new();
    d.insert(Key::from("__hogInterval__"), Value::Bool(true));
    d.insert(Key::from("value"), arg(&args, 0).clone());
    d.insert(Key::from("unit"), Value::str(unit));
    Ok(Value::dict(d))
}

/// The broken-down time of a datetime, a date, or an ISO string (UTC).
fn broken_down(v: &Value) -> Result<Option<[i64; 8]>> {
    let secs = match v {
        Value::DateTime(d) => {
            utc(&d.zone)?;
            js::to_number(&d.dt)
        }
        Value::Date(d) => date_seconds(d),
        Value::Str(s) => parse_date_like(s, None).unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    Ok(parts(secs))
}

fn part_value(p: Option<[i64; 8]>, i: usize) -> Value {
    p.map_or(Value::Float(f64::NAN), |p| Value::Int(p[i]))
}

fn part(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let p = broken_down(arg(&args, 0))?;
    Ok(match ctx.name {
        "toYear" => part_value(p, 0),
        "toMonth" => part_value(p, 1),
        _ => p.map_or(Value::Float(f64::NAN), |p| Value::Int(p[0] * 100 + p[1])),
    })
}

fn extract(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let which = js::to_string(arg(&args, 0));
    let i = match which.as_str() {
        "year" => 0,
        "month" => 1,
        "day" => 2,
        "hour" => 3,
        "minute" => 4,
        "second" => 5,
        _ => return Err(Error::func(format!("Unknown extract part: {which}"))),
    };
    Ok(part_value(broken_down(arg(&args, 1))?, i))
}

/// Adds an amount of a unit to a datetime or date, as luxon's `plus` does in UTC.
fn apply(base: &Value, amount: &Value, unit: &str) -> Result<Value> {
    let (unit, amount) = match unit {
        "week" => ("day", js::to_number(amount) * 7.0),
        "year" => ("month", js::to_number(amount) * 12.0),
        u => (u, js::to_number(amount)),
    };
    let (secs, is_datetime) = match base {
        Value::DateTime(d) => {
            utc(&d.zone)?;
            (js::to_number(&d.dt), true)
        }
        Value::Date(d) => (date_seconds(d), false),
        _ => return Err(Error::type_error("not a date")),
    };
    let new_secs = match unit {
        "day" => secs + amount * 86400.0,
        "hour" => secs + amount * 3600.0,
        "minute" => secs + amount * 60.0,
        "second" => secs + amount,
        "month" => {
            let Some([y, m, d, ..]) = parts(secs) else {
                return Ok(base.clone());
            };
            #[allow(clippy::cast_possible_truncation)]
            let total = y * 12 + (m - 1) + amount.trunc() as i64;
            let (ny, nm) = (total.div_euclid(12), total.rem_euclid(12) + 1);
            let last = days_from_civil(ny, nm + 1, 1) - days_from_civil(ny, nm, 1);
            let nd = d.min(last);
            #[allow(clippy::cast_precision_loss)]
            let day_secs = days_from_civil(ny, nm, nd) as f64 * 86400.0;
            day_secs + secs.rem_euclid(86400.0)
        }
        other => return Err(Error::func(format!("Unsupported interval unit: {other}"))),
    };
    if is_datetime {
        return Ok(datetime(Value::number(new_secs), Value::str("UTC")));
    }
    let [y, m, d, ..] = parts(new_secs).unwrap_or([0; 8]);
    Ok(date(y, m, d))
}

fn add_days(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    apply(arg(&args, 0), arg(&args, 1), "day")
}

fn date_add(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    apply(arg(&args, 2), arg(&args, 1), &js::to_string(arg(&args, 0)))
}

fn truncate(unit: &str, v: &Value) -> Result<Value> {
    let Value::DateTime(d) = v else {
        return Err(Error::func("Expected a DateTime for dateTrunc"));
    };
    utc(&d.zone)?;
    let Some([y, m, day, h, mi, ..]) = parts(js::to_number(&d.dt)) else {
        return Ok(datetime(Value::Float(f64::NAN), Value::str("UTC")));
    };
    let (y, m, day, h, mi) = match unit {
        "year" => (y, 1, 1, 0, 0),
        "month" => (y, m, 1, 0, 0),
        "day" => (y, m, day, 0, 0),
        "hour" => (y, m, day, h, 0),
        "minute" => (y, m, day, h, mi),
        other => {
            return Err(Error::func(format!(
                "Unsupported unit for dateTrunc: {other}"
            )));
        }
    };
    #[allow(clippy::cast_precision_loss)]
    let secs = (days_from_civil(y, m, day) * 86400 + h * 3600 + mi * 60) as f64;
    Ok(datetime(Value::number(secs), Value::str("UTC")))
}

fn date_trunc(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    truncate(&js::to_string(arg(&args, 0)), arg(&args, 1))
}

fn as_datetime(v: &Value) -> Value {
    match v {
        Value::Date(d) => datetime(Value::number(date_seconds(d)), Value::str("UTC")),
        other => other.clone(),
    }
}

fn start_of(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = as_datetime(arg(&args, 0));
    match ctx.name {
        "toStartOfDay" => truncate("day", &v),
        "toStartOfHour" => truncate("hour", &v),
        "toStartOfMonth" => truncate("month", &v),
        _ => {
            let Some(p) = broken_down(&v)? else {
                return Ok(datetime(Value::Float(f64::NAN), Value::str("UTC")));
            };
            let days = days_from_civil(p[0], p[1], p[2]) - (p[7] - 1);
            #[allow(clippy::cast_precision_loss)]
            Ok(datetime(
                Value::number(days as f64 * 86400.0),
                Value::str("UTC"),
            ))
        }
    }
}

fn date_diff(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let unit = js::to_string(arg(&args, 0));
    let secs = |v: &Value| -> Result<f64> {
        Ok(match v {
            Value::DateTime(d) => {
                utc(&d.zone)?;
                js::to_number(&d.dt)
            }
            Value::Date(d) => date_seconds(d),
            Value::Str(s) => parse_date_like(s, None).unwrap_or(f64::NAN),
            _ => f64::NAN,
        })
    };
    let (a, b) = (secs(arg(&args, 1))?, secs(arg(&args, 2))?);
    let whole = |n: f64| Value::number(n.floor());
    Ok(match unit.as_str() {
        "day" => whole((b - a) / 86400.0),
        "hour" => whole((b - a) / 3600.0),
        "minute" => whole((b - a) / 60.0),
        "second" => whole(b - a),
        "week" => whole((b - a) / 86400.0 / 7.0),
        "month" | "year" => {
            let (Some(pa), Some(pb)) = (parts(a), parts(b)) else {
                return Ok(Value::Float(f64::NAN));
            };
            if unit == "month" {
                Value::Int((pb[0] - pa[0]) * 12 + (pb[1] - pa[1]))
            } else {
                Value::Int(pb[0] - pa[0])
            }
        }
        other => {
            return Err(Error::func(format!(
                "Unsupported unit for dateDiff: {other}"
            )));
        }
    })
}
