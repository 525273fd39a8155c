//! Operands (the prefix side of the Pratt parser): literals, unary signs, parentheses (tuples,
//! subqueries, lambdas), arrays, dicts and placeholders, `*` with EXCLUDE/REPLACE, and words,
//! among them the keywords that start a special form (`NOT`, `CASE`, `CAST`, `INTERVAL`, ...).

use super::{
    List, PResult, Parser, RED_ZONE, STACK_SEGMENT, Trailing, call, constant, field, in_list, sp,
};
use crate::ast::Node;
use crate::ast::Value;
use crate::lexer::Tok;

impl Parser<'_> {
    /// Parses a prefix expression; the flag says whether a following `.name` extends a Field chain.
    pub(super) fn prefix(&mut self) -> PResult<(Node, bool)> {
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
                let args = self.comma_list(List::BARE, Self::ident)?;
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
            let names = self.comma_list(List::closed(Tok::RParen, ")"), |p| {
                p.ident().map(Value::Str)
            })?;
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
            let items = self.comma_list(List::closed(Tok::RParen, ")"), |p| {
                let e = p.expr_bp(11)?;
                p.expect_kw("as")?;
                let name = p.ident()?;
                Ok((name, Value::node(e)))
            })?;
            return Ok((
                Node::new("ColumnsExpr", self.span_from(start))
                    .with("all_columns", Value::Bool(true))
                    .with("replace", Value::Map(items)),
                false,
            ));
        }
        Ok((f, false))
    }

    pub(super) fn expr_list_until(&mut self, close: Tok, what: &'static str) -> PResult<Vec<Node>> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            self.expr_list_until_inner(close, what)
        });
        self.no_alias = saved;
        r
    }

    fn expr_list_until_inner(&mut self, close: Tok, what: &'static str) -> PResult<Vec<Node>> {
        let list = List::closed(close, what)
            .or_empty()
            .trailing(Trailing::BeforeClose);
        self.comma_list(list, Self::expr)
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
            // the first item is already read: the first call hands it in
            let mut first = Some(first);
            let list = List::closed(Tok::RParen, ")").trailing(Trailing::BeforeClose);
            let exprs = self.comma_list(list, |p| match first.take() {
                Some(f) => Ok(f),
                None => p.expr(),
            })?;
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
        let args = self.comma_list(List::closed(Tok::RParen, ")"), Self::ident)?;
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
            // the first key is already read: the first call hands it in
            let mut first = Some(first);
            let list = List::closed(Tok::RBrace, "}").trailing(Trailing::BeforeClose);
            let items = self.comma_list(list, |p| {
                let k = match first.take() {
                    Some(k) => k,
                    None => p.expr()?,
                };
                p.expect(Tok::Colon, ":")?;
                let v = p.expr()?;
                Ok(Value::List(vec![Value::node(k), Value::node(v)]))
            })?;
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
            let args = self.comma_list(List::BARE, Self::ident)?;
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
                let args =
                    self.comma_list(List::closed(Tok::Colon, ":"), |p| p.ident().map(Value::Str))?;
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
            let args = self.comma_list(List::BARE, Self::ident)?;
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
}
