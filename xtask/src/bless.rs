//! `cargo xtask bless [SUITE]...`: regenerate the expectations of every suite (or the named ones)
//! with one command, then print what changed (files added, changed and removed, per suite).
//!
//! Each suite keeps its own way of writing expectations; this command is the one switch over them:
//!
//! | suite | expectations | how |
//! | --- | --- | --- |
//! | `parse` | `reference/hogql-parser/tests/snapshots/` | insta (`INSTA_UPDATE=always`) |
//! | `print` | `reference/hogql-compiler/tests/snapshots/` | insta |
//! | `migrations` | `reference/migration-checker/tests/snapshots/` (one per rule case) | insta |
//! | `plan` | `reference/migration-runner/tests/snapshots/` (migration plans) | insta |
//! | `hog` | `fixtures/hog/programs/*.bytecode.json` | `HOGREF_BLESS=1` |
//! | `capture` | `fixtures/capture/*.json` (`response`, `messages`) | `HOGREF_BLESS=1` |
//! | `parity` | `fixtures/hogql/parse/**/*.oracle.json` | `cargo xtask parity --bless` (oracle venv) |
//! | `exec` | `fixtures/hogql/exec/expected/` | `HOGREF_BLESS=1 cargo xtask test -- -p scenarios --test hogql_exec` (stack) |
//! | `hogvm` | `fixtures/hog/expected/` | `HOGREF_BLESS=1 cargo xtask test -- -p hogvm --test oracle` (Node oracle, stack) |
//!
//! The expectations are committed files: review the diff after blessing.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::paths::workspace_root;

#[derive(Debug, Args)]
pub(crate) struct BlessArgs {
    /// Suites to bless (default: all): parse, print, migrations, plan, hog, capture, parity, exec, hogvm.
    suites: Vec<String>,
}

/// How a suite writes its expectations.
#[derive(Debug, Clone, Copy)]
enum Way {
    /// `cargo test` of these packages (and test targets) with insta writing every snapshot.
    Insta(&'static [&'static str]),
    /// `cargo test` with `HOGREF_BLESS=1`.
    Env(&'static [&'static str]),
    /// A subcommand of this xtask, with `HOGREF_BLESS=1`.
    Xtask(&'static [&'static str]),
}

/// One suite: its name, how it is blessed, and the folders its expectations live in.
#[derive(Debug)]
struct Suite {
    name: &'static str,
    way: Way,
    outputs: &'static [&'static str],
}

const SUITES: &[Suite] = &[
    Suite {
        name: "parse",
        way: Way::Insta(&["-p", "hogql-parser"]),
        outputs: &["reference/hogql-parser/tests/snapshots"],
    },
    Suite {
        name: "print",
        way: Way::Insta(&["-p", "hogql-compiler"]),
        outputs: &["reference/hogql-compiler/tests/snapshots"],
    },
    Suite {
        name: "migrations",
        way: Way::Insta(&["-p", "migration-checker"]),
        outputs: &["reference/migration-checker/tests/snapshots"],
    },
    Suite {
        name: "plan",
        way: Way::Insta(&["-p", "migration-runner", "--test", "plan"]),
        outputs: &["reference/migration-runner/tests/snapshots"],
    },
    Suite {
        name: "hog",
        way: Way::Env(&["-p", "hog-compiler", "--test", "compile_fixtures"]),
        outputs: &["fixtures/hog/programs"],
    },
    Suite {
        name: "capture",
        way: Way::Env(&["-p", "capture-server", "--test", "corpus"]),
        outputs: &["fixtures/capture"],
    },
    Suite {
        name: "parity",
        way: Way::Xtask(&["parity", "--bless"]),
        outputs: &["fixtures/hogql/parse"],
    },
    Suite {
        name: "exec",
        way: Way::Xtask(&["test", "--", "-p", "scenarios", "--test", "hogql_exec"]),
        outputs: &["fixtures/hogql/exec/expected"],
    },
    Suite {
        name: "hogvm",
        way: Way::Xtask(&["test", "--", "-p", "hogvm", "--test", "oracle"]),
        outputs: &["fixtures/hog/expected"],
    },
];

pub(crate) fn run(args: BlessArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let chosen: Vec<&Suite> = if args.suites.is_empty() {
        SUITES.iter().collect()
    } else {
        let mut chosen = Vec::new();
        for name in &args.suites {
            let Some(suite) = SUITES.iter().find(|s| s.name == name) else {
                let names: Vec<&str> = SUITES.iter().map(|s| s.name).collect();
                bail!("unknown suite `{name}` (known: {})", names.join(", "));
            };
            chosen.push(suite);
        }
        chosen
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut failed = Vec::new();
    let mut total = 0;
    for suite in chosen {
        let before = fingerprints(&root, suite.outputs);
        let mut cmd = match suite.way {
            Way::Insta(args) => {
                let mut cmd = Command::new(&cargo);
                cmd.arg("test")
                    .arg("--locked")
                    .args(args)
                    .env("INSTA_UPDATE", "always")
                    .env("INSTA_FORCE_PASS", "1");
                cmd
            }
            Way::Env(args) => {
                let mut cmd = Command::new(&cargo);
                cmd.arg("test").arg("--locked").args(args);
                cmd
            }
            Way::Xtask(args) => {
                let mut cmd =
                    Command::new(std::env::current_exe().context("finding the xtask binary")?);
                cmd.args(args);
                cmd
            }
        };
        cmd.env("HOGREF_BLESS", "1").current_dir(&root);
        eprintln!("bless {}: {cmd:?}", suite.name);
        let status = cmd
            .status()
            .with_context(|| format!("running the `{}` suite", suite.name))?;
        let after = fingerprints(&root, suite.outputs);
        let changes = diff(&before, &after);
        total += changes.len();
        println!(
            "bless {}: {} file(s) changed{}",
            suite.name,
            changes.len(),
            if status.success() {
                String::new()
            } else {
                format!(" (the run failed: {status})")
            }
        );
        for line in &changes {
            println!("  {line}");
        }
        if !status.success() {
            failed.push(suite.name);
        }
    }
    println!("bless: {total} file(s) changed; review them with `git diff`");
    if !failed.is_empty() {
        bail!(
            "these suites' runs failed after writing what they could: {}",
            failed.join(", ")
        );
    }
    Ok(())
}

/// A hash of every file under the given folders (relative to `root`), by relative path.
fn fingerprints(root: &Path, dirs: &[&str]) -> BTreeMap<PathBuf, u64> {
    let mut out = BTreeMap::new();
    let mut stack: Vec<PathBuf> = dirs.iter().map(|d| root.join(d)).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let mut hasher = DefaultHasher::new();
                bytes.hash(&mut hasher);
                let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                out.insert(rel, hasher.finish());
            }
        }
    }
    out
}

/// `added`, `changed` and `removed` lines between two fingerprint sets.
fn diff(before: &BTreeMap<PathBuf, u64>, after: &BTreeMap<PathBuf, u64>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, hash) in after {
        match before.get(path) {
            None => out.push(format!("added   {}", path.display())),
            Some(old) if old != hash => out.push(format!("changed {}", path.display())),
            Some(_) => {}
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) {
            out.push(format!("removed {}", path.display()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_lists_added_changed_and_removed() {
        let before = BTreeMap::from([(PathBuf::from("a"), 1), (PathBuf::from("b"), 2)]);
        let after = BTreeMap::from([(PathBuf::from("a"), 3), (PathBuf::from("c"), 4)]);
        assert_eq!(
            diff(&before, &after),
            ["changed a", "added   c", "removed b"]
        );
    }

    #[test]
    fn every_output_folder_exists() {
        let root = workspace_root();
        for suite in SUITES {
            for dir in suite.outputs {
                assert!(
                    root.join(dir).is_dir(),
                    "{}: {dir} is not a folder",
                    suite.name
                );
            }
        }
    }
}
