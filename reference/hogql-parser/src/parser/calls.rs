//! Function calls (parameters, DISTINCT, and the FILTER / WITHIN GROUP / OVER suffixes), window
//! specifications and frames, type names for `CAST`, and `CASE`, which desugars into a call.

use super::{List, PResult, Parser, Trailing, call, constant, sp};
use crate::ast::{Node, Value};
use crate::lexer::Tok;

impl Parser<'_> {
    pub(super) fn function_call(&mut self, name: &str, start: u32) -> PResult<Node> {
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
    pub(super) fn call_suffix(&mut self, mut c: Node, start: u32) -> PResult<Node> {
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

    pub(super) fn window_spec(&mut self) -> PResult<Node> {
        let start = self.tok.start;
        let mut w = Node::new("WindowExpr", None);
        if self.at_kw("partition") {
            self.bump()?;
            self.expect_kw("by")?;
            // a trailing comma may stand before the `)` that closes the window spec
            let list = List::BARE.trailing(Trailing::When(|p| p.tok.kind == Tok::RParen));
            let ps = self.comma_list(list, Self::expr)?;
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

    pub(super) fn type_spec(&mut self) -> PResult<String> {
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

    pub(super) fn type_args(&mut self) -> PResult<String> {
        self.expect(Tok::LParen, "(")?;
        let parts = self.comma_list(List::closed(Tok::RParen, ")").or_empty(), |p| {
            let t = p.tok;
            match t.kind {
                Tok::Str | Tok::Number => {
                    p.bump()?;
                    Ok(p.text(t).to_string())
                }
                _ => p.type_spec(),
            }
        })?;
        Ok(format!("({})", parts.join(", ")))
    }

    pub(super) fn case(&mut self) -> PResult<Node> {
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
