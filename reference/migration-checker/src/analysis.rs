//! Analysis shared by the rules: parse each operation, fill `${engine}` through the engine helper,
//! classify each object, and track what earlier operations created (the catalog).

use std::collections::BTreeMap;

use crate::ast::{Create, ObjectType, Statement, StatementKind};
use crate::engine::{DistributedMode, EngineSpec, RenderContext};
use crate::lexer::{Span, TokenKind, tokenize};
use crate::model::{Migration, Operation};
use crate::parser::parse;

/// What an object is, for placement, naming and flag rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ObjectKind {
    /// Replicated MergeTree with a `{shard}` ZooKeeper path.
    ShardedData,
    /// Replicated MergeTree replicated on every node (`noshard` path).
    ReplicatedData,
    /// Plain MergeTree family.
    LocalData,
    /// Distributed table for reads.
    DistributedRead,
    /// Distributed table for writes (`writable_X`).
    DistributedWritable,
    /// Kafka engine table.
    Kafka,
    /// Materialized view.
    MaterializedView,
    /// Plain view.
    View,
    /// Dictionary.
    Dictionary,
    /// A database.
    Database,
    /// Any other engine (Memory, Log, Null, …).
    Other,
}

impl ObjectKind {
    /// Human name used in messages.
    pub fn describe(self) -> &'static str {
        match self {
            ObjectKind::ShardedData => "sharded data table",
            ObjectKind::ReplicatedData => "non-sharded replicated table",
            ObjectKind::LocalData => "non-replicated MergeTree table",
            ObjectKind::DistributedRead => "distributed read table",
            ObjectKind::DistributedWritable => "writable distributed table",
            ObjectKind::Kafka => "Kafka table",
            ObjectKind::MaterializedView => "materialized view",
            ObjectKind::View => "view",
            ObjectKind::Dictionary => "dictionary",
            ObjectKind::Database => "database",
            ObjectKind::Other => "table",
        }
    }

    /// Whether ALTERs on it are replicated through Keeper.
    pub fn is_replicated(self) -> bool {
        matches!(self, ObjectKind::ShardedData | ObjectKind::ReplicatedData)
    }
}

/// How the kind of an operation's target object is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// This operation creates it.
    Created,
    /// An earlier operation (this or an earlier migration) created it.
    Earlier,
    /// Guessed from the naming convention.
    ByName,
}

/// What an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Object name (unqualified).
    pub name: String,
    /// Its kind.
    pub kind: ObjectKind,
    /// How the kind is known.
    pub known: Known,
}

/// Columns and kind of an object created by an earlier operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its kind.
    pub kind: ObjectKind,
    /// Column name → type text.
    pub columns: BTreeMap<String, String>,
}

/// A syntax or template problem, in SQL coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlProblem {
    /// Message.
    pub message: String,
    /// Span in the SQL template.
    pub span: Span,
}

/// One operation after analysis.
#[derive(Debug, Clone)]
pub struct AnalyzedOp<'m> {
    /// The operation.
    pub op: &'m Operation,
    /// Its index in the migration (0-based).
    pub index: usize,
    /// The statement, with `${engine}` filled in (None when it did not parse).
    pub statement: Option<Statement>,
    /// Syntax/template problems.
    pub problems: Vec<SqlProblem>,
    /// The object acted on, when known.
    pub target: Option<Target>,
    /// Catalog entry of the target before this operation ran.
    pub before: Option<ObjectInfo>,
}

/// A migration after analysis.
#[derive(Debug, Clone)]
pub struct AnalyzedMigration<'m> {
    /// The migration.
    pub migration: &'m Migration,
    /// Its operations.
    pub ops: Vec<AnalyzedOp<'m>>,
}

/// Classifies a CREATE (after engine rendering).
pub fn classify(create: &Create, spec: Option<&EngineSpec>) -> ObjectKind {
    match create.object {
        ObjectType::MaterializedView => return ObjectKind::MaterializedView,
        ObjectType::View => return ObjectKind::View,
        ObjectType::Dictionary => return ObjectKind::Dictionary,
        ObjectType::Database => return ObjectKind::Database,
        ObjectType::Table => {}
    }
    let Some(engine) = &create.engine else {
        return ObjectKind::Other;
    };
    let name = engine.name.as_str();
    if name.starts_with("Replicated") && name.ends_with("MergeTree") {
        let path = engine.args.first().and_then(|a| a.string.as_deref());
        return match path {
            Some(p) if !p.contains("{shard}") || p.contains("noshard") => {
                ObjectKind::ReplicatedData
            }
            _ => ObjectKind::ShardedData,
        };
    }
    if name.ends_with("MergeTree") {
        return ObjectKind::LocalData;
    }
    match name {
        "Distributed" => match spec {
            Some(EngineSpec::Distributed {
                mode: DistributedMode::Write,
                ..
            }) => ObjectKind::DistributedWritable,
            Some(EngineSpec::Distributed {
                mode: DistributedMode::Read,
                ..
            }) => ObjectKind::DistributedRead,
            _ if create.name.name.starts_with("writable_") => ObjectKind::DistributedWritable,
            _ => ObjectKind::DistributedRead,
        },
        "Kafka" => ObjectKind::Kafka,
        _ => ObjectKind::Other,
    }
}

/// Guesses an object's kind from PostHog's naming convention.
pub fn kind_by_name(name: &str) -> Option<ObjectKind> {
    if name.starts_with("sharded_") {
        Some(ObjectKind::ShardedData)
    } else if name.starts_with("writable_") {
        Some(ObjectKind::DistributedWritable)
    } else if name.starts_with("kafka_") {
        Some(ObjectKind::Kafka)
    } else if name.ends_with("_mv") {
        Some(ObjectKind::MaterializedView)
    } else {
        None
    }
}

/// Parses an operation's SQL template and fills `${engine}` with the helper's rendering for `ctx`.
fn parse_op(op: &Operation, ctx: &RenderContext) -> (Option<Statement>, Vec<SqlProblem>) {
    let (mut statements, errors) = parse(&op.sql);
    let mut problems: Vec<SqlProblem> = errors
        .into_iter()
        .map(|e| SqlProblem {
            message: e.message,
            span: e.span,
        })
        .collect();
    if !problems.is_empty() {
        return (None, problems);
    }
    if statements.len() != 1 {
        let span = statements
            .get(1)
            .map_or(0..op.sql.len(), |s| s.span.clone());
        problems.push(SqlProblem {
            message: format!(
                "an operation holds exactly one statement, found {}",
                statements.len()
            ),
            span,
        });
        return (None, problems);
    }
    let mut stmt = statements.remove(0);
    for token in tokenize(&op.sql) {
        if let TokenKind::Placeholder(name) = &token.kind
            && name != "engine"
        {
            problems.push(SqlProblem {
                message: format!("unknown placeholder `${{{name}}}`"),
                span: token.span.clone(),
            });
        }
    }
    let table = match &stmt.kind {
        StatementKind::Create(c) => c.name.name.clone(),
        _ => String::new(),
    };
    let placeholder = match &stmt.kind {
        StatementKind::Create(create) => create
            .engine
            .as_ref()
            .filter(|e| e.name == "${engine}")
            .map(|e| e.span.clone()),
        _ => None,
    };
    match (placeholder, &op.engine) {
        (Some(span), Some(spec)) => {
            let rendered = spec.render(&table, ctx);
            let (parsed, errors) = parse(&format!("CREATE TABLE x (a UInt8) ENGINE = {rendered}"));
            if let (Some(StatementKind::Create(Create { engine: Some(mut new), .. })), true) =
                (parsed.into_iter().next().map(|s| s.kind), errors.is_empty())
            {
                new.span = span;
                if let StatementKind::Create(c) = &mut stmt.kind {
                    c.engine = Some(new);
                }
            } else {
                problems.push(SqlProblem { message: format!("engine helper rendered unparsable text `{rendered}`"), span });
            }
        }
        (Some(span), None) => problems.push(SqlProblem {
            message: "`${engine}` is used but the operation has no `engine` table".to_string(),
            span,
        }),
        (None, Some(_)) => problems.push(SqlProblem {
            message: "the operation has an `engine` table but its CREATE does not use `ENGINE = ${engine}`".to_string(),
            span: stmt.keyword_span.clone(),
        }),
        (None, None) => {}
    }
    if problems.is_empty() {
        (Some(stmt), problems)
    } else {
        (None, problems)
    }
}

/// Analyzes migrations in order, sharing one catalog (objects created by earlier operations).
pub fn analyze<'m>(
    migrations: &[&'m Migration],
    ctx: &RenderContext,
) -> Vec<AnalyzedMigration<'m>> {
    let mut catalog: BTreeMap<String, ObjectInfo> = BTreeMap::new();
    let mut out = Vec::new();
    for migration in migrations {
        let mut ops = Vec::new();
        for (index, op) in migration.operations.iter().enumerate() {
            let (statement, problems) = parse_op(op, ctx);
            let mut target = None;
            let mut before = None;
            if let Some(stmt) = &statement {
                match &stmt.kind {
                    StatementKind::Create(create) => {
                        let kind = classify(create, op.engine.as_ref());
                        let name = create.name.name.clone();
                        before = catalog.get(&name).cloned();
                        let columns = create
                            .columns
                            .iter()
                            .map(|c| (c.name.clone(), c.type_text.clone()))
                            .collect();
                        if create.object != ObjectType::Database {
                            catalog.insert(name.clone(), ObjectInfo { kind, columns });
                        }
                        target = Some(Target {
                            name,
                            kind,
                            known: Known::Created,
                        });
                    }
                    StatementKind::Alter(alter) => {
                        let name = alter.name.name.clone();
                        before = catalog.get(&name).cloned();
                        target = match &before {
                            Some(info) => Some(Target {
                                name: name.clone(),
                                kind: info.kind,
                                known: Known::Earlier,
                            }),
                            None => kind_by_name(&name).map(|kind| Target {
                                name: name.clone(),
                                kind,
                                known: Known::ByName,
                            }),
                        };
                        if let Some(info) = catalog.get_mut(&name) {
                            for cmd in &alter.commands {
                                if let (Some(col), Some(ty)) = (&cmd.name, &cmd.type_text)
                                    && cmd.target == crate::ast::AlterTarget::Column
                                {
                                    info.columns.insert(col.clone(), ty.clone());
                                }
                            }
                        }
                    }
                    StatementKind::Drop(drop) => {
                        if let Some(first) = drop.names.first() {
                            before = catalog.get(&first.name).cloned();
                            target = match &before {
                                Some(info) => Some(Target {
                                    name: first.name.clone(),
                                    kind: info.kind,
                                    known: Known::Earlier,
                                }),
                                None => kind_by_name(&first.name).map(|kind| Target {
                                    name: first.name.clone(),
                                    kind,
                                    known: Known::ByName,
                                }),
                            };
                        }
                        for name in &drop.names {
                            catalog.remove(&name.name);
                        }
                    }
                    StatementKind::Rename(pairs) => {
                        for (from, to) in pairs {
                            if let Some(info) = catalog.remove(&from.name) {
                                catalog.insert(to.name.clone(), info);
                            }
                        }
                    }
                    _ => {}
                }
            }
            ops.push(AnalyzedOp {
                op,
                index,
                statement,
                problems,
                target,
                before,
            });
        }
        out.push(AnalyzedMigration { migration, ops });
    }
    out
}

/// Renders an operation's SQL for execution: `${engine}` replaced by the helper's text for `ctx`.
pub fn render_sql(op: &Operation, ctx: &RenderContext) -> Result<String, String> {
    let (statement, problems) = parse_op(op, ctx);
    if let Some(problem) = problems.first() {
        return Err(problem.message.clone());
    }
    let Some(statement) = statement else {
        return Err("operation did not parse".to_string());
    };
    let mut out = op.sql.clone();
    if let (Some(spec), StatementKind::Create(create)) = (&op.engine, &statement.kind) {
        let rendered = spec.render(&create.name.name, ctx);
        if let Some(engine) = &create.engine
            && op.sql.get(engine.span.clone()) == Some("${engine}")
        {
            out.replace_range(engine.span.clone(), &rendered);
        }
    }
    Ok(out.trim().to_string())
}
