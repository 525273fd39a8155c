//! The rules: one module per rule, each with a stable code, a name, and a bad and a good example.
//!
//! | code | name | flags |
//! |---|---|---|
//! | CH000 | syntax | SQL or template the parser cannot read |
//! | CH001 | on-cluster | `ON CLUSTER` in migration SQL |
//! | CH002 | missing-guard | CREATE/DROP/ADD/MODIFY/… without `IF [NOT] EXISTS` |
//! | CH003 | alter-table-if-exists | `ALTER TABLE IF EXISTS` (a ClickHouse syntax error) |
//! | CH004 | drop-without-sync | a replicated table dropped without `SYNC` and recreated in the same migration |
//! | CH005 | node-roles | `node_roles` not matching the object type's placement |
//! | CH006 | implicit-flags | `sharded` / `is_alter_on_replicated_table` not written |
//! | CH007 | inconsistent-flags | flags that contradict the target table's engine |
//! | CH008 | mutation | ClickHouse mutations (DROP COLUMN, UPDATE, MODIFY TTL, …) |
//! | CH009 | naming | `sharded_X`, `writable_X`, `kafka_X`, `X_mv` naming conventions |
//! | CH010 | numbering | file names, duplicate numbers and `max_migration.txt` |
//! | CH011 | unknown-role | a role outside the configured role set |
//! | CH012 | hardcoded-kafka | a Kafka engine written inline instead of through the engine helper |
//! | CH013 | kafka-column-default | a Kafka table column with a DEFAULT/MATERIALIZED/ALIAS expression |
//! | CH014 | alter-single-data-role | a replicated ALTER not aimed at exactly one data role (posthog-2026 only) |

use crate::Diagnostic;
use crate::analysis::{AnalyzedMigration, AnalyzedOp};
use crate::config::Config;
use crate::lexer::Span;
use crate::model::Migration;

mod ch000_syntax;
mod ch001_on_cluster;
mod ch002_missing_guard;
mod ch003_alter_table_if_exists;
mod ch004_drop_without_sync;
mod ch005_node_roles;
mod ch006_implicit_flags;
mod ch007_inconsistent_flags;
mod ch008_mutation;
mod ch009_naming;
mod ch010_numbering;
mod ch011_unknown_role;
mod ch012_hardcoded_kafka;
mod ch013_kafka_column_default;
mod ch014_alter_single_data_role;

/// A rule: code, name, one-line summary and its check.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) code: &'static str,
    pub(crate) name: &'static str,
    pub(crate) summary: &'static str,
    pub(crate) check: fn(&RuleContext<'_>, &mut Sink),
}

/// Every rule, in code order.
pub(crate) const RULES: &[Rule] = &[
    ch000_syntax::RULE,
    ch001_on_cluster::RULE,
    ch002_missing_guard::RULE,
    ch003_alter_table_if_exists::RULE,
    ch004_drop_without_sync::RULE,
    ch005_node_roles::RULE,
    ch006_implicit_flags::RULE,
    ch007_inconsistent_flags::RULE,
    ch008_mutation::RULE,
    ch009_naming::RULE,
    ch010_numbering::RULE,
    ch011_unknown_role::RULE,
    ch012_hardcoded_kafka::RULE,
    ch013_kafka_column_default::RULE,
    ch014_alter_single_data_role::RULE,
];

/// Every rule code.
pub fn codes() -> Vec<&'static str> {
    RULES.iter().map(|r| r.code).collect()
}

/// (code, name, summary) of every rule.
pub fn list() -> Vec<(&'static str, &'static str, &'static str)> {
    RULES.iter().map(|r| (r.code, r.name, r.summary)).collect()
}

/// A migration directory being checked as a whole (for numbering).
#[derive(Debug, Clone)]
pub struct DirInfo {
    /// Directory path as given.
    pub path: String,
    /// File names of every entry that looks like a migration (`*.toml`).
    pub files: Vec<String>,
    /// Content of `max_migration.txt`, if it exists.
    pub max_migration: Option<String>,
}

/// What a rule sees.
#[derive(Debug)]
pub(crate) struct RuleContext<'a> {
    pub(crate) config: &'a Config,
    pub(crate) migrations: &'a [AnalyzedMigration<'a>],
    pub(crate) dir: Option<&'a DirInfo>,
}

impl<'a> RuleContext<'a> {
    /// Every analyzed operation with its migration.
    pub(crate) fn ops(&self) -> impl Iterator<Item = (&'a Migration, &'a AnalyzedOp<'a>)> + 'a {
        self.migrations
            .iter()
            .flat_map(|m| m.ops.iter().map(move |op| (m.migration, op)))
    }
}

/// Collects diagnostics for one rule.
#[derive(Debug)]
pub(crate) struct Sink {
    pub(crate) rule: (&'static str, &'static str),
    pub(crate) out: Vec<Diagnostic>,
}

impl Sink {
    /// A diagnostic at a span of an operation's SQL.
    pub(crate) fn sql(
        &mut self,
        m: &Migration,
        op: &AnalyzedOp<'_>,
        span: &Span,
        message: String,
        hint: &str,
    ) {
        let start = op.op.file_offset(span.start);
        let end = if op.op.sql_offset.is_some() {
            op.op.file_offset(span.end)
        } else {
            start + 3
        };
        self.out.push(Diagnostic::at(
            &m.path,
            &m.source,
            start,
            end,
            self.rule,
            message,
            Some(hint.to_string()),
        ));
    }

    /// A diagnostic at a byte range of a file.
    pub(crate) fn file(
        &mut self,
        path: &str,
        source: &str,
        start: usize,
        end: usize,
        message: String,
        hint: &str,
    ) {
        self.out.push(Diagnostic::at(
            path,
            source,
            start,
            end,
            self.rule,
            message,
            Some(hint.to_string()),
        ));
    }
}
