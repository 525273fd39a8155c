//! The conformance suites: implementation-neutral cases (files under `fixtures/`) run against a target.
//!
//! The suite sees an implementation only through the [`target::Target`] seam. Hogref's reference
//! implementation is one target (its `hogref` binary, driven as a command-line tool); another
//! implementation plugs in the same way. This crate depends on no `reference/` crate.
//!
//! Flow: [`suites`] list their cases, [`run`] executes each against the target and classifies it
//! ([`Outcome`]), [`known_gaps`] turns expected failures into known gaps (and unexpected passes into
//! failures), and [`report`] renders the terminal summary, JUnit XML and a self-contained HTML page.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod http;
pub mod known_gaps;
pub mod normalize;
pub mod paths;
pub mod print_case;
pub mod report;
pub mod suites;
pub mod target;

/// One case of one suite.
#[derive(Debug, Clone)]
pub struct Case {
    /// The suite's name, e.g. `hogql-parse`.
    pub suite: &'static str,
    /// Stable id: the fixture path relative to the repository root.
    pub id: String,
    /// The fixture on disk.
    pub path: PathBuf,
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target behaved as the case expects.
    Passed,
    /// The target did not; the text says how (expected vs actual).
    Failed(String),
    /// The case fails as listed in the known-gaps file (with its reason).
    KnownGap(String),
    /// The case is listed as a known gap but passed: the list is stale, which fails the run.
    UnexpectedPass(String),
    /// The target cannot run this case (e.g. an HTTP-only target and an internal suite).
    Skipped(String),
}

impl Outcome {
    /// True for outcomes that make the run fail.
    pub fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failed(_) | Outcome::UnexpectedPass(_))
    }
}

/// A case with its outcome and how long it took.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The case.
    pub case: Case,
    /// Its outcome.
    pub outcome: Outcome,
    /// Wall time of the case.
    pub elapsed: Duration,
}

/// Everything a run produced, in suite order.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// Every case's result.
    pub results: Vec<CaseResult>,
    /// Suites that did not run at all, with the reason (not implemented yet, not reachable through the target).
    pub unavailable_suites: Vec<(String, String)>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
}

impl RunResult {
    /// True when no case failed and no known gap passed unexpectedly.
    pub fn is_success(&self) -> bool {
        !self.results.iter().any(|r| r.outcome.is_failure())
    }
}

/// Options of one run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only cases whose `suite/id` contains this substring.
    pub filter: Option<String>,
}

/// Runs every case of `suites` against `target`, calling `progress` after each case.
pub fn run(
    root: &Path,
    target: &dyn target::Target,
    suites: &[Box<dyn suites::Suite>],
    gaps: &known_gaps::KnownGaps,
    options: &RunOptions,
    mut progress: impl FnMut(&CaseResult, usize, usize),
) -> anyhow::Result<RunResult> {
    let started = Instant::now();
    let mut result = RunResult::default();
    let mut planned = Vec::new();
    for suite in suites {
        if let Some(reason) = suite.unavailable(target) {
            result
                .unavailable_suites
                .push((suite.name().to_string(), reason));
            continue;
        }
        let mut cases = suite.cases(root)?;
        anyhow::ensure!(
            !cases.is_empty(),
            "suite {} found no case under fixtures/: a suite that matches nothing is a failure",
            suite.name()
        );
        if let Some(filter) = &options.filter {
            cases.retain(|c| format!("{}/{}", c.suite, c.id).contains(filter.as_str()));
        }
        planned.extend(cases.into_iter().map(|c| (suite.as_ref(), c)));
    }
    let total = planned.len();
    for (idx, (suite, case)) in planned.into_iter().enumerate() {
        let case_started = Instant::now();
        let raw = suite.run(target, &case);
        let outcome = gaps.classify(&case, raw);
        let case_result = CaseResult {
            case,
            outcome,
            elapsed: case_started.elapsed(),
        };
        progress(&case_result, idx + 1, total);
        result.results.push(case_result);
    }
    result.elapsed = started.elapsed();
    Ok(result)
}
