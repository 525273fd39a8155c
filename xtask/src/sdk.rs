//! The official PostHog SDKs the scenario tests drive (`scenarios/tests/sdk_*.rs`), pinned and installed
//! under the cache, outside the clone:
//!
//! - posthog-python: a venv `venvs/sdk-python` (the default `python3`), `pip install posthog==PIN`;
//! - posthog-node: `sdk-node/`, where `fixtures/sdk/node/package.json` and its `package-lock.json` are copied
//!   and `npm ci --ignore-scripts` installs exactly the locked tree.
//!
//! Idempotent: nothing is downloaded when the pinned versions are already there.

use std::path::{Path, PathBuf};

use crate::paths::{cache_dir, workspace_root};

/// The posthog-python pin (also asserted by `scenarios/tests/sdk_python.rs`).
pub(crate) const PYTHON_SDK: (&str, &str) = ("posthog", "7.91.1");
/// The posthog-node pin; the exact tree is `fixtures/sdk/node/package-lock.json`.
pub(crate) const NODE_SDK: (&str, &str) = ("posthog-node", "5.70.0");

fn python_venv() -> PathBuf {
    cache_dir().join("venvs").join("sdk-python")
}

fn node_dir() -> PathBuf {
    cache_dir().join("sdk-node")
}

/// Installs both SDKs when missing or at another version; says what it does on stderr.
pub(crate) fn ensure_installed() -> anyhow::Result<()> {
    ensure_python()?;
    ensure_node()
}

fn ensure_python() -> anyhow::Result<()> {
    let venv = python_venv();
    let base = std::env::var("HOGREF_PYTHON").unwrap_or_else(|_| "python3".into());
    crate::installs::venv("sdk (posthog-python)", Path::new(&base), &venv)?;
    crate::installs::pip_install("sdk", &venv.join("bin").join("python"), PYTHON_SDK)
}

fn ensure_node() -> anyhow::Result<()> {
    crate::installs::npm_ci(
        "sdk",
        &workspace_root().join("fixtures").join("sdk").join("node"),
        &node_dir(),
        NODE_SDK,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_pin_matches_the_committed_manifest_and_lock() {
        crate::installs::assert_npm_pin_committed(
            &workspace_root().join("fixtures/sdk/node"),
            NODE_SDK,
        );
    }

    #[test]
    fn pins_are_exact_versions() {
        for (_, v) in [PYTHON_SDK, NODE_SDK] {
            assert!(v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
        }
    }
}
