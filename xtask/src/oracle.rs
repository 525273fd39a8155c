//! The HogQL parse oracle: PostHog's own parsers from PyPI, pinned, in a venv under the cache, driven by one
//! long-lived Python process that answers JSON lines (`oracle_driver.py`).
//!
//! The fast oracle is `hogql-parser-rs` (PostHog's Rust parser); the arbiter is `hogql-parser` (C++ ANTLR,
//! ~8 ms per query, so only for spot checks). Both need Python >= 3.12.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::paths::cache_dir;

use crate::installs::QUICK;

/// Deadline for one answer of the driver (the C++ arbiter's timing runs are the slowest).
const ANSWER: Duration = Duration::from_secs(300);

/// Which oracle a pin belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The fast oracle every parity run uses.
    Fast,
    /// The C++ ANTLR parser, the source of truth, used with `--arbiter`.
    Arbiter,
}

/// One pinned wheel.
#[derive(Debug)]
pub(crate) struct Pin {
    pub(crate) package: &'static str,
    pub(crate) version: &'static str,
    pub(crate) role: Role,
}

/// The pinned oracle versions: the one place they are recorded.
pub(crate) const PINS: &[Pin] = &[
    Pin {
        package: "hogql-parser-rs",
        version: "1.3.112",
        role: Role::Fast,
    },
    Pin {
        package: "hogql-parser",
        version: "1.3.88",
        role: Role::Arbiter,
    },
];

/// The driver program, written to the cache on every start (so it always matches this xtask).
const DRIVER: &str = include_str!("oracle_driver.py");

/// The stub `posthog.hogql.errors` module the C++ wheel imports at load time: a base error class and any other
/// error class made on demand.
const ERRORS_STUB: &str = r#""""Stub of posthog.hogql.errors for the hogql-parser wheel (written by cargo xtask)."""


class BaseHogQLError(Exception):
    def __init__(self, message="", *args, start=None, end=None, **kwargs):
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    cls = type(name, (BaseHogQLError,), {})
    globals()[name] = cls
    return cls
"#;

/// Where the oracle venv lives.
pub(crate) fn venv_dir() -> PathBuf {
    cache_dir().join("venv-oracle")
}

fn venv_python() -> PathBuf {
    venv_dir().join("bin").join("python")
}

/// True when the venv exists with the fast oracle installed at its pinned version (no network, no installing).
pub(crate) fn is_installed() -> bool {
    venv_python().is_file()
        && crate::installs::pip_version(&venv_python(), PINS[0].package).as_deref()
            == Some(PINS[0].version)
}

/// Finds a Python 3.12 interpreter: `python3.12` on PATH, else pyenv's `3.12*` builds.
fn find_python312() -> anyhow::Result<PathBuf> {
    let mut probe = Command::new("python3.12");
    probe.arg("--version");
    if let Ok(out) = stack::output_with_deadline(probe, QUICK)
        && out.status.success()
    {
        return Ok(PathBuf::from("python3.12"));
    }
    let versions = Path::new("/root/.pyenv/versions");
    if let Ok(entries) = std::fs::read_dir(versions) {
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("3.12"))
            .map(|e| e.path().join("bin").join("python3.12"))
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        if let Some(p) = found.pop() {
            return Ok(p);
        }
    }
    bail!(
        "no Python 3.12 found (neither `python3.12` on PATH nor /root/.pyenv/versions/3.12*): \
         hogql-parser-rs {} needs Python >= 3.12",
        PINS[0].version
    )
}

/// Creates the venv and installs the pinned wheels that are missing or at another version. Idempotent; says what
/// it does on stderr. With `arbiter`, the C++ wheel is installed too.
pub(crate) fn ensure_installed(arbiter: bool) -> anyhow::Result<()> {
    let python = venv_python();
    if !python.is_file() {
        crate::installs::venv("oracle", &find_python312()?, &venv_dir())?;
    }
    for pin in PINS {
        if pin.role == Role::Arbiter && !arbiter {
            continue;
        }
        crate::installs::pip_install("oracle", &python, (pin.package, pin.version))?;
    }
    Ok(())
}

/// Writes the driver and the errors stub into the cache; returns (driver path, stub dir for PYTHONPATH).
fn write_driver() -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = cache_dir().join("oracle");
    let stub = dir.join("stub");
    let pkg = stub.join("posthog").join("hogql");
    std::fs::create_dir_all(&pkg).with_context(|| format!("creating {}", pkg.display()))?;
    std::fs::write(stub.join("posthog").join("__init__.py"), "")?;
    std::fs::write(pkg.join("__init__.py"), "")?;
    std::fs::write(pkg.join("errors.py"), ERRORS_STUB)?;
    let driver = dir.join("oracle_driver.py");
    std::fs::write(&driver, DRIVER).with_context(|| format!("writing {}", driver.display()))?;
    Ok((driver, stub))
}

/// Which parser backend answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `hogql_parser_rs`.
    Rs,
    /// `hogql_parser` (C++).
    Cpp,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Rs => "rs",
            Backend::Cpp => "cpp",
        }
    }
}

/// The name an entry point has in the driver protocol and in the fixture folders.
pub(crate) fn entry_name(entry: hogql_parser::EntryPoint) -> &'static str {
    match entry {
        hogql_parser::EntryPoint::Expr => "expr",
        hogql_parser::EntryPoint::Select => "select",
        hogql_parser::EntryPoint::OrderExpr => "order_expr",
        hogql_parser::EntryPoint::Program => "program",
    }
}

/// A running driver process.
#[derive(Debug)]
pub(crate) struct Oracle {
    child: Child,
    stdin: ChildStdin,
    /// Lines of the driver's stdout, read by a thread so that every answer has a deadline.
    lines: mpsc::Receiver<std::io::Result<String>>,
}

impl Oracle {
    /// Installs what is missing (see [`ensure_installed`]) and starts the driver.
    pub(crate) fn start(arbiter: bool) -> anyhow::Result<Oracle> {
        ensure_installed(arbiter)?;
        let (driver, stub) = write_driver()?;
        let mut child = Command::new(venv_python())
            .arg("-u")
            .arg(&driver)
            .env("PYTHONPATH", &stub)
            .env("PYTHONIOENCODING", "utf-8")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting the oracle driver")?;
        let stdin = child.stdin.take().context("driver stdin")?;
        let stdout = BufReader::new(child.stdout.take().context("driver stdout")?);
        let (tx, lines) = mpsc::channel();
        // Ends at the driver's EOF (it exited or was killed) or when the Oracle is dropped.
        std::thread::spawn(move || {
            for line in stdout.lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Oracle {
            child,
            stdin,
            lines,
        })
    }

    fn ask(&mut self, req: &Value) -> anyhow::Result<Value> {
        let mut text = serde_json::to_string(req)?;
        text.push('\n');
        self.stdin
            .write_all(text.as_bytes())
            .context("writing to the oracle driver")?;
        self.stdin.flush()?;
        let line = match self.lines.recv_timeout(ANSWER) {
            Ok(line) => line.context("reading from the oracle driver")?,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                bail!("the oracle driver exited unexpectedly")
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                bail!(
                    "oracle: the driver did not answer within {}s (killed); request: {}",
                    ANSWER.as_secs(),
                    text.trim_end()
                )
            }
        };
        serde_json::from_str(&line).context("the oracle driver answered non-JSON")
    }

    /// The oracle's parse of `src` (AST JSON or error envelope), with positions.
    pub(crate) fn parse(
        &mut self,
        backend: Backend,
        entry: hogql_parser::EntryPoint,
        src: &str,
    ) -> anyhow::Result<Value> {
        self.ask(&json!({
            "entry": entry_name(entry),
            "src": src,
            "backend": backend.name(),
            "positions": true,
        }))
    }

    /// Mean nanoseconds per `parse_*_json(src)` over `reps` repetitions, timed inside Python.
    pub(crate) fn time(
        &mut self,
        backend: Backend,
        entry: hogql_parser::EntryPoint,
        src: &str,
        reps: u32,
    ) -> anyhow::Result<f64> {
        let v = self.ask(&json!({
            "op": "time",
            "entry": entry_name(entry),
            "src": src,
            "backend": backend.name(),
            "reps": reps,
        }))?;
        v.get("mean_ns")
            .and_then(Value::as_f64)
            .with_context(|| format!("oracle timing failed: {v}"))
    }

    /// The versions the driver actually loaded.
    pub(crate) fn versions(&mut self) -> anyhow::Result<Value> {
        self.ask(&json!({"op": "versions"}))
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        // Closing stdin ends the driver's loop; reap it so it never lingers.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when a parse result is an error envelope.
pub(crate) fn is_error(v: &Value) -> bool {
    v.get("error").and_then(Value::as_bool) == Some(true)
}

/// The comparison form of a parse result (spec §8): an error becomes `{"error": true, "type": T}`; an AST loses
/// every key whose value is null, every `false` except a Constant's `value`, and `start`/`end` unless
/// `positions`.
pub(crate) fn normalise(v: &Value, positions: bool) -> Value {
    if is_error(v) {
        return json!({"error": true, "type": v.get("type").cloned().unwrap_or(Value::Null)});
    }
    strip(v, positions)
}

fn strip(v: &Value, positions: bool) -> Value {
    match v {
        Value::Object(map) => {
            let mut out = serde_json::Map::new();
            for (k, val) in map {
                if val.is_null() {
                    continue;
                }
                if *val == Value::Bool(false) && k != "value" {
                    continue;
                }
                if !positions && (k == "start" || k == "end") {
                    continue;
                }
                out.insert(k.clone(), strip(val, positions));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| strip(i, positions)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_drops_nulls_falses_and_positions_but_keeps_false_constants() {
        let raw = json!({
            "node": "Call", "name": "f", "distinct": false, "params": null,
            "start": {"offset": 0}, "end": {"offset": 3},
            "args": [{"node": "Constant", "value": false}, {"node": "Constant", "value": null}]
        });
        assert_eq!(
            normalise(&raw, false),
            json!({"node": "Call", "name": "f",
                   "args": [{"node": "Constant", "value": false}, {"node": "Constant"}]})
        );
        assert_eq!(
            normalise(&raw, true)["start"],
            json!({"offset": 0}),
            "positions are kept on request"
        );
    }

    #[test]
    fn errors_compare_by_type_only() {
        let a =
            json!({"error": true, "type": "SyntaxError", "message": "x", "start": {"offset": 1}});
        let b = json!({"error": true, "type": "SyntaxError", "message": "y"});
        assert_eq!(normalise(&a, true), normalise(&b, true));
    }

    #[test]
    fn pins_are_exact_versions() {
        for pin in PINS {
            assert!(
                pin.version.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{} pin {:?} is not an exact version",
                pin.package,
                pin.version
            );
        }
        assert_eq!(PINS[0].role, Role::Fast);
    }
}
