//! CH006 `implicit-flags`: an operation that does not write both `sharded` and
//! `is_alter_on_replicated_table`. The runner routes on them, so a silent default sends an ALTER to
//! every replica ("Metadata on replica is not up to date") or skips shards.
//!
//! Bad: an `[[operations]]` entry with `sql = "ALTER TABLE sharded_x …"` and no flags.
//!
//! Good: the same with `sharded = true` and `is_alter_on_replicated_table = true`.

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH006",
    name: "implicit-flags",
    summary: "`sharded` or `is_alter_on_replicated_table` not written",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let mut missing = Vec::new();
        if op.op.sharded.is_none() {
            missing.push("`sharded`");
        }
        if op.op.is_alter_on_replicated_table.is_none() {
            missing.push("`is_alter_on_replicated_table`");
        }
        if !missing.is_empty() {
            sink.file(
                &m.path,
                &m.source,
                op.op.op_offset,
                op.op.op_offset + 1,
                format!(
                    "operation {} does not set {}",
                    op.index + 1,
                    missing.join(" and ")
                ),
                "write both flags explicitly (true or false) on every operation",
            );
        }
    }
}
