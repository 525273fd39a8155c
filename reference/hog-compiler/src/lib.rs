//! Hog compiler: Hog programs, and HogQL expressions used as filters, to PostHog's HogVM bytecode.
//!
//! The output is the JSON array PostHog's VMs run: the header `"_H", 1`, then operations and their
//! operands ([`op::Op`]). The compiler follows PostHog's own (`posthog/hogql/compiler/bytecode.py`)
//! operation for operation: locals live on the stack and are popped (or, when a closure captured
//! them, closed) at the end of their scope; functions and lambdas are `CALLABLE` + `CLOSURE` with
//! their upvalues; calls to names that are neither locals nor upvalues go to the STL
//! (`CALL_GLOBAL`); fields that are not locals are `GET_GLOBAL` chains.
//!
//! Pure: no I/O. Every problem found is returned, each with a stable code and a character span.

pub mod op;
pub mod stl;

mod compiler;

use hogql_parser::{LineIndex, Node};
use serde_json::Value;

pub use op::Op;

/// One compile problem: a stable code, a message (PostHog's wording where it has one) and the
/// character offsets of the node it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. `unknown-function`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Character offset where the node starts.
    pub start: usize,
    /// Character offset where the node ends.
    pub end: usize,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] at {}..{}",
            self.message, self.code, self.start, self.end
        )
    }
}

/// Everything that can go wrong while compiling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The source does not parse.
    #[error("syntax error: {0}")]
    Parse(#[from] hogql_parser::Error),
    /// The program parses but does not compile; every problem found.
    #[error("{}", render(.0))]
    Compile(Vec<Diagnostic>),
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The diagnostics of a compile error (empty for a parse error).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Compile(d) => d,
            Error::Parse(_) => &[],
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Compile options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Functions the host provides besides the STL (PostHog's `supported_functions`), so calls to
    /// them are not "not implemented" errors.
    pub functions: Vec<String>,
}

/// Compiles a Hog program to bytecode (with the `["_H", 1]` header).
pub fn compile_program(src: &str, options: &Options) -> Result<Vec<Value>> {
    let program = hogql_parser::parse_program(src)?;
    compile_node(&program, src, options)
}

/// Compiles a HogQL expression (a filter such as `event = '$pageview' and properties.x > 1`) to
/// bytecode, as PostHog does for `filters`: fields that are not locals become `GET_GLOBAL` chains.
pub fn compile_expr(src: &str, options: &Options) -> Result<Vec<Value>> {
    let expr = hogql_parser::parse_expr(src)?;
    compile_node(&expr, src, options)
}

/// Compiles an already parsed program or expression; `src` is its source (for positions).
pub fn compile_node(node: &Node, src: &str, options: &Options) -> Result<Vec<Value>> {
    let index = LineIndex::new(src);
    let mut c = compiler::Compiler::new(options, &index);
    let body = c.compile_root(node);
    let diags = c.finish();
    if !diags.is_empty() {
        return Err(Error::Compile(diags));
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(Value::from(op::BYTECODE_IDENTIFIER));
    out.push(Value::from(op::BYTECODE_VERSION));
    out.extend(body);
    Ok(out)
}

/// The bytecode as compact JSON text, one array.
pub fn to_json(bytecode: &[Value]) -> String {
    serde_json::to_string(bytecode).unwrap_or_else(|_| "[]".to_string())
}
