//! CH012 `hardcoded-kafka`: a Kafka engine written inline. Broker list, topic prefix and consumer group
//! prefix belong to the runner's configuration (`KAFKA_HOSTS`, …), so Kafka tables are built by the engine
//! helper: `ENGINE = ${engine}` with `engine = { kind = "kafka", topic = "…", group = "…" }`.
//!
//! Bad: `ENGINE = Kafka('kafka:9092', 'clickhouse_person', 'group1', 'JSONEachRow')`
//!
//! Good: `ENGINE = ${engine}` and `engine = { kind = "kafka", topic = "clickhouse_person", group = "group1" }`

use super::{Rule, RuleContext, Sink};
use crate::analysis::ObjectKind;
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH012",
    name: "hardcoded-kafka",
    summary: "Kafka engine written inline instead of through the helper",
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
        if target.kind == ObjectKind::Kafka && op.op.engine.is_none() {
            let span = create
                .engine
                .as_ref()
                .map_or(stmt.keyword_span.clone(), |e| e.span.clone());
            sink.sql(
                m,
                op,
                &span,
                format!("Kafka table `{}` hard-codes its engine", target.name),
                "write `ENGINE = ${engine}` with `engine = { kind = \"kafka\", topic = …, group = … }` so brokers and prefixes come from the runner",
            );
        }
    }
}
