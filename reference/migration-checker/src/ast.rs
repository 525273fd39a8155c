//! The structure of ClickHouse DDL statements that the rules need (not full semantics).
//!
//! Column types, default expressions and SELECT bodies are kept as raw text runs.

use crate::lexer::Span;

/// A possibly database-qualified object name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectName {
    /// `db` in `db.table`, if given.
    pub database: Option<String>,
    /// The object name.
    pub name: String,
    /// Where the name is written.
    pub span: Span,
}

/// An engine clause: `ENGINE = Name(args)`, or a `${engine}` placeholder before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// Engine name, e.g. `ReplicatedReplacingMergeTree`.
    pub name: String,
    /// The arguments, in order.
    pub args: Vec<EngineArg>,
    /// Where the engine clause is written (the placeholder span for rendered engines).
    pub span: Span,
    /// `SETTINGS k = v` pairs written after the engine (raw value text, strings unquoted).
    pub settings: Vec<(String, String)>,
}

/// One engine argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineArg {
    /// The raw text of the argument.
    pub text: String,
    /// The value when the argument is a single string literal.
    pub string: Option<String>,
}

/// What kind of object a CREATE or DROP names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// `TABLE`
    Table,
    /// `MATERIALIZED VIEW`
    MaterializedView,
    /// `VIEW`
    View,
    /// `DICTIONARY`
    Dictionary,
    /// `DATABASE`
    Database,
}

/// A column definition in a CREATE TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// The type text (empty when absent).
    pub type_text: String,
    /// `DEFAULT`, `MATERIALIZED`, `ALIAS` or `EPHEMERAL`, with the keyword's span, when given.
    pub default: Option<(String, Span)>,
}

/// A CREATE statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Create {
    /// Object type.
    pub object: ObjectType,
    /// `OR REPLACE` was given.
    pub or_replace: bool,
    /// `IF NOT EXISTS` was given.
    pub if_not_exists: bool,
    /// The created name.
    pub name: ObjectName,
    /// Columns, when listed.
    pub columns: Vec<Column>,
    /// Engine clause, when given.
    pub engine: Option<Engine>,
    /// `TO target` of a materialized view.
    pub to: Option<ObjectName>,
    /// `ORDER BY` was given.
    pub has_order_by: bool,
}

/// One ALTER command kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterAction {
    /// `ADD`
    Add,
    /// `DROP`
    Drop,
    /// `MODIFY`
    Modify,
    /// `RENAME`
    Rename,
    /// `COMMENT`
    Comment,
    /// `CLEAR`
    Clear,
    /// `MATERIALIZE`
    Materialize,
    /// `UPDATE … WHERE`
    Update,
    /// `DELETE WHERE`
    Delete,
    /// `APPLY DELETED MASK`
    ApplyDeletedMask,
    /// `RESET SETTING`
    Reset,
    /// `REMOVE TTL`
    Remove,
    /// Partition operations and anything else recognised but not classified.
    Other,
}

/// What an ALTER command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlterTarget {
    /// `COLUMN`
    Column,
    /// `INDEX`
    Index,
    /// `PROJECTION`
    Projection,
    /// `STATISTICS`
    Statistics,
    /// `CONSTRAINT`
    Constraint,
    /// `SETTING`
    Setting,
    /// `TTL`
    Ttl,
    /// `PARTITION`/`PART`
    Partition,
    /// `ORDER BY`, `SAMPLE BY`, `QUERY`, `COMMENT` (of the table)
    Table,
    /// Rows (UPDATE/DELETE)
    Rows,
}

/// One command of an ALTER TABLE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterCommand {
    /// The verb.
    pub action: AlterAction,
    /// The object kind.
    pub target: AlterTarget,
    /// `IF EXISTS` / `IF NOT EXISTS` was given on the command.
    pub guarded: bool,
    /// The named column/index/projection, if any.
    pub name: Option<String>,
    /// For ADD/MODIFY COLUMN: the type text, if a type is written.
    pub type_text: Option<String>,
    /// Where the command is written.
    pub span: Span,
}

/// An ALTER TABLE statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alter {
    /// Span of an (invalid) `IF EXISTS` written right after `ALTER TABLE`.
    pub table_if_exists: Option<Span>,
    /// The altered table.
    pub name: ObjectName,
    /// Commands, in order.
    pub commands: Vec<AlterCommand>,
}

/// A DROP statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drop {
    /// Object type.
    pub object: ObjectType,
    /// `IF EXISTS` was given.
    pub if_exists: bool,
    /// Dropped names.
    pub names: Vec<ObjectName>,
    /// `SYNC` was given.
    pub sync: bool,
}

/// The statement kinds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// CREATE TABLE / MATERIALIZED VIEW / VIEW / DICTIONARY / DATABASE
    Create(Create),
    /// ALTER TABLE
    Alter(Alter),
    /// DROP …
    Drop(Drop),
    /// RENAME TABLE a TO b, …
    Rename(Vec<(ObjectName, ObjectName)>),
    /// EXCHANGE TABLES a AND b
    Exchange(ObjectName, ObjectName),
    /// TRUNCATE TABLE
    Truncate {
        /// `IF EXISTS` was given.
        if_exists: bool,
        /// The truncated table.
        name: ObjectName,
    },
    /// A statement kept opaque (SELECT, INSERT, SYSTEM, OPTIMIZE, SET), named by its first keyword.
    Other(String),
}

/// One parsed statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What it is.
    pub kind: StatementKind,
    /// The whole statement.
    pub span: Span,
    /// Span of the first keyword.
    pub keyword_span: Span,
    /// Span of each `ON CLUSTER …` clause.
    pub on_cluster: Vec<Span>,
}
