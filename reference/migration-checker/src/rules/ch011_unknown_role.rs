//! CH011 `unknown-role`: a `node_roles` entry outside the dialect's role set (e.g. `COORDINATOR` under
//! `posthog-2026`, where it was removed), or an empty list (the operation would run nowhere).
//!
//! Bad: `node_roles = ["DATA", "COORDNATOR"]`, `node_roles = []`
//!
//! Good: `node_roles = ["DATA", "COORDINATOR"]` (dialect `hogref`)

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH011",
    name: "unknown-role",
    summary: "role outside the configured role set, or no role",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let at = op.op.node_roles_offset;
        if op.op.node_roles.is_empty() {
            sink.file(
                &m.path,
                &m.source,
                at,
                at + 2,
                "node_roles is empty: the operation would run on no host".to_string(),
                "list at least one role",
            );
        }
        for role in &op.op.node_roles {
            if !ctx.config.roles.contains(role) {
                sink.file(
                    &m.path,
                    &m.source,
                    at,
                    at + 1,
                    format!("unknown role `{role}` (dialect `{}`)", ctx.config.name),
                    &format!("use one of: {}", ctx.config.roles.join(", ")),
                );
            }
        }
    }
}
