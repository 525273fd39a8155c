//! The HogVM oracle: PostHog's own VM, `@posthog/hogvm` from npm, pinned exactly by
//! `xtask/hogvm-oracle/package.json` and its `package-lock.json`, installed with `npm ci` into
//! `<cache>/hogvm-oracle` (outside the clone). `xtask/hogvm-oracle/driver.js` runs bytecode on it;
//! `reference/hogvm/tests/oracle.rs` (the differential test) and `cargo xtask bench hog` use it.
//!
//! Idempotent: nothing is downloaded when the locked tree is already installed.

use std::path::PathBuf;

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
    crate::installs::npm_ci(
        "hogvm oracle",
        &workspace_root().join("xtask").join("hogvm-oracle"),
        &cache_dir().join("hogvm-oracle"),
        HOGVM,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pin_matches_the_committed_manifest_and_lock() {
        crate::installs::assert_npm_pin_committed(
            &workspace_root().join("xtask/hogvm-oracle"),
            HOGVM,
        );
    }
}
