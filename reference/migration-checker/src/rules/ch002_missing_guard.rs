//! CH002 `missing-guard`: an operation that fails when re-run because it lacks `IF [NOT] EXISTS`.
//! A failed migration is re-run from its first operation, so every statement must be idempotent.
//!
//! Bad: `CREATE TABLE person (…)`, `DROP TABLE kafka_person`, `ALTER TABLE person ADD COLUMN c UInt8`
//!
//! Good: `CREATE TABLE IF NOT EXISTS person (…)`, `DROP TABLE IF EXISTS kafka_person`,
//! `ALTER TABLE person ADD COLUMN IF NOT EXISTS c UInt8` (the guard goes on the command, not the table).

use super::{Rule, RuleContext, Sink};
use crate::ast::{AlterAction, AlterTarget, StatementKind};

pub(crate) const RULE: Rule = Rule {
    code: "CH002",
    name: "missing-guard",
    summary: "statement without `IF [NOT] EXISTS`",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let Some(stmt) = &op.statement else { continue };
        match &stmt.kind {
            StatementKind::Create(c) if !c.if_not_exists && !c.or_replace => sink.sql(
                m,
                op,
                &c.name.span,
                format!("CREATE of `{}` without `IF NOT EXISTS`", c.name.name),
                "write `CREATE … IF NOT EXISTS` so a re-run is a no-op",
            ),
            StatementKind::Drop(d) if !d.if_exists => sink.sql(
                m,
                op,
                &stmt.keyword_span,
                format!(
                    "DROP of `{}` without `IF EXISTS`",
                    d.names.first().map_or("", |n| n.name.as_str())
                ),
                "write `DROP … IF EXISTS` so a re-run is a no-op",
            ),
            StatementKind::Truncate {
                if_exists: false,
                name,
            } => sink.sql(
                m,
                op,
                &stmt.keyword_span,
                format!("TRUNCATE of `{}` without `IF EXISTS`", name.name),
                "write `TRUNCATE TABLE IF EXISTS`",
            ),
            StatementKind::Alter(a) => {
                for cmd in &a.commands {
                    let guardable = matches!(
                        cmd.target,
                        AlterTarget::Column
                            | AlterTarget::Index
                            | AlterTarget::Projection
                            | AlterTarget::Statistics
                            | AlterTarget::Constraint
                    ) && matches!(
                        cmd.action,
                        AlterAction::Add
                            | AlterAction::Drop
                            | AlterAction::Modify
                            | AlterAction::Rename
                            | AlterAction::Comment
                            | AlterAction::Clear
                    );
                    if guardable && !cmd.guarded {
                        let (guard, verb) = if cmd.action == AlterAction::Add {
                            ("IF NOT EXISTS", "ADD")
                        } else {
                            ("IF EXISTS", "this command")
                        };
                        sink.sql(
                            m,
                            op,
                            &cmd.span,
                            format!("ALTER command on `{}` without `{guard}`", cmd.name.as_deref().unwrap_or("?")),
                            &format!("put `{guard}` on the command ({verb}), after the COLUMN/INDEX keyword"),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}
