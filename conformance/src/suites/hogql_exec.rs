//! `hogql-exec`: the SQL the target compiles returns the right rows, for the right team only.
//!
//! Cases are the `ok` printer cases (`fixtures/hogql/print/ok/NAME.hogql`, same headers as
//! `hogql-print`). Once per run the suite asks the target for a fresh ClickHouse database with
//! its schema ([`Target::prepare_clickhouse`], capability `hogql-exec`: the reference target
//! applies `migrations/clickhouse` with `hogref migrations apply` on its stack's ClickHouse) and
//! loads the two-team dataset of `fixtures/hogql/exec/dataset/` over ClickHouse's HTTP interface
//! (`<table>.jsonl` with `INSERT … FORMAT JSONEachRow`, `events` into `sharded_events`, then the
//! derived `*.sql` statements). Each case is compiled through the target (`hogql compile`), its
//! `%(name)s` placeholders are bound to ClickHouse literals from the answer's `values`, and the
//! statement runs on that database:
//!
//! * the column names and rows must equal `fixtures/hogql/exec/expected/NAME.json` (rows in the
//!   query's order when the expectation says `ordered`, else as a multiset; a cell starting with
//!   yesterday's, today's or tomorrow's date counts as `[now]`), and no cell may mention `421`,
//!   the mark every row of the other team carries;
//! * a case listed in `fixtures/hogql/exec/not_executable.toml` must fail with its listed
//!   ClickHouse error: a known gap; executing is an unexpected pass (the list is stale).
//!
//! The database is dropped when the run ends (a failing run exits first: the next run drops the
//! databases of runs that are gone). Cases whose config declares materialized columns are skipped (the dataset's tables
//! have no such columns; `scenarios/tests/hogql_exec.rs` runs them). A target without a HogQL compiler
//! (an HTTP-only `--target`) or without a ClickHouse makes the whole suite unavailable.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Context as _;
use serde_json::Value;

use crate::target::Target;
use crate::{Case, Outcome};

use super::hogql_print::options;
use super::{Suite, files_with_suffix, relative};
use crate::print_case;

/// The suite; holds the prepared database once the first case needs it.
#[derive(Debug, Default)]
pub(super) struct HogqlExec {
    ready: Mutex<Option<Result<Ready, String>>>,
}

/// A loaded database.
#[derive(Debug, Clone)]
struct Ready {
    url: String,
    database: String,
    /// Yesterday, today and tomorrow as `YYYY-MM-DD` on the server (cells starting with them are
    /// `[now]`).
    today: Vec<String>,
    /// The checked list of cases ClickHouse rejects: (case name, error piece, reason).
    not_executable: Vec<(String, String, String)>,
}

impl Drop for HogqlExec {
    fn drop(&mut self) {
        if let Ok(guard) = self.ready.lock()
            && let Some(Ok(ready)) = guard.as_ref()
        {
            let _ = clickhouse(
                &ready.url,
                "",
                &format!("DROP DATABASE IF EXISTS {}", ready.database),
            );
        }
    }
}

/// Runs one statement on `url` (in `database` when not empty); `Ok` with the body, `Err` with
/// ClickHouse's message.
fn clickhouse(url: &str, database: &str, sql: &str) -> Result<String, String> {
    let mut uri = String::from("/?default_format=JSONCompact");
    if !database.is_empty() {
        uri.push_str("&database=");
        uri.push_str(database);
    }
    let answer =
        crate::http::send(url, "POST", &uri, &[], sql.as_bytes()).map_err(|e| format!("{e:#}"))?;
    if answer.status == 200 {
        Ok(answer.text())
    } else {
        Err(answer.text().trim().to_owned())
    }
}

/// A ClickHouse string literal: `'…'` with backslash escapes (as clickhouse-driver escapes).
fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{b}' => out.push_str("\\v"),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// The ClickHouse literal for one value of the answer's `values` map.
fn literal(value: &Value) -> Result<String, String> {
    Ok(match value {
        Value::String(s) => string_literal(s),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
        Value::Null => "NULL".to_owned(),
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(literal)
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        ),
        Value::Object(_) => return Err(format!("no ClickHouse literal for the value {value}")),
    })
}

/// `sql` with every `%(name)s` replaced by its value's literal and `%%` by `%` (what PostHog's
/// ClickHouse client does before sending).
fn bind(sql: &str, values: &serde_json::Map<String, Value>) -> Result<String, String> {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        if let Some(after) = tail.strip_prefix('%') {
            out.push('%');
            rest = after;
            continue;
        }
        let named = tail
            .strip_prefix('(')
            .ok_or_else(|| format!("a `%` that starts no placeholder at `{}`", &rest[at..]))?;
        let close = named
            .find(")s")
            .ok_or_else(|| format!("unterminated placeholder at `{}`", &rest[at..]))?;
        let name = &named[..close];
        let value = values
            .get(name)
            .ok_or_else(|| format!("placeholder `{name}` has no value"))?;
        out.push_str(&literal(value)?);
        rest = &named[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The rows of a JSONCompact answer as JSON texts, redacted (`[now]`) and sorted unless `ordered`.
fn normalized(rows: &[Value], ordered: bool, today: &[String]) -> Vec<String> {
    let mut out: Vec<String> = rows
        .iter()
        .map(|row| {
            let cells: Vec<Value> = row
                .as_array()
                .map(|r| {
                    r.iter()
                        .map(|v| crate::normalize::redact_now(v, today))
                        .collect()
                })
                .unwrap_or_default();
            serde_json::to_string(&cells).unwrap_or_default()
        })
        .collect();
    if !ordered {
        out.sort();
    }
    out
}

fn case_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_not_executable(root: &Path) -> anyhow::Result<Vec<(String, String, String)>> {
    let path = root.join("fixtures/hogql/exec/not_executable.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let doc: toml::Value = toml::from_str(&text).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for entry in doc
        .get("case")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |k: &str| {
            entry
                .get(k)
                .and_then(toml::Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        out.push((field("case"), field("error"), field("reason")));
    }
    Ok(out)
}

/// The prefix of the suite's databases; the suffix is the run's process id.
const DATABASE_PREFIX: &str = "hogref_conformance_exec_";

/// Drops the databases of earlier runs whose process is gone (a failing run exits without
/// dropping its own).
fn drop_stale_databases(url: &str) {
    let Ok(body) = clickhouse(
        url,
        "",
        &format!("SELECT name FROM system.databases WHERE startsWith(name, '{DATABASE_PREFIX}')"),
    ) else {
        return;
    };
    let Ok(answer) = serde_json::from_str::<Value>(&body) else {
        return;
    };
    for row in answer["data"].as_array().into_iter().flatten() {
        let Some(name) = row[0].as_str() else {
            continue;
        };
        let alive = name
            .strip_prefix(DATABASE_PREFIX)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = clickhouse(url, "", &format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

/// Creates the database, loads the dataset and reads the server's dates.
fn prepare(target: &dyn Target, root: &Path) -> anyhow::Result<Ready> {
    let database = format!("{DATABASE_PREFIX}{}", std::process::id());
    let url = target.prepare_clickhouse(root, &database)?;
    drop_stale_databases(&url);
    let run = |sql: &str| clickhouse(&url, &database, sql).map_err(|e| anyhow::anyhow!(e));
    let dir = root.join("fixtures/hogql/exec/dataset");
    for path in files_with_suffix(&dir, ".jsonl") {
        let stem = case_name(&path);
        let table = if stem == "events" {
            "sharded_events".to_owned()
        } else {
            stem
        };
        let rows = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        run(&format!("INSERT INTO {table} FORMAT JSONEachRow\n{rows}"))
            .with_context(|| format!("loading {}", path.display()))?;
    }
    for path in files_with_suffix(&dir, ".sql") {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let sql: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        run(&sql.join("\n")).with_context(|| format!("running {}", path.display()))?;
    }
    let answer: Value = serde_json::from_str(&run(
        "SELECT toString(today() - 1), toString(today()), toString(today() + 1)",
    )?)?;
    let today = answer["data"][0]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Ok(Ready {
        url,
        database,
        today,
        not_executable: read_not_executable(root)?,
    })
}

/// The checkout root a case path lives in (`<root>/fixtures/hogql/print/ok/NAME.hogql`).
fn root_of(path: &Path) -> Option<PathBuf> {
    Some(path.ancestors().nth(5)?.to_path_buf())
}

impl HogqlExec {
    fn ready(&self, target: &dyn Target, root: &Path) -> Result<Ready, String> {
        let mut guard = self
            .ready
            .lock()
            .map_err(|_| "the suite's state is poisoned".to_string())?;
        guard
            .get_or_insert_with(|| prepare(target, root).map_err(|e| format!("{e:#}")))
            .clone()
    }
}

fn judge(ready: &Ready, name: &str, sql: &str, expected_path: &Path) -> Outcome {
    let listed = ready
        .not_executable
        .iter()
        .find(|(case, _, _)| case == name);
    let result = clickhouse(&ready.url, &ready.database, sql);
    let body = match (listed, result) {
        (Some((_, error, reason)), Err(message)) if message.contains(error.as_str()) => {
            return Outcome::KnownGap(format!("ClickHouse rejects it as listed: {reason}"));
        }
        (Some((_, error, _)), Err(message)) => {
            return Outcome::Failed(format!(
                "listed as failing with `{error}`, fails with: {message}\n  SQL: {sql}"
            ));
        }
        (Some((_, _, reason)), Ok(_)) => {
            return Outcome::UnexpectedPass(format!(
                "listed as not executable ({reason}) but executes: remove it from fixtures/hogql/exec/not_executable.toml"
            ));
        }
        (None, Err(message)) => {
            return Outcome::Failed(format!("ClickHouse error: {message}\n  SQL: {sql}"));
        }
        (None, Ok(body)) => body,
    };
    let answer: Value = match serde_json::from_str(&body) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("ClickHouse answer is not JSON ({e}): {body}")),
    };
    let expected: Value = match std::fs::read_to_string(expected_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Failed(format!(
                "no expected rows in {} ({e})",
                expected_path.display()
            ));
        }
    };
    let columns: Vec<Value> = answer["meta"]
        .as_array()
        .map(|m| m.iter().map(|c| c["name"].clone()).collect())
        .unwrap_or_default();
    let expected_columns = expected["columns"].as_array().cloned().unwrap_or_default();
    if columns != expected_columns {
        return Outcome::Failed(format!(
            "columns differ\n  expected: {}\n  got:      {}\n  SQL: {sql}",
            Value::from(expected_columns),
            Value::from(columns)
        ));
    }
    let ordered = expected["ordered"].as_bool().unwrap_or(false);
    let got = normalized(
        answer["data"].as_array().map_or(&[][..], |v| v),
        ordered,
        &ready.today,
    );
    if got.iter().any(|row| row.contains("421")) {
        return Outcome::Failed(format!(
            "team 421's data in the result (a missing team guard):\n  {}\n  SQL: {sql}",
            got.join("\n  ")
        ));
    }
    let want = normalized(
        expected["rows"].as_array().map_or(&[][..], |v| v),
        ordered,
        &[],
    );
    if got != want {
        return Outcome::Failed(format!(
            "rows differ ({})\n  expected:\n    {}\n  got:\n    {}\n  SQL: {sql}",
            if ordered { "in order" } else { "as a multiset" },
            want.join("\n    "),
            got.join("\n    ")
        ));
    }
    Outcome::Passed
}

impl Suite for HogqlExec {
    fn name(&self) -> &'static str {
        "hogql-exec"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        if !target.supports("hogql-compile") {
            return Some(
                "the target exposes no HogQL compiler (an HTTP-only target): the suite compiles through the tool interface"
                    .into(),
            );
        }
        (!target.supports("hogql-exec")).then(|| {
            "the target has no ClickHouse for the dataset (set CLICKHOUSE_URL, or run the reference target with its stack)"
                .to_string()
        })
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(
            files_with_suffix(&root.join("fixtures/hogql/print/ok"), ".hogql")
                .into_iter()
                .map(|path| Case {
                    suite: "hogql-exec",
                    id: relative(root, &path),
                    path,
                })
                .collect(),
        )
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some(root) = root_of(&case.path) else {
            return Outcome::Failed("the case is not under fixtures/hogql/print/ok/".into());
        };
        // the same case files as hogql-print: the one case reader and its compile options
        let (config, query) = match print_case::read(&case.path) {
            Ok(c) => (c.config, c.query),
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        if !config.materialized.is_empty() {
            return Outcome::Skipped(
                "materialized columns are not in the execution dataset's tables".into(),
            );
        }
        let options = match options(&config) {
            Ok(o) => o,
            Err(reason) => return Outcome::Skipped(reason),
        };
        let ready = match self.ready(target, &root) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("preparing the database: {e}")),
        };
        let answer = match target.compile_hogql(&query, &options) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("target error: {e:#}")),
        };
        let Some(sql) = answer.get("clickhouse").and_then(Value::as_str) else {
            return Outcome::Failed(format!("the target did not compile it: {answer}"));
        };
        let empty = serde_json::Map::new();
        let values = answer
            .get("values")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let bound = match bind(sql, values) {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(format!("binding values: {e}\n  SQL: {sql}")),
        };
        let name = case_name(&case.path);
        let expected = root
            .join("fixtures/hogql/exec/expected")
            .join(format!("{name}.json"));
        judge(&ready, &name, &bound, &expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_escapes_like_clickhouse_driver() {
        let mut values = serde_json::Map::new();
        values.insert("hogql_val_0".into(), Value::from("it's a\\b\n"));
        values.insert("hogql_val_1".into(), Value::from(7));
        assert_eq!(
            bind("f(%(hogql_val_0)s, %(hogql_val_1)s, '%%')", &values).unwrap(),
            r"f('it\'s a\\b\n', 7, '%')"
        );
        assert!(bind("f(%(hogql_val_2)s)", &values).is_err());
        assert!(bind("f(%d)", &values).is_err());
        assert!(bind("f(%(hogql_val_0", &values).is_err());
    }

    #[test]
    fn rows_are_redacted_and_sorted_unless_ordered() {
        let rows = vec![
            serde_json::json!(["b", "2030-01-02 00:00:00"]),
            serde_json::json!(["a", 1]),
        ];
        let today = vec!["2030-01-02".to_string()];
        assert_eq!(
            normalized(&rows, false, &today),
            [r#"["a",1]"#, r#"["b","[now]"]"#]
        );
        assert_eq!(
            normalized(&rows, true, &[])[0],
            r#"["b","2030-01-02 00:00:00"]"#
        );
    }

    #[test]
    fn case_headers_are_skipped() {
        let case =
            print_case::parse("-- config: {\"team_id\": 7}\n-- expect: SELECT 1\nselect 1\n")
                .unwrap();
        assert_eq!(case.query, "select 1");
        assert_eq!(options(&case.config).unwrap().team_id, 7);
    }
}
