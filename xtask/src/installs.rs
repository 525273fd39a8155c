//! The one installer of the pinned packages that tests and tools drive from outside Rust, each into
//! a folder of the cache (outside the clone): `npm ci` of a committed manifest and lockfile (the HogVM
//! oracle's `@posthog/hogvm`, the SDK tests' `posthog-node`), and venvs with `pip install NAME==PIN`
//! (the parser oracle's wheels, posthog-python). Idempotent: nothing is downloaded when the pinned
//! version is already there. Says what it does on stderr; every command has a deadline.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// Deadline for a venv creation or a version probe.
pub(crate) const QUICK: Duration = Duration::from_secs(120);
/// Deadline for `pip install` and `npm ci` (downloads on a slow network).
pub(crate) const INSTALL: Duration = Duration::from_secs(900);

/// Installs the tree `source/package-lock.json` locks (with `source/package.json`) into `dir` with
/// `npm ci --ignore-scripts`, unless `dir` already holds that lock and `pin` (name, version) is
/// installed. `label` starts every line it prints and names it in errors.
pub(crate) fn npm_ci(
    label: &str,
    source: &Path,
    dir: &Path,
    pin: (&str, &str),
) -> anyhow::Result<()> {
    let lock = std::fs::read(source.join("package-lock.json"))
        .with_context(|| format!("reading {}/package-lock.json", source.display()))?;
    let manifest = std::fs::read(source.join("package.json"))
        .with_context(|| format!("reading {}/package.json", source.display()))?;
    let installed = dir.join("node_modules").join(pin.0).join("package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["version"] == pin.1);
    let current = std::fs::read(dir.join("package-lock.json")).ok();
    if version_ok && current.as_deref() == Some(lock.as_slice()) {
        return Ok(());
    }
    eprintln!(
        "{label}: npm ci ({}@{} from {}/package-lock.json) into {}",
        pin.0,
        pin.1,
        source.display(),
        dir.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::write(dir.join("package.json"), manifest)?;
    std::fs::write(dir.join("package-lock.json"), lock)?;
    let status = stack::status_with_deadline(
        &format!(
            "{label}: npm ci in {} (is Node.js with npm installed?)",
            dir.display()
        ),
        Command::new("npm").current_dir(dir).args([
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
        bail!("{label}: npm ci in {} failed", dir.display());
    }
    Ok(())
}

/// Creates a venv at `venv` with the Python `base` when it has no `bin/python` yet.
pub(crate) fn venv(label: &str, base: &Path, venv: &Path) -> anyhow::Result<()> {
    if venv.join("bin").join("python").is_file() {
        return Ok(());
    }
    eprintln!(
        "{label}: creating venv {} with {}",
        venv.display(),
        base.display()
    );
    let status = stack::status_with_deadline(
        &format!("{label}: {} -m venv {}", base.display(), venv.display()),
        Command::new(base).args(["-m", "venv"]).arg(venv),
        QUICK,
    )
    .map_err(anyhow::Error::msg)?;
    if !status.success() {
        bail!("{label}: creating the venv at {} failed", venv.display());
    }
    Ok(())
}

/// The version of `package` installed for `python`, if any.
pub(crate) fn pip_version(python: &Path, package: &str) -> Option<String> {
    let mut cmd = Command::new(python);
    cmd.args([
        "-c",
        "import importlib.metadata as m, sys\ntry:\n print(m.version(sys.argv[1]))\nexcept m.PackageNotFoundError:\n pass",
        package,
    ]);
    let out = stack::output_with_deadline(cmd, QUICK).ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!v.is_empty()).then_some(v)
}

/// `pip install NAME==VERSION` for `python` (a venv's), unless that version is installed.
pub(crate) fn pip_install(label: &str, python: &Path, pin: (&str, &str)) -> anyhow::Result<()> {
    let found = pip_version(python, pin.0);
    if found.as_deref() == Some(pin.1) {
        return Ok(());
    }
    eprintln!(
        "{label}: pip install {}=={} for {} (found: {})",
        pin.0,
        pin.1,
        python.display(),
        found.as_deref().unwrap_or("none")
    );
    let status = stack::status_with_deadline(
        &format!("{label}: pip install {}=={}", pin.0, pin.1),
        Command::new(python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(format!("{}=={}", pin.0, pin.1)),
        INSTALL,
    )
    .map_err(anyhow::Error::msg)?;
    if !status.success() {
        bail!("{label}: pip install {}=={} failed", pin.0, pin.1);
    }
    Ok(())
}

/// Asserts that `source/package.json` asks for exactly `pin` (name, version) and that
/// `source/package-lock.json` locks that version (the tests that hold each pin to its committed files).
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_npm_pin_committed(source: &Path, pin: (&str, &str)) {
    let read = |name: &str| -> serde_json::Value {
        let path = source.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let (package, version) = pin;
    assert_eq!(read("package.json")["dependencies"][package], version);
    assert_eq!(
        read("package-lock.json")["packages"][format!("node_modules/{package}")]["version"],
        version
    );
}
