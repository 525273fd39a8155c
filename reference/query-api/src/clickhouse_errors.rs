//! ClickHouse's numeric error codes mapped to stable codes, HTTP statuses and fixed messages.
//!
//! ClickHouse's error text may carry values read from rows (`Cannot parse string 'alice@b.com' as
//! Int64`), and those rows may belong to another team: an expression can run on a whole part before the
//! team guard filters it. So a client never sees that text: it gets the error's name in lowercase as
//! its `code` (PostHog's `code_name`, e.g. `cannot_parse_text`) and a message written here, which holds
//! nothing read from data. The full text is logged server-side only.
//!
//! The names follow ClickHouse's `ErrorCodes.cpp`; which ones are the user's fault (400) and the
//! fixed wording follow PostHog's `posthog/errors.py` (`CLICKHOUSE_ERROR_CODE_LOOKUP`,
//! `INTERNAL_CH_ERROR_USER_MESSAGES`).

/// How one ClickHouse error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClickHouseError {
    /// ClickHouse's number (`Code: 6.`); 0 when the answer carried none.
    pub number: u32,
    /// The stable code of the response body: ClickHouse's name in lowercase.
    pub code: &'static str,
    /// The HTTP status: 400 for errors of the query, 429 capacity, 504 time, 500 anything else.
    pub status: u16,
    /// The client's message; fixed text, nothing from the data.
    pub message: &'static str,
}

const TOO_MUCH_DATA: &str = "the query reads or returns more data than the limit allows: use a shorter date range, add filters or a LIMIT";
const TOO_COMPLEX: &str = "the query is too complex to run: use fewer nested subqueries, conditions or values in IN lists";
const TEMPORARY: &str =
    "the database had a temporary problem while it ran this query: retry in a few minutes";

/// `(number, name, status, message)`; a `""` message means "clickhouse rejected the query with error
/// NAME" (see [`lookup`]).
const TABLE: &[(u32, &str, u16, &str)] = &[
    (
        1,
        "unsupported_method",
        400,
        "the query uses a method the database does not support",
    ),
    (
        6,
        "cannot_parse_text",
        400,
        "cannot parse a value as the requested type: check the input formats and type conversions",
    ),
    (
        25,
        "cannot_parse_escape_sequence",
        400,
        "cannot parse an escape sequence in a value",
    ),
    (
        26,
        "cannot_parse_quoted_string",
        400,
        "cannot parse a quoted string in a value",
    ),
    (
        27,
        "cannot_parse_input_assertion_failed",
        400,
        "cannot parse a value as the requested type: check the input formats and type conversions",
    ),
    (
        32,
        "attempt_to_read_after_eof",
        400,
        "cannot parse a value: it ended too early",
    ),
    (
        34,
        "too_many_arguments_for_function",
        400,
        "a function got too many arguments",
    ),
    (
        35,
        "too_few_arguments_for_function",
        400,
        "a function got too few arguments",
    ),
    (36, "bad_arguments", 400, "a function got a bad argument"),
    (
        38,
        "cannot_parse_date",
        400,
        "cannot parse a date: check the date values and their format",
    ),
    (
        41,
        "cannot_parse_datetime",
        400,
        "cannot parse a date and time: check the datetime values and their format",
    ),
    (
        42,
        "number_of_arguments_doesnt_match",
        400,
        "a function got the wrong number of arguments",
    ),
    (
        43,
        "illegal_type_of_argument",
        400,
        "a function got an argument of a type it does not accept",
    ),
    (
        44,
        "illegal_column",
        400,
        "a column has the wrong type for the operation (e.g. a constant was required)",
    ),
    (
        46,
        "unknown_function",
        400,
        "the query uses an unknown function",
    ),
    (
        47,
        "unknown_identifier",
        400,
        "a column in this query does not exist in the data",
    ),
    (
        50,
        "unknown_type",
        400,
        "the query names a data type that does not exist",
    ),
    (
        53,
        "type_mismatch",
        400,
        "two values of incompatible types were compared or combined",
    ),
    (
        59,
        "illegal_type_of_column_for_filter",
        400,
        "a filter (WHERE, PREWHERE or HAVING) is not a boolean condition",
    ),
    (60, "unknown_table", 400, "the query reads an unknown table"),
    (62, "syntax_error", 400, ""),
    (
        63,
        "unknown_aggregate_function",
        400,
        "the query uses an unknown aggregate function",
    ),
    (
        69,
        "argument_out_of_bound",
        400,
        "an argument is out of bounds",
    ),
    (
        70,
        "cannot_convert_type",
        400,
        "cannot convert one type to another: check the types in comparisons and IN clauses",
    ),
    (
        72,
        "cannot_parse_number",
        400,
        "cannot parse a number: check for non-numeric values in type conversions",
    ),
    (
        80,
        "incorrect_query",
        400,
        "the query is not valid for the database",
    ),
    (
        117,
        "incorrect_data",
        400,
        "a value does not have the format the query expects",
    ),
    (
        121,
        "unsupported_join_keys",
        400,
        "unsupported JOIN keys: check the expressions and types used to join the tables",
    ),
    (
        122,
        "incompatible_columns",
        400,
        "column types do not match the expected schema",
    ),
    (
        125,
        "incorrect_result_of_scalar_subquery",
        400,
        "a scalar subquery returned more than one row",
    ),
    (
        128,
        "too_large_array_size",
        400,
        "an array has an invalid or unsupported size",
    ),
    (
        130,
        "cannot_read_array_from_text",
        400,
        "cannot parse an array: check the format of the values converted to arrays",
    ),
    (
        135,
        "zero_array_or_tuple_index",
        400,
        "arrays and tuples are indexed from 1",
    ),
    (153, "illegal_division", 400, "division by zero"),
    (158, "too_many_rows", 400, TOO_MUCH_DATA),
    (
        159,
        "timeout_exceeded",
        504,
        "the query took longer than the time limit: narrow its date range or add filters",
    ),
    (
        160,
        "too_slow",
        504,
        "the query would take too long: narrow its date range or add filters",
    ),
    (
        161,
        "too_many_columns",
        400,
        "the query uses more columns than the limit allows",
    ),
    (162, "too_deep_subqueries", 400, TOO_COMPLEX),
    (167, "too_deep_ast", 400, TOO_COMPLEX),
    (168, "too_big_ast", 400, TOO_COMPLEX),
    (
        174,
        "cyclic_aliases",
        400,
        "the query's aliases refer to each other in a cycle",
    ),
    (
        184,
        "illegal_aggregation",
        400,
        "an aggregate function is used where it is not allowed",
    ),
    (
        190,
        "sizes_of_arrays_dont_match",
        400,
        "arrays used together have different numbers of elements",
    ),
    (191, "set_size_limit_exceeded", 400, TOO_MUCH_DATA),
    (
        202,
        "too_many_simultaneous_queries",
        429,
        "the database is at capacity: retry in a moment",
    ),
    (
        207,
        "ambiguous_identifier",
        400,
        "an identifier refers to more than one column or alias",
    ),
    (209, "socket_timeout", 503, TEMPORARY),
    (210, "network_error", 503, TEMPORARY),
    (211, "empty_query", 400, "the query is empty"),
    (
        215,
        "not_an_aggregate",
        400,
        "a column is neither aggregated nor in GROUP BY",
    ),
    (229, "query_is_too_large", 400, TOO_COMPLEX),
    (
        241,
        "memory_limit_exceeded",
        400,
        "the query used more memory than the limit allows: narrow its date range or add filters",
    ),
    (
        258,
        "union_all_result_structures_mismatch",
        400,
        "mismatched number of columns in UNION ALL",
    ),
    (
        264,
        "incompatible_type_of_join",
        400,
        "the join type is not supported here",
    ),
    (306, "too_deep_recursion", 400, TOO_COMPLEX),
    (307, "too_many_bytes", 400, TOO_MUCH_DATA),
    (
        376,
        "cannot_parse_uuid",
        400,
        "cannot parse a UUID: check the values converted to UUIDs",
    ),
    (
        386,
        "no_common_type",
        400,
        "values of types without a common supertype were combined",
    ),
    (
        394,
        "query_was_cancelled",
        503,
        "the database stopped this query before it finished: run it again",
    ),
    (
        395,
        "function_throw_if_value_is_non_zero",
        400,
        "throwIf: the condition was true",
    ),
    (396, "too_many_rows_or_bytes", 400, TOO_MUCH_DATA),
    (
        403,
        "invalid_join_on_expression",
        400,
        "a JOIN ... ON condition is not supported",
    ),
    (
        407,
        "decimal_overflow",
        400,
        "a decimal computation overflowed",
    ),
    (
        427,
        "cannot_compile_regexp",
        400,
        "a regular expression is not valid",
    ),
    (
        467,
        "cannot_parse_bool",
        400,
        "cannot parse a boolean: check the values converted to booleans",
    ),
];

/// The answer for ClickHouse error `number` (0 or unknown: `clickhouse_error`, 500).
pub fn lookup(number: u32) -> ClickHouseError {
    match TABLE.iter().find(|(n, ..)| *n == number) {
        Some(&(number, code, status, message)) => ClickHouseError {
            number,
            code,
            status,
            message: if message.is_empty() {
                "clickhouse rejected the query"
            } else {
                message
            },
        },
        None => ClickHouseError {
            number,
            code: "clickhouse_error",
            status: 500,
            message: "clickhouse error while executing the query",
        },
    }
}

/// The error number of an answer: the `X-ClickHouse-Exception-Code` header if present, else the
/// `Code: N.` at the start of ClickHouse's text.
pub fn number(header: Option<&str>, body: &str) -> Option<u32> {
    if let Some(n) = header.and_then(|h| h.trim().parse().ok()) {
        return Some(n);
    }
    let rest = &body[body.find("Code:")? + "Code:".len()..];
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .take(6)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_the_header_or_the_text() {
        assert_eq!(number(Some("6"), "whatever"), Some(6));
        assert_eq!(
            number(
                None,
                "Code: 6. DB::Exception: Cannot parse string 'x' as Int64"
            ),
            Some(6)
        );
        assert_eq!(number(None, "no code here"), None);
        assert_eq!(number(Some("junk"), "Code: 47. x"), Some(47));
    }

    #[test]
    fn the_table_is_sorted_unique_and_lowercase() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} then {}", pair[0].0, pair[1].0);
        }
        for (_, code, status, message) in TABLE {
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{code}"
            );
            assert!([400, 429, 500, 503, 504].contains(status), "{code}");
            assert!(!message.ends_with('.'), "{code}");
        }
    }

    #[test]
    fn unknown_numbers_are_a_generic_500() {
        let e = lookup(999_999);
        assert_eq!((e.code, e.status), ("clickhouse_error", 500));
        assert_eq!(lookup(6).code, "cannot_parse_text");
        assert_eq!(lookup(62).message, "clickhouse rejected the query");
    }
}
