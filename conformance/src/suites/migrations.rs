//! `migrations`: the target's migration checker against the rule fixtures.
//!
//! Cases are the entries of `fixtures/migrations/<CODE>/{ok,err}/`: a migration file (`*.toml`) or a
//! folder of them (checked as a set with its `max_migration.txt`). An `ok/` case must produce no
//! diagnostic; an `err/` case must produce at least one with its folder's code. A first line
//! `# checker: dialect = "NAME"` in the (first) file selects the rule dialect.

use std::path::Path;

use crate::target::Target;
use crate::{Case, Outcome};

use super::relative;

/// The suite.
#[derive(Debug)]
pub(super) struct Migrations;

impl Suite for Migrations {
    fn name(&self) -> &'static str {
        "migrations"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (!target.supports("migrations"))
            .then(|| "the target exposes no migration checker".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        let mut cases = Vec::new();
        let base = root.join("fixtures/migrations");
        for code_dir in sorted_dirs(&base) {
            for verdict in ["ok", "err"] {
                let Ok(entries) = std::fs::read_dir(code_dir.join(verdict)) else {
                    continue;
                };
                let mut paths: Vec<_> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.is_dir() || p.extension().is_some_and(|x| x == "toml"))
                    .collect();
                paths.sort();
                cases.extend(paths.into_iter().map(|path| Case {
                    suite: "migrations",
                    id: relative(root, &path),
                    path,
                }));
            }
        }
        Ok(cases)
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some((code, accept)) = code_and_verdict(&case.path) else {
            return Outcome::Failed("not under fixtures/migrations/<CODE>/{ok,err}/".into());
        };
        let dialect = dialect_header(&case.path);
        let diagnostics = match target.check_migrations(&case.path, dialect.as_deref()) {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(format!("target error: {e:#}")),
        };
        let listing = || {
            diagnostics
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}:{} {} {}",
                        d.file, d.line, d.column, d.code, d.message
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        if accept && !diagnostics.is_empty() {
            return Outcome::Failed(format!("expected no diagnostic, got: {}", listing()));
        }
        if !accept && !diagnostics.iter().any(|d| d.code == code) {
            return Outcome::Failed(format!(
                "expected a {code} diagnostic, got: [{}]",
                listing()
            ));
        }
        Outcome::Passed
    }
}

use super::Suite;

fn sorted_dirs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn code_and_verdict(path: &Path) -> Option<(String, bool)> {
    let verdict_dir = path.parent()?;
    let accept = match verdict_dir.file_name()?.to_str()? {
        "ok" => true,
        "err" => false,
        _ => return None,
    };
    let code = verdict_dir.parent()?.file_name()?.to_str()?.to_string();
    Some((code, accept))
}

fn dialect_header(path: &Path) -> Option<String> {
    let file = if path.is_dir() {
        let mut tomls: Vec<_> = std::fs::read_dir(path)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        tomls.sort();
        tomls.into_iter().next()?
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(file).ok()?;
    let first = text.lines().next()?.trim();
    let rest = first.strip_prefix("# checker:")?.trim();
    let value = rest
        .strip_prefix("dialect")?
        .trim()
        .strip_prefix('=')?
        .trim();
    Some(value.trim_matches('"').to_string())
}
