//! Known gaps: a checked list of cases that are expected to fail, each with a reason.
//!
//! The list lives in `fixtures/conformance/known-gaps.toml`:
//!
//! ```toml
//! [[gap]]
//! suite = "hogql-parse"
//! case = "fixtures/hogql/parse/ok/select/0042_example.hogql"
//! reason = "why it fails, and where that is tracked"
//! ```
//!
//! A listed case that fails is a known gap; a listed case that passes fails the run, so the list only
//! ever shrinks; a listed case that does not exist fails loading, so the list never rots.
//!
//! The parser's divergences from the pinned oracle (`fixtures/hogql/parse/divergences.toml`, the list
//! `cargo xtask parity` checks) are read as `hogql-parse` gaps too, and HogVM's divergences from
//! `@posthog/hogvm` (`fixtures/hog/expected/divergences.toml`, entries `program_NAME`) as `hog` gaps,
//! so each divergence is written once.

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::{Case, Outcome};

/// Where the list lives, relative to the repository root.
pub const PATH: &str = "fixtures/conformance/known-gaps.toml";
/// The parser's checked divergence list, relative to the repository root.
pub const PARSE_DIVERGENCES: &str = "fixtures/hogql/parse/divergences.toml";
/// HogVM's checked divergence list (cases `program_NAME` are the `hog` suite's programs).
pub const HOG_DIVERGENCES: &str = "fixtures/hog/expected/divergences.toml";

#[derive(Debug, Clone, Deserialize)]
struct DivergenceFile {
    #[serde(default)]
    divergence: Vec<Divergence>,
}

/// One entry of the divergence list; only fixture (`case`) entries that are not about positions alone
/// matter here.
#[derive(Debug, Clone, Deserialize)]
struct Divergence {
    case: Option<String>,
    reason: String,
    #[serde(default)]
    positions_only: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    gap: Vec<Gap>,
}

/// One listed gap.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// The suite.
    pub suite: String,
    /// The case id (fixture path relative to the repository root).
    pub case: String,
    /// Why it fails.
    pub reason: String,
}

fn read_optional(root: &Path, rel: &str) -> anyhow::Result<Option<String>> {
    let path = root.join(rel);
    if !path.exists() {
        return Ok(None);
    }
    std::fs::read_to_string(&path)
        .map(Some)
        .with_context(|| format!("reading {rel}"))
}

/// The loaded list.
#[derive(Debug, Clone, Default)]
pub struct KnownGaps {
    gaps: Vec<Gap>,
}

impl KnownGaps {
    /// Loads the list from the repository root (an absent file is an empty list) and checks that every
    /// listed case exists.
    pub fn load(root: &Path) -> anyhow::Result<KnownGaps> {
        let mut gaps = Vec::new();
        if let Some(text) = read_optional(root, PATH)? {
            let file: File = toml::from_str(&text).with_context(|| format!("parsing {PATH}"))?;
            gaps.extend(file.gap);
        }
        if let Some(text) = read_optional(root, PARSE_DIVERGENCES)? {
            let file: DivergenceFile =
                toml::from_str(&text).with_context(|| format!("parsing {PARSE_DIVERGENCES}"))?;
            gaps.extend(
                file.divergence
                    .into_iter()
                    .filter(|d| !d.positions_only)
                    .filter_map(|d| {
                        Some(Gap {
                            suite: "hogql-parse".into(),
                            case: format!("fixtures/hogql/parse/{}", d.case?),
                            reason: d.reason,
                        })
                    }),
            );
        }
        if let Some(text) = read_optional(root, HOG_DIVERGENCES)? {
            let table: toml::Table =
                toml::from_str(&text).with_context(|| format!("parsing {HOG_DIVERGENCES}"))?;
            gaps.extend(table.into_iter().filter_map(|(name, entry)| {
                Some(Gap {
                    suite: "hog".into(),
                    case: format!(
                        "fixtures/hog/programs/{}.hog",
                        name.strip_prefix("program_")?
                    ),
                    reason: entry.get("reason")?.as_str()?.to_owned(),
                })
            }));
        }
        for gap in &gaps {
            anyhow::ensure!(
                root.join(&gap.case).exists(),
                "known gap {} does not exist; remove it from its list",
                gap.case
            );
        }
        Ok(KnownGaps { gaps })
    }

    /// Builds a list directly (for tests).
    pub fn from_gaps(gaps: Vec<Gap>) -> KnownGaps {
        KnownGaps { gaps }
    }

    /// Turns a raw outcome into the final one, given the list.
    pub fn classify(&self, case: &Case, raw: Outcome) -> Outcome {
        let Some(gap) = self
            .gaps
            .iter()
            .find(|g| g.suite == case.suite && g.case == case.id)
        else {
            return raw;
        };
        match raw {
            Outcome::Passed => Outcome::UnexpectedPass(format!(
                "listed as a known gap ({}) but it passes now: remove it from {PATH}",
                gap.reason
            )),
            Outcome::Failed(_) => Outcome::KnownGap(gap.reason.clone()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        Case {
            suite: "hogql-parse",
            id: "fixtures/x.hogql".into(),
            path: "x".into(),
        }
    }

    #[test]
    fn listed_failure_is_a_known_gap_and_listed_pass_fails_the_run() {
        let gaps = KnownGaps::from_gaps(vec![Gap {
            suite: "hogql-parse".into(),
            case: "fixtures/x.hogql".into(),
            reason: "r".into(),
        }]);
        assert_eq!(
            gaps.classify(&case(), Outcome::Failed("x".into())),
            Outcome::KnownGap("r".into())
        );
        assert!(gaps.classify(&case(), Outcome::Passed).is_failure());
        assert_eq!(
            KnownGaps::default().classify(&case(), Outcome::Passed),
            Outcome::Passed
        );
    }
}
