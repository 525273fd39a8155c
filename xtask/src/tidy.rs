//! `cargo xtask tidy`: the house rules, as code.

pub(crate) fn run() -> anyhow::Result<()> {
    Ok(())
}
