//! The HogVM oracle: PostHog's own VM, `@posthog/hogvm` from npm, pinned exactly by
//! `xtask/hogvm-oracle/package.json` and its `package-lock.json`, installed with `npm ci` into
//! `<cache>/hogvm-oracle` (outside the clone). `xtask/hogvm-oracle/driver.js` runs bytecode on it;
//! `reference/hogvm/tests/oracle.rs` (the differential test) and `cargo xtask bench hog` use it.
//!
//! Idempotent: nothing is downloaded when the locked tree is already installed.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::paths::{cache_dir, workspace_root};

/// The pin (also asserted against the committed manifest and lock by a test below).
pub(crate) const HOGVM: (&str, &str) = ("@posthog/hogvm", "1.0.71");

/// Where the oracle's `node_modules` live.
pub(crate) fn node_modules() -> PathBuf {
    cache_dir().join("hogvm-oracle").join("node_modules")
}

/// A script of the oracle's folder (`driver.js`, `bench.js`).
pub(crate) fn script(name: &str) -> PathBuf {
    workspace_root()
        .join("xtask")
        .join("hogvm-oracle")
        .join(name)
}

/// Installs the oracle when missing or at another version; says what it does on stderr.
pub(crate) fn ensure_installed() -> anyhow::Result<()> {
    let dir = cache_dir().join("hogvm-oracle");
    let src = workspace_root().join("xtask").join("hogvm-oracle");
    let lock = std::fs::read(src.join("package-lock.json"))
        .context("reading xtask/hogvm-oracle/package-lock.json")?;
    let manifest = std::fs::read(src.join("package.json"))
        .context("reading xtask/hogvm-oracle/package.json")?;
    let installed = node_modules().join(HOGVM.0).join("package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["version"] == HOGVM.1);
    let current = std::fs::read(dir.join("package-lock.json")).ok();
    if version_ok && current.as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    eprintln!(
        "hogvm oracle: npm ci ({}@{}) into {}",
        HOGVM.0,
        HOGVM.1,
        dir.display()
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("package.json"), manifest)?;
    std::fs::write(dir.join("package-lock.json"), lock)?;
    let status = stack::status_with_deadline(
        &format!(
            "hogvm oracle: npm ci in {} (is Node.js with npm installed?)",
            dir.display()
        ),
        Command::new("npm").current_dir(&dir).args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ]),
        std::time::Duration::from_secs(900),
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
    fn the_pin_matches_the_committed_manifest_and_lock() {
        let dir = workspace_root().join("xtask/hogvm-oracle");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap())
                .unwrap();
        assert_eq!(manifest["dependencies"][HOGVM.0], HOGVM.1);
        let lock: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("package-lock.json")).unwrap())
                .unwrap();
        assert_eq!(
            lock["packages"][format!("node_modules/{}", HOGVM.0)]["version"],
            HOGVM.1
        );
    }
}
