//! `cargo xtask test`: build the workspace's tests, bring a stack up, run every test binary against it
//! under a watchdog, bring the stack down.
//!
//! Plain `cargo test` stays hermetic: service-backed tests compile only with a member's `services`
//! feature, which this command discovers with `cargo metadata --no-deps`.
//!
//! Nothing here may hang: the test binaries are listed by `cargo test --no-run --message-format=json`
//! and run one by one, each in its own process group under a deadline (`--binary-timeout`, 900 s). A
//! binary past its deadline is reported with the tests libtest said were still running (`test X has
//! been running for over 60 seconds`) and killed with everything it started; the run goes on with the
//! next binary, brings down any private stack a killed test left behind (`<stack>-*`), and exits
//! non-zero at the end. After each binary the shared broker is probed; one that no longer serves from
//! its storage is reported and restarted, so one broker failure does not cascade into later tests.
//! Each binary's own `test result:` line is passed through; the run ends with a summary per failed
//! binary and one plain line `N passed, M failed`.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Args;

use crate::paths::{cargo_target_dir, workspace_root};
use crate::stack_cmd::{self, ProviderArg, StackTarget};

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    /// local, docker or external (CLICKHOUSE_URL, KAFKA_HOSTS, DATABASE_URL, REDIS_URL); default: docker
    /// when available, else local.
    #[arg(long, value_enum)]
    provider: Option<ProviderArg>,
    /// Deadline of one test binary in seconds; past it the binary is reported with its running tests,
    /// killed (its whole process group) and counted as failed, and the run goes on.
    #[arg(long, default_value_t = 900)]
    binary_timeout: u64,
    /// Extra arguments for `cargo test`, e.g. `-- -p scenarios -- --nocapture` (with `-p`, only the named
    /// packages run, instead of the whole workspace). Arguments after a second `--` go to every test
    /// binary.
    #[arg(last = true)]
    cargo_args: Vec<String>,
}

pub(crate) fn run(args: TestArgs) -> anyhow::Result<()> {
    // One clear line (plus the cause chain), never a backtrace dump: print here and exit non-zero.
    if let Err(e) = run_inner(args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}

fn run_inner(args: TestArgs) -> anyhow::Result<()> {
    let total = Instant::now();
    let root = workspace_root();
    let target_dir = cargo_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let (build_args, binary_args) = split_cargo_args(&args.cargo_args);

    let features = services_features(&root, &cargo)?;
    if features.is_empty() {
        eprintln!("test: no workspace member declares a `services` feature");
    } else {
        eprintln!("test: service-backed features: {}", features.join(", "));
    }
    // `-p NAME` in the extra arguments narrows the run to those packages (and their features).
    let selected = selected_packages(build_args);
    let features: Vec<String> = features
        .into_iter()
        .filter(|f| {
            selected.is_empty()
                || selected
                    .iter()
                    .any(|p| f.strip_suffix("/services") == Some(p))
        })
        .collect();
    let cargo_test = |extra: &[&str]| {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&root)
            .args(["test", "--locked"])
            .env("CARGO_TARGET_DIR", &target_dir);
        if selected.is_empty() {
            cmd.arg("--workspace");
        }
        if !features.is_empty() {
            cmd.arg("--features").arg(features.join(","));
        }
        cmd.args(extra);
        cmd
    };

    let step = Instant::now();
    eprintln!(
        "test: [1/4] building the workspace's tests (target dir {})...",
        target_dir.display()
    );
    let mut build = cargo_test(&["--no-run", "--message-format=json-diagnostic-rendered-ansi"]);
    build.args(build_args).stdout(Stdio::piped());
    let binaries = list_test_binaries(build)?;
    eprintln!(
        "test: [1/4] built {} test binaries in {:.0}s",
        binaries.len(),
        step.elapsed().as_secs_f64()
    );

    // The HogQL parse oracle (PostHog's parser from PyPI) backs the parity test; install it up front so that
    // the test runs instead of reporting that it could not.
    crate::oracle::ensure_installed(false).context("installing the HogQL parse oracle")?;
    // The official PostHog SDKs the SDK scenario tests drive (pinned; under the cache, outside the clone).
    crate::sdk::ensure_installed()
        .context("installing the PostHog SDKs (posthog-python, posthog-node)")?;
    // PostHog's HogVM from npm, the oracle of the differential HogVM test.
    crate::hogvm_oracle::ensure_installed()
        .context("installing the HogVM oracle (@posthog/hogvm)")?;

    let step = Instant::now();
    reap_stale_test_stacks();
    let name = format!("test-{}", std::process::id());
    eprintln!("test: [2/4] bringing stack `{name}` up...");
    install_ctrlc(&name);
    let target = StackTarget {
        provider: args.provider,
        name: name.clone(),
    };
    let stack = stack_cmd::up(&target)?;
    eprintln!(
        "test: [2/4] stack up in {:.1}s",
        step.elapsed().as_secs_f64()
    );

    let step = Instant::now();
    let scope = if selected.is_empty() {
        "--workspace".to_string()
    } else {
        format!("-p {}", selected.join(" -p "))
    };
    eprintln!(
        "test: [3/4] {} test binaries ({scope}) against stack `{name}`, each within {}s...",
        binaries.len(),
        args.binary_timeout
    );
    let mut env: Vec<(String, String)> = vec![
        // Fault tests name their private brokers after the stack (and `stack::restart_kafka` finds it).
        ("HOGREF_STACK".into(), name.clone()),
        // Tests that need the oracle fail without it here, rather than report and return.
        ("HOGREF_REQUIRE_ORACLE".into(), "1".into()),
    ];
    for (var, value) in stack.state().env_vars() {
        eprintln!("test:       {var}={value}");
        env.push((var, value));
    }
    let limit = Duration::from_secs(args.binary_timeout);
    let mut outcomes = Vec::new();
    for binary in &binaries {
        let mut cmd = Command::new(&binary.executable);
        cmd.current_dir(&binary.package_dir)
            .args(binary_args)
            .env("CARGO_MANIFEST_DIR", &binary.package_dir)
            .env("CARGO_PKG_NAME", &binary.package)
            .envs(env.iter().map(|(k, v)| (k, v)));
        eprintln!(
            "     Running {} ({})",
            binary.source,
            binary.executable.display()
        );
        let outcome = run_under_watchdog(&binary.label(), cmd, limit, true);
        bring_down_private_stacks(&name);
        heal_shared_broker(&name, &binary.label());
        outcomes.push((binary.label(), outcome));
    }
    if binaries.iter().any(|b| b.has_lib) {
        // Doc tests are compiled and run by cargo itself (same selection and features as the build, so
        // nothing is rebuilt): the same watchdog guards it.
        let mut cmd = cargo_test(&["--doc"]);
        cmd.args(build_args).envs(env.iter().map(|(k, v)| (k, v)));
        if !binary_args.is_empty() {
            cmd.arg("--").args(binary_args);
        }
        eprintln!("   Doc-tests ({scope})");
        let outcome = run_under_watchdog("doc tests", cmd, limit, true);
        outcomes.push(("doc tests".to_string(), outcome));
    }
    eprintln!(
        "test: [3/4] tests finished in {:.0}s",
        step.elapsed().as_secs_f64()
    );

    let step = Instant::now();
    eprintln!("test: [4/4] bringing stack `{name}` down...");
    bring_down_private_stacks(&name);
    let stopped = stack.stop();
    match &stopped {
        Ok(times) => {
            let list: Vec<String> = times.iter().map(|(c, s)| format!("{c} {s:.2}s")).collect();
            eprintln!(
                "test: [4/4] stack down in {:.1}s ({})",
                step.elapsed().as_secs_f64(),
                list.join(", ")
            );
        }
        Err(e) => eprintln!("test: [4/4] stopping the stack failed: {e}"),
    }
    eprintln!("test: total {:.0}s", total.elapsed().as_secs_f64());
    let summary = Summary::of(&outcomes);
    for line in summary.failure_lines() {
        eprintln!("test: {line}");
    }
    // The closing line CI reads.
    println!("{} passed, {} failed", summary.passed, summary.failed);
    let _ = std::io::stdout().flush();
    anyhow::ensure!(
        summary.failed_binaries == 0,
        "{} of {} test binaries failed or timed out",
        summary.failed_binaries,
        outcomes.len()
    );
    stopped.context("stopping the stack")?;
    eprintln!("test: all tests passed");
    Ok(())
}

/// One test executable from `cargo test --no-run`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TestBinary {
    package: String,
    package_dir: PathBuf,
    /// The target's name (`faults`, `stack`, …).
    target: String,
    /// Its source file, relative to the workspace when possible (`tests/faults.rs`).
    source: String,
    executable: PathBuf,
    /// Whether this is the unit-test binary of a library (its package has doc tests).
    has_lib: bool,
}

impl TestBinary {
    fn label(&self) -> String {
        format!("{} {} ({})", self.package, self.target, self.source)
    }
}

/// Reads one `compiler-artifact` message of `cargo --message-format=json`; `None` for anything that is
/// not a test executable.
fn parse_artifact(line: &str, root: &Path) -> Option<TestBinary> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["reason"] != "compiler-artifact" || v["profile"]["test"] != true {
        return None;
    }
    let executable = PathBuf::from(v["executable"].as_str()?);
    let manifest = PathBuf::from(v["manifest_path"].as_str()?);
    let package_dir = manifest.parent()?.to_path_buf();
    let target = v["target"]["name"].as_str()?.to_string();
    let src = PathBuf::from(v["target"]["src_path"].as_str()?);
    let source = src.strip_prefix(root).unwrap_or(&src).display().to_string();
    let kinds: Vec<&str> = v["target"]["kind"]
        .as_array()
        .map(|a| a.iter().filter_map(|k| k.as_str()).collect())
        .unwrap_or_default();
    // `package_id` is `path+file:///…/name#version` (or `name version (…)` in older cargo).
    let package = package_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let package = cargo_package_name(v["package_id"].as_str().unwrap_or("")).unwrap_or(package);
    Some(TestBinary {
        package,
        package_dir,
        target,
        source,
        executable,
        has_lib: kinds.iter().any(|k| k.ends_with("lib")),
    })
}

/// The package name in a cargo package id (`path+file:///w/stack#0.0.0`, `path+file:///w/x#name@0.1.0`,
/// or the old `name 0.1.0 (path+file:///…)`).
fn cargo_package_name(id: &str) -> Option<String> {
    if let Some((url, fragment)) = id.rsplit_once('#') {
        if let Some((name, _version)) = fragment.split_once('@') {
            return Some(name.to_string());
        }
        return url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .map(str::to_string);
    }
    id.split_whitespace().next().map(str::to_string)
}

/// Runs the `--no-run` build, printing its diagnostics, and returns the test executables in a stable
/// order (package, then target).
fn list_test_binaries(mut build: Command) -> anyhow::Result<Vec<TestBinary>> {
    let root = workspace_root();
    let mut child = build.spawn().context("running cargo test --no-run")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let mut binaries = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's output")?;
        if let Some(binary) = parse_artifact(&line, &root) {
            binaries.push(binary);
            continue;
        }
        // Compiler warnings and errors, rendered as cargo would print them.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["reason"] == "compiler-message"
            && let Some(rendered) = v["message"]["rendered"].as_str()
        {
            eprint!("{rendered}");
        }
    }
    let status = child.wait().context("waiting for cargo test --no-run")?;
    anyhow::ensure!(status.success(), "building the tests failed ({status})");
    binaries.sort_by(|a, b| (&a.package, &a.target).cmp(&(&b.package, &b.target)));
    binaries.dedup_by(|a, b| a.executable == b.executable);
    Ok(binaries)
}

/// What libtest said while a binary ran.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct LibtestLog {
    passed: u64,
    failed: u64,
    /// Whether a `test result:` line was seen.
    finished: bool,
    /// Tests libtest reported as running for over 60 s, minus those that finished since.
    slow: Vec<String>,
    last_line: String,
}

impl LibtestLog {
    fn read_line(&mut self, line: &str) {
        let trimmed = line.trim();
        if !trimmed.is_empty() {
            self.last_line = trimmed.to_string();
        }
        if let Some(rest) = trimmed.strip_prefix("test result: ") {
            self.finished = true;
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                for pair in words.windows(2) {
                    let n = pair[0].parse::<u64>().unwrap_or(0);
                    match pair[1].trim_end_matches([';', '.']) {
                        "passed" => self.passed += n,
                        "failed" => self.failed += n,
                        _ => {}
                    }
                }
            }
        } else if let Some(name) = trimmed
            .strip_prefix("test ")
            .and_then(|r| r.strip_suffix(" has been running for over 60 seconds"))
        {
            self.slow.push(name.to_string());
        } else if let Some(rest) = trimmed.strip_prefix("test ")
            && let Some((name, _outcome)) = rest.rsplit_once(" ... ")
        {
            self.slow.retain(|s| s != name);
        }
    }
}

/// How one binary ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// It exited; `success` is its exit status.
    Exited { success: bool, log: LibtestLog },
    /// It ran past its deadline and was killed.
    TimedOut { after: Duration, log: LibtestLog },
    /// It could not be started.
    NotStarted(String),
}

/// Runs `cmd` in a process group of its own, passing its output through (when `echo`); past `limit`
/// the whole group is killed and the tests still running are named.
fn run_under_watchdog(label: &str, mut cmd: Command, limit: Duration, echo: bool) -> Outcome {
    use std::os::unix::process::CommandExt as _;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Outcome::NotStarted(format!("cannot start {label}: {e}")),
    };
    let log = Arc::new(Mutex::new(LibtestLog::default()));
    let reader = child.stdout.take().map(|stdout| {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut out = std::io::stdout();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if echo {
                    let _ = writeln!(out, "{line}");
                    let _ = out.flush();
                }
                if let Ok(mut log) = log.lock() {
                    log.read_line(&line);
                }
            }
        })
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) | Err(_) => break None,
        }
    };
    if status.is_none() {
        let pgid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
        let _ = child.wait();
    }
    // Anything the binary started outside its group may still hold the pipe; give the reader a moment.
    if let Some(reader) = reader {
        let wait = Instant::now();
        while !reader.is_finished() && wait.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if reader.is_finished() {
            let _ = reader.join();
        }
    }
    let log = log.lock().map(|l| l.clone()).unwrap_or_default();
    match status {
        Some(status) => Outcome::Exited {
            success: status.success(),
            log,
        },
        None => {
            let running = if log.slow.is_empty() {
                "none reported as running over 60 s".to_string()
            } else {
                log.slow.join(", ")
            };
            eprintln!(
                "test: TIMEOUT {label}: still running after {}s, killed (process group); running tests: {running}; last line: {}",
                limit.as_secs(),
                log.last_line
            );
            Outcome::TimedOut {
                after: start.elapsed(),
                log,
            }
        }
    }
}

/// Totals over every binary, and a line per failed one.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    passed: u64,
    failed: u64,
    failed_binaries: usize,
    lines: Vec<String>,
}

impl Summary {
    fn of(outcomes: &[(String, Outcome)]) -> Summary {
        let mut summary = Summary::default();
        for (label, outcome) in outcomes {
            match outcome {
                Outcome::Exited { success, log } => {
                    summary.passed += log.passed;
                    summary.failed += log.failed;
                    if !success {
                        summary.failed_binaries += 1;
                        // A binary that failed without a failed test (a crash, a setup error) counts once.
                        if log.failed == 0 {
                            summary.failed += 1;
                        }
                        summary.lines.push(format!(
                            "FAILED {label}: {} failed{}",
                            log.failed.max(1),
                            if log.finished {
                                String::new()
                            } else {
                                format!(
                                    " (exited without a result line; last line: {})",
                                    log.last_line
                                )
                            }
                        ));
                    }
                }
                Outcome::TimedOut { after, log } => {
                    summary.passed += log.passed;
                    let hung = log.slow.len().max(1) as u64;
                    summary.failed += log.failed + hung;
                    summary.failed_binaries += 1;
                    summary.lines.push(format!(
                        "TIMEOUT {label}: killed after {:.0}s; running tests: {}",
                        after.as_secs_f64(),
                        if log.slow.is_empty() {
                            "none reported as running over 60 s".to_string()
                        } else {
                            log.slow.join(", ")
                        }
                    ));
                }
                Outcome::NotStarted(why) => {
                    summary.failed += 1;
                    summary.failed_binaries += 1;
                    summary.lines.push(format!("FAILED {label}: {why}"));
                }
            }
        }
        summary
    }

    fn failure_lines(&self) -> &[String] {
        &self.lines
    }
}

/// Probes the shared stack's broker after a binary; a broker that no longer serves from its storage is
/// reported (naming the binary after which it was found so) and restarted, so that one broker failure
/// does not fail every later Kafka test.
fn heal_shared_broker(name: &str, after: &str) {
    let Err(why) = stack::kafka_health(name) else {
        return;
    };
    eprintln!("test: the shared broker is unhealthy after {after}: {why}");
    match stack::restart_kafka(name) {
        Ok(secs) => eprintln!("test: restarted the shared broker; it answered after {secs:.2}s"),
        Err(e) => eprintln!("test: restarting the shared broker failed: {e}"),
    }
}

/// Brings down every stack named `<name>-…`: private brokers of tests (a killed test cannot stop its own).
fn bring_down_private_stacks(name: &str) {
    let Ok(entries) = std::fs::read_dir(stack::cache_dir().join("stacks")) else {
        return;
    };
    let prefix = format!("{name}-");
    for entry in entries.flatten() {
        let stack_name = entry.file_name().to_string_lossy().into_owned();
        if !stack_name.starts_with(&prefix) {
            continue;
        }
        eprintln!("test: bringing down `{stack_name}`, left behind by a test");
        if let Err(e) = stack::down(&stack_name) {
            eprintln!("test: {e}");
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// The packages named with `-p`/`--package` in `cargo test` arguments.
fn selected_packages(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg == "-p" || arg == "--package" {
            out.extend(iter.next().cloned());
        } else if let Some(name) = arg.strip_prefix("--package=").or(arg.strip_prefix("-p"))
            && !name.is_empty()
        {
            out.push(name.to_string());
        }
    }
    out
}

/// The `cargo test` arguments before a `--` (build selection), and after it (test-binary arguments).
fn split_cargo_args(args: &[String]) -> (&[String], &[String]) {
    match args.iter().position(|a| a == "--") {
        Some(idx) => (&args[..idx], &args[idx + 1..]),
        None => (args, &[]),
    }
}

/// `<package>/services` for every workspace member that declares a `services` feature.
fn services_features(
    root: &std::path::Path,
    cargo: &std::ffi::OsStr,
) -> anyhow::Result<Vec<String>> {
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("parsing cargo metadata output")?;
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let mut features: Vec<String> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["id"].as_str().is_some_and(|id| members.contains(&id)))
        .filter(|p| p["features"].get("services").is_some())
        .filter_map(|p| p["name"].as_str().map(|n| format!("{n}/services")))
        .collect();
    features.sort();
    Ok(features)
}

/// On Ctrl-C (or SIGTERM), stop the stack before exiting; its processes sit in their own process groups,
/// so the terminal's signal does not reach them.
pub(crate) fn install_ctrlc(name: &str) {
    let name = name.to_string();
    let _ = ctrlc::set_handler(move || {
        eprintln!("\ninterrupted; bringing stack `{name}` down...");
        match stack::down(&name) {
            Ok(_) => eprintln!("stack `{name}` is down"),
            Err(e) => eprintln!("{e}"),
        }
        std::process::exit(130);
    });
}

/// Brings down `test-<pid>` stacks whose `cargo xtask test` process is gone (killed without a chance to
/// clean up), so their services do not pile up.
fn reap_stale_test_stacks() {
    let Ok(entries) = std::fs::read_dir(stack::cache_dir().join("stacks")) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // `test-<pid>`, and the private stacks of its tests, `test-<pid>-<tag>-<pid>`.
        let Some(pid) = name
            .strip_prefix("test-")
            .and_then(|p| p.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        eprintln!("test: bringing down stale stack `{name}` (its test run is gone)");
        if let Err(e) = stack::down(&name) {
            eprintln!("test: {e}");
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_read_from_every_spelling_of_p() {
        let args: Vec<String> = [
            "-p",
            "a",
            "--package",
            "b",
            "-pc",
            "--package=d",
            "--release",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(selected_packages(&args), ["a", "b", "c", "d"]);
    }

    #[test]
    fn cargo_args_split_at_the_first_double_dash() {
        let args: Vec<String> = ["-p", "x", "--", "--nocapture"].map(String::from).to_vec();
        let (build, run) = split_cargo_args(&args);
        assert_eq!(build, ["-p", "x"]);
        assert_eq!(run, ["--nocapture"]);
    }
}

#[cfg(test)]
mod watchdog_tests {
    use super::*;

    #[test]
    fn test_executables_are_read_from_cargo_json_and_everything_else_is_skipped() {
        let root = Path::new("/w");
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/reference/ingest-worker#0.0.0","manifest_path":"/w/reference/ingest-worker/Cargo.toml","target":{"kind":["test"],"crate_types":["bin"],"name":"faults","src_path":"/w/reference/ingest-worker/tests/faults.rs","edition":"2024","doc":false,"doctest":false,"test":true},"profile":{"test":true},"features":[],"filenames":["/t/debug/deps/faults-1"],"executable":"/t/debug/deps/faults-1","fresh":true}"#;
        assert_eq!(
            parse_artifact(line, root),
            Some(TestBinary {
                package: "ingest-worker".into(),
                package_dir: "/w/reference/ingest-worker".into(),
                target: "faults".into(),
                source: "reference/ingest-worker/tests/faults.rs".into(),
                executable: "/t/debug/deps/faults-1".into(),
                has_lib: false,
            })
        );
        let lib = line
            .replace(r#""kind":["test"]"#, r#""kind":["lib"]"#)
            .replace("#0.0.0", "#stack-x@0.1.0");
        let parsed = parse_artifact(&lib, root).unwrap();
        assert!(parsed.has_lib);
        assert_eq!(parsed.package, "stack-x");
        let not_a_test = line.replace(r#""profile":{"test":true}"#, r#""profile":{"test":false}"#);
        assert_eq!(parse_artifact(&not_a_test, root), None);
        assert_eq!(
            parse_artifact(r#"{"reason":"build-finished","success":true}"#, root),
            None
        );
        assert_eq!(parse_artifact("not json", root), None);
    }

    #[test]
    fn package_names_come_from_every_package_id_spelling() {
        assert_eq!(
            cargo_package_name("path+file:///w/stack#0.0.0").as_deref(),
            Some("stack")
        );
        assert_eq!(
            cargo_package_name("path+file:///w/x#real-name@0.1.0").as_deref(),
            Some("real-name")
        );
        assert_eq!(
            cargo_package_name("stack 0.0.0 (path+file:///w/stack)").as_deref(),
            Some("stack")
        );
    }

    #[test]
    fn libtest_output_gives_counts_and_the_tests_still_running() {
        let mut log = LibtestLog::default();
        for line in [
            "running 3 tests",
            "test a ... ok",
            "test slow_one has been running for over 60 seconds",
            "test slow_two has been running for over 60 seconds",
            "test slow_one ... ok",
        ] {
            log.read_line(line);
        }
        assert_eq!(log.slow, ["slow_two"]);
        assert!(!log.finished);
        log.read_line(
            "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 61.00s",
        );
        assert!(log.finished);
        assert_eq!((log.passed, log.failed), (2, 1));
    }

    #[test]
    fn a_hung_binary_is_killed_at_its_deadline_and_named() {
        // A "test binary" that prints libtest's slow-test line and then sleeps far past the deadline;
        // its child (same process group) must die with it.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo 'test stuck_test has been running for over 60 seconds'; sleep 600 & wait",
        ]);
        let outcome = run_under_watchdog("fake hang", cmd, Duration::from_millis(500), false);
        let Outcome::TimedOut { log, .. } = &outcome else {
            panic!("expected a timeout, got {outcome:?}");
        };
        assert_eq!(log.slow, ["stuck_test"]);
        let summary = Summary::of(&[("fake hang".into(), outcome)]);
        assert_eq!(
            (summary.passed, summary.failed, summary.failed_binaries),
            (0, 1, 1)
        );
        assert!(
            summary.lines[0].starts_with("TIMEOUT fake hang: killed after "),
            "{:?}",
            summary.lines
        );
        assert!(
            summary.lines[0].ends_with("running tests: stuck_test"),
            "{:?}",
            summary.lines
        );
    }

    #[test]
    fn binaries_that_exit_are_summed_and_a_crash_counts_as_a_failure() {
        let ok = run_under_watchdog(
            "ok",
            {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    "echo 'test result: ok. 4 passed; 0 failed; 0 ignored'",
                ]);
                c
            },
            Duration::from_secs(60),
            false,
        );
        let crashed = run_under_watchdog(
            "crashed",
            {
                let mut c = Command::new("sh");
                c.args(["-c", "echo 'running 2 tests'; exit 101"]);
                c
            },
            Duration::from_secs(60),
            false,
        );
        let summary = Summary::of(&[("ok".into(), ok), ("crashed".into(), crashed)]);
        assert_eq!(
            (summary.passed, summary.failed, summary.failed_binaries),
            (4, 1, 1)
        );
        assert_eq!(
            summary.lines,
            ["FAILED crashed: 1 failed (exited without a result line; last line: running 2 tests)"]
        );
    }
}
