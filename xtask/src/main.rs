//! `cargo xtask`: Hogref's build system. Every orchestration step (stack, tests, parity, benches,
//! conformance, tidy) is a subcommand here; there are no shell scripts or Makefiles.

use clap::{Parser, Subcommand};

mod bench;
mod bless;
mod conformance;
mod hog_bench;
mod hogvm_oracle;
mod ingest_bench;
mod insights_bench;
mod installs;
mod oracle;
mod parity;
mod paths;
mod sdk;
mod stack_cmd;
mod test_cmd;
mod tidy;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "Hogref's build system")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Bring the service stack up or down, or show it.
    Stack(stack_cmd::StackArgs),
    /// Bring a stack up, run the whole workspace's tests against it, tear it down (the CI command).
    Test(test_cmd::TestArgs),
    /// Compare Hogref's HogQL parser with PostHog's (`hogql-parser-rs`) AST for AST.
    Parity(parity::ParityArgs),
    /// Run benchmarks, side by side with their references.
    Bench(bench::BenchArgs),
    /// Run the conformance suites against a target and report.
    Conformance(conformance::ConformanceArgs),
    /// Check the house rules (also runs as a test).
    Tidy,
    /// Regenerate the expectations of every suite (or the named ones) and print what changed.
    Bless(bless::BlessArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Stack(args) => stack_cmd::run(args),
        Command::Test(args) => test_cmd::run(args),
        Command::Parity(args) => parity::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Conformance(args) => conformance::run(args),
        Command::Tidy => tidy::run(),
        Command::Bless(args) => bless::run(args),
    }
}
