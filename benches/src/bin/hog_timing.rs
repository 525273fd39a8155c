//! `hog_timing`: times Hogref's HogVM on the bench programs (`fixtures/hog/bytecode/bench_*.json`), for
//! `cargo xtask bench hog`, which runs PostHog's VM on the same bytecode beside it.
//!
//! Prints one JSON array: `[{"name", "mean_us", "reps", "result"}]`. Each program runs once to warm up, then
//! repeatedly for about `--millis` (default 300) ms; a run is parse-free (the program is parsed once).

use std::hint::black_box;
use std::time::{Duration, Instant};

fn usage(msg: &str) -> std::process::ExitCode {
    eprintln!("hog_timing: {msg}\nusage: hog_timing [--millis N]");
    std::process::ExitCode::from(2)
}

fn main() -> std::process::ExitCode {
    let mut millis = 300u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--millis" => match args.next().and_then(|v| v.parse().ok()) {
                Some(v) => millis = v,
                None => return usage("--millis needs a number"),
            },
            other => return usage(&format!("unknown argument {other}")),
        }
    }
    let cases = match benches::hog_bench_cases(&benches::workspace_root()) {
        Ok(c) => c,
        Err(e) => return usage(&format!("reading the bench programs: {e}")),
    };
    let budget = Duration::from_millis(millis);
    let mut rows = Vec::new();
    for (name, bytecode) in &cases {
        let program = match hogvm::Program::from_json(bytecode) {
            Ok(p) => p,
            Err(e) => return usage(&format!("{name}: {e}")),
        };
        let run_once = || {
            let run = hogvm::run(&program, hogvm::Options::default()).map_err(|e| e.to_string())?;
            run.result
                .map(|v| hogvm::print_value(&v))
                .map_err(|e| e.to_string())
        };
        let result = match run_once() {
            Ok(r) => r,
            Err(e) => return usage(&format!("{name} failed: {e}")),
        };
        let start = Instant::now();
        let mut reps = 0u32;
        while start.elapsed() < budget || reps < 3 {
            let _ = black_box(run_once());
            reps += 1;
        }
        let mean_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(reps);
        rows.push(
            serde_json::json!({ "name": name, "mean_us": mean_us, "reps": reps, "result": result }),
        );
    }
    println!("{}", serde_json::Value::Array(rows));
    std::process::ExitCode::SUCCESS
}
