//! CH008 `mutation`: a ClickHouse mutation in a migration. Mutations rewrite parts in the background and
//! have blocked deploys ("Too many unfinished mutations"). Banned: DROP/MATERIALIZE/CLEAR of a column,
//! index, projection or statistics; RENAME COLUMN; MODIFY TTL; a MODIFY COLUMN that may change the type;
//! UPDATE; DELETE WHERE; APPLY DELETED MASK; `DELETE FROM`/`UPDATE … SET`. Metadata-only changes are fine
//! (ADD COLUMN/INDEX, MODIFY COLUMN COMMENT/DEFAULT/CODEC, MODIFY SETTING, DROP PARTITION, DROP TABLE).
//! A migration may attest that its mutation was applied by hand: `applied_mutation = "<date, who, link>"`.
//!
//! Bad: `ALTER TABLE sharded_events DROP COLUMN IF EXISTS old`
//!
//! Good: `ALTER TABLE sharded_events ADD INDEX IF NOT EXISTS i uuid TYPE bloom_filter GRANULARITY 1`

use super::{Rule, RuleContext, Sink};
use crate::ast::{AlterAction as A, AlterTarget as T, StatementKind};

pub(crate) const RULE: Rule = Rule {
    code: "CH008",
    name: "mutation",
    summary: "ClickHouse mutation in a migration",
    check,
};

const HINT: &str = "mutations are applied by the ClickHouse team first; then add `applied_mutation = \"<date, who, link>\"` to the migration";

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        if m.applied_mutation.is_some() {
            continue;
        }
        let Some(stmt) = &op.statement else { continue };
        match &stmt.kind {
            StatementKind::Other(kw) if kw == "DELETE" || kw == "UPDATE" => {
                sink.sql(
                    m,
                    op,
                    &stmt.keyword_span,
                    format!("lightweight `{kw}` is a mutation"),
                    HINT,
                );
            }
            StatementKind::Alter(a) => {
                for cmd in &a.commands {
                    let what = match (cmd.action, cmd.target) {
                        (
                            A::Drop | A::Materialize | A::Clear,
                            T::Column | T::Index | T::Projection | T::Statistics,
                        ) => Some(format!("{:?} {:?}", cmd.action, cmd.target).to_uppercase()),
                        (A::Rename, T::Column) => Some("RENAME COLUMN".to_string()),
                        (A::Modify, T::Ttl) => Some("MODIFY TTL".to_string()),
                        (A::Update, _) => Some("UPDATE".to_string()),
                        (A::Delete, _) => Some("DELETE".to_string()),
                        (A::ApplyDeletedMask, _) => Some("APPLY DELETED MASK".to_string()),
                        (A::Modify, T::Column) => cmd.type_text.as_ref().and_then(|ty| {
                            let known = op
                                .before
                                .as_ref()
                                .and_then(|b| cmd.name.as_ref().and_then(|n| b.columns.get(n)));
                            match known {
                                Some(old) if old.replace(' ', "") == ty.replace(' ', "") => None,
                                _ => Some(
                                    "MODIFY COLUMN with a type (may change the type)".to_string(),
                                ),
                            }
                        }),
                        _ => None,
                    };
                    if let Some(what) = what {
                        sink.sql(m, op, &cmd.span, format!("`{what}` is a mutation"), HINT);
                    }
                }
            }
            _ => {}
        }
    }
}
