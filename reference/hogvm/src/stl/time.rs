//! Dates and datetimes, in any time zone, as PostHog's VM computes them with luxon (see `zone.rs`): a
//! datetime is epoch seconds and a zone name; its fields, arithmetic and formatting are the zone's wall
//! clock. A `Date` is a UTC calendar day.

use std::rc::Rc;

use super::{Ctx, Row, arg};
use crate::date::{civil_from_days, days_from_civil, parse_date_like, parse_date_like_local};
use crate::error::{Error, Result};
use crate::js;
use crate::ops::date_seconds;
use crate::value::{Date, DateTime, Dict, Key, Value};
use crate::zone::{Fields, Instant, Zone, format_offset, local_ms};

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
    let zone = Zone::of(Some(if zone.truthy() { zone } else { &d.zone }));
    let format = js::to_string(format);
    let instant = Instant::from_seconds(js::to_number(&d.dt), zone);
    let Some([y, m, day, h, mi, sec, ms, wd]) = instant.fields() else {
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
            'z' => format_offset(instant.offset(), true),
            '%' => "%".to_string(),
            _ => String::new(),
        };
        out.push_str(&piece);
    }
    Ok(Value::string(out))
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

/// A reader of the host's clock, for the few wall-clock times luxon resolves from the current offset.
fn clock<'a>(ctx: &'a mut Ctx<'_>) -> impl FnMut() -> f64 + 'a {
    move || ctx.host.now_ms()
}

/// The instant of a datetime in its own zone; a `Date` is its UTC midnight.
fn instant(v: &Value) -> Option<Instant> {
    match v {
        Value::DateTime(d) => Some(Instant::from_seconds(
            js::to_number(&d.dt),
            Zone::of(Some(&d.zone)),
        )),
        Value::Date(d) => Some(Instant::from_seconds(date_seconds(d), Zone::UTC)),
        _ => None,
    }
}

/// luxon's `toISO()` of a datetime in its zone (`null` when it is invalid).
pub(super) fn iso(d: &DateTime) -> Result<String> {
    let instant = Instant::from_seconds(js::to_number(&d.dt), Zone::of(Some(&d.zone)));
    Ok(instant.iso().unwrap_or_else(|| "null".into()))
}

fn now(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    Ok(datetime(
        Value::number(ctx.host.now_ms() / 1000.0),
        Value::str("UTC"),
    ))
}

fn today(ctx: &mut Ctx<'_>, _: Vec<Value>) -> Result<Value> {
    let now = Instant::from_seconds(ctx.host.now_ms() / 1000.0, Zone::UTC);
    let [y, m, d, ..] = now.fields().unwrap_or([1970, 1, 1, 0, 0, 0, 0, 4]);
    Ok(date(y, m, d))
}

/// The zone a `zone || 'UTC'` argument names.
fn zone_or_utc(zone: Option<&Value>) -> Zone {
    match zone {
        Some(z) if z.truthy() => Zone::of(Some(z)),
        _ => Zone::UTC,
    }
}

/// Epoch seconds of a date-like string read in a zone (its own offset wins); NaN when it is not one or
/// the zone is unknown.
fn parse_in(s: &str, zone: &Zone, now: &mut dyn FnMut() -> f64) -> f64 {
    if !zone.is_valid() {
        return f64::NAN;
    }
    let Some((local, offset)) = parse_date_like_local(s) else {
        return f64::NAN;
    };
    #[allow(clippy::cast_precision_loss)]
    let ts = match offset {
        Some(east) => local - east as f64 * 1000.0,
        None => zone.local_to_ts(local, now),
    };
    Instant {
        ts,
        zone: zone.clone(),
    }
    .seconds()
}

/// Epoch seconds of a datetime, a date or a date-like string (NaN when not one).
fn seconds_of(v: &Value, zone: Option<&Value>, now: &mut dyn FnMut() -> f64) -> Value {
    match v {
        Value::DateTime(d) => d.dt.clone(),
        Value::Date(d) => Value::number(date_seconds(d)),
        Value::Str(s) => Value::number(parse_in(s, &zone_or_utc(zone), now)),
        _ => Value::Float(f64::NAN),
    }
}

fn to_unix(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let milli = ctx.name == "toUnixTimestampMilli";
    let s = seconds_of(arg(&args, 0), args.get(1), &mut clock(ctx));
    if milli {
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

fn nan_date() -> Value {
    Value::Date(Rc::new(Date {
        year: Value::Float(f64::NAN),
        month: Value::Float(f64::NAN),
        day: Value::Float(f64::NAN),
    }))
}

fn to_date(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let secs = match arg(&args, 0) {
        v if v.is_number() => js::to_number(v),
        Value::Str(s) => parse_date_like(s).unwrap_or(f64::NAN),
        _ => f64::NAN,
    };
    Ok(match Instant::from_seconds(secs, Zone::UTC).fields() {
        Some([y, m, d, ..]) => date(y, m, d),
        None => nan_date(),
    })
}

fn to_date_time(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let zone = arg(&args, 1);
    let zone = if zone.truthy() {
        zone.clone()
    } else {
        Value::str("UTC")
    };
    let dt = match arg(&args, 0) {
        v if v.is_number() => v.clone(),
        Value::Str(s) => Value::number(parse_in(s, &Zone::of(Some(&zone)), &mut clock(ctx))),
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

/// The instant of a datetime (in its zone), a date, or an ISO string (UTC); invalid for anything else.
fn any_instant(v: &Value) -> Instant {
    instant(v).unwrap_or_else(|| {
        let secs = match v {
            Value::Str(s) => parse_date_like(s).unwrap_or(f64::NAN),
            _ => f64::NAN,
        };
        Instant::from_seconds(secs, Zone::UTC)
    })
}

/// The wall-clock fields of a datetime (in its zone), a date, or an ISO string (UTC).
fn broken_down(v: &Value) -> Option<Fields> {
    any_instant(v).fields()
}

fn part_value(p: Option<Fields>, i: usize) -> Value {
    p.map_or(Value::Float(f64::NAN), |p| Value::Int(p[i]))
}

fn part(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let p = broken_down(arg(&args, 0));
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
    Ok(part_value(broken_down(arg(&args, 1)), i))
}

/// luxon's casual month, in days (a fraction of a month is added as this many days).
const CASUAL_MONTH_DAYS: f64 = 30.0;
const DAY_MS: f64 = 86_400_000.0;

/// Adds an amount of a unit to a datetime (in its zone) or a date, as luxon's `plus` does: whole months
/// and days on the wall clock, the rest as milliseconds.
fn apply(base: &Value, amount: &Value, unit: &str) -> Result<Value> {
    let (unit, amount) = match unit {
        "week" => ("day", js::to_number(amount) * 7.0),
        "year" => ("month", js::to_number(amount) * 12.0),
        u => (u, js::to_number(amount)),
    };
    let Some(start) = instant(base) else {
        return Err(Error::type_error("not a date"));
    };
    let moved = match unit {
        _ if !amount.is_finite()
            && matches!(unit, "day" | "month" | "hour" | "minute" | "second") =>
        {
            Instant {
                ts: f64::NAN,
                zone: start.zone.clone(),
            }
        }
        "day" => start.plus(0.0, amount.trunc(), amount.fract() * DAY_MS),
        "hour" => start.plus(0.0, 0.0, amount * 3_600_000.0),
        "minute" => start.plus(0.0, 0.0, amount * 60_000.0),
        "second" => start.plus(0.0, 0.0, amount * 1000.0),
        "month" => start.plus(
            amount.trunc(),
            0.0,
            amount.fract() * CASUAL_MONTH_DAYS * DAY_MS,
        ),
        other => return Err(Error::func(format!("Unsupported interval unit: {other}"))),
    };
    if matches!(base, Value::DateTime(_)) {
        return Ok(datetime(Value::number(moved.seconds()), moved.zone_value()));
    }
    Ok(match moved.fields() {
        Some([y, m, d, ..]) => date(y, m, d),
        None => nan_date(),
    })
}

fn add_days(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    apply(arg(&args, 0), arg(&args, 1), "day")
}

fn date_add(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    apply(arg(&args, 2), arg(&args, 1), &js::to_string(arg(&args, 0)))
}

fn truncate(unit: &str, v: &Value, now: &mut dyn FnMut() -> f64) -> Result<Value> {
    let Value::DateTime(d) = v else {
        return Err(Error::func("Expected a DateTime for dateTrunc"));
    };
    let start = Instant::from_seconds(js::to_number(&d.dt), Zone::of(Some(&d.zone)));
    let Some([y, m, day, h, mi, ..]) = start.fields() else {
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
    let truncated = Instant::from_local(start.zone, local_ms(y, m, day, h, mi, 0, 0), now);
    Ok(datetime(
        Value::number(truncated.seconds()),
        truncated.zone_value(),
    ))
}

fn date_trunc(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    truncate(
        &js::to_string(arg(&args, 0)),
        arg(&args, 1),
        &mut clock(ctx),
    )
}

fn as_datetime(v: &Value) -> Value {
    match v {
        Value::Date(d) => datetime(Value::number(date_seconds(d)), Value::str("UTC")),
        other => other.clone(),
    }
}

fn start_of(ctx: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let v = as_datetime(arg(&args, 0));
    let unit = match ctx.name {
        "toStartOfDay" => "day",
        "toStartOfHour" => "hour",
        "toStartOfMonth" => "month",
        _ => {
            // The Monday of the week on the wall clock, at midnight.
            let start = any_instant(&v);
            let Some(c) = start.fields() else {
                return Ok(datetime(Value::Float(f64::NAN), Value::str("UTC")));
            };
            #[allow(clippy::cast_precision_loss)]
            let monday = start.plus(0.0, -((c[7] - 1) as f64), 0.0);
            let Some(c) = monday.fields() else {
                return Ok(datetime(Value::Float(f64::NAN), Value::str("UTC")));
            };
            let midnight = monday.set_local(local_ms(c[0], c[1], c[2], 0, 0, 0, 0));
            return Ok(datetime(
                Value::number(midnight.seconds()),
                midnight.zone_value(),
            ));
        }
    };
    truncate(unit, &v, &mut clock(ctx))
}

/// luxon's `later.diff(earlier)` in years, months, weeks and days on the wall clock plus the remaining
/// milliseconds, summed back with luxon's casual units (a year is 365 days, a month 30), in milliseconds.
fn casual_diff_ms(earlier: &Instant, later: &Instant) -> f64 {
    let day_start = |i: &Instant| {
        i.fields()
            .map_or(f64::NAN, |c| local_ms(c[0], c[1], c[2], 0, 0, 0, 0))
    };
    let day_diff = |a: &Instant, b: &Instant| ((day_start(b) - day_start(a)) / DAY_MS).floor();
    // Years, months, weeks, days, found in that order (each from where the previous ones end).
    let mut counts = [0.0f64; 4];
    let plus = |c: &[f64; 4]| earlier.plus(c[0] * 12.0 + c[1], c[2] * 7.0 + c[3], 0.0);
    let mut cursor = earlier.clone();
    for unit in 0..4 {
        let (Some(a), Some(b)) = (cursor.fields(), later.fields()) else {
            return f64::NAN;
        };
        #[allow(clippy::cast_precision_loss)]
        let count = match unit {
            0 => (b[0] - a[0]) as f64,
            1 => ((b[1] - a[1]) + (b[0] - a[0]) * 12) as f64,
            2 => {
                let d = day_diff(&cursor, later);
                (d - d % 7.0) / 7.0
            }
            _ => day_diff(&cursor, later),
        };
        counts[unit] = count;
        let high_water = plus(&counts);
        if high_water.ts > later.ts {
            counts[unit] -= 1.0;
            cursor = plus(&counts);
            if cursor.ts > later.ts {
                counts[unit] -= 1.0;
                cursor = plus(&counts);
            }
        } else {
            cursor = high_water;
        }
    }
    let [years, months, weeks, days] = counts;
    let remaining = later.ts - cursor.ts;
    (years * 365.0 + months * CASUAL_MONTH_DAYS + weeks * 7.0 + days) * DAY_MS + remaining
}

fn date_diff(_: &mut Ctx<'_>, args: Vec<Value>) -> Result<Value> {
    let unit = js::to_string(arg(&args, 0));
    let (start, end) = (any_instant(arg(&args, 1)), any_instant(arg(&args, 2)));
    let millis = |i: &Instant| if i.is_valid() { i.ts } else { f64::NAN };
    let casual = || {
        if !(start.is_valid() && end.is_valid()) {
            return f64::NAN;
        }
        if start.ts > end.ts {
            -casual_diff_ms(&end, &start)
        } else {
            casual_diff_ms(&start, &end)
        }
    };
    let whole = |n: f64| Value::number(n.floor());
    Ok(match unit.as_str() {
        "day" => whole((millis(&end) - millis(&start)) / DAY_MS),
        "hour" => whole(casual() / 3_600_000.0),
        "minute" => whole(casual() / 60_000.0),
        "second" => whole(casual() / 1000.0),
        "week" => whole(casual() / DAY_MS / 7.0),
        "month" | "year" => {
            let (Some(a), Some(b)) = (start.fields(), end.fields()) else {
                return Ok(Value::Float(f64::NAN));
            };
            if unit == "month" {
                Value::Int((b[0] - a[0]) * 12 + (b[1] - a[1]))
            } else {
                Value::Int(b[0] - a[0])
            }
        }
        other => {
            return Err(Error::func(format!(
                "Unsupported unit for dateDiff: {other}"
            )));
        }
    })
}
