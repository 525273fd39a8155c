//! `cargo xtask bench`: criterion benches and side-by-side oracle comparisons.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Which bench group (e.g. `parse`); all when absent.
    group: Option<String>,
}

pub(crate) fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench {:?} is not implemented yet", args.group)
}
