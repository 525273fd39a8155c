//! `cargo xtask tidy`: the house rules, as code. It also runs as a `#[test]`, so `cargo xtask test` enforces it.
//!
//! Rules checked:
//! - every workspace member's folder name equals its package name, and it opts into `[lints] workspace = true`;
//! - reference crates sit exactly one level below `reference/`;
//! - every Rust file starts with a `//!` doc comment;
//! - no test is ignored or expected to panic (known gaps go in checked lists instead);
//! - the pure cores depend on no I/O crate;
//! - library code of `reference/*/src` prints nothing with `println!`/`eprintln!` (it logs through
//!   `tracing`; the `hogref` binary's CLI output and `xtask` may print; test modules are exempt).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::paths::workspace_root;

/// Crates that must stay pure (sans-I/O), and the dependency names they must never declare.
const PURE_CRATES: &[&str] = &[
    "hogql-parser",
    "hogql-compiler",
    "hog-compiler",
    "event-model",
    "migration-checker",
    "settings",
    "hogvm",
    "insights",
];
const IO_CRATES: &[&str] = &[
    "tokio",
    "axum",
    "hyper",
    "reqwest",
    "rdkafka",
    "clickhouse",
    "sqlx",
    "redis",
    "tower",
];

pub(crate) fn run() -> anyhow::Result<()> {
    let problems = check(&workspace_root());
    if problems.is_empty() {
        eprintln!("tidy: all house rules hold");
        return Ok(());
    }
    let mut report = String::new();
    for problem in &problems {
        let _ = writeln!(report, "  {problem}");
    }
    anyhow::bail!("tidy found {} problem(s):\n{report}", problems.len())
}

/// Returns every broken house rule, one line each, sorted.
pub(crate) fn check(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let members = member_dirs(root);
    for dir in &members {
        check_manifest(root, dir, &mut problems);
    }
    for file in rust_files(root) {
        check_rust_file(root, &file, &mut problems);
    }
    problems.sort();
    problems
}

/// Workspace member folders: `reference/*` plus the fixed top-level crates.
fn member_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = [
        "stack",
        "pipeline-kit",
        "xtask",
        "scenarios",
        "conformance",
        "benches",
    ]
    .iter()
    .map(|d| root.join(d))
    .collect();
    if let Ok(entries) = fs::read_dir(root.join("reference")) {
        for entry in entries.flatten() {
            if entry.path().join("Cargo.toml").is_file() {
                dirs.push(entry.path());
            }
        }
    }
    dirs.retain(|d| d.join("Cargo.toml").is_file());
    dirs.sort();
    dirs
}

fn check_manifest(root: &Path, dir: &Path, problems: &mut Vec<String>) {
    let rel = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    let Ok(text) = fs::read_to_string(dir.join("Cargo.toml")) else {
        problems.push(format!("{rel}/Cargo.toml: unreadable"));
        return;
    };
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    match package_name(&text) {
        Some(name) if name == folder => {}
        Some(name) => problems.push(format!(
            "{rel}: folder name `{folder}` differs from package name `{name}`"
        )),
        None => problems.push(format!("{rel}/Cargo.toml: no [package] name")),
    }
    if !section_lines(&text, "lints").any(|l| l.replace(' ', "") == "workspace=true") {
        problems.push(format!(
            "{rel}/Cargo.toml: missing `[lints] workspace = true`"
        ));
    }
    if PURE_CRATES.contains(&folder) {
        for line in section_lines(&text, "dependencies") {
            let dep = line.split(['=', '.', ' ']).next().unwrap_or_default();
            if IO_CRATES.contains(&dep) {
                problems.push(format!("{rel}: pure crate depends on I/O crate `{dep}`"));
            }
        }
    }
}

fn package_name(manifest: &str) -> Option<String> {
    section_lines(manifest, "package").find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "name").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// The non-empty, non-comment lines of one `[section]` of a TOML manifest.
fn section_lines<'a>(manifest: &'a str, section: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let header = format!("[{section}]");
    manifest
        .lines()
        .map(str::trim)
        .skip_while(move |l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

fn rust_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn check_rust_file(root: &Path, file: &Path, problems: &mut Vec<String>) {
    let rel = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    // Fixture inputs are data, not code.
    if rel.starts_with("fixtures/") {
        return;
    }
    let Ok(text) = fs::read_to_string(file) else {
        return;
    };
    if !text.trim_start().starts_with("//!") {
        problems.push(format!("{rel}: does not start with a `//!` doc comment"));
    }
    problems.extend(print_problems(&rel, &text));
    // Built from pieces so that this file does not match itself.
    let banned = [concat!("#[", "ignore"), concat!("#[", "should_panic")];
    for (idx, line) in text.lines().enumerate() {
        for pattern in banned {
            if line.trim_start().starts_with(pattern) {
                problems.push(format!(
                    "{rel}:{}: `{pattern}]` is banned; known gaps go in a checked list",
                    idx + 1
                ));
            }
        }
    }
}

/// Printing macros in library code of `reference/*/src`, which logs through `tracing` instead: one line
/// per use, outside comments and before the file's first `#[cfg(test)]`. The `hogref` binary
/// (`reference/hogref/src`, whose output is its CLI's), `xtask` and every test are exempt.
fn print_problems(rel: &str, text: &str) -> Vec<String> {
    let rel = rel.replace('\\', "/");
    let mut parts = rel.split('/');
    let in_library = parts.next() == Some("reference")
        && parts.next().is_some_and(|krate| krate != "hogref")
        && parts.next() == Some("src")
        && !rel.ends_with("/tests.rs");
    if !in_library {
        return Vec::new();
    }
    // Built from pieces so that this file does not match itself.
    let macros = [concat!("eprint", "ln!"), concat!("print", "ln!")];
    let test_module = concat!("#[cfg(", "test)]");
    let mut problems = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with(test_module) {
            break;
        }
        if code.starts_with("//") {
            continue;
        }
        for name in macros {
            let used = code
                .match_indices(name)
                .any(|(at, _)| !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            if used {
                problems.push(format!(
                    "{rel}:{}: `{name}` in library code; log through `tracing` (the `logging` crate installs it)",
                    idx + 1
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
    fn printing_in_reference_library_code_is_reported() {
        let eprint = concat!("eprint", "ln!");
        let print = concat!("print", "ln!");
        let code = format!("//! doc\nfn f() {{\n    {eprint}(\"x\");\n}}\n");
        assert_eq!(
            print_problems("reference/ingest-worker/src/worker.rs", &code),
            vec![format!(
                "reference/ingest-worker/src/worker.rs:3: `{eprint}` in library code; log through `tracing` (the `logging` crate installs it)"
            )]
        );
        let both = format!("fn f() {{ {print}(\"a\"); }}\n");
        assert_eq!(
            print_problems("reference/hogvm/src/stl/mod.rs", &both).len(),
            1
        );
        // The binary's CLI, xtask, tests, test modules, comments and look-alike names are fine.
        for rel in [
            "reference/hogref/src/serve_cmd.rs",
            "xtask/src/tidy.rs",
            "reference/hogvm/tests/oracle.rs",
            "reference/settings/src/tests.rs",
            "scenarios/tests/sdk_common/mod.rs",
        ] {
            assert!(print_problems(rel, &code).is_empty(), "{rel}");
        }
        let exempt = format!(
            "// {print}(\"in a comment\")\nfn f() {{ my_{print}(); }}\n#[cfg(test)]\nmod tests {{ fn t() {{ {print}(\"t\"); }} }}\n"
        );
        assert!(print_problems("reference/hogvm/src/vm.rs", &exempt).is_empty());
    }

    #[test]
    fn house_rules_hold() {
        let problems = check(&workspace_root());
        assert!(
            problems.is_empty(),
            "tidy found problems:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn package_name_is_read_from_the_package_section() {
        let manifest = "[package]\nname = \"a\"\n[dependencies]\nname = \"b\"\n";
        assert_eq!(package_name(manifest).as_deref(), Some("a"));
    }

    #[test]
    fn io_dependency_of_a_pure_crate_is_reported() {
        let tmp = std::env::temp_dir().join(format!("tidy-{}", std::process::id()));
        let dir = tmp.join("reference").join("hogql-parser");
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"hogql-parser\"\n[dependencies]\ntokio.workspace = true\n[lints]\nworkspace = true\n",
        )
        .unwrap();
        let mut problems = Vec::new();
        check_manifest(&tmp, &dir, &mut problems);
        fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(
            problems,
            vec!["reference/hogql-parser: pure crate depends on I/O crate `tokio`".to_string()]
        );
    }
}
