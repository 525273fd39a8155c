//! Every `ok` printer fixture (`fixtures/hogql/print/ok/`) compiled for its config (team 420, UTC
//! unless the fixture says otherwise), its values bound with `hogql_compiler::bind_values`, and
//! executed on ClickHouse (`CLICKHOUSE_URL`) over the two-team dataset of
//! `fixtures/hogql/exec/dataset/`, loaded into a fresh database with Hogref's migrations.
//!
//! Each fixture's rows are snapshotted (`snapshots/hogql_exec__<case>.snap`: columns with their
//! ClickHouse types, then the rows as JSON arrays, sorted unless the query has a top-level ORDER
//! BY). A cell that mentions `421` fails the case: every team-421 row of the dataset carries that
//! mark (uuids `00000421-…`, `t421`, `team421`, `-421`), so it can only come from a leak.
//!
//! The same rows are kept as implementation-neutral expectations in
//! `fixtures/hogql/exec/expected/<case>.json` (checked here; `HOGQL_EXEC_BLESS=1` rewrites
//! them), which the `hogql-exec` conformance suite compares a target's results with.
//!
//! Fixtures that cannot run are listed in `fixtures/hogql/exec/not_executable.toml` with the
//! ClickHouse error they must fail with and why; a listed fixture that executes fails the run.
#![cfg(feature = "services")]

mod hogql_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use hogql_compiler::schema::PropertySource;
use hogql_compiler::{Context, LimitContext, Modifiers};
use hogql_support::{Materialized, Rows};
use serde::Deserialize;

/// The `-- config:` header of a printer fixture (same fields as the printer's fixture runner).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_team")]
    team_id: i64,
    #[serde(default = "default_tz")]
    timezone: String,
    #[serde(default)]
    modifiers: Modifiers,
    #[serde(default)]
    limit_context: LimitContext,
    #[serde(default)]
    settings: bool,
    #[serde(default)]
    materialized: Vec<MaterializedConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaterializedConfig {
    property: String,
    #[serde(default)]
    nullable: bool,
}

fn default_team() -> i64 {
    hogql_support::TEAM
}

fn default_tz() -> String {
    "UTC".into()
}

struct Case {
    name: String,
    config: Config,
    query: String,
}

fn read_cases() -> anyhow::Result<Vec<Case>> {
    let dir = hogql_support::repo_root().join("fixtures/hogql/print/ok");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
        .collect();
    paths.sort();
    let mut cases = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path)?;
        let mut config = None;
        let mut body = Vec::new();
        let mut in_header = true;
        for line in text.lines() {
            if in_header {
                if let Some(rest) = line.strip_prefix("-- config:") {
                    config = Some(
                        serde_json::from_str::<Config>(rest.trim())
                            .with_context(|| format!("{}: bad config", path.display()))?,
                    );
                    continue;
                }
                if line.starts_with("-- expect") {
                    continue;
                }
                in_header = false;
            }
            body.push(line);
        }
        let config = match config {
            Some(c) => c,
            None => serde_json::from_str("{}")?,
        };
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        cases.push(Case {
            name,
            config,
            query: body.join("\n").trim().to_owned(),
        });
    }
    Ok(cases)
}

/// One entry of the checked list of fixtures that do not execute.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotExecutable {
    case: String,
    /// A piece of the ClickHouse error the case must fail with.
    error: String,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotExecutableList {
    #[serde(default)]
    case: Vec<NotExecutable>,
}

fn read_not_executable() -> anyhow::Result<BTreeMap<String, NotExecutable>> {
    let path = hogql_support::repo_root().join("fixtures/hogql/exec/not_executable.toml");
    let text = std::fs::read_to_string(&path)?;
    let list: NotExecutableList = toml::from_str(&text)?;
    let mut out = BTreeMap::new();
    for entry in list.case {
        anyhow::ensure!(!entry.reason.trim().is_empty(), "{}: no reason", entry.case);
        out.insert(entry.case.clone(), entry);
    }
    Ok(out)
}

/// The query text outside any parentheses, lowercased (to find a top-level ORDER BY).
fn top_level(query: &str) -> String {
    let mut depth = 0usize;
    let mut out = String::new();
    for c in query.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => out.extend(c.to_lowercase()),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The result rows with cells that are the current date (queries calling `now()`) redacted, and
/// sorted (by their JSON text) unless the query has a top-level ORDER BY; and whether it has.
fn normalized_rows(case: &Case, result: &Rows, today: &[String]) -> (Vec<String>, bool) {
    let redact = |v: &serde_json::Value| -> serde_json::Value {
        match v {
            serde_json::Value::String(s) if today.iter().any(|d| s.starts_with(d.as_str())) => {
                serde_json::Value::String("[now]".into())
            }
            other => other.clone(),
        }
    };
    let mut rows: Vec<String> = result
        .rows
        .iter()
        .map(|r| {
            serde_json::to_string(&r.iter().map(redact).collect::<Vec<_>>()).unwrap_or_default()
        })
        .collect();
    let ordered = top_level(&case.query).contains("order by");
    if !ordered {
        rows.sort();
    }
    (rows, ordered)
}

/// The implementation-neutral expectation `fixtures/hogql/exec/expected/<case>.json` (what the
/// `hogql-exec` conformance suite compares a target with): column names and ClickHouse types,
/// whether the rows are in the query's order (else sorted by their JSON text), the rows with
/// today's dates redacted as `[now]`.
fn expected_json(case: &Case, result: &Rows, today: &[String]) -> String {
    let (rows, ordered) = normalized_rows(case, result, today);
    let names: Vec<&String> = result.columns.iter().map(|(n, _)| n).collect();
    let types: Vec<&String> = result.columns.iter().map(|(_, t)| t).collect();
    // One row per line, so diffs stay readable.
    format!(
        "{{\n  \"columns\": {},\n  \"types\": {},\n  \"ordered\": {ordered},\n  \"rows\": [{}]\n}}\n",
        serde_json::to_string(&names).unwrap_or_default(),
        serde_json::to_string(&types).unwrap_or_default(),
        if rows.is_empty() {
            String::new()
        } else {
            format!("\n    {}\n  ", rows.join(",\n    "))
        }
    )
}

/// Checks (or, with `HOGQL_EXEC_BLESS=1`, writes) a case's expectation file.
fn check_expected(case: &Case, text: &str) -> Result<(), String> {
    let path = expected_dir().join(format!("{}.json", case.name));
    if std::env::var("HOGQL_EXEC_BLESS").is_ok_and(|v| v == "1") {
        return std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    }
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == text => Ok(()),
        Ok(_) => Err(format!(
            "{}: expected rows differ from this run (HOGQL_EXEC_BLESS=1 rewrites them)",
            path.display()
        )),
        Err(_) => Err(format!(
            "{}: missing (HOGQL_EXEC_BLESS=1 writes it)",
            path.display()
        )),
    }
}

fn expected_dir() -> PathBuf {
    hogql_support::repo_root().join("fixtures/hogql/exec/expected")
}

/// The snapshot text; cells that are the current date (queries calling `now()`) are redacted.
fn render(case: &Case, result: &Rows, today: &[String]) -> String {
    let (rows, ordered) = normalized_rows(case, result, today);
    let columns: Vec<String> = result
        .columns
        .iter()
        .map(|(n, t)| format!("{n}: {t}"))
        .collect();
    format!(
        "{}\n\ncolumns:\n  {}\nrows ({}, {}):\n{}\n",
        case.query,
        columns.join("\n  "),
        rows.len(),
        if ordered {
            "in the query's order"
        } else {
            "sorted"
        },
        rows.join("\n")
    )
}

fn snapshot(name: &str, text: &str) -> Result<(), String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    std::panic::catch_unwind(|| {
        insta::with_settings!({ snapshot_path => dir, prepend_module_to_snapshot => true, omit_expression => true }, {
            insta::assert_snapshot!(name.to_string(), text);
        });
    })
    .map_err(|_| format!("snapshot `{name}` differs (run `cargo insta review`)"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_ok_printer_fixture_executes_and_sees_only_its_team() -> anyhow::Result<()> {
    let cases = read_cases()?;
    anyhow::ensure!(cases.len() > 100, "only {} ok fixtures found", cases.len());
    let listed = read_not_executable()?;
    let mut failures = Vec::new();
    for name in listed.keys() {
        if !cases.iter().any(|c| &c.name == name) {
            failures.push(format!(
                "STALE not_executable.toml names `{name}`, which is not an ok printer fixture"
            ));
        }
    }

    // Expectation files must belong to an executable ok fixture.
    if let Ok(entries) = std::fs::read_dir(expected_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = name.strip_suffix(".json") else {
                failures.push(format!(
                    "fixtures/hogql/exec/expected/{name}: not a .json file"
                ));
                continue;
            };
            if !cases.iter().any(|c| c.name == stem) || listed.contains_key(stem) {
                failures.push(format!(
                    "STALE fixtures/hogql/exec/expected/{name}: no executable ok printer fixture `{stem}`"
                ));
            }
        }
    }

    let mut materialized: Vec<Materialized> = Vec::new();
    for case in &cases {
        for m in &case.config.materialized {
            let m = Materialized {
                property: m.property.clone(),
                nullable: m.nullable,
            };
            if !materialized.contains(&m) {
                materialized.push(m);
            }
        }
    }

    let db = scenarios::unique("hogql_exec");
    let client = hogql_support::dataset_database(&db, &materialized, None).await?;
    let today: Vec<String> = {
        let r = hogql_support::execute(
            &client,
            "SELECT toString(today() - 1), toString(today()), toString(today() + 1)",
        )
        .await?;
        r.rows
            .first()
            .map(|row| {
                row.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    anyhow::ensure!(today.len() == 3, "could not read today's date");

    let (mut executed, mut known) = (0, 0);
    for case in &cases {
        let mut ctx = Context::new(case.config.team_id);
        ctx.timezone = case.config.timezone.clone();
        ctx.modifiers = case.config.modifiers.clone();
        ctx.limit_context = case.config.limit_context;
        ctx.global_settings = case.config.settings;
        for m in &case.config.materialized {
            ctx.materialized
                .materialize(PropertySource::Event, &m.property, m.nullable);
        }
        let sql = match hogql_support::compile_bound(&case.query, &mut ctx) {
            Ok(sql) => sql,
            Err(e) => {
                failures.push(format!("{}: does not compile: {e}", case.name));
                continue;
            }
        };
        let result = hogql_support::execute(&client, &sql).await;
        match (listed.get(&case.name), result) {
            (Some(entry), Ok(_)) => failures.push(format!(
                "STALE {}: listed as not executable ({}) but now executes; remove it from \
                 not_executable.toml",
                case.name, entry.reason
            )),
            (Some(entry), Err(e)) => {
                let message = format!("{e:#}");
                if message.contains(&entry.error) {
                    known += 1;
                } else {
                    failures.push(format!(
                        "{}: listed as failing with `{}`, fails with: {message}\n  SQL: {sql}",
                        case.name, entry.error
                    ));
                }
            }
            (None, Err(e)) => {
                failures.push(format!("{}: {e:#}\n  SQL: {sql}", case.name));
            }
            (None, Ok(rows)) => {
                executed += 1;
                let text = render(case, &rows, &today);
                let cells = text.split_once("\nrows (").map_or("", |(_, r)| r);
                if cells.contains("421") {
                    failures.push(format!(
                        "{}: team 421 data in the result:\n{text}",
                        case.name
                    ));
                }
                if let Err(e) = snapshot(&case.name, &text) {
                    failures.push(e);
                }
                if let Err(e) = check_expected(case, &expected_json(case, &rows, &today)) {
                    failures.push(e);
                }
            }
        }
    }
    hogql_support::drop_database(&db).await?;
    eprintln!(
        "hogql_exec: {} ok fixtures, {executed} executed and snapshotted, {known} known not executable, {} failures",
        cases.len(),
        failures.len()
    );
    anyhow::ensure!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    Ok(())
}
