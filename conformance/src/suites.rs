//! The suites: each lists its cases from `fixtures/` and judges one case against a target.

use std::path::{Path, PathBuf};

use crate::target::{Entry, Target};
use crate::{Case, Outcome};

mod attacks;
mod capture;
mod hog;
mod hogql_exec;
mod hogql_parse;
mod hogql_print;
mod ingestion;
pub mod insights;
mod migrations;
mod query_api;

/// One conformance suite.
pub trait Suite {
    /// The suite's name, as used in reports and `--filter`.
    fn name(&self) -> &'static str;
    /// Why the suite cannot run against `target`, if it cannot.
    fn unavailable(&self, target: &dyn Target) -> Option<String>;
    /// Every case, sorted by id.
    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>>;
    /// Runs one case.
    fn run(&self, target: &dyn Target, case: &Case) -> Outcome;
}

/// Every suite, in report order. Suites that are not written yet are listed with the issue that brings them.
pub fn all() -> Vec<Box<dyn Suite>> {
    vec![
        Box::new(hogql_parse::HogqlParse),
        Box::new(hogql_print::HogqlPrint),
        Box::new(hogql_exec::HogqlExec::default()),
        Box::new(hog::Hog),
        Box::new(migrations::Migrations),
        Box::new(capture::Capture),
        Box::new(ingestion::Ingestion),
        Box::new(query_api::QueryApi),
        Box::new(insights::Insights),
        // Last: an attack the target does not survive must not fail the other suites' cases.
        Box::new(attacks::Attacks::default()),
    ]
}

/// Suites the mission names that do not exist yet, with the reason, so reports say so instead of
/// silently covering less.
pub const PLANNED: &[(&str, &str)] = &[];

/// Files under `dir` (recursively) whose name ends with `suffix`, sorted.
fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(suffix) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The entry point and expected acceptance of a parse fixture, from its path
/// (`.../parse/{ok,err}/{select,expr,order_expr}/NAME.hogql`).
fn parse_fixture_kind(path: &Path) -> Option<(bool, Entry)> {
    let entry = Entry::from_folder(path.parent()?.file_name()?.to_str()?)?;
    let accept = match path.parent()?.parent()?.file_name()?.to_str()? {
        "ok" => true,
        "err" => false,
        _ => return None,
    };
    Some((accept, entry))
}
