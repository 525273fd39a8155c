//! Date ranges as PostHog's `QueryDateRange` reads them (relative `-7d`, `mStart`, explicit dates,
//! `explicitDate`), in the project's wall-clock time, and the bucket calendar of a range. The caller
//! gives "now" (as wall-clock time in the project timezone), so this stays pure.

use chrono::{
    Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone as _, Timelike,
};

use crate::common::Interval;
use crate::error::{Error, Result};
use crate::json::Obj;

/// Unit of a relative date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Hours.
    Hour,
    /// Days.
    Day,
    /// Weeks.
    Week,
    /// Months.
    Month,
    /// Quarters.
    Quarter,
    /// Years.
    Year,
}

/// `-7d`, `mStart`, `-1mEnd`: an amount back from now, optionally snapped to its unit's start or end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relative {
    /// How many units back (`-7d` is 7; `mStart` is 0).
    pub amount: i64,
    /// The unit.
    pub unit: Unit,
    /// `Some(true)` for `...Start`, `Some(false)` for `...End`.
    pub snap_start: Option<bool>,
}

impl Relative {
    /// Parses PostHog's relative date spelling; `None` when `text` is not one.
    pub fn parse(text: &str) -> Option<Relative> {
        let rest = text.strip_prefix('-').unwrap_or(text);
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let rest = &rest[digits.len()..];
        let mut chars = rest.chars();
        let unit = match chars.next()? {
            'h' => Unit::Hour,
            'd' => Unit::Day,
            'w' => Unit::Week,
            'm' => Unit::Month,
            'q' => Unit::Quarter,
            'y' => Unit::Year,
            _ => return None,
        };
        let snap_start = match chars.as_str() {
            "" => None,
            "Start" => Some(true),
            "End" => Some(false),
            _ => return None,
        };
        if digits.len() > 6 {
            return None;
        }
        let amount = if digits.is_empty() {
            0
        } else {
            digits.parse().ok()?
        };
        Some(Relative {
            amount,
            unit,
            snap_start,
        })
    }

    /// `at` moved back by this amount (no snapping).
    pub fn back(&self, at: NaiveDateTime) -> NaiveDateTime {
        shift(at, self.unit, -self.amount)
    }

    /// The date it names relative to `now`.
    fn resolve(&self, now: NaiveDateTime) -> NaiveDateTime {
        let at = self.back(now);
        match self.snap_start {
            None => at,
            Some(start) => {
                let first = start_of_unit(at, self.unit);
                if start {
                    first
                } else {
                    shift(first, self.unit, 1) - Duration::microseconds(1)
                }
            }
        }
    }
}

fn shift(at: NaiveDateTime, unit: Unit, amount: i64) -> NaiveDateTime {
    let months = |n: i64| -> NaiveDateTime {
        let m = Months::new(n.unsigned_abs().min(u32::MAX as u64) as u32);
        if n >= 0 {
            at.checked_add_months(m).unwrap_or(at)
        } else {
            at.checked_sub_months(m).unwrap_or(at)
        }
    };
    match unit {
        Unit::Hour => at + Duration::hours(amount),
        Unit::Day => at + Duration::days(amount),
        Unit::Week => at + Duration::weeks(amount),
        Unit::Month => months(amount),
        Unit::Quarter => months(amount * 3),
        Unit::Year => months(amount * 12),
    }
}

fn start_of_unit(at: NaiveDateTime, unit: Unit) -> NaiveDateTime {
    let day = at.date();
    let midnight = |d: NaiveDate| d.and_time(NaiveTime::MIN);
    match unit {
        Unit::Hour => at
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(at),
        Unit::Day => midnight(day),
        Unit::Week => midnight(day - Duration::days(day.weekday().num_days_from_sunday() as i64)),
        Unit::Month => midnight(day.with_day(1).unwrap_or(day)),
        Unit::Quarter => {
            let month0 = (day.month0() / 3) * 3;
            midnight(NaiveDate::from_ymd_opt(day.year(), month0 + 1, 1).unwrap_or(day))
        }
        Unit::Year => midnight(NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day)),
    }
}

/// A resolved range: both ends inclusive, wall-clock time in the project timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First instant.
    pub from: NaiveDateTime,
    /// Last instant.
    pub to: NaiveDateTime,
    /// Bucket size.
    pub interval: Interval,
}

const MAX_BUCKETS: usize = 5_000;

impl Range {
    /// Reads `dateRange` (absent means PostHog's default, the last 7 days).
    pub(crate) fn read(
        obj: Option<&Obj<'_>>,
        interval: Interval,
        now: NaiveDateTime,
        timezone: &str,
        earliest: Option<NaiveDateTime>,
    ) -> Result<Range> {
        let field = |k: &str| {
            obj.map(|o| o.child(k))
                .unwrap_or_else(|| format!("dateRange.{k}"))
        };
        if let Some(obj) = obj {
            obj.deny_unknown(&["date_from", "date_to", "explicitDate"])?;
        }
        let explicit = match obj {
            Some(o) => o.bool("explicitDate")?.unwrap_or(false),
            None => false,
        };
        let hourly = interval == Interval::Hour;
        let from_text = match obj {
            Some(o) => o.str("date_from")?,
            None => None,
        };
        let to_text = match obj {
            Some(o) => o.str("date_to")?,
            None => None,
        };
        let mut from = match from_text {
            None => start_of_unit(now, Unit::Day) - Duration::days(7),
            Some("all") => earliest.ok_or_else(|| {
                Error::unsupported(
                    field("date_from"),
                    "`all` without the team's earliest event",
                )
            })?,
            Some(text) => parse_point(text, now, timezone).ok_or_else(|| {
                Error::invalid(
                    field("date_from"),
                    format!("`{text}` is not a date or relative date"),
                )
            })?,
        };
        // A relative start is truncated as PostHog's `always_truncate` does: `-48h` to the start of
        // its hour, `-2d` (and longer units) to the start of its day, whatever the interval.
        if let Some(r) = from_text.and_then(Relative::parse) {
            from = start_of_unit(
                from,
                if r.unit == Unit::Hour {
                    Unit::Hour
                } else {
                    Unit::Day
                },
            );
        }
        if !hourly && !explicit {
            from = start_of_unit(from, Unit::Day);
        }
        let to = match to_text {
            None => now,
            Some(text) => {
                let at = parse_point(text, now, timezone).ok_or_else(|| {
                    Error::invalid(
                        field("date_to"),
                        format!("`{text}` is not a date or relative date"),
                    )
                })?;
                let relative = Relative::parse(text).is_some();
                if !hourly && !explicit && !relative {
                    start_of_unit(at, Unit::Day) + Duration::days(1) - Duration::microseconds(1)
                } else {
                    at
                }
            }
        };
        if to < from {
            return Err(Error::invalid(field("date_to"), "is before date_from"));
        }
        let range = Range { from, to, interval };
        if range.buckets().len() > MAX_BUCKETS {
            return Err(Error::invalid(
                field("date_from"),
                format!(
                    "the range has more than {MAX_BUCKETS} {} buckets",
                    interval.name()
                ),
            ));
        }
        Ok(range)
    }

    /// Reads the query's `dateRange` with the plan's "now" and timezone.
    pub(crate) fn of_query(
        query: &Obj<'_>,
        interval: Interval,
        ctx: &crate::Context,
    ) -> Result<Range> {
        Range::read(
            query.object("dateRange")?.as_ref(),
            interval,
            ctx.now,
            &ctx.timezone,
            ctx.earliest_event,
        )
    }

    /// The start of the first bucket.
    pub fn first_bucket(&self) -> NaiveDateTime {
        start_of_interval(self.from, self.interval)
    }

    /// The start of every bucket, in order.
    pub fn buckets(&self) -> Vec<NaiveDateTime> {
        let mut out = Vec::new();
        let mut at = self.first_bucket();
        while at <= self.to && out.len() <= MAX_BUCKETS {
            out.push(at);
            at = step(at, self.interval, 1);
        }
        out
    }

    /// The same range moved by `n` intervals (negative: back).
    pub fn shifted_intervals(&self, n: i64) -> Range {
        Range {
            from: step(self.from, self.interval, n),
            to: step(self.to, self.interval, n),
            interval: self.interval,
        }
    }

    /// The same range moved back by a relative amount.
    pub fn shifted_back(&self, by: &Relative) -> Range {
        Range {
            from: by.back(self.from),
            to: by.back(self.to),
            interval: self.interval,
        }
    }

    /// The HogQL condition on `timestamp` for events of this range (from the first bucket's start).
    pub(crate) fn condition(&self) -> String {
        format!(
            "timestamp >= toDateTime({}) AND timestamp <= toDateTime({})",
            crate::hogql::string(&hogql_time(self.first_bucket())),
            crate::hogql::string(&hogql_time(self.to)),
        )
    }

    /// `days` of the response: `2020-01-09`, or `2020-01-09 13:00:00` for hours.
    pub fn day(&self, at: NaiveDateTime) -> String {
        match self.interval {
            Interval::Hour => at.format("%Y-%m-%d %H:%M:%S").to_string(),
            _ => at.format("%Y-%m-%d").to_string(),
        }
    }

    /// `labels` of the response: `9-Jan-2020`, `9-Jan 13:00` (hours), `Jan 2020` (months).
    pub fn label(&self, at: NaiveDateTime) -> String {
        match self.interval {
            Interval::Hour => at.format("%-d-%b %H:%M").to_string(),
            Interval::Day | Interval::Week => at.format("%-d-%b-%Y").to_string(),
            Interval::Month => at.format("%b %Y").to_string(),
        }
    }
}

/// Wall-clock text ClickHouse parses in the project timezone.
pub(crate) fn hogql_time(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()
}

/// Reads ClickHouse's rendering of a DateTime/Date (`2020-01-09`, `2020-01-09 13:00:00[.000000]`).
pub(crate) fn parse_clickhouse_time(text: &str) -> Option<NaiveDateTime> {
    if text.len() >= 19 {
        NaiveDateTime::parse_from_str(&text[..19], "%Y-%m-%d %H:%M:%S").ok()
    } else {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(NaiveTime::MIN))
    }
}

pub(crate) fn start_of_interval(at: NaiveDateTime, interval: Interval) -> NaiveDateTime {
    match interval {
        Interval::Hour => start_of_unit(at, Unit::Hour),
        Interval::Day => start_of_unit(at, Unit::Day),
        Interval::Week => start_of_unit(at, Unit::Week),
        Interval::Month => start_of_unit(at, Unit::Month),
    }
}

pub(crate) fn step(at: NaiveDateTime, interval: Interval, n: i64) -> NaiveDateTime {
    match interval {
        Interval::Hour => shift(at, Unit::Hour, n),
        Interval::Day => shift(at, Unit::Day, n),
        Interval::Week => shift(at, Unit::Week, n),
        Interval::Month => shift(at, Unit::Month, n),
    }
}

/// A `date_from`/`date_to` value: relative, or a date / date-time in the project timezone.
pub(crate) fn parse_point(text: &str, now: NaiveDateTime, timezone: &str) -> Option<NaiveDateTime> {
    if let Some(relative) = Relative::parse(text) {
        return Some(relative.resolve(now));
    }
    let text = text.trim();
    if let Some(t) = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))
    {
        // An instant in UTC: its wall-clock time in the project timezone.
        let at = parse_wall_clock(t)?;
        if matches!(timezone, "UTC" | "Etc/UTC" | "GMT") {
            return Some(at);
        }
        let zone: chrono_tz::Tz = timezone.parse().ok()?;
        return Some(zone.from_utc_datetime(&at).naive_local());
    }
    parse_wall_clock(text)
}

/// `2020-01-09`, `2020-01-09 13:00[:00[.000]]` (or with a `T`) as wall-clock time.
fn parse_wall_clock(text: &str) -> Option<NaiveDateTime> {
    let naive = text.replace('T', " ");
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(at) = NaiveDateTime::parse_from_str(&naive, format) {
            return Some(at);
        }
    }
    NaiveDate::parse_from_str(&naive, "%Y-%m-%d")
        .ok()
        .map(|d| d.and_time(NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn relative_dates() {
        let now = at("2020-01-19 13:45:00");
        assert_eq!(
            Relative::parse("-7d").unwrap().resolve(now),
            at("2020-01-12 13:45:00")
        );
        assert_eq!(
            Relative::parse("mStart").unwrap().resolve(now),
            at("2020-01-01 00:00:00")
        );
        assert_eq!(
            Relative::parse("-1mStart").unwrap().resolve(now),
            at("2019-12-01 00:00:00")
        );
        assert_eq!(
            Relative::parse("-1w").unwrap().resolve(now),
            at("2020-01-12 13:45:00")
        );
        assert!(Relative::parse("2020-01-01").is_none());
        assert!(Relative::parse("-7x").is_none());
    }

    #[test]
    fn explicit_day_range_covers_whole_days() {
        let now = at("2030-01-01 00:00:00");
        let value = serde_json::json!({"date_from": "2020-01-09", "date_to": "2020-01-19"});
        let obj = Obj::new("dateRange", &value).unwrap();
        let range = Range::read(Some(&obj), Interval::Day, now, "UTC", None).unwrap();
        assert_eq!(range.buckets().len(), 11);
        assert_eq!(range.label(range.from), "9-Jan-2020");
        assert_eq!(hogql_time(range.to), "2020-01-19 23:59:59.999999");
        let hourly = Range::read(
            Some(
                &Obj::new(
                    "dateRange",
                    &serde_json::json!({"date_from": "2020-01-09", "date_to": "2020-01-09"}),
                )
                .unwrap(),
            ),
            Interval::Hour,
            now,
            "UTC",
            None,
        )
        .unwrap();
        assert_eq!(hourly.buckets().len(), 1);
        assert_eq!(hourly.label(hourly.from), "9-Jan 00:00");
    }

    #[test]
    fn relative_starts_are_truncated_to_their_unit() {
        let now = at("2020-01-20 12:30:00");
        let read = |from: &str| {
            let value = serde_json::json!({"date_from": from});
            let obj = Obj::new("dateRange", &value).unwrap();
            Range::read(Some(&obj), Interval::Hour, now, "UTC", None).unwrap()
        };
        // 48 + 12 + 1 hourly buckets, as PostHog's test_interval_hour_last_days counts them.
        assert_eq!(read("-2d").from, at("2020-01-18 00:00:00"));
        assert_eq!(read("-2d").buckets().len(), 61);
        assert_eq!(read("-3h").from, at("2020-01-20 09:00:00"));
    }

    #[test]
    fn utc_instants_are_read_in_the_project_timezone() {
        let now = at("2030-01-01 00:00:00");
        assert_eq!(
            parse_point("2025-03-09T00:00:00Z", now, "US/Pacific"),
            Some(at("2025-03-08 16:00:00"))
        );
        assert_eq!(
            parse_point("2025-03-12T00:00:00Z", now, "US/Pacific"),
            Some(at("2025-03-11 17:00:00"))
        );
        assert_eq!(
            parse_point("2025-03-09T00:00:00Z", now, "UTC"),
            Some(at("2025-03-09 00:00:00"))
        );
        assert_eq!(parse_point("2025-03-09T00:00:00Z", now, "Not/AZone"), None);
    }
}
