//! CH009 `naming`: objects named against the convention. Sharded data tables are `sharded_X`, writable
//! Distributed tables `writable_X`, Kafka tables `kafka_X`, materialized views `X_mv`; and those prefixes
//! and suffix are reserved for those kinds.
//!
//! Bad: `CREATE TABLE IF NOT EXISTS person_queue … ENGINE = ${engine}` (a Kafka engine)
//!
//! Good: `CREATE TABLE IF NOT EXISTS kafka_person … ENGINE = ${engine}`

use super::{Rule, RuleContext, Sink};
use crate::analysis::ObjectKind;
use crate::ast::StatementKind;

pub(crate) const RULE: Rule = Rule {
    code: "CH009",
    name: "naming",
    summary: "`sharded_X` / `writable_X` / `kafka_X` / `X_mv` naming",
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
        let name = target.name.as_str();
        let conventions = [
            (
                ObjectKind::ShardedData,
                name.starts_with("sharded_"),
                "`sharded_` prefix",
            ),
            (
                ObjectKind::DistributedWritable,
                name.starts_with("writable_"),
                "`writable_` prefix",
            ),
            (
                ObjectKind::Kafka,
                name.starts_with("kafka_"),
                "`kafka_` prefix",
            ),
            (
                ObjectKind::MaterializedView,
                name.ends_with("_mv"),
                "`_mv` suffix",
            ),
        ];
        for (kind, matches, affix) in conventions {
            let message = if target.kind == kind && !matches {
                format!("{} `{name}` should have the {affix}", kind.describe())
            } else if target.kind != kind && matches {
                format!(
                    "`{name}` has the {affix} reserved for a {}, but is a {}",
                    kind.describe(),
                    target.kind.describe()
                )
            } else {
                continue;
            };
            sink.sql(m, op, &create.name.span, message, "name objects `sharded_X`, `writable_X`, `kafka_X`, `X_mv` (read tables: `X` or `distributed_X`)");
        }
    }
}
