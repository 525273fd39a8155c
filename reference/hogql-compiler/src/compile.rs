//! The `compile()` entry point: HogQL text → ClickHouse SQL plus its parameter values.

use std::fmt;

use crate::context::{Context, ParamValue};
use crate::ir::{Query, Span};
use crate::print::Printer;
use crate::schema::Database;
use crate::{Error, lower};

/// A compilation error: the crate's [`Error`] plus where in the HogQL text it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// What went wrong (its `code()` is the stable identifier).
    pub error: Error,
    /// Byte span into the HogQL text, when the failing node has one.
    pub span: Option<Span>,
}

impl CompileError {
    /// An error at `span`.
    pub fn new(error: Error, span: Option<Span>) -> Self {
        CompileError { error, span }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.error.code()
    }

    /// The span as `(start, end)` character offsets into `src` (PostHog counts characters).
    pub fn char_offsets(&self, src: &str) -> Option<(usize, usize)> {
        let span = self.span?;
        let index = hogql_parser::LineIndex::new(src);
        let clamp = |b: u32| (b as usize).min(src.len());
        Some((
            index.char_offset(clamp(span.start)),
            index.char_offset(clamp(span.end)),
        ))
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for CompileError {}

/// The result of compiling one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// The ClickHouse SQL, with `%(hogql_val_N)s` placeholders.
    pub clickhouse: String,
    /// The placeholder values, in order.
    pub values: Vec<(String, ParamValue)>,
    /// The query in PostHog's HogQL dialect, pretty-printed as PostHog's query answer carries it
    /// ([`print_hogql`](crate::print_hogql::print_hogql)); `None` when compiling an already
    /// lowered query.
    pub hogql: Option<String>,
    /// Units of compile work spent (see [`Printer::work`]); bounded by the context's
    /// [`Limits::max_work`](crate::context::Limits).
    pub work: u64,
}

/// Stack growth for the compiler's recursion. Lowering, printing and their helpers recurse once
/// per nesting level (at most [`lower::MAX_DEPTH`]), and unoptimised builds use tens of
/// kilobytes per level, far more than a default 2 MiB thread (test threads, server workers)
/// offers. Every recursive cycle passes through [`grow`], which switches to a fresh heap
/// segment when less than `RED_ZONE` is left, so deep inputs compile on any caller thread
/// without a helper thread per query (shallow queries never allocate a segment).
const RED_ZONE: usize = 512 * 1024;
/// Size of each stack segment [`grow`] allocates (only touched pages are committed).
const STACK_SEGMENT: usize = 8 * 1024 * 1024;

/// Run `f`, on a new stack segment if the current one has less than `RED_ZONE` left. Placed at
/// the top of every recursive function of the compiler.
#[inline]
pub(crate) fn grow<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, f)
}

/// Parse `src` as a HogQL SELECT and print it as ClickHouse SQL for `ctx`'s team.
///
/// `ctx.values` is appended to; the returned [`Compiled::values`] is the full map. Runs on the
/// caller's thread; the recursion grows its stack on demand (see [`grow`]), so deep but valid
/// queries compile the same on any thread. A compiler bug that panics comes back as an
/// `internal compiler error` instead of unwinding into the caller.
pub fn compile(src: &str, ctx: &mut Context) -> Result<Compiled, CompileError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| compile_here(src, ctx)))
        .unwrap_or_else(|_| {
            Err(CompileError::new(
                Error::Query {
                    message: "internal compiler error".into(),
                },
                None,
            ))
        })
}

/// [`compile`] without catching panics (tests use it to see a panic as a panic).
pub fn compile_here(src: &str, ctx: &mut Context) -> Result<Compiled, CompileError> {
    compile_timed(src, ctx, &[]).map(|(compiled, _)| compiled)
}

/// A value for a `{name}` placeholder of the HogQL text (the query API's `values`).
#[derive(Debug, Clone, PartialEq)]
pub enum PlaceholderValue {
    /// `NULL`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer constant.
    Int(i64),
    /// A float constant.
    Float(f64),
    /// A string constant (sent through the values map like any string).
    Str(String),
    /// An array literal of the items.
    Array(Vec<PlaceholderValue>),
    /// A value of a kind HogQL has no constant for (a JSON object): an
    /// `invalid_placeholder_value` error at the placeholder.
    Unsupported,
}

/// [`compile_bound`]'s result: the SQL, bound and not, and what each step took.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The ClickHouse SQL with `%(hogql_val_N)s` placeholders.
    pub clickhouse: String,
    /// The same SQL with the values bound as literals (one self-contained statement).
    pub sql: String,
    /// The values map.
    pub values: Vec<(String, ParamValue)>,
    /// The query (after substitution) in PostHog's HogQL dialect, pretty-printed.
    pub hogql: Option<String>,
    /// `(step, duration)` for `parse` (with substitution), `compile` and `bind`.
    pub timings: Vec<(&'static str, std::time::Duration)>,
    /// Units of compile work (see [`Compiled::work`]).
    pub work: u64,
}

/// The one entry point from HogQL text to a ClickHouse statement, shared by the query API and
/// the CLI: parse, replace `{name}` placeholders by `placeholders`' values, check the limits
/// ([`Limits`](crate::context::Limits), nesting), lower, print for `ctx`'s team, bind the
/// values. Runs on the caller's thread without recursion that is not bounded or grown on demand;
/// a compiler bug comes back as an `internal compiler error`.
pub fn compile_bound(
    src: &str,
    ctx: &mut Context,
    placeholders: &[(String, PlaceholderValue)],
) -> Result<Bound, CompileError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let (compiled, mut timings) = compile_timed(src, ctx, placeholders)?;
        let started = std::time::Instant::now();
        let sql = crate::bind_values(&compiled.clickhouse, &compiled.values)
            .map_err(|e| CompileError::new(e, None))?;
        timings.push(("bind", started.elapsed()));
        Ok(Bound {
            clickhouse: compiled.clickhouse,
            sql,
            values: compiled.values,
            hogql: compiled.hogql,
            timings,
            work: compiled.work,
        })
    }))
    .unwrap_or_else(|_| {
        Err(CompileError::new(
            Error::Query {
                message: "internal compiler error".into(),
            },
            None,
        ))
    })
}

type Timings = Vec<(&'static str, std::time::Duration)>;

fn compile_timed(
    src: &str,
    ctx: &mut Context,
    placeholders: &[(String, PlaceholderValue)],
) -> Result<(Compiled, Timings), CompileError> {
    if src.trim().is_empty() {
        return Err(CompileError::new(
            Error::Query {
                message: "Empty query".into(),
            },
            None,
        ));
    }
    let started = std::time::Instant::now();
    let mut node = hogql_parser::parse_select(src).map_err(|e| {
        let (start, end) = e.offsets();
        // The parser reports character offsets; convert back to bytes for the span.
        let byte = |c: usize| src.char_indices().nth(c).map_or(src.len(), |(b, _)| b) as u32;
        CompileError::new(
            Error::Syntax {
                message: e.message().to_owned(),
            },
            Some(Span {
                start: byte(start),
                end: byte(end),
            }),
        )
    })?;
    if !placeholders.is_empty() {
        substitute(&mut node, placeholders)?;
    }
    let mut timings = vec![("parse", started.elapsed())];
    let started = std::time::Instant::now();
    check_size(&node, ctx)?;
    let depth = lower::tree_depth(&node);
    let query = lower::query_of_depth(&node, depth)?;
    let mut compiled = compile_query(&query, ctx)?;
    // PostHog's answer carries the query in its HogQL dialect, pretty-printed by default.
    compiled.hogql = Some(crate::print_hogql::print_hogql(&query, ctx, true)?);
    timings.push(("compile", started.elapsed()));
    Ok((compiled, timings))
}

/// `src` in PostHog's HogQL dialect (`print_ast(..., dialect="hogql")`), compact or pretty.
/// Like PostHog preparing a tree for the hogql dialect only, the ClickHouse-only checks (lazy
/// tables, function targets, the team guard) are not made.
pub fn print_hogql_dialect(src: &str, ctx: &Context, pretty: bool) -> Result<String, CompileError> {
    let node = hogql_parser::parse_select(src).map_err(|e| {
        CompileError::new(
            Error::Syntax {
                message: e.message().to_owned(),
            },
            None,
        )
    })?;
    let query = lower::query_of_depth(&node, lower::tree_depth(&node))?;
    grow(|| crate::print_hogql::print_hogql(&query, ctx, pretty))
}

/// Replaces every `{name}` placeholder whose name has a value by that value as a constant (an
/// array literal for an array), walking the tree with an explicit stack (any depth, linear
/// work). Placeholders without a value stay for the printer, which rejects them with their
/// position.
fn substitute(
    root: &mut hogql_parser::Node,
    placeholders: &[(String, PlaceholderValue)],
) -> Result<(), CompileError> {
    use hogql_parser::{Node, Value};
    let by_name: std::collections::HashMap<&str, &PlaceholderValue> = placeholders
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .rev()
        .collect();
    let mut todo: Vec<&mut Node> = vec![root];
    while let Some(node) = todo.pop() {
        if node.kind == "Placeholder"
            && let Some(name) = placeholder_name(node)
            && let Some(value) = by_name.get(name.as_str())
        {
            let span = node.span;
            *node = constant(value, span)
                .ok_or_else(|| CompileError::new(Error::InvalidPlaceholderValue { name }, span))?;
            continue;
        }
        let mut values: Vec<&mut Value> = node.fields.iter_mut().map(|(_, v)| v).collect();
        while let Some(value) = values.pop() {
            match value {
                Value::Node(child) => todo.push(child),
                Value::List(items) => values.extend(items.iter_mut()),
                Value::Map(entries) => values.extend(entries.iter_mut().map(|(_, v)| v)),
                _ => {}
            }
        }
    }
    Ok(())
}

/// `name` of `{name}`: a placeholder whose expression is a one-part field.
fn placeholder_name(node: &hogql_parser::Node) -> Option<String> {
    let expr = node.node("expr")?;
    if expr.kind != "Field" {
        return None;
    }
    match expr.list("chain") {
        [hogql_parser::Value::Str(name)] => Some(name.clone()),
        _ => None,
    }
}

/// The constant node for a value (an array literal for an array, nested without recursion
/// beyond the value's own nesting, which the caller's JSON parser already bounded).
fn constant(
    value: &PlaceholderValue,
    span: Option<hogql_parser::Span>,
) -> Option<hogql_parser::Node> {
    use hogql_parser::{Node, Value};
    let literal = |v: Value| Some(Node::new("Constant", span).with("value", v));
    match value {
        PlaceholderValue::Null => literal(Value::Null),
        PlaceholderValue::Bool(b) => literal(Value::Bool(*b)),
        PlaceholderValue::Int(i) => literal(Value::Int(*i)),
        PlaceholderValue::Float(f) => literal(Value::Float(*f)),
        PlaceholderValue::Str(s) => literal(Value::Str(s.clone())),
        PlaceholderValue::Array(items) => {
            let exprs = items
                .iter()
                .map(|v| grow(|| constant(v, span)))
                .collect::<Option<Vec<_>>>()?;
            Some(Node::new("Array", span).with("exprs", Value::nodes(exprs)))
        }
        PlaceholderValue::Unsupported => None,
    }
}

/// Print an already lowered query.
pub fn compile_query(query: &Query, ctx: &mut Context) -> Result<Compiled, CompileError> {
    ctx.check().map_err(|e| CompileError::new(e, None))?;
    // The schema for the mode is built once and shared; only a team's materialized columns
    // make a per-query copy (of the columns: the tables stay shared).
    let shared = Database::posthog_default_for(ctx.poe_mode(), ctx.sessions_schema());
    let with_columns;
    let db = if ctx.materialized.is_empty()
        || ctx.modifiers.materialization_mode == Some(crate::context::MaterializationMode::Disabled)
    {
        shared
    } else {
        with_columns = shared.clone().with_materialized(ctx.materialized.clone());
        &with_columns
    };
    let (clickhouse, work) = grow(|| {
        let mut printer = Printer::new(ctx, db);
        let sql = printer.print_top(query);
        sql.map(|sql| (sql, printer.work()))
    })?;
    Ok(Compiled {
        clickhouse,
        values: ctx.values.clone(),
        hogql: None,
        work,
    })
}

/// The AST size limit ([`Limits::max_ast_nodes`](crate::context::Limits)), counted without
/// recursion.
fn check_size(node: &hogql_parser::Node, ctx: &Context) -> Result<(), CompileError> {
    let nodes = node.size();
    let limit = ctx.limits.max_ast_nodes;
    if nodes > limit {
        return Err(CompileError::new(
            Error::QueryTooLarge { nodes, limit },
            node.span,
        ));
    }
    Ok(())
}
