//! `hogql-print`: the target's HogQL → ClickHouse SQL compiler against the printer cases.
//!
//! Cases are `fixtures/hogql/print/{ok,err,gap}/NAME.hogql`, read by [`crate::print_case`]: HogQL
//! after header lines (`-- config: {…}` with the team, timezone, modifiers, limit context and
//! SETTINGS switch; `-- expect: <sql>`, the exact SQL PostHog prints; `-- expect-contains: <sql>`,
//! pieces of it; `-- expect-error: <text>`, a piece of PostHog's error message). A case that does
//! not follow the format (an unknown config key or header) fails with its file and line. The target compiles through
//! its tool interface (`hogql compile`, capability `hogql-compile`).
//!
//! * `ok/`: the query compiles, the SQL equals `expect` and contains every `expect-contains`,
//!   every `%(name)s` placeholder has a value and no string constant of the query is inlined;
//! * `err/`: the query fails and the message contains `expect-error`;
//! * `gap/`: queries PostHog compiles that Hogref does not yet. Their failure is a known gap; a
//!   gap case that compiles is an unexpected pass (move it to `ok/` with its expected SQL).
//!
//! A case whose config names materialized columns passes them as `hogql compile --materialized
//! events.properties.KEY[:nullable]` flags.

use std::path::Path;

use serde_json::Value;

use crate::print_case::{self, Config, PrintCase};
use crate::target::{CompileOptions, Target};
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, relative};

/// The suite.
#[derive(Debug)]
pub(super) struct HogqlPrint;

/// The compile options a case's config asks for; `Err` with the reason to skip it.
pub(super) fn options(config: &Config) -> Result<CompileOptions, String> {
    let mut materialized = Vec::new();
    for m in &config.materialized {
        // The flag's grammar splits on `=` and a `:nullable` suffix; a key holding them cannot pass.
        if m.property.contains('=') || m.property.ends_with(":nullable") {
            return Err(format!(
                "materialized property {:?} cannot be written as a --materialized flag",
                m.property
            ));
        }
        let nullable = if m.nullable { ":nullable" } else { "" };
        materialized.push(format!("events.properties.{}{nullable}", m.property));
    }
    Ok(CompileOptions {
        team_id: config.team_id,
        timezone: config.timezone.clone(),
        modifiers: config.modifiers.clone(),
        limit_context: config.limit_context.clone(),
        settings: config.settings,
        materialized,
    })
}

/// The string constants written in a HogQL query (`'…'` with backslash escapes or doubled quotes).
fn string_literals(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        '\'' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            s.push('\'');
                        }
                        '\'' => break,
                        c => s.push(c),
                    }
                }
                out.push(s);
            }
            // Skip identifiers in backticks or double quotes and `--` comments.
            '`' | '"' => {
                for n in chars.by_ref() {
                    if n == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every `%(name)s` in `sql` has a value in `values`.
fn unbound_placeholder(sql: &str, values: &serde_json::Map<String, Value>) -> Option<String> {
    let mut rest = sql;
    while let Some(at) = rest.find("%(") {
        let after = &rest[at + 2..];
        let Some(end) = after.find(")s") else {
            return Some(format!("unterminated placeholder at `{}`", &rest[at..]));
        };
        let name = &after[..end];
        if !values.contains_key(name) {
            return Some(format!("placeholder `{name}` has no value"));
        }
        rest = &after[end + 2..];
    }
    None
}

fn judge_ok(case: &PrintCase, answer: &Value) -> Outcome {
    if answer.get("error") == Some(&Value::Bool(true)) {
        return Outcome::Failed(format!("expected SQL, the target failed: {answer}"));
    }
    let Some(sql) = answer.get("clickhouse").and_then(Value::as_str) else {
        return Outcome::Failed(format!("no `clickhouse` string in the answer: {answer}"));
    };
    let empty = serde_json::Map::new();
    let values = answer
        .get("values")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(expect) = &case.expect
        && sql != expect
    {
        return Outcome::Failed(format!(
            "SQL differs\n  expected: {expect}\n  printed:  {sql}"
        ));
    }
    for piece in &case.expect_contains {
        if !sql.contains(piece.as_str()) {
            return Outcome::Failed(format!(
                "SQL lacks an expected piece\n  piece:   {piece}\n  printed: {sql}"
            ));
        }
    }
    if let Some(problem) = unbound_placeholder(sql, values) {
        return Outcome::Failed(problem);
    }
    for s in string_literals(&case.query) {
        if s.is_empty() {
            continue;
        }
        let inlined = format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
        if sql.contains(&inlined) && !values.values().any(|v| v.as_str() == Some(s.as_str())) {
            return Outcome::Failed(format!(
                "string constant {s:?} is inlined instead of sent as a value"
            ));
        }
    }
    Outcome::Passed
}

impl Suite for HogqlPrint {
    fn name(&self) -> &'static str {
        "hogql-print"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (!target.supports("hogql-compile"))
            .then(|| "the target exposes no HogQL compiler".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(
            files_with_suffix(&root.join("fixtures/hogql/print"), ".hogql")
                .into_iter()
                .map(|path| Case {
                    suite: "hogql-print",
                    id: relative(root, &path),
                    path,
                })
                .collect(),
        )
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let kind = case
            .path
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let parsed = match print_case::read(&case.path) {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        let options = match options(&parsed.config) {
            Ok(o) => o,
            Err(reason) => return Outcome::Skipped(reason),
        };
        let answer = match target.compile_hogql(&parsed.query, &options) {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("target error: {e:#}")),
        };
        let failed = answer.get("error") == Some(&Value::Bool(true));
        match kind.as_str() {
            "ok" => judge_ok(&parsed, &answer),
            "err" if !failed => {
                Outcome::Failed(format!("expected an error, the target printed {answer}"))
            }
            "err" => {
                let message = answer
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match &parsed.expect_error {
                    Some(expected) if !message.contains(expected.as_str()) => {
                        Outcome::Failed(format!("error `{message}` does not contain `{expected}`"))
                    }
                    _ => Outcome::Passed,
                }
            }
            "gap" if failed => Outcome::KnownGap(format!(
                "PostHog compiles it; Hogref does not yet: {}",
                answer
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            )),
            "gap" => Outcome::UnexpectedPass(
                "a gap/ case now compiles: move it to ok/ with the SQL PostHog prints".into(),
            ),
            other => Outcome::Failed(format!("case not under ok/, err/ or gap/ ({other})")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_are_read_like_hogql() {
        assert_eq!(
            string_literals(r"select 'a', 'it''s', 'b\'c', `x'y` -- 'no'"),
            ["a", "it's", "b'c"]
        );
    }

    #[test]
    fn options_follow_the_config() {
        let case = print_case::parse(
            "-- config: {\"team_id\": 7, \"limit_context\": \"api\"}\nselect 1\n",
        )
        .unwrap();
        let opts = options(&case.config).unwrap();
        assert_eq!(opts.team_id, 7);
        assert_eq!(opts.timezone, "UTC");
        assert_eq!(opts.limit_context.as_deref(), Some("api"));
        let case =
            print_case::parse("-- config: {\"materialized\": [{\"property\": \"a\"}]}\nselect 1\n")
                .unwrap();
        assert_eq!(
            options(&case.config).unwrap().materialized,
            ["events.properties.a"]
        );
        let case = print_case::parse(
            "-- config: {\"materialized\": [{\"property\": \"$b\", \"nullable\": true}]}\nselect 1\n",
        )
        .unwrap();
        assert_eq!(
            options(&case.config).unwrap().materialized,
            ["events.properties.$b:nullable"]
        );
    }

    #[test]
    fn unbound_placeholders_are_found() {
        let mut values = serde_json::Map::new();
        values.insert("hogql_val_0".into(), Value::from("a"));
        assert_eq!(unbound_placeholder("f(%(hogql_val_0)s)", &values), None);
        assert!(unbound_placeholder("f(%(hogql_val_1)s)", &values).is_some());
    }
}
