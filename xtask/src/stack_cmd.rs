//! `cargo xtask stack up|down|status|env`.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct StackArgs {
    /// up, down, status or env
    action: String,
}

pub(crate) fn run(args: StackArgs) -> anyhow::Result<()> {
    anyhow::bail!("stack {} is not implemented yet", args.action)
}
