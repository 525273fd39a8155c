//! One trial per fixture case under `fixtures/migrations/<CODE>/{ok,err}/`.
//!
//! A case is a migration file (`NNNN_name.toml`) or a directory of them (checked as a set, with its
//! `max_migration.txt`). An optional first-line header `# checker: dialect = "posthog-2026"` picks the
//! dialect (parsed with `deny_unknown_fields`). Cases in `ok/` must produce no diagnostic at all; cases in
//! `err/` must produce at least one diagnostic with their folder's code, and their code frames are
//! snapshotted with insta (`tests/snapshots/<CODE>__<case>.snap`). A code folder without both an `ok` and
//! an `err` case fails, and so does an empty fixture tree.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use migration_checker::{Config, SourceSet, check, rules};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    dialect: String,
}

fn repo_root() -> PathBuf {
    conformance::paths::workspace_root()
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Reads a case with paths shown relative to the repository root.
fn read_case(rel: &str) -> Result<SourceSet, Failed> {
    let abs = repo_root().join(rel);
    let set = SourceSet::read(&abs.to_string_lossy()).map_err(|e| Failed::from(e.to_string()))?;
    Ok(match set {
        SourceSet::File { text, .. } => SourceSet::File {
            path: rel.to_string(),
            text,
        },
        SourceSet::Dir {
            files,
            max_migration,
            ..
        } => SourceSet::Dir {
            path: rel.to_string(),
            files,
            max_migration,
        },
    })
}

fn header_config(set: &SourceSet) -> Result<Config, Failed> {
    let first = match set {
        SourceSet::File { text, .. } => Some(text.as_str()),
        SourceSet::Dir { files, .. } => files.first().map(|(_, t)| t.as_str()),
    };
    let line = first.and_then(|t| t.lines().next()).unwrap_or("");
    match line.strip_prefix("# checker:") {
        Some(rest) => {
            let header: Header = toml::from_str(rest.trim())
                .map_err(|e| Failed::from(format!("bad checker header: {e}")))?;
            Config::built_in(&header.dialect).map_err(|e| Failed::from(e.to_string()))
        }
        None => Ok(Config::default()),
    }
}

fn run_case(code: &str, kind: &str, rel: &str, snapshot: &str) -> Result<(), Failed> {
    let set = read_case(rel)?;
    let config = header_config(&set)?;
    let report = check(&[set], &config);
    if kind == "ok" {
        if !report.diagnostics.is_empty() {
            return Err(
                format!("clean case produced diagnostics:\n{}", report.render_text()).into(),
            );
        }
        return Ok(());
    }
    if !report.diagnostics.iter().any(|d| d.code == code) {
        return Err(format!(
            "violating case produced no {code} diagnostic:\n{}",
            report.render_text()
        )
        .into());
    }
    let text = report.render_text();
    let json = report.render_json();
    let again = check(&[read_case(rel)?], &config);
    if again.render_json() != json {
        return Err("diagnostics differ between two runs".into());
    }
    let snapshot_dir =
        conformance::paths::workspace_root().join("reference/migration-checker/tests/snapshots");
    let result = std::panic::catch_unwind(|| {
        insta::with_settings!({ snapshot_path => snapshot_dir, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(snapshot.to_string(), text);
        });
    });
    result.map_err(|_| {
        Failed::from(format!(
            "snapshot `{snapshot}` differs (run `cargo insta review`)"
        ))
    })
}

fn main() {
    let args = Arguments::from_args();
    let base = repo_root().join("fixtures/migrations");
    let mut trials = Vec::new();
    let mut problems = Vec::new();
    let mut expected_snapshots = vec!["json_format.snap".to_string()];
    for code in rules::codes() {
        let code_dir = base.join(code);
        for kind in ["ok", "err"] {
            let cases: Vec<PathBuf> = sorted_entries(&code_dir.join(kind))
                .into_iter()
                .filter(|p| p.is_dir() || p.extension().is_some_and(|e| e == "toml"))
                .collect();
            if cases.is_empty() {
                problems.push(format!("fixtures/migrations/{code}/{kind}/ has no case"));
            }
            for case in cases {
                let file = case
                    .file_name()
                    .map(|f| f.to_string_lossy().to_string())
                    .unwrap_or_default();
                let rel = format!("fixtures/migrations/{code}/{kind}/{file}");
                let snapshot = format!("{code}__{}", file.trim_end_matches(".toml"));
                if kind == "err" {
                    expected_snapshots.push(format!("{snapshot}.snap"));
                }
                let (code, kind) = (code.to_string(), kind.to_string());
                trials.push(Trial::test(rel.clone(), move || {
                    run_case(&code, &kind, &rel, &snapshot)
                }));
            }
        }
    }
    trials.push(Trial::test(
        "migrations/clickhouse: Hogref's own schema is checker-clean",
        || {
            let report = check(&[read_case("migrations/clickhouse")?], &Config::default());
            if report.diagnostics.is_empty() {
                Ok(())
            } else {
                Err(report.render_text().into())
            }
        },
    ));
    // Snapshots whose fixture was renamed or removed fail the run instead of lingering.
    let snapshot_dir =
        conformance::paths::workspace_root().join("reference/migration-checker/tests/snapshots");
    for entry in sorted_entries(&snapshot_dir) {
        let name = entry
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.ends_with(".snap") && !expected_snapshots.contains(&name) {
            problems.push(format!("tests/snapshots/{name} has no fixture case"));
        }
    }
    trials.push(Trial::test("json output format", || {
        let rel = "fixtures/migrations/CH001/err/0001_on_cluster_create.toml";
        let report = check(&[read_case(rel)?], &Config::default());
        let json = report.render_json();
        let snapshot_dir = conformance::paths::workspace_root().join("reference/migration-checker/tests/snapshots");
        std::panic::catch_unwind(|| {
            insta::with_settings!({ snapshot_path => snapshot_dir, prepend_module_to_snapshot => false, omit_expression => true }, {
                insta::assert_snapshot!("json_format", json);
            });
        })
        .map_err(|_| Failed::from("snapshot `json_format` differs (run `cargo insta review`)"))
    }));
    trials.push(Trial::test(
        "fixtures/migrations: every rule has ok and err cases, every snapshot a case",
        move || {
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n").into())
            }
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
