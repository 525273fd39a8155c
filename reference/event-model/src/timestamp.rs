//! The event-time formula capture applies (clock-skew correction with `sent_at`, `offset` override,
//! the 23-hour future clamp, the out-of-range fallback to the epoch) and lenient date parsing.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeDelta, Utc};

/// How far in the future a computed timestamp may be before it is replaced by `now`.
pub const FUTURE_LIMIT: TimeDelta = TimeDelta::hours(23);

/// Inputs of the formula.
#[derive(Debug, Clone, Copy)]
pub struct TimestampInputs<'a> {
    /// The event's `timestamp`, as sent.
    pub timestamp: Option<&'a str>,
    /// The event's `offset` in milliseconds.
    pub offset: Option<i64>,
    /// When the client sent the request.
    pub sent_at: Option<DateTime<Utc>>,
    /// `properties.$ignore_sent_at == true`.
    pub ignore_sent_at: bool,
    /// When capture received the request.
    pub now: DateTime<Utc>,
}

/// Computes the event time.
pub fn compute(inputs: &TimestampInputs<'_>) -> DateTime<Utc> {
    let now = inputs.now;
    let mut ts = Some(now);
    if let Some(parsed) = inputs.timestamp.and_then(parse) {
        ts = match inputs.sent_at {
            Some(sent_at) if !inputs.ignore_sent_at => {
                // skew = sent_at - now; ts = timestamp - skew
                let skew = sent_at.signed_duration_since(now);
                parsed.checked_sub_signed(skew)
            }
            _ => Some(parsed),
        };
    }
    if let Some(offset) = inputs.offset {
        ts = TimeDelta::try_milliseconds(offset).and_then(|d| now.checked_sub_signed(d));
    }
    let Some(ts) = ts else {
        return DateTime::UNIX_EPOCH;
    };
    if ts.signed_duration_since(now) > FUTURE_LIMIT {
        return now;
    }
    let year = chrono::Datelike::year(&ts);
    if !(0..=9999).contains(&year) {
        return DateTime::UNIX_EPOCH;
    }
    ts
}

/// RFC 3339 with `Z`, and only as many fraction digits as needed (0, 3, 6 or 9).
pub fn format_rfc3339(ts: &DateTime<Utc>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Same format for a time with its own offset (kept as given; `Z` for UTC).
pub fn format_rfc3339_offset(ts: &DateTime<FixedOffset>) -> String {
    ts.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `sent_at` as PostHog's capture writes it: RFC 3339 with the client's offset (`Z` for UTC) and a
/// fraction of seconds without its trailing zeros (`.32Z`, not `.320Z`; none when it is zero), which
/// is how its Rust capture prints an `OffsetDateTime`.
pub fn format_sent_at(ts: &DateTime<FixedOffset>) -> String {
    let whole = ts.to_rfc3339_opts(SecondsFormat::Secs, true);
    let nanos = ts.timestamp_subsec_nanos();
    if nanos == 0 {
        return whole;
    }
    let digits = format!("{nanos:09}");
    let fraction = digits.trim_end_matches('0');
    // `whole` is `YYYY-MM-DDTHH:MM:SS` followed by `Z` or `±HH:MM`: the fraction goes between.
    let split = whole
        .char_indices()
        .skip(19)
        .find(|(_, c)| matches!(c, 'Z' | '+' | '-'))
        .map_or(whole.len(), |(i, _)| i);
    format!("{}.{fraction}{}", &whole[..split], &whole[split..])
}

/// Parses a client date leniently; `None` if nothing fits.
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    parse_with_offset(text).map(|d| d.with_timezone(&Utc))
}

/// Like [`parse`], keeping the offset the client wrote.
pub fn parse_with_offset(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let utc = FixedOffset::east_opt(0)?;
    // 1. RFC 3339, with a bare `+HH` / `-HH` offset widened to `+HH:00`.
    if let Ok(d) = DateTime::parse_from_rfc3339(text) {
        return Some(d);
    }
    let widened = widen_offset(text);
    if let Ok(d) = DateTime::parse_from_rfc3339(&widened) {
        return Some(d);
    }
    // 2. Epoch seconds or milliseconds.
    if let Ok(n) = text.parse::<f64>()
        && n.is_finite()
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
        if ms.abs() < 1e16 {
            return DateTime::from_timestamp_millis(ms as i64).map(|d| d.with_timezone(&utc));
        }
        return None;
    }
    // 3. A space instead of `T`, slashes instead of dashes.
    let normalised = widened.replacen(' ', "T", 1).replace('/', "-");
    if let Ok(d) = DateTime::parse_from_rfc3339(&normalised) {
        return Some(d);
    }
    // 4. RFC 2822.
    if let Ok(d) = DateTime::parse_from_rfc2822(text) {
        return Some(d);
    }
    // 5. Civil date-time or date without an offset, read as UTC.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(&normalised, format) {
            return Some(naive.and_utc().with_timezone(&utc));
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(&normalised, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().with_timezone(&utc));
    }
    None
}

fn widen_offset(text: &str) -> String {
    let bytes = text.as_bytes();
    let n = bytes.len();
    if n > 3
        && matches!(bytes[n - 3], b'+' | b'-')
        && bytes[n - 2].is_ascii_digit()
        && bytes[n - 1].is_ascii_digit()
        && bytes[..n - 3].contains(&b':')
    {
        format!("{text}:00")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse(text).unwrap()
    }

    #[track_caller]
    fn check(
        timestamp: Option<&str>,
        sent_at: Option<&str>,
        offset: Option<i64>,
        ignore: bool,
        expected: &str,
    ) {
        let got = compute(&TimestampInputs {
            timestamp,
            offset,
            sent_at: sent_at.map(at),
            ignore_sent_at: ignore,
            now: at("2025-01-02T12:00:00Z"),
        });
        assert_eq!(format_rfc3339(&got), expected);
    }

    #[test]
    fn worked_examples() {
        let ts = Some("2025-01-02T11:00:00Z");
        check(
            ts,
            Some("2025-01-02T12:00:10Z"),
            None,
            false,
            "2025-01-02T10:59:50Z",
        );
        check(
            ts,
            Some("2025-01-02T11:59:50Z"),
            None,
            false,
            "2025-01-02T11:00:10Z",
        );
        check(ts, None, None, false, "2025-01-02T11:00:00Z");
        check(
            ts,
            Some("2025-01-02T12:00:10Z"),
            Some(5000),
            false,
            "2025-01-02T11:59:55Z",
        );
        check(
            ts,
            Some("2025-01-02T12:00:10Z"),
            None,
            true,
            "2025-01-02T11:00:00Z",
        );
    }

    #[test]
    fn clamps_and_fallbacks() {
        check(
            Some("2025-01-03T12:00:00Z"),
            None,
            None,
            false,
            "2025-01-02T12:00:00Z",
        );
        check(
            Some("2025-01-03T10:00:00Z"),
            None,
            None,
            false,
            "2025-01-03T10:00:00Z",
        );
        check(
            Some("not a date"),
            None,
            None,
            false,
            "2025-01-02T12:00:00Z",
        );
        check(None, None, Some(i64::MAX), false, "1970-01-01T00:00:00Z");
        check(
            Some("0001-01-01T00:00:00Z"),
            Some("9999-12-31T00:00:00Z"),
            None,
            false,
            "1970-01-01T00:00:00Z",
        );
    }

    #[test]
    fn sent_at_drops_trailing_zeros_of_the_fraction() {
        let cases = [
            (
                "2023-09-15T09:15:02.325000+00:00",
                "2023-09-15T09:15:02.325Z",
            ),
            ("2023-09-15T09:15:02.320Z", "2023-09-15T09:15:02.32Z"),
            ("2023-09-15T09:15:02.300Z", "2023-09-15T09:15:02.3Z"),
            ("2023-09-15T09:15:02.000Z", "2023-09-15T09:15:02Z"),
            ("2023-09-15T09:15:02Z", "2023-09-15T09:15:02Z"),
            (
                "2023-09-15T09:15:02.123456789Z",
                "2023-09-15T09:15:02.123456789Z",
            ),
            (
                "2023-09-15T09:15:02.1234560Z",
                "2023-09-15T09:15:02.123456Z",
            ),
            (
                "2023-09-15T11:15:02.500+02:00",
                "2023-09-15T11:15:02.5+02:00",
            ),
            (
                "2023-09-15T04:15:02.050-05:00",
                "2023-09-15T04:15:02.05-05:00",
            ),
        ];
        for (input, expected) in cases {
            let parsed = parse_with_offset(input).unwrap();
            assert_eq!(format_sent_at(&parsed), expected, "{input}");
        }
    }

    #[test]
    fn lenient_parsing() {
        for (text, expected) in [
            ("2025-01-02T03:04:05+05", "2025-01-01T22:04:05Z"),
            ("2025-01-02 03:04:05", "2025-01-02T03:04:05Z"),
            ("2025/01/02 03:04:05.250", "2025-01-02T03:04:05.250Z"),
            ("2025-01-02", "2025-01-02T00:00:00Z"),
            ("Thu, 02 Jan 2025 03:04:05 +0000", "2025-01-02T03:04:05Z"),
            ("1735787045", "2025-01-02T03:04:05Z"),
            ("1735787045123", "2025-01-02T03:04:05.123Z"),
        ] {
            assert_eq!(format_rfc3339(&at(text)), expected, "{text}");
        }
    }
}
