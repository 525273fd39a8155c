//! Hog programs: the `program` entry point (statements on top of the expression grammar).
//!
//! A program is a list of declarations: `let` declarations and statements (`return`, `throw`,
//! `try`/`catch`/`finally`, `if`/`else`, `while`, `for (;;)`, `for (let k, v in ...)`, `fn`/`fun`,
//! `:=` assignments, blocks and expression statements). Node names and fields follow PostHog's
//! AST (`Program.declarations`, `IfStatement.else_`, `ForInStatement.keyVar`,
//! `TryCatchStatement.catches` as `[name, type, block]` triples, ...).
//!
//! Statements nest under the same depth limit as expressions, and every statement form commits once
//! its header has parsed, so a program is parsed in linear work: `if (x) ...` falls back to an
//! expression statement (`if(a, b, c)`) only when the `(...)` header itself is not a condition.

use super::{List, PResult, Parser, RED_ZONE, STACK_SEGMENT, Trailing, sp};
use crate::ast::{Node, Value};
use crate::lexer::Tok;

/// Hog statement words that can never start an expression (they are not identifiers either).
const STATEMENT_ONLY: &[&str] = &[
    "let", "while", "fn", "fun", "throw", "try", "catch", "finally",
];

impl Parser<'_> {
    /// `program: declaration* EOF`. The program's span runs from its first token to the end of the
    /// source, as PostHog's parsers report it.
    pub(crate) fn program(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut decls = Vec::new();
        loop {
            while self.eat(Tok::Semi)? {}
            if self.tok.kind == Tok::Eof {
                break;
            }
            decls.push(self.declaration()?);
        }
        Ok(Node::new("Program", sp(start, self.src.len() as u32))
            .with("declarations", Value::nodes(decls)))
    }

    /// `declaration: varDecl | statement`.
    fn declaration(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            if self.at_kw("let") {
                self.var_decl()
            } else {
                self.statement_inner()
            }
        });
        self.leave();
        r
    }

    /// `varDecl: LET identifier (':=' expression)?`; a trailing `;` is left to the caller.
    fn var_decl(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        self.expect_kw("let")?;
        let name = self.ident()?;
        let mut d = Node::new("VariableDeclaration", None).with("name", Value::Str(name));
        if self.eat(Tok::Walrus)? {
            d.set("expr", Value::node(self.expr()?));
        }
        d.span = self.span_from(start);
        Ok(d)
    }

    /// One statement (the body of `if`, `while`, `for`), under the depth limit.
    fn statement(&mut self) -> PResult<Node> {
        self.enter()?;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.statement_inner());
        self.leave();
        r
    }

    fn statement_inner(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut n = if self.tok.kind == Tok::Semi {
            // emptyStmt: an expression statement without an expression
            self.bump()?;
            Node::new("ExprStatement", None)
        } else if self.at_kw("return") {
            self.return_stmt()?
        } else if self.at_kw("throw") {
            self.bump()?;
            let e = self.expr()?;
            self.eat(Tok::Semi)?;
            Node::new("ThrowStatement", None).with("expr", Value::node(e))
        } else if self.at_kw("try") {
            self.try_catch()?
        } else if self.at_kw("while") {
            self.bump()?;
            let cond = self.paren_condition()?;
            let body = self.statement()?;
            self.eat(Tok::Semi)?;
            Node::new("WhileStatement", None)
                .with("expr", Value::node(cond))
                .with("body", Value::node(body))
        } else if self.at_kw("fn") || self.at_kw("fun") {
            self.function()?
        } else if self.at_kw("if") && self.peek(1).kind == Tok::LParen {
            match self.header(|p| {
                p.bump()?;
                p.paren_condition()
            })? {
                Some(cond) => {
                    let then = self.statement()?;
                    let mut n = Node::new("IfStatement", None)
                        .with("expr", Value::node(cond))
                        .with("then", Value::node(then));
                    if self.eat_kw("else")? {
                        n.set("else_", Value::node(self.statement()?));
                    }
                    n
                }
                None => self.expr_or_assignment()?,
            }
        } else if self.at_kw("for") && self.peek(1).kind == Tok::LParen {
            match self.header(|p| p.for_header())? {
                Some(header) => {
                    let body = self.statement()?;
                    self.eat(Tok::Semi)?;
                    let mut n = header;
                    n.set("body", Value::node(body));
                    n
                }
                None => self.expr_or_assignment()?,
            }
        } else if self.tok.kind == Tok::LBrace {
            if let Some(b) = self.statement_block()? {
                return Ok(b);
            }
            self.expr_or_assignment()?
        } else {
            self.expr_or_assignment()?
        };
        n.span = self.span_from(start);
        Ok(n)
    }

    /// Parses a statement header with `attempt`; on a syntax error there (not past it, and not
    /// at the depth limit) rewinds and answers `None`, so the caller reads an expression instead.
    fn header(
        &mut self,
        attempt: impl FnOnce(&mut Self) -> PResult<Node>,
    ) -> PResult<Option<Node>> {
        let (tok, last_end) = (self.tok, self.last_end);
        match self.speculate(attempt) {
            Ok(n) => Ok(Some(n)),
            Err(e) if self.too_deep => Err(e),
            Err(_) => {
                self.reset(tok, last_end);
                Ok(None)
            }
        }
    }

    /// `( expression )` after `if` or `while`.
    fn paren_condition(&mut self) -> PResult<Node> {
        self.expect(Tok::LParen, "(")?;
        let cond = self.expr()?;
        self.expect(Tok::RParen, ")")?;
        Ok(cond)
    }

    /// `returnStmt: RETURN expression? ';'?`. The expression is read only when the next token
    /// can start one; a failed attempt leaves a bare `return` and the rest to the next statement.
    fn return_stmt(&mut self) -> PResult<Node> {
        self.bump()?;
        let mut r = Node::new("ReturnStatement", None);
        let t = self.tok;
        let ends = matches!(
            t.kind,
            Tok::Semi | Tok::RBrace | Tok::RParen | Tok::RBracket | Tok::Comma | Tok::Eof
        ) || STATEMENT_ONLY.iter().any(|w| self.is_word(t, w));
        if !ends {
            let last_end = self.last_end;
            match self.speculate(|p| p.expr()) {
                Ok(e) => r.set("expr", Value::node(e)),
                Err(e) if self.too_deep => return Err(e),
                Err(_) => self.reset(t, last_end),
            }
        }
        self.eat(Tok::Semi)?;
        Ok(r)
    }

    /// `for (init; cond; incr)` or `for (let [key,] value in expr)`, up to and including `)`:
    /// a `ForStatement` or `ForInStatement` without its body.
    fn for_header(&mut self) -> PResult<Node> {
        self.bump()?; // for
        self.expect(Tok::LParen, "(")?;
        if self.at_for_in() {
            self.bump()?; // let
            let first = self.ident()?;
            let (key, value) = if self.eat(Tok::Comma)? {
                (Some(first), self.ident()?)
            } else {
                (None, first)
            };
            self.expect_kw("in")?;
            let e = self.expr()?;
            self.expect(Tok::RParen, ")")?;
            let mut n = Node::new("ForInStatement", None)
                .with("valueVar", Value::Str(value))
                .with("expr", Value::node(e));
            if let Some(k) = key {
                n.set("keyVar", Value::Str(k));
            }
            return Ok(n);
        }
        let mut n = Node::new("ForStatement", None);
        if self.tok.kind != Tok::Semi {
            n.set("initializer", Value::node(self.for_clause()?));
        }
        self.expect(Tok::Semi, ";")?;
        if self.tok.kind != Tok::Semi {
            n.set("condition", Value::node(self.expr()?));
        }
        self.expect(Tok::Semi, ";")?;
        if self.tok.kind != Tok::RParen {
            n.set("increment", Value::node(self.for_clause()?));
        }
        self.expect(Tok::RParen, ")")?;
        Ok(n)
    }

    /// `let ident (, ident)? in` right after `for (`.
    fn at_for_in(&self) -> bool {
        if !self.at_kw("let") {
            return false;
        }
        let id = self.peek(1);
        if !self.ident_tok(id) {
            return false;
        }
        let after = self.next_tok(id);
        if self.is_word(after, "in") {
            return true;
        }
        if after.kind != Tok::Comma {
            return false;
        }
        let id2 = self.next_tok(after);
        self.ident_tok(id2) && self.is_word(self.next_tok(id2), "in")
    }

    /// A `for` initializer or increment: a `let`, an assignment or an expression.
    fn for_clause(&mut self) -> PResult<Node> {
        if self.at_kw("let") {
            return self.var_decl();
        }
        let start = self.tok.start;
        let e = self.expr()?;
        if self.eat(Tok::Walrus)? {
            let right = self.expr()?;
            return Ok(Node::new("VariableAssignment", self.span_from(start))
                .with("left", Value::node(e))
                .with("right", Value::node(right)));
        }
        Ok(e)
    }

    /// `funcStmt: (FN | FUN) identifier '(' identifierList? ')' block`; a parameter may be a dotted
    /// name, kept as one string.
    fn function(&mut self) -> PResult<Node> {
        self.bump()?;
        let name = self.ident()?;
        self.expect(Tok::LParen, "(")?;
        let list = List::closed(Tok::RParen, ")")
            .or_empty()
            .trailing(Trailing::BeforeClose);
        let params = self.comma_list(list, |p| {
            let mut parts = vec![p.ident()?];
            while p.eat(Tok::Dot)? {
                parts.push(p.ident()?);
            }
            Ok(Value::Str(parts.join(".")))
        })?;
        let body = self.block()?;
        Ok(Node::new("Function", None)
            .with("name", Value::Str(name))
            .with("params", Value::List(params))
            .with("body", Value::node(body)))
    }

    /// `tryCatchStmt: TRY block (CATCH ('(' identifier (':' identifier)? ')')? block)* (FINALLY block)?`
    fn try_catch(&mut self) -> PResult<Node> {
        self.bump()?;
        let body = self.block()?;
        let mut catches = Vec::new();
        while self.eat_kw("catch")? {
            let (mut var, mut ty) = (Value::Null, Value::Null);
            if self.eat(Tok::LParen)? {
                var = Value::Str(self.ident()?);
                if self.eat(Tok::Colon)? {
                    ty = Value::Str(self.ident()?);
                }
                self.expect(Tok::RParen, ")")?;
            }
            let block = self.block()?;
            catches.push(Value::List(vec![var, ty, Value::node(block)]));
        }
        let mut n = Node::new("TryCatchStatement", None)
            .with("try_stmt", Value::node(body))
            .with("catches", Value::List(catches));
        if self.eat_kw("finally")? {
            n.set("finally_stmt", Value::node(self.block()?));
        }
        Ok(n)
    }

    /// `block: '{' declaration* '}'`.
    pub(crate) fn block(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        self.expect(Tok::LBrace, "{")?;
        let mut decls = Vec::new();
        loop {
            while self.eat(Tok::Semi)? {}
            if self.tok.kind == Tok::RBrace || self.tok.kind == Tok::Eof {
                break;
            }
            decls.push(self.declaration()?);
        }
        self.expect(Tok::RBrace, "}")?;
        Ok(Node::new("Block", self.span_from(start)).with("declarations", Value::nodes(decls)))
    }

    /// A statement-leading `{`: a block, unless it does not read as one because of dict syntax
    /// (`{1: 2}`, `{a, b}` fail at the `:` or `,`) or a call or a property follows it (`{x}()`,
    /// `{x}.y`), which make it an expression. Any other failure is the block's own, so a program
    /// is never re-read as an expression past a broken block (which would be quadratic).
    fn statement_block(&mut self) -> PResult<Option<Node>> {
        let (tok, last_end) = (self.tok, self.last_end);
        match self.speculate(|p| p.block()) {
            Ok(b) if !matches!(self.tok.kind, Tok::LParen | Tok::Dot) => Ok(Some(b)),
            Ok(_) => {
                self.reset(tok, last_end);
                Ok(None)
            }
            Err(e) if self.too_deep => Err(e),
            Err(e) => {
                let at = e.offsets().0 as u32;
                let t = self.lex_from(at as usize)?;
                if t.start == at && matches!(t.kind, Tok::Colon | Tok::Comma) {
                    self.reset(tok, last_end);
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// `expression (':=' expression)? ';'?`: an assignment or an expression statement.
    fn expr_or_assignment(&mut self) -> PResult<Node> {
        let e = self.expr()?;
        if self.eat(Tok::Walrus)? {
            let right = self.expr()?;
            self.eat(Tok::Semi)?;
            return Ok(Node::new("VariableAssignment", None)
                .with("left", Value::node(e))
                .with("right", Value::node(right)));
        }
        self.eat(Tok::Semi)?;
        Ok(Node::new("ExprStatement", None).with("expr", Value::node(e)))
    }

    /// A lambda's `{ ... }` body: a block when it starts with `return`, `let` or `throw` or does
    /// not read as an expression, else the expression (`{x}` placeholder, a dict). A `{` whose
    /// expression reading failed is remembered (in `failed_subqueries`: a `{` never shares an
    /// offset with a `(`), so a re-parse goes straight to the block. Nested lambdas whose blocks
    /// fail as expressions are read twice per level: work within size times depth.
    pub(crate) fn lambda_brace_body(&mut self) -> PResult<Node> {
        let (tok, last_end) = (self.tok, self.last_end);
        let next = self.peek(1);
        if ["return", "let", "throw"]
            .iter()
            .any(|k| self.is_word(next, k))
            || self.failed_subqueries.contains(&tok.start)
        {
            return self.block();
        }
        match self.speculate(|p| p.expr()) {
            Ok(e) => Ok(e),
            Err(e) if self.too_deep => Err(e),
            Err(_) => {
                self.failed_subqueries.insert(tok.start);
                self.reset(tok, last_end);
                self.block()
            }
        }
    }
}
