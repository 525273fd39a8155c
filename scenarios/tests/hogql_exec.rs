//! Every `ok` printer fixture (`fixtures/hogql/print/ok/`) compiled for its config (team 420, UTC
//! unless the fixture says otherwise), its values bound with `hogql_compiler::bind_values`, and
//! executed on ClickHouse (`CLICKHOUSE_URL`) over the two-team dataset of
//! `fixtures/hogql/exec/dataset/`, loaded into a fresh database with Hogref's migrations.
//!
//! Each fixture's rows live once, as the implementation-neutral expectation
//! `fixtures/hogql/exec/expected/<case>.json` (column names and ClickHouse types, then the rows as
//! JSON arrays, sorted unless the query has a top-level ORDER BY), checked here (`cargo xtask
//! bless exec` rewrites them) and compared by the `hogql-exec` conformance suite with a target's
//! results. A cell that mentions `421` fails the case: every team-421 row of the dataset carries
//! that mark (uuids `00000421-…`, `t421`, `team421`, `-421`), so it can only come from a leak.
//!
//! Fixtures that cannot run are listed in `fixtures/hogql/exec/not_executable.toml` with the
//! ClickHouse error they must fail with and why; a listed fixture that executes fails the run.
#![cfg(feature = "services")]

mod hogql_support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use conformance::print_case::{self, PrintCase};
use hogql_compiler::schema::PropertySource;
use hogql_compiler::{Context, LimitContext, Modifiers};
use hogql_support::{Materialized, Rows};
use serde::Deserialize;

struct Case {
    name: String,
    path: PathBuf,
    case: PrintCase,
}

/// Every `ok` printer case, read by the one case reader (`conformance::print_case`).
fn read_cases() -> anyhow::Result<Vec<Case>> {
    print_case::cases(&hogql_support::repo_root(), "ok")
        .into_iter()
        .map(|path| {
            let case = print_case::read(&path)?;
            Ok(Case {
                name: print_case::name(&path),
                path,
                case,
            })
        })
        .collect()
}

/// The compiler context a case's config asks for.
fn context(case: &Case) -> anyhow::Result<Context> {
    let at = || {
        format!(
            "{}:{}",
            case.path.display(),
            case.case.config_line.unwrap_or(1)
        )
    };
    let config = &case.case.config;
    let mut ctx = Context::new(config.team_id);
    ctx.timezone = config.timezone.clone();
    if let Some(modifiers) = &config.modifiers {
        ctx.modifiers = serde_json::from_value::<Modifiers>(modifiers.clone())
            .with_context(|| format!("{}: bad modifiers", at()))?;
    }
    if let Some(limit_context) = &config.limit_context {
        ctx.limit_context = serde_json::from_value::<LimitContext>(limit_context.as_str().into())
            .with_context(|| format!("{}: bad limit_context", at()))?;
    }
    ctx.global_settings = config.settings;
    for m in &config.materialized {
        ctx.materialized
            .materialize(PropertySource::Event, &m.property, m.nullable);
    }
    Ok(ctx)
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
    let mut rows: Vec<String> = result
        .rows
        .iter()
        .map(|r| {
            serde_json::to_string(
                &r.iter()
                    .map(|v| conformance::normalize::redact_now(v, today))
                    .collect::<Vec<_>>(),
            )
            .unwrap_or_default()
        })
        .collect();
    let ordered = top_level(&case.case.query).contains("order by");
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

/// Checks (or, with `HOGREF_BLESS=1`, writes) a case's expectation file.
fn check_expected(case: &Case, text: &str) -> Result<(), String> {
    let path = expected_dir().join(format!("{}.json", case.name));
    if std::env::var("HOGREF_BLESS").is_ok_and(|v| v == "1") {
        return std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    }
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing == text => Ok(()),
        Ok(_) => Err(format!(
            "{}: expected rows differ from this run (HOGREF_BLESS=1 rewrites them)",
            path.display()
        )),
        Err(_) => Err(format!(
            "{}: missing (HOGREF_BLESS=1 writes it)",
            path.display()
        )),
    }
}

fn expected_dir() -> PathBuf {
    hogql_support::repo_root().join("fixtures/hogql/exec/expected")
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
        for m in &case.case.config.materialized {
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
        let mut ctx = match context(case) {
            Ok(ctx) => ctx,
            Err(e) => {
                failures.push(format!("{e:#}"));
                continue;
            }
        };
        let sql = match hogql_support::compile_bound(&case.case.query, &mut ctx) {
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
                let (cells, _) = normalized_rows(case, &rows, &today);
                if cells.iter().any(|row| row.contains("421")) {
                    failures.push(format!(
                        "{}: team 421 data in the result:\n{}",
                        case.name,
                        cells.join("\n")
                    ));
                }
                if let Err(e) = check_expected(case, &expected_json(case, &rows, &today)) {
                    failures.push(e);
                }
            }
        }
    }
    hogql_support::drop_database(&db).await?;
    eprintln!(
        "hogql_exec: {} ok fixtures, {executed} executed and checked, {known} known not executable, {} failures",
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
