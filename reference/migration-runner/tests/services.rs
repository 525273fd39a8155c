//! Real-ClickHouse tests (feature `services`; `cargo xtask test` enables it and starts the stack).
//! They read `CLICKHOUSE_URL` (and `KAFKA_HOSTS` for the Kafka tables) and FAIL when it is missing.
//! Each test uses its own database, dropped at the end.
#![cfg(feature = "services")]

use std::time::{SystemTime, UNIX_EPOCH};

use migration_checker::{Migration, SourceSet, parse_migration};
use migration_runner::client::Client;
use migration_runner::topology::Env;
use migration_runner::{Error, Topology, apply};

fn clickhouse_url() -> String {
    std::env::var("CLICKHOUSE_URL")
        .expect("the `services` feature is on but CLICKHOUSE_URL is not set: start the stack with `cargo xtask stack up`")
}

fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}_{}_{nanos}", std::process::id())
}

/// A single-node topology on a fresh database, with a unique Kafka consumer-group prefix.
fn topology(db: &str) -> Topology {
    let mut env = Env::from_process();
    env.kafka_hosts = Some(env.kafka_hosts.unwrap_or_else(|| {
        panic!("the `services` feature is on but KAFKA_HOSTS is not set: start the stack with `cargo xtask stack up`")
    }));
    env.group_prefix = Some(format!("{db}_"));
    Topology::single_node(&clickhouse_url(), db, &env)
}

fn query(topology: &Topology, sql: &str) -> String {
    Client::new()
        .exec(&topology.nodes[0], Some(&topology.database), sql)
        .unwrap()
}

fn drop_database(topology: &Topology) {
    let _ = Client::with_auth(topology.auth.clone()).exec(
        &topology.nodes[0],
        None,
        &format!("DROP DATABASE IF EXISTS `{}` SYNC", topology.database),
    );
}

fn hogref_migrations() -> Vec<Migration> {
    let path = conformance::paths::workspace_root()
        .join("migrations/clickhouse")
        .to_string_lossy()
        .into_owned();
    let (migrations, problems) = SourceSet::read(&path).unwrap().migrations();
    assert!(problems.is_empty(), "{problems:?}");
    migrations
}

fn schema(topology: &Topology) -> String {
    let tables = query(
        topology,
        "SELECT name, engine FROM system.tables WHERE database = currentDatabase() ORDER BY name FORMAT TabSeparated",
    );
    let columns = query(
        topology,
        "SELECT table, name, type, default_kind, default_expression FROM system.columns \
         WHERE database = currentDatabase() ORDER BY table, position FORMAT TabSeparated",
    );
    format!("# tables\n{tables}\n# columns\n{columns}").replace(&topology.database, "<db>")
}

#[test]
fn hogref_schema_applies_once_and_is_idempotent() {
    let db = unique("hogref_mig_schema");
    let topology = topology(&db);
    let first = apply(&topology, &hogref_migrations()).unwrap();
    assert_eq!(
        first.applied,
        [
            "0001_events",
            "0002_person",
            "0003_person_distinct_id2",
            "0004_person_distinct_id_overrides",
            "0005_groups",
            "0006_events_elements_chain_columns",
            "0007_sessions",
            "0008_sessions_mv",
            "0009_ingestion_warnings",
            "0010_events_session_id_uuid",
            "0011_raw_sessions_v2",
            "0012_raw_sessions_v2_mv",
        ]
    );
    let before = schema(&topology);
    let second = apply(&topology, &hogref_migrations()).unwrap();
    assert!(second.applied.is_empty(), "{second:?}");
    assert_eq!(second.already_applied.len(), 12);
    assert_eq!(
        schema(&topology),
        before,
        "a second apply changed the schema"
    );
    // The single-node rendering works end to end: writable (Buffer) -> data table, read (Merge) <- data table.
    query(
        &topology,
        "INSERT INTO writable_person (id, created_at, team_id, properties, is_identified, version, _timestamp, _offset) \
         VALUES ('00000000-0000-0000-0000-000000000001', now(), 7, '{}', 1, 3, now(), 0)",
    );
    assert_eq!(
        query(
            &topology,
            "SELECT team_id, version FROM person FORMAT TabSeparated"
        ),
        "7\t3\n"
    );
    query(
        &topology,
        "INSERT INTO writable_events (uuid, event, properties, timestamp, team_id, distinct_id, elements_chain, created_at, person_id, \
         person_created_at, person_properties, person_mode, historical_migration, _timestamp, _offset) VALUES \
         (generateUUIDv4(), '$pageview', '{\"$session_id\": \"s1\"}', now64(), 7, 'd1', '', now64(), generateUUIDv4(), now64(), '{}', 'full', false, now(), 0), \
         (generateUUIDv4(), '$pageview', '{\"$session_id\": \"018cc477-4500-7000-8000-000000000001\"}', now64(), 7, 'd1', '', now64(), generateUUIDv4(), now64(), '{}', 'full', false, now(), 0)",
    );
    // `$session_id_uuid` (0010) is the id as a UInt128 when it is a UUID, NULL otherwise.
    assert_eq!(
        query(
            &topology,
            "SELECT event, `$session_id`, `$session_id_uuid` = toUInt128(toUUID('018cc477-4500-7000-8000-000000000001')) \
             FROM events ORDER BY `$session_id` FORMAT TabSeparated"
        ),
        "$pageview\t018cc477-4500-7000-8000-000000000001\t1\n$pageview\ts1\t\\N\n"
    );
    // raw_sessions_mv (0012) aggregated the event with a UUIDv7 session id into sessions v2.
    assert_eq!(
        query(
            &topology,
            "SELECT toString(reinterpretAsUUID(bitOr(bitShiftLeft(session_id_v7, 64), bitShiftRight(session_id_v7, 64)))), \
             uniqMerge(pageview_uniq) FROM raw_sessions GROUP BY session_id_v7 FORMAT TabSeparated"
        ),
        "018cc477-4500-7000-8000-000000000001\t1\n"
    );
    let recorded = query(
        &topology,
        "SELECT count() FROM hogref_migrations FORMAT TabSeparated",
    );
    drop_database(&topology);
    assert_eq!(recorded, format!("{}\n", first.applied.len()));
    insta::assert_snapshot!("hogref_schema_single_node", before);
}

fn write_migration(dir: &std::path::Path, name: &str, ops: &[&str]) {
    let body: Vec<String> = ops
        .iter()
        .map(|sql| {
            format!(
                "[[operations]]\nnode_roles = [\"DATA\", \"COORDINATOR\"]\nsharded = false\nis_alter_on_replicated_table = false\nsql = '''{sql}'''\n"
            )
        })
        .collect();
    std::fs::write(dir.join(format!("{name}.toml")), body.join("\n")).unwrap();
}

fn read_dir(dir: &std::path::Path) -> Vec<Migration> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap();
        out.push(parse_migration(&entry.path().to_string_lossy(), &text).unwrap());
    }
    out
}

#[test]
fn a_failed_migration_is_completed_by_the_next_run_and_recorded_once() {
    let db = unique("hogref_mig_resume");
    let topology = topology(&db);
    let dir = std::env::temp_dir().join(&db);
    std::fs::create_dir_all(&dir).unwrap();
    let create = |t: &str| {
        format!("CREATE TABLE IF NOT EXISTS {t} (id UInt64) ENGINE = MergeTree ORDER BY id")
    };
    write_migration(&dir, "0001_a", &[&create("t1")]);
    write_migration(
        &dir,
        "0002_b",
        &[
            &create("t2"),
            "ALTER TABLE no_such_table ADD COLUMN IF NOT EXISTS c UInt8",
            &create("t3"),
        ],
    );
    let err = apply(&topology, &read_dir(&dir)).unwrap_err();
    assert!(
        matches!(&err, Error::Failed { migration, op: 2, .. } if migration == "0002_b"),
        "{err}"
    );
    let tables = || {
        query(
            &topology,
            "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name FORMAT TabSeparated",
        )
    };
    assert_eq!(
        tables(),
        "hogref_migrations\nt1\nt2\n",
        "operations after the failure must not run"
    );
    assert_eq!(
        query(
            &topology,
            "SELECT module_name FROM hogref_migrations FORMAT TabSeparated"
        ),
        "0001_a\n"
    );

    // Fix the failing operation and re-run: 0002_b completes (its first operation re-runs harmlessly).
    write_migration(
        &dir,
        "0002_b",
        &[
            &create("t2"),
            "ALTER TABLE t2 ADD COLUMN IF NOT EXISTS c UInt8",
            &create("t3"),
        ],
    );
    let report = apply(&topology, &read_dir(&dir)).unwrap();
    assert_eq!(report.applied, ["0002_b"]);
    assert_eq!(report.already_applied, ["0001_a"]);
    let again = apply(&topology, &read_dir(&dir)).unwrap();
    assert!(again.applied.is_empty());
    let recorded = query(
        &topology,
        "SELECT module_name, count() FROM hogref_migrations GROUP BY module_name ORDER BY module_name FORMAT TabSeparated",
    );
    let t2_columns = query(
        &topology,
        "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 't2' ORDER BY position FORMAT TabSeparated",
    );
    let final_tables = tables();
    drop_database(&topology);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(recorded, "0001_a\t1\n0002_b\t1\n");
    assert_eq!(t2_columns, "id\nc\n");
    assert_eq!(final_tables, "hogref_migrations\nt1\nt2\nt3\n");
}
