//! The printer case format, read in one place: `fixtures/hogql/print/{ok,err,gap}/NNNN_name.hogql`.
//!
//! Every reader of these files goes through [`read`] (the `hogql-print` and `hogql-exec`
//! conformance suites, the compiler's own fixture test, the scenario that executes the cases on
//! ClickHouse), so the format cannot drift between them. It lives here because the format belongs
//! to the implementation-neutral suite, and this crate depends on no `reference/` crate.
//!
//! A case is HogQL text after header lines, all of them before the first line of the query:
//!
//! * `-- config: {json}`: [`Config`] (team, timezone, modifiers, limit context, SETTINGS switch,
//!   materialized event properties). An unknown key is an error (a misspelt `timezon` must not
//!   silently mean UTC);
//! * `-- expect: <sql>`: the exact ClickHouse SQL;
//! * `-- expect-contains: <sql>` (repeatable): a piece the SQL must contain;
//! * `-- expect-error: <text>`: for `err/` cases, a piece of the error message.
//!
//! Any other line of the shape `-- word:` is an error (an unknown or misspelt header), and so is a
//! header line after the query started (HogQL would read it as a comment and its expectation would
//! be skipped). Errors carry the file and the 1-based line.
//!
//! Case names start with a four-digit number that is unique within its folder
//! ([`duplicate_numbers`]).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// The folders of printer cases, relative to the repository root.
pub const KINDS: [&str; 3] = ["ok", "err", "gap"];

/// The `-- config:` header.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The team the query runs for (default 420, as PostHog's printer tests).
    #[serde(default = "default_team")]
    pub team_id: i64,
    /// The project timezone (default `UTC`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// PostHog's `HogQLQueryModifiers`, as JSON (the implementation reads them).
    #[serde(default)]
    pub modifiers: Option<Value>,
    /// `api` or `default` (the implementation's default when absent).
    #[serde(default)]
    pub limit_context: Option<String>,
    /// Whether the printed SQL ends with PostHog's SETTINGS suffix.
    #[serde(default)]
    pub settings: bool,
    /// Materialized event properties.
    #[serde(default)]
    pub materialized: Vec<Materialized>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            team_id: default_team(),
            timezone: default_timezone(),
            modifiers: None,
            limit_context: None,
            settings: false,
            materialized: Vec::new(),
        }
    }
}

/// One materialized event property of a case's config.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Materialized {
    /// The property key.
    pub property: String,
    /// Whether the column is `Nullable`.
    #[serde(default)]
    pub nullable: bool,
}

fn default_team() -> i64 {
    420
}

fn default_timezone() -> String {
    "UTC".into()
}

/// A read case.
#[derive(Debug, Clone, Default)]
pub struct PrintCase {
    /// The config header (defaults when absent).
    pub config: Config,
    /// The 1-based line of the config header, if any (for errors about its values).
    pub config_line: Option<usize>,
    /// `-- expect:`.
    pub expect: Option<String>,
    /// `-- expect-contains:`, in order.
    pub expect_contains: Vec<String>,
    /// `-- expect-error:`.
    pub expect_error: Option<String>,
    /// `-- expect-hogql:`: the query in PostHog's HogQL dialect, compact (`fixtures/hogql/dialect/`).
    pub expect_hogql: Option<String>,
    /// `-- expect-hogql-pretty:`: the same, pretty (`\n` in the header stands for a line break).
    pub expect_hogql_pretty: Option<String>,
    /// `-- source:`: the PostHog test an expectation was transcribed from.
    pub source: Option<String>,
    /// `-- gap:`: why the compiler does not meet the expectation yet (`fixtures/hogql/print-gaps/`).
    pub gap: Option<String>,
    /// The HogQL query (trimmed).
    pub query: String,
}

/// A case file that does not follow the format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The file (empty when read from text).
    pub path: PathBuf,
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.as_os_str().is_empty() {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
        }
    }
}

impl std::error::Error for CaseError {}

/// The header key of a line of the shape `-- word:` (lowercase letters, digits, `-`, `_`).
fn header_key(line: &str) -> Option<&str> {
    let rest = line.strip_prefix("-- ")?;
    let (key, _) = rest.split_once(':')?;
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'))
    .then_some(key)
}

/// Reads a case from its text.
pub fn parse(text: &str) -> Result<PrintCase, CaseError> {
    let mut case = PrintCase::default();
    let mut body = Vec::new();
    let mut in_header = true;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let error = |message: String| CaseError {
            path: PathBuf::new(),
            line: n,
            message,
        };
        let Some(key) = header_key(line) else {
            in_header = false;
            body.push(line);
            continue;
        };
        if !in_header {
            return Err(error(format!(
                "header line after the query starts (headers come first): {line}"
            )));
        }
        let value = line[3 + key.len() + 1..].trim();
        match key {
            "config" => {
                if case.config_line.is_some() {
                    return Err(error("a second `-- config:` header".into()));
                }
                case.config = serde_json::from_str(value)
                    .map_err(|e| error(format!("bad config header: {e}")))?;
                case.config_line = Some(n);
            }
            "expect" => {
                if case.expect.is_some() {
                    return Err(error("a second `-- expect:` header".into()));
                }
                case.expect = Some(value.to_owned());
            }
            "expect-contains" => case.expect_contains.push(value.to_owned()),
            "expect-error" => {
                if case.expect_error.is_some() {
                    return Err(error("a second `-- expect-error:` header".into()));
                }
                case.expect_error = Some(value.to_owned());
            }
            "expect-hogql" | "expect-hogql-pretty" | "source" | "gap" => {
                let slot = match key {
                    "expect-hogql" => &mut case.expect_hogql,
                    "expect-hogql-pretty" => &mut case.expect_hogql_pretty,
                    "source" => &mut case.source,
                    _ => &mut case.gap,
                };
                if slot.is_some() {
                    return Err(error(format!("a second `-- {key}:` header")));
                }
                *slot = Some(if key == "expect-hogql-pretty" {
                    value.replace("\\n", "\n")
                } else {
                    value.to_owned()
                });
            }
            other => {
                return Err(error(format!(
                    "unknown header `-- {other}:` (known: config, expect, expect-contains, expect-error, \
                     expect-hogql, expect-hogql-pretty, source, gap)"
                )));
            }
        }
    }
    case.query = body.join("\n").trim().to_owned();
    Ok(case)
}

/// Reads the case file at `path`; errors name the file and line.
pub fn read(path: &Path) -> Result<PrintCase, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|e| CaseError {
        path: path.to_path_buf(),
        line: 0,
        message: format!("reading the case: {e}"),
    })?;
    parse(&text).map_err(|e| CaseError {
        path: path.to_path_buf(),
        ..e
    })
}

/// The `.hogql` cases of one folder (`ok`, `err` or `gap`) under `root/fixtures/hogql/print`,
/// sorted.
pub fn cases(root: &Path, kind: &str) -> Vec<PathBuf> {
    let dir = root.join("fixtures/hogql/print").join(kind);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The case's name: its file stem (`0001_team_guard`).
pub fn name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Problems with the numbering of every case folder: a name that does not start with four digits
/// and `_`, or a number two cases of one folder share.
pub fn duplicate_numbers(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for kind in KINDS {
        let mut by_number: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for path in cases(root, kind) {
            let name = name(&path);
            let number = name.get(..4).filter(|n| {
                n.chars().all(|c| c.is_ascii_digit()) && name.as_bytes().get(4) == Some(&b'_')
            });
            match number {
                Some(n) => by_number.entry(n.to_owned()).or_default().push(name),
                None => problems.push(format!(
                    "fixtures/hogql/print/{kind}/{name}.hogql: the name does not start with NNNN_"
                )),
            }
        }
        for (number, names) in by_number {
            if names.len() > 1 {
                problems.push(format!(
                    "fixtures/hogql/print/{kind}/: number {number} is used by {}",
                    names.join(", ")
                ));
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_body() {
        let case = parse(
            "-- config: {\"team_id\": 7, \"timezone\": \"Europe/Berlin\"}\n-- expect: SELECT 1\n-- expect-contains: 1\n-- expect-contains: SELECT\nselect 1\n-- expect: SELECT 2\n",
        );
        assert_eq!(
            case.unwrap_err().to_string(),
            "line 6: header line after the query starts (headers come first): -- expect: SELECT 2"
        );
        let case = parse(
            "-- config: {\"team_id\": 7, \"timezone\": \"Europe/Berlin\"}\n-- expect: SELECT 1\n-- expect-contains: 1\n-- expect-contains: SELECT\nselect 1 -- trailing: fine\n",
        )
        .unwrap();
        assert_eq!(case.config.team_id, 7);
        assert_eq!(case.config.timezone, "Europe/Berlin");
        assert_eq!(case.config_line, Some(1));
        assert_eq!(case.expect.as_deref(), Some("SELECT 1"));
        assert_eq!(case.expect_contains, ["1", "SELECT"]);
        assert_eq!(case.query, "select 1 -- trailing: fine");
    }

    #[test]
    fn defaults_without_config() {
        let case = parse("select 1").unwrap();
        assert_eq!(case.config.team_id, 420);
        assert_eq!(case.config.timezone, "UTC");
        assert_eq!(case.config_line, None);
        assert!(case.config.modifiers.is_none());
    }

    #[test]
    fn unknown_config_key_is_rejected_with_its_line() {
        let err =
            parse("-- expect: SELECT 1\n-- config: {\"timezon\": \"Europe/Berlin\"}\nselect 1")
                .unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("unknown field `timezon`"), "{err}");
        let err = parse(
            "-- config: {\"materialized\": [{\"property\": \"a\", \"nulable\": true}]}\nselect 1",
        )
        .unwrap_err();
        assert!(err.message.contains("unknown field `nulable`"), "{err}");
    }

    #[test]
    fn unknown_or_repeated_header_is_rejected() {
        let err = parse("-- expect_error: boom\nselect 1").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(
            err.message.contains("unknown header `-- expect_error:`"),
            "{err}"
        );
        let err = parse("-- expect: A\n-- expect: B\nselect 1").unwrap_err();
        assert_eq!(err.line, 2);
    }

    #[test]
    fn file_errors_name_the_file() {
        let err = CaseError {
            path: PathBuf::from("fixtures/hogql/print/ok/0001_x.hogql"),
            line: 3,
            message: "bad".into(),
        };
        assert_eq!(
            err.to_string(),
            "fixtures/hogql/print/ok/0001_x.hogql:3: bad"
        );
    }

    #[test]
    fn every_case_in_the_repository_reads_and_numbers_are_unique() {
        let root = crate::paths::workspace_root();
        let mut n_cases = 0;
        for kind in KINDS {
            let paths = cases(&root, kind);
            assert!(
                !paths.is_empty(),
                "fixtures/hogql/print/{kind}/ has no case"
            );
            for path in paths {
                n_cases += 1;
                if let Err(e) = read(&path) {
                    panic!("{e}");
                }
            }
        }
        assert!(n_cases > 200, "only {n_cases} cases");
        let problems = duplicate_numbers(&root);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }
}
