//! Lexing ahead without consuming: what follows a run or a group of parentheses (cached, so that
//! nested groups stay linear), whether identifiers start a lambda, and which tokens can start an
//! operand or an infix operator.

use super::{Parser, in_list};
use crate::lexer::{Tok, Token};

impl Parser<'_> {
    /// `((select ...))`: is the `(` at the current token the start of a parenthesized select?
    pub(super) fn starts_select_in_parens(&mut self) -> bool {
        let t = self.after_paren_run(self.tok);
        self.is_word(t, "select") || self.is_word(t, "with")
    }

    /// The token after the token following `t`, lexed incrementally (errors become `Unknown`).
    pub(super) fn next_tok(&self, t: Token) -> Token {
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
    pub(super) fn after_paren_run(&mut self, t: Token) -> Token {
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
    pub(super) fn group_then_closer(&mut self, open: Token) -> bool {
        self.after_paren_group(open).is_some_and(|a| {
            matches!(
                a.kind,
                Tok::RParen | Tok::Comma | Tok::Eof | Tok::RBracket | Tok::RBrace
            )
        })
    }

    /// Is the current `distinct` word a DISTINCT modifier (rather than a column named distinct)?
    pub(super) fn distinct_modifier(&self) -> bool {
        let n = self.peek(1);
        !(matches!(n.kind, Tok::RParen | Tok::Comma | Tok::Dot)
            || (n.kind == Tok::Number && self.text(n).starts_with('.')))
    }

    /// Can `t` start an expression operand?
    pub(super) fn starts_operand(&self, t: Token) -> bool {
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
    pub(super) fn at_multi_lambda(&mut self) -> bool {
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

    pub(super) fn is_infix_start(&self, t: Token) -> bool {
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
}
