//! CH003 `alter-table-if-exists`: `ALTER TABLE IF EXISTS t …`, which ClickHouse rejects as a syntax error
//! (verified on 26.9: `Syntax error: failed at position 16 (EXISTS)`).
//!
//! Bad: `ALTER TABLE IF EXISTS person ADD COLUMN IF NOT EXISTS c UInt8`
//!
//! Good: `ALTER TABLE person ADD COLUMN IF NOT EXISTS c UInt8`

use super::{Rule, RuleContext, Sink};
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH003",
    name: "alter-table-if-exists",
    summary: "`ALTER TABLE IF EXISTS` is a ClickHouse syntax error",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let Some(stmt) = &op.statement else { continue };
        if let StatementKind::Alter(a) = &stmt.kind
            && let Some(span) = &a.table_if_exists
        {
            sink.sql(
                    m,
                    op,
                    span,
                    "`ALTER TABLE IF EXISTS` is a ClickHouse syntax error".to_string(),
                    "drop the table-level guard and guard each command instead (`ADD COLUMN IF NOT EXISTS`, `MODIFY COLUMN IF EXISTS`)",
                );
        }
    }
}
