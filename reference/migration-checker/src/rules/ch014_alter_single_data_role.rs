//! CH014 `alter-single-data-role`: a replicated ALTER (`is_alter_on_replicated_table = true`) must list
//! exactly one role, and it must be one of the dialect's `data_roles`: the runner picks one host (or one
//! per shard) among that role's hosts, and replication carries the ALTER to the other replicas. PostHog's
//! later dialect enforces this; Hogref's default dialect ignores it (its replicated tables live on
//! `DATA + COORDINATOR`).
//!
//! Bad (dialect `posthog-2026`): `ALTER TABLE sharded_x ADD COLUMN IF NOT EXISTS c UInt8` with
//! `node_roles = ["DATA", "INGESTION_SMALL"]` and both flags true.
//!
//! Good: the same with `node_roles = ["DATA"]`.

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH014",
    name: "alter-single-data-role",
    summary: "replicated ALTER not targeting exactly one data role",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        if op.op.is_alter_on_replicated_table != Some(true) {
            continue;
        }
        let roles = &op.op.node_roles;
        let ok = roles.len() == 1 && ctx.config.data_roles.contains(&roles[0]);
        if !ok {
            let at = op.op.node_roles_offset;
            sink.file(
                &m.path,
                &m.source,
                at,
                at + 1,
                format!("replicated ALTER with node_roles [{}]", roles.join(", ")),
                &format!(
                    "list exactly one data role: one of {}",
                    ctx.config.data_roles.join(", ")
                ),
            );
        }
    }
}
