//! Property tests: the DDL parser never panics, and generated DDL gets the verdict its construction implies.

use migration_checker::{Config, SourceSet, check, parser::parse};
use proptest::prelude::*;

/// One generated operation: which violations were built in.
#[derive(Debug, Clone)]
struct Built {
    on_cluster: bool,
    guard: bool,
    alter_if_exists: bool,
    mutation: bool,
    wrong_roles: bool,
    table: String,
}

fn built() -> impl Strategy<Value = Built> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        "[a-z]{1,8}",
    )
        .prop_map(
            |(on_cluster, guard, alter_if_exists, mutation, wrong_roles, table)| Built {
                on_cluster,
                guard,
                alter_if_exists,
                mutation,
                wrong_roles,
                table,
            },
        )
}

/// A two-operation migration: CREATE of a replicated table, then an ALTER of it.
fn render(b: &Built) -> String {
    let cluster = if b.on_cluster {
        " ON CLUSTER 'posthog'"
    } else {
        ""
    };
    let if_not_exists = if b.guard { "IF NOT EXISTS " } else { "" };
    let table_guard = if b.alter_if_exists { "IF EXISTS " } else { "" };
    let command = if b.mutation {
        "DROP INDEX IF EXISTS idx".to_string()
    } else {
        format!("ADD COLUMN {if_not_exists}extra UInt8")
    };
    let roles = if b.wrong_roles {
        "\"INGESTION_SMALL\""
    } else {
        "\"DATA\", \"COORDINATOR\""
    };
    format!(
        "[[operations]]\nnode_roles = [{roles}]\nsharded = false\nis_alter_on_replicated_table = false\n\
         engine = {{ kind = \"merge_tree\", family = \"ReplacingMergeTree\", replication = \"replicated\", args = [\"v\"] }}\n\
         sql = '''CREATE TABLE {if_not_exists}t_{t}{cluster} (id UInt64, v UInt64) ENGINE = ${{engine}} ORDER BY id'''\n\n\
         [[operations]]\nnode_roles = [\"DATA\", \"COORDINATOR\"]\nsharded = false\nis_alter_on_replicated_table = true\n\
         sql = '''ALTER TABLE {table_guard}t_{t}{cluster} {command}'''\n",
        t = b.table
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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
        ], 0..40)) {
        let _ = parse(&words.join(" "));
    }

    #[test]
    fn verdict_matches_construction(b in built()) {
        let set = SourceSet::File { path: "0001_generated.toml".to_string(), text: render(&b) };
        let report = check(&[set], &Config::default());
        let codes: Vec<&str> = report.diagnostics.iter().map(|d| d.code).collect();
        let has = |code: &str| codes.contains(&code);
        prop_assert_eq!(has("CH001"), b.on_cluster, "CH001 {:?}", codes);
        // The table-level guard makes the statement unparsable for ClickHouse, but our parser still reads it.
        prop_assert_eq!(has("CH003"), b.alter_if_exists, "CH003 {:?}", codes);
        prop_assert_eq!(has("CH002"), !b.guard, "CH002 {:?}", codes);
        prop_assert_eq!(has("CH008"), b.mutation, "CH008 {:?}", codes);
        prop_assert_eq!(has("CH005"), b.wrong_roles, "CH005 {:?}", codes);
        let clean = b.guard && !b.on_cluster && !b.alter_if_exists && !b.mutation && !b.wrong_roles;
        prop_assert_eq!(codes.is_empty(), clean, "{:?}", codes);
    }
}
