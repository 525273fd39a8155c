//! ClickHouse and HogQL escaping: string literals, identifiers and inlined constant values.
//!
//! Behaviour follows `/work/shared/spec/hogql.md` §4 ("String escaping", "Identifiers", "Values and
//! placeholders"), which records what PostHog's `escape_sql.py` does:
//!
//! * string literals are wrapped in single quotes; the eight control characters `\b \f \r \n \t \0
//!   \a \v` and the backslash get their backslash forms, and `'` becomes `\'`;
//! * identifiers are printed bare when they match `^[A-Za-z_][A-Za-z0-9_$]*$` (ClickHouse) or
//!   `^[A-Za-z_$][A-Za-z0-9_$]*$` (HogQL); anything else is wrapped in backticks, using the same
//!   control-character map (without the single quote) and doubling every backtick. The older
//!   PostHog style (backslash before a backtick, no `$` allowed bare) is available as
//!   [`IdentifierStyle::Legacy`] because old snapshots show it;
//! * an identifier containing `%` is rejected with PostHog's exact message, since `%` would clash
//!   with the `%(hogql_val_N)s` parameter syntax.
//!
//! Everything here is total: no input makes these functions panic.

use crate::{Error, Result};

/// The SQL dialect a value or identifier is printed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// ClickHouse SQL, what is sent to the server.
    ClickHouse,
    /// Canonical HogQL, what is shown back to users (`response.hogql`).
    HogQL,
}

/// How a non-bare identifier is quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IdentifierStyle {
    /// Current PostHog: `$` allowed in a bare identifier (not leading, for ClickHouse); a backtick
    /// inside a quoted identifier is doubled (`` a``b ``).
    #[default]
    Current,
    /// Older PostHog (seen in old snapshots): `$` forces quoting in ClickHouse identifiers and a
    /// backtick inside a quoted identifier is escaped with a backslash.
    Legacy,
}

/// The backslash form of a character in PostHog's escape map, if it has one (the single quote
/// and the backtick are handled by the callers, since they differ between strings and
/// identifiers).
fn control_escape(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{8}' => "\\b",
        '\u{c}' => "\\f",
        '\r' => "\\r",
        '\n' => "\\n",
        '\t' => "\\t",
        '\0' => "\\0",
        '\u{7}' => "\\a",
        '\u{b}' => "\\v",
        '\\' => "\\\\",
        _ => return None,
    })
}

/// Escape a string as a ClickHouse single-quoted literal, e.g. `it's` → `'it\'s'`.
///
/// This is the same in both dialects.
pub fn escape_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match (c, control_escape(c)) {
            (_, Some(escaped)) => out.push_str(escaped),
            ('\'', None) => out.push_str("\\'"),
            (c, None) => out.push(c),
        }
    }
    out.push('\'');
    out
}

fn is_bare(identifier: &str, allow_leading_dollar: bool, allow_dollar: bool) -> bool {
    let mut chars = identifier.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let first_ok =
        first.is_ascii_alphabetic() || first == '_' || (allow_leading_dollar && first == '$');
    first_ok && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (allow_dollar && c == '$'))
}

fn backtick_quote(identifier: &str, style: IdentifierStyle) -> String {
    let mut out = String::with_capacity(identifier.len() + 2);
    out.push('`');
    for c in identifier.chars() {
        match (c, control_escape(c)) {
            (_, Some(escaped)) => out.push_str(escaped),
            ('`', None) => out.push_str(match style {
                IdentifierStyle::Current => "``",
                IdentifierStyle::Legacy => "\\`",
            }),
            (c, None) => out.push(c),
        }
    }
    out.push('`');
    out
}

fn reject_percent(identifier: &str) -> Result<()> {
    if identifier.contains('%') {
        return Err(Error::PercentInIdentifier {
            identifier: identifier.to_owned(),
        });
    }
    Ok(())
}

/// Escape an identifier (table, column or alias name) for ClickHouse.
///
/// `events` stays bare, `mat_$browser` stays bare (current style), `$browser` becomes
/// `` `$browser` ``, and anything with `%` is an error.
pub fn escape_clickhouse_identifier(identifier: &str, style: IdentifierStyle) -> Result<String> {
    reject_percent(identifier)?;
    let allow_dollar = style == IdentifierStyle::Current;
    if is_bare(identifier, false, allow_dollar) {
        return Ok(identifier.to_owned());
    }
    Ok(backtick_quote(identifier, style))
}

/// Escape an identifier for the HogQL dialect, where `$` may also lead (`$browser` stays bare).
pub fn escape_hogql_identifier(identifier: &str, style: IdentifierStyle) -> Result<String> {
    reject_percent(identifier)?;
    if is_bare(identifier, true, true) {
        return Ok(identifier.to_owned());
    }
    Ok(backtick_quote(identifier, style))
}

/// Escape an identifier for the given dialect with the current style.
pub fn escape_identifier(identifier: &str, dialect: Dialect) -> Result<String> {
    match dialect {
        Dialect::ClickHouse => escape_clickhouse_identifier(identifier, IdentifierStyle::Current),
        Dialect::HogQL => escape_hogql_identifier(identifier, IdentifierStyle::Current),
    }
}

/// A constant the printer inlines instead of sending as a parameter (spec §4, "Values").
#[derive(Debug, Clone, PartialEq)]
pub enum InlineValue<'a> {
    /// `NULL`.
    Null,
    /// A boolean: `1`/`0` in ClickHouse, `true`/`false` in HogQL.
    Bool(bool),
    /// An integer, printed in decimal.
    Int(i128),
    /// A float, printed like Python's `repr` (`NaN`, `Inf`, `-Inf` for the special values).
    Float(f64),
    /// A string literal (normally these are parameterised; inlining is used for settings and the
    /// hogql dialect).
    Str(&'a str),
    /// A UUID in its canonical text form: `toUUIDOrNull('…')` / `toUUID('…')`.
    Uuid(&'a str),
    /// A datetime already rendered as `YYYY-MM-DD HH:MM:SS.ffffff` in `timezone`:
    /// `toDateTime64('…', 6, '<tz>')` in ClickHouse, `toDateTime('…')` in HogQL.
    DateTime { text: &'a str, timezone: &'a str },
    /// A date rendered as `YYYY-MM-DD`: `toDate('…')`.
    Date(&'a str),
    /// A list: `[a, b]`.
    List(Vec<InlineValue<'a>>),
    /// A tuple: `(a, b)`.
    Tuple(Vec<InlineValue<'a>>),
}

/// Print a constant inline for the given dialect.
pub fn escape_value(value: &InlineValue<'_>, dialect: Dialect) -> String {
    match value {
        InlineValue::Null => "NULL".to_owned(),
        InlineValue::Bool(b) => match (dialect, b) {
            (Dialect::ClickHouse, true) => "1".to_owned(),
            (Dialect::ClickHouse, false) => "0".to_owned(),
            (Dialect::HogQL, true) => "true".to_owned(),
            (Dialect::HogQL, false) => "false".to_owned(),
        },
        InlineValue::Int(i) => i.to_string(),
        InlineValue::Float(f) => python_float_repr(*f),
        InlineValue::Str(s) => escape_string(s),
        InlineValue::Uuid(u) => match dialect {
            Dialect::ClickHouse => format!("toUUIDOrNull({})", escape_string(u)),
            Dialect::HogQL => format!("toUUID({})", escape_string(u)),
        },
        InlineValue::DateTime { text, timezone } => match dialect {
            Dialect::ClickHouse => format!(
                "toDateTime64({}, 6, {})",
                escape_string(text),
                escape_string(timezone)
            ),
            Dialect::HogQL => format!("toDateTime({})", escape_string(text)),
        },
        InlineValue::Date(d) => format!("toDate({})", escape_string(d)),
        InlineValue::List(items) => format!("[{}]", join_values(items, dialect)),
        InlineValue::Tuple(items) => format!("({})", join_values(items, dialect)),
    }
}

fn join_values(items: &[InlineValue<'_>], dialect: Dialect) -> String {
    items
        .iter()
        .map(|item| escape_value(item, dialect))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Format a float the way Python's `repr(float)` does (which is what PostHog prints): the
/// shortest round-tripping digits, positional notation with a trailing `.0` when the decimal
/// exponent is in `-4..16`, scientific `1e+16` / `1.5e-05` otherwise.
pub fn python_float_repr(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-Inf" } else { "Inf" }.to_owned();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `-1.5e-5`.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if (-4..16).contains(&exponent) {
        let n_digits = digits.len() as i32;
        let point = exponent + 1; // position of the decimal point within `digits`
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point >= n_digits {
            format!("{}{}.0", digits, "0".repeat((point - n_digits) as usize))
        } else {
            let (int_part, frac_part) = digits.split_at(point as usize);
            format!("{int_part}.{frac_part}")
        };
        format!("{sign}{body}")
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }
}

#[cfg(test)]
/// Undo [`escape_string`]: the inverse of ClickHouse's quoted-string lexing for the escapes
/// we produce. Returns `None` for anything that is not a well-formed literal.
pub(crate) fn unescape_clickhouse_string(literal: &str) -> Option<String> {
    let inner = literal.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(match chars.next()? {
                'b' => '\u{8}',
                'f' => '\u{c}',
                'r' => '\r',
                'n' => '\n',
                't' => '\t',
                '0' => '\0',
                'a' => '\u{7}',
                'v' => '\u{b}',
                '\\' => '\\',
                '\'' => '\'',
                _ => return None,
            }),
            // An unescaped quote inside the literal would end it early.
            '\'' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unescape_backtick_identifier(quoted: &str) -> Option<String> {
        let inner = quoted.strip_prefix('`')?.strip_suffix('`')?;
        let mut out = String::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '`' => {
                    if chars.next()? != '`' {
                        return None;
                    }
                    out.push('`');
                }
                '\\' => out.push(match chars.next()? {
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'n' => '\n',
                    't' => '\t',
                    '0' => '\0',
                    'a' => '\u{7}',
                    'v' => '\u{b}',
                    '\\' => '\\',
                    _ => return None,
                }),
                c => out.push(c),
            }
        }
        Some(out)
    }

    #[test]
    fn strings_escape_every_mapped_character() {
        let cases = [
            ("", "''"),
            ("abc", "'abc'"),
            ("it's", "'it\\'s'"),
            ("back\\slash", "'back\\\\slash'"),
            ("\u{8}", "'\\b'"),
            ("\u{c}", "'\\f'"),
            ("\r", "'\\r'"),
            ("\n", "'\\n'"),
            ("\t", "'\\t'"),
            ("\0", "'\\0'"),
            ("\u{7}", "'\\a'"),
            ("\u{b}", "'\\v'"),
            ("`tick`", "'`tick`'"),
            ("\"dq\"", "'\"dq\"'"),
            ("%(hogql_val_0)s", "'%(hogql_val_0)s'"),
            ("ünïcødé ✓", "'ünïcødé ✓'"),
            ("\u{1}", "'\u{1}'"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_string(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn clickhouse_identifiers_current_style() {
        let cases = [
            ("events", "events"),
            ("_private", "_private"),
            ("mat_$browser", "mat_$browser"),
            ("$browser", "`$browser`"),
            ("1abc", "`1abc`"),
            ("with space", "`with space`"),
            ("a`b", "`a``b`"),
            ("count()", "`count()`"),
            ("it's", "`it's`"),
            ("new\nline", "`new\\nline`"),
            ("back\\slash", "`back\\\\slash`"),
            ("mat_$browser_and_string", "mat_$browser_and_string"),
            ("", "``"),
            ("ünï", "`ünï`"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                escape_clickhouse_identifier(input, IdentifierStyle::Current).unwrap(),
                expected,
                "input {input:?}"
            );
        }
    }

    #[test]
    fn clickhouse_identifiers_legacy_style() {
        let cases = [
            ("events", "events"),
            ("mat_$browser", "`mat_$browser`"),
            ("$browser", "`$browser`"),
            ("a`b", "`a\\`b`"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                escape_clickhouse_identifier(input, IdentifierStyle::Legacy).unwrap(),
                expected
            );
        }
    }

    #[test]
    fn hogql_identifiers_allow_leading_dollar() {
        assert_eq!(
            escape_identifier("$browser", Dialect::HogQL).unwrap(),
            "$browser"
        );
        assert_eq!(
            escape_identifier("$browser", Dialect::ClickHouse).unwrap(),
            "`$browser`"
        );
        assert_eq!(escape_identifier("a b", Dialect::HogQL).unwrap(), "`a b`");
        assert_eq!(
            escape_identifier("9lives", Dialect::HogQL).unwrap(),
            "`9lives`"
        );
    }

    #[test]
    fn percent_in_identifier_is_rejected_with_posthog_text() {
        for dialect in [Dialect::ClickHouse, Dialect::HogQL] {
            let err = escape_identifier("as%d", dialect).unwrap_err();
            assert_eq!(
                err.to_string(),
                "The HogQL identifier \"as%d\" is not permitted as it contains the \"%\" character"
            );
            assert_eq!(err.code(), "identifier_percent");
        }
    }

    #[test]
    fn inline_values_per_dialect() {
        use InlineValue as V;
        let uuid = "01800000-0000-0000-0000-000000000000";
        let cases: Vec<(V<'_>, &str, &str)> = vec![
            (V::Null, "NULL", "NULL"),
            (V::Bool(true), "1", "true"),
            (V::Bool(false), "0", "false"),
            (V::Int(-42), "-42", "-42"),
            (V::Float(4.2), "4.2", "4.2"),
            (V::Float(f64::NAN), "NaN", "NaN"),
            (V::Float(f64::INFINITY), "Inf", "Inf"),
            (V::Float(f64::NEG_INFINITY), "-Inf", "-Inf"),
            (V::Str("a'b"), "'a\\'b'", "'a\\'b'"),
            (
                V::Uuid(uuid),
                "toUUIDOrNull('01800000-0000-0000-0000-000000000000')",
                "toUUID('01800000-0000-0000-0000-000000000000')",
            ),
            (
                V::DateTime {
                    text: "2024-01-01 00:00:00.000000",
                    timezone: "UTC",
                },
                "toDateTime64('2024-01-01 00:00:00.000000', 6, 'UTC')",
                "toDateTime('2024-01-01 00:00:00.000000')",
            ),
            (
                V::Date("2024-01-31"),
                "toDate('2024-01-31')",
                "toDate('2024-01-31')",
            ),
            (
                V::List(vec![V::Int(1), V::Str("x"), V::Bool(true)]),
                "[1, 'x', 1]",
                "[1, 'x', true]",
            ),
            (V::Tuple(vec![V::Int(1), V::Null]), "(1, NULL)", "(1, NULL)"),
        ];
        for (value, clickhouse, hogql) in cases {
            assert_eq!(escape_value(&value, Dialect::ClickHouse), clickhouse);
            assert_eq!(escape_value(&value, Dialect::HogQL), hogql);
        }
    }

    #[test]
    fn floats_print_like_python_repr() {
        // Expected strings come from CPython 3.11 `repr(float(x))`.
        let cases = [
            (1.0, "1.0"),
            (-1.0, "-1.0"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (4.2, "4.2"),
            (0.1, "0.1"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (123456789012345.0, "123456789012345.0"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.71, "2.71"),
            (100.5, "100.5"),
        ];
        for (value, expected) in cases {
            assert_eq!(python_float_repr(value), expected, "value {value:e}");
        }
    }

    proptest! {
        #[test]
        fn string_literals_round_trip(s in any::<String>()) {
            let escaped = escape_string(&s);
            prop_assert_eq!(unescape_clickhouse_string(&escaped), Some(s));
        }

        #[test]
        fn string_literals_round_trip_control_heavy(s in "[\\x00-\\x0f'\\\\`a%]{0,40}") {
            let escaped = escape_string(&s);
            prop_assert_eq!(unescape_clickhouse_string(&escaped), Some(s));
        }

        #[test]
        fn identifiers_never_panic_and_round_trip(s in any::<String>()) {
            for dialect in [Dialect::ClickHouse, Dialect::HogQL] {
                match escape_identifier(&s, dialect) {
                    Ok(printed) if printed.starts_with('`') => {
                        prop_assert_eq!(unescape_backtick_identifier(&printed), Some(s.clone()));
                    }
                    Ok(printed) => prop_assert_eq!(&printed, &s),
                    Err(_) => prop_assert!(s.contains('%')),
                }
            }
            let _ = escape_clickhouse_identifier(&s, IdentifierStyle::Legacy);
        }

        #[test]
        fn float_repr_round_trips(f in any::<f64>()) {
            let printed = python_float_repr(f);
            if f.is_finite() {
                let parsed: f64 = printed.parse().unwrap();
                prop_assert_eq!(parsed.to_bits(), f.to_bits());
            }
        }
    }
}
