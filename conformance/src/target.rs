//! The seam: what the suites may ask of an implementation, and the command-line adapter.
//!
//! A target answers the questions the suites ask. The command-line adapter drives any program that
//! speaks Hogref's tool interface (`<bin> hogql parse --select`, `<bin> migrations check --format json`,
//! `<bin> hog run --result FILE`);
//! an HTTP-only target (capture and query APIs) answers none of these and the internal suites are skipped.
//! [`ReferenceTarget`] is both: Hogref's CLI plus a running `hogref serve`.

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

/// How to compile a HogQL query (`hogref hogql compile` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileOptions {
    /// The team every table is guarded to.
    pub team_id: i64,
    /// The project timezone.
    pub timezone: String,
    /// HogQLQueryModifiers as JSON, with PostHog's names.
    pub modifiers: Option<serde_json::Value>,
    /// `default` or `api`.
    pub limit_context: Option<String>,
    /// Append the global SETTINGS list.
    pub settings: bool,
    /// Materialized event properties, as `hogql compile --materialized` takes them
    /// (`events.properties.KEY[:nullable]`).
    pub materialized: Vec<String>,
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
    /// Compiles a HogQL SELECT to ClickHouse SQL and returns `{"clickhouse", "values", "hogql"}`, or
    /// the error envelope (`{"error": true, "code", "message", "start", "end"}`). Capability
    /// `hogql-compile`.
    fn compile_hogql(
        &self,
        src: &str,
        options: &CompileOptions,
    ) -> anyhow::Result<serde_json::Value> {
        let _ = (src, options);
        anyhow::bail!("{} does not compile HogQL", self.name())
    }
    /// Runs a Hog program file (`hog run --result FILE`: compile, run, print what it prints, then its
    /// return value when not null) and returns its exit status and output. Capability `hog-run`.
    fn run_hog(&self, program: &Path) -> anyhow::Result<HogRun> {
        let _ = program;
        anyhow::bail!("{} does not run Hog programs", self.name())
    }
    /// The target's HTTP APIs (capture, query) and its teams, when it has them.
    fn http(&self) -> Option<&HttpTarget> {
        None
    }
    /// Creates `database` on the target's ClickHouse with the target's ClickHouse schema (its
    /// migrations, applied from the checkout at `root`) and returns that ClickHouse's HTTP URL,
    /// where the `hogql-exec` suite loads its dataset and runs compiled SQL. Capability
    /// `hogql-exec`.
    fn prepare_clickhouse(&self, root: &Path, database: &str) -> anyhow::Result<String> {
        let _ = (root, database);
        anyhow::bail!("{} has no ClickHouse the suite can use", self.name())
    }
}

/// How a `hog run` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HogRun {
    /// The exit status (`None` when killed by a signal).
    pub status: Option<i32>,
    /// What it printed on stdout.
    pub stdout: String,
    /// What it printed on stderr (the error envelope on a failure).
    pub stderr: String,
}

/// How long one `hog run` may take: the VM's own time budget is 5 s, so this only catches a target
/// that hangs.
const HOG_RUN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// The ClickHouse URL in `env` (a stack's environment), else in the process environment.
fn clickhouse_url(env: &[(String, String)]) -> Option<String> {
    env.iter()
        .find(|(k, _)| k == "CLICKHOUSE_URL")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("CLICKHOUSE_URL").ok())
        .filter(|u| !u.trim().is_empty())
}

impl CliTarget {
    /// `migrations apply --database <database>` run from `root` with `env` on top of the process
    /// environment; Kafka topics and consumer groups get the prefix `<database>_`, so the new
    /// database's Kafka tables never consume a running server's topics.
    fn apply_migrations(
        &self,
        root: &Path,
        database: &str,
        env: &[(String, String)],
    ) -> anyhow::Result<String> {
        let url = clickhouse_url(env).context("CLICKHOUSE_URL is not set")?;
        let prefix = format!("{database}_");
        let output = Command::new(&self.bin)
            .current_dir(root)
            .args(["migrations", "apply", "--database", database])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("CLICKHOUSE_URL", &url)
            .env("KAFKA_PREFIX", &prefix)
            .env("HOGREF_KAFKA_GROUP_PREFIX", &prefix)
            .output()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        anyhow::ensure!(
            output.status.success(),
            "migrations apply failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout).trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(url)
    }
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
        matches!(
            capability,
            "hogql-parse" | "hogql-compile" | "migrations" | "hog-run"
        ) || (capability == "hogql-exec" && clickhouse_url(&[]).is_some())
    }

    fn prepare_clickhouse(&self, root: &Path, database: &str) -> anyhow::Result<String> {
        self.apply_migrations(root, database, &[])
    }

    fn compile_hogql(
        &self,
        src: &str,
        options: &CompileOptions,
    ) -> anyhow::Result<serde_json::Value> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["hogql", "compile", "--team-id"])
            .arg(options.team_id.to_string())
            .args(["--timezone", &options.timezone]);
        if let Some(modifiers) = &options.modifiers {
            cmd.args(["--modifiers", &modifiers.to_string()]);
        }
        if let Some(limit_context) = &options.limit_context {
            cmd.args(["--limit-context", limit_context]);
        }
        if !options.settings {
            cmd.arg("--no-settings");
        }
        for spec in &options.materialized {
            cmd.args(["--materialized", spec]);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        if let Some(mut stdin) = child.stdin.take() {
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

    fn run_hog(&self, program: &Path) -> anyhow::Result<HogRun> {
        use std::io::Read as _;
        let mut child = Command::new(&self.bin)
            .args(["hog", "run", "--result"])
            .arg(program)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        // Read both pipes while waiting, so a chatty program cannot block on a full pipe.
        let mut out = child.stdout.take().context("the target's stdout")?;
        let mut err = child.stderr.take().context("the target's stderr")?;
        let out = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = err.read_to_end(&mut s);
            s
        });
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the target")? {
                break status;
            }
            if started.elapsed() > HOG_RUN_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!(
                    "`{} hog run {}` did not finish within {} s",
                    self.bin.display(),
                    program.display(),
                    HOG_RUN_DEADLINE.as_secs()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        Ok(HogRun {
            status: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        })
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

/// A team of the target, as the HTTP suites use it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Team {
    /// The team (project) id in `/api/projects/:id/query`.
    pub id: i64,
    /// The public project token capture takes (`phc_…`).
    pub api_token: String,
    /// The secret key the query API takes as `Authorization: Bearer` (`phx_…`).
    pub personal_api_key: String,
}

/// Where the HTTP suites get teams from.
#[derive(Debug, Clone)]
pub enum TeamSource {
    /// A program that creates a team and prints it as JSON (`id`, `api_token`, `personal_api_key`);
    /// the team's name is appended as the last argument (e.g. `hogref team create --name`).
    Command {
        /// The program.
        program: PathBuf,
        /// Its arguments before the name.
        args: Vec<String>,
        /// Extra environment (e.g. `DATABASE_URL`).
        env: Vec<(String, String)>,
    },
    /// Teams made beforehand (`--teams FILE`: a JSON array of them), handed out in turn. At least two
    /// are needed for the isolation checks.
    Fixed(Vec<Team>),
}

/// An implementation reached through its HTTP APIs (capture and query): `--target URL`.
#[derive(Debug)]
pub struct HttpTarget {
    /// Base URL of the capture API (`/e`, `/batch`, ...).
    pub capture_url: String,
    /// Base URL of the query API (`/api/projects/:id/query`).
    pub query_url: String,
    /// Where teams come from.
    pub teams: TeamSource,
    next_fixed: std::sync::atomic::AtomicUsize,
}

impl HttpTarget {
    /// A target whose capture and query APIs live at the given base URLs.
    pub fn new(capture_url: &str, query_url: &str, teams: TeamSource) -> HttpTarget {
        HttpTarget {
            capture_url: capture_url.trim_end_matches('/').to_owned(),
            query_url: query_url.trim_end_matches('/').to_owned(),
            teams,
            next_fixed: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// A team to run a case with: a fresh one from a [`TeamSource::Command`], else the next fixed one.
    pub fn new_team(&self, name: &str) -> anyhow::Result<Team> {
        match &self.teams {
            TeamSource::Command { program, args, env } => {
                let output = Command::new(program)
                    .args(args)
                    .arg(name)
                    .envs(env.iter().map(|(k, v)| (k, v)))
                    .output()
                    .with_context(|| format!("starting {}", program.display()))?;
                let stdout = String::from_utf8_lossy(&output.stdout);
                anyhow::ensure!(
                    output.status.success(),
                    "creating a team failed ({}): {}{}",
                    output.status,
                    stdout.trim(),
                    String::from_utf8_lossy(&output.stderr).trim()
                );
                serde_json::from_str(stdout.trim())
                    .with_context(|| format!("the team command printed no team JSON: {stdout}"))
            }
            TeamSource::Fixed(teams) => {
                anyhow::ensure!(!teams.is_empty(), "no teams given (--teams FILE is empty)");
                let i = self
                    .next_fixed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(teams[i % teams.len()].clone())
            }
        }
    }

    /// Two different teams (for isolation checks).
    pub fn two_teams(&self, name: &str) -> anyhow::Result<(Team, Team)> {
        let a = self.new_team(&format!("{name}-a"))?;
        let mut b = self.new_team(&format!("{name}-b"))?;
        if b.id == a.id {
            b = self.new_team(&format!("{name}-b"))?;
        }
        anyhow::ensure!(
            a.id != b.id,
            "the isolation checks need two different teams (--teams lists one)"
        );
        Ok((a, b))
    }
}

impl Target for HttpTarget {
    fn name(&self) -> String {
        if self.capture_url == self.query_url {
            format!("http:{}", self.capture_url)
        } else {
            format!("http:capture={},query={}", self.capture_url, self.query_url)
        }
    }

    fn supports(&self, capability: &str) -> bool {
        matches!(capability, "capture" | "query-api" | "ingestion")
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

    fn http(&self) -> Option<&HttpTarget> {
        Some(self)
    }
}

impl ReferenceTarget {
    /// The environment of the stack the server runs on (given to `hogref team create`).
    fn stack_env(&self) -> &[(String, String)] {
        match &self.http.teams {
            TeamSource::Command { env, .. } => env,
            _ => &[],
        }
    }
}

/// Hogref's reference implementation: its command-line tool for the internal suites and a running
/// `hogref serve` for the HTTP suites.
#[derive(Debug)]
pub struct ReferenceTarget {
    /// The `hogref` binary.
    pub cli: CliTarget,
    /// The server it runs.
    pub http: HttpTarget,
}

impl Target for ReferenceTarget {
    fn name(&self) -> String {
        format!("{} + {}", self.cli.name(), self.http.name())
    }

    fn supports(&self, capability: &str) -> bool {
        self.cli.supports(capability)
            || self.http.supports(capability)
            || (capability == "hogql-exec" && clickhouse_url(self.stack_env()).is_some())
    }

    fn prepare_clickhouse(&self, root: &Path, database: &str) -> anyhow::Result<String> {
        self.cli.apply_migrations(root, database, self.stack_env())
    }

    fn parse_hogql(&self, entry: Entry, src: &str) -> anyhow::Result<serde_json::Value> {
        self.cli.parse_hogql(entry, src)
    }

    fn check_migrations(
        &self,
        path: &Path,
        dialect: Option<&str>,
    ) -> anyhow::Result<Vec<MigrationDiagnostic>> {
        self.cli.check_migrations(path, dialect)
    }

    fn compile_hogql(
        &self,
        src: &str,
        options: &CompileOptions,
    ) -> anyhow::Result<serde_json::Value> {
        self.cli.compile_hogql(src, options)
    }

    fn run_hog(&self, program: &Path) -> anyhow::Result<HogRun> {
        self.cli.run_hog(program)
    }

    fn http(&self) -> Option<&HttpTarget> {
        Some(&self.http)
    }
}
