//! `cargo xtask parity`: Hogref's HogQL parser against PostHog's `hogql-parser-rs`, AST for AST.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ParityArgs {}

pub(crate) fn run(_args: ParityArgs) -> anyhow::Result<()> {
    anyhow::bail!("parity is not implemented yet")
}
