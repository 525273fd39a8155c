//! Sessions in the printer: the sessions v2 join key ([`Printer::join_key_expr`]), `GLOBAL IN`
//! against sessions ([`Printer::sessions_global_in`]) and PostHog's `$session_id` comparison
//! rewrite. An events `$session_id` compared with UUID
//! constants reads the `$session_id_uuid` column (`Nullable(UInt128)`, materialized from the
//! property on insert), so ClickHouse compares integers, as `ClickHousePrinter`'s
//! `_get_optimized_session_id_compare_operation` does.
//!
//! It applies to `=`, `!=` (either side) and `IN`, `NOT IN` (the field on the left) when the
//! field is `events.$session_id` or `events.properties.$session_id` (any alias of `events`) and
//! every constant is a string PostHog's `UUIDT.is_valid_uuid` accepts. Each constant is sent as a
//! value and read as `toUInt128(accurateCastOrNull(value, 'UUID'))`, so a string ClickHouse cannot
//! read as a UUID compares as NULL.

use super::{Printer, Result};
use crate::ir::{
    ChainPart, CompareOp, Constant, Expr, ExprKind, JoinTable, Query, SelectQuery, Span,
};
use crate::resolve::{Resolution, ScopeTable, Source};

/// A sessions v2 row's start as printed from its UUIDv7 key: compared bare (no `ifNull`), as
/// PostHog's printer special-cases it, so the bound can use the table's order key.
pub(super) const V7_TIMESTAMP_SQL: &str =
    "fromUnixTimestamp(intDiv(toUInt64(bitShiftRight(raw_sessions.session_id_v7, 80)), 1000))";

impl Printer<'_, '_> {
    /// The rewritten comparison, or `None` when it does not apply.
    pub(super) fn session_id_uuid_comparison(
        &mut self,
        op: CompareOp,
        left: &Expr,
        right: &Expr,
        span: Option<Span>,
    ) -> Result<Option<String>> {
        let function = match op {
            CompareOp::Eq => "equals",
            CompareOp::NotEq => "notEquals",
            CompareOp::In => "in",
            CompareOp::NotIn => "notIn",
            _ => return Ok(None),
        };
        let equality = matches!(op, CompareOp::Eq | CompareOp::NotEq);
        let (table_sql, constants) = if let Some(table) = self.events_session_id(left, span) {
            (table, uuid_constants(right))
        } else if equality && let Some(table) = self.events_session_id(right, span) {
            (table, uuid_constants(left))
        } else {
            return Ok(None);
        };
        if constants.is_empty() {
            return Ok(None);
        }
        let mut wrapped = Vec::with_capacity(constants.len());
        for value in constants {
            let value = self.ctx.add_value(value);
            wrapped.push(format!("toUInt128(accurateCastOrNull({value}, 'UUID'))"));
        }
        let column = format!("{table_sql}.`$session_id_uuid`");
        Ok(Some(if equality {
            format!("{function}({column}, {})", wrapped[0])
        } else {
            format!("{function}({column}, tuple({}))", wrapped.join(", "))
        }))
    }

    /// A lazy join's own key expression (`LazyJoin::from_expr`, HogQL over the source table's
    /// fields) printed against the source table `owner`: sessions v2 joins events on
    /// `toUInt128(accurateCastOrNull(events.$session_id, 'UUID'))`.
    pub(super) fn join_key_expr(
        &mut self,
        text: &str,
        owner: &str,
        span: Option<Span>,
    ) -> Result<String> {
        let mut key = Self::schema_expr(text, span)?;
        qualify(&mut key, owner);
        Ok(self.expr(&key)?.sql)
    }

    /// PostHog's resolver turns `IN` / `NOT IN` with a SELECT on the right into `GLOBAL IN` /
    /// `GLOBAL NOT IN` when the left side is a field of a sessions table (`sessions`,
    /// `raw_sessions`, also through `events.session`) or the SELECT reads one in its FROM: the
    /// sessions tables may live on another cluster than the events they are compared with.
    pub(super) fn sessions_global_in(
        &self,
        op: CompareOp,
        left: &Expr,
        right: &Expr,
        span: Option<Span>,
    ) -> CompareOp {
        let global = match op {
            CompareOp::In => CompareOp::GlobalIn,
            CompareOp::NotIn => CompareOp::GlobalNotIn,
            _ => return op,
        };
        let ExprKind::Query(query) = &right.kind else {
            return op;
        };
        let Query::Select(select) = query.as_ref() else {
            return op;
        };
        if self.reads_sessions_field(left, span) || self.reads_sessions_table(select) {
            global
        } else {
            op
        }
    }

    /// Whether `e` (under aliases) is a field of a sessions table.
    fn reads_sessions_field(&self, e: &Expr, span: Option<Span>) -> bool {
        let e = unalias(e);
        let ExprKind::Field(chain) = &e.kind else {
            return false;
        };
        let Some(scope) = self.scopes.last() else {
            return false;
        };
        let table_of = |matches: &dyn Fn(&ScopeTable<'_>) -> bool| {
            scope
                .tables
                .iter()
                .find(|t| matches(t))
                .and_then(|t| match &t.source {
                    Source::Table(table) | Source::LazyTable(table) => Some(table.name),
                    Source::Subquery(_) => None,
                })
        };
        let table = match self.resolve(chain, span) {
            Ok(Resolution::Column { table_sql, .. }) => {
                table_of(&|t| t.sql_ref.as_deref() == Some(table_sql.as_str()))
            }
            Ok(Resolution::LazyTableColumn { table_name, .. }) => {
                table_of(&|t| t.name == table_name)
            }
            Ok(Resolution::Property { table, .. } | Resolution::ExpressionField { table, .. }) => {
                Some(table.name)
            }
            Ok(Resolution::LazyColumn { hops, .. }) => hops.last().map(|hop| hop.target.name),
            _ => None,
        };
        table.is_some_and(is_sessions_table)
    }

    /// Whether a table of the SELECT's FROM list is a sessions table (not a CTE of that name).
    fn reads_sessions_table(&self, select: &SelectQuery) -> bool {
        let mut join = select.select_from.as_ref();
        while let Some(j) = join {
            if let JoinTable::Table {
                chain, args: None, ..
            } = &j.table
                && let [name] = chain.as_slice()
                && is_sessions_table(name)
                && self.cte_columns(name).is_none()
            {
                return true;
            }
            join = j.next_join.as_deref();
        }
        false
    }

    /// The printed events reference when `e` is that table's `$session_id` column or its
    /// `properties.$session_id`.
    fn events_session_id(&self, e: &Expr, span: Option<Span>) -> Option<String> {
        let ExprKind::Field(chain) = &e.kind else {
            return None;
        };
        match self.resolve(chain, span).ok()? {
            // Only `events` has a `$session_id` column.
            Resolution::Column { table_sql, column } if column.name == "$session_id" => {
                Some(table_sql)
            }
            Resolution::Property {
                table,
                table_sql,
                column,
                path,
            } if table.name == "events"
                && column.name == "properties"
                && matches!(path.as_slice(), [ChainPart::Name(key)] if key == "$session_id") =>
            {
                Some(table_sql)
            }
            _ => None,
        }
    }
}

/// The HogQL names of the sessions tables (of any version).
fn is_sessions_table(name: &str) -> bool {
    matches!(name, "sessions" | "raw_sessions")
}

fn unalias(mut e: &Expr) -> &Expr {
    while let ExprKind::Alias { expr, .. } = &e.kind {
        e = expr;
    }
    e
}

/// Every field of a schema expression read from the table `owner` (the expressions are calls
/// over fields and constants).
fn qualify(e: &mut Expr, owner: &str) {
    e.span = None;
    match &mut e.kind {
        ExprKind::Field(chain) => chain.insert(0, ChainPart::Name(owner.to_owned())),
        ExprKind::Call(call) => call.args.iter_mut().for_each(|a| qualify(a, owner)),
        _ => {}
    }
}

/// The string constants of a constant, tuple or array, when all of them are UUIDs; empty
/// otherwise.
fn uuid_constants(e: &Expr) -> Vec<&str> {
    fn uuid(e: &Expr) -> Option<&str> {
        match &e.kind {
            ExprKind::Constant(Constant::Str(s)) if is_valid_uuid(s) => Some(s.as_str()),
            _ => None,
        }
    }
    match &e.kind {
        ExprKind::Constant(_) => uuid(e).into_iter().collect(),
        ExprKind::Tuple(items) | ExprKind::Array(items) => items
            .iter()
            .map(uuid)
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// PostHog's `UUIDT.is_valid_uuid`: drop every `urn:` and `uuid:`, strip `{`/`}` from both
/// ends, drop the dashes; then 32 characters that Python's `int(text, 16)` reads (surrounding
/// whitespace, a `+` sign, a `0x` prefix and single underscores between digits included).
pub(crate) fn is_valid_uuid(candidate: &str) -> bool {
    let text = candidate.replace("urn:", "").replace("uuid:", "");
    let text = text.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    text.chars().count() == 32 && python_hex_int(&text)
}

/// Whether Python's `int(text, 16)` accepts `text` (only non-negative forms reach here).
fn python_hex_int(text: &str) -> bool {
    let body = text.trim_matches(|c: char| c.is_whitespace());
    let body = body.strip_prefix('+').unwrap_or(body);
    let (body, prefixed) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(rest) => (rest, true),
        None => (body, false),
    };
    // After a prefix, one underscore may come before the first digit.
    let body = if prefixed {
        body.strip_prefix('_').unwrap_or(body)
    } else {
        body
    };
    !body.is_empty()
        && !body.starts_with('_')
        && !body.ends_with('_')
        && !body.contains("__")
        && body.chars().all(|c| c.is_ascii_hexdigit() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::is_valid_uuid;

    #[test]
    fn uuid_strings_as_posthog_reads_them() {
        for ok in [
            "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "A1B2C3D4-E5F6-7890-ABCD-EF1234567890",
            "a1b2c3d4e5f67890abcdef1234567890",
            "{a1b2c3d4-e5f6-7890-abcd-ef1234567890}",
            "urn:uuid:a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "0x1b2c3d4e5f67890abcdef123456789",
            "a1b2c3d4e5f67890abcdef123456789_",
        ] {
            assert_eq!(is_valid_uuid(ok), !ok.ends_with('_'), "{ok}");
        }
        for bad in [
            "",
            "not-a-uuid",
            "a1b2c3d4-e5f6-7890-abcd-ef123456789",
            "g1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "a1b2c3d4-e5f6-7890-abcd-ef12345678901",
        ] {
            assert!(!is_valid_uuid(bad), "{bad}");
        }
    }
}
