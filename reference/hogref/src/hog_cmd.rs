//! `hogref hog parse|compile|run FILE`: Hog programs from a file (`-` for stdin). `parse` and `compile`
//! print JSON on stdout; `run` compiles the program (or takes bytecode JSON as it is) and runs it on
//! HogVM, printing what the program prints, like PostHog's `bin/hog`.

use std::io::Read as _;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use hogql_parser::{EntryPoint, try_parse_json_string};

#[derive(Debug, Args)]
pub(crate) struct HogArgs {
    #[command(subcommand)]
    command: HogCommand,
}

#[derive(Debug, Subcommand)]
enum HogCommand {
    /// Parse a Hog program and print its AST as JSON (PostHog's `parse_program` shape).
    ///
    /// On a syntax error, prints the error envelope and exits with status 1.
    Parse(ParseArgs),
    /// Compile a Hog program (or, with `--expr`, a HogQL filter expression) and print the bytecode
    /// as one JSON array (`["_H", 1, ...]`).
    ///
    /// On an error, prints `{"error": true, "type": ..., "errors": [{"code", "message", "start",
    /// "end"}, ...]}` (character offsets) and exits with status 1.
    Compile(CompileArgs),
    /// Run a Hog program (or bytecode JSON, when the file starts with `[`) on HogVM and print what it
    /// prints, one line per `print`, like PostHog's `bin/hog`.
    ///
    /// `sleep(...)` resumes at once with `null` (the run is never held up by it). On a compile or
    /// runtime error, prints `{"error": true, "type": ..., "errors": [{"code", "message", ...}]}` on
    /// stderr (stdout keeps what the program printed up to then) and exits with status 1.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// The program file (`-` reads stdin): Hog source, or bytecode JSON (`["_H", 1, ...]`).
    file: String,
    /// The globals the program sees, as a JSON object (`--globals '{"event": {...}}'`).
    #[arg(long)]
    globals: Option<String>,
    /// Print the program's return value (as `print` shows it) after its output, when it is not null.
    #[arg(long)]
    result: bool,
}

#[derive(Debug, Args)]
struct ParseArgs {
    /// The program file (`-` reads stdin).
    file: String,
    /// Give every node `start`/`end` positions.
    #[arg(long)]
    positions: bool,
}

#[derive(Debug, Args)]
struct CompileArgs {
    /// The program file (`-` reads stdin).
    file: String,
    /// The file holds one HogQL expression (a filter), compiled as PostHog compiles `filters`.
    #[arg(long)]
    expr: bool,
    /// A function the host provides besides the STL (repeatable).
    #[arg(long = "function")]
    functions: Vec<String>,
}

fn read(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut src = String::new();
        std::io::stdin()
            .read_to_string(&mut src)
            .context("reading the program from stdin")?;
        Ok(src)
    } else {
        std::fs::read_to_string(file).with_context(|| format!("reading {file}"))
    }
}

pub(crate) fn run(args: HogArgs) -> anyhow::Result<i32> {
    match args.command {
        HogCommand::Run(r) => run_program(&r),
        HogCommand::Parse(p) => {
            let src = read(&p.file)?;
            match try_parse_json_string(EntryPoint::Program, &src, p.positions) {
                Ok(ast) => {
                    println!("{ast}");
                    Ok(0)
                }
                Err(error) => {
                    println!("{error}");
                    Ok(1)
                }
            }
        }
        HogCommand::Compile(c) => {
            let src = read(&c.file)?;
            let options = hog_compiler::Options {
                functions: c.functions,
            };
            let result = if c.expr {
                hog_compiler::compile_expr(&src, &options)
            } else {
                hog_compiler::compile_program(&src, &options)
            };
            match result {
                Ok(bytecode) => {
                    println!("{}", hog_compiler::to_json(&bytecode));
                    Ok(0)
                }
                Err(e) => {
                    println!("{}", compile_error_json(&e));
                    Ok(1)
                }
            }
        }
    }
}

/// The error envelope of a program that does not compile.
fn compile_error_json(e: &hog_compiler::Error) -> serde_json::Value {
    let (kind, errors) = match e {
                        hog_compiler::Error::Parse(p) => {
                            let (start, end) = p.offsets();
                            (
                                p.type_name(),
                                vec![serde_json::json!({"code": "syntax", "message": p.message(), "start": start, "end": end})],
                            )
                        }
                        hog_compiler::Error::Compile(diags) => (
                            "CompileError",
                            diags
                                .iter()
                                .map(|d| serde_json::json!({"code": d.code, "message": d.message, "start": d.start, "end": d.end}))
                                .collect(),
                        ),
                    };
    serde_json::json!({"error": true, "type": kind, "errors": errors})
}

/// The error envelope of a run that failed.
fn run_error_json(e: &hogvm::Error) -> serde_json::Value {
    let mut error = serde_json::json!({"code": e.code().as_str(), "message": e.message()});
    if let hogvm::Error::Uncaught { kind, payload, .. } = e {
        error["kind"] = serde_json::json!(kind);
        if let Some(payload) = payload {
            error["payload"] = serde_json::json!(payload);
        }
    }
    serde_json::json!({"error": true, "type": e.js_name(), "errors": [error]})
}

/// The CLI's host: the real clock, a random sequence seeded from it, `print` straight to stdout.
struct CliHost {
    seed: u64,
}

impl hogvm::Host for CliHost {
    fn now_ms(&mut self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    fn random(&mut self) -> f64 {
        // splitmix64
        self.seed = self.seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        #[allow(clippy::cast_precision_loss)]
        let f = (z >> 11) as f64 / (1u64 << 53) as f64;
        f
    }

    fn print(&mut self, line: &str) {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        // A closed stdout (`| head`) ends the output, not the run.
        let _ = writeln!(out, "{line}");
    }
}

fn run_program(r: &RunArgs) -> anyhow::Result<i32> {
    let src = read(&r.file)?;
    let globals: serde_json::Value = match &r.globals {
        Some(text) => serde_json::from_str(text).context("--globals is not JSON")?,
        None => serde_json::json!({}),
    };
    anyhow::ensure!(globals.is_object(), "--globals must be a JSON object");
    let program = if src.trim_start().starts_with('[') {
        hogvm::Program::from_json_str(&src)
    } else {
        match hog_compiler::compile_program(&src, &hog_compiler::Options::default()) {
            Ok(bytecode) => hogvm::Program::from_json(&serde_json::Value::Array(bytecode)),
            Err(e) => {
                eprintln!("{}", compile_error_json(&e));
                return Ok(1);
            }
        }
    };
    let outcome = program.and_then(|program| {
        let options = hogvm::Options::default().with_globals_json(&globals);
        let mut host = CliHost {
            seed: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() ^ u64::from(d.subsec_nanos()) << 32),
        };
        let mut vm = hogvm::Vm::new(&program, options);
        let mut step = vm.run(&mut host);
        loop {
            match step? {
                hogvm::Outcome::Finished(v) => return Ok(v),
                // Only `sleep` suspends here (the CLI names no host async functions); the async
                // step budget still bounds how many times.
                hogvm::Outcome::Suspended { .. } => {
                    step = vm.resume(hogvm::Value::Null, &mut host);
                }
            }
        }
    });
    match outcome {
        Ok(v) => {
            if r.result && !matches!(v, hogvm::Value::Null) {
                println!("{}", hogvm::print_value(&v));
            }
            Ok(0)
        }
        Err(e) => {
            eprintln!("{}", run_error_json(&e));
            Ok(1)
        }
    }
}
