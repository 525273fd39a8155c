//! `cargo xtask conformance`: every suite against a target, with progress, a summary table, JUnit XML and
//! an HTML report under `target/conformance/`; exits 1 on any failure or on a known gap that passes.
//!
//! The default target is Hogref's reference implementation (the `hogref` binary, built here). `--bin`
//! points the same suites at another program with the same command-line interface; `--target URL` checks
//! an implementation through its HTTP APIs only, and the suites that need internals are listed as not run.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::Command;

use anyhow::Context as _;
use clap::Args;
use conformance::target::{CliTarget, HttpTarget, Target};
use conformance::{Outcome, RunOptions, known_gaps::KnownGaps, report, suites};

use crate::paths::{cargo_target_dir, workspace_root};

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
    /// Where reports go (default: `target/conformance/` in the workspace).
    #[arg(long)]
    out: Option<PathBuf>,
}

pub(crate) fn run(args: ConformanceArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    let target: Box<dyn Target> = match (&args.target, &args.bin) {
        (Some(url), _) => Box::new(HttpTarget {
            base_url: url.clone(),
        }),
        (None, Some(bin)) => Box::new(CliTarget { bin: bin.clone() }),
        (None, None) => Box::new(CliTarget {
            bin: build_hogref()?,
        }),
    };
    let gaps = KnownGaps::load(&root)?;
    let mut all = suites::all();
    all.sort_by_key(|s| s.name());
    let options = RunOptions {
        filter: args.filter.clone(),
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

    let summary = report::terminal(&result, &target.name());
    println!("{summary}");
    let out = args
        .out
        .unwrap_or_else(|| root.join("target").join("conformance"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
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
    if !result.is_success() {
        std::process::exit(1);
    }
    Ok(())
}

/// Builds `hogref` into the shared cache target dir (the same one `cargo xtask test` uses) and returns its path.
fn build_hogref() -> anyhow::Result<PathBuf> {
    let target_dir = cargo_target_dir();
    eprintln!(
        "conformance: building hogref (target dir {})...",
        target_dir.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(workspace_root())
        .args(["build", "--locked", "-p", "hogref"])
        .env("CARGO_TARGET_DIR", &target_dir)
        .status()
        .context("running cargo build -p hogref")?;
    anyhow::ensure!(status.success(), "building hogref failed ({status})");
    Ok(target_dir.join("debug").join("hogref"))
}
