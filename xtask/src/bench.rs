//! `cargo xtask bench`: criterion benches and side-by-side oracle comparisons.
//!
//! `cargo xtask bench parse` times, in one run and on the same corpus, Hogref's HogQL parse-to-JSON-string (the
//! release-built `parse_timing` binary of the `benches` crate) and PostHog's `hogql_parser_rs.parse_select_json`
//! (timed inside Python with `time.perf_counter_ns`), then prints a per-query table, the geometric-mean speed-up
//! and a linearity table. `--criterion` also runs the criterion bench (`benches/benches/parse.rs`).

use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use hogql_parser::EntryPoint;
use serde_json::Value;

use crate::oracle::{Backend, Oracle};
use crate::paths::{cargo_target_dir, workspace_root};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Which bench group (`parse`); all when absent.
    group: Option<String>,
    /// Time budget per query, side and round, in milliseconds.
    #[arg(long, default_value_t = 100)]
    millis: u64,
    /// Rounds; each round times Hogref then the oracle on the whole corpus, and the best (lowest) mean per
    /// query and side is kept, so that load from other processes skews both sides alike.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Also run the criterion bench of the group (`cargo bench -p benches`).
    #[arg(long)]
    criterion: bool,
}

const GROUPS: &[&str] = &["parse"];

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    let groups: Vec<&str> = match args.group.as_deref() {
        None => GROUPS.to_vec(),
        Some(g) if GROUPS.contains(&g) => vec![g],
        Some(g) => bail!("unknown bench group `{g}` (known: {})", GROUPS.join(", ")),
    };
    for group in groups {
        match group {
            "parse" => bench_parse(&args)?,
            _ => unreachable!("GROUPS lists only implemented groups"),
        }
    }
    Ok(())
}

/// One timed query as `parse_timing` reports it.
#[derive(Debug)]
struct Row {
    set: String,
    name: String,
    src: String,
    chars: u64,
    hogref_us: f64,
    /// Hogref without positions (for scale; the oracle always emits them).
    hogref_nopos_us: f64,
    oracle_us: f64,
}

fn bench_parse(args: &BenchArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let target = cargo_target_dir();
    eprintln!(
        "bench parse: building benches/parse_timing (release, --locked) into {}",
        target.display()
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "benches",
            "--bin",
            "parse_timing",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building parse_timing failed");
    }
    let exe = target.join("release").join("parse_timing");
    let mut oracle = Oracle::start(false)?;
    let versions = oracle.versions()?;
    let mut table: Vec<Row> = Vec::new();
    for round in 0..args.rounds.max(1) {
        eprintln!(
            "bench parse: round {}/{}: Hogref, then the oracle {versions} ({} ms per query and side; load average {})",
            round + 1,
            args.rounds.max(1),
            args.millis,
            load_average()
        );
        let out = Command::new(&exe)
            .args(["--millis", &args.millis.to_string(), "--positions"])
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!(
                "parse_timing failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let rows: Vec<Value> =
            serde_json::from_slice(&out.stdout).context("parse_timing printed non-JSON")?;
        for (i, r) in rows.iter().enumerate() {
            let src = r["src"].as_str().unwrap_or_default().to_string();
            // Calibrate: a short run, then enough repetitions to fill the time budget.
            let probe = oracle.time(Backend::Rs, EntryPoint::Select, &src, 20)?;
            let reps = ((args.millis as f64 * 1e6 / probe.max(1.0)) as u32).clamp(20, 2_000_000);
            let oracle_us = oracle.time(Backend::Rs, EntryPoint::Select, &src, reps)? / 1000.0;
            let hogref_us = r["mean_us"].as_f64().unwrap_or(f64::NAN);
            let hogref_nopos_us = r["mean_us_no_positions"].as_f64().unwrap_or(f64::NAN);
            match table.get_mut(i) {
                Some(row) => {
                    row.hogref_us = row.hogref_us.min(hogref_us);
                    row.hogref_nopos_us = row.hogref_nopos_us.min(hogref_nopos_us);
                    row.oracle_us = row.oracle_us.min(oracle_us);
                }
                None => table.push(Row {
                    set: r["set"].as_str().unwrap_or_default().to_string(),
                    name: r["name"].as_str().unwrap_or_default().to_string(),
                    chars: r["chars"].as_u64().unwrap_or_default(),
                    hogref_us,
                    hogref_nopos_us,
                    oracle_us,
                    src,
                }),
            }
        }
    }
    print!("{}", render(&table, &versions));
    if args.criterion {
        eprintln!("bench parse: running the criterion bench (benches/benches/parse.rs)");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target)
            .args(["bench", "--locked", "-p", "benches", "--bench", "parse"])
            .status()
            .context("running cargo bench")?;
        if !status.success() {
            bail!("the criterion bench failed");
        }
    }
    Ok(())
}

fn render(rows: &[Row], versions: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "== HogQL parse: Hogref parse_json_string(Select, q, positions) vs hogql_parser_rs {} parse_select_json (Python {}) ==",
        versions["hogql_parser_rs"].as_str().unwrap_or("?"),
        versions["python"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "{:<36} {:>6} {:>11} {:>11} {:>8} {:>15}",
        "query", "chars", "hogref µs", "oracle µs", "speed-up", "hogref nopos µs"
    );
    let mut log_sum = 0.0;
    let mut log_sum_nopos = 0.0;
    let mut n = 0;
    for r in rows.iter().filter(|r| r.set == "corpus") {
        let ratio = r.oracle_us / r.hogref_us;
        log_sum += ratio.ln();
        log_sum_nopos += (r.oracle_us / r.hogref_nopos_us).ln();
        n += 1;
        let _ = writeln!(
            s,
            "{:<36} {:>6} {:>11.2} {:>11.2} {:>7.2}× {:>15.2}",
            truncate(&r.name, 36),
            r.chars,
            r.hogref_us,
            r.oracle_us,
            ratio,
            r.hogref_nopos_us
        );
    }
    if n > 0 {
        let _ = writeln!(
            s,
            "geometric-mean speed-up over {n} queries: {:.2}× (oracle µs / hogref µs; goal ≥ 2×)",
            (log_sum / n as f64).exp()
        );
        let _ = writeln!(
            s,
            "  for scale, without positions on Hogref's side only: {:.2}× (not like for like: the oracle always emits them)",
            (log_sum_nopos / n as f64).exp()
        );
    }
    let _ = writeln!(s, "\n== linearity: one shape repeated ×1, ×10, ×100 ==");
    let _ = writeln!(
        s,
        "{:<16} {:>6} {:>11} {:>12} {:>11} {:>12} {:>8}",
        "query", "chars", "hogref µs", "hogref ns/ch", "oracle µs", "oracle ns/ch", "speed-up"
    );
    for r in rows.iter().filter(|r| r.set == "linearity") {
        let c = r.chars.max(1) as f64;
        let _ = writeln!(
            s,
            "{:<16} {:>6} {:>11.2} {:>12.1} {:>11.2} {:>12.1} {:>7.2}×",
            r.name,
            r.chars,
            r.hogref_us,
            r.hogref_us * 1000.0 / c,
            r.oracle_us,
            r.oracle_us * 1000.0 / c,
            r.oracle_us / r.hogref_us
        );
    }
    let total: usize = rows.iter().map(|r| r.src.len()).sum();
    let _ = writeln!(
        s,
        "(both sides build a JSON string with positions; each time is the best per-round mean; {} bytes of input in all; load average at the end {})",
        total,
        load_average()
    );
    s
}

/// The 1-minute load average (other processes compete for the same cores), or `?`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}
