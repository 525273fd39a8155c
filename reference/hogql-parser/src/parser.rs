//! Pratt/recursive-descent parser producing PostHog-shaped nodes, with PostHog's desugarings.

use crate::Error;
use crate::ast::{Node, Span, Value};
use crate::lexer::{Tok, Token, is_ident_char, lex_at, skip_trivia, unescape};

#[path = "program.rs"]
mod program;

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

    // ---------------------------------------------------------------- expressions

    pub(crate) fn expr(&mut self) -> PResult<Node> {
        if self.no_alias {
            return self.expr_bp(0);
        }
        let key = (self.tok.start, self.tok.kind);
        if !self.expr_memo.is_empty()
            && let Some(m) = self.expr_memo.get(&key)
            && self.depth <= m.depth
        {
            let result = clone_result(&m.result);
            let (tok, last_end) = (m.tok, m.last_end);
            self.add_work(memo_size(&result));
            self.reset(tok, last_end);
            return result;
        }
        let depth = self.depth;
        let attempts_before = self.attempts;
        let result = self.expr_bp(0);
        // only an expression with an attempt inside is worth remembering: re-parsing one without
        // is linear in its length, and copying every expression would cost as much
        let worth_it = self.attempts > attempts_before;
        if self.speculating > 0 && worth_it && !self.too_deep {
            self.add_work(memo_size(&result));
            let memo = Memo {
                result: clone_result(&result),
                tok: self.tok,
                last_end: self.last_end,
                depth,
            };
            self.expr_memo.insert(key, memo);
        }
        result
    }

    /// Runs an attempt that the caller may roll back, remembering the expressions it parses.
    fn speculate<T>(&mut self, attempt: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        self.speculating += 1;
        self.attempts += 1;
        let r = attempt(self);
        self.speculating -= 1;
        if self.speculating == 0 && r.is_ok() {
            // nothing will re-parse what a successful outermost attempt covered
            self.expr_memo.clear();
        }
        r
    }

    fn expr_bp(&mut self, min_bp: u8) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.expr_bp_inner(min_bp));
        self.leave();
        r
    }

    fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Node> {
        let start = self.tok.start;
        let (lhs, merge_chain) = self.prefix()?;
        self.expr_loop(lhs, merge_chain, start, min_bp)
    }

    /// The Pratt loop: postfix and infix operators after an already-parsed `lhs`.
    ///
    /// Each operator that wraps `lhs` in a new node (`a + b`, `a[1]`, `a::Int`, `f(x)(y)`, …)
    /// makes the tree one level deeper without any recursion of the parser, so it counts as a
    /// level of nesting: `1+1+…+1` with more terms than [`MAX_DEPTH`] is "too deeply nested"
    /// like as many parentheses, and every later walk of the tree (JSON, printing, lowering)
    /// stays bounded. `and`, `or` and `||` flatten into one node and do not count.
    fn expr_loop(&mut self, lhs: Node, merge_chain: bool, start: u32, min_bp: u8) -> PResult<Node> {
        let depth = self.depth;
        let r = self.expr_loop_inner(lhs, merge_chain, start, min_bp);
        self.depth = depth;
        r
    }

    fn expr_loop_inner(
        &mut self,
        mut lhs: Node,
        mut merge_chain: bool,
        start: u32,
        min_bp: u8,
    ) -> PResult<Node> {
        let mut wrapped = false;
        loop {
            if wrapped {
                self.enter()?;
                wrapped = false;
            }
            let t = self.tok;
            // postfix operators bind tightest
            match t.kind {
                Tok::LBracket => {
                    self.bump()?;
                    lhs = self.array_access(lhs, start, false)?;
                    merge_chain = false;
                    wrapped = true;
                    continue;
                }
                Tok::NullProp => {
                    self.bump()?;
                    if self.tok.kind == Tok::LBracket {
                        self.bump()?;
                        lhs = self.array_access(lhs, start, true)?;
                    } else if self.tok.kind == Tok::Number {
                        let n = self.bump()?;
                        let idx = self
                            .text(n)
                            .parse::<i64>()
                            .map_err(|_| self.err_at(n.start, n.end, "invalid tuple index"))?;
                        lhs = Node::new("TupleAccess", self.span_from(start))
                            .with("index", Value::Int(idx))
                            .with("nullish", Value::Bool(true))
                            .with("tuple", Value::node(lhs));
                    } else {
                        let name = self.ident()?;
                        let prop = constant(Value::Str(name), None);
                        lhs = Node::new("ArrayAccess", self.span_from(start))
                            .with("array", Value::node(lhs))
                            .with("nullish", Value::Bool(true))
                            .with("property", Value::node(prop));
                    }
                    merge_chain = false;
                    wrapped = true;
                    continue;
                }
                Tok::Dot => {
                    let n = self.peek(1);
                    if n.kind == Tok::Number && n.start == t.end && !self.text(n).starts_with('.') {
                        self.bump()?;
                        lhs = self.tuple_access(lhs, start)?;
                        merge_chain = false;
                        wrapped = true;
                        continue;
                    }
                    if n.kind == Tok::Star && merge_chain {
                        self.bump()?;
                        self.bump()?;
                        if let Some(Value::List(c)) = lhs.get_mut("chain") {
                            c.push(Value::Str("*".into()));
                        }
                        lhs.span = self.span_from(start);
                        continue;
                    }
                    if self.ident_tok(n) {
                        if n.kind == Tok::Word
                            && in_list(&["inf", "infinity", "nan", "null"], self.text(n))
                        {
                            self.bump()?;
                            return Err(self.unexpected("identifier"));
                        }
                        self.bump()?;
                        let pt = self.bump()?;
                        let name = self.ident_text(pt)?;
                        if merge_chain && is_field(&lhs) {
                            if let Some(Value::List(c)) = lhs.get_mut("chain") {
                                c.push(Value::Str(name));
                            }
                            lhs.span = self.span_from(start);
                        } else {
                            let prop = constant(Value::Str(name), None);
                            lhs = Node::new("ArrayAccess", self.span_from(start))
                                .with("array", Value::node(lhs))
                                .with("property", Value::node(prop));
                            wrapped = true;
                        }
                        continue;
                    }
                    if n.kind == Tok::Word {
                        self.bump()?;
                        return Err(self.unexpected("identifier"));
                    }
                }
                Tok::Number
                    if self.text(t).starts_with('.')
                        && self.text(t)[1..].bytes().all(|b| b.is_ascii_digit()) =>
                {
                    // `a.1` lexes as `a` + `.1`
                    let idx = self.text(t)[1..]
                        .parse::<i64>()
                        .map_err(|_| self.err_at(t.start, t.end, "invalid tuple index"))?;
                    self.bump()?;
                    lhs = Node::new("TupleAccess", self.span_from(start))
                        .with("index", Value::Int(idx))
                        .with("tuple", Value::node(lhs));
                    merge_chain = false;
                    wrapped = true;
                    continue;
                }
                Tok::DoubleColon => {
                    self.bump()?;
                    let tt = self.tok;
                    if tt.kind != Tok::Word
                        || in_list(&["array"], self.text(tt))
                        || in_list(RESERVED, self.text(tt))
                    {
                        return Err(self.unexpected("type name"));
                    }
                    self.bump()?;
                    lhs = Node::new("TypeCast", self.span_from(start))
                        .with("expr", Value::node(lhs))
                        .with("type_name", Value::Str(self.text(tt).to_ascii_lowercase()));
                    merge_chain = false;
                    wrapped = true;
                    continue;
                }
                Tok::LParen => {
                    self.bump()?;
                    let args = self.call_args()?;
                    lhs = self.expr_call(lhs, args, start);
                    merge_chain = false;
                    wrapped = true;
                    continue;
                }
                _ => {}
            }
            // infix / postfix-with-precedence
            let Some((lbp, op)) = self.infix_op() else {
                break;
            };
            if lbp < min_bp {
                break;
            }
            merge_chain = false;
            lhs = self.infix(lhs, op, lbp, start)?;
            wrapped = !matches!(op, Infix::And | Infix::Or | Infix::Concat);
            if matches!(op, Infix::As) {
                break;
            }
        }
        Ok(lhs)
    }

    fn tuple_access(&mut self, lhs: Node, start: u32) -> PResult<Node> {
        // current token is a Number right after the dot; split `1.2` into two accesses
        let n = self.tok;
        let text = self.text(n);
        let digits_len = text.bytes().take_while(u8::is_ascii_digit).count();
        let idx: i64 = text[..digits_len]
            .parse()
            .map_err(|_| self.err_at(n.start, n.end, "invalid tuple index"))?;
        let mut node = Node::new("TupleAccess", None)
            .with("index", Value::Int(idx))
            .with("tuple", Value::node(lhs));
        if digits_len == text.len() {
            self.bump()?;
            node.span = self.span_from(start);
            return Ok(node);
        }
        let rest = &text[digits_len..];
        if rest.starts_with('.') && rest[1..].bytes().all(|b| b.is_ascii_digit()) && rest.len() > 1
        {
            let idx2: i64 = rest[1..]
                .parse()
                .map_err(|_| self.err_at(n.start, n.end, "invalid tuple index"))?;
            self.bump()?;
            node.span = sp(start, n.start + digits_len as u32);
            return Ok(Node::new("TupleAccess", self.span_from(start))
                .with("index", Value::Int(idx2))
                .with("tuple", Value::node(node)));
        }
        Err(self.err_at(n.start, n.end, "invalid tuple index"))
    }

    fn array_access(&mut self, lhs: Node, start: u32, nullish: bool) -> PResult<Node> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            self.array_access_inner(lhs, start, nullish)
        });
        self.no_alias = saved;
        r
    }

    fn array_access_inner(&mut self, lhs: Node, start: u32, nullish: bool) -> PResult<Node> {
        // after `[`
        if self.tok.kind == Tok::Colon {
            self.bump()?;
            let end = if self.tok.kind == Tok::RBracket {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect(Tok::RBracket, "]")?;
            let mut n = Node::new("ArraySlice", None).with("array", Value::node(lhs));
            if let Some(e) = end {
                n.set("end_expr", Value::node(e));
            }
            n.span = self.span_from(start);
            return Ok(n);
        }
        let idx = self.expr()?;
        if self.tok.kind == Tok::Colon {
            self.bump()?;
            let end = if self.tok.kind == Tok::RBracket {
                None
            } else {
                Some(self.expr()?)
            };
            self.expect(Tok::RBracket, "]")?;
            let mut n = Node::new("ArraySlice", None)
                .with("array", Value::node(lhs))
                .with("start_expr", Value::node(idx));
            if let Some(e) = end {
                n.set("end_expr", Value::node(e));
            }
            n.span = self.span_from(start);
            return Ok(n);
        }
        self.expect(Tok::RBracket, "]")?;
        let mut n = Node::new("ArrayAccess", None)
            .with("array", Value::node(lhs))
            .with("property", Value::node(idx));
        if nullish {
            n.set("nullish", Value::Bool(true));
        }
        n.span = self.span_from(start);
        Ok(n)
    }

    fn expr_call(&mut self, lhs: Node, args: Vec<Node>, start: u32) -> Node {
        let is_select = args.len() == 1
            && matches!(
                args[0].kind,
                "SelectQuery" | "SelectSetQuery" | "Placeholder"
            );
        if is_select
            && is_field(&lhs)
            && lhs.list("chain").len() == 1
            && let Some(Value::Str(name)) = lhs.list("chain").first()
        {
            return call(&name.clone(), args, self.span_from(start));
        }
        Node::new("ExprCall", self.span_from(start))
            .with("args", Value::nodes(args))
            .with("expr", Value::node(lhs))
    }

    /// Arguments after `(` up to and including `)`.
    fn call_args(&mut self) -> PResult<Vec<Node>> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.call_args_inner());
        self.no_alias = saved;
        r
    }

    fn call_args_inner(&mut self) -> PResult<Vec<Node>> {
        let mut args = Vec::new();
        if self.eat(Tok::RParen)? {
            return Ok(args);
        }
        loop {
            args.push(self.call_arg()?);
            if self.eat(Tok::Comma)? {
                if self.tok.kind == Tok::RParen {
                    self.bump()?;
                    break;
                }
                continue;
            }
            self.expect(Tok::RParen, ")")?;
            break;
        }
        Ok(args)
    }

    fn call_arg(&mut self) -> PResult<Node> {
        let t = self.tok;
        if self.ident_tok(t) && self.peek(1).kind == Tok::Walrus {
            let name = self.ident()?;
            self.bump()?;
            let v = self.expr()?;
            return Ok(Node::new("NamedArgument", None)
                .with("name", Value::Str(name))
                .with("value", Value::node(v)));
        }
        if self.at_kw("select") || self.at_kw("with") {
            return self.select_set();
        }
        self.expr()
    }

    fn infix_op(&self) -> Option<(u8, Infix)> {
        let t = self.tok;
        Some(match t.kind {
            Tok::Star => (110, Infix::Arith("*")),
            Tok::Slash => (110, Infix::Arith("/")),
            Tok::Percent => (110, Infix::Arith("%")),
            Tok::Plus => (100, Infix::Arith("+")),
            Tok::Minus => (100, Infix::Arith("-")),
            Tok::Concat => (100, Infix::Concat),
            Tok::Eq | Tok::EqEq => (90, Infix::Cmp("==")),
            Tok::NotEq => (90, Infix::Cmp("!=")),
            Tok::Lt => (90, Infix::Cmp("<")),
            Tok::LtEq => (90, Infix::Cmp("<=")),
            Tok::Gt => (90, Infix::Cmp(">")),
            Tok::GtEq => (90, Infix::Cmp(">=")),
            Tok::Regex => (90, Infix::Cmp("=~")),
            Tok::IRegex => (90, Infix::Cmp("=~*")),
            Tok::NotRegex => (90, Infix::Cmp("!~")),
            Tok::NotIRegex => (90, Infix::Cmp("!~*")),
            Tok::Spaceship => (79, Infix::Spaceship),
            Tok::Nullish => (70, Infix::Nullish),
            Tok::Question => (20, Infix::Ternary),
            Tok::Word => {
                let w = self.text(t);
                if w.eq_ignore_ascii_case("and") {
                    (50, Infix::And)
                } else if w.eq_ignore_ascii_case("or") {
                    (40, Infix::Or)
                } else if w.eq_ignore_ascii_case("in") {
                    (90, Infix::In(false))
                } else if w.eq_ignore_ascii_case("like") {
                    (90, Infix::Cmp("like"))
                } else if w.eq_ignore_ascii_case("ilike") {
                    (90, Infix::Cmp("ilike"))
                } else if w.eq_ignore_ascii_case("between") {
                    (65, Infix::Between(false))
                } else if w.eq_ignore_ascii_case("is") {
                    let n = self.peek(1);
                    let n2 = if self.is_word(n, "not") {
                        self.peek(2)
                    } else {
                        n
                    };
                    if self.is_word(n2, "null") {
                        (85, Infix::IsNull)
                    } else {
                        (80, Infix::IsDistinct)
                    }
                } else if w.eq_ignore_ascii_case("not") {
                    let n = self.peek(1);
                    if self.is_word(n, "in") {
                        (90, Infix::In(true))
                    } else if self.is_word(n, "like") {
                        (90, Infix::Cmp("not like"))
                    } else if self.is_word(n, "ilike") {
                        (90, Infix::Cmp("not ilike"))
                    } else if self.is_word(n, "between") {
                        (65, Infix::Between(true))
                    } else {
                        return None;
                    }
                } else if w.eq_ignore_ascii_case("as") && !self.no_alias {
                    (10, Infix::As)
                } else if w.eq_ignore_ascii_case("ignore") && self.peek_kw(1, "nulls") {
                    (87, Infix::IgnoreNulls)
                } else {
                    return None;
                }
            }
            _ => return None,
        })
    }

    fn infix(&mut self, lhs: Node, op: Infix, lbp: u8, start: u32) -> PResult<Node> {
        match op {
            Infix::Arith(o) => {
                self.bump()?;
                let rhs = self.expr_bp(lbp + 1)?;
                Ok(Node::new("ArithmeticOperation", self.span_from(start))
                    .with("left", Value::node(lhs))
                    .with("op", Value::Str(o.into()))
                    .with("right", Value::node(rhs)))
            }
            Infix::Concat => {
                self.bump()?;
                let rhs = self.expr_bp(lbp + 1)?;
                // A chain `a || b || c` grows the left call's argument list in place, so a
                // chain of n terms costs O(n), not O(n²) copies of the list.
                let mut args = Vec::new();
                let mut lhs = lhs;
                if is_concat(&lhs)
                    && let Some(Value::List(l)) = lhs.get_mut("args")
                {
                    args = std::mem::take(l);
                } else {
                    args.push(Value::node(lhs));
                }
                let mut rhs = rhs;
                if is_concat(&rhs)
                    && let Some(Value::List(l)) = rhs.get_mut("args")
                {
                    // counted: elements moved between lists are the cost that was quadratic
                    self.add_work(l.len());
                    args.append(l);
                } else {
                    args.push(Value::node(rhs));
                }
                Ok(Node::new("Call", self.span_from(start))
                    .with("args", Value::List(args))
                    .with("name", Value::Str("concat".into())))
            }
            Infix::Cmp(o) => {
                self.bump()?;
                if o.starts_with("not ") {
                    self.bump()?;
                }
                let rhs = self.expr_bp(lbp + 1)?;
                Ok(compare(lhs, o, rhs, self.span_from(start)))
            }
            Infix::In(neg) => {
                self.bump()?;
                if neg {
                    self.bump()?;
                }
                let cohort = self.at_kw("cohort") && {
                    let n = self.peek(1);
                    self.starts_operand(n) || n.kind == Tok::Number
                };
                if cohort {
                    self.bump()?;
                }
                let rhs = self.expr_bp(lbp + 1)?;
                let o = match (neg, cohort) {
                    (false, false) => "in",
                    (true, false) => "not in",
                    (false, true) => "in cohort",
                    (true, true) => "not in cohort",
                };
                Ok(compare(lhs, o, rhs, self.span_from(start)))
            }
            Infix::Between(neg) => {
                self.bump()?;
                if neg {
                    self.bump()?;
                }
                let low = self.expr_bp(lbp)?;
                self.expect_kw("and")?;
                let high = self.expr_bp(lbp + 1)?;
                let mut n = Node::new("BetweenExpr", None)
                    .with("expr", Value::node(lhs))
                    .with("high", Value::node(high))
                    .with("low", Value::node(low));
                if neg {
                    n.set("negated", Value::Bool(true));
                }
                n.span = self.span_from(start);
                Ok(n)
            }
            Infix::IsNull => {
                self.bump()?;
                let neg = self.eat_kw("not")?;
                self.bump()?;
                let null = constant(Value::Null, None);
                let mut n = compare(
                    lhs,
                    if neg { "!=" } else { "==" },
                    null,
                    self.span_from(start),
                );
                n.set("is_null_comparison_style", Value::Bool(true));
                Ok(n)
            }
            Infix::IsDistinct => {
                self.bump()?;
                let neg = self.eat_kw("not")?;
                self.expect_kw("distinct")?;
                self.expect_kw("from")?;
                let rhs = self.expr_bp(lbp + 1)?;
                Ok(is_distinct(lhs, rhs, neg, self.span_from(start)))
            }
            Infix::Spaceship => {
                self.bump()?;
                let rhs = self.expr_bp(80)?;
                Ok(is_distinct(lhs, rhs, true, self.span_from(start)))
            }
            Infix::Nullish => {
                self.bump()?;
                let rhs = self.expr_bp(lbp + 1)?;
                Ok(call("ifNull", vec![lhs, rhs], self.span_from(start)))
            }
            Infix::And | Infix::Or => {
                let kind = if matches!(op, Infix::And) {
                    "And"
                } else {
                    "Or"
                };
                self.bump()?;
                let rhs = self.expr_bp(lbp + 1)?;
                // Flattened in place (the left operand's list is reused), so a chain of n
                // terms costs O(n) rather than a copy of the list per term.
                let mut exprs = Vec::new();
                let mut lhs = lhs;
                if lhs.kind == kind {
                    if let Some(Value::List(l)) = lhs.get_mut("exprs") {
                        exprs = std::mem::take(l);
                    }
                } else {
                    exprs.push(Value::node(lhs));
                }
                let mut rhs = rhs;
                if rhs.kind == kind {
                    if let Some(Value::List(l)) = rhs.get_mut("exprs") {
                        self.add_work(l.len());
                        exprs.append(l);
                    }
                } else {
                    exprs.push(Value::node(rhs));
                }
                Ok(Node::new(kind, self.span_from(start)).with("exprs", Value::List(exprs)))
            }
            Infix::Ternary => {
                self.bump()?;
                let then = self.expr()?;
                self.expect(Tok::Colon, ":")?;
                let els = self.expr_bp(lbp)?;
                Ok(call("if", vec![lhs, then, els], self.span_from(start)))
            }
            Infix::As => {
                self.bump()?;
                let alias = self.alias_name()?;
                Ok(Node::new("Alias", self.span_from(start))
                    .with("alias", Value::Str(alias))
                    .with("expr", Value::node(lhs)))
            }
            Infix::IgnoreNulls => {
                self.bump()?;
                self.bump()?;
                Ok(lhs)
            }
        }
    }

    /// Parses a prefix expression; the flag says whether a following `.name` extends a Field chain.
    fn prefix(&mut self) -> PResult<(Node, bool)> {
        let t = self.tok;
        let start = t.start;
        match t.kind {
            Tok::Number => {
                self.bump()?;
                Ok((self.number(t, false)?, false))
            }
            Tok::Str => {
                self.bump()?;
                let s = self.string_value(t)?;
                Ok((constant(Value::Str(s), sp(t.start, t.end)), false))
            }
            Tok::FStrStart => Ok((self.template_string()?, false)),
            Tok::Minus => {
                self.bump()?;
                let n = self.tok;
                if n.kind == Tok::Number {
                    self.bump()?;
                    let mut c = self.number(n, true)?;
                    c.span = sp(start, n.end);
                    return Ok((c, false));
                }
                if n.kind == Tok::Word && in_list(&["inf", "infinity", "nan"], self.text(n)) {
                    self.bump()?;
                    let v = if self.text(n).eq_ignore_ascii_case("nan") {
                        "NaN"
                    } else {
                        "-Infinity"
                    };
                    let c = constant(Value::Str(v.into()), sp(start, n.end))
                        .with("value_type", Value::Str("number".into()));
                    return Ok((c, false));
                }
                let rhs = self.expr_bp(120)?;
                let zero = constant(Value::Int(0), None);
                Ok((
                    Node::new("ArithmeticOperation", self.span_from(start))
                        .with("left", Value::node(zero))
                        .with("op", Value::Str("-".into()))
                        .with("right", Value::node(rhs)),
                    false,
                ))
            }
            Tok::Plus => {
                self.bump()?;
                let n = self.tok;
                if n.kind == Tok::Number {
                    self.bump()?;
                    let mut c = self.number(n, false)?;
                    c.span = sp(start, n.end);
                    return Ok((c, false));
                }
                Err(self.err_at(t.start, t.end, "unary `+` only applies to a number literal"))
            }
            Tok::LParen => self.paren(),
            Tok::LBracket => {
                self.bump()?;
                let exprs = self.expr_list_until(Tok::RBracket, "]")?;
                Ok((
                    Node::new("Array", self.span_from(start)).with("exprs", Value::nodes(exprs)),
                    false,
                ))
            }
            Tok::LBrace => Ok((self.brace()?, false)),
            Tok::Lt if self.ident_tok(self.peek(1)) && self.peek(1).start == t.end => {
                Ok((self.hogqlx_tag()?, false))
            }
            Tok::Star => {
                self.bump()?;
                let f = field(vec![Value::Str("*".into())], sp(t.start, t.end));
                self.star_modifiers(f, start, false)
            }
            Tok::Positional => {
                self.bump()?;
                let idx: i64 = self.text(t)[1..]
                    .parse()
                    .map_err(|_| self.err_at(t.start, t.end, "invalid positional reference"))?;
                Ok((
                    Node::new("PositionalRef", sp(t.start, t.end)).with("index", Value::Int(idx)),
                    false,
                ))
            }
            Tok::BacktickIdent | Tok::QuoteIdent if self.at_multi_lambda() => {
                let mut args = Vec::new();
                loop {
                    args.push(self.ident()?);
                    if !self.eat(Tok::Comma)? {
                        break;
                    }
                }
                Ok((self.lambda_body(args, start)?, false))
            }
            Tok::BacktickIdent | Tok::QuoteIdent => {
                self.bump()?;
                let name = self.ident_text(t)?;
                if self.tok.kind == Tok::Arrow {
                    return Ok((self.lambda_body(vec![name], start)?, false));
                }
                Ok((field(vec![Value::Str(name)], sp(t.start, t.end)), true))
            }
            Tok::Word => self.word(),
            _ => Err(self.unexpected("expression")),
        }
    }

    fn star_modifiers(
        &mut self,
        f: Node,
        start: u32,
        allow_replace: bool,
    ) -> PResult<(Node, bool)> {
        if self.at_kw("exclude") && self.peek(1).kind == Tok::LParen {
            self.bump()?;
            self.bump()?;
            let mut names = Vec::new();
            loop {
                names.push(Value::Str(self.ident()?));
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            self.expect(Tok::RParen, ")")?;
            return Ok((
                Node::new("ColumnsExpr", self.span_from(start))
                    .with("all_columns", Value::Bool(true))
                    .with("exclude", Value::List(names)),
                false,
            ));
        }
        if self.at_kw("replace") && self.peek(1).kind == Tok::LParen {
            if !allow_replace {
                return Err(self.err_at(self.tok.start, self.tok.end, "REPLACE after a bare `*` is only valid inside `(* REPLACE …)` / `COLUMNS(* REPLACE …)`"));
            }
            self.bump()?;
            self.bump()?;
            let mut items = Vec::new();
            loop {
                let e = self.expr_bp(11)?;
                self.expect_kw("as")?;
                let name = self.ident()?;
                items.push((name, Value::node(e)));
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            self.expect(Tok::RParen, ")")?;
            return Ok((
                Node::new("ColumnsExpr", self.span_from(start))
                    .with("all_columns", Value::Bool(true))
                    .with("replace", Value::Map(items)),
                false,
            ));
        }
        Ok((f, false))
    }

    fn number(&self, t: Token, neg: bool) -> PResult<Node> {
        let text = self.text(t);
        let span = sp(t.start, t.end);
        let big = |s: String| {
            constant(Value::Str(s), span).with("value_type", Value::Str("number".into()))
        };
        let b = text.as_bytes();
        if b.len() > 2 && b[0] == b'0' && matches!(b[1], b'x' | b'X' | b'b' | b'B') {
            let radix = if matches!(b[1], b'x' | b'X') { 16 } else { 2 };
            return Ok(match i64::from_str_radix(&text[2..], radix) {
                Ok(v) => constant(Value::Int(if neg { -v } else { v }), span),
                Err(_) => big(if neg {
                    format!("-{text}")
                } else {
                    text.to_string()
                }),
            });
        }
        if text.len() > 1 && b[0] == b'0' && matches!(b[1], b'o' | b'O') {
            return Err(self.err_at(t.start, t.end, "octal literals are not supported"));
        }
        if text.bytes().all(|c| c.is_ascii_digit()) {
            let signed = if neg {
                format!("-{text}")
            } else {
                text.to_string()
            };
            return Ok(match signed.parse::<i64>() {
                Ok(v) => constant(Value::Int(v), span),
                Err(_) => big(signed),
            });
        }
        let v: f64 = text
            .parse()
            .map_err(|_| self.err_at(t.start, t.end, "invalid number"))?;
        let v = if neg { -v } else { v };
        if v.is_infinite() {
            return Ok(big(if v > 0.0 {
                "Infinity".into()
            } else {
                "-Infinity".into()
            }));
        }
        Ok(constant(Value::Float(v), span))
    }

    fn expr_list_until(&mut self, close: Tok, what: &'static str) -> PResult<Vec<Node>> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            self.expr_list_until_inner(close, what)
        });
        self.no_alias = saved;
        r
    }

    fn expr_list_until_inner(&mut self, close: Tok, what: &'static str) -> PResult<Vec<Node>> {
        let mut out = Vec::new();
        if self.eat(close)? {
            return Ok(out);
        }
        loop {
            out.push(self.expr()?);
            if self.eat(Tok::Comma)? {
                if self.eat(close)? {
                    break;
                }
                continue;
            }
            self.expect(close, what)?;
            break;
        }
        Ok(out)
    }

    fn paren(&mut self) -> PResult<(Node, bool)> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.paren_inner());
        self.no_alias = saved;
        r
    }

    fn paren_inner(&mut self) -> PResult<(Node, bool)> {
        let open = self.bump()?;
        let start = open.start;
        if self.tok.kind == Tok::RParen {
            // `() -> e`
            if self.peek(1).kind == Tok::Arrow {
                self.bump()?;
                return Ok((self.lambda_body(Vec::new(), start)?, false));
            }
            return Err(self.err_at(
                self.tok.start,
                self.tok.end,
                "empty parentheses are not a valid expression",
            ));
        }
        // lambda `(a, b) -> e`
        if let Some(args) = self.try_lambda_params()? {
            return Ok((self.lambda_body(args, start)?, false));
        }
        if self.tok.kind == Tok::LParen && self.starts_select_in_parens() {
            // `((select ...) ...)`: the inner parentheses hold a subquery or an expression that
            // starts with one, e.g. `((select 1) > 1)`, `(((select 1) + 1) * 2)`; a lone subquery
            // may also go on as a set operation: `((select 1) union all (select 2))`
            let qs = self.tok.start;
            let mut first = self.expr()?;
            if matches!(first.kind, "SelectQuery" | "SelectSetQuery") && self.at_set_continuation()
            {
                first = self.select_set_rest(qs, first)?;
                self.expect(Tok::RParen, ")")?;
                return Ok((first, false));
            }
            return self.paren_rest(first, start);
        }
        if (self.at_kw("select") || self.at_kw("with"))
            && !self.failed_subqueries.contains(&self.tok.start)
        {
            // a bare `(select ...)` is a subquery and nothing else (`(select a b * 2)` is an error);
            // when it is not one, PostHog's parser reads the parentheses as an expression instead,
            // with `select` as a name: `(select() - t)`, `(select)`
            let save = (self.tok, self.last_end);
            let subquery = self.speculate(|p| {
                let q = p.select_set()?;
                p.expect(Tok::RParen, ")")?;
                Ok(q)
            });
            match subquery {
                Ok(q) => return Ok((q, false)),
                Err(e) if self.too_deep => return Err(e),
                Err(e) => {
                    self.failed_subqueries.insert(save.0.start);
                    self.reset(save.0, save.1);
                    let first = match self.expr() {
                        Ok(first) => first,
                        Err(_) => return Err(e),
                    };
                    return match self.paren_rest(first, start) {
                        Ok(r) => Ok(r),
                        Err(_) => Err(e),
                    };
                }
            }
        }
        if self.tok.kind == Tok::Star && (self.peek_kw(1, "replace") || self.peek_kw(1, "exclude"))
        {
            let st = self.tok;
            self.bump()?;
            let f = field(vec![Value::Str("*".into())], sp(st.start, st.end));
            let (n, _) = self.star_modifiers(f, st.start, true)?;
            let n = self.continue_expr(n, st.start, 0)?;
            self.expect(Tok::RParen, ")")?;
            return Ok((n, false));
        }
        let first = self.expr()?;
        self.paren_rest(first, start)
    }

    /// After the first expression inside `(`: a tuple or a parenthesised expression.
    fn paren_rest(&mut self, first: Node, start: u32) -> PResult<(Node, bool)> {
        if self.tok.kind == Tok::Comma {
            let mut exprs = vec![first];
            while self.eat(Tok::Comma)? {
                if self.tok.kind == Tok::RParen {
                    break;
                }
                exprs.push(self.expr()?);
            }
            self.expect(Tok::RParen, ")")?;
            return Ok((
                Node::new("Tuple", self.span_from(start)).with("exprs", Value::nodes(exprs)),
                false,
            ));
        }
        self.expect(Tok::RParen, ")")?;
        Ok((first, false))
    }

    /// Continues a Pratt loop from an already-parsed prefix (used after special prefixes).
    fn continue_expr(&mut self, n: Node, start: u32, min: u8) -> PResult<Node> {
        self.expr_loop(n, false, start, min)
    }

    /// `((select ...))`: is the `(` at the current token the start of a parenthesized select?
    fn starts_select_in_parens(&mut self) -> bool {
        let t = self.after_paren_run(self.tok);
        self.is_word(t, "select") || self.is_word(t, "with")
    }

    /// The token after the token following `t`, lexed incrementally (errors become `Unknown`).
    fn next_tok(&self, t: Token) -> Token {
        if t.kind == Tok::Eof {
            return t;
        }
        self.lex_from(t.end as usize).unwrap_or(Token {
            kind: Tok::Unknown,
            start: t.end,
            end: t.end,
        })
    }

    /// First token that is not `(` at or after `t`. Cached per run of parentheses, so nested
    /// `((((` stays linear.
    fn after_paren_run(&mut self, t: Token) -> Token {
        if let Some((run_start, after)) = self.paren_run
            && run_start <= t.start
            && t.start < after.start
        {
            return after;
        }
        let mut x = t;
        while x.kind == Tok::LParen {
            x = self.next_tok(x);
        }
        self.paren_run = Some((t.start, x));
        x
    }

    /// The first token after the `)` that matches the `(` token `open`, found by plain lexing and
    /// cached for every parenthesis met on the way, so repeated questions about nested groups stay
    /// linear. `None` when the group is unclosed or holds an f-string or a HogQLX tag, whose insides
    /// plain lexing cannot read.
    fn after_paren_group(&mut self, open: Token) -> Option<Token> {
        if let Some(r) = self.paren_groups.get(&open.start) {
            return *r;
        }
        let mut stack = vec![open.start];
        let mut t = open;
        loop {
            t = self.next_tok(t);
            match t.kind {
                Tok::LParen => stack.push(t.start),
                Tok::RParen => {
                    let Some(o) = stack.pop() else { break };
                    let after = self.next_tok(t);
                    self.paren_groups.insert(o, Some(after));
                    if stack.is_empty() {
                        break;
                    }
                }
                Tok::FStrStart | Tok::Eof | Tok::Unterminated | Tok::Unknown => break,
                Tok::Lt | Tok::LtSlash => {
                    let n = self.next_tok(t);
                    if n.start == t.end && (self.ident_tok(n) || n.kind == Tok::Word) {
                        break;
                    }
                }
                _ => {}
            }
        }
        for o in stack {
            self.paren_groups.insert(o, None);
        }
        self.paren_groups.get(&open.start).copied().flatten()
    }

    /// Whether the parenthesised group opened by `open` is followed by a token that ends an
    /// expression list (`)`, `,`, `]`, `}` or the end), so no expression can continue after it.
    fn group_then_closer(&mut self, open: Token) -> bool {
        self.after_paren_group(open).is_some_and(|a| {
            matches!(
                a.kind,
                Tok::RParen | Tok::Comma | Tok::Eof | Tok::RBracket | Tok::RBrace
            )
        })
    }

    fn try_lambda_params(&mut self) -> PResult<Option<Vec<String>>> {
        // current token is after `(`
        let mut t = self.tok;
        loop {
            if !self.ident_tok(t) {
                return Ok(None);
            }
            let n = self.next_tok(t);
            if n.kind == Tok::Comma {
                t = self.next_tok(n);
                continue;
            }
            if n.kind == Tok::RParen && self.next_tok(n).kind == Tok::Arrow {
                break;
            }
            return Ok(None);
        }
        let mut args = Vec::new();
        loop {
            args.push(self.ident()?);
            if !self.eat(Tok::Comma)? {
                break;
            }
        }
        self.expect(Tok::RParen, ")")?;
        Ok(Some(args))
    }

    fn lambda_body(&mut self, args: Vec<String>, start: u32) -> PResult<Node> {
        self.expect(Tok::Arrow, "->")?;
        if self.tok.kind == Tok::LBrace {
            let body = self.lambda_brace_body()?;
            return Ok(Node::new("Lambda", self.span_from(start))
                .with(
                    "args",
                    Value::List(args.into_iter().map(Value::Str).collect()),
                )
                .with("expr", Value::node(body)));
        }
        let body = self.expr()?;
        Ok(Node::new("Lambda", self.span_from(start))
            .with(
                "args",
                Value::List(args.into_iter().map(Value::Str).collect()),
            )
            .with("expr", Value::node(body)))
    }

    fn brace(&mut self) -> PResult<Node> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.brace_inner());
        self.no_alias = saved;
        r
    }

    fn brace_inner(&mut self) -> PResult<Node> {
        let open = self.bump()?;
        let start = open.start;
        if self.eat(Tok::RBrace)? {
            return Ok(
                Node::new("Dict", self.span_from(start)).with("items", Value::List(Vec::new()))
            );
        }
        let first = self.expr()?;
        if self.tok.kind == Tok::Colon {
            let mut items = Vec::new();
            self.bump()?;
            let v = self.expr()?;
            items.push(Value::List(vec![Value::node(first), Value::node(v)]));
            while self.eat(Tok::Comma)? {
                if self.tok.kind == Tok::RBrace {
                    break;
                }
                let k = self.expr()?;
                self.expect(Tok::Colon, ":")?;
                let v = self.expr()?;
                items.push(Value::List(vec![Value::node(k), Value::node(v)]));
            }
            self.expect(Tok::RBrace, "}")?;
            return Ok(Node::new("Dict", self.span_from(start)).with("items", Value::List(items)));
        }
        self.expect(Tok::RBrace, "}")?;
        Ok(Node::new("Placeholder", self.span_from(start)).with("expr", Value::node(first)))
    }

    fn word(&mut self) -> PResult<(Node, bool)> {
        let t = self.tok;
        let start = t.start;
        let w = self.text(t);
        let lw = w.to_ascii_lowercase();
        let next = self.peek(1);
        let span = sp(t.start, t.end);
        if next.kind == Tok::Comma && self.ident_tok(t) && self.at_multi_lambda() {
            let mut args = Vec::new();
            loop {
                args.push(self.ident()?);
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            return Ok((self.lambda_body(args, start)?, false));
        }
        match lw.as_str() {
            "null" => {
                self.bump()?;
                return Ok((constant(Value::Null, span), false));
            }
            "true" | "false" if next.kind != Tok::Dot => {
                self.bump()?;
                return Ok((constant(Value::Bool(lw == "true"), span), false));
            }
            "inf" | "infinity" | "nan" => {
                self.bump()?;
                let v = if lw == "nan" { "NaN" } else { "Infinity" };
                return Ok((
                    constant(Value::Str(v.into()), span)
                        .with("value_type", Value::Str("number".into())),
                    false,
                ));
            }
            // `not (x)` is a call to `not`, but `not (select ...)` is NOT applied to a subquery
            "not"
                if (next.kind != Tok::LParen && self.starts_operand(next))
                    || (next.kind == Tok::LParen && {
                        let after = self.next_tok(next);
                        self.is_word(after, "select") || self.is_word(after, "with")
                    }) =>
            {
                self.bump()?;
                let e = self.expr_bp(60)?;
                return Ok((
                    Node::new("Not", self.span_from(start)).with("expr", Value::node(e)),
                    false,
                ));
            }
            "case"
                if self.is_word(next, "when")
                    || (next.kind != Tok::Arrow
                        && next.kind != Tok::Dot
                        && self.starts_operand(next)) =>
            {
                // `case(...)` followed by `)`, `,` or the end cannot be a CASE (no WHEN can follow
                // its subject): read it as a call straight away instead of trying and failing,
                // which keeps nested `case(case(...))` linear
                let cannot_be_case =
                    next.kind == Tok::LParen && self.ident_tok(t) && self.group_then_closer(next);
                if !cannot_be_case {
                    let save = (self.tok, self.last_end);
                    match self.speculate(Self::case) {
                        Ok(n) => return Ok((n, false)), // a failed CASE falls back to `case` as an identifier, like PostHog's parser
                        Err(e) if !self.ident_tok(t) || self.too_deep => return Err(e),
                        Err(_) => self.reset(save.0, save.1),
                    }
                }
            }
            "not"
                if ["then", "else", "end", "when"]
                    .iter()
                    .any(|k| self.is_word(next, k)) =>
            {
                return Err(self.err_at(
                    next.start,
                    next.end,
                    format!("unexpected '{}' after NOT", self.text(next)),
                ));
            }
            "cast" | "try_cast" if next.kind == Tok::LParen && self.peek(2).kind != Tok::RParen => {
                self.bump()?;
                self.bump()?;
                let saved = std::mem::replace(&mut self.no_alias, true);
                let e = self.expr_bp(11);
                self.no_alias = saved;
                let e = e?;
                if self.eat(Tok::Comma)? {
                    let ty = self.expr()?;
                    self.expect(Tok::RParen, ")")?;
                    return self
                        .call_suffix(call(&lw, vec![e, ty], None), start)
                        .map(|n| (n, false));
                }
                // `AS` might have been eaten as an alias by the expression parser
                let (e, ty) = if e.kind == "Alias" && self.tok.kind != Tok::Word {
                    (e, None)
                } else {
                    (e, Some(()))
                };
                let _ = ty;
                let (inner, type_name) = if self.at_kw("as") {
                    self.bump()?;
                    (e, self.type_spec()?)
                } else if e.kind == "Alias" {
                    // cast(x as T) where T was parsed as alias
                    let mut e = e;
                    let alias = e.str("alias").unwrap_or_default().to_ascii_lowercase();
                    let inner = match e.take("expr") {
                        Some(Value::Node(n)) => *n,
                        _ => return Err(self.unexpected("AS")),
                    };
                    let mut ty = alias;
                    if self.tok.kind == Tok::LParen {
                        ty.push_str(&self.type_args()?);
                    }
                    (inner, ty)
                } else {
                    return Err(self.unexpected("AS"));
                };
                self.expect(Tok::RParen, ")")?;
                let kind = if lw == "cast" { "TypeCast" } else { "TryCast" };
                return Ok((
                    Node::new(kind, self.span_from(start))
                        .with("expr", Value::node(inner))
                        .with("type_name", Value::Str(type_name)),
                    false,
                ));
            }
            "interval"
                if !matches!(
                    next.kind,
                    Tok::Dot | Tok::Arrow | Tok::Eof | Tok::RParen | Tok::Comma
                ) && !self.is_infix_start(next) =>
            {
                // `interval(...)` followed by `)`, `,` or the end has no unit: a call, read
                // straight away (as for `case(...)` above)
                let cannot_be_interval = next.kind == Tok::LParen && self.group_then_closer(next);
                if !cannot_be_interval {
                    let save = (self.tok, self.last_end);
                    match self.speculate(Self::interval) {
                        Ok(n) => return Ok((n, false)),
                        Err(e) if next.kind != Tok::LParen || self.too_deep => return Err(e),
                        Err(_) => self.reset(save.0, save.1),
                    }
                }
            }
            "date" | "timestamp" if next.kind == Tok::Str => {
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    "Date and timestamp literals are not supported",
                ));
            }
            "array" if next.kind == Tok::LBracket => {
                self.bump()?;
                self.bump()?;
                let exprs = self.expr_list_until(Tok::RBracket, "]")?;
                return Ok((
                    Node::new("Array", self.span_from(start)).with("exprs", Value::nodes(exprs)),
                    false,
                ));
            }
            "trim"
                if next.kind == Tok::LParen && {
                    let n2 = self.peek(2);
                    self.is_word(n2, "both")
                        || self.is_word(n2, "leading")
                        || self.is_word(n2, "trailing")
                } =>
            {
                self.bump()?;
                self.bump()?;
                let mode = self.bump()?;
                let name = match self.text(mode).to_ascii_lowercase().as_str() {
                    "leading" => "trimLeft",
                    "trailing" => "trimRight",
                    _ => "trim",
                };
                let chars = self.expr()?;
                self.expect_kw("from")?;
                let e = self.expr()?;
                self.expect(Tok::RParen, ")")?;
                return Ok((call(name, vec![e, chars], self.span_from(start)), false));
            }
            "columns"
                if next.kind == Tok::LParen
                    && self.peek(2).kind == Tok::Str
                    && self.peek(3).kind == Tok::RParen =>
            {
                self.bump()?;
                self.bump()?;
                let s = self.bump()?;
                let re = self.string_value(s)?;
                self.bump()?;
                return Ok((
                    Node::new("ColumnsExpr", self.span_from(start)).with("regex", Value::Str(re)),
                    false,
                ));
            }
            "lambda"
                if self.ident_tok(next) && {
                    // `lambda a, b: e`, scanned token by token (linear in the parameter list)
                    let mut a = next;
                    loop {
                        let b = self.next_tok(a);
                        if !self.ident_tok(a) {
                            break false;
                        }
                        if b.kind == Tok::Colon {
                            break true;
                        }
                        if b.kind != Tok::Comma {
                            break false;
                        }
                        a = self.next_tok(b);
                    }
                } =>
            {
                self.bump()?;
                let mut args = Vec::new();
                loop {
                    args.push(Value::Str(self.ident()?));
                    if !self.eat(Tok::Comma)? {
                        break;
                    }
                }
                self.expect(Tok::Colon, ":")?;
                let body = self.expr()?;
                return Ok((
                    Node::new("Lambda", self.span_from(start))
                        .with("args", Value::List(args))
                        .with("expr", Value::node(body)),
                    false,
                ));
            }
            _ => {}
        }
        if !self.ident_tok(t) {
            return Err(self.unexpected("expression"));
        }
        if self.at_multi_lambda() {
            let mut args = Vec::new();
            loop {
                args.push(self.ident()?);
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            return Ok((self.lambda_body(args, start)?, false));
        }
        self.bump()?;
        if self.tok.kind == Tok::Arrow {
            return Ok((self.lambda_body(vec![w.to_string()], start)?, false));
        }
        if self.tok.kind == Tok::LParen {
            return Ok((self.function_call(w, start)?, false));
        }
        Ok((field(vec![Value::Str(w.to_string())], span), true))
    }

    /// Is the current `distinct` word a DISTINCT modifier (rather than a column named distinct)?
    fn distinct_modifier(&self) -> bool {
        let n = self.peek(1);
        !(matches!(n.kind, Tok::RParen | Tok::Comma | Tok::Dot)
            || (n.kind == Tok::Number && self.text(n).starts_with('.')))
    }

    /// Can `t` start an expression operand?
    fn starts_operand(&self, t: Token) -> bool {
        if matches!(
            t.kind,
            Tok::Star
                | Tok::Plus
                | Tok::Minus
                | Tok::LBracket
                | Tok::LParen
                | Tok::LBrace
                | Tok::Lt
        ) {
            return true;
        }
        if matches!(
            t.kind,
            Tok::RParen
                | Tok::Comma
                | Tok::Eof
                | Tok::RBracket
                | Tok::RBrace
                | Tok::Semi
                | Tok::Colon
                | Tok::Dot
        ) {
            return false;
        }
        let leading_dot_number = t.kind == Tok::Number && self.text(t).starts_with('.');
        !leading_dot_number && !self.is_infix_start(t)
    }

    /// At an identifier: is this `a, b, c -> body` (a lambda without parentheses)?
    fn at_multi_lambda(&mut self) -> bool {
        if self.tok.start < self.no_lambda_until || self.peek(1).kind != Tok::Comma {
            return false;
        }
        let mut t = self.tok;
        let mut first = true;
        loop {
            if !self.ident_tok(t)
                || (t.kind == Tok::Word
                    && in_list(&["null", "inf", "infinity", "nan"], self.text(t)))
            {
                self.no_lambda_until = t.start;
                return false;
            }
            let n = self.next_tok(t);
            match n.kind {
                Tok::Comma => {
                    t = self.next_tok(n);
                    first = false;
                }
                Tok::Arrow => return !first,
                _ => {
                    self.no_lambda_until = n.start;
                    return false;
                }
            }
        }
    }

    fn is_infix_start(&self, t: Token) -> bool {
        matches!(
            t.kind,
            Tok::Star
                | Tok::Slash
                | Tok::Percent
                | Tok::Plus
                | Tok::Concat
                | Tok::Eq
                | Tok::EqEq
                | Tok::NotEq
                | Tok::Lt
                | Tok::LtEq
                | Tok::Gt
                | Tok::GtEq
                | Tok::Question
                | Tok::Nullish
                | Tok::DoubleColon
                | Tok::LBracket
                | Tok::RBracket
                | Tok::RBrace
                | Tok::Semi
        ) || (t.kind == Tok::Word
            && in_list(
                &[
                    "and", "or", "as", "from", "where", "is", "in", "like", "ilike", "between",
                    "limit", "order", "group", "having", "union", "then", "else", "end", "when",
                ],
                self.text(t),
            ))
    }

    fn function_call(&mut self, name: &str, start: u32) -> PResult<Node> {
        self.expect(Tok::LParen, "(")?;
        let distinct = self.at_kw("distinct") && self.distinct_modifier();
        if distinct {
            self.bump()?;
        }
        let first = self.call_args()?;
        let mut params = None;
        let mut args = first;
        if self.tok.kind == Tok::LParen && !distinct {
            self.bump()?;
            let distinct2 = self.at_kw("distinct") && self.distinct_modifier();
            if distinct2 {
                self.bump()?;
            }
            let second = self.call_args()?;
            params = Some(std::mem::replace(&mut args, second));
            let mut c = call(name, Vec::new(), None);
            c.set("args", Value::nodes(std::mem::take(&mut args)));
            if distinct2 {
                c.set("distinct", Value::Bool(true));
            }
            if let Some(p) = params.take() {
                c.set("params", Value::nodes(p));
            }
            return self.call_suffix(c, start);
        }
        let mut c = call(name, args, None);
        if distinct {
            c.set("distinct", Value::Bool(true));
        }
        let _ = params;
        self.call_suffix(c, start)
    }

    /// OVER / FILTER / WITHIN GROUP after a call.
    fn call_suffix(&mut self, mut c: Node, start: u32) -> PResult<Node> {
        if self.at_kw("filter") && self.peek(1).kind == Tok::LParen && self.peek_kw(2, "where") {
            self.bump()?;
            self.bump()?;
            self.bump()?;
            let e = self.expr()?;
            self.expect(Tok::RParen, ")")?;
            c.set("filter_expr", Value::node(e));
        }
        if self.at_kw("within") && self.peek_kw(1, "group") {
            self.bump()?;
            self.bump()?;
            self.expect(Tok::LParen, "(")?;
            self.expect_kw("order")?;
            self.expect_kw("by")?;
            let ob = self.order_list()?;
            self.expect(Tok::RParen, ")")?;
            // WITHIN GROUP moves the call's args into params
            let args = c.take("args").unwrap_or(Value::List(Vec::new()));
            c.set("args", Value::List(Vec::new()));
            c.set("params", args);
            c.set("within_group", Value::nodes(ob));
        }
        if self.at_kw("over") && (self.peek(1).kind == Tok::LParen || self.ident_tok(self.peek(1)))
        {
            self.bump()?;
            let name = c.str("name").unwrap_or_default().to_string();
            let (exprs, args) = match c.take("params") {
                Some(p) => (p, c.take("args").unwrap_or(Value::List(Vec::new()))),
                None => (
                    c.take("args").unwrap_or(Value::List(Vec::new())),
                    Value::List(Vec::new()),
                ),
            };
            let mut w = Node::new("WindowFunction", None)
                .with("args", args)
                .with("exprs", exprs)
                .with("name", Value::Str(name));
            if self.tok.kind == Tok::LParen {
                self.bump()?;
                let we = self.window_spec()?;
                self.expect(Tok::RParen, ")")?;
                w.set("over_expr", Value::node(we));
            } else {
                let id = self.ident()?;
                w.set("over_identifier", Value::Str(id));
            }
            w.span = self.span_from(start);
            return Ok(w);
        }
        c.span = self.span_from(start);
        Ok(c)
    }

    fn window_spec(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut w = Node::new("WindowExpr", None);
        if self.at_kw("partition") {
            self.bump()?;
            self.expect_kw("by")?;
            let mut ps = Vec::new();
            loop {
                ps.push(self.expr()?);
                if !self.eat(Tok::Comma)? || self.tok.kind == Tok::RParen {
                    break;
                }
            }
            w.set("partition_by", Value::nodes(ps));
        }
        if self.at_kw("order") {
            self.bump()?;
            self.expect_kw("by")?;
            let ob = self.order_list()?;
            w.set("order_by", Value::nodes(ob));
        }
        if self.at_kw("rows") || self.at_kw("range") {
            let m = self.bump()?;
            w.set(
                "frame_method",
                Value::Str(self.text(m).to_ascii_uppercase()),
            );
            if self.eat_kw("between")? {
                let s = self.frame_bound()?;
                self.expect_kw("and")?;
                let e = self.frame_bound()?;
                w.set("frame_start", Value::node(s));
                w.set("frame_end", Value::node(e));
            } else {
                let s = self.frame_bound()?;
                w.set("frame_start", Value::node(s));
            }
        }
        w.span = sp(start, self.last_end.max(start));
        Ok(w)
    }

    fn frame_bound(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        if self.eat_kw("current")? {
            self.expect_kw("row")?;
            return Ok(Node::new("WindowFrameExpr", self.span_from(start))
                .with("frame_type", Value::Str("CURRENT ROW".into())));
        }
        let value = if self.eat_kw("unbounded")? {
            None
        } else {
            let n = self.expect(Tok::Number, "number")?;
            Some(
                self.text(n)
                    .parse::<i64>()
                    .map_err(|_| self.err_at(n.start, n.end, "invalid frame offset"))?,
            )
        };
        let kind = if self.eat_kw("preceding")? {
            "PRECEDING"
        } else if self.eat_kw("following")? {
            "FOLLOWING"
        } else {
            return Err(self.unexpected("PRECEDING or FOLLOWING"));
        };
        let mut n = Node::new("WindowFrameExpr", None).with("frame_type", Value::Str(kind.into()));
        if let Some(v) = value {
            n.set("frame_value", Value::Int(v));
        }
        n.span = self.span_from(start);
        Ok(n)
    }

    fn type_spec(&mut self) -> PResult<String> {
        let t = self.tok;
        if !(t.kind == Tok::Word || t.kind == Tok::BacktickIdent || t.kind == Tok::QuoteIdent) {
            return Err(self.unexpected("type name"));
        }
        self.bump()?;
        let mut s = self.ident_text(t)?.to_ascii_lowercase();
        if self.tok.kind == Tok::LParen {
            s.push_str(&self.type_args()?);
        }
        Ok(s)
    }

    fn type_args(&mut self) -> PResult<String> {
        self.expect(Tok::LParen, "(")?;
        let mut parts = Vec::new();
        if !self.eat(Tok::RParen)? {
            loop {
                let t = self.tok;
                match t.kind {
                    Tok::Str | Tok::Number => {
                        self.bump()?;
                        parts.push(self.text(t).to_string());
                    }
                    _ => parts.push(self.type_spec()?),
                }
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            self.expect(Tok::RParen, ")")?;
        }
        Ok(format!("({})", parts.join(", ")))
    }

    fn case(&mut self) -> PResult<Node> {
        let start = self.bump()?.start;
        let subject = if self.at_kw("when") {
            None
        } else {
            Some(self.expr()?)
        };
        let mut args = Vec::new();
        if let Some(s) = subject {
            args.push(s);
        }
        let mut whens = 0;
        while self.eat_kw("when")? {
            args.push(self.expr()?);
            self.expect_kw("then")?;
            args.push(self.expr()?);
            whens += 1;
        }
        if whens == 0 {
            return Err(self.unexpected("WHEN"));
        }
        if self.eat_kw("else")? {
            args.push(self.expr()?);
        } else {
            args.push(constant(Value::Null, None));
        }
        self.expect_kw("end")?;
        let is_subject = args.len() % 2 == 0;
        let name = if is_subject {
            "_caseWithExpression"
        } else if whens == 1 {
            "if"
        } else {
            "multiIf"
        };
        if is_subject {
            // PostHog's shape: subject, [when...], [then...], else
            let else_ = args.pop();
            let mut it = args.into_iter();
            let subj = it.next();
            let rest: Vec<Node> = it.collect();
            let mut whens_v = Vec::new();
            let mut thens_v = Vec::new();
            for (i, n) in rest.into_iter().enumerate() {
                if i % 2 == 0 {
                    whens_v.push(n)
                } else {
                    thens_v.push(n)
                }
            }
            let sp_ = self.span_from(start);
            let out = subj
                .into_iter()
                .chain(flatten_case(whens_v, thens_v))
                .chain(else_)
                .collect();
            return Ok(call(name, out, sp_));
        }
        Ok(call(name, args, self.span_from(start)))
    }

    fn interval(&mut self) -> PResult<Node> {
        let start = self.bump()?.start;
        if self.tok.kind == Tok::Str {
            let t = self.tok;
            let s = self.string_value(t)?;
            let mut parts = s.split_whitespace();
            if let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) {
                if let Some(fname) = interval_fn(unit) {
                    let v: i64 = n.parse().map_err(|_| {
                        self.not_impl(
                            t.start,
                            t.end,
                            format!("Unsupported interval count: '{n}' is not a valid integer"),
                        )
                    })?;
                    self.bump()?;
                    return Ok(call(
                        fname,
                        vec![constant(Value::Int(v), None)],
                        self.span_from(start),
                    ));
                }
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    format!("Unsupported interval unit: {unit}"),
                ));
            }
            if s.split_whitespace().count() != 1 {
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    "Unsupported interval type: must be in the format '<count> <unit>'",
                ));
            }
            // `interval '3' day`
            if !self.peek(1).kind.eq(&Tok::Word) || interval_fn(self.text(self.peek(1))).is_none() {
                return Err(self.not_impl(
                    t.start,
                    t.end,
                    "Unsupported interval type: must be in the format '<count> <unit>'",
                ));
            }
        }
        let n = self.expr_bp(91)?;
        let u = self.tok;
        if u.kind != Tok::Word {
            return Err(self.unexpected("interval unit"));
        }
        let Some(fname) =
            interval_fn(self.text(u)).filter(|_| !self.text(u).to_ascii_lowercase().ends_with('s'))
        else {
            return Err(self.unexpected("interval unit"));
        };
        self.bump()?;
        Ok(call(fname, vec![n], self.span_from(start)))
    }

    // ---------------------------------------------------------------- template strings

    fn template_string(&mut self) -> PResult<Node> {
        let t = self.tok; // f'
        let start = t.start;
        let b = self.src.as_bytes();
        let mut pos = t.end as usize;
        let mut parts: Vec<Node> = Vec::new();
        let mut buf = String::new();
        let mut buf_start = pos;
        loop {
            let Some(&c) = b.get(pos) else {
                return Err(self.err_at(
                    start,
                    self.src.len() as u32,
                    "unterminated template string",
                ));
            };
            match c {
                b'\\' => {
                    let esc_end =
                        (pos + 1 + self.src[pos + 1..].chars().next().map_or(0, char::len_utf8))
                            .min(b.len());
                    let piece = &self.src[pos..esc_end];
                    match unescape(piece, '\'') {
                        Ok(s) => buf.push_str(&s),
                        Err(_) => {
                            if piece == "\\{" || piece == "\\}" {
                                buf.push_str(&piece[1..]);
                            } else {
                                return Err(self.err_at(
                                    pos as u32,
                                    esc_end as u32,
                                    format!("unrecognised escape '{piece}'"),
                                ));
                            }
                        }
                    }
                    pos = esc_end;
                }

                b'\'' => {
                    if !buf.is_empty() || parts.is_empty() {
                        parts.push(constant(
                            Value::Str(std::mem::take(&mut buf)),
                            sp(buf_start as u32, pos as u32),
                        ));
                    }
                    pos += 1;
                    break;
                }
                b'{' => {
                    if !buf.is_empty() {
                        parts.push(constant(
                            Value::Str(std::mem::take(&mut buf)),
                            sp(buf_start as u32, pos as u32),
                        ));
                    }
                    self.last_end = (pos + 1) as u32;
                    self.tok = self.lex_from(pos + 1)?;
                    let e = self.expr()?;
                    if self.tok.kind != Tok::RBrace {
                        return Err(self.unexpected("}"));
                    }
                    pos = self.tok.end as usize;
                    parts.push(e);
                    buf_start = pos;
                }
                _ => {
                    let ch = self.src[pos..].chars().next().unwrap_or('\0');
                    buf.push(ch);
                    pos += ch.len_utf8();
                }
            }
        }
        self.last_end = pos as u32;
        self.tok = self.lex_from(pos)?;
        if parts.len() == 1 {
            let mut only = parts
                .pop()
                .unwrap_or_else(|| constant(Value::Str(String::new()), None));
            if only.kind == "Constant" && only.str("value").is_some_and(str::is_empty) {
                only.span = self.span_from(start);
            }
            return Ok(only);
        }
        Ok(call("concat", parts, self.span_from(start)))
    }

    // ---------------------------------------------------------------- HogQLX

    fn hogqlx_tag(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.hogqlx_tag_inner());
        self.leave();
        r
    }

    fn hogqlx_tag_inner(&mut self) -> PResult<Node> {
        let open = self.bump()?; // <
        let start = open.start;
        let kind = self.ident()?;
        let mut attrs = Vec::new();
        loop {
            if self.tok.kind == Tok::SlashGt {
                self.bump()?;
                return Ok(Node::new("HogQLXTag", self.span_from(start))
                    .with("attributes", Value::nodes(attrs))
                    .with("kind", Value::Str(kind)));
            }
            if self.tok.kind == Tok::Gt {
                break;
            }
            let at = self.tok;
            let name = self.ident()?;
            let value = if self.eat(Tok::Eq)? {
                match self.tok.kind {
                    Tok::Str => {
                        let s = self.bump()?;
                        let v = self.string_value(s)?;
                        Value::node(constant(Value::Str(v), sp(s.start, s.end)))
                    }
                    Tok::LBrace => {
                        self.bump()?;
                        let e = self.expr()?;
                        self.expect(Tok::RBrace, "}")?;
                        Value::node(e)
                    }
                    _ => {
                        return Err(
                            self.unexpected("string literal or `{expr}` for attribute value")
                        );
                    }
                }
            } else {
                Value::node(constant(Value::Bool(true), None))
            };
            attrs.push(
                Node::new("HogQLXAttribute", self.span_from(at.start))
                    .with("name", Value::Str(name))
                    .with("value", value),
            );
        }
        // children: raw text mode after '>'
        let gt = self.tok;
        let b = self.src.as_bytes();
        let mut pos = gt.end as usize;
        let mut children: Vec<Value> = Vec::new();
        loop {
            let text_start = pos;
            while pos < b.len() && b[pos] != b'<' && b[pos] != b'{' {
                pos += 1;
            }
            let text = &self.src[text_start..pos];
            if !text.trim().is_empty() {
                children.push(Value::node(constant(
                    Value::Str(text.to_string()),
                    sp(text_start as u32, pos as u32),
                )));
            }
            if pos >= b.len() {
                return Err(self.err_at(start, pos as u32, "unterminated HogQLX tag"));
            }
            if b[pos] == b'{' {
                self.last_end = (pos + 1) as u32;
                self.tok = self.lex_from(pos + 1)?;
                let e = self.expr()?;
                if self.tok.kind != Tok::RBrace {
                    return Err(self.unexpected("}"));
                }
                pos = self.tok.end as usize;
                children.push(Value::node(e));
                continue;
            }
            // '<'
            self.tok = self.lex_from(pos)?;
            if self.tok.kind == Tok::LtSlash {
                self.bump()?;
                let ct = self.tok;
                let close = self.ident()?;
                if close != kind {
                    return Err(self.err_at(
                        ct.start,
                        ct.end,
                        format!("closing tag </{close}> does not match opening tag <{kind}>"),
                    ));
                }
                if self.tok.kind != Tok::Gt {
                    return Err(self.unexpected(">"));
                }
                self.bump()?;
                break;
            }
            let child = self.hogqlx_tag()?;
            children.push(Value::node(child));
            pos = self.last_end as usize;
        }
        if !children.is_empty() {
            if attrs.iter().any(|a| a.str("name") == Some("children")) {
                return Err(self.err_at(
                    start,
                    self.last_end,
                    "can't have a HogQLX tag with both children and a 'children' attribute",
                ));
            }
            attrs.push(
                Node::new("HogQLXAttribute", None)
                    .with("name", Value::Str("children".into()))
                    .with("value", Value::List(children)),
            );
        }
        Ok(Node::new("HogQLXTag", self.span_from(start))
            .with("attributes", Value::nodes(attrs))
            .with("kind", Value::Str(kind)))
    }

    // ---------------------------------------------------------------- ORDER BY

    pub(crate) fn order_expr(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let e = self.expr()?;
        let mut order = "ASC";
        if self.eat_kw("desc")? || self.eat_kw("descending")? {
            order = "DESC";
        } else if self.eat_kw("asc")? || self.eat_kw("ascending")? {
        }
        if self.at_kw("nulls") {
            self.bump()?;
            if self.at_kw("first") || self.at_kw("last") {
                self.bump()?;
            }
        }
        if self.at_kw("collate") && self.peek(1).kind == Tok::Str {
            self.bump()?;
            self.bump()?;
        }
        let mut n = Node::new("OrderExpr", None)
            .with("expr", Value::node(e))
            .with("order", Value::Str(order.into()));
        if self.at_kw("with") && self.peek_kw(1, "fill") {
            let ws = self.bump()?.start;
            self.bump()?;
            let mut wf = Node::new("WithFillExpr", None);
            if self.eat_kw("from")? {
                wf.set("from_value", Value::node(self.expr()?));
            }
            if self.eat_kw("to")? {
                wf.set("to_value", Value::node(self.expr()?));
            }
            if self.eat_kw("step")? {
                wf.set("step_value", Value::node(self.expr()?));
            }
            if self.eat_kw("staleness")? {
                wf.set("staleness_value", Value::node(self.expr()?));
            }
            wf.span = self.span_from(ws);
            n.set("with_fill", Value::node(wf));
        }
        n.span = self.span_from(start);
        Ok(n)
    }

    fn order_list(&mut self) -> PResult<Vec<Node>> {
        let mut out = Vec::new();
        loop {
            out.push(self.order_expr()?);
            if !self.eat(Tok::Comma)? {
                break;
            }
        }
        Ok(out)
    }

    // ---------------------------------------------------------------- SELECT

    /// The `select` entry point: a select set or a HogQLX tag, then an optional `;`.
    pub(crate) fn select_entry(&mut self) -> PResult<Node> {
        let n = if self.tok.kind == Tok::Lt {
            self.hogqlx_tag()?
        } else {
            self.select_set()?
        };
        self.eat(Tok::Semi)?;
        Ok(n)
    }

    /// A select set (`select ... union all select ...`), possibly parenthesized, or a placeholder.
    pub(crate) fn select_set(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.select_set_inner());
        self.leave();
        r
    }

    fn select_set_inner(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let first = self.select_term()?;
        self.select_set_rest(start, first)
    }

    /// Does a set operator or a trailing ORDER BY / LIMIT / OFFSET start at the current token?
    fn at_set_continuation(&self) -> bool {
        self.at_kw("union")
            || self.at_kw("intersect")
            || self.at_kw("except")
            || (self.at_kw("order") && self.peek_kw(1, "by"))
            || self.at_kw("limit")
            || self.at_kw("offset")
    }

    /// Set operators and trailing ORDER BY / LIMIT / OFFSET after an already-parsed first term.
    fn select_set_rest(&mut self, start: u32, first: Node) -> PResult<Node> {
        let mut rest = Vec::new();
        loop {
            let op = if self.at_kw("union") {
                self.bump()?;
                if self.eat_kw("all")? {
                    "UNION ALL"
                } else {
                    self.eat_kw("distinct")?;
                    "UNION DISTINCT"
                }
            } else if self.at_kw("intersect") {
                self.bump()?;
                if self.eat_kw("distinct")? {
                    "INTERSECT DISTINCT"
                } else {
                    "INTERSECT"
                }
            } else if self.at_kw("except") {
                self.bump()?;
                if self.at_kw("distinct") || self.at_kw("all") {
                    return Err(self.err_at(
                        self.tok.start,
                        self.tok.end,
                        "EXCEPT takes no ALL/DISTINCT modifier",
                    ));
                }
                "EXCEPT"
            } else {
                break;
            };
            let mut op = op.to_string();
            if self.at_kw("by") && self.peek_kw(1, "name") {
                self.bump()?;
                self.bump()?;
                op.push_str(" BY NAME");
            }
            let q = self.select_term()?;
            rest.push(
                Node::new("SelectSetNode", None)
                    .with("select_query", Value::node(q))
                    .with("set_operator", Value::Str(op)),
            );
        }
        let mut node = if rest.is_empty() {
            first
        } else {
            Node::new("SelectSetQuery", None)
                .with("initial_select_query", Value::node(first))
                .with("subsequent_select_queries", Value::nodes(rest))
        };
        // trailing ORDER BY / LIMIT / OFFSET apply to the whole set
        self.set_limit_clauses(&mut node)?;
        if node.kind == "SelectSetQuery" {
            node.span = self.span_from(start);
        }
        Ok(node)
    }

    fn select_term(&mut self) -> PResult<Node> {
        match self.tok.kind {
            Tok::LParen => {
                let save = (self.tok, self.last_end);
                self.bump()?;
                if self.at_kw("select")
                    || self.at_kw("with")
                    || matches!(self.tok.kind, Tok::LParen | Tok::LBrace)
                {
                    let q = self.select_set()?;
                    self.expect(Tok::RParen, ")")?;
                    return Ok(q);
                }
                self.reset(save.0, save.1);
                Err(self.unexpected("SELECT"))
            }
            Tok::LBrace => {
                let (n, _) = self.prefix()?;
                if n.kind != "Placeholder" {
                    return Err(self.err_at(
                        n.span.map_or(0, |s| s.start),
                        self.last_end,
                        "expected a placeholder",
                    ));
                }
                Ok(n)
            }
            _ => self.select_stmt(),
        }
    }

    fn select_stmt(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut q = Node::new("SelectQuery", None);
        if self.at_kw("with") {
            self.bump()?;
            let recursive = self.eat_kw("recursive")?;
            let mut ctes = Vec::new();
            loop {
                ctes.push(self.cte(recursive)?);
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            q.set("ctes", Value::nodes(ctes));
        }
        self.expect_kw("select")?;
        if self.at_kw("distinct") && self.starts_operand(self.peek(1)) {
            self.bump()?;
            q.set("distinct", Value::Bool(true));
        }
        if self.at_kw("top") && self.peek(1).kind == Tok::Number {
            let ts = self.tok.start;
            self.bump()?;
            self.bump()?;
            if self.at_kw("with") && self.peek_kw(1, "ties") {
                self.bump()?;
                self.bump()?;
            }
            return Err(self.not_impl(ts, self.last_end, "Unsupported: SelectStmt.topClause()"));
        }
        let mut cols = Vec::new();
        loop {
            if self.at_kw("from")
                && (self.ident_tok(self.peek(1)) || self.peek(1).kind == Tok::LParen)
            {
                let t = self.tok;
                return Err(self.err_at(
                    t.start,
                    t.end,
                    "cannot use \"from\" before an implicit alias",
                ));
            }
            cols.push(self.column()?);
            if !self.eat(Tok::Comma)? {
                break;
            }
            if matches!(self.tok.kind, Tok::Eof | Tok::RParen | Tok::Semi)
                || [
                    "from",
                    "where",
                    "prewhere",
                    "group",
                    "having",
                    "order",
                    "limit",
                    "offset",
                    "union",
                    "intersect",
                    "except",
                    "window",
                    "qualify",
                    "settings",
                ]
                .iter()
                .any(|k| self.at_kw(k))
            {
                break;
            }
        }
        q.set("select", Value::nodes(cols));
        if self.eat_kw("from")? {
            let j = self.join_expr()?;
            q.set("select_from", Value::node(j));
        }
        // ARRAY JOIN
        let aj = if self.at_kw("array") && self.peek_kw(1, "join") {
            Some("ARRAY JOIN")
        } else if self.at_kw("left") && self.peek_kw(1, "array") && self.peek_kw(2, "join") {
            Some("LEFT ARRAY JOIN")
        } else if self.at_kw("inner") && self.peek_kw(1, "array") && self.peek_kw(2, "join") {
            Some("INNER ARRAY JOIN")
        } else {
            None
        };
        if let Some(op) = aj {
            if q.get("select_from").is_none() {
                let t = self.tok;
                return Err(self.err_at(
                    t.start,
                    t.end,
                    "using ARRAY JOIN without a FROM clause is not permitted",
                ));
            }
            while !self.at_kw("join") {
                self.bump()?;
            }
            self.bump()?;
            let mut list = Vec::new();
            loop {
                let e = self.expr()?;
                if e.kind != "Alias" {
                    let (s, en) = e
                        .span
                        .map_or((self.last_end, self.last_end), |s| (s.start, s.end));
                    return Err(self.err_at(s, en, "ARRAY JOIN arrays must have an alias"));
                }
                list.push(e);
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            q.set("array_join_list", Value::nodes(list));
            q.set("array_join_op", Value::Str(op.into()));
        }
        if self.eat_kw("prewhere")? {
            q.set("prewhere", Value::node(self.expr()?));
        }
        if self.eat_kw("where")? {
            q.set("where", Value::node(self.expr()?));
        }
        if self.at_kw("group") && self.peek_kw(1, "by") {
            self.bump()?;
            self.bump()?;
            self.group_by(&mut q)?;
        }
        if self.at_kw("with") && (self.peek_kw(1, "cube") || self.peek_kw(1, "rollup")) {
            self.bump()?;
            self.bump()?;
        }
        if self.at_kw("with") && self.peek_kw(1, "totals") {
            self.bump()?;
            self.bump()?;
        }
        if self.eat_kw("having")? {
            q.set("having", Value::node(self.expr()?));
        }
        if self.eat_kw("qualify")? {
            q.set("qualify", Value::node(self.expr()?));
        }
        if self.eat_kw("window")? {
            let mut map = Vec::new();
            loop {
                let name = self.ident()?;
                self.expect_kw("as")?;
                self.expect(Tok::LParen, "(")?;
                let w = self.window_spec()?;
                self.expect(Tok::RParen, ")")?;
                map.push((name, Value::node(w)));
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            q.set("window_exprs", Value::Map(map));
        }
        if self.at_kw("order") && self.peek_kw(1, "by") {
            self.bump()?;
            self.bump()?;
            let ob = self.order_list()?;
            q.set("order_by", Value::nodes(ob));
            if self.at_kw("interpolate") {
                self.bump()?;
                let mut items = Vec::new();
                if self.eat(Tok::LParen)? && !self.eat(Tok::RParen)? {
                    loop {
                        let s = self.tok.start;
                        let e = self.expr()?;
                        items.push(
                            Node::new("InterpolateExpr", self.span_from(s))
                                .with("expr", Value::node(e)),
                        );
                        if !self.eat(Tok::Comma)? {
                            break;
                        }
                    }
                    self.expect(Tok::RParen, ")")?;
                }
                q.set("interpolate", Value::nodes(items));
            }
        }
        self.limit_clauses(&mut q)?;
        if self.at_kw("settings") {
            let s = self.tok.start;
            self.bump()?;
            loop {
                self.ident()?;
                self.expect(Tok::Eq, "=")?;
                self.expr()?;
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            return Err(self.not_impl(
                s,
                self.last_end,
                "Unsupported: SelectStmt.settingsClause()",
            ));
        }
        q.span = self.span_from(start);
        Ok(q)
    }

    /// Statement-level `LIMIT n [OFFSET m] BY exprs` and `LIMIT n [, m] [WITH TIES]`. A plain
    /// `OFFSET` is left for the set level (PostHog attaches it to the whole set).
    fn limit_clauses(&mut self, q: &mut Node) -> PResult<()> {
        for _ in 0..2 {
            if !self.at_kw("limit") {
                break;
            }
            let save = (self.tok, self.last_end);
            self.bump()?;
            let ls = save.0.start;
            let n = self.expr()?;
            let mut offset = None;
            if self.eat(Tok::Comma)? {
                offset = Some(self.expr()?);
            } else if self.at_kw("offset") {
                let before = (self.tok, self.last_end);
                self.bump()?;
                let m = self.expr()?;
                if self.at_kw("by") {
                    offset = Some(m);
                } else {
                    self.reset(before.0, before.1);
                }
            }
            if self.at_kw("by") && q.get("limit_by").is_none() {
                self.bump()?;
                let mut exprs = Vec::new();
                loop {
                    exprs.push(self.expr()?);
                    if !self.eat(Tok::Comma)? {
                        break;
                    }
                }
                let mut lb = Node::new("LimitByExpr", None)
                    .with("exprs", Value::nodes(exprs))
                    .with("n", Value::node(n));
                if let Some(o) = offset {
                    lb.set("offset_value", Value::node(o));
                }
                lb.span = self.span_from(ls);
                q.set("limit_by", Value::node(lb));
                continue;
            }
            if q.get("limit").is_some() {
                self.reset(save.0, save.1);
                break;
            }
            q.set("limit", Value::node(n));
            if let Some(o) = offset {
                q.set("offset", Value::node(o));
            }
            if self.at_kw("with") && self.peek_kw(1, "ties") {
                self.bump()?;
                self.bump()?;
                q.set("limit_with_ties", Value::Bool(true));
            }
            return Ok(());
        }
        // `OFFSET m` without LIMIT belongs to the statement
        if q.get("limit").is_none() && q.get("offset").is_none() && self.eat_kw("offset")? {
            let o = self.expr()?;
            q.set("offset", Value::node(o));
        }
        Ok(())
    }

    /// Set-level trailing clauses: `ORDER BY` (accepted and dropped, as PostHog does), `LIMIT`,
    /// `OFFSET`. On a single select they merge into it.
    fn set_limit_clauses(&mut self, q: &mut Node) -> PResult<()> {
        if self.at_kw("order") && self.peek_kw(1, "by") {
            self.bump()?;
            self.bump()?;
            self.order_list()?;
        }
        if self.at_kw("limit") {
            self.bump()?;
            let n = self.expr()?;
            q.set("limit", Value::node(n));
            if self.eat(Tok::Comma)? || self.eat_kw("offset")? {
                let o = self.expr()?;
                q.set("offset", Value::node(o));
            }
            if self.at_kw("with") && self.peek_kw(1, "ties") {
                self.bump()?;
                self.bump()?;
                q.set("limit_with_ties", Value::Bool(true));
            }
        }
        if q.get("offset").is_none() && self.eat_kw("offset")? {
            let o = self.expr()?;
            q.set("offset", Value::node(o));
        }
        Ok(())
    }

    fn group_by(&mut self, q: &mut Node) -> PResult<()> {
        if self.at_kw("all") && !matches!(self.peek(1).kind, Tok::LParen | Tok::Dot) {
            self.bump()?;
            q.set("group_by_mode", Value::Str("all".into()));
            return Ok(());
        }
        if (self.at_kw("cube") || self.at_kw("rollup")) && self.peek(1).kind == Tok::LParen {
            let m = self.bump()?;
            self.bump()?;
            let exprs = self.expr_list_until(Tok::RParen, ")")?;
            q.set("group_by", Value::nodes(exprs));
            q.set(
                "group_by_mode",
                Value::Str(self.text(m).to_ascii_lowercase()),
            );
            return Ok(());
        }
        if self.at_kw("grouping") && self.peek_kw(1, "sets") {
            self.bump()?;
            self.bump()?;
            self.expect(Tok::LParen, "(")?;
            let mut sets = Vec::new();
            loop {
                let s = self.tok.start;
                let exprs = if self.eat(Tok::LParen)? {
                    self.expr_list_until(Tok::RParen, ")")?
                } else {
                    vec![self.expr()?]
                };
                sets.push(
                    Node::new("GroupingSet", self.span_from(s)).with("exprs", Value::nodes(exprs)),
                );
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            self.expect(Tok::RParen, ")")?;
            q.set("group_by", Value::nodes(sets));
            q.set("group_by_mode", Value::Str("grouping_sets".into()));
            return Ok(());
        }
        let mut exprs = Vec::new();
        loop {
            exprs.push(self.expr()?);
            if !self.eat(Tok::Comma)? {
                break;
            }
        }
        q.set("group_by", Value::nodes(exprs));
        Ok(())
    }

    fn column(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let e = self.expr()?;
        let t = self.tok;
        if t.kind == Tok::Word
            && self.ident_tok(t)
            && (!in_list(KEYWORDS, self.text(t)) || in_list(COLUMN_ALIAS_OK, self.text(t)))
        {
            self.bump()?;
            return Ok(Node::new("Alias", self.span_from(start))
                .with("alias", Value::Str(self.text(t).to_string()))
                .with("expr", Value::node(e)));
        }
        if matches!(t.kind, Tok::BacktickIdent | Tok::QuoteIdent) {
            self.bump()?;
            let name = self.ident_text(t)?;
            return Ok(Node::new("Alias", self.span_from(start))
                .with("alias", Value::Str(name))
                .with("expr", Value::node(e)));
        }
        Ok(e)
    }

    fn cte(&mut self, recursive: bool) -> PResult<Node> {
        let start = self.tok.start;
        // subquery form: name [(cols)] AS [NOT] [MATERIALIZED] (select)
        if self.ident_tok(self.tok) {
            let save = (self.tok, self.last_end);
            let name = self.ident()?;
            let mut cols = None;
            if self.tok.kind == Tok::LParen {
                // `name(a, b) AS (...)`, scanned token by token (linear in the column list)
                let mut a = self.next_tok(self.tok);
                let mut ok = false;
                loop {
                    if !self.ident_tok(a) {
                        break;
                    }
                    let b = self.next_tok(a);
                    if b.kind == Tok::Comma {
                        a = self.next_tok(b);
                        continue;
                    }
                    ok = b.kind == Tok::RParen && self.is_word(self.next_tok(b), "as");
                    break;
                }
                if ok {
                    self.bump()?;
                    let mut cs = Vec::new();
                    loop {
                        cs.push(Value::Str(self.ident()?));
                        if !self.eat(Tok::Comma)? {
                            break;
                        }
                    }
                    self.expect(Tok::RParen, ")")?;
                    cols = Some(cs);
                }
            }
            if self.at_kw("as") {
                let n1 = self.peek(1);
                let mut k = 1;
                if self.is_word(n1, "not") {
                    k += 1;
                }
                let materialized = self.is_word(self.peek(k), "materialized");
                if materialized {
                    k += 1;
                }
                if self.peek(k).kind == Tok::LParen && (k > 1 || self.starts_select_at(k + 1)) {
                    self.bump()?;
                    let not = self.eat_kw("not")?;
                    self.eat_kw("materialized")?;
                    self.expect(Tok::LParen, "(")?;
                    let q = self.select_set()?;
                    self.expect(Tok::RParen, ")")?;
                    let mut n = Node::new("CTE", None)
                        .with("cte_type", Value::Str("subquery".into()))
                        .with("expr", Value::node(q))
                        .with("name", Value::Str(name));
                    if let Some(c) = cols {
                        n.set("columns", Value::List(c));
                    }
                    if materialized && !not {
                        n.set("materialized", Value::Bool(true));
                    }
                    if recursive {
                        n.set("recursive", Value::Bool(true));
                    }
                    n.span = self.span_from(start);
                    return Ok(n);
                }
            }
            self.reset(save.0, save.1);
        }
        // column form: expr AS name
        let e = self.expr_bp(11)?;
        self.expect_kw("as")?;
        let name = self.ident()?;
        let mut n = Node::new("CTE", None)
            .with("cte_type", Value::Str("column".into()))
            .with("expr", Value::node(e))
            .with("name", Value::Str(name));
        if recursive {
            n.set("recursive", Value::Bool(true));
        }
        n.span = self.span_from(start);
        Ok(n)
    }

    fn starts_select_at(&mut self, k: usize) -> bool {
        let start = self.peek(k);
        let t = self.after_paren_run(start);
        self.is_word(t, "select") || self.is_word(t, "with") || t.kind == Tok::LBrace
    }

    // ---------------------------------------------------------------- FROM / JOIN

    /// A FROM clause. Its joins become a `next_join` list nested one level per join, so each
    /// join counts as a level of nesting (see [`Parser::expr_loop`]).
    fn join_expr(&mut self) -> PResult<Node> {
        let depth = self.depth;
        let r = self.join_expr_inner();
        self.depth = depth;
        r
    }

    fn join_expr_inner(&mut self) -> PResult<Node> {
        let mut first = self.table_expr()?;
        let mut joins: Vec<Node> = Vec::new();
        loop {
            if !joins.is_empty() {
                self.enter()?;
            }
            let s = self.tok.start;
            let jt: String;
            if self.eat(Tok::Comma)? {
                jt = "CROSS JOIN".into();
            } else if self.at_kw("cross") && self.peek_kw(1, "join") {
                self.bump()?;
                self.bump()?;
                jt = "CROSS JOIN".into();
            } else if self.at_kw("positional") && self.peek_kw(1, "join") {
                self.bump()?;
                self.bump()?;
                jt = "POSITIONAL JOIN".into();
            } else if let Some(t) = self.join_op()? {
                jt = t;
            } else {
                break;
            }
            let mut j = self.table_expr()?;
            if jt != "CROSS JOIN" && jt != "POSITIONAL JOIN" {
                let cs = self.tok.start;
                if self.eat_kw("on")? {
                    let e = self.expr()?;
                    if self.tok.kind == Tok::Comma
                        && !matches!(self.peek(1).kind, Tok::Eof)
                        && !self.peek_is_table_start()
                    {
                        return Err(self.not_impl(
                            self.tok.start,
                            self.tok.end,
                            "Unsupported: JOIN ... ON with multiple expressions",
                        ));
                    }
                    j.set(
                        "constraint",
                        Value::node(
                            Node::new("JoinConstraint", self.span_from(cs))
                                .with("constraint_type", Value::Str("ON".into()))
                                .with("expr", Value::node(e)),
                        ),
                    );
                } else if self.eat_kw("using")? {
                    let mut es = Vec::new();
                    loop {
                        es.push(self.expr()?);
                        if !self.eat(Tok::Comma)? {
                            break;
                        }
                    }
                    let e = if es.len() == 1 {
                        let mut e = es.pop().unwrap_or_else(|| constant(Value::Null, None));
                        if e.kind == "Tuple" {
                            e.span = None;
                        }
                        e
                    } else {
                        Node::new("Tuple", None).with("exprs", Value::nodes(es))
                    };
                    j.set(
                        "constraint",
                        Value::node(
                            Node::new("JoinConstraint", self.span_from(cs))
                                .with("constraint_type", Value::Str("USING".into()))
                                .with("expr", Value::node(e)),
                        ),
                    );
                }
            }
            j.set("join_type", Value::Str(jt));
            let _ = s;
            joins.push(j);
        }
        // link the list: first -> j1 -> j2 ...
        let mut acc: Option<Node> = None;
        while let Some(mut j) = joins.pop() {
            if let Some(a) = acc.take() {
                j.set("next_join", Value::node(a));
            }
            acc = Some(j);
        }
        if let Some(a) = acc {
            first.set("next_join", Value::node(a));
        }
        Ok(first)
    }

    fn peek_is_table_start(&self) -> bool {
        false
    }

    /// Parses a join operator ending in JOIN; returns the PostHog join_type string.
    fn join_op(&mut self) -> PResult<Option<String>> {
        let save = (self.tok, self.last_end);
        let mut words: Vec<String> = Vec::new();
        let mut natural = false;
        if self.at_kw("natural") {
            natural = true;
            self.bump()?;
        }
        for _ in 0..4 {
            let t = self.tok;
            if t.kind != Tok::Word {
                break;
            }
            let w = self.text(t).to_ascii_uppercase();
            if matches!(
                w.as_str(),
                "ALL"
                    | "ANY"
                    | "ASOF"
                    | "SEMI"
                    | "ANTI"
                    | "INNER"
                    | "LEFT"
                    | "RIGHT"
                    | "FULL"
                    | "OUTER"
            ) {
                words.push(w);
                self.bump()?;
            } else {
                break;
            }
        }
        if !self.at_kw("join") || (words.is_empty() && !natural && !self.at_kw("join")) {
            self.reset(save.0, save.1);
            return Ok(None);
        }
        self.bump()?;
        let dir = words
            .iter()
            .find(|w| matches!(w.as_str(), "LEFT" | "RIGHT" | "FULL" | "INNER"))
            .cloned();
        let outer = words.iter().any(|w| w == "OUTER");
        let strict = words
            .iter()
            .find(|w| matches!(w.as_str(), "ALL" | "ANY" | "ASOF" | "SEMI" | "ANTI"))
            .cloned();
        let s = match (dir.as_deref(), strict) {
            (None, None) => "JOIN".to_string(),
            (None, Some(st)) => format!("{st} INNER JOIN"),
            (Some("INNER"), None) => "INNER JOIN".into(),
            (Some("INNER"), Some(st)) => format!("{st} INNER JOIN"),
            (Some(d), st) => {
                let mut s = d.to_string();
                if outer {
                    s.push_str(" OUTER");
                }
                if let Some(st) = st {
                    s.push(' ');
                    s.push_str(&st);
                }
                s.push_str(" JOIN");
                s
            }
        };
        Ok(Some(s))
    }

    fn table_expr(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.table_expr_inner());
        self.leave();
        r
    }

    fn table_expr_inner(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut j = Node::new("JoinExpr", None);
        let t = self.tok;
        match t.kind {
            Tok::LParen => {
                self.bump()?;
                if self.at_kw("select")
                    || self.at_kw("with")
                    || matches!(self.tok.kind, Tok::LParen | Tok::LBrace)
                {
                    let q = self.select_set()?;
                    self.expect(Tok::RParen, ")")?;
                    j.set("table", Value::node(q));
                } else {
                    // parenthesized join expression
                    let inner = self.join_expr()?;
                    self.expect(Tok::RParen, ")")?;
                    j.set("table", Value::node(inner));
                }
            }
            Tok::LBrace => {
                let (n, _) = self.prefix()?;
                if n.kind != "Placeholder" {
                    return Err(self.err_at(
                        t.start,
                        self.last_end,
                        "expected a placeholder, not a dict",
                    ));
                }
                j.set("table", Value::node(n));
            }
            Tok::Lt => {
                let n = self.hogqlx_tag()?;
                j.set("table", Value::node(n));
            }
            _ => {
                let ts = self.tok.start;
                let mut chain = vec![Value::Str(self.ident()?)];
                while self.tok.kind == Tok::Dot && self.ident_tok(self.peek(1)) {
                    self.bump()?;
                    chain.push(Value::Str(self.ident()?));
                }
                let mut f = field(chain, self.span_from(ts));
                if self.tok.kind == Tok::LParen {
                    // table functions carry no span on their name
                    f.span = None;
                }
                j.set("table", Value::node(f));
                if self.tok.kind == Tok::LParen {
                    self.bump()?;
                    let args = self.expr_list_until(Tok::RParen, ")")?;
                    j.set("table_args", Value::nodes(args));
                }
            }
        }
        // PostHog's span covers alias, FINAL and SAMPLE, except for table functions (ends at `)`)
        let fn_end = j.get("table_args").is_some().then_some(self.last_end);
        if self.at_kw("as") {
            self.bump()?;
            let a = self.alias_name()?;
            j.set("alias", Value::Str(a));
        } else {
            let t = self.tok;
            let ok = match t.kind {
                Tok::Word => {
                    self.ident_tok(t)
                        && (!in_list(KEYWORDS, self.text(t))
                            || in_list(TABLE_ALIAS_OK, self.text(t)))
                }
                Tok::BacktickIdent | Tok::QuoteIdent => true,
                _ => false,
            };
            if ok {
                let a = self.ident()?;
                j.set("alias", Value::Str(a));
            }
        }
        if j.get("alias").is_some() && self.tok.kind == Tok::LParen {
            self.bump()?;
            let mut cs = Vec::new();
            loop {
                cs.push(Value::Str(self.ident()?));
                if !self.eat(Tok::Comma)? {
                    break;
                }
            }
            self.expect(Tok::RParen, ")")?;
            j.set("column_aliases", Value::List(cs));
        }
        if self.eat_kw("final")? {
            j.set("table_final", Value::Bool(true));
        }
        if self.at_kw("sample") {
            let ss = self.bump()?.start;
            let v = self.ratio()?;
            let mut s = Node::new("SampleExpr", None).with("sample_value", Value::node(v));
            if self.eat_kw("offset")? {
                let o = self.ratio()?;
                s.set("offset_value", Value::node(o));
            }
            s.span = self.span_from(ss);
            j.set("sample", Value::node(s));
        }
        j.span = sp(start, fn_end.unwrap_or(self.last_end));
        Ok(j)
    }

    fn ratio(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        if self.tok.kind == Tok::LBrace {
            let (n, _) = self.prefix()?;
            if n.kind != "Placeholder" {
                return Err(self.err_at(
                    start,
                    self.last_end,
                    "expected a placeholder, not a dict",
                ));
            }
            return Ok(n);
        }
        let l = self.expect(Tok::Number, "number")?;
        let left = self.number(l, false)?;
        let mut r = Node::new("RatioExpr", None).with("left", Value::node(left));
        if self.eat(Tok::Slash)? {
            let rt = self.expect(Tok::Number, "number")?;
            let right = self.number(rt, false)?;
            r.set("right", Value::node(right));
        }
        r.span = self.span_from(start);
        Ok(r)
    }
}

fn flatten_case(whens: Vec<Node>, thens: Vec<Node>) -> Vec<Node> {
    // PostHog's _caseWithExpression(subject, array(whens), array(thens), else) — but the parser
    // emits them flattened pairwise; keep `when, then` pairs.
    let mut out = Vec::new();
    for (w, t) in whens.into_iter().zip(thens) {
        out.push(w);
        out.push(t);
    }
    out
}

fn compare(l: Node, op: &str, r: Node, span: Option<Span>) -> Node {
    Node::new("CompareOperation", span)
        .with("left", Value::node(l))
        .with("op", Value::Str(op.into()))
        .with("right", Value::node(r))
}

fn is_distinct(l: Node, r: Node, negated: bool, span: Option<Span>) -> Node {
    let mut n = Node::new("IsDistinctFrom", span)
        .with("left", Value::node(l))
        .with("right", Value::node(r));
    if negated {
        n.set("negated", Value::Bool(true));
    }
    n
}

fn interval_fn(unit: &str) -> Option<&'static str> {
    let u = unit.to_ascii_lowercase();
    let u = u.strip_suffix('s').unwrap_or(&u);
    Some(match u {
        "second" => "toIntervalSecond",
        "minute" => "toIntervalMinute",
        "hour" => "toIntervalHour",
        "day" => "toIntervalDay",
        "week" => "toIntervalWeek",
        "month" => "toIntervalMonth",
        "quarter" => "toIntervalQuarter",
        "year" => "toIntervalYear",
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy)]
enum Infix {
    Arith(&'static str),
    Concat,
    Cmp(&'static str),
    In(bool),
    Between(bool),
    IsNull,
    IsDistinct,
    Spaceship,
    Nullish,
    And,
    Or,
    Ternary,
    As,
    IgnoreNulls,
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
