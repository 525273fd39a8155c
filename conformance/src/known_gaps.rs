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

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::{Case, Outcome};

/// Where the list lives, relative to the repository root.
pub const PATH: &str = "fixtures/conformance/known-gaps.toml";

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

/// The loaded list.
#[derive(Debug, Clone, Default)]
pub struct KnownGaps {
    gaps: Vec<Gap>,
}

impl KnownGaps {
    /// Loads the list from the repository root (an absent file is an empty list) and checks that every
    /// listed case exists.
    pub fn load(root: &Path) -> anyhow::Result<KnownGaps> {
        let path = root.join(PATH);
        if !path.exists() {
            return Ok(KnownGaps::default());
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {PATH}"))?;
        let file: File = toml::from_str(&text).with_context(|| format!("parsing {PATH}"))?;
        for gap in &file.gap {
            anyhow::ensure!(
                root.join(&gap.case).exists(),
                "{PATH}: listed case {} does not exist; remove it from the list",
                gap.case
            );
        }
        Ok(KnownGaps { gaps: file.gap })
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
