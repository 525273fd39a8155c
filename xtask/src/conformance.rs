//! `cargo xtask conformance`: every suite against a target, with a summary, JUnit XML and an HTML report.

use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ConformanceArgs {}

pub(crate) fn run(_args: ConformanceArgs) -> anyhow::Result<()> {
    anyhow::bail!("conformance is not implemented yet")
}
