//! CH004 `drop-without-sync`: a replicated table dropped and recreated in the same migration without
//! `SYNC`. Without `SYNC` the Keeper metadata may still exist when the CREATE runs ("Node exists").
//! Kafka, Distributed and MV objects do not need `SYNC`.
//!
//! Bad: `DROP TABLE IF EXISTS sharded_x` then `CREATE TABLE IF NOT EXISTS sharded_x … ENGINE = ${engine}`
//! (replicated engine) in one migration.
//!
//! Good: `DROP TABLE IF EXISTS sharded_x SYNC` then the CREATE.

use super::{Rule, RuleContext, Sink};
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH004",
    name: "drop-without-sync",
    summary: "replicated table recreated without `DROP … SYNC`",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for migration in ctx.migrations {
        for (i, op) in migration.ops.iter().enumerate() {
            let Some(stmt) = &op.statement else { continue };
            let StatementKind::Drop(drop) = &stmt.kind else {
                continue;
            };
            if drop.sync {
                continue;
            }
            for name in &drop.names {
                let recreated = migration.ops[i + 1..].iter().find_map(|later| {
                    match (&later.statement, &later.target) {
                        (Some(s), Some(t))
                            if matches!(s.kind, StatementKind::Create(_))
                                && t.name == name.name =>
                        {
                            Some(t.kind)
                        }
                        _ => None,
                    }
                });
                if let Some(kind) = recreated.filter(|k| k.is_replicated()) {
                    sink.sql(
                        migration.migration,
                        op,
                        &stmt.span,
                        format!("`{}` is dropped without `SYNC` and recreated as a {} in this migration", name.name, kind.describe()),
                        "write `DROP TABLE IF EXISTS … SYNC` so Keeper metadata is gone before the CREATE",
                    );
                }
            }
        }
    }
}
