//! CH013 `kafka-column-default`: a Kafka engine table with a `DEFAULT`, `MATERIALIZED`, `ALIAS` or
//! `EPHEMERAL` column. ClickHouse rejects it when the table is created (verified on 26.9: "KafkaEngine
//! doesn't support DEFAULT/MATERIALIZED/EPHEMERAL expressions for columns"), so the migration would fail
//! on the ingestion nodes after the data table was already created.
//!
//! Bad: `CREATE TABLE IF NOT EXISTS kafka_person (id UUID, is_deleted Int8 DEFAULT 0) ENGINE = ${engine}`
//!
//! Good: `CREATE TABLE IF NOT EXISTS kafka_person (id UUID, is_deleted Int8) ENGINE = ${engine}` (keep the
//! default on the data table)

use super::{Rule, RuleContext, Sink};
use crate::analysis::ObjectKind;
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH013",
    name: "kafka-column-default",
    summary: "Kafka table column with a DEFAULT/MATERIALIZED/ALIAS expression",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        let (Some(stmt), Some(target)) = (&op.statement, &op.target) else {
            continue;
        };
        let StatementKind::Create(create) = &stmt.kind else {
            continue;
        };
        if target.kind != ObjectKind::Kafka {
            continue;
        }
        for column in &create.columns {
            if let Some((kind, span)) = &column.default {
                sink.sql(
                    m,
                    op,
                    span,
                    format!("Kafka table `{}` gives column `{}` a {kind} expression", target.name, column.name),
                    "the Kafka engine rejects column expressions; put the default on the data table instead",
                );
            }
        }
    }
}
