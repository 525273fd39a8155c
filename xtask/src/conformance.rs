//! `cargo xtask conformance`: every suite against a target, with progress, a summary table, JUnit XML and
//! an HTML report under `target/conformance/`; exits 1 on any failure or on a known gap that passes.
//!
//! The default target is Hogref's reference implementation: the `hogref` binary (built here) for the
//! internal suites, and for the HTTP suites (capture, ingestion, query-api) a service stack
//! (`--provider`, default as `cargo xtask stack`) plus `hogref serve` on a free port, both started here
//! and stopped at the end (server log: `target/conformance/server.log`). `--bin` points the internal
//! suites at another program with the same command-line interface; `--target URL` checks an
//! implementation through its HTTP APIs only, and the suites that need internals are listed as not run.
//! Its teams come from `--teams FILE` (a JSON array of `{id, api_token, personal_api_key}`), else from
//! `hogref team create` against `DATABASE_URL` (the target's PostgreSQL).

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;
use conformance::target::{CliTarget, HttpTarget, ReferenceTarget, Target, TeamSource};
use conformance::{Outcome, RunOptions, known_gaps::KnownGaps, report, suites};

use crate::paths::{cargo_target_dir, workspace_root};
use crate::stack_cmd::{self, ProviderArg, StackTarget};

#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {
    /// Only cases whose `suite/case-path` contains this text (e.g. `hogql-parse`, `CH002`).
    #[arg(long)]
    filter: Option<String>,
    /// Check another implementation's command-line tool instead of Hogref's `hogref`.
    #[arg(long, conflicts_with = "target")]
    bin: Option<PathBuf>,
    /// Check an implementation through its capture and query HTTP APIs only (base URL).
    #[arg(long)]
    target: Option<String>,
    /// Base URL of the target's query API, when it is not the `--target` URL.
    #[arg(long, requires = "target")]
    query_target: Option<String>,
    /// Teams of the `--target` implementation: a JSON array of `{id, api_token, personal_api_key}`
    /// (at least two). Without it, teams are made with `hogref team create` against `DATABASE_URL`.
    #[arg(long, requires = "target")]
    teams: Option<PathBuf>,
    /// Who provides the service stack the reference server runs on: local, docker or external
    /// (default: docker when available, else local).
    #[arg(long, value_enum, conflicts_with = "target")]
    provider: Option<ProviderArg>,
    /// Where reports go (default: `target/conformance/` in the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// The HTTP suites: they need a running server.
const HTTP_SUITES: &[&str] = &["capture", "ingestion", "query-api", "insights", "attacks"];

/// The reference server and its stack, stopped when dropped.
struct Services {
    server: Option<Child>,
    stack: Option<stack::Stack>,
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            stop_server(&mut server, "conformance");
        }
        if let Some(stack) = self.stack.take() {
            let started = Instant::now();
            match stack.stop() {
                Ok(_) => eprintln!(
                    "conformance: stack down in {:.1}s",
                    started.elapsed().as_secs_f64()
                ),
                Err(e) => eprintln!("conformance: stopping the stack failed: {e}"),
            }
        }
    }
}

/// SIGTERM (graceful shutdown), then SIGKILL after 15 s; `who` names the command in a timeout.
pub(crate) fn stop_server(server: &mut Child, who: &str) {
    let _ = stack::status_with_deadline(
        &format!("{who}: kill -TERM hogref serve"),
        Command::new("kill").args(["-TERM", &server.id().to_string()]),
        Duration::from_secs(10),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = server.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = server.kill();
    let _ = server.wait();
}

pub(crate) fn run(args: ConformanceArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let total = Instant::now();
    let gaps = KnownGaps::load(&root)?;
    let mut all = suites::all();
    // By name, but `attacks` last: an attack the target does not survive must not fail other suites.
    all.sort_by_key(|s| (s.name() == "attacks", s.name()));
    let options = RunOptions {
        filter: args.filter.clone(),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| root.join("target").join("conformance"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let mut services = Services {
        server: None,
        stack: None,
    };
    let target: Box<dyn Target> = match (&args.target, &args.bin) {
        (Some(url), _) => {
            let teams = match &args.teams {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    TeamSource::Fixed(serde_json::from_str(&text).with_context(|| {
                        format!("{}: expected a JSON array of teams", path.display())
                    })?)
                }
                None if !wants_suites(
                    &root,
                    &all,
                    &options,
                    &["ingestion", "query-api", "insights", "attacks"],
                )? =>
                {
                    TeamSource::Fixed(Vec::new())
                }
                None => {
                    anyhow::ensure!(
                        std::env::var("DATABASE_URL").is_ok_and(|v| !v.trim().is_empty()),
                        "--target needs teams: pass --teams FILE, or set DATABASE_URL to the target's PostgreSQL so `hogref team create` can make them"
                    );
                    TeamSource::Command {
                        program: build_hogref()?,
                        args: vec!["team".into(), "create".into(), "--name".into()],
                        env: Vec::new(),
                    }
                }
            };
            let query_url = args.query_target.as_deref().unwrap_or(url);
            Box::new(HttpTarget::new(url, query_url, teams))
        }
        (None, Some(bin)) => Box::new(CliTarget { bin: bin.clone() }),
        (None, None) => {
            let bin = build_hogref()?;
            let cli = CliTarget { bin: bin.clone() };
            if wants_suites(&root, &all, &options, HTTP_SUITES)? {
                let http = start_reference_server(&root, &bin, &args, &out, &mut services)?;
                Box::new(ReferenceTarget { cli, http })
            } else {
                eprintln!("conformance: no HTTP suite selected; no stack or server needed");
                Box::new(cli)
            }
        }
    };

    let tty = std::io::stderr().is_terminal();
    eprintln!("conformance: running against {}", target.name());
    let mut last_suite = "";
    let mut failed = 0usize;
    let result = conformance::run(
        &root,
        target.as_ref(),
        &all,
        &gaps,
        &options,
        |r, done, total| {
            if r.outcome.is_failure() {
                failed += 1;
            }
            let mark = match r.outcome {
                Outcome::Passed => "ok",
                Outcome::KnownGap(_) => "gap",
                Outcome::Skipped(_) => "skip",
                _ => "FAIL",
            };
            if tty {
                let width = 30;
                let filled = done * width / total.max(1);
                eprint!(
                    "\r[{}{}] {done}/{total} {failed} failed  {:<40.40}",
                    "#".repeat(filled),
                    ".".repeat(width - filled),
                    r.case.suite
                );
                let _ = std::io::stderr().flush();
                if done == total {
                    eprintln!();
                }
            } else {
                if r.case.suite != last_suite {
                    eprintln!("conformance: suite {}", r.case.suite);
                    last_suite = r.case.suite;
                }
                if r.outcome.is_failure() || done == total || done % 100 == 0 {
                    eprintln!("  {done}/{total} {mark} {}", r.case.id);
                }
            }
        },
    )?;
    let mut result = result;
    for (name, reason) in suites::PLANNED {
        result
            .unavailable_suites
            .push(((*name).to_string(), (*reason).to_string()));
    }

    drop(services);
    let summary = report::terminal(&result, &target.name());
    println!("{summary}");
    std::fs::write(out.join("junit.xml"), report::junit(&result))?;
    std::fs::write(
        out.join("report.html"),
        report::html(&result, &target.name()),
    )?;
    std::fs::write(out.join("summary.txt"), &summary)?;
    println!(
        "reports: {} (JUnit), {} (HTML)",
        out.join("junit.xml").display(),
        out.join("report.html").display()
    );
    eprintln!("conformance: total {:.1}s", total.elapsed().as_secs_f64());
    if !result.is_success() {
        std::process::exit(1);
    }
    Ok(())
}

/// Whether any case of the `names` suites passes the filter (e.g. whether a stack and a server are
/// worth starting).
fn wants_suites(
    root: &Path,
    all: &[Box<dyn suites::Suite>],
    options: &RunOptions,
    names: &[&str],
) -> anyhow::Result<bool> {
    for suite in all.iter().filter(|s| names.contains(&s.name())) {
        let Some(filter) = &options.filter else {
            return Ok(true);
        };
        if suite
            .cases(root)?
            .iter()
            .any(|c| format!("{}/{}", c.suite, c.id).contains(filter.as_str()))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Brings a stack up (`conformance-<pid>`), starts `hogref serve` on a free port against it, waits
/// until it answers, and returns the HTTP target (teams made with `hogref team create`).
fn start_reference_server(
    root: &Path,
    bin: &Path,
    args: &ConformanceArgs,
    out: &Path,
    services: &mut Services,
) -> anyhow::Result<HttpTarget> {
    reap_stale_stacks();
    let name = format!("conformance-{}", std::process::id());
    eprintln!("conformance: bringing stack `{name}` up...");
    let started = Instant::now();
    let stack = stack_cmd::up(&StackTarget {
        provider: args.provider,
        name: name.clone(),
    })?;
    eprintln!(
        "conformance: stack up in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let env: Vec<(String, String)> = stack
        .state()
        .env_vars()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    services.stack = Some(stack);

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log_path = out.join("server.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!(
        "conformance: starting hogref serve on {base} (log {})...",
        log_path.display()
    );
    let started = Instant::now();
    let server = Command::new(bin)
        .current_dir(root)
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOGREF_LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let server_pid = server.id();
    services.server = Some(server);
    install_interrupt_handler(name, server_pid);
    wait_until_ready(&base, services, &log_path)?;
    eprintln!(
        "conformance: server ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(HttpTarget::new(
        &base,
        &base,
        TeamSource::Command {
            program: bin.to_path_buf(),
            args: vec!["team".into(), "create".into(), "--name".into()],
            env,
        },
    ))
}

fn wait_until_ready(base: &str, services: &mut Services, log_path: &Path) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(r) = conformance::http::send(base, "GET", "/_readiness", &[], &[])
            && r.status == 200
        {
            return Ok(());
        }
        if let Some(server) = services.server.as_mut()
            && let Ok(Some(status)) = server.try_wait()
        {
            anyhow::bail!(
                "hogref serve exited ({status}) before answering /_readiness (log {}):\n{}",
                log_path.display(),
                log_tail(log_path)
            );
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "hogref serve did not answer /_readiness within 120s (log {}):\n{}",
            log_path.display(),
            log_tail(log_path)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The last lines of a log, for failure messages.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(15)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// On Ctrl-C: stop the server, bring the stack down, exit 130.
fn install_interrupt_handler(name: String, server_pid: u32) {
    let _ = ctrlc::set_handler(move || {
        eprintln!("\ninterrupted; stopping hogref serve and bringing stack `{name}` down...");
        let _ = stack::status_with_deadline(
            "conformance: kill -KILL hogref serve",
            Command::new("kill").args(["-KILL", &server_pid.to_string()]),
            Duration::from_secs(10),
        );
        if let Err(e) = stack::down(&name) {
            eprintln!("{e}");
        }
        std::process::exit(130);
    });
}

/// Brings down `conformance-<pid>` stacks whose run is gone (killed without a chance to clean up).
fn reap_stale_stacks() {
    let Ok(entries) = std::fs::read_dir(stack::cache_dir().join("stacks")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("conformance-")
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        eprintln!("conformance: bringing down stale stack `{name}` (its run is gone)");
        if let Err(e) = stack::down(&name) {
            eprintln!("conformance: {e}");
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// Builds `hogref` into the shared cache target dir (the same one `cargo xtask test` uses) and returns its path.
fn build_hogref() -> anyhow::Result<PathBuf> {
    let target_dir = cargo_target_dir();
    eprintln!(
        "conformance: building hogref (target dir {})...",
        target_dir.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Generous: a cold build on a loaded 2-core machine; past it the build is killed and named.
    let status = stack::status_with_deadline(
        "conformance: cargo build -p hogref",
        Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--locked", "-p", "hogref"])
            .env("CARGO_TARGET_DIR", &target_dir),
        Duration::from_secs(3600),
    )
    .map_err(anyhow::Error::msg)?;
    anyhow::ensure!(status.success(), "building hogref failed ({status})");
    Ok(target_dir.join("debug").join("hogref"))
}
