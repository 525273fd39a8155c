//! The seam: what the suites may ask of an implementation, and the command-line adapter.
//!
//! A target answers the questions the suites ask. The command-line adapter drives any program that
//! speaks Hogref's tool interface (`<bin> hogql parse --select`, `<bin> migrations check --format json`);
//! an HTTP-only target (capture and query APIs) answers none of these and the internal suites are skipped.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use serde::Deserialize;

/// A HogQL grammar entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// `parse_select`.
    Select,
    /// `parse_expr`.
    Expr,
    /// `parse_order_expr`.
    OrderExpr,
}

impl Entry {
    /// The folder name of this entry point under `fixtures/hogql/parse/{ok,err}/`.
    pub fn folder(self) -> &'static str {
        match self {
            Entry::Select => "select",
            Entry::Expr => "expr",
            Entry::OrderExpr => "order_expr",
        }
    }

    /// The entry point a fixture folder names.
    pub fn from_folder(name: &str) -> Option<Entry> {
        match name {
            "select" => Some(Entry::Select),
            "expr" => Some(Entry::Expr),
            "order_expr" => Some(Entry::OrderExpr),
            _ => None,
        }
    }
}

/// One diagnostic of a migration check, as targets report them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MigrationDiagnostic {
    /// The file it is about.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The stable rule code, e.g. `CH002`.
    pub code: String,
    /// What is wrong.
    pub message: String,
}

/// What the suites may ask of an implementation. Each question may be unsupported by a target:
/// [`Target::supports`] says which suites it can serve.
pub trait Target {
    /// A short name for reports.
    fn name(&self) -> String;
    /// The capabilities this target has (`"hogql-parse"`, `"migrations"`, ...).
    fn supports(&self, capability: &str) -> bool;
    /// Parses HogQL from `entry` and returns the AST JSON, or the error envelope (`{"error": true, ...}`).
    fn parse_hogql(&self, entry: Entry, src: &str) -> anyhow::Result<serde_json::Value>;
    /// Checks a migration file or folder and returns every diagnostic.
    fn check_migrations(
        &self,
        path: &Path,
        dialect: Option<&str>,
    ) -> anyhow::Result<Vec<MigrationDiagnostic>>;
}

/// A target driven through its command-line tool (`hogref` or a compatible program).
#[derive(Debug, Clone)]
pub struct CliTarget {
    /// The program.
    pub bin: PathBuf,
}

impl Target for CliTarget {
    fn name(&self) -> String {
        format!("cli:{}", self.bin.display())
    }

    fn supports(&self, capability: &str) -> bool {
        matches!(capability, "hogql-parse" | "migrations")
    }

    fn parse_hogql(&self, entry: Entry, src: &str) -> anyhow::Result<serde_json::Value> {
        let flag = match entry {
            Entry::Select => "--select",
            Entry::Expr => "--expr",
            Entry::OrderExpr => "--order-expr",
        };
        let mut child = Command::new(&self.bin)
            .args(["hogql", "parse", flag])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
            // A target that exits early closes the pipe; its exit status tells the story.
            let _ = stdin.write_all(src.as_bytes());
        }
        let output = child.wait_with_output().context("waiting for the target")?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "target printed no JSON (exit {}): {}{}",
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
    }

    fn check_migrations(
        &self,
        path: &Path,
        dialect: Option<&str>,
    ) -> anyhow::Result<Vec<MigrationDiagnostic>> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["migrations", "check", "--format", "json"]);
        if let Some(dialect) = dialect {
            cmd.args(["--dialect", dialect]);
        }
        let output = cmd
            .arg(path)
            .output()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.trim()).with_context(|| {
            format!(
                "target printed no diagnostics JSON (exit {}): {}{}",
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
    }
}

/// An implementation reached only through its HTTP APIs (capture and query): `--target URL`.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    /// Base URL of the implementation.
    pub base_url: String,
}

impl Target for HttpTarget {
    fn name(&self) -> String {
        format!("http:{}", self.base_url)
    }

    fn supports(&self, capability: &str) -> bool {
        matches!(capability, "capture" | "query-api")
    }

    fn parse_hogql(&self, _entry: Entry, _src: &str) -> anyhow::Result<serde_json::Value> {
        anyhow::bail!("an HTTP target exposes no parser")
    }

    fn check_migrations(
        &self,
        _path: &Path,
        _dialect: Option<&str>,
    ) -> anyhow::Result<Vec<MigrationDiagnostic>> {
        anyhow::bail!("an HTTP target exposes no migration checker")
    }
}
