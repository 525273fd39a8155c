//! Sessions v2 (`sessionTableVersion` `v2`, and `auto` as PostHog resolves it): the lazy
//! `sessions` table over `raw_sessions` (printed `raw_sessions`), whose rows are aggregate states
//! per `session_id_v7`, the session's UUIDv7 as a `UInt128`.
//!
//! Source: PostHog's `posthog/hogql/database/schema/sessions_v2.py` @
//! 0011d5503e8b846c3fe1758a5bf99ad4790879d3 (`RAW_SESSIONS_FIELDS`, `LAZY_SESSIONS_FIELDS`, both
//! `avoid_asterisk_fields` lists and `select_from_sessions_table_v2` with the default bounce
//! rule: page views, 10 seconds). `null_if_empty` is `nullIf(x, '')`. `$channel_type` is built
//! from the team's channel rules and is not carried (as in v1).

use super::tables::{NF, SESSION_ATTRIBUTION, col, excluded, expr};
use super::{FieldDef, LazySource, Table, TableKind, ValueType};

use ValueType as V;

/// The attribution fields of sessions v2 (`$entry_<name>` over `initial_<name>`): v1's, then
/// two more.
fn attribution() -> impl Iterator<Item = &'static str> {
    SESSION_ATTRIBUTION.into_iter().chain(["_kx", "irclid"])
}

/// The session id as PostHog derives it from `session_id_v7` (the UUID's halves swapped back).
const SESSION_ID: &str = "toString(reinterpretAsUUID(bitOr(bitShiftLeft(raw_sessions.session_id_v7, 64), bitShiftRight(raw_sessions.session_id_v7, 64))))";

/// The key events compare with `session_id_v7` when joining by `$session_id` (PostHog's
/// `sessionsV2JoinMode` `string`).
pub(super) const EVENTS_JOIN_KEY: &str = "_toUInt128(toUUID($session_id))";

const DURATION: &str =
    "dateDiff('second', min(raw_sessions.min_timestamp), max(raw_sessions.max_timestamp))";
const URLS: &str = "arrayDistinct(arrayFlatten(groupArray(raw_sessions.urls)))";

/// `nullIf(nullIf(argMinMerge(raw_sessions.<column>), 'null'), '')`.
fn first(column: &str) -> String {
    format!("nullIf(nullIf(argMinMerge(raw_sessions.{column}), 'null'), '')")
}

/// `nullIf(nullIf(argMaxMerge(raw_sessions.<column>), 'null'), '')`.
fn last(column: &str) -> String {
    format!("nullIf(nullIf(argMaxMerge(raw_sessions.{column}), 'null'), '')")
}

fn string(name: &str, text: &str) -> FieldDef {
    expr(name, Some(text), V::String, None)
}

fn integer(name: &str, text: &str) -> FieldDef {
    expr(name, Some(text), V::Integer, None)
}

/// The lazy `sessions` table and `raw_sessions` of sessions v2, in that order.
pub(super) fn tables() -> [Table; 2] {
    let entry = first("entry_url");
    let end = last("end_url");
    let uniq = |column: &str| format!("uniqMerge(raw_sessions.{column})");
    let mut lazy = vec![
        excluded(expr("id", Some(SESSION_ID), V::String, NF)),
        expr("session_id", Some(SESSION_ID), V::String, NF),
        excluded(col("session_id_v7", V::Integer, NF, None)),
        col("team_id", V::Integer, NF, None),
        expr(
            "distinct_id",
            Some("nullIf(argMaxMerge(raw_sessions.distinct_id), 'null')"),
            V::String,
            NF,
        ),
        expr(
            "$start_timestamp",
            Some("min(raw_sessions.min_timestamp)"),
            V::DateTime,
            NF,
        ),
        expr(
            "$end_timestamp",
            Some("max(raw_sessions.max_timestamp)"),
            V::DateTime,
            NF,
        ),
        expr(
            "max_inserted_at",
            Some("max(raw_sessions.max_inserted_at)"),
            V::DateTime,
            NF,
        ),
        expr("$urls", Some(URLS), V::StringArray, NF),
        expr(
            "$num_uniq_urls",
            Some(&format!("length({URLS})")),
            V::Integer,
            NF,
        ),
        string("$entry_current_url", &entry),
        string("$entry_pathname", &format!("path({entry})")),
        string("$entry_hostname", &format!("domain({entry})")),
        string("$end_current_url", &end),
        string("$end_pathname", &format!("path({end})")),
        string("$end_hostname", &format!("domain({end})")),
        string(
            "$entry_referring_domain",
            &first("initial_referring_domain"),
        ),
        string("$entry_referrer", &first("initial_referrer")),
    ];
    for name in attribution() {
        lazy.push(string(
            &format!("$entry_{name}"),
            &first(&format!("initial_{name}")),
        ));
    }
    let bounce = format!(
        "if(equals({pageviews}, 0), NULL, not(or(greater({pageviews}, 1), greater({autocaptures}, 0), greaterOrEquals({DURATION}, 10))))",
        pageviews = uniq("pageview_uniq"),
        autocaptures = uniq("autocapture_uniq"),
    );
    lazy.extend([
        integer("$pageview_count", &uniq("pageview_uniq")),
        integer("$autocapture_count", &uniq("autocapture_uniq")),
        integer("$screen_count", &uniq("screen_uniq")),
        // Built from the team's channel rules (create_channel_type_expr); not carried here.
        expr("$channel_type", None, V::String, None),
        integer("$session_duration", DURATION),
        excluded(integer("duration", DURATION)),
        expr("$is_bounce", Some(&bounce), V::Boolean, None),
        string("$last_external_click_url", &last("last_external_click_url")),
        expr(
            "$page_screen_autocapture_count_up_to",
            Some("uniqUpToMerge(1)(raw_sessions.page_screen_autocapture_uniq_up_to)"),
            V::Unknown,
            None,
        ),
        excluded(string("$exit_current_url", &end)),
        excluded(string("$exit_pathname", &format!("path({end})"))),
        expr(
            "$vitals_lcp",
            Some("argMinMerge(raw_sessions.vitals_lcp)"),
            V::Float,
            Some(true),
        ),
    ]);

    let state = |name: &str| excluded(col(name, V::Unknown, NF, None));
    let mut raw = vec![
        excluded(col("session_id_v7", V::Integer, NF, None)),
        col("team_id", V::Integer, NF, None),
        excluded(col("distinct_id", V::String, NF, None)),
        col("min_timestamp", V::DateTime, NF, None),
        col("max_timestamp", V::DateTime, NF, None),
        col("max_inserted_at", V::DateTime, NF, None),
        col("urls", V::StringArray, NF, None),
        state("entry_url"),
        state("end_url"),
        state("initial_referring_domain"),
        state("initial_referrer"),
    ];
    for name in attribution() {
        raw.push(state(&format!("initial_{name}")));
    }
    let nullable_state = |name: &str| excluded(col(name, V::Unknown, Some(true), None));
    raw.extend([
        nullable_state("pageview_uniq"),
        nullable_state("autocapture_uniq"),
        nullable_state("screen_uniq"),
        excluded(col("last_external_click_url", V::String, NF, None)),
        nullable_state("page_screen_autocapture_uniq_up_to"),
        nullable_state("vitals_lcp"),
    ]);
    [
        Table {
            name: "sessions",
            clickhouse_name: "sessions",
            kind: TableKind::Lazy(LazySource::Aggregate {
                raw_table: "raw_sessions",
                group_by: vec!["session_id_v7"],
            }),
            team_id_guard: true,
            fields: lazy,
        },
        Table {
            name: "raw_sessions",
            clickhouse_name: "raw_sessions",
            kind: TableKind::Table,
            team_id_guard: true,
            fields: raw,
        },
    ]
}
