//! `cargo xtask test`: build the workspace's tests, bring a stack up, run every test against it
//! (`cargo test --workspace --locked` with each member's `services` feature on), bring the stack down.
//!
//! Plain `cargo test` stays hermetic: service-backed tests compile only with a member's `services`
//! feature, which this command discovers with `cargo metadata --no-deps`.

use std::process::Command;
use std::time::Instant;

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
    /// Extra arguments for `cargo test`, e.g. `-- -p scenarios -- --nocapture` (with `-p`, only the named
    /// packages run, instead of the whole workspace).
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

    let features = services_features(&root, &cargo)?;
    if features.is_empty() {
        eprintln!("test: no workspace member declares a `services` feature");
    } else {
        eprintln!("test: service-backed features: {}", features.join(", "));
    }
    // `-p NAME` in the extra arguments narrows the run to those packages (and their features).
    let selected = selected_packages(split_cargo_args(&args.cargo_args).0);
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
    let status = cargo_test(&["--no-run"])
        .args(split_cargo_args(&args.cargo_args).0)
        .status()
        .context("running cargo test --no-run")?;
    anyhow::ensure!(status.success(), "building the tests failed ({status})");
    eprintln!("test: [1/4] built in {:.0}s", step.elapsed().as_secs_f64());

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
    eprintln!("test: [3/4] cargo test {scope} --locked against stack `{name}`...");
    // Every test binary runs even when an earlier one fails, so one run reports every failure.
    let mut cmd = cargo_test(&["--no-fail-fast"]);
    cmd.args(&args.cargo_args);
    // Fault tests (e.g. a broker restart) find their stack by name.
    cmd.env("HOGREF_STACK", &name);
    // Tests that need the oracle fail without it here, rather than report and return.
    cmd.env("HOGREF_REQUIRE_ORACLE", "1");
    for (var, value) in stack.state().env_vars() {
        eprintln!("test:       {var}={value}");
        cmd.env(var, value);
    }
    let status = cmd.status().context("running cargo test");
    eprintln!(
        "test: [3/4] tests finished in {:.0}s",
        step.elapsed().as_secs_f64()
    );

    let step = Instant::now();
    eprintln!("test: [4/4] bringing stack `{name}` down...");
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
    let status = status?;
    eprintln!("test: total {:.0}s", total.elapsed().as_secs_f64());
    anyhow::ensure!(status.success(), "tests failed ({status})");
    stopped.context("stopping the stack")?;
    eprintln!("test: all tests passed");
    Ok(())
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
        let Some(pid) = name
            .strip_prefix("test-")
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
