//! `hogql-parse`: the target's HogQL parser against the pinned oracle's AST, case by case.
//!
//! Cases are `fixtures/hogql/parse/{ok,err}/{select,expr,order_expr}/NAME.hogql` (the file content
//! verbatim is the input). The expectation is `NAME.oracle.json` beside it: what PostHog's parser
//! (`hogql-parser-rs`, pinned in xtask) returns, normalised (see `normalize`). `cargo xtask parity --bless`
//! writes those files. An `ok/` case must parse and an `err/` case must fail before the ASTs are compared.

use std::path::Path;

use crate::normalize;
use crate::target::Target;
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, parse_fixture_kind, relative};

/// The suite.
#[derive(Debug)]
pub(super) struct HogqlParse;

/// The expectation file of a parse fixture.
pub(super) fn expectation_path(case: &Path) -> std::path::PathBuf {
    case.with_extension("oracle.json")
}

impl Suite for HogqlParse {
    fn name(&self) -> &'static str {
        "hogql-parse"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (!target.supports("hogql-parse")).then(|| "the target exposes no HogQL parser".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(
            files_with_suffix(&root.join("fixtures/hogql/parse"), ".hogql")
                .into_iter()
                .filter(|p| parse_fixture_kind(p).is_some())
                .map(|path| Case {
                    suite: "hogql-parse",
                    id: relative(root, &path),
                    path,
                })
                .collect(),
        )
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some((accept, entry)) = parse_fixture_kind(&case.path) else {
            return Outcome::Failed("not under {ok,err}/{select,expr,order_expr}/".into());
        };
        let src = match std::fs::read_to_string(&case.path) {
            Ok(s) => s,
            Err(e) => return Outcome::Failed(format!("reading the case: {e}")),
        };
        let actual = match target.parse_hogql(entry, &src) {
            Ok(v) => normalize::hogql_ast(&v),
            Err(e) => return Outcome::Failed(format!("target error: {e:#}")),
        };
        let is_error = actual.get("error") == Some(&serde_json::Value::Bool(true));
        if accept && is_error {
            return Outcome::Failed(format!("expected the input to parse, got {actual}"));
        }
        if !accept && !is_error {
            return Outcome::Failed("expected a syntax error, but the input parsed".into());
        }
        let expectation = expectation_path(&case.path);
        let expected = match std::fs::read_to_string(&expectation) {
            Ok(text) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => normalize::hogql_ast(&v),
                Err(e) => {
                    return Outcome::Failed(format!("{}: not JSON: {e}", expectation.display()));
                }
            },
            Err(_) => {
                return Outcome::Failed(format!(
                    "no expectation {}: run `cargo xtask parity --bless`",
                    expectation.display()
                ));
            }
        };
        match normalize::first_difference(&expected, &actual) {
            None => Outcome::Passed,
            Some(diff) => Outcome::Failed(format!("AST differs from the oracle at {diff}")),
        }
    }
}
