//! The default PostHog tables, field by field (sources in the parent module's docs).

use super::{
    Column, ExpressionField, Field, FieldDef, JoinKind, LazyJoin, LazySource, Table, TableKind,
    ValueType,
};
use crate::functions::TABLE_FUNCTIONS;

use ValueType as V;

/// ClickHouse types used more than once.
const UUID: Option<&str> = Some("UUID");
const STRING: Option<&str> = Some("String");
const INT64: Option<&str> = Some("Int64");
const INT8: Option<&str> = Some("Int8");
const DATETIME64_UTC: Option<&str> = Some("DateTime64(6, 'UTC')");
const DATETIME64: Option<&str> = Some("DateTime64");
const NONE: Option<&str> = None;

/// Builders shared with the per-mode rewiring in the parent module.
pub(super) fn column_def(
    name: &str,
    column: &str,
    value_type: ValueType,
    nullable: Option<bool>,
    clickhouse_type: Option<&'static str>,
) -> FieldDef {
    renamed(name, column, value_type, nullable, clickhouse_type)
}

pub(super) fn join_def(
    name: &str,
    table: &'static str,
    kind: JoinKind,
    from: &str,
    to: &'static str,
) -> FieldDef {
    join(name, table, kind, from, to)
}

pub(super) fn traverser_def(name: &str, chain: &[&'static str]) -> FieldDef {
    traverser(name, chain)
}

/// A column whose HogQL name is its ClickHouse name.
pub(super) fn col(
    name: &str,
    value_type: ValueType,
    nullable: Option<bool>,
    clickhouse_type: Option<&'static str>,
) -> FieldDef {
    renamed(name, name, value_type, nullable, clickhouse_type)
}

/// A column exposed under a different HogQL name (`groups.key` → `group_key`).
fn renamed(
    name: &str,
    column: &str,
    value_type: ValueType,
    nullable: Option<bool>,
    clickhouse_type: Option<&'static str>,
) -> FieldDef {
    FieldDef {
        name: name.to_owned(),
        field: Field::Column(Column {
            name: column.to_owned(),
            value_type,
            declared_nullable: nullable,
            clickhouse_type,
        }),
        excluded_from_asterisk: false,
    }
}

pub(super) fn expr(
    name: &str,
    expr: Option<&str>,
    value_type: ValueType,
    nullable: Option<bool>,
) -> FieldDef {
    FieldDef {
        name: name.to_owned(),
        field: Field::Expression(ExpressionField {
            expr: expr.map(str::to_owned),
            value_type,
            declared_nullable: nullable,
        }),
        excluded_from_asterisk: false,
    }
}

fn join(name: &str, table: &'static str, kind: JoinKind, from: &str, to: &'static str) -> FieldDef {
    FieldDef {
        name: name.to_owned(),
        field: Field::LazyJoin(LazyJoin {
            table,
            join: kind,
            from_field: from.to_owned(),
            to_field: to,
            filter: None,
            note: None,
            from_expr: None,
        }),
        excluded_from_asterisk: false,
    }
}

fn traverser(name: &str, chain: &[&'static str]) -> FieldDef {
    FieldDef {
        name: name.to_owned(),
        field: Field::Traverser(chain.to_vec()),
        excluded_from_asterisk: false,
    }
}

fn virtual_table(name: &str, fields: Vec<FieldDef>) -> FieldDef {
    FieldDef {
        name: name.to_owned(),
        field: Field::VirtualTable(fields),
        excluded_from_asterisk: false,
    }
}

fn with_note(mut def: FieldDef, note: &'static str) -> FieldDef {
    if let Field::LazyJoin(join) = &mut def.field {
        join.note = Some(note);
    }
    def
}

pub(super) fn excluded(mut def: FieldDef) -> FieldDef {
    def.excluded_from_asterisk = true;
    def
}

pub(super) const NF: Option<bool> = Some(false);

fn events() -> Table {
    let mut fields = vec![
        col("uuid", V::Uuid, NF, UUID),
        col("event", V::String, NF, STRING),
        col("properties", V::StringJson, NF, STRING),
        col("timestamp", V::DateTime, NF, DATETIME64_UTC),
        col("team_id", V::Integer, NF, INT64),
        col("distinct_id", V::String, NF, STRING),
        col("elements_chain", V::String, NF, STRING),
        col("created_at", V::DateTime, NF, DATETIME64_UTC),
        col("$session_id", V::String, NF, STRING),
        excluded(col(
            "$session_id_uuid",
            V::Unknown,
            NF,
            Some("Nullable(UInt128)"),
        )),
        col("$window_id", V::String, NF, STRING),
        col(
            "person_mode",
            V::String,
            NF,
            Some("Enum8('full' = 0, 'propertyless' = 1, 'force_upgrade' = 2)"),
        ),
        join(
            "pdi",
            "person_distinct_ids",
            JoinKind::Inner,
            "distinct_id",
            "distinct_id",
        ),
        virtual_table(
            "poe",
            vec![
                renamed("id", "person_id", V::Uuid, NF, UUID),
                renamed(
                    "created_at",
                    "person_created_at",
                    V::DateTime,
                    NF,
                    DATETIME64,
                ),
                renamed("properties", "person_properties", V::StringJson, NF, STRING),
            ],
        ),
    ];
    for i in 0..5 {
        fields.push(virtual_table(
            &format!("goe_{i}"),
            vec![
                renamed("key", &format!("$group_{i}"), V::String, NF, STRING),
                renamed(
                    "created_at",
                    &format!("group{i}_created_at"),
                    V::DateTime,
                    NF,
                    DATETIME64,
                ),
                renamed(
                    "properties",
                    &format!("group{i}_properties"),
                    V::StringJson,
                    NF,
                    STRING,
                ),
            ],
        ));
    }
    fields.push(traverser("person", &["pdi", "person"]));
    fields.push(traverser("person_id", &["pdi", "person_id"]));
    for i in 0..5 {
        fields.push(col(&format!("$group_{i}"), V::String, NF, STRING));
        let mut group_join = join(
            &format!("group_{i}"),
            "groups",
            JoinKind::Left,
            &format!("$group_{i}"),
            "key",
        );
        if let Field::LazyJoin(j) = &mut group_join.field {
            j.filter = Some(format!("index = {i}"));
        }
        fields.push(group_join);
    }
    fields.push(join(
        "session",
        "sessions",
        JoinKind::Left,
        "$session_id",
        "session_id",
    ));
    fields.extend([
        col("elements_chain_href", V::String, NF, STRING),
        col(
            "elements_chain_texts",
            V::StringArray,
            NF,
            Some("Array(String)"),
        ),
        col(
            "elements_chain_ids",
            V::StringArray,
            NF,
            Some("Array(String)"),
        ),
        col(
            "elements_chain_elements",
            V::StringArray,
            NF,
            Some("Array(Enum('a', 'button', 'form', 'input', 'select', 'textarea', 'label'))"),
        ),
    ]);
    Table {
        name: "events",
        clickhouse_name: "events",
        kind: TableKind::Table,
        team_id_guard: true,
        fields,
    }
}

fn persons_fields() -> Vec<FieldDef> {
    vec![
        col("id", V::String, None, UUID),
        col("created_at", V::DateTime, None, DATETIME64),
        col("team_id", V::Integer, None, INT64),
        col("properties", V::StringJson, None, STRING),
        col("is_identified", V::Boolean, None, INT8),
        with_note(
            join(
                "pdi",
                "person_distinct_ids",
                JoinKind::Left,
                "id",
                "person_id",
            ),
            "PostHog joins its internal PersonsPDITable (same source, no `person` join); INNER JOIN behind the personless-events flag",
        ),
    ]
}

fn persons_lazy_source() -> LazySource {
    LazySource::ArgMax {
        raw_table: "raw_persons",
        group_by: vec!["id"],
        version_field: "version",
        deleted_field: Some("is_deleted"),
    }
}

fn persons() -> [Table; 2] {
    let mut raw_fields = persons_fields();
    raw_fields.push(col("is_deleted", V::Boolean, None, INT8));
    raw_fields.push(col("version", V::Integer, None, Some("UInt64")));
    [
        Table {
            name: "persons",
            clickhouse_name: "person",
            kind: TableKind::Lazy(persons_lazy_source()),
            team_id_guard: true,
            fields: persons_fields(),
        },
        Table {
            name: "raw_persons",
            clickhouse_name: "person",
            kind: TableKind::Table,
            team_id_guard: true,
            fields: raw_fields,
        },
    ]
}

/// `person_distinct_ids` and `person_distinct_id_overrides` share their fields.
fn distinct_id_fields() -> Vec<FieldDef> {
    vec![
        col("team_id", V::Integer, None, INT64),
        col("distinct_id", V::String, None, STRING),
        col("person_id", V::String, None, UUID),
        with_note(
            join("person", "persons", JoinKind::Inner, "person_id", "id"),
            "LEFT JOIN when the personsJoinMode modifier is `left`",
        ),
    ]
}

fn distinct_id_tables(
    name: &'static str,
    raw_name: &'static str,
    clickhouse_name: &'static str,
) -> [Table; 2] {
    let mut raw_fields = distinct_id_fields();
    raw_fields.push(col("is_deleted", V::Boolean, None, INT8));
    raw_fields.push(col("version", V::Integer, None, INT64));
    [
        Table {
            name,
            clickhouse_name,
            kind: TableKind::Lazy(LazySource::ArgMax {
                raw_table: raw_name,
                group_by: vec!["distinct_id"],
                version_field: "version",
                deleted_field: Some("is_deleted"),
            }),
            team_id_guard: true,
            fields: distinct_id_fields(),
        },
        Table {
            name: raw_name,
            clickhouse_name,
            kind: TableKind::Table,
            team_id_guard: true,
            fields: raw_fields,
        },
    ]
}

fn groups_fields() -> Vec<FieldDef> {
    vec![
        renamed("index", "group_type_index", V::Integer, None, NONE),
        col("team_id", V::Integer, None, NONE),
        renamed("key", "group_key", V::String, None, NONE),
        col("created_at", V::DateTime, None, NONE),
        renamed("updated_at", "_timestamp", V::DateTime, None, NONE),
        renamed("properties", "group_properties", V::StringJson, None, NONE),
    ]
}

fn groups() -> [Table; 2] {
    [
        Table {
            name: "groups",
            clickhouse_name: "groups",
            kind: TableKind::Lazy(LazySource::ArgMax {
                raw_table: "raw_groups",
                group_by: vec!["index", "key"],
                version_field: "updated_at",
                deleted_field: None,
            }),
            team_id_guard: true,
            fields: groups_fields(),
        },
        Table {
            name: "raw_groups",
            clickhouse_name: "groups",
            kind: TableKind::Table,
            team_id_guard: true,
            fields: groups_fields(),
        },
    ]
}

/// The click-id and UTM fields of sessions v1: (lazy name suffix, raw column).
pub(super) const SESSION_ATTRIBUTION: [&str; 18] = [
    "utm_source",
    "utm_campaign",
    "utm_medium",
    "utm_term",
    "utm_content",
    "gclid",
    "gad_source",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
    "twclid",
    "li_fat_id",
    "mc_cid",
    "igshid",
    "ttclid",
];

/// Expressions as PostHog's `select_from_sessions_table_v1` builds them (default bounce-rate
/// settings: page views, 10 seconds). `null_if_empty` is taken to be `nullIf(x, '')`.
const ENTRY_URL: &str = "nullIf(nullIf(argMinMerge(raw_sessions.entry_url), 'null'), '')";
const EXIT_URL: &str = "nullIf(nullIf(argMaxMerge(raw_sessions.exit_url), 'null'), '')";
const START: &str = "min(raw_sessions.min_timestamp)";
const END: &str = "max(raw_sessions.max_timestamp)";
const URLS: &str = "arrayDistinct(arrayFlatten(groupArray(raw_sessions.urls)))";
const DURATION: &str =
    "dateDiff('second', min(raw_sessions.min_timestamp), max(raw_sessions.max_timestamp))";

fn sessions() -> [Table; 2] {
    let mut lazy = vec![
        col("id", V::String, NF, STRING),
        col("session_id", V::String, NF, STRING),
        col("team_id", V::Integer, NF, INT64),
        expr(
            "distinct_id",
            Some("any(raw_sessions.distinct_id)"),
            V::String,
            NF,
        ),
        expr("$start_timestamp", Some(START), V::DateTime, NF),
        expr("$end_timestamp", Some(END), V::DateTime, NF),
        expr("$urls", Some(URLS), V::StringArray, NF),
        expr(
            "$num_uniq_urls",
            Some("length(arrayDistinct(arrayFlatten(groupArray(raw_sessions.urls))))"),
            V::Integer,
            NF,
        ),
        expr("$entry_current_url", Some(ENTRY_URL), V::String, None),
        expr(
            "$entry_pathname",
            Some(&(format!("path({ENTRY_URL})"))),
            V::String,
            None,
        ),
        expr(
            "$entry_hostname",
            Some(&(format!("domain({ENTRY_URL})"))),
            V::String,
            None,
        ),
        expr("$exit_current_url", Some(EXIT_URL), V::String, None),
        expr(
            "$exit_pathname",
            Some(&(format!("path({EXIT_URL})"))),
            V::String,
            None,
        ),
        expr(
            "$exit_hostname",
            Some(&(format!("domain({EXIT_URL})"))),
            V::String,
            None,
        ),
        expr(
            "$entry_referring_domain",
            Some("nullIf(nullIf(argMinMerge(raw_sessions.initial_referring_domain), 'null'), '')"),
            V::String,
            None,
        ),
    ];
    for attribution in SESSION_ATTRIBUTION {
        lazy.push(expr(
            &format!("$entry_{attribution}"),
            Some(
                &(format!(
                    "nullIf(nullIf(argMinMerge(raw_sessions.initial_{attribution}), 'null'), '')"
                )),
            ),
            V::String,
            None,
        ));
    }
    lazy.extend([
        expr("$event_count_map", Some("sumMap(raw_sessions.event_count_map)"), V::Unknown, None),
        expr("$pageview_count", Some("sum(raw_sessions.pageview_count)"), V::Integer, None),
        expr("$autocapture_count", Some("sum(raw_sessions.autocapture_count)"), V::Integer, None),
        // Built from the team's channel rules (create_channel_type_expr); not carried here.
        expr("$channel_type", None, V::String, None),
        expr("$session_duration", Some(DURATION), V::Integer, None),
        excluded(expr("duration", Some(DURATION), V::Integer, None)),
        expr(
            "$is_bounce",
            Some(&(format!(
                "if(equals(sum(raw_sessions.pageview_count), 0), NULL, not(or(greater(sum(raw_sessions.pageview_count), 1), greater(sum(raw_sessions.autocapture_count), 0), greaterOrEquals({DURATION}, 10))))"
            ))),
            V::Boolean,
            None,
        ),
        excluded(expr("$end_current_url", Some(EXIT_URL), V::String, None)),
        excluded(expr("$end_pathname", Some(&(format!("path({EXIT_URL})"))), V::String, None)),
    ]);

    let mut raw = vec![
        renamed("id", "session_id", V::String, NF, NONE),
        col("session_id", V::String, NF, NONE),
        col("team_id", V::Integer, NF, NONE),
        col("distinct_id", V::String, NF, NONE),
        col("min_timestamp", V::DateTime, NF, NONE),
        col("max_timestamp", V::DateTime, NF, NONE),
        col("urls", V::StringArray, NF, NONE),
        excluded(col("entry_url", V::Unknown, NF, NONE)),
        excluded(col("exit_url", V::Unknown, NF, NONE)),
        excluded(col("initial_referring_domain", V::Unknown, NF, NONE)),
    ];
    for attribution in SESSION_ATTRIBUTION {
        raw.push(excluded(col(
            &format!("initial_{attribution}"),
            V::Unknown,
            NF,
            NONE,
        )));
    }
    raw.extend([
        col("event_count_map", V::Unknown, NF, NONE),
        col("pageview_count", V::Integer, NF, NONE),
        col("autocapture_count", V::Integer, NF, NONE),
    ]);
    // `id` on the lazy table is the session_id column.
    if let Field::Column(c) = &mut lazy[0].field {
        c.name = "session_id".to_owned();
    }
    [
        Table {
            name: "sessions",
            clickhouse_name: "sessions",
            kind: TableKind::Lazy(LazySource::Aggregate {
                raw_table: "raw_sessions",
                group_by: vec!["session_id"],
            }),
            team_id_guard: true,
            fields: lazy,
        },
        Table {
            name: "raw_sessions",
            clickhouse_name: "sessions",
            kind: TableKind::Table,
            team_id_guard: true,
            fields: raw,
        },
    ]
}

fn cohort_people() -> [Table; 2] {
    let fields = || {
        vec![
            col("person_id", V::String, NF, NONE),
            col("cohort_id", V::Integer, NF, NONE),
            col("team_id", V::Integer, NF, NONE),
            join("person", "persons", JoinKind::Inner, "person_id", "id"),
        ]
    };
    let mut raw_fields = fields();
    raw_fields.push(col("sign", V::Integer, NF, NONE));
    raw_fields.push(col("version", V::Integer, NF, NONE));
    [
        Table {
            name: "cohort_people",
            clickhouse_name: "cohortpeople",
            kind: TableKind::Lazy(LazySource::CohortVersions {
                raw_table: "raw_cohort_people",
            }),
            team_id_guard: true,
            fields: fields(),
        },
        Table {
            name: "raw_cohort_people",
            clickhouse_name: "cohortpeople",
            kind: TableKind::Table,
            team_id_guard: true,
            fields: raw_fields,
        },
    ]
}

fn table_functions() -> Vec<Table> {
    TABLE_FUNCTIONS
        .iter()
        .map(|function| Table {
            name: function.name,
            clickhouse_name: function.clickhouse_name.unwrap_or(function.name),
            kind: TableKind::Function(*function),
            team_id_guard: false,
            fields: vec![col(function.column, V::Integer, NF, NONE)],
        })
        .collect()
}

/// Every table of the default schema, in PostHog's root order (core tables, raw tables, then
/// the table functions).
pub(super) fn default_tables() -> Vec<Table> {
    let [persons, raw_persons] = persons();
    let [pdi, raw_pdi] = distinct_id_tables(
        "person_distinct_ids",
        "raw_person_distinct_ids",
        "person_distinct_id2",
    );
    let [overrides, raw_overrides] = distinct_id_tables(
        "person_distinct_id_overrides",
        "raw_person_distinct_id_overrides",
        "person_distinct_id_overrides",
    );
    let [groups, raw_groups] = groups();
    let [sessions, raw_sessions] = sessions();
    let [cohort_people, raw_cohort_people] = cohort_people();
    let mut tables = vec![
        events(),
        groups,
        persons,
        pdi,
        overrides,
        cohort_people,
        sessions,
        raw_pdi,
        raw_persons,
        raw_groups,
        raw_cohort_people,
        raw_overrides,
        raw_sessions,
    ];
    tables.extend(table_functions());
    tables
}
