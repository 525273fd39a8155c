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
    /// The input re-printed as HogQL by the parser's printer (over-parenthesised, not PostHog's
    /// canonical `response.hogql`); `None` when compiling an already lowered query.
    pub hogql: Option<String>,
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

/// Generous stack per nesting level for the parser's printer (unoptimised builds).
const PRINT_BYTES_PER_LEVEL: usize = 16 * 1024;

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
    if src.trim().is_empty() {
        return Err(CompileError::new(
            Error::Query {
                message: "Empty query".into(),
            },
            None,
        ));
    }
    let node = hogql_parser::parse_select(src).map_err(|e| {
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
    let depth = lower::tree_depth(&node);
    let query = lower::query_of_depth(&node, depth)?;
    let mut compiled = compile_query(&query, ctx)?;
    // The parser's printer recurses without growth points of its own: reserve enough for the
    // (already capped) depth up front.
    let reserve = RED_ZONE + depth * PRINT_BYTES_PER_LEVEL;
    compiled.hogql = Some(stacker::maybe_grow(
        reserve,
        reserve.max(STACK_SEGMENT),
        || hogql_parser::printer::print(&node),
    ));
    Ok(compiled)
}

/// Print an already lowered query.
pub fn compile_query(query: &Query, ctx: &mut Context) -> Result<Compiled, CompileError> {
    ctx.check().map_err(|e| CompileError::new(e, None))?;
    // The schema for the mode is built once and shared; only a team's materialized columns
    // make a per-query copy (of the columns: the tables stay shared).
    let shared = Database::posthog_default_for(ctx.poe_mode());
    let with_columns;
    let db = if ctx.materialized.is_empty()
        || ctx.modifiers.materialization_mode == Some(crate::context::MaterializationMode::Disabled)
    {
        shared
    } else {
        with_columns = shared.clone().with_materialized(ctx.materialized.clone());
        &with_columns
    };
    let clickhouse = grow(|| Printer::new(ctx, db).print_top(query))?;
    Ok(Compiled {
        clickhouse,
        values: ctx.values.clone(),
        hogql: None,
    })
}
