//! `hog_timing`: times Hogref's HogVM on the bench programs (`fixtures/hog/bytecode/bench_*.json`), for
//! `cargo xtask bench hog`, which runs PostHog's VM on the same bytecode beside it.
//!
//! Prints one JSON array: `[{"name", "mean_us", "reps", "result", "compile_us"}]`. Each program runs once to
//! warm up, then repeatedly for about `--millis` (default 300) ms; a run is parse-free (the program is parsed
//! once). `compile_us` is hog-compiler's time (parse and compile) on the program's Hog source,
//! `fixtures/hog/programs/NAME.hog`, whose bytecode must return the same result (null when there is none).
//! `--stl` prints the names of the standard-library functions HogVM implements instead.

use std::hint::black_box;
use std::time::{Duration, Instant};

fn usage(msg: &str) -> std::process::ExitCode {
    eprintln!("hog_timing: {msg}\nusage: hog_timing [--millis N] [--stl]");
    std::process::ExitCode::from(2)
}

/// Mean microseconds hog-compiler takes on the bench program's Hog source, after checking that its
/// bytecode returns `result` too; `None` when the program has no source.
fn compile_time(name: &str, result: &str, budget: Duration) -> Result<Option<f64>, String> {
    let path = benches::workspace_root().join(format!("fixtures/hog/programs/{name}.hog"));
    let Ok(src) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let options = hog_compiler::Options::default();
    let compile = || hog_compiler::compile_program(&src, &options).map_err(|e| e.to_string());
    let program = hogvm::Program::from_json(&serde_json::Value::Array(compile()?))
        .map_err(|e| e.to_string())?;
    let run = hogvm::run(&program, hogvm::Options::default()).map_err(|e| e.to_string())?;
    let got = run
        .result
        .map(|v| hogvm::print_value(&v))
        .map_err(|e| e.to_string())?;
    if got != result {
        return Err(format!(
            "{} returns {got}, the bytecode {result}",
            path.display()
        ));
    }
    let start = Instant::now();
    let mut reps = 0u32;
    while start.elapsed() < budget / 4 || reps < 3 {
        let _ = black_box(compile());
        reps += 1;
    }
    Ok(Some(start.elapsed().as_secs_f64() * 1e6 / f64::from(reps)))
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
            "--stl" => {
                let names = hogvm::stl::implemented_names();
                println!("{}", serde_json::json!(names));
                return std::process::ExitCode::SUCCESS;
            }
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
        let compile_us = match compile_time(name, &result, budget) {
            Ok(us) => us,
            Err(e) => return usage(&format!("{name}: {e}")),
        };
        rows.push(serde_json::json!({
            "name": name, "mean_us": mean_us, "reps": reps, "result": result, "compile_us": compile_us,
        }));
    }
    println!("{}", serde_json::Value::Array(rows));
    std::process::ExitCode::SUCCESS
}
