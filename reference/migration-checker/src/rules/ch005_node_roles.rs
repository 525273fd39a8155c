//! CH005 `node-roles`: `node_roles` that do not match the placement configured for the object type
//! (CREATE, and ALTER of a known table). DROPs are not checked: dropping from old places is how objects move.
//!
//! Hogref's placement: sharded data `[DATA]`; non-sharded replicated and distributed read tables
//! `[DATA, COORDINATOR]`; writable distributed, Kafka tables and materialized views `[INGESTION_SMALL]`.
//!
//! Bad: `CREATE TABLE IF NOT EXISTS kafka_person … ENGINE = ${engine}` (Kafka) with `node_roles = ["DATA"]`
//!
//! Good: the same with `node_roles = ["INGESTION_SMALL"]`

use super::{Rule, RuleContext, Sink};
use crate::analysis::Known;
use crate::ast::StatementKind;
use crate::model::role_set;

pub(crate) const RULE: Rule = Rule {
    code: "CH005",
    name: "node-roles",
    summary: "`node_roles` do not match the object type",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let (Some(stmt), Some(target)) = (&op.statement, &op.target) else {
            continue;
        };
        let applies = match &stmt.kind {
            StatementKind::Create(_) => true,
            StatementKind::Alter(_) => target.known != Known::ByName,
            _ => false,
        };
        if !applies {
            continue;
        }
        let Some(allowed) = ctx.config.placement.for_kind(target.kind) else {
            continue;
        };
        let actual = role_set(&op.op.node_roles);
        if op.op.node_roles.iter().any(|r| r == "ALL")
            || allowed.iter().any(|set| role_set(set) == actual)
        {
            continue;
        }
        let options: Vec<String> = allowed
            .iter()
            .map(|set| format!("[{}]", set.join(", ")))
            .collect();
        sink.file(
            &m.path,
            &m.source,
            op.op.node_roles_offset,
            op.op.node_roles_offset + 1,
            format!(
                "`{}` is a {} but node_roles is [{}]",
                target.name,
                target.kind.describe(),
                op.op.node_roles.join(", ")
            ),
            &format!(
                "{} use node_roles {} (dialect `{}`)",
                target.kind.describe(),
                options.join(" or "),
                ctx.config.name
            ),
        );
    }
}
