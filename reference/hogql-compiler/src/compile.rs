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

/// Stack for the compiling thread. Lowering and printing recurse once per nesting level (at most
/// [`lower::MAX_DEPTH`]), and unoptimised builds use tens of kilobytes per level, far more than
/// a default 2 MiB thread (test threads, server workers) offers. Only touched pages are committed.
const COMPILE_STACK_BYTES: usize = 256 << 20;

/// Parse `src` as a HogQL SELECT and print it as ClickHouse SQL for `ctx`'s team.
///
/// `ctx.values` is appended to; the returned [`Compiled::values`] is the full map. The work runs
/// on a scoped helper thread with a large stack (see `COMPILE_STACK_BYTES`), so deep but valid
/// queries compile the same on any caller thread.
pub fn compile(src: &str, ctx: &mut Context) -> Result<Compiled, CompileError> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name("hogql-compile".into())
            .stack_size(COMPILE_STACK_BYTES)
            .spawn_scoped(scope, || compile_here(src, ctx));
        match worker {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                Err(CompileError::new(
                    Error::Query {
                        message: "internal compiler error".into(),
                    },
                    None,
                ))
            }),
            Err(err) => Err(CompileError::new(
                Error::Query {
                    message: format!("could not start the compiler thread: {err}"),
                },
                None,
            )),
        }
    })
}

/// [`compile`] on the caller's thread (the caller provides the stack).
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
    let query = lower::query(&node)?;
    let mut compiled = compile_query(&query, ctx)?;
    compiled.hogql = Some(hogql_parser::printer::print(&node));
    Ok(compiled)
}

/// Print an already lowered query.
pub fn compile_query(query: &Query, ctx: &mut Context) -> Result<Compiled, CompileError> {
    let db = Database::posthog_default()
        .with_persons_on_events_mode(ctx.poe_mode())
        .with_materialized(ctx.materialized.clone());
    let clickhouse = Printer::new(ctx, &db).print_top(query)?;
    Ok(Compiled {
        clickhouse,
        values: ctx.values.clone(),
        hogql: None,
    })
}
