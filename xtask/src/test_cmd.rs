//! `cargo xtask test`: stack up, `cargo test --workspace` against it, stack down.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct TestArgs {}

pub(crate) fn run(_args: TestArgs) -> anyhow::Result<()> {
    anyhow::bail!("test is not implemented yet")
}
