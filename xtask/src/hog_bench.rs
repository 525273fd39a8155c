//! `cargo xtask bench hog`: Hogref's HogVM against PostHog's (`@posthog/hogvm`, on Node), side by side in
//! one run, on the same bytecode: the bench programs `fixtures/hog/bytecode/bench_*.json` (loops,
//! recursion, string building, dict/array work, STL-heavy, closures), which the differential test also
//! checks for identical results.
//!
//! Each round times every program on Hogref (the release `hog_timing` binary of `benches`), then on the
//! oracle (`xtask/hogvm-oracle/bench.js`); the best mean per program and side over the rounds is kept, so
//! load from other processes skews both sides alike. Prints a table with the per-program speed-up and its
//! geometric mean, hog-compiler's time on each program's Hog source (`fixtures/hog/programs/NAME.hog`;
//! PostHog's compiler is Python and not run here), and how many of PostHog's standard-library functions
//! (`STL`, `ASYNC_STL` and the bytecode STL of the installed `@posthog/hogvm`) HogVM implements. Fails when
//! the two VMs' results differ.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::paths::{cargo_target_dir, workspace_root};

#[derive(Debug, Default, Clone)]
struct Row {
    hogref_us: f64,
    compile_us: Option<f64>,
    oracle_us: f64,
    result: String,
}

fn best(rows: &mut BTreeMap<String, Row>, out: &[Value], hogref: bool) -> anyhow::Result<()> {
    for r in out {
        let name = r["name"]
            .as_str()
            .context("a timing row without a name")?
            .to_string();
        let us = r["mean_us"]
            .as_f64()
            .context("a timing row without mean_us")?;
        let result = r["result"].as_str().unwrap_or("").to_string();
        let row = rows.entry(name.clone()).or_insert(Row {
            hogref_us: f64::MAX,
            oracle_us: f64::MAX,
            ..Row::default()
        });
        if hogref {
            row.hogref_us = row.hogref_us.min(us);
            if let Some(c) = r["compile_us"].as_f64() {
                row.compile_us = Some(row.compile_us.map_or(c, |old| old.min(c)));
            }
            row.result = result;
        } else {
            row.oracle_us = row.oracle_us.min(us);
            if row.result != result {
                bail!(
                    "{name}: Hogref returned {} but PostHog's VM {result}",
                    row.result
                );
            }
        }
    }
    Ok(())
}

pub(crate) fn run(millis: u64, rounds: u32) -> anyhow::Result<()> {
    crate::hogvm_oracle::ensure_installed()?;
    let target = cargo_target_dir();
    eprintln!(
        "bench hog: building benches/hog_timing (release, --locked) into {}",
        target.display()
    );
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "benches",
            "--bin",
            "hog_timing",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building hog_timing failed");
    }
    let exe = target.join("release").join("hog_timing");
    let cases = benches_cases()?;
    let mut rows = BTreeMap::new();
    for round in 1..=rounds.max(1) {
        eprintln!(
            "bench hog: round {round}/{rounds}: Hogref, then @posthog/hogvm ({millis} ms per program and side)"
        );
        let out = Command::new(&exe)
            .args(["--millis", &millis.to_string()])
            .output()
            .context("running hog_timing")?;
        if !out.status.success() {
            bail!(
                "hog_timing failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let hogref: Vec<Value> =
            serde_json::from_slice(&out.stdout).context("hog_timing printed non-JSON")?;
        best(&mut rows, &hogref, true)?;
        let mut node = Command::new("node")
            .arg(crate::hogvm_oracle::script("bench.js"))
            .arg(millis.to_string())
            .env("NODE_PATH", crate::hogvm_oracle::node_modules())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("running node (is Node.js installed?)")?;
        node.stdin
            .take()
            .context("node stdin")?
            .write_all(cases.to_string().as_bytes())?;
        let out = node.wait_with_output()?;
        if !out.status.success() {
            bail!("the oracle bench failed");
        }
        let oracle: Vec<Value> =
            serde_json::from_slice(&out.stdout).context("bench.js printed non-JSON")?;
        best(&mut rows, &oracle, false)?;
    }
    print!("{}", render(&rows));
    let (implemented, total) = stl_count(&exe)?;
    println!(
        "standard library: {implemented} of {total} of @posthog/hogvm's functions implemented"
    );
    Ok(())
}

/// How many of PostHog's standard-library names (the installed package's `STL` and `ASYNC_STL`, and the
/// bytecode STL listed in its `src/stl/bytecode.ts`) are among HogVM's (`hog_timing --stl`).
fn stl_count(exe: &std::path::Path) -> anyhow::Result<(usize, usize)> {
    let out = Command::new(exe)
        .arg("--stl")
        .output()
        .context("running hog_timing --stl")?;
    let ours: Vec<String> =
        serde_json::from_slice(&out.stdout).context("hog_timing --stl printed non-JSON")?;
    let out = Command::new("node")
        .args([
            "-e",
            "const h = require('@posthog/hogvm'); \
             console.log(JSON.stringify([...Object.keys(h.STL), ...Object.keys(h.ASYNC_STL)]))",
        ])
        .env("NODE_PATH", crate::hogvm_oracle::node_modules())
        .output()
        .context("running node for the STL names")?;
    let mut theirs: Vec<String> =
        serde_json::from_slice(&out.stdout).context("node printed non-JSON STL names")?;
    let bytecode_stl =
        crate::hogvm_oracle::node_modules().join("@posthog/hogvm/src/stl/bytecode.ts");
    let text = std::fs::read_to_string(&bytecode_stl)
        .with_context(|| format!("reading {}", bytecode_stl.display()))?;
    for line in text.lines() {
        if let Some(rest) = line.trim_start().strip_prefix('"')
            && let Some((name, tail)) = rest.split_once('"')
            && tail.starts_with(": [[")
        {
            theirs.push(name.to_owned());
        }
    }
    theirs.sort();
    theirs.dedup();
    let implemented = theirs.iter().filter(|n| ours.contains(n)).count();
    Ok((implemented, theirs.len()))
}

fn benches_cases() -> anyhow::Result<Value> {
    let dir = workspace_root().join("fixtures/hog/bytecode");
    let mut cases = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("bench_") && n.ends_with(".json"))
        })
        .collect();
    names.sort();
    for p in names {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&p)?)?;
        let name = p
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        cases.push(serde_json::json!({ "name": name, "bytecode": case["bytecode"] }));
    }
    anyhow::ensure!(!cases.is_empty(), "no bench_*.json under {}", dir.display());
    Ok(Value::Array(cases))
}

fn render(rows: &BTreeMap<String, Row>) -> String {
    let mut out = String::from(
        "\n== HogVM: Hogref (Rust) vs @posthog/hogvm (Node), same bytecode, best mean per run ==\n",
    );
    out.push_str(&format!(
        "{:<22} {:>14} {:>14} {:>10} {:>12}\n",
        "program", "hogref µs", "posthog µs", "speed-up", "compile µs"
    ));
    let mut log_sum = 0.0;
    for (name, r) in rows {
        let ratio = r.oracle_us / r.hogref_us;
        log_sum += ratio.ln();
        let compile = r
            .compile_us
            .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}"));
        out.push_str(&format!(
            "{name:<22} {:>14.1} {:>14.1} {:>9.1}x {compile:>12}\n",
            r.hogref_us, r.oracle_us, ratio
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    let geo = (log_sum / rows.len().max(1) as f64).exp();
    out.push_str(&format!(
        "{:<22} {:>14} {:>14} {:>9.1}x\n",
        "geometric mean", "", "", geo
    ));
    out
}
