//! Shared by `hogql_exec.rs` and `hogql_isolation.rs`: a ClickHouse database with Hogref's schema
//! (the migrations in `migrations/clickhouse/`) and the two-team dataset of
//! `fixtures/hogql/exec/dataset/`, and compile → bind → execute for one HogQL query.

#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use anyhow::Context as _;
use hogql_compiler::schema::{PropertySource, materialized_column_name};
use hogql_compiler::{Context, bind_values, compile};

/// The team the queries run for.
pub const TEAM: i64 = 420;
/// The other team: same distinct ids and event names, its own uuids and marked values.
pub const OTHER_TEAM: i64 = 421;

/// The dataset's tables: file stem under `dataset/` and the ClickHouse table rows go into.
pub const TABLES: &[(&str, &str)] = &[
    ("events", "sharded_events"),
    ("person", "person"),
    ("person_distinct_id2", "person_distinct_id2"),
    (
        "person_distinct_id_overrides",
        "person_distinct_id_overrides",
    ),
    ("groups", "groups"),
];

/// Tables derived from the loaded rows by an `INSERT … SELECT` under `dataset/<stem>.sql`, run
/// after the `.jsonl` files (sessions: aggregate states computed from the events).
pub const DERIVED: &[&str] = &["sessions", "sessions_v2"];

pub fn repo_root() -> PathBuf {
    conformance::paths::workspace_root()
}

pub fn dataset_dir() -> PathBuf {
    repo_root().join("fixtures/hogql/exec/dataset")
}

/// A materialized event property column, as PostHog adds them (`mat_<name>`, filled from
/// `properties` by a MATERIALIZED expression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Materialized {
    pub property: String,
    pub nullable: bool,
}

/// A fresh database `name` with Hogref's schema, the given materialized columns, and the
/// dataset's rows (only `only_team`'s when given). Returns a client bound to it.
pub async fn dataset_database(
    name: &str,
    materialized: &[Materialized],
    only_team: Option<i64>,
) -> anyhow::Result<clickhouse::Client> {
    pipeline_kit::clickhouse_database(name).context("applying migrations/clickhouse")?;
    let client = scenarios::clickhouse()?.with_database(name);

    for m in materialized {
        let column = materialized_column_name(PropertySource::Event, &m.property);
        let key = hogql_compiler::escape::escape_string(&m.property);
        let (ty, expr) = if m.nullable {
            (
                "Nullable(String)".to_owned(),
                format!("JSONExtract(properties, {key}, 'Nullable(String)')"),
            )
        } else {
            (
                "String".to_owned(),
                format!("replaceRegexpAll(JSONExtractRaw(properties, {key}), '^\"|\"$', '')"),
            )
        };
        let ident = hogql_compiler::escape::escape_clickhouse_identifier(
            &column,
            hogql_compiler::escape::IdentifierStyle::Current,
        )?;
        for sql in [
            format!(
                "ALTER TABLE sharded_events ADD COLUMN IF NOT EXISTS {ident} {ty} MATERIALIZED {expr}"
            ),
            format!("ALTER TABLE events ADD COLUMN IF NOT EXISTS {ident} {ty}"),
        ] {
            client
                .query_raw(&sql)
                .execute()
                .await
                .with_context(|| sql.clone())?;
        }
    }

    for (stem, table) in TABLES {
        let path = dataset_dir().join(format!("{stem}.jsonl"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut rows = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let row: serde_json::Value = serde_json::from_str(line)
                .with_context(|| format!("{}: bad JSON line {line}", path.display()))?;
            if only_team.is_none_or(|team| row["team_id"].as_i64() == Some(team)) {
                rows.push(line);
            }
        }
        if rows.is_empty() {
            continue;
        }
        let sql = format!(
            "INSERT INTO {table} FORMAT JSONEachRow\n{}\n",
            rows.join("\n")
        );
        client
            .query_raw(&sql)
            .execute()
            .await
            .with_context(|| format!("loading {}", path.display()))?;
    }
    for stem in DERIVED {
        let path = dataset_dir().join(format!("{stem}.sql"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let sql: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        client
            .query_raw(&sql.join("\n"))
            .execute()
            .await
            .with_context(|| format!("deriving {}", path.display()))?;
    }
    Ok(client)
}

/// Drops the database (its Kafka tables' consumers stop with it).
pub async fn drop_database(name: &str) -> anyhow::Result<()> {
    scenarios::clickhouse()?
        .query_raw(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute()
        .await?;
    Ok(())
}

/// A query result: column names and types, and the rows as JSON values.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

/// Executes already bound SQL; the `Err` is ClickHouse's message.
pub async fn execute(client: &clickhouse::Client, sql: &str) -> anyhow::Result<Rows> {
    let bytes = client
        .query_raw(sql)
        .fetch_bytes("JSONCompact")?
        .collect()
        .await?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "ClickHouse answer is not JSON: {}",
            String::from_utf8_lossy(&bytes)
        )
    })?;
    let columns = body["meta"]
        .as_array()
        .context("no meta in the answer")?
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let rows = body["data"]
        .as_array()
        .context("no data in the answer")?
        .iter()
        .map(|r| r.as_array().cloned().unwrap_or_default())
        .collect();
    Ok(Rows { columns, rows })
}

/// Compiles `hogql` for `ctx`, binds its values and returns the bound SQL.
pub fn compile_bound(hogql: &str, ctx: &mut Context) -> anyhow::Result<String> {
    let compiled = compile(hogql, ctx).map_err(|e| anyhow::anyhow!("[{}] {e}", e.code()))?;
    Ok(bind_values(&compiled.clickhouse, &compiled.values)?)
}
