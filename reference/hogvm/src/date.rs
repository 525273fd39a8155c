//! Proleptic Gregorian calendar arithmetic, and the date-like string grammar; zones are `zone.rs`'s.
//!
//! `parse_date_like` is PostHog's shared "date-like string" grammar: `YYYY-MM-DD`, optionally followed by
//! `T`/`t`/space, `HH:MM[:SS[.fff]]` and a zone `Z`/`z`/`±HH[[:]MM]`; anything else is not a date.

/// Days since 1970-01-01 of a proleptic Gregorian date (month and day may overflow, as in `Date.UTC`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Normalise the month into 1..=12 first.
    let y = y + (m - 1).div_euclid(12);
    let m = (m - 1).rem_euclid(12) + 1;
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    days_from_civil(y, m + 1, 1) - days_from_civil(y, m, 1)
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Epoch seconds of a date-like string read in UTC (its own offset, when it has one, applies); `None`
/// when it is not one.
pub fn parse_date_like(input: &str) -> Option<f64> {
    let (local_ms, offset) = parse_date_like_local(input)?;
    #[allow(clippy::cast_precision_loss)]
    Some((local_ms - offset.unwrap_or(0) as f64 * 1000.0) / 1000.0)
}

/// A date-like string as wall-clock milliseconds (read as if UTC) and the offset it carries, in
/// seconds east of UTC (`None` when it has none, `Some(0)` for `Z`).
pub fn parse_date_like_local(input: &str) -> Option<(f64, Option<i64>)> {
    let s = input.trim().as_bytes();
    if s.len() < 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    if year == 0 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut secs = days_from_civil(year, month, day) * 86_400;
    let mut millis = 0i64;
    let mut offset = None;
    let rest = &s[10..];
    if !rest.is_empty() {
        if !matches!(rest[0], b'T' | b't' | b' ') || rest.len() < 6 || rest[3] != b':' {
            return None;
        }
        let hour = digits(&rest[1..3])?;
        let minute = digits(&rest[4..6])?;
        if hour > 23 || minute > 59 {
            return None;
        }
        secs += hour * 3600 + minute * 60;
        let mut r = &rest[6..];
        if r.first() == Some(&b':') {
            let second = digits(r.get(1..3)?)?;
            if second > 59 {
                return None;
            }
            secs += second;
            r = &r[3..];
            if matches!(r.first(), Some(b'.' | b',')) {
                let n = r[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if n == 0 || n > 9 {
                    return None;
                }
                let frac = &r[1..=n];
                let mut ms = String::from_utf8_lossy(&frac[..n.min(3)]).to_string();
                while ms.len() < 3 {
                    ms.push('0');
                }
                millis = ms.parse().ok()?;
                r = &r[n + 1..];
            }
        }
        match r {
            [] => {}
            [b'Z' | b'z'] => offset = Some(0),
            [sign @ (b'+' | b'-'), tail @ ..] => {
                let (hh, mm) = match tail {
                    [a, b] => (digits(&[*a, *b])?, 0),
                    [a, b, c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                    [a, b, b':', c, d] => (digits(&[*a, *b])?, digits(&[*c, *d])?),
                    _ => return None,
                };
                if hh > 23 || mm > 59 {
                    return None;
                }
                let east = hh * 3600 + mm * 60;
                offset = Some(if *sign == b'+' { east } else { -east });
            }
            _ => return None,
        }
    }
    #[allow(clippy::cast_precision_loss)]
    Some(((secs * 1000 + millis) as f64, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 3, 1), 19_783);
        assert_eq!(civil_from_days(19_783), (2024, 3, 1));
        assert_eq!(days_from_civil(2023, 13, 1), days_from_civil(2024, 1, 1));
    }

    #[test]
    fn date_like_strings_follow_the_shared_grammar() {
        assert_eq!(parse_date_like("2024-01-02"), Some(1_704_153_600.0));
        assert_eq!(
            parse_date_like("2024-01-02 03:04:05.678Z"),
            Some(1_704_164_645.678)
        );
        assert_eq!(
            parse_date_like("2024-01-02T00:00+01:00"),
            Some(1_704_150_000.0)
        );
        assert_eq!(parse_date_like("2024-02-30"), None);
        assert_eq!(parse_date_like("2024"), None);
        assert_eq!(parse_date_like("0000-01-01"), None);
    }
}
