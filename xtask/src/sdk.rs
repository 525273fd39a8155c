//! The official PostHog SDKs the scenario tests drive (`scenarios/tests/sdk_*.rs`), pinned and installed
//! under the cache, outside the clone:
//!
//! - posthog-python: a venv `venvs/sdk-python` (the default `python3`), `pip install posthog==PIN`;
//! - posthog-node: `sdk-node/`, where `fixtures/sdk/node/package.json` and its `package-lock.json` are copied
//!   and `npm ci --ignore-scripts` installs exactly the locked tree.
//!
//! Idempotent: nothing is downloaded when the pinned versions are already there.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::paths::{cache_dir, workspace_root};

/// Deadline for a venv creation or a version probe.
const QUICK: Duration = Duration::from_secs(120);
/// Deadline for `pip install` and `npm ci` (downloads on a slow network).
const INSTALL: Duration = Duration::from_secs(900);

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

fn installed_python_version(python: &Path) -> Option<String> {
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        "import importlib.metadata as m, sys\ntry:\n print(m.version(sys.argv[1]))\nexcept m.PackageNotFoundError:\n pass",
        PYTHON_SDK.0,
    ]);
    let out = stack::output_with_deadline(cmd, QUICK).ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!v.is_empty()).then_some(v)
}

fn ensure_python() -> anyhow::Result<()> {
    let venv = python_venv();
    let python = venv.join("bin").join("python");
    if !python.is_file() {
        let base = std::env::var("HOGREF_PYTHON").unwrap_or_else(|_| "python3".into());
        eprintln!(
            "sdk: creating venv {} with {base} (posthog-python)",
            venv.display()
        );
        let status = stack::status_with_deadline(
            &format!("sdk: {base} -m venv {}", venv.display()),
            Command::new(&base).args(["-m", "venv"]).arg(&venv),
            QUICK,
        )
        .map_err(anyhow::Error::msg)?;
        if !status.success() {
            bail!("creating the venv at {} failed", venv.display());
        }
    }
    match installed_python_version(&python) {
        Some(v) if v == PYTHON_SDK.1 => Ok(()),
        found => {
            eprintln!(
                "sdk: pip install {}=={} into {} (found: {})",
                PYTHON_SDK.0,
                PYTHON_SDK.1,
                venv.display(),
                found.as_deref().unwrap_or("none")
            );
            let status = stack::status_with_deadline(
                &format!("sdk: pip install {}=={}", PYTHON_SDK.0, PYTHON_SDK.1),
                Command::new(&python)
                    .args([
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                    ])
                    .arg(format!("{}=={}", PYTHON_SDK.0, PYTHON_SDK.1)),
                INSTALL,
            )
            .map_err(anyhow::Error::msg)?;
            if !status.success() {
                bail!("pip install {}=={} failed", PYTHON_SDK.0, PYTHON_SDK.1);
            }
            Ok(())
        }
    }
}

fn ensure_node() -> anyhow::Result<()> {
    let dir = node_dir();
    let fixtures = workspace_root().join("fixtures").join("sdk").join("node");
    let lock = std::fs::read(fixtures.join("package-lock.json"))
        .context("reading fixtures/sdk/node/package-lock.json")?;
    let manifest = std::fs::read(fixtures.join("package.json"))
        .context("reading fixtures/sdk/node/package.json")?;
    let installed = dir
        .join("node_modules")
        .join(NODE_SDK.0)
        .join("package.json");
    let current = std::fs::read(dir.join("package-lock.json")).ok();
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["version"] == NODE_SDK.1);
    if version_ok && current.as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    eprintln!(
        "sdk: npm ci ({}@{} from fixtures/sdk/node/package-lock.json) into {}",
        NODE_SDK.0,
        NODE_SDK.1,
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("package.json"), manifest)?;
    std::fs::write(dir.join("package-lock.json"), lock)?;
    let status = stack::status_with_deadline(
        &format!(
            "sdk: npm ci in {} (is Node.js with npm installed?)",
            dir.display()
        ),
        Command::new("npm").current_dir(&dir).args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        INSTALL,
    )
    .map_err(anyhow::Error::msg)?;
    if !status.success() {
        bail!("npm ci in {} failed", dir.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_pin_matches_the_committed_manifest_and_lock() {
        let dir = workspace_root().join("fixtures/sdk/node");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["dependencies"][NODE_SDK.0], NODE_SDK.1);
        let lock: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package-lock.json")).unwrap())
                .unwrap();
        assert_eq!(
            lock["packages"][format!("node_modules/{}", NODE_SDK.0)]["version"],
            NODE_SDK.1
        );
    }

    #[test]
    fn pins_are_exact_versions() {
        for (_, v) in [PYTHON_SDK, NODE_SDK] {
            assert!(v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
        }
    }
}
