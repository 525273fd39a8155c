//! FROM: the join chain (linked through `next_join`), join operators and constraints, and table
//! expressions (tables, table functions, subqueries, placeholders, HogQLX tags) with their alias,
//! FINAL and SAMPLE.

use super::{
    KEYWORDS, List, PResult, Parser, RED_ZONE, STACK_SEGMENT, TABLE_ALIAS_OK, constant, field,
    in_list, sp,
};
use crate::ast::{Node, Value};
use crate::lexer::Tok;

impl Parser<'_> {
    /// A FROM clause. Its joins become a `next_join` list nested one level per join, so each
    /// join counts as a level of nesting (see [`Parser::expr_loop`]).
    pub(super) fn join_expr(&mut self) -> PResult<Node> {
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
                    let mut es = self.comma_list(List::BARE, Self::expr)?;
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
                if self.at_select_set() {
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
            let cs = self.comma_list(List::closed(Tok::RParen, ")"), |p| {
                p.ident().map(Value::Str)
            })?;
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
