//! Expressions: the entry point (with the memo that keeps speculative parses linear), the Pratt
//! loop with its postfix operators, call arguments, and the infix operators and their desugarings.

use super::{
    List, Memo, PResult, Parser, RED_ZONE, RESERVED, STACK_SEGMENT, Trailing, call, clone_result,
    constant, in_list, is_concat, is_field, memo_size, sp,
};
use crate::ast::{Node, Span, Value};
use crate::lexer::Tok;

impl Parser<'_> {
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
    pub(super) fn speculate<T>(
        &mut self,
        attempt: impl FnOnce(&mut Self) -> PResult<T>,
    ) -> PResult<T> {
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

    pub(super) fn expr_bp(&mut self, min_bp: u8) -> PResult<Node> {
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
    /// level of nesting: `1+1+…+1` with more terms than [`MAX_DEPTH`](super::MAX_DEPTH) is "too deeply nested"
    /// like as many parentheses, and every later walk of the tree (JSON, printing, lowering)
    /// stays bounded. `and`, `or` and `||` flatten into one node and do not count.
    pub(super) fn expr_loop(
        &mut self,
        lhs: Node,
        merge_chain: bool,
        start: u32,
        min_bp: u8,
    ) -> PResult<Node> {
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
    pub(super) fn call_args(&mut self) -> PResult<Vec<Node>> {
        let saved = std::mem::replace(&mut self.no_alias, false);
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.call_args_inner());
        self.no_alias = saved;
        r
    }

    fn call_args_inner(&mut self) -> PResult<Vec<Node>> {
        let list = List::closed(Tok::RParen, ")")
            .or_empty()
            .trailing(Trailing::BeforeClose);
        self.comma_list(list, Self::call_arg)
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
