//! `cargo xtask bench ingest`: the broker's own ceiling (a plain producer with capture's message shape),
//! capture throughput (events/s, request p50/p99, every event acknowledged by the broker) as a ratio of
//! that ceiling, and capture-to-queryable latency at sustained rates, on a real stack.
//!
//! Without a stack in the environment it runs once per tansu storage engine of `--storage` (default
//! `sqlite,memory`): each run is this command again with `--storage ENGINE` and
//! `HOGREF_TANSU_STORAGE=ENGINE`, on a private stack of its own, and the summary lines of every run are
//! printed together at the end.
//!
//! Builds the `ingest_bench` binary of the `benches` crate (release, feature `services`) and runs it against
//! the stack named by `CLICKHOUSE_URL`, `KAFKA_HOSTS` and `DATABASE_URL` when they are set, else against a
//! private stack it brings up and down (`bench-ingest-<pid>`). `--profile` runs it under `perf record` and
//! prints where the time went per thread (`capture`, `worker`, `loadgen`) and per function.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;

use crate::paths::{cargo_target_dir, workspace_root};
use crate::stack_cmd::{self, StackTarget};

#[derive(Debug, Args)]
pub(crate) struct IngestArgs {
    /// Ingest: which phase (`all`, `capture`, `e2e`).
    #[arg(long, default_value = "all")]
    phase: String,
    /// Ingest, capture phase: seconds per batch size.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Ingest: concurrent connections (and ceiling senders), comma-separated; the capture phase runs
    /// each batch size at each, the end-to-end phase uses the first.
    #[arg(long, default_value = "32,256")]
    connections: String,
    /// Ingest, capture phase: events per request, comma-separated (1 uses `/e`, more `/batch`).
    #[arg(long, default_value = "1,100")]
    batch: String,
    /// Ingest, end to end: events per second, sustained, comma-separated (one run each).
    #[arg(long, default_value = "1000,10000")]
    rate: String,
    /// Ingest, end to end: seconds of sustained load.
    #[arg(long, default_value_t = 20.0)]
    e2e_seconds: f64,
    /// Ingest, end to end: events per request.
    #[arg(long, default_value_t = 50)]
    e2e_batch: usize,
    /// Ingest: record a profile with `perf record` and print the top threads and functions.
    #[arg(long)]
    profile: bool,
    /// Ingest: tansu storage engines, comma-separated; one private stack each (`HOGREF_TANSU_STORAGE`).
    /// Ignored when the environment names a stack.
    #[arg(long, default_value = "sqlite,memory")]
    storage: String,
}

/// Deadline for building the bench binary (a cold release build on a loaded 2-core machine).
const BUILD_LIMIT: Duration = Duration::from_secs(3600);
/// Deadline for `perf report`.
const REPORT_LIMIT: Duration = Duration::from_secs(600);

/// Deadline for one bench run: its measured seconds (several batch sizes and rates) with a wide
/// margin, plus setup (teams, topics, draining).
fn run_limit(args: &IngestArgs) -> Duration {
    Duration::from_secs_f64(900.0 + 20.0 * (args.seconds + args.e2e_seconds).max(0.0))
}

/// Runs this command again once per storage engine, each on its own stack, then prints every run's
/// summary lines (those the bench binary starts with `summary:`) side by side.
fn run_per_storage(engines: &[&str], limit: Duration) -> anyhow::Result<()> {
    use std::io::BufRead as _;
    let exe = std::env::current_exe().context("locating the xtask binary")?;
    // The arguments after `xtask`, without `--storage` and its value.
    let mut passed: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--storage" {
            args.next();
        } else if !a.starts_with("--storage=") {
            passed.push(a);
        }
    }
    let mut summary: Vec<String> = Vec::new();
    let mut failed = Vec::new();
    for engine in engines {
        eprintln!("bench ingest: tansu storage `{engine}`: a run on a stack of its own");
        let mut child = Command::new(&exe)
            .args(&passed)
            .args(["--storage", engine])
            .env("HOGREF_TANSU_STORAGE", engine)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| format!("running {}", exe.display()))?;
        // Lines come through a thread so that the run as a whole has a deadline.
        let (tx, lines) = std::sync::mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines() {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let deadline = Instant::now() + limit;
        let mut timed_out = false;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    let line = line?;
                    println!("{line}");
                    if let Some(rest) = line.strip_prefix("summary:") {
                        summary.push(format!("storage={engine:<7}{rest}"));
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    break;
                }
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let what = format!("bench ingest: the run with tansu storage `{engine}`");
        match stack::wait_with_deadline(&mut child, &what, left) {
            Ok(status) if status.success() && !timed_out => {}
            Ok(_) => failed.push(*engine),
            Err(e) => {
                eprintln!("{e}");
                failed.push(*engine);
            }
        }
        if timed_out {
            // The child was still writing at the deadline; make sure it is gone.
            let _ = child.kill();
            let _ = child.wait();
            eprintln!(
                "bench ingest: the run with tansu storage `{engine}` did not finish within {}s (killed)",
                limit.as_secs()
            );
        }
    }
    println!("\n== bench ingest: summary per tansu storage engine ==");
    for line in &summary {
        println!("  {line}");
    }
    if !failed.is_empty() {
        bail!("the runs with storage {} failed", failed.join(", "));
    }
    Ok(())
}

pub(crate) fn run(args: &IngestArgs) -> anyhow::Result<()> {
    let have_env = ["CLICKHOUSE_URL", "KAFKA_HOSTS", "DATABASE_URL"]
        .iter()
        .all(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    let engines: Vec<&str> = args
        .storage
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // One engine is a run of its own too unless this process already has it in its environment (else
    // `--storage memory` alone would bring up a stack with the default storage).
    let engine_set = engines.len() == 1
        && std::env::var("HOGREF_TANSU_STORAGE").is_ok_and(|v| v.trim() == engines[0]);
    if !have_env && !engines.is_empty() && !engine_set {
        // Each run builds, brings a stack up and benches: all three limits, plus the stack's own.
        return run_per_storage(
            &engines,
            BUILD_LIMIT + run_limit(args) + Duration::from_secs(900),
        );
    }
    let root = workspace_root();
    let target = cargo_target_dir();
    eprintln!(
        "bench ingest: building benches/ingest_bench (release, --features services, --locked) into {}",
        target.display()
    );
    let status = stack::status_with_deadline(
        "bench ingest: cargo build -p benches --bin ingest_bench",
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "benches",
                "--features",
                "services",
                "--bin",
                "ingest_bench",
            ]),
        BUILD_LIMIT,
    )
    .map_err(anyhow::Error::msg)?;
    if !status.success() {
        bail!("building ingest_bench failed");
    }
    let exe = target.join("release").join("ingest_bench");

    let mut stack = None;
    let mut envs: Vec<(String, String)> = Vec::new();
    if have_env {
        eprintln!("bench ingest: using the stack of CLICKHOUSE_URL, KAFKA_HOSTS, DATABASE_URL");
    } else {
        let name = format!("bench-ingest-{}", std::process::id());
        eprintln!(
            "bench ingest: no stack in the environment; bringing stack `{name}` up (tansu storage: {})",
            std::env::var("HOGREF_TANSU_STORAGE").unwrap_or_else(|_| "the stack's default".into())
        );
        crate::test_cmd::install_ctrlc(&name);
        let s = stack_cmd::up(&StackTarget {
            provider: None,
            name,
        })?;
        envs = s
            .state()
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        stack = Some(s);
    }
    let perf_data = target.join("hogref-bench").join("ingest.perf.data");
    let mut cmd = if args.profile {
        if let Some(dir) = perf_data.parent() {
            std::fs::create_dir_all(dir)?;
        }
        eprintln!(
            "bench ingest: profiling with perf record (cpu-clock, 499 Hz, call graphs) into {}",
            perf_data.display()
        );
        let mut c = Command::new("perf");
        // No call graphs: release builds have no frame pointers, and DWARF unwinding of a minute of two
        // busy cores makes hundreds of megabytes. Self time per thread and function is what we report.
        c.args(["record", "-F", "499", "-o"])
            .arg(&perf_data)
            .arg("--")
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    let kafka = envs
        .iter()
        .find(|(k, _)| k == "KAFKA_HOSTS")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("KAFKA_HOSTS").ok())
        .unwrap_or_default();
    let pids = service_pids(&kafka);
    if pids.is_empty() {
        eprintln!(
            "bench ingest: no local stack state matches KAFKA_HOSTS={kafka}; CPU of the services is not reported"
        );
    }
    cmd.envs(envs)
        .env("HOGREF_BENCH_PIDS", pids)
        .args(["--phase", &args.phase])
        .args(["--seconds", &args.seconds.to_string()])
        .args(["--connections", &args.connections])
        .args(["--batch", &args.batch])
        .args(["--rate", &args.rate])
        .args(["--e2e-seconds", &args.e2e_seconds.to_string()])
        .args(["--e2e-batch", &args.e2e_batch.to_string()]);
    let limit = run_limit(args);
    let status =
        stack::status_with_deadline(&format!("bench ingest: {}", exe.display()), &mut cmd, limit)
            .map_err(anyhow::Error::msg);
    if let Some(s) = stack {
        eprintln!("bench ingest: bringing the stack down");
        if let Err(e) = s.stop() {
            eprintln!("bench ingest: stopping the stack failed: {e}");
        }
    }
    let status = status?;
    if !status.success() {
        bail!("ingest_bench failed ({status})");
    }
    if args.profile {
        print_profile(&perf_data)?;
    }
    Ok(())
}

/// `name=pid,...` of the local stack whose Kafka is `kafka_hosts` (from its `state.json`), for the CPU report.
fn service_pids(kafka_hosts: &str) -> String {
    let Ok(entries) = std::fs::read_dir(crate::paths::cache_dir().join("stacks")) else {
        return String::new();
    };
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("state.json")) else {
            continue;
        };
        let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if state["endpoints"]["kafka_hosts"] != kafka_hosts {
            continue;
        }
        return state["components"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| Some(format!("{}={}", c["name"].as_str()?, c["pid"].as_u64()?)))
            .collect::<Vec<_>>()
            .join(",");
    }
    String::new()
}

/// The share of samples per thread name, then the hottest functions (self time).
fn print_profile(data: &PathBuf) -> anyhow::Result<()> {
    for (title, sort) in [
        ("samples per thread", "comm"),
        ("hottest functions (self)", "comm,dso,symbol"),
    ] {
        let mut report = Command::new("perf");
        report
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--percent-limit",
                "1.5",
            ])
            .args(["--sort", sort, "-i"])
            .arg(data);
        let out = stack::output_with_deadline(report, REPORT_LIMIT)
            .map_err(|e| anyhow::anyhow!("bench ingest: perf report: {e}"))?;
        println!("\n== profile: {title} (perf report --sort {sort}) ==");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // perf pads its columns to the terminal's width and ends rows with `-  -`: squeeze them.
            let words: Vec<&str> = line.split_whitespace().filter(|w| *w != "-").collect();
            if words.is_empty() || words[0].starts_with('#') {
                continue;
            }
            println!("  {}", words.join(" "));
        }
    }
    Ok(())
}
