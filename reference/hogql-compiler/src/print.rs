//! The ClickHouse printer (spec §4): walks the typed IR with a [`Scope`] per SELECT and prints
//! ClickHouse SQL, sending string constants through the context's values map.
//!
//! What it does: the team guard (front of WHERE, inside ON for LEFT joins), inlined vs
//! parameterised constants, identifier escaping, implicit select-column aliases, JSON property
//! extraction, null-safe comparisons with constant folding, AND/OR folding, operators as
//! functions, `toTimeZone` around DateTime columns, timezone-aware functions, the function
//! allowlist with its errors, LIMIT defaults and clamping, and the global SETTINGS list; lazy
//! joins and lazy tables as deduplicating subqueries (argMax for persons, distinct ids and
//! groups, aggregate-state merges for sessions v1 and v2; printed in FROM from the plan of the
//! lazy-table pass, [`crate::lazy`], which runs first, so each SELECT is printed once and values
//! are numbered in PostHog's order; a join keyed on a computed field puts that expression in
//! ON), CTEs as WITH, materialized event properties, window functions and the WINDOW clause.
//!
//! Where PostHog's public tests fix a string, the fixtures under `fixtures/hogql/print/` pin it.

use crate::Error;
use crate::compile::{CompileError, grow};
use crate::context::{ArgMaxVersion, Context, ParamValue};
use crate::escape::{Dialect, escape_identifier, escape_string, python_float_repr};
use crate::functions::{self, ArgType, CallShape, FunctionMeta, Resolved, SuffixArg, Target};
use crate::ir::*;
use crate::lazy::{self, Plans};
use crate::resolve::{
    ColumnName, ColumnNameWinners, LazyField, LazyJoinUse, Resolution, Scope, ScopeTable, Source,
    SubColumn, field_column_name, table_sql_name,
};
use crate::schema::{Database, LazySource, PropertySource, TableKind, ValueType};

mod session_id;

type Result<T> = std::result::Result<T, CompileError>;

/// PostHog's `HogQLGlobalSettings`, in print order.
pub const GLOBAL_SETTINGS: &str = "readonly=2, max_execution_time=60, allow_experimental_object_type=1, format_csv_allow_double_quotes=0, max_ast_elements=4000000, max_expanded_ast_elements=4000000, max_bytes_before_external_group_by=0, transform_null_in=1, optimize_min_equality_disjunction_chain_length=4294967295, allow_experimental_join_condition=1, use_hive_partitioning=0";

/// Settings that keep the team guard ahead of user expressions (a deviation from PostHog, whose
/// list ends at [`GLOBAL_SETTINGS`]). ClickHouse moves WHERE conditions into PREWHERE on its
/// own; by default it reorders them and puts those on primary-key columns (`team_id`) last, so a
/// user expression ran on other teams' rows of the same part before the guard (and an error
/// such as `Cannot parse string '…' as Int64` showed their values). With these the moved
/// conditions keep their printed order, guard first; `and` short-circuits after it.
pub const GUARD_SETTINGS: &str =
    "move_primary_key_columns_to_end_of_prewhere=0, allow_reorder_prewhere_conditions=0";

/// Aliases PostHog refuses.
const RESERVED_ALIASES: [&str; 4] = ["team_id", "true", "false", "null"];

/// Filters moved into a persons subquery, in terms of its columns.
#[derive(Debug, Default)]
struct PersonsFilters {
    /// From an explicit join's ON (PostHog's `PersonsTable.filter`): the WHERE of v1's argMax
    /// query, of v2's inner one.
    join_on: Vec<Expr>,
    /// From the SELECT's WHERE (`optimizeJoinedFilters`): ANDed to the subquery's own WHERE.
    joined: Option<Expr>,
    /// For `persons` first in FROM: the part of the SELECT's WHERE about persons, over
    /// `raw_persons AS where_optimization` (PostHog's where optimization).
    where_optimization: Option<Expr>,
}

/// One printed SELECT column before alias de-duplication.
#[derive(Debug, Clone)]
struct SelectColumn {
    body: String,
    name: Option<String>,
    kind: ColumnName,
    nullable: bool,
    span: Option<Span>,
}

/// A printed expression and what the comparison printer needs to know about it.
#[derive(Debug, Clone)]
struct P {
    sql: String,
    nullable: bool,
}

impl P {
    fn new(sql: String, nullable: bool) -> Self {
        P { sql, nullable }
    }
}

/// The team guard reads `{table}.team_id`, and ClickHouse resolves a name to an alias before a
/// table or column of the same name. So an alias (in any clause: SELECT, ARRAY JOIN, WHERE, …)
/// named like a FROM entry, its ClickHouse name, or `{entry}.x`, would redirect the guard to the
/// alias's value (`JSONExtract('{"team_id": 2}', …) AS e … FROM events AS e` reads every team's
/// rows), and so would an alias named `team_id` where the guard's qualifier is dropped. Such
/// aliases are refused (`alias_shadows_table`, `query_error` for `team_id`), whatever table
/// kind the entry is.
fn check_aliases(scope: &Scope<'_>) -> Result<()> {
    for (alias, span) in &scope.printed_aliases {
        if RESERVED_ALIASES[..1]
            .iter()
            .any(|r| r.eq_ignore_ascii_case(alias))
        {
            return Err(query_error(
                format!("\"{alias}\" cannot be an alias or identifier, as it's a reserved keyword"),
                *span,
            ));
        }
        let head = alias.split('.').next().unwrap_or(alias);
        // Only entries printed with a guard at this level: subqueries and lazy tables carry
        // their guards inside, where this SELECT's aliases are not visible.
        let guarded = scope
            .tables
            .iter()
            .filter(|t| matches!(t.source, Source::Table(table) if table.team_id_guard));
        for table in guarded {
            let Some(sql_ref) = table.sql_ref.as_deref() else {
                continue;
            };
            let clash = [alias.as_str(), head].iter().any(|name| {
                table.name == *name
                    || sql_ref.trim_matches('`') == *name
                    || escape_identifier(name, Dialect::ClickHouse).is_ok_and(|e| e == sql_ref)
            });
            if clash {
                return Err(at(
                    Error::AliasShadowsTable {
                        alias: alias.clone(),
                        table: table.name.clone(),
                    },
                    *span,
                ));
            }
        }
    }
    Ok(())
}

fn at(error: Error, span: Option<Span>) -> CompileError {
    CompileError::new(error, span)
}

fn ident(name: &str, span: Option<Span>) -> Result<String> {
    escape_identifier(name, Dialect::ClickHouse).map_err(|e| at(e, span))
}

fn unsupported(what: &str, span: Option<Span>) -> CompileError {
    at(
        Error::NotSupported {
            what: what.to_owned(),
        },
        span,
    )
}

/// PostHog's checks of a `parametric` call's first argument (`arrayReduce('sum', …)`): present,
/// a constant string, and one of the permitted aggregate names; made before the arity check.
fn check_parametric_first_arg(call: &Call, span: Option<Span>) -> Result<()> {
    let first = call.args.first();
    let constant = match first.map(|e| &e.kind) {
        Some(ExprKind::Constant(Constant::Str(s))) => Some(s.as_str()),
        Some(ExprKind::Constant(c)) => {
            let (class, value) = match c {
                Constant::Null => ("UnknownType", "None".to_owned()),
                Constant::Bool(b) => ("BooleanType", if *b { "True" } else { "False" }.to_owned()),
                Constant::Int(i) => ("IntegerType", i.to_string()),
                Constant::Float(f) => ("FloatType", crate::escape::python_float_repr(*f)),
                Constant::Number(n) => ("FloatType", n.clone()),
                Constant::Str(s) => ("StringType", s.clone()),
            };
            return Err(query_error(
                format!(
                    "Expected constant string as first arg in function '{}', got {class} '{value}'",
                    call.name
                ),
                span,
            ));
        }
        Some(other) => {
            return Err(query_error(
                format!(
                    "Expected constant string as first arg in function '{}', got {}",
                    call.name,
                    posthog_node_class(other)
                ),
                span,
            ));
        }
        None => None,
    };
    functions::check_parametric_first_arg(&call.name, call.args.len(), constant)
        .map_err(|e| at(e, span))
}

/// The class name PostHog's AST gives an expression (used in its error messages).
fn posthog_node_class(kind: &ExprKind) -> &'static str {
    match kind {
        ExprKind::Constant(_) => "Constant",
        ExprKind::Field(_) => "Field",
        ExprKind::Call(_) => "Call",
        ExprKind::Compare { .. } => "CompareOperation",
        ExprKind::Arithmetic { .. } => "ArithmeticOperation",
        ExprKind::And(_) => "And",
        ExprKind::Or(_) => "Or",
        ExprKind::Not(_) => "Not",
        ExprKind::Between { .. } => "BetweenExpr",
        ExprKind::IsDistinctFrom { .. } => "IsDistinctFrom",
        ExprKind::Alias { .. } => "Alias",
        ExprKind::Array(_) => "Array",
        ExprKind::Tuple(_) => "Tuple",
        ExprKind::Dict(_) => "Dict",
        ExprKind::ArrayAccess { .. } => "ArrayAccess",
        ExprKind::ArraySlice { .. } => "ArraySlice",
        ExprKind::TupleAccess { .. } => "TupleAccess",
        ExprKind::Lambda { .. } => "Lambda",
        ExprKind::TypeCast { .. } => "TypeCast",
        ExprKind::Placeholder(_) => "Placeholder",
        ExprKind::Query(_) => "SelectQuery",
        ExprKind::WindowFunction(_) => "WindowFunction",
        ExprKind::Columns(_) => "ColumnsExpr",
        ExprKind::NamedArgument { .. } => "NamedArgument",
        ExprKind::PositionalRef(_) => "PositionalRef",
        ExprKind::ExprCall { .. } => "ExprCall",
        ExprKind::GroupingSet(_) => "GroupingSet",
        ExprKind::HogQLXTag { .. } => "HogQLXTag",
    }
}

/// A property read from a materialized column: the bare column and whether it is nullable
/// (`nullIf(nullIf(col, ''), 'null')` for a non-nullable one, the column itself otherwise).
fn materialized_column(e: &Expr, printed: &str) -> Option<(String, bool)> {
    if !matches!(e.kind, ExprKind::Field(_) | ExprKind::ArrayAccess { .. }) {
        return None;
    }
    let is_column = |c: &str| {
        !c.contains('(') && !c.contains(' ') && (c.contains(".mat_") || c.contains(".`mat_"))
    };
    if let Some(inner) = printed
        .strip_prefix("nullIf(nullIf(")
        .and_then(|r| r.strip_suffix(", ''), 'null')"))
        && is_column(inner)
    {
        return Some((inner.to_owned(), false));
    }
    is_column(printed).then(|| (printed.to_owned(), true))
}

/// A string constant that a materialized column cannot tell from NULL (`''`, `'null'`).
fn is_sentinel(s: &str) -> bool {
    s.is_empty() || s == "null"
}

/// PostHog's comparisons on a materialized property against string constants
/// (test_printer.py TestMaterializedColumnOptimization, `materializationMode: auto`): the bare
/// column, so ClickHouse can use its skip indexes. Equality with a constant that is not a NULL
/// sentinel; LIKE/ILIKE patterns that cannot match a sentinel (non-nullable columns); IN lists of
/// such constants (`has([…], col)`). `None` leaves the comparison to the general rules.
fn materialized_comparison(
    op: CompareOp,
    left: &Expr,
    right: &Expr,
    l: &P,
    r: &P,
) -> Option<String> {
    let constant = |e: &Expr| match &e.kind {
        ExprKind::Constant(Constant::Str(s)) => Some(s.clone()),
        _ => None,
    };
    match op {
        CompareOp::Eq | CompareOp::NotEq => {
            let ((col, nullable), value, value_sql) = match (
                materialized_column(left, &l.sql),
                materialized_column(right, &r.sql),
            ) {
                (Some(c), None) => (c, constant(right)?, &r.sql),
                (None, Some(c)) => (c, constant(left)?, &l.sql),
                _ => return None,
            };
            if is_sentinel(&value) {
                return None;
            }
            Some(match (op, nullable) {
                (CompareOp::Eq, false) => format!("equals({col}, {value_sql})"),
                (CompareOp::Eq, true) => {
                    format!("(equals({col}, {value_sql}) AND ({col} IS NOT NULL))")
                }
                (_, false) => format!("notEquals({col}, {value_sql})"),
                (_, true) => format!("ifNull(notEquals({col}, {value_sql}), 1)"),
            })
        }
        CompareOp::Like | CompareOp::NotLike | CompareOp::ILike | CompareOp::NotILike => {
            // `toString(property)` reads the same column.
            let (target, printed) = match &left.kind {
                ExprKind::Call(c) if c.name == "toString" && c.args.len() == 1 => (
                    &c.args[0],
                    l.sql
                        .strip_prefix("toString(")?
                        .strip_suffix(')')?
                        .to_owned(),
                ),
                _ => (left, l.sql.clone()),
            };
            let (col, nullable) = materialized_column(target, &printed)?;
            let pattern = constant(right)?;
            let case_insensitive = matches!(op, CompareOp::ILike | CompareOp::NotILike);
            let folded = if case_insensitive {
                pattern.to_lowercase()
            } else {
                pattern.clone()
            };
            // A pattern that may match '' or 'null' needs the sentinels read as NULL.
            if nullable || folded.contains("null") || folded.chars().all(|c| c == '%') {
                return None;
            }
            let function = match op {
                CompareOp::Like => "like",
                CompareOp::NotLike => "notLike",
                CompareOp::ILike => "ilike",
                _ => "notILike",
            };
            Some(format!("{function}({col}, {})", r.sql))
        }
        CompareOp::In | CompareOp::NotIn => {
            let (col, nullable) = materialized_column(left, &l.sql)?;
            let items = match &right.kind {
                ExprKind::Tuple(items) | ExprKind::Array(items) => items,
                _ => return None,
            };
            let values: Vec<String> = items.iter().map(constant).collect::<Option<_>>()?;
            if values.is_empty() || values.iter().any(|v| is_sentinel(v)) {
                return None;
            }
            let inner = r
                .sql
                .strip_prefix("tuple(")
                .or_else(|| r.sql.strip_prefix('['))?;
            let inner = inner
                .strip_suffix(')')
                .or_else(|| inner.strip_suffix(']'))?;
            Some(match (op, nullable) {
                (CompareOp::In, false) => format!("has([{inner}], {col})"),
                (CompareOp::In, true) => format!("and(has([{inner}], {col}), {col} IS NOT NULL)"),
                (_, false) => format!("notIn({col}, tuple({inner}))"),
                (_, true) => format!("ifNull(notIn({col}, tuple({inner})), 1)"),
            })
        }
        _ => None,
    }
}

/// The function a PostgreSQL-style cast (`x::int`, `CAST(x AS text)`) prints as, by the type's
/// lowercased name (PostHog's test_printer.py test_postgres_style_cast); `None` for a type
/// without one.
fn cast_function(type_name: &str) -> Option<&'static str> {
    Some(match type_name.to_ascii_lowercase().as_str() {
        "int" | "integer" => "toInt64",
        "float" | "double" | "double precision" | "real" => "toFloat64",
        "text" | "varchar" | "char" | "string" => "toString",
        "boolean" | "bool" => "toBoolean",
        "date" => "toDate",
        "datetime" | "timestamp" | "timestamptz" => "toDateTime",
        _ => return None,
    })
}

fn query_error(message: impl Into<String>, span: Option<Span>) -> CompileError {
    at(
        Error::Query {
            message: message.into(),
        },
        span,
    )
}

/// The printer state for one compilation.
#[derive(Debug)]
pub struct Printer<'a, 'db> {
    ctx: &'a mut Context,
    db: &'db Database,
    scopes: Vec<Scope<'db>>,
    lambda_args: Vec<String>,
    /// Names of the aggregations we are inside (for the nesting check).
    aggregations: Vec<String>,
    /// Inside a JOIN constraint: comparisons are printed without null handling.
    in_join_constraint: bool,
    /// CTEs in scope (innermost last): name and columns.
    ctes: Vec<Vec<(String, Vec<SubColumn>)>>,
    /// A JOIN constraint used a comparison other than equality (adds `enable_analyzer=1`).
    non_equi_join: bool,
    /// The WHERE of the SELECT whose FROM is being printed (the sessions subquery derives its
    /// `min_timestamp` pre-filter from it).
    outer_where: Option<Expr>,
    /// The team guard of the first FROM entry of the join chain just printed (a user PREWHERE
    /// gets it in front).
    left_guard: Option<String>,
    /// Units of work so far: one per expression and query printed (see [`Printer::work`]).
    work: u64,
    /// The lazy-table pass's plans of the SELECTs being printed.
    plans: Plans<'db>,
}

impl<'a, 'db> Printer<'a, 'db> {
    /// A printer writing values into `ctx`.
    pub fn new(ctx: &'a mut Context, db: &'db Database) -> Self {
        Printer {
            ctx,
            db,
            scopes: Vec::new(),
            lambda_args: Vec::new(),
            aggregations: Vec::new(),
            in_join_constraint: false,
            ctes: Vec::new(),
            non_equi_join: false,
            outer_where: None,
            left_guard: None,
            work: 0,
            plans: Plans::new(),
        }
    }

    /// Units of work done so far: one per expression and per query visited by the lazy-table
    /// pass and by printing. A deterministic measure of compile cost (tests check it grows
    /// linearly with the query).
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Counts one unit of work; past the context's budget, the compilation fails.
    fn tick(&mut self, span: Option<Span>) -> Result<()> {
        self.work += 1;
        if self.work > self.ctx.limits.max_work {
            return Err(at(
                Error::CompileBudgetExceeded {
                    limit: self.ctx.limits.max_work,
                },
                span,
            ));
        }
        Ok(())
    }

    /// Print a whole query as the top-level statement (limits, settings): the lazy-table pass
    /// plans its lazy joins, then every SELECT is printed once.
    pub fn print_top(&mut self, query: &Query) -> Result<String> {
        let (plans, work) = lazy::plan(query, self.db, self.work, self.ctx.limits.max_work)?;
        self.plans = plans;
        self.work = work;
        let (mut sql, _) = self.query(query, true)?;
        if self.ctx.global_settings {
            sql.push_str(" SETTINGS ");
            sql.push_str(GLOBAL_SETTINGS);
            sql.push_str(", ");
            sql.push_str(GUARD_SETTINGS);
            if self.non_equi_join {
                sql.push_str(", enable_analyzer=1");
            }
        }
        Ok(sql)
    }

    fn query(&mut self, query: &Query, top: bool) -> Result<(String, Vec<SubColumn>)> {
        self.tick(None)?;
        grow(|| self.query_scoped(query, top))
    }

    fn query_scoped(&mut self, query: &Query, top: bool) -> Result<(String, Vec<SubColumn>)> {
        // Aggregations do not nest through subqueries, and neither do lambdas or join
        // constraints.
        let aggregations = std::mem::take(&mut self.aggregations);
        let lambda_args = std::mem::take(&mut self.lambda_args);
        let in_join = std::mem::replace(&mut self.in_join_constraint, false);
        let result = self.query_inner(query, top);
        self.aggregations = aggregations;
        self.lambda_args = lambda_args;
        self.in_join_constraint = in_join;
        result
    }

    fn query_inner(&mut self, query: &Query, top: bool) -> Result<(String, Vec<SubColumn>)> {
        match query {
            Query::Select(s) => self.select(s, top),
            Query::Set(set) => {
                let (first, columns) = self.set_member(&set.initial, top)?;
                let mut out = first;
                for node in &set.subsequent {
                    let (member, _) = self.set_member(&node.query, top)?;
                    out.push(' ');
                    out.push_str(&node.set_operator);
                    out.push(' ');
                    out.push_str(&member);
                }
                Ok((out, columns))
            }
            Query::Placeholder(e) => Err(self.placeholder_error(e)),
        }
    }

    fn set_member(&mut self, query: &Query, top: bool) -> Result<(String, Vec<SubColumn>)> {
        // A parenthesised set inside a set is not limited (PostHog limits only direct members).
        let top = top && !matches!(query, Query::Set(_));
        let (sql, cols) = self.query(query, top)?;
        Ok(match query {
            Query::Set(_) => (format!("({sql})"), cols),
            _ => (sql, cols),
        })
    }

    fn placeholder_error(&self, e: &Expr) -> CompileError {
        let name = match &e.kind {
            ExprKind::Placeholder(inner) => match &inner.kind {
                ExprKind::Field(chain) => chain
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
                _ => "…".into(),
            },
            _ => "…".into(),
        };
        query_error(format!("Unresolved placeholder: {{{name}}}"), e.span)
    }

    // ---------------------------------------------------------------- SELECT

    fn select(&mut self, q: &SelectQuery, top: bool) -> Result<(String, Vec<SubColumn>)> {
        if q.qualify.is_some() {
            return Err(query_error(
                "QUALIFY is not supported in the 'clickhouse' dialect",
                q.span,
            ));
        }
        if !q.interpolate.is_empty() {
            return Err(unsupported("INTERPOLATE", q.span));
        }
        // CTEs are printed as a WITH clause and visible to this SELECT and its subqueries.
        let mut with = Vec::new();
        let mut frame = Vec::new();
        for cte in &q.ctes {
            if cte.recursive {
                return Err(unsupported("WITH RECURSIVE", cte.span));
            }
            if cte.materialized.is_some() {
                // PostHog: "CTE materialization hints are not supported".
                return Err(query_error(
                    "CTE materialization hints (MATERIALIZED / NOT MATERIALIZED) are not supported",
                    cte.span,
                ));
            }
            let ExprKind::Query(inner) = &cte.expr.kind else {
                return Err(unsupported("column CTEs (`WITH <expr> AS name`)", cte.span));
            };
            if !cte.columns.is_empty() {
                return Err(unsupported("CTE column lists", cte.span));
            }
            self.ctes.push(std::mem::take(&mut frame));
            let printed = self.query(inner, false);
            frame = self.ctes.pop().unwrap_or_default();
            let (sql, cols) = printed?;
            with.push(format!("{} AS ({sql})", ident(&cte.name, cte.span)?));
            frame.push((cte.name.clone(), cols));
        }
        self.ctes.push(frame);
        let result = self.select_planned(q, top);
        self.ctes.pop();
        let (sql, cols) = result?;
        if with.is_empty() {
            Ok((sql, cols))
        } else {
            Ok((format!("WITH {} {sql}", with.join(", ")), cols))
        }
    }

    /// Print a SELECT once, with the lazy joins and lazy tables its plan names in FROM (a
    /// SELECT the pass has no plan for, such as the subqueries the printer builds, reads none).
    fn select_planned(&mut self, q: &SelectQuery, top: bool) -> Result<(String, Vec<SubColumn>)> {
        let plan = self
            .plans
            .get(&lazy::select_key(q))
            .cloned()
            .unwrap_or_default();
        self.scopes.push(Scope {
            windows: q.window_exprs.clone(),
            plan: Some(plan),
            ..Scope::default()
        });
        let printed = self.select_in_scope(q, top);
        let scope = self.scopes.pop().unwrap_or_default();
        let printed = printed?;
        check_aliases(&scope)?;
        lazy::check_planned(&scope).map_err(|what| {
            query_error(
                format!("internal compiler error: `{what}` was read but not planned"),
                q.span,
            )
        })?;
        Ok(printed)
    }

    fn scope(&mut self) -> &mut Scope<'db> {
        // `select` pushes a scope before anything reads it.
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    /// The FROM entries of `q` with the planned lazy joins in place.
    fn select_from(
        &mut self,
        q: &SelectQuery,
        guards: &mut Vec<String>,
        left_guard: &mut Option<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut from = match &q.select_from {
            Some(j) => {
                let chain = self.join_chain(j, guards)?;
                *left_guard = self.left_guard.take();
                chain
            }
            None => Vec::new(),
        };
        // The lazy joins go right after what they hang off, parents first.
        let planned = self
            .scopes
            .last()
            .and_then(|s| s.plan.as_ref())
            .map(|p| p.joins.clone())
            .unwrap_or_default();
        // PostHog's `is_join` for the WHERE clause extractor: another table is joined by the
        // time this join is added.
        let explicit_join = q
            .select_from
            .as_ref()
            .is_some_and(|j| j.next_join.is_some());
        for (i, lazy) in planned.iter().enumerate() {
            let filters = self.persons_joined_filters(q, lazy, explicit_join || i > 0);
            let printed = self.lazy_join(lazy, filters, q.span)?;
            let owner = &lazy.hop.owner_name;
            let child_prefix = format!("{owner}__");
            let at = from
                .iter()
                .rposition(|(name, _)| name == owner || name.starts_with(&child_prefix))
                .map_or(from.len(), |i| i + 1);
            from.insert(at, (lazy.alias(), printed));
        }
        Ok(from)
    }

    fn select_in_scope(&mut self, q: &SelectQuery, top: bool) -> Result<(String, Vec<SubColumn>)> {
        // FROM first: it defines the scope (and PostHog prints it first, so its values come
        // first).
        let mut guards: Vec<String> = Vec::new();
        let saved_where = std::mem::replace(&mut self.outer_where, q.where_.clone());
        let mut left_guard = None;
        let from = self.select_from(q, &mut guards, &mut left_guard);
        self.outer_where = saved_where;
        let from = from?;
        // Register explicit aliases so every clause can refer to them.
        for (alias, e, in_select) in crate::resolve::defined_aliases(q) {
            if in_select
                && RESERVED_ALIASES
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(alias))
            {
                return Err(query_error(
                    format!(
                        "\"{alias}\" cannot be an alias or identifier, as it's a reserved keyword"
                    ),
                    e.span,
                ));
            }
            self.scope().add_alias(alias);
        }
        let mut select_columns = Vec::new();
        for e in &q.select {
            self.select_column(e, &mut select_columns)?;
        }
        let (columns, sub_columns) = self.finish_columns(select_columns)?;

        let mut tail = String::new();
        if let Some(aj) = &q.array_join {
            let items = self.expr_list(&aj.list)?;
            tail.push(' ');
            tail.push_str(&aj.op);
            tail.push(' ');
            tail.push_str(&items.join(", "));
        }
        if let Some(pw) = &q.prewhere {
            // The first table's guard goes in front of a user PREWHERE (and stays in WHERE):
            // PREWHERE runs on the rows of every team in the part before WHERE, so a user
            // expression there would see, and could put into an error message, other teams'
            // values. ClickHouse evaluates an explicit PREWHERE's `and` in order.
            let items = match &pw.kind {
                ExprKind::And(items) => items.as_slice(),
                _ => std::slice::from_ref(pw),
            };
            let p = self.and(left_guard.iter().cloned().collect(), items)?;
            tail.push_str(" PREWHERE ");
            tail.push_str(&p);
        }
        // The guard of the later-visited table goes first, then the user's WHERE.
        let conds: Vec<String> = guards.into_iter().rev().collect();
        // PostHog prepends each guard to the WHERE's top-level AND instead of nesting it.
        let where_sql = match q.where_.as_ref().map(|w| (&w.kind, w)) {
            Some((ExprKind::And(items), _)) => Some(self.and(conds, items)?),
            Some((_, w)) => Some(self.and(conds, std::slice::from_ref(w))?),
            None if conds.is_empty() => None,
            None => Some(fold_and(conds)),
        };
        if let Some(w) = where_sql {
            tail.push_str(" WHERE ");
            tail.push_str(&w);
        }
        match q.group_by_mode.as_deref() {
            None if q.group_by.is_empty() => {}
            None => {
                tail.push_str(" GROUP BY ");
                tail.push_str(&self.expr_list(&q.group_by)?.join(", "));
            }
            Some("grouping_sets") => {
                let sets = self.expr_list(&q.group_by)?;
                tail.push_str(&format!(" GROUP BY GROUPING SETS ({})", sets.join(", ")));
            }
            Some(mode @ ("cube" | "rollup")) => {
                let items = self.expr_list(&q.group_by)?;
                tail.push_str(&format!(
                    " GROUP BY {}({})",
                    mode.to_ascii_uppercase(),
                    items.join(", ")
                ));
            }
            Some(other) => {
                return Err(unsupported(&format!("GROUP BY mode `{other}`"), q.span));
            }
        }
        if let Some(h) = &q.having {
            tail.push_str(" HAVING ");
            tail.push_str(&self.expr(h)?.sql);
        }
        if !q.window_exprs.is_empty() {
            let mut windows = Vec::new();
            for (name, we) in &q.window_exprs {
                let spec = self.window_spec(we, false, q.span)?;
                windows.push(format!("{} AS ({spec})", ident(name, q.span)?));
            }
            tail.push_str(" WINDOW ");
            tail.push_str(&windows.join(", "));
        }
        if !q.order_by.is_empty() {
            tail.push_str(" ORDER BY ");
            tail.push_str(&self.order_list(&q.order_by)?.join(", "));
        }
        if let Some(lb) = &q.limit_by {
            tail.push_str(" LIMIT ");
            tail.push_str(&self.expr(&lb.n)?.sql);
            if let Some(o) = &lb.offset {
                tail.push_str(" OFFSET ");
                tail.push_str(&self.expr(o)?.sql);
            }
            tail.push_str(" BY ");
            tail.push_str(&self.expr_list(&lb.exprs)?.join(", "));
        }
        let limit = self.limit(q, top)?;
        if let Some(limit) = limit {
            tail.push_str(" LIMIT ");
            tail.push_str(&limit);
            if q.limit_with_ties {
                tail.push_str(" WITH TIES");
            }
        }
        if let Some(o) = &q.offset {
            tail.push_str(" OFFSET ");
            tail.push_str(&self.expr(o)?.sql);
        }
        if !q.settings.is_empty() {
            let items: Vec<String> = q.settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            tail.push_str(" SETTINGS ");
            tail.push_str(&items.join(", "));
        }

        let mut out = String::from("SELECT ");
        if q.distinct {
            out.push_str("DISTINCT ");
        }
        out.push_str(&columns.join(", "));
        if !from.is_empty() {
            out.push_str(" FROM ");
            let parts: Vec<String> = from.into_iter().map(|(_, sql)| sql).collect();
            out.push_str(&parts.join(" "));
        }
        out.push_str(&tail);
        Ok((out, sub_columns))
    }

    /// `optimizeJoinedFilters`: the parts of `q`'s WHERE and PREWHERE that read only the persons
    /// table `lazy` joins, in terms of the persons subquery ([`crate::persons_where`]); empty for
    /// other joins or when the modifier is off.
    fn persons_joined_filters(
        &self,
        q: &SelectQuery,
        lazy: &LazyJoinUse<'db>,
        is_join: bool,
    ) -> PersonsFilters {
        if self.ctx.modifiers.optimize_joined_filters != Some(true)
            || lazy.hop.target.name != "persons"
        {
            return PersonsFilters::default();
        }
        let alias = lazy.alias();
        let mut field = |chain: &[ChainPart]| match self.resolve(chain, None) {
            Ok(Resolution::LazyColumn { hops, field, .. })
                if hops.last().is_some_and(|h| h.alias() == alias) =>
            {
                Some(persons_subquery_chain(&field))
            }
            _ => None,
        };
        let wheres: Vec<&Expr> = [&q.where_, &q.prewhere].into_iter().flatten().collect();
        PersonsFilters {
            joined: crate::persons_where::inner_where(&wheres, is_join, &mut field),
            ..PersonsFilters::default()
        }
    }

    /// PostHog's where optimization of `persons` first in FROM (`alias`): the part of the
    /// SELECT's WHERE about persons, over `raw_persons AS where_optimization`, or `None`. (PostHog
    /// also reads PREWHERE; this printer keeps the WHERE of the SELECT being printed only.)
    fn persons_where_optimization(&self, alias: &str, is_join: bool) -> Option<Expr> {
        let outer = self.outer_where.as_ref()?;
        let mut field = |chain: &[ChainPart]| match self.resolve(chain, None) {
            Ok(Resolution::LazyTableColumn {
                table_name, field, ..
            }) if table_name == alias => {
                let mut chain = vec![
                    ChainPart::Name(WHERE_OPTIMIZATION.into()),
                    ChainPart::Name(field.column.clone()),
                ];
                chain.extend(field.path.iter().cloned());
                Some(chain)
            }
            _ => None,
        };
        crate::persons_where::inner_where(&[outer], is_join, &mut field)
    }

    /// `INNER JOIN (SELECT argMax(…) … GROUP BY … HAVING …) AS events__pdi ON …`.
    /// `persons_filters`: filters for a persons subquery.
    fn lazy_join(
        &mut self,
        lazy: &LazyJoinUse<'db>,
        persons_filters: PersonsFilters,
        span: Option<Span>,
    ) -> Result<String> {
        // The fields the query reads, then the join key (always last, as PostHog orders them).
        let key = lazy.hop.join.to_field;
        let mut wanted: Vec<LazyField> = lazy
            .fields
            .iter()
            .filter(|f| !(f.name == key && f.path.is_empty()))
            .cloned()
            .collect();
        wanted.push(LazyField::plain(key));
        let sql = self.lazy_table_sql(
            lazy.hop.target,
            wanted,
            lazy.hop.join.filter.as_deref(),
            persons_filters,
            span,
        )?;
        let alias = ident(&lazy.alias(), span)?;
        // The owner is a FROM table, or the previous hop's joined table (whose subquery selects
        // the key under its field name).
        let owner_table = self.scopes.last().and_then(|s| {
            s.tables
                .iter()
                .find(|t| t.name == lazy.hop.owner_name)
                .and_then(|t| match &t.source {
                    Source::Table(table) => Some(*table),
                    Source::Subquery(_) | Source::LazyTable(_) => None,
                })
        });
        let column_of = |table: Option<&crate::schema::Table>, name: &str| {
            table
                .and_then(|t| t.field(name).ok())
                .and_then(|f| match &f.field {
                    crate::schema::Field::Column(c) => Some(c.name.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| name.to_owned())
        };
        let to_col = ident(lazy.hop.join.to_field, span)?;
        // A join keyed on a computed field (`person` on `person_id` in the joined-properties
        // mode) puts that expression in ON, and so does a join that computes its own key
        // (sessions v2: the session id as a UInt128).
        let from_key = match lazy.hop.join.from_expr {
            Some(text) => Some(self.join_key_expr(text, &lazy.hop.owner_name, span)?),
            None => self.computed_join_key(lazy, span)?,
        };
        let from_sql = match from_key {
            Some(sql) => sql,
            None => {
                let from_col = ident(&column_of(owner_table, &lazy.hop.join.from_field), span)?;
                format!("{}.{from_col}", lazy.hop.owner_sql)
            }
        };
        // personsJoinMode=left turns every join to persons into a LEFT JOIN.
        let join = match (lazy.hop.target.name, self.ctx.modifiers.persons_join_mode) {
            ("persons", Some(crate::context::PersonsJoinMode::Left)) => "LEFT JOIN",
            _ => lazy.hop.join.join.as_sql(),
        };
        Ok(format!(
            "{join} ({sql}) AS {alias} ON equals({from_sql}, {alias}.{to_col})"
        ))
    }

    /// When a lazy join hangs off a FROM table by a computed field (`events.person_id` in the
    /// override modes), that field printed against the table (which registers the joins it
    /// needs, e.g. `events__override`); `None` for a plain column.
    fn computed_join_key(
        &mut self,
        lazy: &LazyJoinUse<'db>,
        span: Option<Span>,
    ) -> Result<Option<String>> {
        let computed = self
            .scopes
            .last()
            .is_some_and(|s| s.joins_by_computed_field(&lazy.hop));
        if !computed {
            return Ok(None);
        }
        let chain = vec![
            ChainPart::Name(lazy.hop.owner_name.clone()),
            ChainPart::Name(lazy.hop.join.from_field.clone()),
        ];
        let res = self.resolve(&chain, span)?;
        Ok(Some(self.field(res, span)?.sql))
    }

    fn limit(&mut self, q: &SelectQuery, top: bool) -> Result<Option<String>> {
        let max = self.ctx.limit_context.max_limit();
        match (&q.limit, top) {
            (None, true) => Ok(Some(self.ctx.limit_context.default_limit().to_string())),
            (None, false) => Ok(None),
            (Some(e), false) => Ok(Some(self.expr(e)?.sql)),
            (Some(e), true) => match &e.kind {
                ExprKind::Constant(Constant::Int(n)) => Ok(Some((*n).min(max).to_string())),
                _ => {
                    let inner = self.expr(e)?.sql;
                    Ok(Some(format!("min2({max}, {inner})")))
                }
            },
        }
    }

    fn select_column(&mut self, e: &Expr, columns: &mut Vec<SelectColumn>) -> Result<()> {
        match &e.kind {
            ExprKind::Alias { alias, expr, .. } => {
                self.scope().excluded_alias = Some(alias.clone());
                let inner = self.expr(expr);
                self.scope().excluded_alias = None;
                let inner = inner?;
                let body = if matches!(expr.kind, ExprKind::Alias { .. }) {
                    format!("({})", inner.sql)
                } else {
                    inner.sql
                };
                if let Some(a) = self.scope().alias_mut(alias) {
                    a.nullable = inner.nullable;
                }
                columns.push(SelectColumn {
                    body,
                    name: Some(alias.clone()),
                    kind: ColumnName::Explicit,
                    nullable: inner.nullable,
                    span: e.span,
                });
            }
            ExprKind::Field(chain) => {
                let res = self.resolve(chain, e.span)?;
                if let Resolution::Asterisk(chains) = res {
                    for field in crate::resolve::asterisk_columns(chains, e.span) {
                        self.select_column(&field, columns)?;
                    }
                    return Ok(());
                }
                // The implicit alias; a reference to an alias prints bare (`SELECT 1, a …
                // ARRAY JOIN … AS a`).
                let (name, kind) = field_column_name(&res, chain);
                let p = self.field(res, e.span)?;
                columns.push(SelectColumn {
                    body: p.sql,
                    name,
                    kind,
                    nullable: p.nullable,
                    span: e.span,
                });
            }
            ExprKind::Call(_) => {
                let p = self.expr(e)?;
                // PostHog strips `%` from an automatic alias instead of rejecting it.
                let name = hogql_text(e).replace('%', "");
                columns.push(SelectColumn {
                    body: p.sql,
                    name: Some(name),
                    kind: ColumnName::Implicit,
                    nullable: p.nullable,
                    span: e.span,
                });
            }
            _ => {
                let p = self.expr(e)?;
                columns.push(SelectColumn {
                    body: p.sql,
                    name: None,
                    kind: ColumnName::Implicit,
                    nullable: p.nullable,
                    span: e.span,
                });
            }
        }
        Ok(())
    }

    /// Print the SELECT list. Explicit aliases always print; of several columns with the same
    /// implicit alias only the last one keeps it, and none does when an explicit alias of that
    /// name exists (PostHog keeps "the first visible or last hidden" alias per name). Returns
    /// the printed columns and the columns an outer query sees.
    fn finish_columns(
        &mut self,
        columns: Vec<SelectColumn>,
    ) -> Result<(Vec<String>, Vec<SubColumn>)> {
        let winners = ColumnNameWinners::new(columns.iter().map(|c| (c.name.as_deref(), c.kind)));
        let winner = |name: &str| winners.get(name);
        let mut printed = Vec::new();
        let mut visible: Vec<(usize, SubColumn)> = Vec::new();
        for (i, c) in columns.iter().enumerate() {
            let Some(name) = &c.name else {
                printed.push(c.body.clone());
                continue;
            };
            let wins = winner(name) == Some(i);
            printed.push(match c.kind {
                ColumnName::Explicit | ColumnName::Implicit
                    if c.kind == ColumnName::Explicit || wins =>
                {
                    self.scope().printed_aliases.push((name.clone(), c.span));
                    format!("{} AS {}", c.body, ident(name, c.span)?)
                }
                _ => c.body.clone(),
            });
            if wins {
                visible.push((
                    i,
                    SubColumn {
                        name: name.clone(),
                        nullable: c.nullable,
                    },
                ));
            }
        }
        Ok((printed, visible.into_iter().map(|(_, c)| c).collect()))
    }

    /// The subquery a lazy table in FROM stands for, selecting `fields`. `filter`: the join's
    /// schema filter; `persons_filters`: filters moved into the persons subquery.
    fn lazy_table_sql(
        &mut self,
        table: &'db crate::schema::Table,
        mut fields: Vec<LazyField>,
        filter: Option<&str>,
        persons_filters: PersonsFilters,
        span: Option<Span>,
    ) -> Result<String> {
        if table.name == "persons" {
            return self.persons_subquery(fields, persons_filters, span);
        }
        if let TableKind::Lazy(LazySource::Aggregate { raw_table, .. }) = &table.kind {
            return self.aggregate_subquery(table, raw_table, fields, span);
        }
        if fields.is_empty()
            && let TableKind::Lazy(LazySource::ArgMax { group_by, .. }) = &table.kind
        {
            fields.extend(group_by.iter().map(|g| LazyField::plain(g)));
        }
        self.argmax_subquery(table, fields, filter, span)
    }

    /// HogQL text of a schema expression (a computed field, a join filter) lowered to IR.
    fn schema_expr(text: &str, span: Option<Span>) -> Result<Expr> {
        let node = hogql_parser::parse_expr(text).map_err(|e| {
            at(
                Error::InvalidAst {
                    message: format!("schema expression `{text}`: {}", e.message()),
                },
                span,
            )
        })?;
        crate::lower::expr(&node)
    }

    /// A lazy table of aggregate states (sessions v1 over `raw_sessions`, printed `sessions`):
    /// `SELECT <merge expression> AS name, …, raw.session_id AS session_id FROM raw GROUP BY
    /// raw.session_id[, <plain fields>]`. Fields are selected in first-use order and the key
    /// is added when not read; plain (non-aggregate) fields are selected as they are and also
    /// grouped by, so the key appears twice in GROUP BY, as PostHog prints it. Sessions v2 is
    /// the same over `raw_sessions` keyed by `session_id_v7`; timestamp bounds of the outer
    /// WHERE are pushed down ([`crate::session_where`]).
    fn aggregate_subquery(
        &mut self,
        table: &'db crate::schema::Table,
        raw_table: &str,
        mut fields: Vec<LazyField>,
        span: Option<Span>,
    ) -> Result<String> {
        let TableKind::Lazy(LazySource::Aggregate { group_by, .. }) = &table.kind else {
            return Err(unsupported(
                &format!("the lazy table `{}`", table.name),
                span,
            ));
        };
        for key in group_by {
            if !fields.iter().any(|f| f.name == *key && f.path.is_empty()) {
                fields.push(LazyField::plain(key));
            }
        }
        let field = |name: &str| {
            Expr::new(ExprKind::Field(vec![
                ChainPart::Name(raw_table.to_owned()),
                ChainPart::Name(name.to_owned()),
            ]))
        };
        let mut group: Vec<Expr> = group_by.iter().map(|g| field(g)).collect();
        let mut select = Vec::new();
        for f in &fields {
            let def = table.field(&f.column).map_err(|e| at(e, span))?;
            let expr = match &def.field {
                crate::schema::Field::Expression(e) => match &e.expr {
                    Some(text) => Self::schema_expr(text, span)?,
                    None => {
                        return Err(unsupported(
                            &format!(
                                "the field `{}` of the lazy table `{}`",
                                f.column, table.name
                            ),
                            span,
                        ));
                    }
                },
                crate::schema::Field::Column(_) if f.path.is_empty() => {
                    group.push(field(&f.column));
                    field(&f.column)
                }
                _ => {
                    return Err(unsupported(
                        &format!(
                            "the field `{}` of the lazy table `{}`",
                            f.column, table.name
                        ),
                        span,
                    ));
                }
            };
            select.push(Expr::new(ExprKind::Alias {
                alias: f.name.clone(),
                expr: Box::new(expr),
                hidden: false,
            }));
        }
        let sub = SelectQuery {
            select,
            select_from: Some(JoinExpr::table(raw_table)),
            where_: crate::session_where::inner_where(
                self.outer_where.as_ref(),
                &crate::session_where::bound_target(raw_table, group_by),
            ),
            group_by: group,
            ..SelectQuery::default()
        };
        Ok(self.query(&Query::Select(Box::new(sub)), false)?.0)
    }

    /// `persons` over `person`: v1 deduplicates with argMax per field; v2 (and `auto` when
    /// `properties` is read) keeps whole rows whose `(id, version)` is the latest live one.
    /// Both drop deleted persons and persons created more than a day in the future. `filters`
    /// (moved in from the query, in terms of the subquery's columns) go to the WHERE of the
    /// argMax query: v1's own, v2's inner one.
    fn persons_subquery(
        &mut self,
        mut fields: Vec<LazyField>,
        filters: PersonsFilters,
        span: Option<Span>,
    ) -> Result<String> {
        let PersonsFilters {
            join_on: mut on,
            joined,
            where_optimization,
        } = filters;
        let filter = match on.len() {
            0 => None,
            1 => on.pop(),
            _ => Some(Expr::new(ExprKind::And(on))),
        };
        // PostHog ANDs the joined filter to the WHERE the subquery has (nested, as it builds it).
        let and_joined = |own: Option<Expr>| match (own, joined) {
            (Some(own), Some(j)) => Some(Expr::new(ExprKind::And(vec![own, j]))),
            (own, j) => own.or(j),
        };
        if fields.is_empty() {
            fields.push(LazyField::plain("id"));
        }
        let raw = "raw_persons";
        let field = |name: &str| {
            Expr::new(ExprKind::Field(vec![
                ChainPart::Name(raw.to_owned()),
                ChainPart::Name(name.to_owned()),
            ]))
        };
        let lazy_field = |f: &LazyField| {
            let mut chain = vec![
                ChainPart::Name(raw.to_owned()),
                ChainPart::Name(f.column.clone()),
            ];
            chain.extend(f.path.iter().cloned());
            Expr::new(ExprKind::Field(chain))
        };
        let call = Expr::call;
        let arg_max = |name: &str| call("argMax", vec![field(name), field("version")]);
        let int = |i: i64| Expr::new(ExprKind::Constant(Constant::Int(i)));
        let alias = |name: &str, expr: Expr| {
            Expr::new(ExprKind::Alias {
                alias: name.to_owned(),
                expr: Box::new(expr),
                hidden: false,
            })
        };
        let having = Expr::new(ExprKind::And(vec![
            Expr::new(ExprKind::Compare {
                op: CompareOp::Eq,
                left: Box::new(arg_max("is_deleted")),
                right: Box::new(int(0)),
                is_null_style: false,
            }),
            Expr::new(ExprKind::Compare {
                op: CompareOp::Lt,
                left: Box::new(arg_max("created_at")),
                right: Box::new(Expr::new(ExprKind::Arithmetic {
                    op: ArithOp::Add,
                    left: Box::new(call("now", Vec::new())),
                    right: Box::new(call("toIntervalDay", vec![int(1)])),
                })),
                is_null_style: false,
            }),
        ]));
        let from = || JoinExpr::table(raw);
        let settings = vec![("optimize_aggregation_in_order".to_owned(), "1".to_owned())];
        let v2 = where_optimization.is_none()
            && match self
                .ctx
                .modifiers
                .persons_arg_max_version
                .unwrap_or_default()
            {
                ArgMaxVersion::V1 => false,
                ArgMaxVersion::V2 => true,
                ArgMaxVersion::Auto => fields.iter().any(|f| f.column == "properties"),
            };
        let sub = if v2 {
            let latest = SelectQuery {
                select: vec![
                    alias("id", field("id")),
                    alias("version", call("max", vec![field("version")])),
                ],
                select_from: Some(from()),
                where_: filter,
                group_by: vec![field("id")],
                having: Some(having),
                ..SelectQuery::default()
            };
            SelectQuery {
                select: fields
                    .iter()
                    .map(|f| alias(&f.name, lazy_field(f)))
                    .collect(),
                select_from: Some(from()),
                where_: and_joined(Some(Expr::new(ExprKind::Compare {
                    op: CompareOp::In,
                    left: Box::new(Expr::new(ExprKind::Tuple(vec![
                        field("id"),
                        field("version"),
                    ]))),
                    right: Box::new(Expr::new(ExprKind::Query(Box::new(Query::Select(
                        Box::new(latest),
                    ))))),
                    is_null_style: false,
                }))),
                settings,
                ..SelectQuery::default()
            }
        } else {
            // PostHog's argmax_select: the fields read through argMax, the key `id` last.
            let is_id = |f: &LazyField| f.name == "id" && f.column == "id" && f.path.is_empty();
            let mut select: Vec<Expr> = fields
                .iter()
                .filter(|f| !is_id(f))
                .map(|f| {
                    let value = if f.column == "id" && f.path.is_empty() {
                        lazy_field(f)
                    } else {
                        latest_value(lazy_field(f), field("version"), !f.path.is_empty())
                    };
                    alias(&f.name, value)
                })
                .collect();
            select.push(alias("id", field("id")));
            // PostHog's where optimization: the persons whose rows match the SELECT's person
            // filters, found first in a plain read of `raw_persons`.
            let (where_, settings) = match where_optimization {
                Some(inner_where) => {
                    let inner = SelectQuery {
                        select: vec![Expr::new(ExprKind::Field(vec![ChainPart::Name(
                            "id".into(),
                        )]))],
                        select_from: Some(JoinExpr {
                            alias: Some(WHERE_OPTIMIZATION.into()),
                            ..JoinExpr::table(raw)
                        }),
                        where_: Some(inner_where),
                        ..SelectQuery::default()
                    };
                    let in_matching = Expr::new(ExprKind::Compare {
                        op: CompareOp::In,
                        left: Box::new(Expr::new(ExprKind::Field(vec![ChainPart::Name(
                            "id".into(),
                        )]))),
                        right: Box::new(Expr::new(ExprKind::Query(Box::new(Query::Select(
                            Box::new(inner),
                        ))))),
                        is_null_style: false,
                    });
                    (Some(in_matching), Vec::new())
                }
                None => (and_joined(filter), settings),
            };
            SelectQuery {
                select,
                select_from: Some(from()),
                where_,
                group_by: vec![field("id")],
                having: Some(having),
                settings,
                ..SelectQuery::default()
            }
        };
        let _ = span;
        Ok(self.query(&Query::Select(Box::new(sub)), false)?.0)
    }

    /// `SELECT argMax(f, version) AS f, …, key AS key FROM raw GROUP BY key HAVING not deleted`
    /// for an argMax-deduplicated lazy table.
    fn argmax_subquery(
        &mut self,
        target: &'db crate::schema::Table,
        wanted: Vec<LazyField>,
        filter: Option<&str>,
        span: Option<Span>,
    ) -> Result<String> {
        let TableKind::Lazy(LazySource::ArgMax {
            raw_table,
            group_by,
            version_field,
            deleted_field,
        }) = &target.kind
        else {
            return Err(unsupported(
                &format!("the lazy table `{}`", target.name),
                span,
            ));
        };
        let field = |name: &str| {
            Expr::new(ExprKind::Field(vec![
                ChainPart::Name((*raw_table).to_owned()),
                ChainPart::Name(name.to_owned()),
            ]))
        };
        let arg_max = |name: &str| {
            Expr::new(ExprKind::Call(Call {
                name: "argMax".into(),
                args: vec![field(name), field(version_field)],
                params: None,
                distinct: false,
                filter: None,
                within_group: None,
            }))
        };
        // PostHog's argmax_select: the fields read (but the grouping keys) through argMax, then
        // every grouping key as it is.
        let is_key = |f: &LazyField| {
            f.path.is_empty() && group_by.contains(&f.column.as_str()) && f.name == f.column
        };
        let mut wanted: Vec<LazyField> = wanted.into_iter().filter(|f| !is_key(f)).collect();
        wanted.extend(group_by.iter().map(|g| LazyField::plain(g)));
        let select = wanted
            .iter()
            .map(|f| {
                let expr = if group_by.contains(&f.column.as_str()) && f.path.is_empty() {
                    field(&f.column)
                } else {
                    let mut chain = vec![
                        ChainPart::Name((*raw_table).to_owned()),
                        ChainPart::Name(f.column.clone()),
                    ];
                    chain.extend(f.path.iter().cloned());
                    latest_value(
                        Expr::new(ExprKind::Field(chain)),
                        field(version_field),
                        lazy_field_nullable(target, f),
                    )
                };
                Expr::new(ExprKind::Alias {
                    alias: f.name.clone(),
                    expr: Box::new(expr),
                    hidden: false,
                })
            })
            .collect();
        let having = deleted_field.map(|deleted| {
            Expr::new(ExprKind::Compare {
                op: CompareOp::Eq,
                left: Box::new(arg_max(deleted)),
                right: Box::new(Expr::new(ExprKind::Constant(Constant::Int(0)))),
                is_null_style: false,
            })
        });
        let sub = SelectQuery {
            select,
            select_from: Some(JoinExpr::table(raw_table)),
            where_: filter.map(|f| Self::schema_expr(f, span)).transpose()?,
            group_by: group_by.iter().map(|g| field(g)).collect(),
            having,
            // The distinct-id tables ask for in-order aggregation; groups does not.
            settings: if *raw_table == "raw_groups" {
                Vec::new()
            } else {
                vec![("optimize_aggregation_in_order".into(), "1".into())]
            },
            ..SelectQuery::default()
        };
        Ok(self.query(&Query::Select(Box::new(sub)), false)?.0)
    }

    // ---------------------------------------------------------------- FROM

    fn join_chain(
        &mut self,
        first: &JoinExpr,
        guards: &mut Vec<String>,
    ) -> Result<Vec<(String, String)>> {
        let mut segments = Vec::new();
        let mut node = Some(first);
        while let Some(j) = node {
            let mut out = String::new();
            let (inline, kept_on) = self.persons_join_filters(j);
            // The first FROM entry, and whether others are joined to it.
            let first_entry = std::ptr::eq(j, first).then(|| first.next_join.is_some());
            let (table_sql, guard) = self.join_table(j, inline, first_entry)?;
            let owner = self
                .scopes
                .last()
                .and_then(|s| s.tables.last())
                .map(|t| t.name.clone())
                .unwrap_or_default();
            if std::ptr::eq(j, first) {
                self.left_guard.clone_from(&guard);
            }
            if let Some(jt) = &j.join_type {
                out.push_str(jt);
                out.push(' ');
            }
            out.push_str(&table_sql);
            if let Some(sample) = &j.sample {
                let value = self.ratio(&sample.sample_value)?;
                // `SAMPLE 1` reads everything: PostHog leaves it out.
                if value != "1" || sample.offset_value.is_some() {
                    out.push_str(" SAMPLE ");
                    out.push_str(&value);
                    if let Some(o) = &sample.offset_value {
                        out.push_str(" OFFSET ");
                        out.push_str(&self.ratio(o)?);
                    }
                }
            }
            match &j.constraint {
                Some(c) => {
                    if has_non_equi(&c.expr) {
                        self.non_equi_join = true;
                    }
                    self.in_join_constraint = true;
                    let printed = match &kept_on {
                        Some(items) => self
                            .and(Vec::new(), items.iter().copied())
                            .map(|sql| P::new(sql, false)),
                        None => self.expr(&c.expr),
                    };
                    self.in_join_constraint = false;
                    let mut printed = printed?.sql;
                    if c.constraint_type == "ON" {
                        // The joined table's guard goes first in ON, for every join type (PostHog
                        // does so for LEFT joins only and puts an inner join's in WHERE): ClickHouse
                        // evaluates the ON condition on the right table's rows before WHERE, so
                        // with the guard in WHERE a user expression in ON saw, and could put into an
                        // error message, other teams' rows.
                        if let Some(g) = &guard {
                            printed = fold_and(vec![g.clone(), printed]);
                        }
                        out.push_str(" ON ");
                    } else {
                        if let Some(g) = &guard {
                            guards.push(g.clone());
                        }
                        out.push_str(" USING ");
                    }
                    out.push_str(&printed);
                }
                None => {
                    if let Some(g) = &guard {
                        guards.push(g.clone());
                    }
                }
            }
            segments.push((owner, out));
            node = j.next_join.as_deref();
        }
        Ok(segments)
    }

    /// `and(prefix…, items…)` the way PostHog prints it: operands in order, stopping at the first
    /// `0` (later operands are never printed, so their values are never added), `1`s dropped.
    fn and<'e>(
        &mut self,
        prefix: Vec<String>,
        items: impl IntoIterator<Item = &'e Expr>,
    ) -> Result<String> {
        if prefix.iter().any(|p| p == "0") {
            return Ok("0".into());
        }
        let mut kept: Vec<String> = prefix.into_iter().filter(|p| p != "1").collect();
        for item in items {
            let printed = self.expr(item)?.sql;
            match printed.as_str() {
                "0" => return Ok("0".into()),
                "1" => {}
                _ => kept.push(printed),
            }
        }
        Ok(fold_and(kept))
    }

    fn ratio(&mut self, r: &Ratio) -> Result<String> {
        let left = self.expr(&r.left)?.sql;
        Ok(match &r.right {
            Some(right) => format!("{left}/{}", self.expr(right)?.sql),
            None => left,
        })
    }

    /// The columns of the CTE called `name` in scope.
    fn cte_columns(&self, name: &str) -> Option<Vec<SubColumn>> {
        crate::resolve::cte_columns(&self.ctes, name)
    }

    /// PostHog's `PersonsTable.create_new_table_with_filter`: of an explicit
    /// `JOIN persons [AS p] ON a AND b …`, the operands `p.id IN …` (`persons.id` without an
    /// alias) move into the persons subquery as `id IN …`, the others stay in ON. Returns the
    /// moved filters and, when any moved, the operands left for ON. Unlike PostHog, an `IN`
    /// whose right side is not constants (a subquery) stays in ON: the subquery was planned
    /// where it is written.
    fn persons_join_filters<'j>(&self, j: &'j JoinExpr) -> (PersonsFilters, Option<Vec<&'j Expr>>) {
        let none = (PersonsFilters::default(), None);
        let (
            JoinTable::Table {
                chain, args: None, ..
            },
            Some(c),
        ) = (&j.table, &j.constraint)
        else {
            return none;
        };
        let ExprKind::And(items) = &c.expr.kind else {
            return none;
        };
        if c.constraint_type != "ON"
            || chain.len() != 1
            || chain[0] != "persons"
            || self.cte_columns("persons").is_some()
        {
            return none;
        }
        let alias = j.alias.as_deref().unwrap_or("persons");
        let constant = |e: &Expr| matches!(e.kind, ExprKind::Constant(_));
        let promotable = |e: &Expr| match &e.kind {
            ExprKind::Compare {
                op: CompareOp::In,
                left,
                right,
                ..
            } => {
                matches!(&left.kind, ExprKind::Field(f)
                    if f.len() == 2
                        && matches!(&f[0], ChainPart::Name(n) if n == alias)
                        && matches!(&f[1], ChainPart::Name(n) if n == "id"))
                    && match &right.kind {
                        ExprKind::Tuple(values) | ExprKind::Array(values) => {
                            values.iter().all(constant)
                        }
                        _ => constant(right),
                    }
            }
            _ => false,
        };
        let (moved, kept): (Vec<&Expr>, Vec<&Expr>) = items.iter().partition(|e| promotable(e));
        if moved.is_empty() || kept.is_empty() {
            return none;
        }
        let moved = moved
            .into_iter()
            .filter_map(|e| match &e.kind {
                ExprKind::Compare {
                    op,
                    right,
                    is_null_style,
                    ..
                } => Some(Expr::new(ExprKind::Compare {
                    op: *op,
                    left: Box::new(Expr::new(ExprKind::Field(vec![ChainPart::Name(
                        "id".into(),
                    )]))),
                    right: right.clone(),
                    is_null_style: *is_null_style,
                })),
                _ => None,
            })
            .collect();
        (
            PersonsFilters {
                join_on: moved,
                ..PersonsFilters::default()
            },
            Some(kept),
        )
    }

    /// Print one FROM entry, add it to the scope, and return its team guard. `inline`: filters
    /// for the persons subquery ([`Self::persons_join_filters`]).
    /// `first_entry`: for the first FROM entry, whether others are joined to it.
    fn join_table(
        &mut self,
        j: &JoinExpr,
        mut inline: PersonsFilters,
        first_entry: Option<bool>,
    ) -> Result<(String, Option<String>)> {
        if !j.column_aliases.is_empty() {
            return Err(unsupported("column aliases on a FROM entry", j.span));
        }
        if j.table_final {
            return Err(query_error(
                "The FINAL keyword is not supported in HogQL as it causes slow queries",
                j.span,
            ));
        }
        match &j.table {
            JoinTable::Table { chain, args, span } => {
                let name = chain.join(".");
                if let (Some(cols), 1) = (self.cte_columns(&name), chain.len()) {
                    let base = ident(&name, *span)?;
                    let (printed, sql_ref) = match &j.alias {
                        Some(alias) if alias != &name => {
                            let a = ident(alias, *span)?;
                            (format!("{base} AS {a}"), a)
                        }
                        _ => (base.clone(), base),
                    };
                    self.scope().tables.push(ScopeTable {
                        name: j.alias.clone().unwrap_or(name),
                        sql_ref: Some(sql_ref),
                        source: Source::Subquery(cols),
                    });
                    return Ok((printed, None));
                }
                let table = self.db.table(&name).map_err(|e| at(e, *span))?;
                let (base, guard_needed) = match &table.kind {
                    TableKind::Table => (ident(table.clickhouse_name, *span)?, table.team_id_guard),
                    TableKind::Function(tf) => {
                        tf.check_args(args.as_ref().map(Vec::len))
                            .map_err(|e| at(e, *span))?;
                        let ch = tf.clickhouse_name().map_err(|e| at(e, *span))?;
                        let printed = self.expr_list(args.as_deref().unwrap_or(&[]))?;
                        (format!("{ch}({})", printed.join(", ")), false)
                    }
                    TableKind::Lazy(_) => {
                        if !crate::resolve::lazy_join_supported(table) {
                            return Err(unsupported(
                                &format!("the lazy table `{name}` (a deduplicating subquery)"),
                                *span,
                            ));
                        }
                        if args.is_some() {
                            return Err(query_error(
                                format!("Table `{name}` is not a table function"),
                                *span,
                            ));
                        }
                        // The subquery selects the fields the lazy-table pass found read.
                        let alias = j.alias.clone().unwrap_or_else(|| name.clone());
                        let a = ident(&alias, *span)?;
                        let planned = self
                            .scopes
                            .last()
                            .and_then(|s| s.plan.as_ref())
                            .and_then(|p| p.tables.iter().find(|(n, _, _)| n == &alias))
                            .map(|(_, _, fields)| fields.clone())
                            .unwrap_or_default();
                        let scope = self.scope();
                        scope.lazy_tables.push((alias.clone(), table, Vec::new()));
                        scope.tables.push(ScopeTable {
                            name: alias.clone(),
                            sql_ref: Some(a.clone()),
                            source: Source::LazyTable(table),
                        });
                        // PostHog checks the FROM entry's type for the table itself, which an
                        // alias (`FROM persons AS p`) hides.
                        if let (Some(is_join), "persons", None) =
                            (first_entry, table.name, &j.alias)
                        {
                            inline.where_optimization =
                                self.persons_where_optimization(&alias, is_join);
                        }
                        let sql = self.lazy_table_sql(table, planned, None, inline, *span)?;
                        return Ok((format!("({sql}) AS {a}"), None));
                    }
                };
                if args.is_some() && !matches!(table.kind, TableKind::Function(_)) {
                    return Err(query_error(
                        format!("Table `{name}` is not a table function"),
                        *span,
                    ));
                }
                // Table functions are always aliased, by their name when nothing else.
                let (sql_name, aliased) = table_sql_name(j.alias.as_deref(), table);
                let sql_ref = ident(sql_name, *span)?;
                let printed = if aliased {
                    format!("{base} AS {sql_ref}")
                } else {
                    base
                };
                let guard = guard_needed
                    .then(|| format!("equals({sql_ref}.team_id, {})", self.ctx.team_id));
                self.scope().tables.push(ScopeTable {
                    name: j.alias.clone().unwrap_or(name),
                    sql_ref: Some(sql_ref),
                    source: Source::Table(table),
                });
                Ok((printed, guard))
            }
            JoinTable::Query(q) => {
                let (sql, cols) = self.query(q, false)?;
                let (printed, sql_ref) = match &j.alias {
                    Some(alias) => {
                        let a = ident(alias, j.span)?;
                        (format!("({sql}) AS {a}"), Some(a))
                    }
                    None => (format!("({sql})"), None),
                };
                self.scope().tables.push(ScopeTable {
                    name: j.alias.clone().unwrap_or_default(),
                    sql_ref,
                    source: Source::Subquery(cols),
                });
                Ok((printed, None))
            }
            JoinTable::Placeholder(e) => Err(self.placeholder_error(e)),
            JoinTable::Nested(_) => Err(unsupported("a parenthesised join", j.span)),
            JoinTable::Other(e) => Err(query_error(
                format!("A {} cannot be used as a SELECT source", expr_kind_name(e)),
                e.span,
            )),
        }
    }

    // ---------------------------------------------------------------- expressions

    fn expr_list(&mut self, exprs: &[Expr]) -> Result<Vec<String>> {
        exprs.iter().map(|e| Ok(self.expr(e)?.sql)).collect()
    }

    fn order_list(&mut self, items: &[OrderExpr]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for o in items {
            let e = self.expr(&o.expr)?.sql;
            let mut item = format!(
                "{e} {}",
                match o.order {
                    Order::Asc => "ASC",
                    Order::Desc => "DESC",
                }
            );
            if let Some(fill) = &o.with_fill {
                item.push_str(" WITH FILL");
                for (word, value) in [
                    ("FROM", &fill.from),
                    ("TO", &fill.to),
                    ("STEP", &fill.step),
                    ("STALENESS", &fill.staleness),
                ] {
                    if let Some(v) = value {
                        item.push_str(&format!(" {word} {}", self.expr(v)?.sql));
                    }
                }
            }
            out.push(item);
        }
        Ok(out)
    }

    /// With `propertyGroupsMode` on, the `properties_group_*` / `person_properties_map_*` map
    /// column of the events table that holds `key` (PostHog's property_groups.py: `custom` for
    /// keys without `$` except a list of common ones, `feature_flags` for `$feature/…`; person
    /// properties only `custom`).
    fn property_group_column(
        &self,
        table: &str,
        column: &str,
        key: Option<&ChainPart>,
    ) -> Option<&'static str> {
        use crate::context::PropertyGroupsMode;
        const NOT_CUSTOM: [&str; 26] = [
            "token",
            "distinct_id",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_content",
            "utm_term",
            "gclid",
            "gad_source",
            "gclsrc",
            "dclid",
            "gbraid",
            "wbraid",
            "fbclid",
            "msclkid",
            "twclid",
            "li_fat_id",
            "mc_cid",
            "igshid",
            "ttclid",
            "rdt_cid",
            "epik",
            "qclid",
            "sccid",
            "irclid",
            "_kx",
        ];
        if !matches!(
            self.ctx.modifiers.property_groups_mode,
            Some(PropertyGroupsMode::Enabled | PropertyGroupsMode::Optimized)
        ) || table != "events"
        {
            return None;
        }
        let Some(ChainPart::Name(key)) = key else {
            return None;
        };
        match column {
            "properties" if !key.starts_with('$') && !NOT_CUSTOM.contains(&key.as_str()) => {
                Some("properties_group_custom")
            }
            "properties" if key.starts_with("$feature/") => Some("properties_group_feature_flags"),
            "person_properties" if !key.starts_with('$') => Some("person_properties_map_custom"),
            _ => None,
        }
    }

    fn resolve(&self, chain: &[ChainPart], span: Option<Span>) -> Result<Resolution<'db>> {
        let scope = match self.scopes.last() {
            Some(s) => s,
            None => {
                return Err(at(
                    Error::UnresolvedField {
                        name: chain.first().map(ToString::to_string).unwrap_or_default(),
                    },
                    span,
                ));
            }
        };
        scope
            .resolve(chain, &self.lambda_args, self.db)
            .map_err(|e| at(e, span))
    }

    fn field(&mut self, res: Resolution<'db>, span: Option<Span>) -> Result<P> {
        Ok(match res {
            Resolution::Column { table_sql, column } => {
                let sql = format!("{table_sql}.{}", ident(&column.name, span)?);
                if column.value_type == ValueType::DateTime {
                    let tz = self.ctx.display_timezone().to_owned();
                    let tz = self.ctx.add_value(&tz);
                    P::new(format!("toTimeZone({sql}, {tz})"), column.is_nullable())
                } else {
                    P::new(sql, column.is_nullable())
                }
            }
            Resolution::Property {
                table,
                table_sql,
                column,
                path,
            } => {
                // A materialized event property reads its own column.
                let materialized = match (table.name, column.name.as_str(), path.first()) {
                    ("events", "properties", Some(ChainPart::Name(first))) => self
                        .db
                        .materialized
                        .get(PropertySource::Event, first)
                        .cloned(),
                    _ => None,
                };
                let (base, rest) = match &materialized {
                    Some(m) => {
                        let col = format!("{table_sql}.{}", ident(&m.column, span)?);
                        // Nullable columns, and the index-friendly `$ai_*` single keys, are
                        // read bare; `legacy_null_as_string` only turns `''` into NULL.
                        let single_ai = path.len() == 1
                            && matches!(
                                m.property.as_str(),
                                "$ai_trace_id" | "$ai_session_id" | "$ai_is_error"
                            );
                        let base = if m.nullable || single_ai {
                            col
                        } else if self.ctx.modifiers.materialization_mode
                            == Some(crate::context::MaterializationMode::LegacyNullAsString)
                        {
                            format!("nullIf({col}, '')")
                        } else {
                            format!("nullIf(nullIf({col}, ''), 'null')")
                        };
                        if path.len() == 1 {
                            return Ok(P::new(base, true));
                        }
                        (base, &path[1..])
                    }
                    None => match (
                        self.property_group_column(table.name, &column.name, path.first()),
                        path.first(),
                    ) {
                        // `propertyGroupsMode`: the key's map column, when a group holds it.
                        (Some(group), Some(ChainPart::Name(key))) => {
                            let col = format!("{table_sql}.{group}");
                            let key = self.ctx.add_value(key);
                            let base = format!("has({col}, {key}) ? {col}[{key}] : null");
                            if path.len() == 1 {
                                return Ok(P::new(base, true));
                            }
                            (base, &path[1..])
                        }
                        _ => (
                            format!("{table_sql}.{}", ident(&column.name, span)?),
                            &path[..],
                        ),
                    },
                };
                let mut args = vec![base];
                for key in rest {
                    args.push(match key {
                        ChainPart::Name(n) => self.ctx.add_value(n),
                        ChainPart::Index(i) => self.ctx.add_param(ParamValue::Int(*i)),
                    });
                }
                P::new(
                    format!(
                        "replaceRegexpAll(nullIf(nullIf(JSONExtractRaw({}), ''), 'null'), '^\"|\"$', '')",
                        args.join(", ")
                    ),
                    true,
                )
            }
            Resolution::SubqueryColumn { table_sql, column } => {
                let name = ident(&column.name, span)?;
                let sql = match table_sql {
                    Some(t) => format!("{t}.{name}"),
                    None => name,
                };
                P::new(sql, column.nullable)
            }
            Resolution::Alias(alias) => P::new(ident(&alias.name, span)?, alias.nullable),
            Resolution::LambdaArg(name) => P::new(ident(&name, span)?, true),
            Resolution::Asterisk(_) => {
                return Err(query_error("Cannot use '*' in this position", span));
            }
            Resolution::ExpressionField {
                owner_name,
                owner_sql,
                table,
                expr,
                nullable,
            } => {
                let node = hogql_parser::parse_expr(expr).map_err(|e| {
                    at(
                        Error::InvalidAst {
                            message: format!("expression field `{expr}`: {}", e.message()),
                        },
                        span,
                    )
                })?;
                let lowered = crate::lower::expr(&node)?;
                // Print against the owning table alone, then keep the lazy joins it needed.
                self.scopes
                    .push(Scope::of_table(owner_name, owner_sql, table));
                let printed = self.expr(&lowered);
                let inner = self.scopes.pop().unwrap_or_default();
                let printed = printed?;
                lazy::merge_lazy_joins(self.scope(), inner.lazy_joins);
                P::new(printed.sql, nullable || printed.nullable)
            }
            Resolution::LazyTableColumn {
                table_name,
                table_sql,
                field,
                nullable,
                ..
            } => {
                lazy::record_lazy_table_field(self.scope(), &table_name, field.clone());
                P::new(
                    format!("{table_sql}.{}", ident(&field.name, span)?),
                    nullable,
                )
            }
            Resolution::LazyColumn {
                hops,
                field,
                nullable,
                ..
            } => {
                // A join keyed on a computed field needs that field's own joins first
                // (`events__override` before `events__person`).
                if let Some(first) = hops.first() {
                    let probe = LazyJoinUse {
                        hop: first.clone(),
                        fields: Vec::new(),
                    };
                    self.computed_join_key(&probe, span)?;
                }
                let last_alias = lazy::record_lazy_column(self.scope(), &hops, &field);
                P::new(
                    format!(
                        "{}.{}",
                        ident(&last_alias, span)?,
                        ident(&field.name, span)?
                    ),
                    nullable,
                )
            }
        })
    }

    fn constant(&mut self, c: &Constant, span: Option<Span>) -> Result<P> {
        Ok(match c {
            Constant::Null => P::new("NULL".into(), true),
            Constant::Bool(b) => P::new(if *b { "1" } else { "0" }.into(), false),
            Constant::Int(i) => P::new(i.to_string(), false),
            Constant::Float(f) => P::new(python_float_repr(*f), false),
            Constant::Number(text) => {
                let sql = match text.as_str() {
                    "Infinity" => "Inf".to_owned(),
                    "-Infinity" => "-Inf".to_owned(),
                    "NaN" => "NaN".to_owned(),
                    t if t
                        .trim_start_matches('-')
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.') =>
                    {
                        t.to_owned()
                    }
                    _ => return Err(query_error(format!("Invalid number: {text}"), span)),
                };
                P::new(sql, false)
            }
            Constant::Str(s) => P::new(self.ctx.add_value(s), false),
        })
    }

    fn expr(&mut self, e: &Expr) -> Result<P> {
        self.tick(e.span)?;
        grow(|| self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<P> {
        let span = e.span;
        match &e.kind {
            ExprKind::Constant(c) => self.constant(c, span),
            ExprKind::Field(chain) => {
                let res = self.resolve(chain, span)?;
                self.field(res, span)
            }
            ExprKind::Alias { alias, expr, .. } => {
                let inner = self.expr(expr)?;
                self.scope().printed_aliases.push((alias.clone(), span));
                Ok(P::new(
                    format!("{} AS {}", inner.sql, ident(alias, span)?),
                    inner.nullable,
                ))
            }
            ExprKind::Compare {
                op, left, right, ..
            } => self.compare(*op, left, right, span),
            ExprKind::Arithmetic { op, left, right } => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                Ok(P::new(
                    format!("{}({}, {})", op.clickhouse_function(), l.sql, r.sql),
                    l.nullable || r.nullable,
                ))
            }
            ExprKind::And(items) => Ok(P::new(self.and(Vec::new(), items)?, false)),
            ExprKind::Or(items) => {
                // Like PostHog: stop at the first `1` (later operands are never printed, so
                // their values are never added); drop `0`s.
                let mut kept = Vec::new();
                for item in items {
                    let printed = self.expr(item)?.sql;
                    match printed.as_str() {
                        "1" => return Ok(P::new("1".into(), false)),
                        "0" => {}
                        _ => kept.push(printed),
                    }
                }
                Ok(P::new(fold_or(kept), false))
            }
            ExprKind::Not(inner) => {
                let p = self.expr(inner)?;
                Ok(P::new(format!("not({})", p.sql), false))
            }
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let x = self.expr(expr)?;
                let lo = self.expr(low)?;
                let hi = self.expr(high)?;
                let not = if *negated { "NOT " } else { "" };
                let sql = format!("{} {not}BETWEEN {} AND {}", x.sql, lo.sql, hi.sql);
                if (x.nullable || lo.nullable || hi.nullable) && !self.in_join_constraint {
                    Ok(P::new(format!("ifNull({sql}, 0)"), false))
                } else {
                    Ok(P::new(sql, false))
                }
            }
            ExprKind::Array(items) => {
                let printed = self.expr_list(items)?;
                Ok(P::new(format!("[{}]", printed.join(", ")), false))
            }
            ExprKind::Tuple(items) => {
                let printed = self.expr_list(items)?;
                Ok(P::new(format!("tuple({})", printed.join(", ")), false))
            }
            ExprKind::ArrayAccess {
                array, property, ..
            } => self.array_access(array, property, span),
            ExprKind::TupleAccess { tuple, index, .. } => {
                if *index == 0 {
                    return Err(query_error(
                        "SQL indexes start from one, not from zero. E.g: array.1",
                        span,
                    ));
                }
                // `properties.arr.1`: an array index inside a JSON path.
                if let Some(p) = self.json_path_access(tuple, ChainPart::Index(*index), span)? {
                    return Ok(p);
                }
                let t = self.expr(tuple)?;
                let sql = if matches!(tuple.kind, ExprKind::Alias { .. }) {
                    format!("({}).{index}", t.sql)
                } else {
                    format!("{}.{index}", t.sql)
                };
                Ok(P::new(sql, true))
            }
            ExprKind::Lambda { args, expr } => {
                let n = self.lambda_args.len();
                self.lambda_args.extend(args.iter().cloned());
                let body = self.expr(expr);
                self.lambda_args.truncate(n);
                let body = body?;
                let params = args
                    .iter()
                    .map(|a| ident(a, span))
                    .collect::<Result<Vec<_>>>()?;
                let head = if params.len() == 1 {
                    params[0].clone()
                } else {
                    format!("({})", params.join(", "))
                };
                Ok(P::new(format!("{head} -> {}", body.sql), true))
            }
            ExprKind::Call(call) => self.call(call, span),
            ExprKind::Query(q) => {
                let (sql, _) = self.query(q, false)?;
                Ok(P::new(format!("({sql})"), true))
            }
            ExprKind::Placeholder(_) => Err(self.placeholder_error(e)),
            ExprKind::ExprCall { .. } => Err(query_error(
                "You can only call simple functions in HogQL, not expressions",
                span,
            )),
            ExprKind::WindowFunction(w) => self.window_function(w, span),
            ExprKind::TypeCast { try_cast: true, .. } => Err(query_error(
                "TRY_CAST is not allowed in clickhouse dialect",
                span,
            )),
            ExprKind::TypeCast {
                expr, type_name, ..
            } => {
                let Some(function) = cast_function(type_name) else {
                    return Err(query_error(
                        format!("Unsupported type cast to '{type_name}'"),
                        span,
                    ));
                };
                let inner = self.expr(expr)?;
                if function == "toDateTime" {
                    let tz = self.ctx.add_value(&self.ctx.timezone.clone());
                    Ok(P::new(format!("toDateTime({}, {tz})", inner.sql), true))
                } else {
                    Ok(P::new(format!("{function}({})", inner.sql), true))
                }
            }
            ExprKind::IsDistinctFrom { .. } => Err(unsupported("IS DISTINCT FROM", span)),
            ExprKind::Dict(_) => Err(unsupported("dictionary literals", span)),
            ExprKind::ArraySlice {
                array,
                start: Some(start),
                end: Some(end),
            } => {
                // `a[s:e]` is inclusive: `arraySlice(a, s, e - s + 1)`.
                let a = self.expr(array)?.sql;
                let s = self.expr(start)?.sql;
                let e = self.expr(end)?.sql;
                Ok(P::new(
                    format!("arraySlice({a}, {s}, plus(minus({e}, {s}), 1))"),
                    true,
                ))
            }
            ExprKind::ArraySlice { .. } => {
                Err(unsupported("array slices without both bounds", span))
            }
            ExprKind::Columns(_) => Err(unsupported("COLUMNS(…) / * EXCLUDE / * REPLACE", span)),
            ExprKind::NamedArgument { .. } => Err(unsupported("named arguments", span)),
            ExprKind::PositionalRef(_) => Err(unsupported("positional references", span)),
            ExprKind::GroupingSet(items) => {
                let printed = self.expr_list(items)?;
                Ok(P::new(format!("({})", printed.join(", ")), true))
            }
            ExprKind::HogQLXTag { .. } => Err(query_error(
                "HogQLX tags are only printed in the 'hogql' dialect",
                span,
            )),
        }
    }

    fn array_access(&mut self, array: &Expr, property: &Expr, span: Option<Span>) -> Result<P> {
        if let ExprKind::Constant(Constant::Int(0)) = property.kind {
            return Err(query_error(
                "SQL indexes start from one, not from zero. E.g: array.1",
                span,
            ));
        }
        // `properties['x']`: a property access spelled with brackets.
        if let ExprKind::Constant(key) = &property.kind
            && let Some(part) = match key {
                Constant::Str(s) => Some(ChainPart::Name(s.clone())),
                Constant::Int(i) => Some(ChainPart::Index(*i)),
                _ => None,
            }
            && let Some(p) = self.json_path_access(array, part, span)?
        {
            return Ok(p);
        }
        let a = self.expr(array)?;
        let p = self.expr(property)?;
        Ok(P::new(format!("{}[{}]", a.sql, p.sql), true))
    }

    /// `base[key]` / `base.N` where `base` is a JSON column or property: one longer property
    /// path. `None` when `base` is anything else.
    fn json_path_access(
        &mut self,
        base: &Expr,
        part: ChainPart,
        span: Option<Span>,
    ) -> Result<Option<P>> {
        let Some(chain) = access_chain(base) else {
            return Ok(None);
        };
        let is_json = matches!(
            self.resolve(&chain, base.span),
            Ok(Resolution::LazyColumn { is_json: true, .. })
                | Ok(Resolution::LazyTableColumn { is_json: true, .. })
                | Ok(Resolution::Property { .. }
                    | Resolution::Column {
                        column: crate::schema::Column {
                            value_type: ValueType::StringJson,
                            ..
                        },
                        ..
                    })
        );
        if !is_json {
            return Ok(None);
        }
        let mut longer = chain.clone();
        longer.push(part);
        let res = self.resolve(&longer, span)?;
        self.field(res, span).map(Some)
    }

    fn compare(
        &mut self,
        op: CompareOp,
        left: &Expr,
        right: &Expr,
        span: Option<Span>,
    ) -> Result<P> {
        if let Some(sql) = self.session_id_uuid_comparison(op, left, right, span)? {
            return Ok(P::new(sql, false));
        }
        let op = self.sessions_global_in(op, left, right, span);
        let l = self.expr(left)?;
        let r = self.expr(right)?;
        if self.ctx.modifiers.materialization_mode
            == Some(crate::context::MaterializationMode::Auto)
            && let Some(sql) = materialized_comparison(op, left, right, &l, &r)
        {
            return Ok(P::new(sql, false));
        }
        let (ls, rs) = (&l.sql, &r.sql);
        let plain = match op {
            CompareOp::Eq => format!("equals({ls}, {rs})"),
            CompareOp::NotEq => format!("notEquals({ls}, {rs})"),
            CompareOp::Lt => format!("less({ls}, {rs})"),
            CompareOp::LtEq => format!("lessOrEquals({ls}, {rs})"),
            CompareOp::Gt => format!("greater({ls}, {rs})"),
            CompareOp::GtEq => format!("greaterOrEquals({ls}, {rs})"),
            CompareOp::Like => format!("like({ls}, {rs})"),
            CompareOp::ILike => format!("ilike({ls}, {rs})"),
            CompareOp::NotLike => format!("notLike({ls}, {rs})"),
            CompareOp::NotILike => format!("notILike({ls}, {rs})"),
            CompareOp::In => return Ok(P::new(format!("in({ls}, {rs})"), false)),
            CompareOp::NotIn => format!("notIn({ls}, {rs})"),
            CompareOp::GlobalIn => return Ok(P::new(format!("globalIn({ls}, {rs})"), false)),
            CompareOp::GlobalNotIn => format!("globalNotIn({ls}, {rs})"),
            CompareOp::Regex => format!("match({ls}, {rs})"),
            CompareOp::NotRegex => format!("not(match({ls}, {rs}))"),
            CompareOp::IRegex => format!("match({ls}, concat('(?i)', {rs}))"),
            CompareOp::NotIRegex => format!("not(match({ls}, concat('(?i)', {rs})))"),
            CompareOp::InCohort | CompareOp::NotInCohort => {
                return Err(unsupported("IN COHORT", span));
            }
        };
        // Two constants fold.
        if let (ExprKind::Constant(a), ExprKind::Constant(b)) = (&left.kind, &right.kind) {
            match op {
                CompareOp::Eq => return Ok(P::new(bool_sql(a == b), false)),
                CompareOp::NotEq => return Ok(P::new(bool_sql(a != b), false)),
                _ => {}
            }
        }
        let timestamp_hack = |s: &str| {
            (s.contains("toTimeZone(") && (s.contains(".timestamp") || s.contains("_timestamp")))
                || s == session_id::V7_TIMESTAMP_SQL
        };
        if self.in_join_constraint || timestamp_hack(ls) || timestamp_hack(rs) {
            return Ok(P::new(plain, false));
        }
        if !(l.nullable || r.nullable) {
            return Ok(P::new(plain, false));
        }
        let is_null_const = |e: &Expr| matches!(e.kind, ExprKind::Constant(Constant::Null));
        let is_const = |e: &Expr| matches!(e.kind, ExprKind::Constant(_));
        let sql = match op {
            CompareOp::Eq | CompareOp::Like | CompareOp::ILike => {
                if is_null_const(right) {
                    format!("isNull({ls})")
                } else if is_null_const(left) {
                    format!("isNull({rs})")
                } else if is_const(left) || is_const(right) {
                    format!("ifNull({plain}, 0)")
                } else {
                    format!("ifNull({plain}, isNull({ls}) and isNull({rs}))")
                }
            }
            CompareOp::NotEq | CompareOp::NotLike | CompareOp::NotILike => {
                if is_null_const(right) {
                    format!("isNotNull({ls})")
                } else if is_null_const(left) {
                    format!("isNotNull({rs})")
                } else if is_const(left) || is_const(right) {
                    format!("ifNull({plain}, 1)")
                } else {
                    format!("ifNull({plain}, isNotNull({ls}) or isNotNull({rs}))")
                }
            }
            CompareOp::NotRegex
            | CompareOp::NotIRegex
            | CompareOp::NotIn
            | CompareOp::GlobalNotIn => format!("ifNull({plain}, 1)"),
            _ => format!("ifNull({plain}, 0)"),
        };
        Ok(P::new(sql, false))
    }

    fn window_function(&mut self, w: &WindowFunction, span: Option<Span>) -> Result<P> {
        functions::registry()
            .resolve(&w.name)
            .map_err(|e| at(e, span))?;
        // PostgreSQL-style lag/lead: ClickHouse's *InFrame variants over a nullable first
        // argument, with the whole partition as the default frame.
        let in_frame = match w.name.as_str() {
            "lag" => Some("lagInFrame"),
            "lead" => Some("leadInFrame"),
            _ => None,
        };
        let mut exprs = self.expr_list(&w.exprs)?;
        if in_frame.is_some()
            && let Some(first) = exprs.first_mut()
        {
            *first = format!("toNullable({first})");
        }
        let mut sql = format!("{}({})", in_frame.unwrap_or(&w.name), exprs.join(", "));
        if !w.args.is_empty() {
            sql.push_str(&format!("({})", self.expr_list(&w.args)?.join(", ")));
        }
        sql.push_str(" OVER ");
        match (&w.over_expr, &w.over_identifier) {
            (Some(we), _) => {
                let spec = self.window_spec(we, in_frame.is_some(), span)?;
                sql.push_str(&format!("({spec})"));
            }
            (None, Some(id)) => {
                // lag/lead need their frame, so a named window is inlined for them.
                let named = self
                    .scopes
                    .last()
                    .and_then(|s| s.windows.iter().find(|(n, _)| n == id))
                    .map(|(_, we)| we.clone());
                match (in_frame, named) {
                    (Some(_), Some(we)) => {
                        let spec = self.window_spec(&we, true, span)?;
                        sql.push_str(&format!("({spec})"));
                    }
                    _ => sql.push_str(&ident(id, span)?),
                }
            }
            (None, None) => sql.push_str("()"),
        }
        Ok(P::new(sql, true))
    }

    /// The inside of `OVER (…)` / `WINDOW w AS (…)`.
    fn window_spec(
        &mut self,
        we: &WindowExpr,
        default_full_frame: bool,
        span: Option<Span>,
    ) -> Result<String> {
        let mut parts = Vec::new();
        if let Some(base) = &we.base {
            parts.push(ident(base, span)?);
        }
        if !we.partition_by.is_empty() {
            parts.push(format!(
                "PARTITION BY {}",
                self.expr_list(&we.partition_by)?.join(", ")
            ));
        }
        if !we.order_by.is_empty() {
            parts.push(format!(
                "ORDER BY {}",
                self.order_list(&we.order_by)?.join(", ")
            ));
        }
        let bound = |b: &FrameBound| match (&b.frame_value, b.frame_type.as_str()) {
            (_, "CURRENT ROW") => "CURRENT ROW".to_owned(),
            (Some(v), t) => format!("{v} {t}"),
            (None, t) => format!("UNBOUNDED {t}"),
        };
        match (&we.frame_method, &we.frame_start, &we.frame_end) {
            (Some(method), Some(s), Some(e)) => {
                parts.push(format!("{method} BETWEEN {} AND {}", bound(s), bound(e)))
            }
            (Some(method), Some(s), None) => parts.push(format!("{method} {}", bound(s))),
            (None, _, _) if default_full_frame => {
                parts.push("ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".into())
            }
            _ => {}
        }
        Ok(parts.join(" "))
    }

    // ---------------------------------------------------------------- calls

    fn call(&mut self, call: &Call, span: Option<Span>) -> Result<P> {
        let shape = CallShape {
            args: call.args.len(),
            params: call.params.as_ref().map(Vec::len),
            within_group: call.within_group.is_some(),
        };
        // `CASE x WHEN a THEN b … ELSE c END`, desugared by the parser.
        if call.name == "_caseWithExpression" {
            return self.case_with_expression(&call.args, span);
        }
        if let Some(meta) = functions::registry().lookup(&call.name)
            && meta.parametric_first_arg
        {
            check_parametric_first_arg(call, span)?;
        }
        let resolved = functions::registry()
            .check_call(&call.name, shape)
            .map_err(|e| at(e, span))?;
        match resolved {
            Resolved::Comparison(op) => {
                self.compare(op.to_ir(), &call.args[0], &call.args[1], span)
            }
            Resolved::Aggregation(meta) => self.aggregation(call, meta, span),
            Resolved::Function(meta) => self.function(call, meta, span),
            // A PostHog function that is a plain template (`sortableSemVer`) prints like any
            // function; the others need PostHog's own expansion.
            Resolved::PostHogFunction(meta) if matches!(meta.target, Target::Template { .. }) => {
                self.function(call, meta, span)
            }
            Resolved::PostHogFunction(_) => Err(unsupported(
                &format!("the PostHog function '{}'", call.name),
                span,
            )),
        }
    }

    /// `transform(subject, [whens], [thens], else)`. Accepts PostHog's shape (the whens and
    /// thens as two arrays) and the flattened `subject, w1, t1, …, else`.
    fn case_with_expression(&mut self, args: &[Expr], span: Option<Span>) -> Result<P> {
        let is_array = |e: &Expr| matches!(e.kind, ExprKind::Array(_));
        if args.len() == 4 && is_array(&args[1]) && is_array(&args[2]) {
            let printed = self.expr_list(args)?;
            return Ok(P::new(format!("transform({})", printed.join(", ")), true));
        }
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return Err(query_error(
                "CASE with an expression needs a subject, WHEN/THEN pairs and an ELSE",
                span,
            ));
        }
        let subject = self.expr(&args[0])?.sql;
        let pairs = &args[1..args.len() - 1];
        let mut whens = Vec::new();
        for w in pairs.iter().step_by(2) {
            whens.push(self.expr(w)?.sql);
        }
        let mut thens = Vec::new();
        for t in pairs.iter().skip(1).step_by(2) {
            thens.push(self.expr(t)?.sql);
        }
        let otherwise = self.expr(&args[args.len() - 1])?.sql;
        Ok(P::new(
            format!(
                "transform({subject}, [{}], [{}], {otherwise})",
                whens.join(", "),
                thens.join(", ")
            ),
            true,
        ))
    }

    fn aggregation(&mut self, call: &Call, meta: &FunctionMeta, span: Option<Span>) -> Result<P> {
        if let Some(outer) = self.aggregations.last() {
            return Err(at(
                Error::NestedAggregation {
                    name: call.name.clone(),
                    outer: outer.clone(),
                },
                span,
            ));
        }
        if call.within_group.is_some() {
            return Err(unsupported("WITHIN GROUP", span));
        }
        if meta.parametric_first_arg {
            return Err(unsupported(
                &format!("the aggregation '{}'", call.name),
                span,
            ));
        }
        self.aggregations.push(call.name.clone());
        let args = call
            .args
            .iter()
            .map(|a| match &a.kind {
                // `count(*)`
                ExprKind::Field(chain)
                    if matches!(chain.as_slice(), [ChainPart::Name(n)] if n == "*") =>
                {
                    Ok("*".to_owned())
                }
                _ => Ok(self.expr(a)?.sql),
            })
            .collect::<Result<Vec<_>>>();
        let params = match &call.params {
            Some(p) => self.expr_list(p).map(Some),
            None => Ok(None),
        };
        self.aggregations.pop();
        let (args, params) = (args?, params?);
        if let Target::Template { .. } = meta.target {
            let sql = functions::render_template(&call.name, &meta.target, &args)
                .map_err(|e| at(e, span))?;
            return Ok(P::new(sql, true));
        }
        let mut sql = meta.clickhouse_name().to_owned();
        if let Some(p) = params {
            sql.push_str(&format!("({})", p.join(", ")));
        }
        let distinct = if call.distinct { "DISTINCT " } else { "" };
        sql.push_str(&format!("({distinct}{})", args.join(", ")));
        if let Some(filter) = &call.filter {
            let f = self.expr(filter)?.sql;
            sql.push_str(&format!(" FILTER (WHERE {f})"));
        }
        Ok(P::new(sql, true))
    }

    fn function(&mut self, call: &Call, meta: &FunctionMeta, span: Option<Span>) -> Result<P> {
        if call.distinct {
            return Err(query_error(
                format!("Function '{}' does not support DISTINCT", call.name),
                span,
            ));
        }
        if meta.is_udf {
            return Err(unsupported(&format!("the UDF '{}'", call.name), span));
        }
        // Time windows take a DateTime, not a DateTime64: the first argument is converted with
        // `toDateTime(x, 'UTC')`. PostHog prints a date-parsing first argument differently
        // (`assumeNotNull(toDateTime(<…OrNull>))`), which is not done here.
        let first_arg_datetime =
            functions::FIRST_ARG_DATETIME_FUNCTIONS.contains(&meta.name.as_str());
        if first_arg_datetime
            && let Some(Expr {
                kind: ExprKind::Call(first),
                ..
            }) = call.args.first()
            && functions::ADD_OR_NULL_DATETIME_FUNCTIONS.contains(&first.name.as_str())
        {
            return Err(unsupported(
                &format!("a date-parsing first argument to '{}'", call.name),
                span,
            ));
        }
        // concat: every non-constant argument becomes a string, NULL becomes ''.
        if meta.name == "concat" {
            let mut parts = Vec::new();
            for a in &call.args {
                let part = match &a.kind {
                    ExprKind::Constant(Constant::Null) => "''".to_owned(),
                    ExprKind::Constant(Constant::Str(_)) => self.expr(a)?.sql,
                    ExprKind::Constant(_) => format!("toString({})", self.expr(a)?.sql),
                    ExprKind::Call(c) if c.name == "toString" => {
                        if let [only] = c.args.as_slice()
                            && matches!(only.kind, ExprKind::Constant(Constant::Null))
                        {
                            "''".to_owned()
                        } else {
                            self.expr(a)?.sql
                        }
                    }
                    _ => format!("ifNull(toString({}), '')", self.expr(a)?.sql),
                };
                parts.push(part);
            }
            return Ok(P::new(format!("concat({})", parts.join(", ")), false));
        }
        if let Some(side) = functions::trim_side(&call.name)
            && call.args.len() == 2
        {
            let s = self.expr(&call.args[0])?.sql;
            let c = self.expr(&call.args[1])?.sql;
            return Ok(P::new(format!("trim({side} {c} FROM {s})"), true));
        }
        // toDateTime('literal'): the literal's shape picks the ClickHouse function.
        if meta.name == "toDateTime"
            && call.args.len() == 1
            && let ExprKind::Constant(Constant::Str(s)) = &call.args[0].kind
        {
            let v = self.ctx.add_value(s);
            let tz = self.tz_value();
            let sql = if is_plain_datetime(s) || is_plain_date(s) {
                format!("toDateTime({v}, {tz})")
            } else if is_micro_datetime(s) {
                format!("toDateTime64({v}, 6, {tz})")
            } else {
                format!("parseDateTime64BestEffort({v}, 6, {tz})")
            };
            return Ok(P::new(sql, false));
        }
        let n_args = call.args.len();
        let mut printed = Vec::new();
        for a in &call.args {
            printed.push(self.expr(a)?);
        }
        let first_type = call.args.first().and_then(|a| self.arg_type(a));
        let mut args: Vec<String> = printed.iter().map(|p| p.sql.clone()).collect();
        if first_arg_datetime && let Some(first) = args.first_mut() {
            *first = format!("toDateTime({first}, 'UTC')");
        }
        let name = meta.clickhouse_name_for(first_type).to_owned();
        if meta.name == "toStartOfWeek" && n_args == 1 {
            args.push("0".into());
        }
        // Suffix arguments (constants appended, possibly consuming trailing arguments).
        if !meta.suffix_args.is_empty() {
            let consumed: Vec<String> = call
                .args
                .iter()
                .skip(n_args.saturating_sub(meta.passthrough_suffix_args_count))
                .map(|a| match &a.kind {
                    ExprKind::Constant(Constant::Int(i)) => Ok(i.to_string()),
                    ExprKind::Constant(Constant::Str(s)) => Ok(s.clone()),
                    _ => Err(unsupported(
                        &format!("a non-constant trailing argument to '{}'", call.name),
                        a.span,
                    )),
                })
                .collect::<Result<_>>()?;
            args.truncate(n_args.saturating_sub(meta.passthrough_suffix_args_count));
            for suffix in &meta.suffix_args {
                match suffix {
                    SuffixArg::Str(text) => {
                        let mut text = text.clone();
                        for (i, c) in consumed.iter().enumerate() {
                            text = text.replace(&format!("{{{i}}}"), c);
                        }
                        args.push(self.ctx.add_value(&text));
                    }
                    SuffixArg::Named(n) => {
                        return Err(unsupported(&format!("the constant table {n}"), span));
                    }
                }
            }
        }
        if meta.tz_aware && meta.args.max.is_none_or(|max| n_args < max) {
            let tz = self.tz_value();
            args.push(tz);
            if name == "now64" && n_args == 0 {
                args.insert(0, "6".into());
            }
        } else if name == "now64" && meta.name != "now64" && n_args == 1 {
            // `now('US/Pacific')`: ClickHouse's now64 takes the precision first.
            args.insert(0, "6".into());
        }
        if name.starts_with("parseDateTime64BestEffort") && !args.is_empty() {
            args.insert(1, "6".into());
        }
        let sql = match &meta.target {
            Target::Template { .. } => functions::render_template(&call.name, &meta.target, &args)
                .map_err(|e| at(e, span))?,
            Target::Name(_) => format!("{name}({})", args.join(", ")),
        };
        // `assumeNotNull` is the one way to tell the comparison printer a value is not null.
        Ok(P::new(sql, meta.name != "assumeNotNull"))
    }

    fn tz_value(&mut self) -> String {
        let tz = self.ctx.timezone.clone();
        self.ctx.add_value(&tz)
    }

    /// The constant type of an argument, for overload selection.
    fn arg_type(&self, e: &Expr) -> Option<ArgType> {
        match &e.kind {
            ExprKind::Constant(Constant::Int(_)) => Some(ArgType::Integer),
            ExprKind::Constant(Constant::Float(_)) => Some(ArgType::Float),
            ExprKind::Constant(Constant::Str(_)) => Some(ArgType::String),
            ExprKind::Constant(Constant::Bool(_)) => Some(ArgType::Boolean),
            ExprKind::Array(_) => Some(ArgType::Array),
            ExprKind::Tuple(_) => Some(ArgType::Tuple),
            ExprKind::Field(chain) => {
                match self
                    .scopes
                    .last()?
                    .resolve(chain, &self.lambda_args, self.db)
                {
                    Ok(Resolution::Column { column, .. }) => match column.value_type {
                        ValueType::DateTime => Some(ArgType::DateTime),
                        ValueType::Date => Some(ArgType::Date),
                        ValueType::Integer => Some(ArgType::Integer),
                        ValueType::Float => Some(ArgType::Float),
                        ValueType::String | ValueType::StringJson => Some(ArgType::String),
                        ValueType::Boolean => Some(ArgType::Boolean),
                        ValueType::Uuid => Some(ArgType::Uuid),
                        _ => None,
                    },
                    Ok(Resolution::Property { .. }) => Some(ArgType::String),
                    _ => None,
                }
            }
            ExprKind::Call(c) => match c.name.as_str() {
                "now" | "NOW" | "toDateTime" | "toTimeZone" | "now64" => Some(ArgType::DateTime),
                "today" | "yesterday" | "toDate" => Some(ArgType::Date),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The value of `value` in the row with the highest `version`, as PostHog's `argmax_select`
/// reads a field: `argMax(value, version)` when the value cannot be NULL, else
/// `tupleElement(argMax(tuple(value), version), 1)`, so that a NULL in the latest row wins
/// (ClickHouse's argMax skips NULL values and would return an older row's).
fn latest_value(value: Expr, version: Expr, nullable: bool) -> Expr {
    let call = Expr::call;
    if !nullable {
        return call("argMax", vec![value, version]);
    }
    call(
        "tupleElement",
        vec![
            call("argMax", vec![call("tuple", vec![value]), version]),
            Expr::new(ExprKind::Constant(Constant::Int(1))),
        ],
    )
}

/// Whether a lazy table's field may be NULL: a JSON property, or a column declared nullable.
fn lazy_field_nullable(table: &crate::schema::Table, f: &LazyField) -> bool {
    !f.path.is_empty()
        || table.field(&f.column).is_ok_and(
            |def| matches!(&def.field, crate::schema::Field::Column(c) if c.is_nullable()),
        )
}

/// The alias of `raw_persons` in the where-optimization subquery of `persons` (PostHog's).
const WHERE_OPTIMIZATION: &str = "where_optimization";

/// How a persons subquery reads a field of the persons table in a filter moved into it: `id`
/// by its column alias (as PostHog prints it), anything else through `raw_persons`, so that a
/// v1 subquery's argMax alias of the same name (`created_at`) is not what the WHERE reads.
fn persons_subquery_chain(field: &LazyField) -> Vec<ChainPart> {
    if field.column == "id" && field.path.is_empty() {
        return vec![ChainPart::Name("id".into())];
    }
    let mut chain = vec![
        ChainPart::Name("raw_persons".into()),
        ChainPart::Name(field.column.clone()),
    ];
    chain.extend(field.path.iter().cloned());
    chain
}

/// Whether a join constraint compares with anything but equality.
fn has_non_equi(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Compare {
            op, left, right, ..
        } => *op != CompareOp::Eq || has_non_equi(left) || has_non_equi(right),
        ExprKind::And(items) | ExprKind::Or(items) => items.iter().any(has_non_equi),
        ExprKind::Not(inner) => has_non_equi(inner),
        _ => false,
    }
}

/// `a.b`, `a['b']`, `a[1]`, `a.1` as one field chain, when every step is a name or constant.
pub(crate) fn access_chain(e: &Expr) -> Option<Vec<ChainPart>> {
    match &e.kind {
        ExprKind::Field(chain) => Some(chain.clone()),
        ExprKind::ArrayAccess {
            array, property, ..
        } => {
            let mut chain = access_chain(array)?;
            chain.push(match &property.kind {
                ExprKind::Constant(Constant::Str(s)) => ChainPart::Name(s.clone()),
                ExprKind::Constant(Constant::Int(i)) => ChainPart::Index(*i),
                _ => return None,
            });
            Some(chain)
        }
        ExprKind::TupleAccess { tuple, index, .. } => {
            let mut chain = access_chain(tuple)?;
            chain.push(ChainPart::Index(*index));
            Some(chain)
        }
        _ => None,
    }
}

fn is_plain_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn is_plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn is_micro_datetime(s: &str) -> bool {
    s.len() == 26
        && is_plain_datetime(&s[..19])
        && s.as_bytes()[19] == b'.'
        && s[20..].bytes().all(|c| c.is_ascii_digit())
}

fn bool_sql(b: bool) -> String {
    if b { "1" } else { "0" }.to_owned()
}

/// `and(…)` with constant folding: `1`s drop out, any `0` makes the whole `0`.
pub fn fold_and(items: Vec<String>) -> String {
    if items.iter().any(|s| s == "0") {
        return "0".into();
    }
    let kept: Vec<String> = items.into_iter().filter(|s| s != "1").collect();
    match kept.len() {
        0 => "1".into(),
        1 => kept.into_iter().next().unwrap_or_default(),
        _ => format!("and({})", kept.join(", ")),
    }
}

/// `or(…)` with constant folding: `0`s drop out, any `1` makes the whole `1`.
pub fn fold_or(items: Vec<String>) -> String {
    if items.iter().any(|s| s == "1") {
        return "1".into();
    }
    let kept: Vec<String> = items.into_iter().filter(|s| s != "0").collect();
    match kept.len() {
        0 => "0".into(),
        1 => kept.into_iter().next().unwrap_or_default(),
        _ => format!("or({})", kept.join(", ")),
    }
}

fn expr_kind_name(e: &Expr) -> &'static str {
    match &e.kind {
        ExprKind::Constant(_) => "Constant",
        ExprKind::Field(_) => "Field",
        ExprKind::Call(_) => "Call",
        ExprKind::Compare { .. } => "CompareOperation",
        ExprKind::Arithmetic { .. } => "ArithmeticOperation",
        ExprKind::And(_) => "And",
        ExprKind::Or(_) => "Or",
        ExprKind::Not(_) => "Not",
        ExprKind::Between { .. } => "BetweenExpr",
        ExprKind::Alias { .. } => "Alias",
        ExprKind::Array(_) => "Array",
        ExprKind::Tuple(_) => "Tuple",
        ExprKind::Lambda { .. } => "Lambda",
        _ => "expression",
    }
}

/// The canonical HogQL text of an expression, used as the implicit alias of unaliased call
/// columns (``count() AS `count()` ``). Covers the expression forms that appear in calls.
pub fn hogql_text(e: &Expr) -> String {
    grow(|| hogql_text_inner(e))
}

fn hogql_text_inner(e: &Expr) -> String {
    let list = |items: &[Expr]| items.iter().map(hogql_text).collect::<Vec<_>>().join(", ");
    match &e.kind {
        ExprKind::Constant(c) => match c {
            Constant::Null => "NULL".into(),
            Constant::Bool(b) => b.to_string(),
            Constant::Int(i) => i.to_string(),
            Constant::Float(f) => python_float_repr(*f),
            Constant::Number(t) => t.clone(),
            Constant::Str(s) => escape_string(s),
        },
        ExprKind::Field(chain) => chain
            .iter()
            .map(|p| match p {
                ChainPart::Name(n) if n == "*" => "*".to_owned(),
                ChainPart::Name(n) => {
                    escape_identifier(n, Dialect::HogQL).unwrap_or_else(|_| n.clone())
                }
                ChainPart::Index(i) => i.to_string(),
            })
            .collect::<Vec<_>>()
            .join("."),
        ExprKind::Call(c) => {
            let mut s = c.name.clone();
            if let Some(p) = &c.params {
                s.push_str(&format!("({})", list(p)));
            }
            let distinct = if c.distinct { "DISTINCT " } else { "" };
            s.push_str(&format!("({distinct}{})", list(&c.args)));
            s
        }
        ExprKind::Compare {
            op, left, right, ..
        } => {
            let name = match op {
                CompareOp::Eq => "equals",
                CompareOp::NotEq => "notEquals",
                CompareOp::Lt => "less",
                CompareOp::LtEq => "lessOrEquals",
                CompareOp::Gt => "greater",
                CompareOp::GtEq => "greaterOrEquals",
                CompareOp::Like => "like",
                CompareOp::ILike => "ilike",
                CompareOp::NotLike => "notLike",
                CompareOp::NotILike => "notILike",
                CompareOp::In => "in",
                CompareOp::NotIn => "notIn",
                CompareOp::GlobalIn => "globalIn",
                CompareOp::GlobalNotIn => "globalNotIn",
                CompareOp::Regex => "match",
                _ => op.as_str(),
            };
            format!("{name}({}, {})", hogql_text(left), hogql_text(right))
        }
        ExprKind::Arithmetic { op, left, right } => format!(
            "{}({}, {})",
            op.clickhouse_function(),
            hogql_text(left),
            hogql_text(right)
        ),
        ExprKind::And(items) => format!("and({})", list(items)),
        ExprKind::Or(items) => format!("or({})", list(items)),
        ExprKind::Not(inner) => format!("not({})", hogql_text(inner)),
        ExprKind::Alias { alias, expr, .. } => format!("{} AS {alias}", hogql_text(expr)),
        ExprKind::Array(items) => format!("[{}]", list(items)),
        ExprKind::Tuple(items) => format!("tuple({})", list(items)),
        ExprKind::Lambda { args, expr } => {
            let head = if args.len() == 1 {
                args[0].clone()
            } else {
                format!("({})", args.join(", "))
            };
            format!("{head} -> {}", hogql_text(expr))
        }
        ExprKind::ArrayAccess {
            array, property, ..
        } => format!("{}[{}]", hogql_text(array), hogql_text(property)),
        ExprKind::TupleAccess { tuple, index, .. } => format!("{}.{index}", hogql_text(tuple)),
        _ => "…".into(),
    }
}
