//! `parse_timing`: times Hogref's HogQL parse-to-JSON-string per query, for `cargo xtask bench parse`.
//!
//! Prints one JSON array: `[{"set", "name", "src", "chars", "mean_us", "mean_us_no_positions", "reps"}]` over the
//! parse corpus and the linearity series. Each query is warmed up, then parsed repeatedly for about `--millis` (default 200) ms.
//! Options: `--millis N`, `--positions` (emit start/end, as PostHog's `parse_select_json` does).

use std::hint::black_box;
use std::time::{Duration, Instant};

use benches::{Query, linearity_series, parse_corpus, parse_select_to_string, workspace_root};

fn main() -> std::process::ExitCode {
    let mut millis = 200u64;
    let mut positions = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--millis" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => millis = v,
                None => return usage("--millis needs a number"),
            },
            "--positions" => positions = true,
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let mut queries: Vec<(&str, Query)> = match parse_corpus(&workspace_root()) {
        Ok(c) => c.into_iter().map(|q| ("corpus", q)).collect(),
        Err(e) => return usage(&format!("reading the parse corpus: {e}")),
    };
    queries.extend(linearity_series().into_iter().map(|q| ("linearity", q)));
    let budget = Duration::from_millis(millis);
    let mut rows = Vec::new();
    for (set, q) in &queries {
        let (mean_us, reps) = time(&q.src, positions, budget);
        // The same parse without positions, for scale: PostHog's parse_select_json always emits them.
        let (mean_us_no_positions, _) = time(&q.src, false, budget);
        rows.push(serde_json::json!({
            "set": set,
            "name": q.name,
            "src": q.src,
            "chars": q.src.chars().count(),
            "mean_us": mean_us,
            "mean_us_no_positions": mean_us_no_positions,
            "reps": reps,
        }));
    }
    println!("{}", serde_json::Value::Array(rows));
    std::process::ExitCode::SUCCESS
}

/// Mean microseconds per parse-to-string over about `budget`, after a warm-up.
fn time(src: &str, positions: bool, budget: Duration) -> (f64, u64) {
    let start = Instant::now();
    let mut warm = 0u64;
    while warm < 10 || start.elapsed() < budget / 10 {
        black_box(parse_select_to_string(black_box(src), positions));
        warm += 1;
    }
    let per = start.elapsed().as_secs_f64() / warm as f64;
    let reps = ((budget.as_secs_f64() / per) as u64).clamp(10, 5_000_000);
    let t0 = Instant::now();
    for _ in 0..reps {
        black_box(parse_select_to_string(black_box(src), positions));
    }
    (t0.elapsed().as_secs_f64() * 1e6 / reps as f64, reps)
}

fn usage(msg: &str) -> std::process::ExitCode {
    eprintln!("parse_timing: {msg}\nusage: parse_timing [--millis N] [--positions]");
    std::process::ExitCode::from(2)
}
