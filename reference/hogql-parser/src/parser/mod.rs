//! Pratt/recursive-descent parser producing PostHog-shaped nodes, with PostHog's desugarings.
//!
//! One [`Parser`] type, its methods split by grammar area:
//! - this file: the parser's state, the token cursor, errors, the nesting limit, identifiers, the
//!   keyword tables, [`Parser::comma_list`] (every comma-separated list) and small node builders;
//! - `expr.rs`: the expression entry point (with its memo for speculative parses), the Pratt loop,
//!   postfix access (`a[i]`, `a.1`, `a::T`, `f(x)(y)`) and the infix operators;
//! - `primary.rs`: operands: parentheses, tuples and subqueries, arrays, dicts and placeholders,
//!   lambdas, `*` with EXCLUDE/REPLACE, and words (keywords that start a special form);
//! - `lookahead.rs`: questions answered by lexing ahead without consuming (what follows a group
//!   of parentheses, is this a lambda, can this token start an operand);
//! - `calls.rs`: function calls with their OVER/FILTER/WITHIN GROUP suffixes, window specs,
//!   type names (`CAST`), and `CASE`;
//! - `literals.rs`: numbers and `INTERVAL`;
//! - `templates.rs`: f-strings and HogQLX tags (their insides are read as raw text);
//! - `select.rs`: ORDER BY elements, select sets and set operators, the select statement and its
//!   clauses (columns, CTEs, ARRAY JOIN, GROUP BY, WINDOW, LIMIT/OFFSET);
//! - `joins.rs`: FROM: join chains, join operators and constraints, table expressions, SAMPLE;
//! - `program.rs`: Hog programs (statements on top of the expression grammar).

use crate::Error;
use crate::ast::{Node, Span, Value};
use crate::lexer::{Tok, Token, is_ident_char, lex_at, skip_trivia, unescape};

mod calls;
mod expr;
mod joins;
mod literals;
mod lookahead;
mod primary;
mod program;
mod select;
mod templates;

/// Maximum nesting of expressions/subqueries before a clean error (PostHog's parsers stop at 1000).
pub(crate) const MAX_DEPTH: u32 = 1000;

/// Copies a remembered result; deep trees are copied on stack segments grown on demand, like
/// the parser's own recursion.
fn clone_result(r: &PResult<Node>) -> PResult<Node> {
    match r {
        Ok(n) => Ok(crate::ast::deep_clone(n)),
        Err(e) => Err(e.clone()),
    }
}

fn memo_size(r: &PResult<Node>) -> usize {
    r.as_ref().map_or(1, Node::size)
}

/// Deep nesting runs on stack segments grown on demand (`stacker`), so the depth limit is the same
/// in debug and release builds and on small thread stacks.
const RED_ZONE: usize = 256 * 1024;
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

type PResult<T> = Result<T, Error>;

/// Words that are never identifiers.
const RESERVED: &[&str] = &[
    "fn",
    "fun",
    "let",
    "while",
    "materialized",
    "intersect",
    "except",
    "within",
    "try",
    "catch",
    "finally",
    "throw",
];

/// Keywords (ANTLR keyword tokens). A keyword cannot be an implicit alias unless listed in an
/// allow list below.
const KEYWORDS: &[&str] = &[
    "all",
    "and",
    "anti",
    "any",
    "array",
    "as",
    "asc",
    "ascending",
    "asof",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "cohort",
    "collate",
    "cross",
    "cube",
    "current",
    "date",
    "day",
    "desc",
    "descending",
    "distinct",
    "else",
    "end",
    "extract",
    "final",
    "first",
    "following",
    "for",
    "from",
    "full",
    "group",
    "having",
    "hour",
    "id",
    "if",
    "ilike",
    "in",
    "inf",
    "infinity",
    "inner",
    "interval",
    "is",
    "join",
    "key",
    "last",
    "leading",
    "left",
    "like",
    "limit",
    "minute",
    "month",
    "nan",
    "not",
    "null",
    "nulls",
    "offset",
    "on",
    "or",
    "order",
    "outer",
    "over",
    "partition",
    "preceding",
    "prewhere",
    "quarter",
    "range",
    "return",
    "right",
    "rollup",
    "row",
    "rows",
    "sample",
    "second",
    "select",
    "semi",
    "settings",
    "substring",
    "then",
    "ties",
    "timestamp",
    "to",
    "top",
    "totals",
    "trailing",
    "trim",
    "truncate",
    "unbounded",
    "union",
    "using",
    "week",
    "when",
    "where",
    "window",
    "with",
    "year",
    "recursive",
    "qualify",
    "grouping",
    "sets",
    "exclude",
    "replace",
    "columns",
    "fill",
    "step",
    "interpolate",
    "natural",
    "positional",
    "pivot",
    "unpivot",
    "filter",
    "ignore",
    "lambda",
    "try_cast",
    "values",
    "name",
    "true",
    "false",
    "respect",
];

/// Keywords that may still be an implicit column alias (`select x date`).
const COLUMN_ALIAS_OK: &[&str] = &[
    "asc",
    "ascending",
    "cohort",
    "date",
    "descending",
    "final",
    "id",
    "return",
    "top",
    "totals",
    "respect",
];

/// Keywords that may still be an implicit table alias (`from t date`).
const TABLE_ALIAS_OK: &[&str] = &["date", "first", "id", "key", "respect"];

/// Is `w` a HogQL keyword (or a word that can never be an identifier)? The printer quotes these.
pub(crate) fn is_keyword(w: &str) -> bool {
    in_list(KEYWORDS, w) || in_list(RESERVED, w)
}

fn in_list(list: &[&str], w: &str) -> bool {
    list.iter().any(|k| k.eq_ignore_ascii_case(w))
}

fn sp(start: u32, end: u32) -> Option<Span> {
    Some(Span { start, end })
}

fn constant(v: Value, span: Option<Span>) -> Node {
    Node::new("Constant", span).with("value", v)
}

fn call(name: &str, args: Vec<Node>, span: Option<Span>) -> Node {
    Node::new("Call", span)
        .with("args", Value::nodes(args))
        .with("name", Value::Str(name.into()))
}

fn field(chain: Vec<Value>, span: Option<Span>) -> Node {
    Node::new("Field", span).with("chain", Value::List(chain))
}

/// A `concat(...)` call, which `||` chains extend.
fn is_concat(n: &Node) -> bool {
    n.kind == "Call" && n.str("name") == Some("concat")
}

fn is_field(n: &Node) -> bool {
    n.kind == "Field"
}

pub(crate) struct Parser<'a> {
    src: &'a str,
    tok: Token,
    /// End of the last consumed token.
    last_end: u32,
    depth: u32,
    /// Inside `CAST(expr AS type)`: `AS` ends the expression instead of making an alias.
    no_alias: bool,
    /// Identifier runs before this offset are known not to be `a, b -> ...` lambdas.
    no_lambda_until: u32,
    /// Cache for [`Parser::after_paren_run`]: (start of the run, first token after it).
    paren_run: Option<(u32, Token)>,
    /// Offsets of `(select ...` subqueries that failed to parse and were read as expressions
    /// instead; remembered so nested failures are not retried (which would be exponential).
    failed_subqueries: std::collections::HashSet<u32>,
    /// How many attempts that may be rolled back (a CASE, an INTERVAL, a `(select` subquery, a CTE)
    /// are under way.
    speculating: u32,
    /// The nesting limit was hit: the parse has failed, whatever attempt it was in.
    too_deep: bool,
    /// How many such attempts were started so far.
    attempts: u64,
    /// Results of `expr()` computed while speculating, by start token, so that the fallback parse
    /// after a failed attempt reuses them: without this, nested attempts such as `case(case(case(`
    /// re-parse their inside once per level, which is exponential.
    expr_memo: std::collections::HashMap<(u32, Tok), Memo>,
    /// Units of work done so far: tokens lexed plus nodes copied in or out of `expr_memo`. A
    /// deterministic measure of parsing cost, so tests can check that it grows linearly.
    work: std::cell::Cell<u64>,
    /// Cache for [`Parser::after_paren_group`]: `(` offset → first token after its matching `)`,
    /// or `None` when that cannot be told by plain lexing.
    paren_groups: std::collections::HashMap<u32, Option<Token>>,
}

/// How a comma-separated list ends. Every list of the grammar is read by [`Parser::comma_list`];
/// what differs between them (a closing token, an empty list, a trailing comma) is said here.
#[derive(Clone, Copy)]
struct List {
    /// The token that closes the list (consumed) and what an error names when it is missing;
    /// `None`: the list ends at the first item without a comma after it, and the caller reads on.
    close: Option<(Tok, &'static str)>,
    /// The closing token may come first: an empty list.
    empty: bool,
    /// What may follow a comma instead of another item.
    trailing: Trailing,
}

/// Where a trailing comma may stand in a [`List`].
#[derive(Clone, Copy)]
enum Trailing {
    /// Nowhere: a comma is always followed by another item.
    No,
    /// Before the list's closing token.
    BeforeClose,
    /// Before a token this accepts; the list ends there and the token is left for the caller.
    When(fn(&Parser<'_>) -> bool),
}

impl List {
    /// `item (, item)*`, ended by the first item without a comma after it.
    const BARE: List = List {
        close: None,
        empty: false,
        trailing: Trailing::No,
    };

    /// `item (, item)* close`; `what` names `close` in the error when it is missing.
    const fn closed(close: Tok, what: &'static str) -> List {
        List {
            close: Some((close, what)),
            empty: false,
            trailing: Trailing::No,
        }
    }

    /// The same list, which may also be empty (`close` right away).
    const fn or_empty(self) -> List {
        List {
            empty: true,
            ..self
        }
    }

    /// The same list, with a trailing comma allowed where `trailing` says.
    const fn trailing(self, trailing: Trailing) -> List {
        List { trailing, ..self }
    }
}

/// One remembered `expr()` result: the outcome, where the parser stood after it, and the nesting
/// depth it was computed at (a result is reused only at the same or a shallower depth, where the
/// depth limit cannot have changed it).
struct Memo {
    result: PResult<Node>,
    tok: Token,
    last_end: u32,
    depth: u32,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str) -> PResult<Self> {
        let mut p = Parser {
            src,
            tok: Token {
                kind: Tok::Eof,
                start: 0,
                end: 0,
            },
            last_end: 0,
            depth: 0,

            no_alias: false,
            no_lambda_until: 0,
            paren_run: None,
            failed_subqueries: std::collections::HashSet::new(),
            speculating: 0,
            too_deep: false,
            attempts: 0,
            expr_memo: std::collections::HashMap::new(),
            work: std::cell::Cell::new(0),
            paren_groups: std::collections::HashMap::new(),
        };
        p.tok = p.lex_from(0)?;
        Ok(p)
    }

    /// Units of work done so far (see the `work` field).
    pub(crate) fn work(&self) -> u64 {
        self.work.get()
    }

    fn add_work(&self, units: usize) {
        self.work.set(self.work.get() + units as u64);
    }

    fn lex_from(&self, pos: usize) -> PResult<Token> {
        self.add_work(1);
        match skip_trivia(self.src, pos) {
            Ok(p) => {
                // bad characters and unterminated literals become tokens that nothing accepts, so
                // the error surfaces where the parser needs them (and not after an order_expr)
                Ok(lex_at(self.src, p))
            }
            Err(p) => Ok(Token {
                kind: Tok::Unterminated,
                start: p as u32,
                end: self.src.len() as u32,
            }),
        }
    }

    fn bump(&mut self) -> PResult<Token> {
        let t = self.tok;
        self.last_end = t.end;
        self.tok = self.lex_from(t.end as usize)?;
        Ok(t)
    }

    /// Rewinds to just before `t` (a token previously seen).
    fn reset(&mut self, t: Token, last_end: u32) {
        self.tok = t;
        self.last_end = last_end;
    }

    fn peek(&self, n: usize) -> Token {
        let mut t = self.tok;
        for _ in 0..n {
            if t.kind == Tok::Eof {
                break;
            }
            t = match self.lex_from(t.end as usize) {
                Ok(x) => x,
                Err(_) => Token {
                    kind: Tok::Unknown,
                    start: t.end,
                    end: t.end,
                },
            };
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        &self.src[t.start as usize..t.end as usize]
    }

    fn is_word(&self, t: Token, w: &str) -> bool {
        t.kind == Tok::Word && self.text(t).eq_ignore_ascii_case(w)
    }

    fn at_kw(&self, w: &str) -> bool {
        self.is_word(self.tok, w)
    }

    fn peek_kw(&self, n: usize, w: &str) -> bool {
        self.is_word(self.peek(n), w)
    }

    fn eat_kw(&mut self, w: &str) -> PResult<bool> {
        if self.at_kw(w) {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn eat(&mut self, k: Tok) -> PResult<bool> {
        if self.tok.kind == k {
            self.bump()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn expect(&mut self, k: Tok, what: &'static str) -> PResult<Token> {
        if self.tok.kind == k {
            self.bump()
        } else {
            Err(self.unexpected(what))
        }
    }

    fn expect_kw(&mut self, w: &'static str) -> PResult<Token> {
        if self.at_kw(w) {
            self.bump()
        } else {
            Err(self.unexpected(w))
        }
    }

    pub(crate) fn err_at(&self, start: u32, end: u32, msg: impl Into<String>) -> Error {
        Error::Syntax {
            message: msg.into(),
            start: start as usize,
            end: end as usize,
            expected: Vec::new(),
        }
    }

    fn not_impl(&self, start: u32, end: u32, msg: impl Into<String>) -> Error {
        Error::NotImplemented {
            message: msg.into(),
            start: start as usize,
            end: end as usize,
        }
    }

    fn unexpected(&self, expected: &'static str) -> Error {
        let t = self.tok;
        let found = if t.kind == Tok::Eof {
            "end of input".to_string()
        } else if t.kind == Tok::Unterminated {
            format!(
                "unterminated '{}'",
                self.text(t).chars().take(12).collect::<String>()
            )
        } else if t.kind == Tok::Unknown {
            format!("character '{}'", self.text(t))
        } else {
            format!("'{}'", self.text(t))
        };
        Error::Syntax {
            message: format!("unexpected {found}, expected {expected}"),
            start: t.start as usize,
            end: t.end.max(t.start) as usize,
            expected: vec![expected],
        }
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            // the limit ends the parse: no fallback retries past it (a retry would hit it
            // again, once per level of nesting)
            self.too_deep = true;
            return Err(self.err_at(self.tok.start, self.tok.end, "expression too deeply nested"));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn span_from(&self, start: u32) -> Option<Span> {
        sp(start, self.last_end)
    }

    /// After an `order_expr`, PostHog ignores trailing tokens but still rejects characters no token
    /// starts with.
    pub(crate) fn check_trailing_chars(&self) -> PResult<()> {
        let mut t = self.tok;
        loop {
            match t.kind {
                Tok::Eof | Tok::Unterminated => return Ok(()),
                Tok::Unknown => {
                    return Err(self.err_at(
                        t.start,
                        t.end,
                        format!("unexpected character '{}'", self.text(t)),
                    ));
                }
                _ => t = self.next_tok(t),
            }
        }
    }

    pub(crate) fn expect_eof(&mut self) -> PResult<()> {
        if self.tok.kind == Tok::Eof {
            Ok(())
        } else {
            let t = self.tok;
            Err(self.err_at(
                t.start,
                t.end,
                format!("unexpected '{}' after the end of the input", self.text(t)),
            ))
        }
    }

    /// Reads a comma-separated list of `item`s that ends as `list` says. A list that starts
    /// with an item its caller has already read passes that item in through `item`'s first call.
    fn comma_list<T>(
        &mut self,
        list: List,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        let mut out = Vec::new();
        if list.empty
            && let Some((close, _)) = list.close
            && self.eat(close)?
        {
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            if !self.eat(Tok::Comma)? {
                break;
            }
            let ends = match list.trailing {
                Trailing::No => false,
                Trailing::BeforeClose => list.close.is_some_and(|(c, _)| self.tok.kind == c),
                Trailing::When(at_end) => at_end(self),
            };
            if ends {
                break;
            }
        }
        if let Some((close, what)) = list.close {
            self.expect(close, what)?;
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- identifiers

    /// Is `t` usable as an identifier?
    fn ident_tok(&self, t: Token) -> bool {
        match t.kind {
            Tok::Word => !in_list(RESERVED, self.text(t)),
            Tok::BacktickIdent | Tok::QuoteIdent => true,
            _ => false,
        }
    }

    fn ident_text(&self, t: Token) -> PResult<String> {
        let s = self.text(t);
        match t.kind {
            Tok::BacktickIdent => {
                unescape(&s[1..s.len() - 1], '`').map_err(|i| self.bad_escape(t, i))
            }
            Tok::QuoteIdent => unescape(&s[1..s.len() - 1], '"').map_err(|i| self.bad_escape(t, i)),
            _ => Ok(s.to_string()),
        }
    }

    fn ident(&mut self) -> PResult<String> {
        if self.ident_tok(self.tok) {
            let t = self.bump()?;
            self.ident_text(t)
        } else {
            Err(self.unexpected("identifier"))
        }
    }

    /// An identifier usable as an explicit alias (`AS name`).
    fn alias_name(&mut self) -> PResult<String> {
        let t = self.tok;
        if t.kind == Tok::Word
            && in_list(
                &["inf", "infinity", "nan", "null", "true", "false"],
                self.text(t),
            )
        {
            return Err(self.unexpected("alias"));
        }
        self.ident()
    }

    fn string_value(&self, t: Token) -> PResult<String> {
        let s = self.text(t);
        unescape(&s[1..s.len() - 1], '\'').map_err(|i| self.bad_escape(t, i))
    }

    fn bad_escape(&self, t: Token, i: usize) -> Error {
        let s = self.text(t);
        let at = t.start + 1 + i as u32;
        let esc: String = s[1 + i..].chars().take(2).collect();
        self.err_at(
            at,
            at + esc.len() as u32,
            format!("unrecognised escape '{esc}'"),
        )
    }
}

/// Byte offset just past an identifier starting at `pos` (used by callers scanning raw text).
#[allow(dead_code)]
pub(crate) fn ident_end(src: &str, pos: usize) -> usize {
    let b = src.as_bytes();
    let mut e = pos;
    while e < b.len() && is_ident_char(b[e]) {
        e += 1;
    }
    e
}
