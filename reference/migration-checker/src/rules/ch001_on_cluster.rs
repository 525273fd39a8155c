//! CH001 `on-cluster`: `ON CLUSTER` in migration SQL. The runner routes statements to hosts by role;
//! `ON CLUSTER` bypasses that routing, floods every node and has hung deploys.
//!
//! Bad: `DROP TABLE IF EXISTS kafka_person ON CLUSTER 'posthog'`
//!
//! Good: `DROP TABLE IF EXISTS kafka_person` with `node_roles = ["INGESTION_SMALL"]`

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH001",
    name: "on-cluster",
    summary: "`ON CLUSTER` in migration SQL",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let Some(stmt) = &op.statement else { continue };
        for span in &stmt.on_cluster {
            sink.sql(
                m,
                op,
                span,
                "`ON CLUSTER` in migration SQL".to_string(),
                "remove `ON CLUSTER`; pick the hosts with `node_roles` and the runner sends the statement to each",
            );
        }
    }
}
