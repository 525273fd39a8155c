//! Value binding: the compiled SQL's `%(hogql_val_N)s` placeholders replaced by ClickHouse
//! literals, giving one self-contained statement any ClickHouse client can send (HTTP body,
//! native protocol, `clickhouse-client`).
//!
//! PostHog's ClickHouse client does the same on the Python side: it escapes every value of the
//! map and substitutes it with Python's `%` formatting. So does [`bind_values`]:
//!
//! * a string value becomes a single-quoted literal escaped by [`escape_string`] (the eight
//!   control characters and `\` in backslash form, `'` as `\'`);
//! * an integer value is written in decimal;
//! * `%%` becomes `%` (Python's escape for a literal percent sign; the printer never emits one,
//!   since `%` is rejected in identifiers and every string goes through the values map);
//! * any other `%` (a placeholder with no value, an unknown conversion, a truncated
//!   `%(name`) is an error carrying its byte offset, never a panic and never left in the SQL.
//!
//! The values map has no other kinds today ([`ParamValue`] is strings and integers): booleans,
//! `NULL`, numbers, dates and UUIDs are inlined by the printer itself, and arrays are printed
//! element by element.

use crate::context::ParamValue;
use crate::escape::escape_string;
use crate::{Error, Result};

/// The ClickHouse literal for one value: `'…'` for a string, decimal for an integer.
pub fn literal(value: &ParamValue) -> String {
    match value {
        ParamValue::Str(s) => escape_string(s),
        ParamValue::Int(i) => i.to_string(),
    }
}

/// Replace every `%(name)s` in `sql` by the literal of `name`'s value in `values` (the
/// [`Compiled::values`](crate::Compiled::values) map), and `%%` by `%`.
///
/// A placeholder whose name has no value, or a `%` that starts neither form, is an error
/// ([`Error::UnboundPlaceholder`] / [`Error::MalformedPlaceholder`]) with the byte offset of
/// the `%` in `sql`.
///
/// ```
/// use hogql_compiler::{Context, bind_values, compile};
///
/// let mut ctx = Context::new(420);
/// ctx.global_settings = false;
/// let out = compile(r"select 'it\'s', event from events where event = 'a\\b'", &mut ctx).unwrap();
/// assert_eq!(
///     bind_values(&out.clickhouse, &out.values).unwrap(),
///     r"SELECT 'it\'s', events.event AS event FROM events WHERE and(equals(events.team_id, 420), equals(events.event, 'a\\b')) LIMIT 50000"
/// );
/// ```
pub fn bind_values(sql: &str, values: &[(String, ParamValue)]) -> Result<String> {
    bind_values_counted(sql, values).0
}

/// [`bind_values`], and the work it took in deterministic units: bytes of SQL scanned plus one
/// per placeholder looked up (the values are indexed by name once, so binding is linear in the
/// SQL and the values; tests check that instead of timing it).
pub fn bind_values_counted(sql: &str, values: &[(String, ParamValue)]) -> (Result<String>, u64) {
    let index: std::collections::HashMap<&str, &ParamValue> =
        values.iter().map(|(k, v)| (k.as_str(), v)).rev().collect();
    let mut work = (sql.len() + values.len()) as u64;
    let result = bind_indexed(sql, &index, values.len(), &mut work);
    (result, work)
}

fn bind_indexed(
    sql: &str,
    values: &std::collections::HashMap<&str, &ParamValue>,
    n_values: usize,
    work: &mut u64,
) -> Result<String> {
    let mut out = String::with_capacity(sql.len() + 16 * n_values);
    let mut rest = sql;
    let mut offset = 0;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let here = offset + at;
        let tail = &rest[at + 1..];
        let consumed = if tail.starts_with('%') {
            out.push('%');
            2
        } else if let Some(named) = tail.strip_prefix('(') {
            let Some(close) = named.find(')') else {
                return Err(Error::MalformedPlaceholder { offset: here });
            };
            let name = &named[..close];
            if !named[close + 1..].starts_with('s') {
                return Err(Error::MalformedPlaceholder { offset: here });
            }
            *work += 1;
            let Some(value) = values.get(name) else {
                return Err(Error::UnboundPlaceholder {
                    name: name.to_owned(),
                    offset: here,
                });
            };
            out.push_str(&literal(value));
            // '%' '(' name ')' 's'
            close + 4
        } else {
            return Err(Error::MalformedPlaceholder { offset: here });
        };
        rest = &rest[at + consumed..];
        offset = here + consumed;
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn s(key: &str, v: &str) -> (String, ParamValue) {
        (key.to_owned(), ParamValue::Str(v.to_owned()))
    }

    #[test]
    fn strings_and_integers() {
        let values = vec![
            s("hogql_val_0", "it's"),
            s("hogql_val_1", "a\\b\n"),
            ("hogql_val_2".to_owned(), ParamValue::Int(-3)),
        ];
        assert_eq!(
            bind_values(
                "f(%(hogql_val_0)s, %(hogql_val_1)s, %(hogql_val_2)s, %(hogql_val_0)s)",
                &values
            )
            .unwrap(),
            r"f('it\'s', 'a\\b\n', -3, 'it\'s')"
        );
    }

    #[test]
    fn percent_percent_is_a_percent() {
        assert_eq!(bind_values("select 10 %% 3", &[]).unwrap(), "select 10 % 3");
    }

    #[test]
    fn values_containing_placeholders_are_not_rescanned() {
        let values = vec![s("a", "%(b)s"), s("b", "x")];
        assert_eq!(bind_values("%(a)s %(b)s", &values).unwrap(), "'%(b)s' 'x'");
    }

    #[test]
    fn unbound_and_malformed_are_errors_with_offsets() {
        let err = bind_values("select %(hogql_val_7)s", &[]).unwrap_err();
        assert_eq!(err.code(), "unbound_placeholder");
        assert_eq!(
            err.to_string(),
            "no value for placeholder `hogql_val_7` at byte 7"
        );
        for (sql, offset) in [
            ("select %", 7),
            ("select %d", 7),
            ("x %(a", 2),
            ("%(a)d", 0),
            ("%(a)", 0),
        ] {
            let err = bind_values(sql, &[s("a", "v")]).unwrap_err();
            assert_eq!(err.code(), "malformed_placeholder", "{sql}");
            assert_eq!(err, Error::MalformedPlaceholder { offset }, "{sql}");
        }
    }

    #[test]
    fn sql_without_placeholders_is_unchanged() {
        let sql = "SELECT 'é', `x` FROM t";
        assert_eq!(bind_values(sql, &[]).unwrap(), sql);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn never_panics(sql in ".{0,40}", key in "[a-z_0-9%()]{0,6}", v in ".{0,10}") {
            let _ = bind_values(&sql, &[s(&key, &v)]);
        }

        #[test]
        fn a_bound_string_round_trips_as_one_literal(v in any::<String>()) {
            let bound = bind_values("SELECT %(hogql_val_0)s", &[s("hogql_val_0", &v)]).unwrap();
            let lit = bound.strip_prefix("SELECT ").unwrap();
            prop_assert_eq!(crate::escape::unescape_clickhouse_string(lit), Some(v));
        }

        #[test]
        fn integers_are_decimal(i in any::<i64>()) {
            let values = [("v".to_owned(), ParamValue::Int(i))];
            prop_assert_eq!(bind_values("%(v)s", &values).unwrap(), i.to_string());
        }
    }
}
