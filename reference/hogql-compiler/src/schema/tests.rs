//! Tests of the default schema: lookups, errors, `*` expansion, chains and a full listing.

use super::*;
use std::fmt::Write as _;

fn db() -> Database {
    Database::posthog_default()
}

fn column(def: &FieldDef) -> &Column {
    match &def.field {
        Field::Column(c) => c,
        other => panic!("{} is not a column: {other:?}", def.name),
    }
}

#[test]
fn tables_print_their_clickhouse_names() {
    let db = db();
    let cases = [
        ("events", "events"),
        ("persons", "person"),
        ("raw_persons", "person"),
        ("person_distinct_ids", "person_distinct_id2"),
        ("raw_person_distinct_ids", "person_distinct_id2"),
        (
            "person_distinct_id_overrides",
            "person_distinct_id_overrides",
        ),
        (
            "raw_person_distinct_id_overrides",
            "person_distinct_id_overrides",
        ),
        ("groups", "groups"),
        ("raw_groups", "groups"),
        ("sessions", "sessions"),
        ("raw_sessions", "sessions"),
        ("cohort_people", "cohortpeople"),
        ("raw_cohort_people", "cohortpeople"),
        ("numbers", "numbers"),
    ];
    for (name, clickhouse) in cases {
        assert_eq!(
            db.table(name).unwrap().clickhouse_name,
            clickhouse,
            "{name}"
        );
    }
    assert_eq!(db.tables().len(), 16);
}

#[test]
fn unknown_tables_and_fields_use_posthog_texts() {
    let db = db();
    let err = db.table("other").unwrap_err();
    assert_eq!(err.to_string(), "Unknown table `other`.");
    assert_eq!(err.code(), "unknown_table");
    // Suggestions: CPython get_close_matches(name, ["events", "groups", "persons", "sessions"], 3, 0.7).
    assert_eq!(
        db.table("event").unwrap_err().to_string(),
        "Unknown table `event`. Did you mean: events?"
    );
    assert_eq!(
        db.table("person").unwrap_err().to_string(),
        "Unknown table `person`. Did you mean: persons?"
    );
    assert_eq!(
        db.table("Events").unwrap_err().to_string(),
        "Unknown table `Events`."
    );
    let err = db.field("events", "chipotle").unwrap_err();
    assert_eq!(err.to_string(), "Field not found: chipotle");
    assert_eq!(err.code(), "field_not_found");
    let err = db
        .resolve_chain("events", &["person", "chipotle"])
        .unwrap_err();
    assert_eq!(err.to_string(), "Field not found: chipotle");
    assert!(db.has_table("raw_groups") && !db.has_table("system"));
}

#[test]
fn asterisk_expansion() {
    let db = db();
    assert_eq!(
        db.table("events").unwrap().asterisk_fields(),
        [
            "uuid",
            "event",
            "properties",
            "timestamp",
            "distinct_id",
            "elements_chain",
            "created_at",
            "$session_id",
            "$window_id",
            "person_mode",
            "$group_0",
            "$group_1",
            "$group_2",
            "$group_3",
            "$group_4",
            "elements_chain_href",
            "elements_chain_texts",
            "elements_chain_ids",
            "elements_chain_elements",
        ]
    );
    assert_eq!(
        db.table("persons").unwrap().asterisk_fields(),
        ["id", "created_at", "properties", "is_identified"]
    );
    assert_eq!(
        db.table("raw_persons").unwrap().asterisk_fields(),
        [
            "id",
            "created_at",
            "properties",
            "is_identified",
            "is_deleted",
            "version"
        ]
    );
    let sessions = db.table("sessions").unwrap().asterisk_fields();
    assert!(sessions.contains(&"$session_duration") && sessions.contains(&"$is_bounce"));
    for hidden in ["duration", "$end_current_url", "$end_pathname", "team_id"] {
        assert!(!sessions.contains(&hidden), "{hidden}");
    }
    assert_eq!(
        db.table("raw_sessions").unwrap().asterisk_fields(),
        [
            "id",
            "session_id",
            "distinct_id",
            "min_timestamp",
            "max_timestamp",
            "urls",
            "event_count_map",
            "pageview_count",
            "autocapture_count"
        ]
    );
    assert_eq!(db.table("numbers").unwrap().asterisk_fields(), ["number"]);
    assert_eq!(
        db.table("groups").unwrap().asterisk_fields(),
        ["index", "key", "created_at", "updated_at", "properties"]
    );
}

#[test]
fn field_chains_resolve_through_joins_virtual_tables_and_traversers() {
    let db = db();
    let (table, field) = db
        .resolve_chain("events", &["person", "properties"])
        .unwrap();
    assert_eq!((table.name, field.name.as_str()), ("persons", "properties"));

    let (table, field) = db.resolve_chain("events", &["person_id"]).unwrap();
    assert_eq!(
        (table.name, field.name.as_str()),
        ("person_distinct_ids", "person_id")
    );

    let (table, field) = db.resolve_chain("events", &["poe", "properties"]).unwrap();
    assert_eq!(table.name, "events");
    assert_eq!(column(field).name, "person_properties");

    let (table, field) = db.resolve_chain("events", &["goe_2", "key"]).unwrap();
    assert_eq!(
        (table.name, column(field).name.as_str()),
        ("events", "$group_2")
    );

    let (table, field) = db
        .resolve_chain("events", &["properties", "$browser"])
        .unwrap();
    assert_eq!((table.name, field.name.as_str()), ("events", "properties"));

    let (table, field) = db
        .resolve_chain("events", &["session", "$is_bounce"])
        .unwrap();
    assert_eq!(table.name, "sessions");
    assert!(
        matches!(&field.field, Field::Expression(e) if e.expr.as_deref().is_some_and(|x| x.starts_with("if(equals(")))
    );

    let (table, field) = db
        .resolve_chain("events", &["pdi", "person", "pdi", "distinct_id"])
        .unwrap();
    assert_eq!(
        (table.name, field.name.as_str()),
        ("person_distinct_ids", "distinct_id")
    );

    // Ending on a join returns the join field on its source table.
    let (table, field) = db.resolve_chain("events", &["group_3"]).unwrap();
    assert_eq!(table.name, "events");
    let Field::LazyJoin(join) = &field.field else {
        panic!("not a join")
    };
    assert_eq!(
        (join.table, join.join, join.to_field),
        ("groups", JoinKind::Left, "key")
    );
    assert_eq!(join.from_field, "$group_3");
    assert_eq!(join.filter.as_deref(), Some("index = 3"));
    assert!(db.resolve_chain("events", &[]).is_err());
}

#[test]
fn lazy_joins_and_sources_point_at_existing_tables() {
    let db = db();
    fn check_fields(db: &Database, table: &Table, fields: &[FieldDef]) {
        for def in fields {
            match &def.field {
                Field::LazyJoin(join) => {
                    let target = db.table(join.table).unwrap();
                    assert!(
                        target.has_field(join.to_field),
                        "{}.{} -> {}",
                        table.name,
                        def.name,
                        join.table
                    );
                    assert!(
                        table.has_field(&join.from_field),
                        "{}.{}",
                        table.name,
                        join.from_field
                    );
                }
                Field::VirtualTable(inner) => check_fields(db, table, inner),
                Field::Traverser(chain) => {
                    db.resolve_chain(table.name, chain).unwrap();
                }
                Field::Column(_) | Field::Expression(_) => {}
            }
        }
    }
    for table in db.tables() {
        check_fields(&db, table, &table.fields);
        if let TableKind::Lazy(source) = &table.kind {
            let raw = match source {
                LazySource::ArgMax { raw_table, .. }
                | LazySource::Aggregate { raw_table, .. }
                | LazySource::CohortVersions { raw_table } => db.table(raw_table).unwrap(),
            };
            assert_eq!(raw.clickhouse_name, table.clickhouse_name, "{}", table.name);
            if let LazySource::ArgMax {
                group_by,
                version_field,
                deleted_field,
                ..
            } = source
            {
                for key in group_by
                    .iter()
                    .chain([version_field])
                    .chain(deleted_field.iter())
                {
                    assert!(raw.has_field(key), "{}: {key}", raw.name);
                }
            }
        }
        let mut names: Vec<_> = table.fields.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(n, names.len(), "duplicate field in {}", table.name);
    }
}

#[test]
fn team_guard_and_table_functions() {
    let db = db();
    assert!(db.table("events").unwrap().team_id_guard);
    let numbers = db.table("numbers").unwrap();
    assert!(!numbers.team_id_guard);
    let TableKind::Function(function) = &numbers.kind else {
        panic!("numbers is a table function")
    };
    assert_eq!((function.min_args, function.max_args), (1, 2));
    assert!(db.table_function("generate_series").is_some());
    assert!(db.table_function("events").is_none());
}

#[test]
fn nullability_follows_posthog_declarations() {
    let db = db();
    let events = db.table("events").unwrap();
    let event = column(events.field("event").unwrap());
    assert_eq!(
        (event.declared_nullable, event.is_nullable()),
        (Some(false), false)
    );
    assert_eq!(event.clickhouse_type, Some("String"));
    let timestamp = column(events.field("timestamp").unwrap());
    assert_eq!(timestamp.value_type, ValueType::DateTime);
    assert_eq!(timestamp.clickhouse_type, Some("DateTime64(6, 'UTC')"));
    // Undeclared means not nullable in PostHog (`not not None`).
    let id = column(db.field("persons", "id").unwrap());
    assert_eq!((id.declared_nullable, id.is_nullable()), (None, false));
    assert_eq!(id.value_type, ValueType::String);
}

#[test]
fn materialized_columns_attach_to_a_database() {
    let mut cols = MaterializedColumns::new();
    cols.materialize(PropertySource::Event, "$browser", false);
    let db = db().with_materialized(cols);
    assert_eq!(
        db.materialized
            .get(PropertySource::Event, "$browser")
            .unwrap()
            .column,
        "mat_$browser"
    );
    assert!(Database::posthog_default().materialized.is_empty());
}

fn describe_fields(out: &mut String, fields: &[FieldDef], indent: &str) {
    for def in fields {
        let star = if def.excluded_from_asterisk {
            " (not in *)"
        } else {
            ""
        };
        match &def.field {
            Field::Column(c) => {
                let rename = if c.name == def.name {
                    String::new()
                } else {
                    format!(" as {}", c.name)
                };
                let nullable = match c.declared_nullable {
                    Some(true) => "nullable",
                    Some(false) => "not null",
                    None => "undeclared",
                };
                writeln!(
                    out,
                    "{indent}{}{rename}: {:?} {nullable} ch={}{star}",
                    def.name,
                    c.value_type,
                    c.clickhouse_type.unwrap_or("?")
                )
                .unwrap();
            }
            Field::Expression(e) => {
                writeln!(
                    out,
                    "{indent}{}: {:?} = {}{star}",
                    def.name,
                    e.value_type,
                    e.expr.as_deref().unwrap_or("<not carried>")
                )
                .unwrap();
            }
            Field::LazyJoin(j) => {
                writeln!(
                    out,
                    "{indent}{}: {} {} ON {} = {}{}{star}",
                    def.name,
                    j.join.as_sql(),
                    j.table,
                    j.from_field,
                    j.to_field,
                    j.filter
                        .as_ref()
                        .map(|f| format!(" WHERE {f}"))
                        .unwrap_or_default()
                )
                .unwrap();
            }
            Field::VirtualTable(inner) => {
                writeln!(out, "{indent}{}: virtual table{star}", def.name).unwrap();
                describe_fields(out, inner, &format!("{indent}    "));
            }
            Field::Traverser(chain) => {
                writeln!(out, "{indent}{}: -> {}{star}", def.name, chain.join(".")).unwrap()
            }
        }
    }
}

/// The whole default schema, so schema changes are reviewed as a diff.
#[test]
fn schema_listing() {
    let mut out = String::new();
    for table in db().tables() {
        let kind = match &table.kind {
            TableKind::Table => "table".to_owned(),
            TableKind::Lazy(source) => format!("lazy {source:?}"),
            TableKind::Function(f) => format!("function {}..{}", f.min_args, f.max_args),
        };
        writeln!(
            out,
            "## {} -> {} ({kind}, team guard: {})",
            table.name, table.clickhouse_name, table.team_id_guard
        )
        .unwrap();
        describe_fields(&mut out, &table.fields, "    ");
    }
    insta::assert_snapshot!("schema_listing", out);
}

#[test]
fn persons_on_events_modes_rewire_events() {
    use PersonsOnEventsMode::*;
    let disabled = db().with_persons_on_events_mode(Disabled);
    let (table, _) = disabled
        .resolve_chain("events", &["person", "properties"])
        .unwrap();
    assert_eq!(table.name, "persons");
    assert_eq!(
        disabled.table("events").unwrap(),
        db().table("events").unwrap()
    );

    let poe = db().with_persons_on_events_mode(PersonIdNoOverridePropertiesOnEvents);
    let (table, field) = poe
        .resolve_chain("events", &["person", "properties"])
        .unwrap();
    assert_eq!(
        (table.name, column(field).name.as_str()),
        ("events", "person_properties")
    );
    let (_, field) = poe.resolve_chain("events", &["person_id"]).unwrap();
    assert_eq!(column(field).name, "person_id");

    let overrides = db().with_persons_on_events_mode(PersonIdOverridePropertiesOnEvents);
    let events = overrides.table("events").unwrap();
    let Field::Expression(person_id) = &events.field("person_id").unwrap().field else {
        panic!("expression")
    };
    assert_eq!(person_id.expr.as_deref(), Some(OVERRIDE_PERSON_ID_EXPR));
    let Field::LazyJoin(join) = &events.field("override").unwrap().field else {
        panic!("join")
    };
    assert_eq!(
        (join.table, join.join),
        ("person_distinct_id_overrides", JoinKind::LeftOuter)
    );
    let (_, poe_id) = overrides.resolve_chain("events", &["poe", "id"]).unwrap();
    assert!(matches!(poe_id.field, Field::Expression(_)));
    assert_eq!(
        column(events.field("event_person_id").unwrap()).name,
        "person_id"
    );
    // New fields are appended, like Python dict assignment; `*` picks up event_person_id.
    assert_eq!(events.fields.last().unwrap().name, "override");
    assert!(events.asterisk_fields().contains(&"event_person_id"));

    let joined = db().with_persons_on_events_mode(PersonIdOverridePropertiesJoined);
    let (table, _) = joined
        .resolve_chain("events", &["person", "properties"])
        .unwrap();
    assert_eq!(table.name, "persons");
    let Field::LazyJoin(join) = &joined.field("events", "person").unwrap().field else {
        panic!("join")
    };
    assert_eq!(
        (join.from_field.as_str(), join.to_field),
        ("person_id", "id")
    );
}

#[test]
fn group_type_names_become_traversers() {
    let db = db().with_group_types([(0, "organization"), (1, "event"), (7, "bogus")]);
    let (table, field) = db
        .resolve_chain("events", &["organization", "properties"])
        .unwrap();
    assert_eq!(
        (table.name, column(field).name.as_str()),
        ("groups", "group_properties")
    );
    // An existing field name is not overwritten, and only indexes 0..5 exist.
    assert!(matches!(
        db.field("events", "event").unwrap().field,
        Field::Column(_)
    ));
    assert!(db.field("events", "bogus").is_err());
}

#[test]
fn sessions_v2_replaces_the_sessions_tables_and_the_events_join() {
    let v1 = db().with_sessions_schema(SessionsSchema::V1);
    assert_eq!(
        v1.table("raw_sessions").unwrap().clickhouse_name,
        "sessions"
    );
    for (schema, from_field, from_expr) in [
        (
            SessionsSchema::V2JoinByString,
            "$session_id",
            Some("_toUInt128(toUUID($session_id))"),
        ),
        (SessionsSchema::V2JoinByUuid, "$session_id_uuid", None),
    ] {
        let db = db().with_sessions_schema(schema);
        let sessions = db.table("sessions").unwrap();
        let raw = db.table("raw_sessions").unwrap();
        assert_eq!(
            (sessions.clickhouse_name, raw.clickhouse_name),
            ("sessions", "raw_sessions")
        );
        let TableKind::Lazy(LazySource::Aggregate {
            raw_table,
            group_by,
        }) = &sessions.kind
        else {
            panic!(
                "sessions v2 is not an aggregate lazy table: {:?}",
                sessions.kind
            );
        };
        assert_eq!(
            (*raw_table, group_by.as_slice()),
            ("raw_sessions", &["session_id_v7"][..])
        );
        assert!(raw.has_field("session_id_v7"));
        let Field::LazyJoin(join) = &db.field("events", "session").unwrap().field else {
            panic!("events.session is not a lazy join");
        };
        assert_eq!(
            (
                join.table,
                join.from_field.as_str(),
                join.to_field,
                join.from_expr
            ),
            ("sessions", from_field, "session_id_v7", from_expr)
        );
        assert!(db.table("events").unwrap().has_field(from_field));
        // PostHog's `SELECT *` of both tables (avoid_asterisk_fields, and never team_id).
        let mut expected = vec![
            "session_id",
            "distinct_id",
            "$start_timestamp",
            "$end_timestamp",
            "max_inserted_at",
            "$urls",
            "$num_uniq_urls",
            "$entry_current_url",
            "$entry_pathname",
            "$entry_hostname",
            "$end_current_url",
            "$end_pathname",
            "$end_hostname",
            "$entry_referring_domain",
            "$entry_referrer",
        ];
        let attribution = [
            "$entry_utm_source",
            "$entry_utm_campaign",
            "$entry_utm_medium",
            "$entry_utm_term",
            "$entry_utm_content",
            "$entry_gclid",
            "$entry_gad_source",
            "$entry_gclsrc",
            "$entry_dclid",
            "$entry_gbraid",
            "$entry_wbraid",
            "$entry_fbclid",
            "$entry_msclkid",
            "$entry_twclid",
            "$entry_li_fat_id",
            "$entry_mc_cid",
            "$entry_igshid",
            "$entry_ttclid",
            "$entry__kx",
            "$entry_irclid",
        ];
        expected.extend(attribution);
        expected.extend([
            "$pageview_count",
            "$autocapture_count",
            "$screen_count",
            "$channel_type",
            "$session_duration",
            "$is_bounce",
            "$last_external_click_url",
            "$page_screen_autocapture_count_up_to",
            "$vitals_lcp",
        ]);
        assert_eq!(sessions.asterisk_fields(), expected);
        assert_eq!(
            raw.asterisk_fields(),
            ["min_timestamp", "max_timestamp", "max_inserted_at", "urls"]
        );
        for hidden in [
            "id",
            "session_id_v7",
            "duration",
            "$exit_current_url",
            "$exit_pathname",
        ] {
            assert!(sessions.has_field(hidden), "{hidden}");
        }
    }
}
