//! CH007 `inconsistent-flags`: `sharded` / `is_alter_on_replicated_table` that contradict the target's engine.
//! ALTER on a sharded replicated table: both true (one host per shard). ALTER on a non-sharded replicated
//! table: `is_alter_on_replicated_table = true`, `sharded = false` (one host). ALTER on Distributed, Kafka,
//! MV or plain tables: both false (every host). CREATE: `sharded` true exactly for sharded tables,
//! `is_alter_on_replicated_table` false. The target's engine comes from an earlier CREATE in the checked
//! migrations, else from its name (`sharded_X`, `writable_X`, `kafka_X`, `X_mv`).
//!
//! Bad: `ALTER TABLE sharded_events ADD COLUMN IF NOT EXISTS c UInt8` with `sharded = false`.
//!
//! Good: the same with `sharded = true`, `is_alter_on_replicated_table = true`.

use super::{Rule, RuleContext, Sink};
use crate::analysis::ObjectKind;
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH007",
    name: "inconsistent-flags",
    summary: "flags contradict the target table's engine",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let Some(stmt) = &op.statement else { continue };
        let (want_sharded, want_alter, what) = match (&stmt.kind, &op.target) {
            (StatementKind::Alter(_), Some(t)) => (
                Some(t.kind == ObjectKind::ShardedData),
                Some(t.kind.is_replicated()),
                format!("ALTER of `{}`, a {}", t.name, t.kind.describe()),
            ),
            (StatementKind::Create(_), Some(t)) => (
                Some(t.kind == ObjectKind::ShardedData),
                Some(false),
                format!("CREATE of `{}`, a {}", t.name, t.kind.describe()),
            ),
            (StatementKind::Alter(a), None) => (None, None, format!("ALTER of `{}`", a.name.name)),
            _ => (None, Some(false), "this statement".to_string()),
        };
        let mut wrong = Vec::new();
        if let (Some(want), Some(got)) = (want_sharded, op.op.sharded)
            && want != got
        {
            wrong.push(format!("`sharded` should be {want}"));
        }
        if let (Some(want), Some(got)) = (want_alter, op.op.is_alter_on_replicated_table)
            && want != got
        {
            wrong.push(format!("`is_alter_on_replicated_table` should be {want}"));
        }
        if !wrong.is_empty() {
            sink.sql(
                m,
                op,
                &stmt.keyword_span,
                format!("{what}: {}", wrong.join(", ")),
                "sharded replicated ALTER: both true; non-sharded replicated ALTER: only is_alter_on_replicated_table; anything else: both false (sharded = true on a sharded CREATE)",
            );
        }
    }
}
