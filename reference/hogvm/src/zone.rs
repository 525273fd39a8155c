//! Time zones and zone-aware calendar arithmetic, as luxon (the date library of PostHog's JavaScript
//! VM) does them, over the IANA database of `chrono-tz`.
//!
//! A zone name is read as luxon's `normalizeZone` reads it: `utc`/`gmt` (any case) is the fixed UTC zone,
//! `utc±H[:MM]` a fixed offset, anything else an IANA name (matched without regard to case, as
//! `Intl.DateTimeFormat` does), and an unknown name an invalid zone: datetimes in it are invalid (NaN
//! seconds, `Invalid DateTime` when formatted), never an error. There is no system zone: `local`,
//! `system` and `default` are UTC, as PostHog's VM is under `TZ=UTC`.
//!
//! [`Instant`] is luxon's `DateTime`: a timestamp in milliseconds (fraction kept) in a zone. Wall-clock
//! fields are read from `timestamp + offset` truncated to whole milliseconds, and a wall-clock time goes
//! back to a timestamp through luxon's `fixOffset` (two guesses from a provisional offset), so ambiguous
//! and skipped local times resolve as they do there.

use chrono::{Offset as _, TimeZone as _};

use crate::date::{civil_from_days, days_from_civil};
use crate::js;
use crate::value::Value;

/// The largest timestamp JavaScript's `Date` holds, in milliseconds.
const MAX_MS: f64 = 8.64e15;
const DAY_MS: f64 = 86_400_000.0;

/// A time zone as luxon resolves a zone argument.
#[derive(Clone, Debug)]
pub enum Zone {
    /// A fixed offset, in minutes east of UTC.
    Fixed(f64),
    /// An IANA zone, with the name as it was given (luxon keeps it).
    Iana(chrono_tz::Tz, String),
    /// A name no zone answers to.
    Invalid,
}

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone::Fixed(0.0);

    /// The zone a value names; `None`/`null` (no zone) is UTC.
    pub fn of(v: Option<&Value>) -> Zone {
        match v {
            None | Some(Value::Null) => Zone::UTC,
            Some(Value::Str(s)) => Self::named(s),
            Some(v) if v.is_number() => {
                let minutes = js::to_number(v);
                if minutes.is_finite() {
                    Zone::Fixed(minutes)
                } else {
                    Zone::Invalid
                }
            }
            Some(_) => Zone::Invalid,
        }
    }

    /// The zone a name names.
    pub fn named(name: &str) -> Zone {
        let lowered = name.to_lowercase();
        match lowered.as_str() {
            "utc" | "gmt" | "default" | "local" | "system" => return Zone::UTC,
            _ => {}
        }
        if let Some(minutes) = fixed_specifier(&lowered) {
            return Zone::Fixed(minutes);
        }
        match chrono_tz::Tz::from_str_insensitive(name) {
            Ok(tz) => Zone::Iana(tz, name.to_owned()),
            Err(_) => Zone::Invalid,
        }
    }

    /// Whether datetimes in this zone are valid.
    pub fn is_valid(&self) -> bool {
        !matches!(self, Zone::Invalid)
    }

    /// luxon's `zoneName`: `UTC`, `UTC+5:30`, the IANA name as given; `None` for an invalid zone.
    pub fn name(&self) -> Option<String> {
        match self {
            Zone::Fixed(m) if *m == 0.0 => Some("UTC".into()),
            Zone::Fixed(m) => Some(format!("UTC{}", format_offset(*m, false))),
            Zone::Iana(_, name) => Some(name.clone()),
            Zone::Invalid => None,
        }
    }

    /// The offset from UTC at a timestamp, in minutes (a fraction for local mean times).
    pub fn offset(&self, ts_ms: f64) -> f64 {
        match self {
            Zone::Fixed(m) => *m,
            Zone::Iana(tz, _) => {
                if !ts_ms.is_finite() || ts_ms.abs() > MAX_MS {
                    return f64::NAN;
                }
                #[allow(clippy::cast_possible_truncation)]
                let secs = (ts_ms / 1000.0).floor() as i64;
                match chrono::DateTime::from_timestamp(secs, 0) {
                    Some(utc) => {
                        let off = tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
                        f64::from(off.local_minus_utc()) / 60.0
                    }
                    None => f64::NAN,
                }
            }
            Zone::Invalid => f64::NAN,
        }
    }

    /// Whether the offset never changes (luxon prints such a zone's zero offset as `Z`).
    pub fn is_universal(&self) -> bool {
        matches!(self, Zone::Fixed(_))
    }

    /// luxon's `fixOffset`: the timestamp of a wall-clock time (as UTC milliseconds), starting from a
    /// provisional offset; returns the timestamp and its offset.
    fn fix_offset(&self, local_ms: f64, o: f64) -> (f64, f64) {
        let mut guess = local_ms - o * 60_000.0;
        let o2 = self.offset(guess);
        if o == o2 {
            return (guess, o);
        }
        guess -= (o2 - o) * 60_000.0;
        let o3 = self.offset(guess);
        if o2 == o3 {
            return (guess, o2);
        }
        (local_ms - o2.min(o3) * 60_000.0, o2.max(o3))
    }

    /// The timestamp of a wall-clock time (as UTC milliseconds). luxon starts from the offset at the
    /// current time, which decides only ambiguous and skipped times: `now` is asked for it only then.
    pub fn local_to_ts(&self, local_ms: f64, now: &mut dyn FnMut() -> f64) -> f64 {
        if !self.is_valid() || !local_ms.is_finite() {
            return f64::NAN;
        }
        let before = self.fix_offset(local_ms, self.offset(local_ms - DAY_MS)).0;
        let after = self.fix_offset(local_ms, self.offset(local_ms + DAY_MS)).0;
        if before == after || before.is_nan() || after.is_nan() {
            return before;
        }
        self.fix_offset(local_ms, self.offset(now())).0
    }
}

/// luxon's `FixedOffsetZone.parseSpecifier`: `utc`, `utc+H`, `utc-HH:MM` (lowercased input).
fn fixed_specifier(s: &str) -> Option<f64> {
    let rest = s.strip_prefix("utc")?;
    if rest.is_empty() {
        return Some(0.0);
    }
    let (sign, rest) = match rest.as_bytes()[0] {
        b'+' => (1.0, &rest[1..]),
        b'-' => (-1.0, &rest[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        None => (rest, None),
    };
    let all_digits = |t: &str, lo: usize, hi: usize| {
        (lo..=hi).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
    };
    if !all_digits(hours, 1, 2) || minutes.is_some_and(|m| !all_digits(m, 2, 2)) {
        return None;
    }
    let h: f64 = hours.parse().ok()?;
    let m: f64 = minutes.map_or(Some(0.0), |m| m.parse().ok())?;
    Some(sign * (h * 60.0 + m))
}

/// luxon's `formatOffset`: `narrow` (`+5`, `+5:30`) or `techie` (`+0530`).
pub fn format_offset(minutes: f64, techie: bool) -> String {
    let hours = (minutes / 60.0).abs().trunc();
    let mins = (minutes % 60.0).abs().trunc();
    let sign = if minutes >= 0.0 { '+' } else { '-' };
    if techie {
        format!("{sign}{hours:02}{mins:02}")
    } else if mins > 0.0 {
        format!("{sign}{hours}:{mins}")
    } else {
        format!("{sign}{hours}")
    }
}

/// Wall-clock fields: year, month, day, hour, minute, second, millisecond, weekday (1 = Monday).
pub type Fields = [i64; 8];

/// The fields of UTC milliseconds (whole).
fn fields_of(ms: i64) -> Fields {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    [
        y,
        m,
        d,
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
        (days + 3).rem_euclid(7) + 1,
    ]
}

/// `Date.UTC` of wall-clock fields (overflowing months and days carry), in milliseconds.
pub fn local_ms(y: i64, m: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> f64 {
    let days = days_from_civil(y, m, 1).saturating_add(d - 1);
    #[allow(clippy::cast_precision_loss)]
    let total = days as f64 * DAY_MS + (h * 3_600_000 + mi * 60_000 + s * 1000 + ms) as f64;
    total
}

/// luxon's `DateTime`: a timestamp in milliseconds in a zone; invalid when either is.
#[derive(Clone, Debug)]
pub struct Instant {
    /// Milliseconds since the epoch (NaN when invalid).
    pub ts: f64,
    /// The zone.
    pub zone: Zone,
}

impl Instant {
    /// `DateTime.fromSeconds(secs, {zone})`.
    pub fn from_seconds(secs: f64, zone: Zone) -> Self {
        Self {
            ts: secs * 1000.0,
            zone,
        }
    }

    /// A wall-clock time in a zone (`DateTime.fromObject`).
    pub fn from_local(zone: Zone, local: f64, now: &mut dyn FnMut() -> f64) -> Self {
        let ts = zone.local_to_ts(local, now);
        Self { ts, zone }
    }

    /// Whether this is a valid datetime.
    pub fn is_valid(&self) -> bool {
        self.zone.is_valid() && self.ts.is_finite() && self.ts.abs() <= MAX_MS
    }

    /// Seconds since the epoch (`toSeconds()`), NaN when invalid.
    pub fn seconds(&self) -> f64 {
        if self.is_valid() {
            self.ts / 1000.0
        } else {
            f64::NAN
        }
    }

    /// The offset at this instant, in minutes.
    pub fn offset(&self) -> f64 {
        self.zone.offset(self.ts)
    }

    /// The wall-clock fields; `None` when invalid.
    pub fn fields(&self) -> Option<Fields> {
        if !self.is_valid() {
            return None;
        }
        let local = (self.ts + self.offset() * 60_000.0).trunc();
        if !local.is_finite() || local.abs() > MAX_MS * 2.0 {
            return None;
        }
        #[allow(clippy::cast_possible_truncation)]
        Some(fields_of(local as i64))
    }

    /// luxon's `zoneName` of the result of an operation (`|| 'UTC'`).
    pub fn zone_value(&self) -> Value {
        match self.zone.name() {
            Some(name) if self.is_valid() => Value::string(name),
            _ => Value::str("UTC"),
        }
    }

    /// luxon's `plus` (calendar months and days, then milliseconds; the offset before is the guess).
    pub fn plus(&self, months: f64, days: f64, millis: f64) -> Self {
        let Some(c) = self.fields() else {
            return self.clone();
        };
        #[allow(clippy::cast_possible_truncation)]
        let (months, days) = (months.trunc() as i64, days.trunc() as i64);
        let total = c[0]
            .saturating_mul(12)
            .saturating_add(c[1] - 1)
            .saturating_add(months);
        let (y, m) = (total.div_euclid(12), total.rem_euclid(12) + 1);
        let last = days_from_civil(y, m + 1, 1) - days_from_civil(y, m, 1);
        let local = local_ms(
            y,
            m,
            c[2].min(last).saturating_add(days),
            c[3],
            c[4],
            c[5],
            c[6],
        );
        let (mut ts, _) = self.zone.fix_offset(local, self.offset());
        if millis != 0.0 {
            ts += millis;
        }
        Self {
            ts,
            zone: self.zone.clone(),
        }
    }

    /// luxon's `set` of wall-clock fields (the current offset is the guess), e.g. `startOf('day')`.
    pub fn set_local(&self, local: f64) -> Self {
        let (ts, _) = self.zone.fix_offset(local, self.offset());
        Self {
            ts,
            zone: self.zone.clone(),
        }
    }

    /// luxon's `toISO()`; `None` (JavaScript's `null`) when invalid.
    pub fn iso(&self) -> Option<String> {
        let [y, m, day, h, mi, s, ms, _] = self.fields()?;
        let year = if (0..=9999).contains(&y) {
            format!("{y:04}")
        } else if y < 0 {
            format!("-{:06}", -y)
        } else {
            format!("+{y:06}")
        };
        let o = self.offset();
        let zone = if self.zone.is_universal() && o == 0.0 {
            "Z".to_owned()
        } else {
            let sign = if o < 0.0 { '-' } else { '+' };
            let a = o.abs();
            format!("{sign}{:02}:{:02}", (a / 60.0).trunc(), (a % 60.0).trunc())
        };
        Some(format!(
            "{year}-{m:02}-{day:02}T{h:02}:{mi:02}:{s:02}.{ms:03}{zone}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_clock() -> f64 {
        panic!("the clock is read only for ambiguous times")
    }

    #[test]
    fn zone_names_read_as_luxon_reads_them() {
        assert_eq!(Zone::named("utc").name().as_deref(), Some("UTC"));
        assert_eq!(Zone::named("GMT").name().as_deref(), Some("UTC"));
        assert_eq!(Zone::named("UTC+05:30").name().as_deref(), Some("UTC+5:30"));
        assert_eq!(Zone::named("utc-3").name().as_deref(), Some("UTC-3"));
        assert_eq!(
            Zone::named("europe/berlin").name().as_deref(),
            Some("europe/berlin")
        );
        assert!(!Zone::named("Fantasia/Castle").is_valid());
        assert!(!Zone::named("utc+").is_valid());
    }

    #[test]
    fn offsets_follow_the_database() {
        let berlin = Zone::named("Europe/Berlin");
        assert_eq!(berlin.offset(0.0), 60.0);
        // Summer time, and the local mean time of 1811 (+0:53:28).
        assert_eq!(berlin.offset(1_720_000_000_000.0), 120.0);
        let lmt = Instant::from_seconds(-5e9, berlin);
        assert_eq!(lmt.iso().as_deref(), Some("1811-07-23T16:00:08.000+00:53"));
        let london = Instant::from_seconds(0.0, Zone::named("Europe/London"));
        assert_eq!(
            london.iso().as_deref(),
            Some("1970-01-01T01:00:00.000+01:00")
        );
        let utc = Instant::from_seconds(-0.0015, Zone::UTC);
        assert_eq!(utc.iso().as_deref(), Some("1969-12-31T23:59:59.999Z"));
    }

    #[test]
    fn wall_clock_times_resolve_like_fix_offset() {
        let berlin = Zone::named("Europe/Berlin");
        // 2024-03-15 10:30 in Berlin is 09:30 UTC.
        let local = local_ms(2024, 3, 15, 10, 30, 0, 0);
        assert_eq!(
            berlin.local_to_ts(local, &mut no_clock),
            1_710_495_000_000.0
        );
        // 02:30 on 2024-03-31 does not exist there: it is 03:30 summer time (01:30 UTC).
        let gap = local_ms(2024, 3, 31, 2, 30, 0, 0);
        let winter_now = &mut || 1_704_067_200_000.0;
        assert_eq!(berlin.local_to_ts(gap, winter_now), 1_711_848_600_000.0);
        // 02:30 on 2024-10-27 happens twice: the clock's offset decides.
        let twice = local_ms(2024, 10, 27, 2, 30, 0, 0);
        let summer_now = &mut || 1_720_000_000_000.0;
        assert_eq!(berlin.local_to_ts(twice, summer_now), 1_729_989_000_000.0);
        assert_eq!(berlin.local_to_ts(twice, winter_now), 1_729_992_600_000.0);
    }
}
