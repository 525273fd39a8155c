//! HogQL front end: lexer, parser and AST for the HogQL SELECT language and Hog programs.
//!
//! This crate is a pure core: it does no I/O and knows nothing of ClickHouse, Kafka or HTTP.
//! The AST mirrors the JSON that PostHog's parsers (`hogql_parser`, `hogql-parser-rs`) emit, so
//! [`parse_json`] output can be diffed directly against those oracles.

pub mod ast;
mod json;
pub mod kinds;
mod lexer;
mod parser;
pub mod printer;
mod program_print;

pub use ast::{Node, Span, Value};
pub use json::to_json_string;
pub use kinds::{NODE_KINDS, NodeKind, node_kind};
pub use program_print::print_program;

/// The grammar entry points, as PostHog's parsers name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryPoint {
    /// A single column expression (`parse_expr`).
    Expr,
    /// A whole SELECT (`parse_select`): a select statement, a set of them, or a HogQLX tag.
    Select,
    /// One ORDER BY element (`parse_order_expr`).
    OrderExpr,
    /// A Hog program (`parse_program`): declarations and statements.
    Program,
}

/// Everything that can go wrong while parsing. Offsets are in characters (as PostHog counts them)
/// once returned from the public API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input is not valid HogQL.
    #[error("{message}")]
    Syntax {
        /// Human-readable description, lowercase.
        message: String,
        /// Character offset where the problem starts.
        start: usize,
        /// Character offset where the problem ends.
        end: usize,
        /// What the parser expected at `start`, when known.
        expected: Vec<&'static str>,
    },
    /// Valid syntax that PostHog's parsers deliberately reject (e.g. `SETTINGS`, `DATE 'x'`).
    #[error("{message}")]
    NotImplemented {
        /// Human-readable description.
        message: String,
        /// Character offset where the construct starts.
        start: usize,
        /// Character offset where the construct ends.
        end: usize,
    },
}

/// A parse error (alias kept for readability at call sites).
pub type ParseError = Error;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// PostHog's error type name: `SyntaxError` or `NotImplementedError`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Error::Syntax { .. } => "SyntaxError",
            Error::NotImplemented { .. } => "NotImplementedError",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Error::Syntax { message, .. } | Error::NotImplemented { message, .. } => message,
        }
    }

    /// `(start, end)` character offsets.
    pub fn offsets(&self) -> (usize, usize) {
        match self {
            Error::Syntax { start, end, .. } | Error::NotImplemented { start, end, .. } => {
                (*start, *end)
            }
        }
    }

    fn map_offsets(self, f: impl Fn(usize) -> usize) -> Self {
        match self {
            Error::Syntax {
                message,
                start,
                end,
                expected,
            } => Error::Syntax {
                message,
                start: f(start),
                end: f(end),
                expected,
            },
            Error::NotImplemented {
                message,
                start,
                end,
            } => Error::NotImplemented {
                message,
                start: f(start),
                end: f(end),
            },
        }
    }
}

/// Byte → (char offset, line, column) conversion for one source text.
#[derive(Debug)]
pub struct LineIndex {
    /// Char offset of each byte, only for non-ASCII sources.
    chars: Option<Vec<u32>>,
    /// Byte offsets where lines start.
    line_starts: Vec<u32>,
}

impl LineIndex {
    /// Indexes `src`.
    pub fn new(src: &str) -> Self {
        let chars = if src.is_ascii() {
            None
        } else {
            let mut v = vec![0u32; src.len() + 1];
            let mut n = 0u32;
            for (i, c) in src.char_indices() {
                for k in 0..c.len_utf8() {
                    v[i + k] = n;
                }
                n += 1;
            }
            v[src.len()] = n;
            Some(v)
        };
        let mut line_starts = vec![0u32];
        line_starts.extend(
            src.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i as u32 + 1),
        );
        LineIndex { chars, line_starts }
    }

    /// Character offset of byte offset `b`.
    pub fn char_offset(&self, b: usize) -> usize {
        match &self.chars {
            None => b,
            Some(v) => v
                .get(b)
                .copied()
                .unwrap_or_else(|| v.last().copied().unwrap_or(0)) as usize,
        }
    }

    /// `(line (1-based), column (0-based, chars), offset (chars))` of byte offset `b`.
    pub fn position(&self, b: usize) -> (usize, usize, usize) {
        let line = self.line_starts.partition_point(|&s| s as usize <= b);
        let ls = self.line_starts[line.saturating_sub(1)] as usize;
        let off = self.char_offset(b);
        (line, off - self.char_offset(ls), off)
    }
}

fn run(src: &str, entry: EntryPoint) -> Result<Node> {
    let mut p = parser::Parser::new(src)?;
    run_with(&mut p, entry)
}

/// How much work parsing `src` from `entry` takes, in deterministic units (tokens lexed plus AST
/// nodes copied while backtracking), whether or not it parses. Parsing is linear: this grows in
/// proportion to the input, by at most a factor bounded by the nesting limit on hostile input. The
/// tests check that growth on adversarial families instead of timing them.
pub fn parse_cost(entry: EntryPoint, src: &str) -> u64 {
    match parser::Parser::new(src) {
        Ok(mut p) => {
            let _ = run_with(&mut p, entry);
            p.work()
        }
        Err(_) => 1,
    }
}

fn run_with(p: &mut parser::Parser<'_>, entry: EntryPoint) -> Result<Node> {
    let node = match entry {
        EntryPoint::Expr => {
            let n = p.expr()?;
            p.expect_eof()?;
            n
        }
        EntryPoint::Select => {
            let n = p.select_entry()?;
            p.expect_eof()?;
            n
        }
        // PostHog's orderExpr rule ignores trailing input
        EntryPoint::OrderExpr => {
            let n = p.order_expr()?;
            p.check_trailing_chars()?;
            n
        }
        EntryPoint::Program => {
            let n = p.program()?;
            p.expect_eof()?;
            n
        }
    };
    Ok(node)
}

/// Parses with `entry`; the AST keeps byte spans, errors carry character offsets.
pub fn parse(entry: EntryPoint, src: &str) -> Result<Node> {
    run(src, entry).map_err(|e| {
        let idx = LineIndex::new(src);
        e.map_offsets(|b| idx.char_offset(b.min(src.len())))
    })
}

/// Parses a whole SELECT (or set of selects, or a HogQLX tag).
pub fn parse_select(src: &str) -> Result<Node> {
    parse(EntryPoint::Select, src)
}

/// Parses one expression.
pub fn parse_expr(src: &str) -> Result<Node> {
    parse(EntryPoint::Expr, src)
}

/// Parses one ORDER BY element.
pub fn parse_order_expr(src: &str) -> Result<Node> {
    parse(EntryPoint::OrderExpr, src)
}

/// Parses a Hog program.
pub fn parse_program(src: &str) -> Result<Node> {
    parse(EntryPoint::Program, src)
}

/// Parses `src` from `entry` and returns PostHog's JSON text: the AST or the error envelope.
pub fn parse_json_string(entry: EntryPoint, src: &str, with_positions: bool) -> String {
    try_parse_json_string(entry, src, with_positions).unwrap_or_else(|e| e)
}

/// Like [`parse_json_string`], but says which it is: `Ok(ast JSON)` or `Err(error envelope JSON)`.
pub fn try_parse_json_string(
    entry: EntryPoint,
    src: &str,
    with_positions: bool,
) -> Result<String, String> {
    match run(src, entry) {
        Ok(node) => {
            let idx = with_positions.then(|| LineIndex::new(src));
            Ok(to_json_string(&node, idx.as_ref()))
        }
        Err(e) => Err(json::error_json(&e, &LineIndex::new(src))),
    }
}

/// Parses `src` from `entry` and returns PostHog's JSON shape: the AST (every node with a `node` name) or,
/// on failure, the error envelope `{"error": true, "type": ..., "message": ..., "start": ..., "end": ...}`.
/// With `with_positions`, nodes carry `start`/`end` as `{line, column, offset}` (offsets in characters).
pub fn parse_json(entry: EntryPoint, src: &str, with_positions: bool) -> serde_json::Value {
    let s = parse_json_string(entry, src, with_positions);
    serde_json::from_str(&s).unwrap_or_else(
        |e| serde_json::json!({"error": true, "type": "InternalError", "message": e.to_string()}),
    )
}
