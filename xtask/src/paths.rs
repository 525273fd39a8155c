//! Where things live: the workspace root, and the cache outside the clone that keeps builds and tools.

use std::path::PathBuf;

/// The workspace root, found at run time (`conformance::paths`).
pub(crate) fn workspace_root() -> PathBuf {
    conformance::paths::workspace_root()
}

/// The cache for tools, venvs, stacks and the workspace's build output: `$HOGREF_CACHE`, else
/// `$HOME/.cache/hogref` (one definition, in the `stack` crate).
/// It lives outside the clone so that a fresh clone (as in CI) reuses earlier builds.
pub(crate) fn cache_dir() -> PathBuf {
    stack::cache_dir()
}

/// The target directory the inner cargo calls build into: `$CARGO_TARGET_DIR`, else `<cache>/target`.
pub(crate) fn cargo_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("target"))
}
