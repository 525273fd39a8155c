//! Where the workspace and its fixtures are, found at run time.
//!
//! Tests and tools never compile the path in (`env!("CARGO_MANIFEST_DIR")`): a test binary built in a
//! target directory shared by several clones would then read the fixtures of whichever clone built it
//! last. Cargo sets `CARGO_MANIFEST_DIR` in the environment of every `cargo test`, `cargo run` and
//! `cargo bench` process, so the root is found from that package folder at run time, walking up to the
//! `Cargo.toml` that declares `[workspace]`; without it, from the current directory.

use std::path::{Path, PathBuf};

/// The workspace root: the nearest folder at or above the running package's folder
/// (`CARGO_MANIFEST_DIR` read at run time), else above the current directory, whose `Cargo.toml`
/// declares `[workspace]`; the current directory when there is none.
pub fn workspace_root() -> PathBuf {
    let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let starts = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([current.clone()]);
    for start in starts {
        if let Some(root) = find_workspace(&start) {
            return root;
        }
    }
    current
}

/// `fixtures/` below the [`workspace_root`].
pub fn fixtures_dir() -> PathBuf {
    workspace_root().join("fixtures")
}

/// The nearest folder at or above `start` whose `Cargo.toml` has a `[workspace]` table.
pub fn find_workspace(start: &Path) -> Option<PathBuf> {
    start.ancestors().find_map(|dir| {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        manifest
            .lines()
            .any(|l| l.trim() == "[workspace]")
            .then(|| dir.to_path_buf())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_is_the_manifest_with_a_workspace_table() {
        let tmp = std::env::temp_dir().join(format!("conformance-paths-{}", std::process::id()));
        let member = tmp.join("reference/some-crate/src");
        std::fs::create_dir_all(&member).unwrap();
        std::fs::write(tmp.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        std::fs::write(
            tmp.join("reference/some-crate/Cargo.toml"),
            "[package]\nname = \"some-crate\"\n",
        )
        .unwrap();
        let found = find_workspace(&member);
        std::fs::remove_dir_all(&tmp).unwrap();
        assert_eq!(found, Some(tmp));
    }

    #[test]
    fn this_workspace_has_its_fixtures() {
        assert!(
            fixtures_dir().join("capture").is_dir(),
            "{}",
            fixtures_dir().display()
        );
    }
}
