//! Property tests: the DDL parser never panics, and generated migrations get exactly the diagnostics
//! their construction implies (each violation switched on or off independently).

use migration_checker::{Config, SourceSet, check, parser::parse};
use proptest::prelude::*;

/// A generated migration: which violations were built in.
#[derive(Debug, Clone)]
struct Built {
    on_cluster: bool,
    create_guard: bool,
    alter_guard: bool,
    alter_if_exists: bool,
    mutation: bool,
    roles: Roles,
    omit_flags: bool,
    wrong_alter_flag: bool,
    inline_kafka: bool,
    bad_kafka_name: bool,
    drop_sync: bool,
    kafka_default: bool,
    table: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roles {
    Right,
    Wrong,
    Unknown,
}

fn built() -> impl Strategy<Value = Built> {
    (
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        prop_oneof![Just(Roles::Right), Just(Roles::Wrong), Just(Roles::Unknown)],
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (any::<bool>(), "[a-z]{1,8}"),
    )
        .prop_map(
            |(
                (on_cluster, create_guard, alter_guard, alter_if_exists, mutation),
                roles,
                (omit_flags, wrong_alter_flag, inline_kafka, bad_kafka_name, drop_sync),
                (kafka_default, table),
            )| Built {
                on_cluster,
                create_guard,
                alter_guard,
                alter_if_exists,
                mutation,
                roles,
                omit_flags,
                wrong_alter_flag,
                inline_kafka,
                bad_kafka_name,
                drop_sync,
                kafka_default,
                table,
            },
        )
}

fn operation(roles: &str, flags: Option<(bool, bool)>, engine: Option<&str>, sql: &str) -> String {
    let mut out = format!("[[operations]]\nnode_roles = [{roles}]\n");
    if let Some((sharded, alter)) = flags {
        out.push_str(&format!(
            "sharded = {sharded}\nis_alter_on_replicated_table = {alter}\n"
        ));
    }
    if let Some(engine) = engine {
        out.push_str(&format!("engine = {engine}\n"));
    }
    out.push_str(&format!("sql = \"\"\"{sql}\"\"\"\n\n"));
    out
}

const REPLICATED: &str = r#"{ kind = "merge_tree", family = "ReplacingMergeTree", replication = "replicated", args = ["v"] }"#;
const SHARDED: &str = r#"{ kind = "merge_tree", family = "ReplacingMergeTree", replication = "sharded", args = ["v"] }"#;
const KAFKA: &str = r#"{ kind = "kafka", topic = "t", group = "g" }"#;
const DATA_COORDINATOR: &str = r#""DATA", "COORDINATOR""#;

/// The migration: CREATE of a replicated table, an ALTER of it, a Kafka table, and a drop + recreate
/// of a sharded table.
fn render(b: &Built) -> String {
    let t = &b.table;
    let cluster = if b.on_cluster {
        " ON CLUSTER 'posthog'"
    } else {
        ""
    };
    let create_guard = if b.create_guard { "IF NOT EXISTS " } else { "" };
    let alter_guard = if b.alter_guard { "IF NOT EXISTS " } else { "" };
    let table_guard = if b.alter_if_exists { "IF EXISTS " } else { "" };
    let command = if b.mutation {
        "DROP INDEX IF EXISTS idx".to_string()
    } else {
        format!("ADD COLUMN {alter_guard}extra UInt8")
    };
    let roles = match b.roles {
        Roles::Right => DATA_COORDINATOR,
        Roles::Wrong => r#""INGESTION_SMALL""#,
        Roles::Unknown => r#""DATA", "COORDNATOR""#,
    };
    let alter_flags = if b.omit_flags {
        None
    } else {
        Some((false, !b.wrong_alter_flag))
    };
    let kafka_name = if b.bad_kafka_name {
        format!("queue_{t}")
    } else {
        format!("kafka_{t}")
    };
    let (kafka_engine, kafka_spec) = if b.inline_kafka {
        ("Kafka('k:9092', 't', 'g', 'JSONEachRow')", None)
    } else {
        ("${engine}", Some(KAFKA))
    };
    let sync = if b.drop_sync { " SYNC" } else { "" };
    let kafka_default = if b.kafka_default { " DEFAULT 0" } else { "" };
    [
        operation(
            roles,
            Some((false, false)),
            Some(REPLICATED),
            &format!("CREATE TABLE {create_guard}t_{t}{cluster} (id UInt64, v UInt64) ENGINE = ${{engine}} ORDER BY id"),
        ),
        operation(DATA_COORDINATOR, alter_flags, None, &format!("ALTER TABLE {table_guard}t_{t}{cluster} {command}")),
        operation(
            r#""INGESTION_SMALL""#,
            Some((false, false)),
            kafka_spec,
            &format!("CREATE TABLE IF NOT EXISTS {kafka_name} (id UInt64{kafka_default}) ENGINE = {kafka_engine}"),
        ),
        operation(r#""DATA""#, Some((true, false)), None, &format!("DROP TABLE IF EXISTS sharded_{t}{sync}")),
        operation(
            r#""DATA""#,
            Some((true, false)),
            Some(SHARDED),
            &format!("CREATE TABLE IF NOT EXISTS sharded_{t} (id UInt64, v UInt64) ENGINE = ${{engine}} ORDER BY id"),
        ),
    ]
    .concat()
}

/// The codes the construction implies, in code order.
fn expected(b: &Built) -> Vec<&'static str> {
    let rules = [
        (b.on_cluster, "CH001"),
        (!b.create_guard || (!b.alter_guard && !b.mutation), "CH002"),
        (b.alter_if_exists, "CH003"),
        (!b.drop_sync, "CH004"),
        (b.roles != Roles::Right, "CH005"),
        (b.omit_flags, "CH006"),
        (!b.omit_flags && b.wrong_alter_flag, "CH007"),
        (b.mutation, "CH008"),
        (b.bad_kafka_name, "CH009"),
        (b.roles == Roles::Unknown, "CH011"),
        (b.inline_kafka, "CH012"),
        (b.kafka_default, "CH013"),
    ];
    rules
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, code)| code)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(src in "\\PC{0,200}") {
        let _ = parse(&src);
    }

    #[test]
    fn parser_never_panics_on_ddl_like_token_soup(words in proptest::collection::vec(
        prop_oneof![
            Just("CREATE"), Just("TABLE"), Just("ALTER"), Just("DROP"), Just("IF"), Just("NOT"), Just("EXISTS"),
            Just("("), Just(")"), Just(","), Just(";"), Just("ENGINE"), Just("="), Just("ON"), Just("CLUSTER"),
            Just("x"), Just("'s'"), Just("1"), Just("ADD"), Just("COLUMN"), Just("MATERIALIZED"), Just("VIEW"),
            Just("TO"), Just("AS"), Just("SELECT"), Just("SETTINGS"), Just("${engine}"), Just("."), Just("SYNC"),
            Just("MODIFY"), Just("UPDATE"), Just("WHERE"), Just("DELETE"), Just("INDEX"), Just("TYPE"), Just("`q`"),
            Just("RENAME"), Just("EXCHANGE"), Just("TRUNCATE"), Just("DICTIONARY"), Just("{"), Just("}"), Just("'"),
        ], 0..40)) {
        let _ = parse(&words.join(" "));
    }

    #[test]
    fn checker_never_panics_on_arbitrary_migration_text(sql in "\\PC{0,120}", roles in "[A-Z_]{0,12}") {
        let text = format!("[[operations]]\nnode_roles = [\"{roles}\"]\nsql = '''{}'''\n", sql.replace('\'', ""));
        let _ = check(&[SourceSet::File { path: "0001_x.toml".to_string(), text }], &Config::default());
    }

    #[test]
    fn verdict_matches_construction(b in built()) {
        let set = SourceSet::File { path: "0001_generated.toml".to_string(), text: render(&b) };
        let report = check(&[set], &Config::default());
        let mut codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        codes.dedup();
        prop_assert_eq!(codes, expected(&b), "{}", report.render_text());
    }
}
