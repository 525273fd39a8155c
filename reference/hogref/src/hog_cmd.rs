//! `hogref hog parse|compile FILE`: Hog programs from a file (`-` for stdin), JSON on stdout.

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
                    let (kind, errors) = match &e {
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
                    println!(
                        "{}",
                        serde_json::json!({"error": true, "type": kind, "errors": errors})
                    );
                    Ok(1)
                }
            }
        }
    }
}
