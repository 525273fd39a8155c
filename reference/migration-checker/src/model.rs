//! The migration file format: a numbered TOML file holding ordered operations.
//!
//! ```toml
//! # 0001_events.toml
//! description = "events pipeline"
//!
//! [[operations]]
//! node_roles = ["DATA"]
//! sharded = true
//! is_alter_on_replicated_table = false
//! engine = { kind = "merge_tree", family = "ReplacingMergeTree", replication = "sharded", args = ["_timestamp"] }
//! sql = '''
//! CREATE TABLE IF NOT EXISTS sharded_events (uuid UUID, _timestamp DateTime)
//! ENGINE = ${engine} ORDER BY uuid
//! '''
//! ```
//!
//! Every table is parsed with `deny_unknown_fields`, so a typo is an error with a position.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::engine::EngineSpec;
use crate::{Error, Result};

/// One migration file, parsed.
#[derive(Debug, Clone)]
pub struct Migration {
    /// File name without extension, e.g. `0001_events`.
    pub name: String,
    /// Path as given (for diagnostics).
    pub path: String,
    /// The whole file text.
    pub source: String,
    /// Free text.
    pub description: Option<String>,
    /// Attestation that a mutation in this migration was applied by hand (date, who, link).
    pub applied_mutation: Option<String>,
    /// Operations in order.
    pub operations: Vec<Operation>,
}

/// One operation: one SQL statement plus its routing metadata.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The SQL template (may contain `${engine}`).
    pub sql: String,
    /// Byte offset of the SQL text inside the file, when the text maps one to one.
    pub sql_offset: Option<usize>,
    /// Byte offset of the operation's `sql` value (fallback position).
    pub value_offset: usize,
    /// Byte offset of the `[[operations]]` entry's first key.
    pub op_offset: usize,
    /// Roles whose hosts run it.
    pub node_roles: Vec<String>,
    /// Byte offset of the `node_roles` value (or of the operation when absent).
    pub node_roles_offset: usize,
    /// `sharded`, when written.
    pub sharded: Option<bool>,
    /// `is_alter_on_replicated_table`, when written.
    pub is_alter_on_replicated_table: Option<bool>,
    /// The engine helper call that fills `${engine}`.
    pub engine: Option<EngineSpec>,
}

impl Operation {
    /// Maps a byte range of the SQL template to a byte offset in the file.
    pub fn file_offset(&self, sql_offset: usize) -> usize {
        match self.sql_offset {
            Some(base) => base + sql_offset,
            None => self.value_offset,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    description: Option<String>,
    applied_mutation: Option<String>,
    #[serde(default)]
    operations: Vec<toml::Spanned<RawOperation>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperation {
    sql: toml::Spanned<String>,
    node_roles: toml::Spanned<Vec<String>>,
    sharded: Option<bool>,
    is_alter_on_replicated_table: Option<bool>,
    engine: Option<EngineSpec>,
}

/// Parses a migration file's text. `path` is used for the name and in errors.
pub fn parse_migration(path: &str, source: &str) -> Result<Migration> {
    let name = std::path::Path::new(path)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or(path)
        .to_string();
    let raw: RawFile = toml::from_str(source).map_err(|err| Error::Format {
        path: path.to_string(),
        offset: err.span().map_or(0, |s| s.start),
        message: err.message().trim().to_string(),
    })?;
    let operations = raw
        .operations
        .into_iter()
        .map(|op| {
            let op_offset = op.span().start;
            let op = op.into_inner();
            let value_span = op.sql.span();
            let sql = op.sql.into_inner();
            Operation {
                sql_offset: locate_string(source, value_span.clone(), &sql),
                value_offset: value_span.start,
                op_offset,
                node_roles_offset: op.node_roles.span().start,
                node_roles: op.node_roles.into_inner(),
                sharded: op.sharded,
                is_alter_on_replicated_table: op.is_alter_on_replicated_table,
                engine: op.engine,
                sql,
            }
        })
        .collect();
    Ok(Migration {
        name,
        path: path.to_string(),
        source: source.to_string(),
        description: raw.description,
        applied_mutation: raw.applied_mutation,
        operations,
    })
}

/// Finds where a TOML string's decoded value starts in the file, if the text is copied verbatim
/// (literal strings always are; basic strings are when they contain no escapes).
fn locate_string(source: &str, span: std::ops::Range<usize>, value: &str) -> Option<usize> {
    let raw = source.get(span.clone())?;
    let mut start = span.start;
    if raw.starts_with("'''") || raw.starts_with("\"\"\"") {
        start += 3;
        let rest = source.get(start..)?;
        if rest.starts_with("\r\n") {
            start += 2;
        } else if rest.starts_with('\n') {
            start += 1;
        }
    } else if raw.starts_with('\'') || raw.starts_with('"') {
        start += 1;
    } else {
        return None;
    }
    (source.get(start..start + value.len()) == Some(value)).then_some(start)
}

/// A role list as a sorted set, for comparisons.
pub fn role_set(roles: &[String]) -> Vec<String> {
    let set: BTreeMap<&str, ()> = roles.iter().map(|r| (r.as_str(), ())).collect();
    set.into_keys().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_offset_points_into_the_file() {
        let src = "[[operations]]\nnode_roles = [\"DATA\"]\nsql = '''\nDROP TABLE x'''\n";
        let m = parse_migration("0001_x.toml", src).unwrap();
        let op = &m.operations[0];
        let off = op.sql_offset.unwrap();
        assert_eq!(&src[off..off + 4], "DROP");
        assert_eq!(m.name, "0001_x");
    }

    #[test]
    fn unknown_fields_are_errors() {
        let err = parse_migration(
            "0001_x.toml",
            "[[operations]]\nnode_roles=[]\nsql='x'\nshraded=true\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
