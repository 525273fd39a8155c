//! `hogref hogql ...`: HogQL on stdin, JSON on stdout.

use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub(crate) struct HogqlArgs {
    #[command(subcommand)]
    command: HogqlCommand,
}

#[derive(Debug, Subcommand)]
enum HogqlCommand {
    /// Parse HogQL from stdin and print the AST as JSON (PostHog's parser JSON shape).
    Parse,
}

pub(crate) fn run(args: HogqlArgs) -> anyhow::Result<i32> {
    match args.command {
        HogqlCommand::Parse => anyhow::bail!("hogql parse is not implemented yet"),
    }
}
