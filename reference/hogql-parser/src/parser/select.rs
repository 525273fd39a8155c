//! SELECT: ORDER BY elements, the select entry point, select sets and set operators, and the
//! select statement with its clauses (columns, CTEs, ARRAY JOIN, WHERE, GROUP BY, HAVING, WINDOW,
//! ORDER BY, LIMIT/OFFSET, SETTINGS).

use super::{
    COLUMN_ALIAS_OK, KEYWORDS, List, PResult, Parser, RED_ZONE, STACK_SEGMENT, Trailing, in_list,
};
use crate::ast::{Node, Value};
use crate::lexer::Tok;

impl Parser<'_> {
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

    pub(super) fn order_list(&mut self) -> PResult<Vec<Node>> {
        self.comma_list(List::BARE, Self::order_expr)
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
    pub(super) fn at_set_continuation(&self) -> bool {
        self.at_kw("union")
            || self.at_kw("intersect")
            || self.at_kw("except")
            || (self.at_kw("order") && self.peek_kw(1, "by"))
            || self.at_kw("limit")
            || self.at_kw("offset")
    }

    /// Set operators and trailing ORDER BY / LIMIT / OFFSET after an already-parsed first term.
    pub(super) fn select_set_rest(&mut self, start: u32, first: Node) -> PResult<Node> {
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

    /// After a `(`: can a select set start here (`select`, `with`, a nested `(` or a placeholder)?
    pub(super) fn at_select_set(&self) -> bool {
        self.at_kw("select")
            || self.at_kw("with")
            || matches!(self.tok.kind, Tok::LParen | Tok::LBrace)
    }

    fn select_term(&mut self) -> PResult<Node> {
        match self.tok.kind {
            Tok::LParen => {
                let save = (self.tok, self.last_end);
                self.bump()?;
                if self.at_select_set() {
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

    /// After a comma in the column list: does the list end here (a trailing comma)?
    fn ends_columns(&self) -> bool {
        matches!(self.tok.kind, Tok::Eof | Tok::RParen | Tok::Semi)
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
    }

    fn select_stmt(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut q = Node::new("SelectQuery", None);
        if self.at_kw("with") {
            self.bump()?;
            let recursive = self.eat_kw("recursive")?;
            let ctes = self.comma_list(List::BARE, |p| p.cte(recursive))?;
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
        let list = List::BARE.trailing(Trailing::When(|p| p.ends_columns()));
        let cols = self.comma_list(list, |p| {
            if p.at_kw("from") && (p.ident_tok(p.peek(1)) || p.peek(1).kind == Tok::LParen) {
                let t = p.tok;
                return Err(p.err_at(
                    t.start,
                    t.end,
                    "cannot use \"from\" before an implicit alias",
                ));
            }
            p.column()
        })?;
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
            let list = self.comma_list(List::BARE, |p| {
                let e = p.expr()?;
                if e.kind != "Alias" {
                    let (s, en) = e
                        .span
                        .map_or((p.last_end, p.last_end), |s| (s.start, s.end));
                    return Err(p.err_at(s, en, "ARRAY JOIN arrays must have an alias"));
                }
                Ok(e)
            })?;
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
            let map = self.comma_list(List::BARE, |p| {
                let name = p.ident()?;
                p.expect_kw("as")?;
                p.expect(Tok::LParen, "(")?;
                let w = p.window_spec()?;
                p.expect(Tok::RParen, ")")?;
                Ok((name, Value::node(w)))
            })?;
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
                if self.eat(Tok::LParen)? {
                    items = self.comma_list(List::closed(Tok::RParen, ")").or_empty(), |p| {
                        let s = p.tok.start;
                        let e = p.expr()?;
                        Ok(Node::new("InterpolateExpr", p.span_from(s))
                            .with("expr", Value::node(e)))
                    })?;
                }
                q.set("interpolate", Value::nodes(items));
            }
        }
        self.limit_clauses(&mut q)?;
        if self.at_kw("settings") {
            let s = self.tok.start;
            self.bump()?;
            self.comma_list(List::BARE, |p| {
                p.ident()?;
                p.expect(Tok::Eq, "=")?;
                p.expr()
            })?;
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
                let exprs = self.comma_list(List::BARE, Self::expr)?;
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
            let sets = self.comma_list(List::closed(Tok::RParen, ")"), |p| {
                let s = p.tok.start;
                let exprs = if p.eat(Tok::LParen)? {
                    p.expr_list_until(Tok::RParen, ")")?
                } else {
                    vec![p.expr()?]
                };
                Ok(Node::new("GroupingSet", p.span_from(s)).with("exprs", Value::nodes(exprs)))
            })?;
            q.set("group_by", Value::nodes(sets));
            q.set("group_by_mode", Value::Str("grouping_sets".into()));
            return Ok(());
        }
        let exprs = self.comma_list(List::BARE, Self::expr)?;
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
                    let cs = self.comma_list(List::closed(Tok::RParen, ")"), |p| {
                        p.ident().map(Value::Str)
                    })?;
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
}
