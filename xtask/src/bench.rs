//! `cargo xtask bench`: criterion benches, regression baselines and side-by-side oracle comparisons.
//!
//! - `cargo xtask bench` (no group) runs every criterion bench of the workspace (every `[[bench]]` target of a
//!   member, found with `cargo metadata`), then the side-by-side parse comparison with the oracle.
//! - `cargo xtask bench parse` times, in one run and on the same corpus, Hogref's HogQL parse-to-JSON-string (the
//!   release-built `parse_timing` binary of the `benches` crate) and PostHog's `hogql_parser_rs.parse_select_json`
//!   (timed inside Python with `time.perf_counter_ns`), then prints a per-query table, the geometric-mean
//!   speed-up and a linearity table. `--criterion` also runs the criterion bench (`benches/benches/parse.rs`).
//! - `cargo xtask bench compile` runs the criterion compile bench and prints the median µs per query and over
//!   the corpus.
//! - `cargo xtask bench ingest` measures capture throughput and capture-to-ClickHouse latency on a stack
//!   (see `ingest.rs` of the `benches` crate).
//! - `cargo xtask bench insights` times a breakdown Trends query and a 5-step funnel through the query API over
//!   generated events, and their HogQL compile time (see `insights_bench.rs`).
//!
//! Regressions: `--save-baseline NAME` records the median of every criterion bench that ran, in
//! `<cargo target dir>/hogref-bench/baselines/NAME.json` (outside the clone; the target dir is
//! `$CARGO_TARGET_DIR`, else `$HOME/.cache/hogref/target`); `--baseline NAME --threshold P` compares the medians
//! of this run with it, prints a before/after/ratio table and exits 1 when any got slower by more than P %.
//! Medians are read back from criterion's own `estimates.json` files (`CRITERION_HOME` is
//! `<target dir>/criterion`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{Context, bail};
use clap::Args;
use hogql_parser::EntryPoint;
use serde_json::{Value, json};

use crate::oracle::{Backend, Oracle};
use crate::paths::{cargo_target_dir, workspace_root};

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Which bench group (`parse`, `compile`, `ingest`, `hog`, `insights`); when absent, every criterion bench of the workspace
    /// and the side-by-side parse comparison.
    group: Option<String>,
    /// Side by side: time budget per query, side and round, in milliseconds.
    #[arg(long, default_value_t = 100)]
    millis: u64,
    /// Side by side: rounds; each round times Hogref then the oracle on the whole corpus, and the best (lowest)
    /// mean per query and side is kept, so that load from other processes skews both sides alike.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// `bench parse`: also run the criterion bench (implied by `--save-baseline` and `--baseline`).
    #[arg(long)]
    criterion: bool,
    /// Skip the side-by-side oracle comparison (no Python venv needed).
    #[arg(long)]
    no_oracle: bool,
    /// Criterion: measurement time per bench, in milliseconds.
    #[arg(long, default_value_t = 500)]
    measurement_ms: u64,
    /// Criterion: warm-up time per bench, in milliseconds.
    #[arg(long, default_value_t = 200)]
    warmup_ms: u64,
    /// Criterion: samples per bench (at least 10).
    #[arg(long, default_value_t = 20)]
    samples: u64,
    /// Criterion: only benches whose id contains this (criterion's own filter, a regular expression).
    #[arg(long)]
    filter: Option<String>,
    /// Record the median of every criterion bench of this run as baseline NAME.
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,
    /// Compare this run's medians with baseline NAME; exit 1 when one got slower by more than --threshold.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Percent by which a median may grow before `--baseline` fails.
    #[arg(long, default_value_t = 10.0)]
    threshold: f64,
    #[command(flatten)]
    ingest: crate::ingest_bench::IngestArgs,
    #[command(flatten)]
    insights: crate::insights_bench::InsightsArgs,
}

const GROUPS: &[&str] = &["parse", "compile", "ingest", "hog", "insights"];

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    // One clear line (plus the cause chain): print here and exit non-zero.
    match run_inner(&args) {
        Ok(true) => Ok(()),
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

/// Runs the benches; false when a regression beyond the threshold was found.
fn run_inner(args: &BenchArgs) -> anyhow::Result<bool> {
    if let Some(g) = args.group.as_deref()
        && !GROUPS.contains(&g)
    {
        bail!("unknown bench group `{g}` (known: {})", GROUPS.join(", "));
    }
    if args.group.as_deref() == Some("ingest") {
        return crate::ingest_bench::run(&args.ingest).map(|()| true);
    }
    if args.group.as_deref() == Some("insights") {
        return crate::insights_bench::run(&args.insights).map(|()| true);
    }
    if args.group.as_deref() == Some("hog") {
        return crate::hog_bench::run(args.millis.max(300), args.rounds).map(|()| true);
    }
    let baselines = args.save_baseline.is_some() || args.baseline.is_some();
    // Fail before the long run, not after it.
    let before = match &args.baseline {
        Some(name) => Some(load_baseline(name)?),
        None => None,
    };
    let criterion_targets: Vec<(String, String)> = match args.group.as_deref() {
        None => workspace_benches()?,
        Some("parse") if args.criterion || baselines => {
            vec![("benches".into(), "parse".into())]
        }
        Some("parse") => Vec::new(),
        Some(g) => vec![("benches".into(), g.to_string())],
    };
    let medians = run_criterion(args, &criterion_targets)?;
    if medians.values().any(|m| m.id.starts_with("hogql_compile/")) {
        print!("{}", render_compile(&medians));
    }
    if matches!(args.group.as_deref(), None | Some("parse")) && !args.no_oracle {
        bench_parse(args)?;
    }
    if let Some(name) = &args.save_baseline {
        let path = save_baseline(name, args, &medians)?;
        eprintln!(
            "bench: baseline `{name}` saved ({} benches) to {}",
            medians.len(),
            path.display()
        );
    }
    match before {
        Some(before) => {
            let (table, ok) = compare(&before, &medians, args.threshold);
            print!("{table}");
            Ok(ok)
        }
        None => Ok(true),
    }
}

/// One criterion bench's result.
#[derive(Debug, Clone)]
struct Median {
    /// Criterion's full id, `group/function/parameter`.
    id: String,
    /// Median time per iteration, nanoseconds.
    ns: f64,
}

/// Every `[[bench]]` target of the workspace's members, as (package, bench).
fn workspace_benches() -> anyhow::Result<Vec<(String, String)>> {
    let out = Command::new(cargo())
        .current_dir(workspace_root())
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let meta: Value = serde_json::from_slice(&out.stdout).context("parsing cargo metadata")?;
    let mut found = Vec::new();
    for package in meta["packages"].as_array().into_iter().flatten() {
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bench = target["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "bench"));
            if let (true, Some(p), Some(t)) =
                (is_bench, package["name"].as_str(), target["name"].as_str())
            {
                found.push((p.to_string(), t.to_string()));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn criterion_home() -> PathBuf {
    cargo_target_dir().join("criterion")
}

/// Runs each criterion bench target (release, `--locked`) with the timing of `args`, and returns the medians of
/// every bench that ran, read back from criterion's `new/estimates.json` files written during this run.
fn run_criterion(
    args: &BenchArgs,
    targets: &[(String, String)],
) -> anyhow::Result<BTreeMap<String, Median>> {
    if targets.is_empty() {
        return Ok(BTreeMap::new());
    }
    let started = SystemTime::now();
    let home = criterion_home();
    for (package, bench) in targets {
        eprintln!(
            "bench: criterion {package}/{bench} (measurement {} ms, warm-up {} ms, {} samples; CRITERION_HOME {}; load average {})",
            args.measurement_ms,
            args.warmup_ms,
            args.samples,
            home.display(),
            load_average()
        );
        let mut cmd = Command::new(cargo());
        cmd.current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", cargo_target_dir())
            .env("CRITERION_HOME", &home)
            .env(
                "HOGREF_BENCH_MEASUREMENT_MS",
                args.measurement_ms.to_string(),
            )
            .env("HOGREF_BENCH_WARMUP_MS", args.warmup_ms.to_string())
            .env("HOGREF_BENCH_SAMPLES", args.samples.to_string())
            .args(["bench", "--locked", "-p", package, "--bench", bench, "--"])
            .args(["--quiet", "--noplot"]);
        if let Some(f) = &args.filter {
            cmd.arg(f);
        }
        let status = cmd.status().context("running cargo bench")?;
        if !status.success() {
            bail!("criterion bench {package}/{bench} failed ({status})");
        }
    }
    let mut medians = BTreeMap::new();
    collect_medians(&home, started, &mut medians)?;
    Ok(medians)
}

/// Walks `dir` for criterion's `new/` result folders written since `since`.
fn collect_medians(
    dir: &Path,
    since: SystemTime,
    out: &mut BTreeMap<String, Median>,
) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let estimates = path.join("estimates.json");
            let fresh = std::fs::metadata(&estimates)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let read = |p: &Path| -> anyhow::Result<Value> {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))
            };
            let meta = read(&path.join("benchmark.json"))?;
            let est = read(&estimates)?;
            let id = meta["full_id"].as_str().unwrap_or_default().to_string();
            let ns = est["median"]["point_estimate"].as_f64().unwrap_or(f64::NAN);
            out.insert(id.clone(), Median { id, ns });
        } else {
            collect_medians(&path, since, out)?;
        }
    }
    Ok(())
}

fn baseline_path(name: &str) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'),
        "baseline name `{name}` must be letters, digits, `-`, `_` or `.`"
    );
    Ok(cargo_target_dir()
        .join("hogref-bench")
        .join("baselines")
        .join(format!("{name}.json")))
}

fn save_baseline(
    name: &str,
    args: &BenchArgs,
    medians: &BTreeMap<String, Median>,
) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        !medians.is_empty(),
        "no criterion bench ran, so there is nothing to save as baseline `{name}`"
    );
    let path = baseline_path(name)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let doc = json!({
        "name": name,
        "saved_unix": secs,
        "git": git_head(),
        "measurement_ms": args.measurement_ms,
        "warmup_ms": args.warmup_ms,
        "samples": args.samples,
        "load_average": load_average(),
        "median_ns": medians.values().map(|m| (m.id.clone(), json!(m.ns))).collect::<serde_json::Map<_, _>>(),
    });
    std::fs::write(&path, serde_json::to_string_pretty(&doc)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

fn load_baseline(name: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let path = baseline_path(name)?;
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "baseline `{name}` not found at {} (record it with --save-baseline {name})",
            path.display()
        )
    })?;
    let doc: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let map = doc["median_ns"]
        .as_object()
        .with_context(|| format!("{} has no median_ns object", path.display()))?;
    Ok(map
        .iter()
        .filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v)))
        .collect())
}

/// The before/after/ratio table, and false when some median grew by more than `threshold` percent.
fn compare(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, Median>,
    threshold: f64,
) -> (String, bool) {
    use std::fmt::Write as _;
    let mut s = String::new();
    let width = after
        .keys()
        .chain(before.keys())
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 70);
    let _ = writeln!(
        s,
        "\n== criterion medians against the baseline (threshold +{threshold}%) =="
    );
    let _ = writeln!(
        s,
        "{:<width$} {:>12} {:>12} {:>7}  verdict",
        "bench", "before µs", "after µs", "ratio"
    );
    let mut slower = 0;
    let mut compared = 0;
    for (id, m) in after {
        let Some(&b) = before.get(id) else {
            let _ = writeln!(
                s,
                "{:<width$} {:>12} {:>12.3} {:>7}  new (not in the baseline)",
                truncate(id, width),
                "-",
                m.ns / 1000.0,
                "-"
            );
            continue;
        };
        compared += 1;
        let ratio = m.ns / b;
        let verdict = if (ratio - 1.0) * 100.0 > threshold {
            slower += 1;
            "SLOWER"
        } else if (1.0 - ratio) * 100.0 > threshold {
            "faster"
        } else {
            "ok"
        };
        let _ = writeln!(
            s,
            "{:<width$} {:>12.3} {:>12.3} {:>6.2}×  {verdict}",
            truncate(id, width),
            b / 1000.0,
            m.ns / 1000.0,
            ratio
        );
    }
    let missing: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    if !missing.is_empty() {
        let _ = writeln!(
            s,
            "not run this time ({}): {}",
            missing.len(),
            missing
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let ok = slower == 0;
    let _ = writeln!(
        s,
        "{compared} compared, {slower} slower than +{threshold}%: {}",
        if ok { "OK" } else { "REGRESSION" }
    );
    (s, ok)
}

/// Per query of the compile corpus: the median of `compile` and `compile_here`, and their medians over the
/// corpus (the goal is under 50 µs).
fn render_compile(medians: &BTreeMap<String, Median>) -> String {
    use std::fmt::Write as _;
    let mut rows: BTreeMap<String, (Option<f64>, Option<f64>)> = BTreeMap::new();
    for m in medians.values() {
        if let Some(q) = m.id.strip_prefix("hogql_compile/compile/") {
            rows.entry(q.to_string()).or_default().0 = Some(m.ns / 1000.0);
        } else if let Some(q) = m.id.strip_prefix("hogql_compile/compile_here/") {
            rows.entry(q.to_string()).or_default().1 = Some(m.ns / 1000.0);
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n== HogQL compile (parse + lower + resolve + print), criterion median per query, team {} ==",
        420
    );
    let _ = writeln!(
        s,
        "{:<36} {:>12} {:>16}",
        "query", "compile µs", "compile_here µs"
    );
    let cell = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2}"));
    for (q, (a, b)) in &rows {
        let _ = writeln!(
            s,
            "{:<36} {:>12} {:>16}",
            truncate(q, 36),
            cell(*a),
            cell(*b)
        );
    }
    let med = |mut v: Vec<f64>| -> Option<f64> {
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        Some(if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        })
    };
    let a = med(rows.values().filter_map(|r| r.0).collect());
    let b = med(rows.values().filter_map(|r| r.1).collect());
    let _ = writeln!(
        s,
        "{:<36} {:>12} {:>16}",
        format!("median over {} queries", rows.len()),
        cell(a),
        cell(b)
    );
    let _ = writeln!(
        s,
        "goal: median under 50 µs per query; both run on the caller's thread (the stack grows on demand), \
         `compile` also turns a panic into an error (load average {})",
        load_average()
    );
    s
}

fn git_head() -> String {
    Command::new("git")
        .current_dir(workspace_root())
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
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
    let status = Command::new(cargo())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn after(pairs: &[(&str, f64)]) -> BTreeMap<String, Median> {
        pairs
            .iter()
            .map(|(id, ns)| {
                (
                    id.to_string(),
                    Median {
                        id: id.to_string(),
                        ns: *ns,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_median_slower_than_the_threshold_fails_the_comparison() {
        let before: BTreeMap<String, f64> =
            [("g/a".to_string(), 1000.0), ("g/b".to_string(), 1000.0)].into();
        let (table, ok) = compare(&before, &after(&[("g/a", 1090.0), ("g/b", 1200.0)]), 10.0);
        assert!(!ok, "{table}");
        assert!(table.contains("SLOWER"), "{table}");
        assert!(table.contains("1.20×"), "{table}");
        assert!(
            table.contains("2 compared, 1 slower than +10%: REGRESSION"),
            "{table}"
        );
    }

    #[test]
    fn faster_new_and_missing_benches_do_not_fail_it() {
        let before: BTreeMap<String, f64> =
            [("g/a".to_string(), 1000.0), ("g/gone".to_string(), 5.0)].into();
        let (table, ok) = compare(&before, &after(&[("g/a", 500.0), ("g/new", 9.0)]), 10.0);
        assert!(ok, "{table}");
        assert!(table.contains("faster"), "{table}");
        assert!(table.contains("new (not in the baseline)"), "{table}");
        assert!(table.contains("not run this time (1): g/gone"), "{table}");
    }

    #[test]
    fn baseline_names_stay_inside_the_baselines_folder() {
        assert!(baseline_path("main-2026.11").is_ok());
        assert!(baseline_path("../x").is_err());
        assert!(baseline_path("").is_err());
    }
}
