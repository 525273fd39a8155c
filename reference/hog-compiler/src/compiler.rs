//! The compiler proper: one recursive walk over the parser's nodes, emitting bytecode.
//!
//! Scopes: each function (the program is one too) is a [`Frame`] with its stack slots (locals) and
//! upvalues. Jumps are relative to the operation after the jump's operand, as the VMs read them.

use std::collections::BTreeSet;

use hogql_parser::ast::{Node, Value as AstValue};
use hogql_parser::{LineIndex, Span};
use serde_json::Value;

use crate::op::Op;
use crate::{Diagnostic, Options, stl};

/// Nesting deep enough to need more stack runs on segments grown on demand.
const RED_ZONE: usize = 128 * 1024;
const STACK_SEGMENT: usize = 2 * 1024 * 1024;

#[derive(Debug)]
struct Local {
    name: String,
    depth: u32,
    captured: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Upvalue {
    index: usize,
    is_local: bool,
}

#[derive(Debug, Default)]
struct Frame {
    locals: Vec<Local>,
    upvalues: Vec<Upvalue>,
    depth: u32,
}

type Code = Vec<Value>;

fn op(o: Op) -> Value {
    Value::from(o.code())
}

/// `SQL` mode compiles nodes into `__hx_ast` dicts instead of running them (inside `sql(...)` and
/// `(select ...)`), until a placeholder `{...}` switches back to Hog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Hog,
    Ast,
}

pub(crate) struct Compiler<'a> {
    frames: Vec<Frame>,
    functions: BTreeSet<&'a str>,
    diags: Vec<Diagnostic>,
    index: &'a LineIndex,
    mode: Mode,
    /// Span of the nearest node with one, for nodes the parser synthesised.
    last_span: Option<Span>,
}

impl std::fmt::Debug for Compiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("frames", &self.frames.len())
            .field("diags", &self.diags)
            .finish()
    }
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(options: &'a Options, index: &'a LineIndex) -> Self {
        Compiler {
            frames: vec![Frame::default()],
            functions: options.functions.iter().map(String::as_str).collect(),
            diags: Vec::new(),
            index,
            mode: Mode::Hog,
            last_span: None,
        }
    }

    pub(crate) fn finish(self) -> Vec<Diagnostic> {
        self.diags
    }

    pub(crate) fn compile_root(&mut self, node: &Node) -> Code {
        self.visit(node)
    }

    fn error(&mut self, node: &Node, code: &'static str, message: impl Into<String>) {
        let span = node.span.or(self.last_span);
        let (start, end) = span.map_or((0, 0), |s| {
            (
                self.index.char_offset(s.start as usize),
                self.index.char_offset(s.end as usize),
            )
        });
        self.diags.push(Diagnostic {
            code,
            message: message.into(),
            start,
            end,
        });
    }

    fn frame(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    // ------------------------------------------------------------ scopes

    fn start_scope(&mut self) {
        self.frame().depth += 1;
    }

    fn end_scope(&mut self) -> Code {
        let frame = self.frame();
        frame.depth -= 1;
        let mut out = Vec::new();
        while let Some(local) = frame.locals.last() {
            if local.depth <= frame.depth {
                break;
            }
            out.push(op(if local.captured {
                Op::CloseUpvalue
            } else {
                Op::Pop
            }));
            frame.locals.pop();
        }
        out
    }

    fn declare(&mut self, node: &Node, name: &str) -> usize {
        let frame = self.frame();
        let depth = frame.depth;
        let clash = frame
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth >= depth)
            .any(|l| l.name == name);
        frame.locals.push(Local {
            name: name.to_string(),
            depth,
            captured: false,
        });
        let idx = frame.locals.len() - 1;
        if clash {
            self.error(
                node,
                "already-declared",
                format!("Variable `{name}` already declared in this scope"),
            );
        }
        idx
    }

    fn find_local(&self, name: &str) -> Option<usize> {
        self.frames
            .last()
            .and_then(|f| f.locals.iter().rposition(|l| l.name == name))
    }

    fn add_upvalue(&mut self, level: usize, index: usize, is_local: bool) -> usize {
        let up = Upvalue { index, is_local };
        let ups = &mut self.frames[level].upvalues;
        if let Some(i) = ups.iter().position(|u| *u == up) {
            return i;
        }
        ups.push(up);
        ups.len() - 1
    }

    /// The upvalue index of `name` for the function at `level`, capturing it in the enclosing one.
    fn resolve_upvalue(&mut self, level: usize, name: &str) -> Option<usize> {
        if level == 0 {
            return None;
        }
        let enclosing = level - 1;
        if let Some(i) = self.frames[enclosing]
            .locals
            .iter()
            .rposition(|l| l.name == name)
        {
            self.frames[enclosing].locals[i].captured = true;
            return Some(self.add_upvalue(level, i, true));
        }
        let up = self.resolve_upvalue(enclosing, name)?;
        Some(self.add_upvalue(level, up, false))
    }

    fn resolve_here(&mut self, name: &str) -> Option<usize> {
        let level = self.frames.len() - 1;
        self.resolve_upvalue(level, name)
    }

    // ------------------------------------------------------------ walk

    fn visit(&mut self, node: &Node) -> Code {
        if node.span.is_some() {
            self.last_span = node.span;
        }
        stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            if self.mode == Mode::Ast && node.kind != "Placeholder" {
                return self.hog_ast(node);
            }
            self.visit_hog(node)
        })
    }

    fn child(&mut self, node: &Node, key: &str) -> Code {
        match node.node(key) {
            Some(n) => self.visit(n),
            None => Vec::new(),
        }
    }

    fn children(&mut self, node: &Node, key: &str) -> (Code, usize) {
        let mut out = Vec::new();
        let mut n = 0;
        for v in node.list(key) {
            if let Some(c) = v.as_node() {
                out.extend(self.visit(c));
                n += 1;
            }
        }
        (out, n)
    }

    fn visit_hog(&mut self, node: &Node) -> Code {
        match node.kind {
            "Program" | "Block" => {
                self.start_scope();
                let (mut out, _) = self.children(node, "declarations");
                out.extend(self.end_scope());
                out
            }
            "And" | "Or" => {
                let (mut out, n) = self.children(node, "exprs");
                out.push(op(if node.kind == "And" { Op::And } else { Op::Or }));
                out.push(Value::from(n));
                out
            }
            "Not" => {
                let mut out = self.child(node, "expr");
                out.push(op(Op::Not));
                out
            }
            "CompareOperation" => self.compare(node),
            "ArithmeticOperation" => {
                let Some(o) = node.str("op").and_then(Op::arithmetic) else {
                    self.error(node, "unsupported", "unsupported arithmetic operation");
                    return Vec::new();
                };
                let mut out = self.child(node, "right");
                out.extend(self.child(node, "left"));
                out.push(op(o));
                out
            }
            "BetweenExpr" => {
                let (lo_op, hi_op, join) = if node.flag("negated") {
                    (Op::Lt, Op::Gt, Op::Or)
                } else {
                    (Op::GtEq, Op::LtEq, Op::And)
                };
                let mut out = self.child(node, "low");
                out.extend(self.child(node, "expr"));
                out.push(op(lo_op));
                out.extend(self.child(node, "high"));
                out.extend(self.child(node, "expr"));
                out.push(op(hi_op));
                out.push(op(join));
                out.push(Value::from(2));
                out
            }
            "Field" => self.field(node),
            "TupleAccess" => {
                let mut out = self.child(node, "tuple");
                out.push(op(Op::Integer));
                out.push(ast_scalar(node.get("index")));
                out.push(op(if node.flag("nullish") {
                    Op::GetPropertyNullish
                } else {
                    Op::GetProperty
                }));
                out
            }
            "ArrayAccess" => {
                if let Some(p) = node.node("property")
                    && p.kind == "Constant"
                    && p.get("value") == Some(&AstValue::Int(0))
                {
                    self.error(node, "array-index-zero", "Array access starts from 1");
                }
                let mut out = self.child(node, "array");
                out.extend(self.child(node, "property"));
                out.push(op(if node.flag("nullish") {
                    Op::GetPropertyNullish
                } else {
                    Op::GetProperty
                }));
                out
            }
            "Constant" => self.constant(node),
            "Call" => self.call(node),
            "ExprCall" => {
                let (mut out, n) = self.children(node, "args");
                out.extend(self.child(node, "expr"));
                out.push(op(Op::CallLocal));
                out.push(Value::from(n));
                out
            }
            "ExprStatement" => match node.node("expr") {
                None => Vec::new(),
                Some(e) => {
                    let mut out = self.visit(e);
                    out.push(op(Op::Pop));
                    out
                }
            },
            "ReturnStatement" => {
                let mut out = match node.node("expr") {
                    Some(e) => self.visit(e),
                    None => vec![op(Op::Null)],
                };
                out.push(op(Op::Return));
                out
            }
            "ThrowStatement" => {
                let mut out = self.child(node, "expr");
                out.push(op(Op::Throw));
                out
            }
            "TryCatchStatement" => self.try_catch(node),
            "IfStatement" => {
                let cond = self.child(node, "expr");
                let then = self.child(node, "then");
                let els = node.node("else_").map(|e| self.visit(e));
                if_else(cond, then, els)
            }
            "WhileStatement" => {
                let mut out = self.child(node, "expr");
                let body = self.child(node, "body");
                out.push(op(Op::JumpIfFalse));
                out.push(Value::from(body.len() + 2));
                out.extend(body);
                let back = -(out.len() as i64) - 2;
                out.push(op(Op::Jump));
                out.push(Value::from(back));
                out
            }
            "ForStatement" => self.for_loop(node),
            "ForInStatement" => self.for_in(node),
            "VariableDeclaration" => {
                let name = node.str("name").unwrap_or_default().to_string();
                self.declare(node, &name);
                match node.node("expr") {
                    Some(e) => self.visit(e),
                    None => vec![op(Op::Null)],
                }
            }
            "VariableAssignment" => self.assign(node),
            "Function" => self.function(node),
            "Lambda" => self.lambda(node),
            "Dict" => {
                let mut out = Vec::new();
                let mut n = 0;
                for item in node.list("items") {
                    if let AstValue::List(pair) = item {
                        for part in pair {
                            if let Some(p) = part.as_node() {
                                out.extend(self.visit(p));
                            }
                        }
                        n += 1;
                    }
                }
                out.push(op(Op::Dict));
                out.push(Value::from(n));
                out
            }
            "Array" | "Tuple" => {
                let (mut out, n) = self.children(node, "exprs");
                out.push(op(if node.kind == "Array" {
                    Op::Array
                } else {
                    Op::Tuple
                }));
                out.push(Value::from(n));
                out
            }
            "HogQLXTag" => self.hogqlx_tag(node),
            "SelectQuery" | "SelectSetQuery" => {
                let prev = std::mem::replace(&mut self.mode, Mode::Ast);
                let out = self.hog_ast(node);
                self.mode = prev;
                out
            }
            "Placeholder" => {
                if self.mode == Mode::Ast {
                    self.mode = Mode::Hog;
                    let out = self.child(node, "expr");
                    self.mode = Mode::Ast;
                    out
                } else {
                    self.error(
                        node,
                        "placeholder",
                        "Placeholders are not allowed in this context",
                    );
                    Vec::new()
                }
            }
            "Alias" => self.child(node, "expr"),
            other => {
                self.error(
                    node,
                    "unsupported",
                    format!("`{other}` can not be compiled to bytecode"),
                );
                Vec::new()
            }
        }
    }

    fn compare(&mut self, node: &Node) -> Code {
        let Some(o) = node.str("op").and_then(Op::compare) else {
            self.error(node, "unsupported", "unsupported comparison");
            return Vec::new();
        };
        if matches!(o, Op::InCohort | Op::NotInCohort) {
            let name = match node.node("right").and_then(|r| r.get("value")) {
                Some(AstValue::Int(i)) => format!(" (cohort id={i})"),
                Some(AstValue::Str(s)) => format!(" (cohort: {s})"),
                _ => String::new(),
            };
            self.error(
                node,
                "cohort",
                format!(
                    "Can't use cohorts in real-time filters. Please inline the relevant expressions{name}."
                ),
            );
            return Vec::new();
        }
        let mut out = self.child(node, "right");
        out.extend(self.child(node, "left"));
        out.push(op(o));
        out
    }

    fn constant(&mut self, node: &Node) -> Code {
        match node.get("value") {
            None | Some(AstValue::Null) => vec![op(Op::Null)],
            Some(AstValue::Bool(true)) => vec![op(Op::True)],
            Some(AstValue::Bool(false)) => vec![op(Op::False)],
            Some(AstValue::Int(i)) => vec![op(Op::Integer), Value::from(*i)],
            Some(AstValue::Float(f)) => match serde_json::Number::from_f64(*f) {
                Some(n) => vec![op(Op::Float), Value::Number(n)],
                None => {
                    self.error(
                        node,
                        "unsupported",
                        "non-finite float constants are not supported",
                    );
                    Vec::new()
                }
            },
            Some(AstValue::Str(s)) => {
                if node.str("value_type") == Some("number") {
                    self.error(
                        node,
                        "unsupported",
                        format!("constant `{s}` is not supported"),
                    );
                    return Vec::new();
                }
                vec![op(Op::String), Value::from(s.as_str())]
            }
            Some(_) => {
                self.error(node, "unsupported", "constant type is not supported");
                Vec::new()
            }
        }
    }

    /// A chain part as `INTEGER i` or `STRING s`.
    fn chain_part(part: &AstValue) -> [Value; 2] {
        match part {
            AstValue::Int(i) => [op(Op::Integer), Value::from(*i)],
            AstValue::Str(s) => [op(Op::String), Value::from(s.as_str())],
            other => [op(Op::String), ast_scalar(Some(other))],
        }
    }

    fn field(&mut self, node: &Node) -> Code {
        let chain = node.list("chain");
        let Some(AstValue::Str(first)) = chain.first() else {
            self.error(node, "unsupported", "empty field chain");
            return Vec::new();
        };
        let mut out = if let Some(i) = self.find_local(first) {
            vec![op(Op::GetLocal), Value::from(i)]
        } else if let Some(u) = self.resolve_here(first) {
            vec![op(Op::GetUpvalue), Value::from(u)]
        } else {
            let mut out = Vec::new();
            for part in chain.iter().rev() {
                out.push(op(Op::String));
                out.push(match part {
                    AstValue::Str(s) => Value::from(s.as_str()),
                    other => ast_scalar(Some(other)),
                });
            }
            out.push(op(Op::GetGlobal));
            out.push(Value::from(chain.len()));
            return out;
        };
        for part in &chain[1..] {
            out.extend(Self::chain_part(part));
            out.push(op(Op::GetProperty));
        }
        out
    }

    fn call(&mut self, node: &Node) -> Code {
        let name = node.str("name").unwrap_or_default().to_string();
        let args: Vec<&Node> = node
            .list("args")
            .iter()
            .filter_map(AstValue::as_node)
            .collect();
        let has_params = node.get("params").is_some();
        match (name.as_str(), args.len()) {
            ("not", 1) => {
                let mut out = self.visit(args[0]);
                out.push(op(Op::Not));
                return out;
            }
            ("and" | "or", n) if n > 1 && !has_params => {
                let mut out = Vec::new();
                for a in &args {
                    out.extend(self.visit(a));
                }
                out.push(op(if name == "and" { Op::And } else { Op::Or }));
                out.push(Value::from(n));
                return out;
            }
            ("if", 2 | 3) if !has_params => {
                let cond = self.visit(args[0]);
                let then = self.visit(args[1]);
                let els = args.get(2).map(|a| self.visit(a));
                return if_else(cond, then, els);
            }
            ("multiIf", n) if n >= 2 && !has_params => return self.multi_if(&args),
            ("ifNull", 2) if !has_params => {
                let mut out = self.visit(args[0]);
                let if_null = self.visit(args[1]);
                out.push(op(Op::JumpIfStackNotNull));
                out.push(Value::from(if_null.len() + 1));
                out.push(op(Op::Pop));
                out.extend(if_null);
                return out;
            }
            ("sql", 1) if !has_params => {
                let prev = std::mem::replace(&mut self.mode, Mode::Ast);
                let out = self.visit(args[0]);
                self.mode = prev;
                return out;
            }
            _ => {}
        }
        // `f(params)(args)`: the first set is `params`
        let first: Vec<&Node> = if has_params {
            node.list("params")
                .iter()
                .filter_map(AstValue::as_node)
                .collect()
        } else {
            args.clone()
        };
        let mut out = Vec::new();
        for a in &first {
            out.extend(self.visit(a));
        }
        if let Some(i) = self.find_local(&name) {
            out.extend([op(Op::GetLocal), Value::from(i)]);
            out.extend([op(Op::CallLocal), Value::from(first.len())]);
        } else if let Some(u) = self.resolve_here(&name) {
            out.extend([op(Op::GetUpvalue), Value::from(u)]);
            out.extend([op(Op::CallLocal), Value::from(first.len())]);
        } else {
            self.check_global_call(node, &name, first.len());
            out.extend([
                op(Op::CallGlobal),
                Value::from(name.as_str()),
                Value::from(first.len()),
            ]);
        }
        if has_params {
            let mut second = Vec::new();
            for a in &args {
                second.extend(self.visit(a));
            }
            second.extend(out);
            second.extend([op(Op::CallLocal), Value::from(args.len())]);
            return second;
        }
        out
    }

    fn check_global_call(&mut self, node: &Node, name: &str, argc: usize) {
        if self.functions.contains(name) {
            return;
        }
        match stl::arity(name) {
            None => self.error(
                node,
                "unknown-function",
                format!("Hog function `{name}` is not implemented"),
            ),
            Some((min, max)) => {
                if argc < min || max.is_some_and(|m| argc > m) {
                    let expected = match max {
                        Some(m) if m == min => format!("{min}"),
                        Some(m) => format!("{min} to {m}"),
                        None => format!("at least {min}"),
                    };
                    self.error(
                        node,
                        "wrong-arity",
                        format!("Function `{name}` expects {expected} argument(s), got {argc}"),
                    );
                }
            }
        }
    }

    fn multi_if(&mut self, args: &[&Node]) -> Code {
        if args.len() <= 3 {
            let cond = self.visit(args[0]);
            let then = self.visit(args[1]);
            let els = args.get(2).map(|a| self.visit(a));
            return if_else(cond, then, els);
        }
        let mut prev = if args.len().is_multiple_of(2) {
            None
        } else {
            Some(self.visit(args[args.len() - 1]))
        };
        let mut i = args.len() as i64 - 2 - (args.len() % 2) as i64;
        while i >= 0 {
            let cond = self.visit(args[i as usize]);
            let then = self.visit(args[i as usize + 1]);
            prev = Some(if_else(cond, then, prev));
            i -= 2;
        }
        prev.unwrap_or_default()
    }

    fn try_catch(&mut self, node: &Node) -> Code {
        if node.get("finally_stmt").is_some() {
            self.error(node, "finally", "finally blocks are not yet supported");
        }
        let catches = node.list("catches");
        if catches.is_empty() {
            self.error(
                node,
                "try-without-catch",
                "try statement must have at least one catch block",
            );
            return Vec::new();
        }
        let body = self.child(node, "try_stmt");
        let mut out = vec![op(Op::Try), Value::from(body.len() + 4)];
        out.extend(body);
        out.push(op(Op::PopTry));

        let mut ends = Vec::new();
        let mut handlers: Code = Vec::new();
        self.start_scope();
        let e = self.declare(node, "e");
        handlers.extend([
            op(Op::GetLocal),
            Value::from(e),
            op(Op::String),
            Value::from("type"),
            op(Op::GetProperty),
        ]);
        let ty = self.declare(node, "type");
        for catch in catches {
            let AstValue::List(parts) = catch else {
                continue;
            };
            let var = match parts.first() {
                Some(AstValue::Str(s)) => s.clone(),
                _ => "e".to_string(),
            };
            let kind = match parts.get(1) {
                Some(AstValue::Str(s)) => s.clone(),
                _ => "Error".to_string(),
            };
            let block = parts.get(2).and_then(AstValue::as_node);
            self.start_scope();
            let mut code = Vec::new();
            if var != "e" {
                self.declare(node, &var);
                code.extend([op(Op::GetLocal), Value::from(e)]);
            }
            if let Some(b) = block {
                code.extend(self.visit(b));
            }
            let end_scope = self.end_scope();
            let end_len = end_scope.len();
            code.extend(end_scope);
            if kind == "Error" {
                handlers.extend(code);
            } else {
                handlers.extend([
                    op(Op::String),
                    Value::from(kind.as_str()),
                    op(Op::GetLocal),
                    Value::from(ty),
                    op(Op::Eq),
                    op(Op::JumpIfFalse),
                    Value::from(code.len() + 2 - end_len),
                ]);
                handlers.extend(code);
            }
            handlers.extend([op(Op::Jump), Value::Null]);
            ends.push(handlers.len() - 1);
        }
        handlers.extend([op(Op::Pop), op(Op::Throw)]);
        let end_scope = self.end_scope();
        let end_len = end_scope.len();
        handlers.extend(end_scope);
        let total = handlers.len();
        for p in ends {
            handlers[p] = Value::from(total - p - end_len - 1);
        }
        out.extend([op(Op::Jump), Value::from(total)]);
        out.extend(handlers);
        out
    }

    fn for_loop(&mut self, node: &Node) -> Code {
        let scoped = node.get("initializer").is_some();
        if scoped {
            self.start_scope();
        }
        let init = self.child(node, "initializer");
        let cond = self.child(node, "condition");
        let incr = self.child(node, "increment");
        let body = self.child(node, "body");
        let mut out = init;
        out.extend(cond.iter().cloned());
        out.extend([
            op(Op::JumpIfFalse),
            Value::from(body.len() + incr.len() + 2),
        ]);
        let back = -((incr.len() + body.len() + 2 + cond.len() + 2) as i64);
        out.extend(body);
        out.extend(incr);
        out.extend([op(Op::Jump), Value::from(back)]);
        if scoped {
            out.extend(self.end_scope());
        }
        out
    }

    fn for_in(&mut self, node: &Node) -> Code {
        let mut out = Vec::new();
        self.start_scope();
        let key_var = node.str("keyVar").map(str::to_string);
        let value_var = node.str("valueVar").unwrap_or_default().to_string();
        let expr_local = self.declare(node, "__H_expr_H__");
        out.extend(self.child(node, "expr"));
        let keys_local = key_var.as_ref().map(|_| {
            let l = self.declare(node, "__H_keys_H__");
            out.extend(global_call1(expr_local, "keys"));
            l
        });
        let values_local = self.declare(node, "__H_values_H__");
        out.extend(global_call1(expr_local, "values"));
        let index_local = self.declare(node, "__H_index_H__");
        out.extend([op(Op::Integer), Value::from(1)]);
        let limit_local = self.declare(node, "__H_limit_H__");
        out.extend(global_call1(values_local, "length"));
        let key_local = key_var.as_ref().map(|k| {
            let l = self.declare(node, k);
            out.push(op(Op::Null));
            l
        });
        let value_local = self.declare(node, &value_var);
        out.push(op(Op::Null));

        let cond = [
            op(Op::GetLocal),
            Value::from(limit_local),
            op(Op::GetLocal),
            Value::from(index_local),
            op(Op::LtEq),
        ];
        let mut body = Vec::new();
        if let (Some(keys), Some(key)) = (keys_local, key_local) {
            body.extend(element_into(keys, index_local, key));
        }
        body.extend(element_into(values_local, index_local, value_local));
        body.extend(self.child(node, "body"));
        let incr = [
            op(Op::GetLocal),
            Value::from(index_local),
            op(Op::Integer),
            Value::from(1),
            op(Op::Plus),
            op(Op::SetLocal),
            Value::from(index_local),
        ];
        let back = -((incr.len() + body.len() + 2 + cond.len() + 2) as i64);
        out.extend(cond);
        out.extend([
            op(Op::JumpIfFalse),
            Value::from(body.len() + incr.len() + 2),
        ]);
        out.extend(body);
        out.extend(incr);
        out.extend([op(Op::Jump), Value::from(back)]);
        out.extend(self.end_scope());
        out
    }

    fn assign(&mut self, node: &Node) -> Code {
        let Some(left) = node.node("left") else {
            return Vec::new();
        };
        match left.kind {
            "TupleAccess" => {
                let mut out = self.child(left, "tuple");
                out.extend([op(Op::Integer), ast_scalar(left.get("index"))]);
                out.extend(self.child(node, "right"));
                out.push(op(Op::SetProperty));
                out
            }
            "ArrayAccess" => {
                let mut out = self.child(left, "array");
                out.extend(self.child(left, "property"));
                out.extend(self.child(node, "right"));
                out.push(op(Op::SetProperty));
                out
            }
            "Field" if !left.list("chain").is_empty() => {
                let chain = left.list("chain");
                let name = match &chain[0] {
                    AstValue::Str(s) => s.clone(),
                    _ => String::new(),
                };
                let (get, set) = if let Some(i) = self.find_local(&name) {
                    (Op::GetLocal, (Op::SetLocal, i))
                } else if let Some(u) = self.resolve_here(&name) {
                    (Op::GetUpvalue, (Op::SetUpvalue, u))
                } else {
                    self.error(
                        node,
                        "assign-to-global",
                        format!(
                            "Variable \"{name}\" not declared in this scope. Can not assign to globals."
                        ),
                    );
                    return Vec::new();
                };
                if chain.len() == 1 {
                    let mut out = self.child(node, "right");
                    out.extend([op(set.0), Value::from(set.1)]);
                    return out;
                }
                let mut out = vec![op(get), Value::from(set.1)];
                for part in &chain[1..chain.len() - 1] {
                    out.extend(Self::chain_part(part));
                    out.push(op(Op::GetProperty));
                }
                out.extend(Self::chain_part(&chain[chain.len() - 1]));
                out.extend(self.child(node, "right"));
                out.push(op(Op::SetProperty));
                out
            }
            _ => {
                self.error(
                    node,
                    "invalid-assignment",
                    "Can not assign to this type of expression",
                );
                Vec::new()
            }
        }
    }

    /// Compiles a function body in a new frame whose first locals are `params`; returns the
    /// body's bytecode and the frame's upvalues.
    fn function_body(
        &mut self,
        params: &[String],
        compile: impl FnOnce(&mut Self) -> Code,
    ) -> (Code, Vec<Upvalue>) {
        self.frames.push(Frame::default());
        for p in params {
            let frame = self.frame();
            frame.locals.push(Local {
                name: p.clone(),
                depth: 0,
                captured: false,
            });
        }
        let code = compile(self);
        let frame = self.frames.pop().unwrap_or_default();
        (code, frame.upvalues)
    }

    /// A block as a function body: an implicit `return null` unless it ends with a return.
    fn body_block(&mut self, block: &Node) -> Code {
        self.start_scope();
        let decls = block.list("declarations");
        let (mut out, _) = self.children(block, "declarations");
        let ends_with_return = decls
            .last()
            .and_then(AstValue::as_node)
            .is_some_and(|n| n.kind == "ReturnStatement");
        if !ends_with_return {
            out.extend([op(Op::Null), op(Op::Return)]);
        }
        out.extend(self.end_scope());
        out
    }

    fn function(&mut self, node: &Node) -> Code {
        let name = node.str("name").unwrap_or_default().to_string();
        let params: Vec<String> = node
            .list("params")
            .iter()
            .filter_map(|p| match p {
                AstValue::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        self.declare(node, &name);
        let (code, ups) = self.function_body(&params, |c| match node.node("body") {
            Some(b) if b.kind == "Block" => c.body_block(b),
            Some(b) => {
                let mut out = c.visit(b);
                out.extend([op(Op::Null), op(Op::Return)]);
                out
            }
            None => vec![op(Op::Null), op(Op::Return)],
        });
        closure(&name, params.len(), code, &ups)
    }

    fn lambda(&mut self, node: &Node) -> Code {
        let params: Vec<String> = node
            .list("args")
            .iter()
            .filter_map(|p| match p {
                AstValue::Str(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let (code, ups) = self.function_body(&params, |c| match node.node("expr") {
            Some(e) if e.kind == "Block" => c.body_block(e),
            Some(e) if e.kind == "Placeholder" => {
                let mut out = c.child(e, "expr");
                out.extend([op(Op::Pop), op(Op::Null), op(Op::Return)]);
                out
            }
            Some(e) if e.kind == "ReturnStatement" => c.visit(e),
            Some(e) => {
                let mut out = c.visit(e);
                out.push(op(Op::Return));
                out
            }
            None => vec![op(Op::Null), op(Op::Return)],
        });
        closure("lambda", params.len(), code, &ups)
    }

    fn hogqlx_tag(&mut self, node: &Node) -> Code {
        let kind = node.str("kind").unwrap_or_default().to_string();
        let callable = self.find_local(&kind).is_some() || self.resolve_here(&kind).is_some();
        let attrs: Vec<&Node> = node
            .list("attributes")
            .iter()
            .filter_map(AstValue::as_node)
            .collect();
        let mut out = Vec::new();
        if !callable {
            out.extend([op(Op::String), Value::from("__hx_tag")]);
            out.extend([op(Op::String), Value::from(kind.as_str())]);
        }
        for a in &attrs {
            out.extend([
                op(Op::String),
                Value::from(a.str("name").unwrap_or_default()),
            ]);
            out.extend(self.hogqlx_value(a.get("value")));
        }
        out.push(op(Op::Dict));
        if callable {
            out.push(Value::from(attrs.len()));
            let field = Node::new("Field", node.span)
                .with("chain", AstValue::List(vec![AstValue::Str(kind)]));
            out.extend(self.field(&field));
            out.extend([op(Op::CallLocal), Value::from(1)]);
        } else {
            out.push(Value::from(attrs.len() + 1));
        }
        out
    }

    fn hogqlx_value(&mut self, value: Option<&AstValue>) -> Code {
        match value {
            None | Some(AstValue::Null) => vec![op(Op::Null)],
            Some(AstValue::Node(n)) => self.visit(n),
            Some(AstValue::List(items)) => {
                let mut out = Vec::new();
                for i in items {
                    out.extend(self.hogqlx_value(Some(i)));
                }
                out.extend([op(Op::Array), Value::from(items.len())]);
                out
            }
            Some(AstValue::Map(items)) => {
                let mut out = Vec::new();
                for (k, v) in items {
                    out.extend([op(Op::String), Value::from(k.as_str())]);
                    out.extend(self.hogqlx_value(Some(v)));
                }
                out.extend([op(Op::Dict), Value::from(items.len())]);
                out
            }
            Some(AstValue::Str(s)) => vec![op(Op::String), Value::from(s.as_str())],
            // PostHog's Python checks `int` before `bool`, so booleans are `INTEGER true/false`
            Some(AstValue::Bool(b)) => vec![op(Op::Integer), Value::from(*b)],
            Some(AstValue::Int(i)) => vec![op(Op::Integer), Value::from(*i)],
            Some(AstValue::Float(f)) => match serde_json::Number::from_f64(*f) {
                Some(n) => vec![op(Op::Float), Value::Number(n)],
                None => vec![op(Op::Null)],
            },
        }
    }

    /// A node in SQL mode: a dict `{"__hx_ast": kind, field: value, ...}` in PostHog's field order
    /// where known (fields Hogref's AST leaves out as defaults are added back for `Field`).
    fn hog_ast(&mut self, node: &Node) -> Code {
        if node.kind == "HogQLXTag" {
            let kind = node.str("kind").unwrap_or_default();
            if self.find_local(kind).is_some() || self.resolve_here(kind).is_some() {
                return self.hogqlx_tag(node);
            }
        }
        let mut out = vec![
            op(Op::String),
            Value::from("__hx_ast"),
            op(Op::String),
            Value::from(node.kind),
        ];
        let mut fields = 1;
        for (key, value) in ordered_fields(node) {
            out.extend([op(Op::String), Value::from(key)]);
            out.extend(self.hogqlx_value(Some(value)));
            fields += 1;
        }
        if node.kind == "Field" {
            out.extend([
                op(Op::String),
                Value::from("from_asterisk"),
                op(Op::Integer),
                Value::from(false),
            ]);
            fields += 1;
        }
        out.extend([op(Op::Dict), Value::from(fields)]);
        out
    }
}

/// PostHog's dataclass field order for the nodes whose order is known; others keep parse order.
fn ordered_fields(node: &Node) -> Vec<(&'static str, &AstValue)> {
    let order: &[&str] = match node.kind {
        "ArithmeticOperation" | "CompareOperation" => &["left", "right", "op"],
        "SelectQuery" => &[
            "ctes",
            "select",
            "distinct",
            "select_from",
            "array_join_op",
            "array_join_list",
            "window_exprs",
            "where",
            "prewhere",
            "having",
            "group_by",
            "order_by",
            "limit",
            "limit_by",
            "limit_with_ties",
            "offset",
            "settings",
        ],
        "JoinExpr" => &[
            "join_type",
            "table",
            "table_args",
            "alias",
            "table_final",
            "constraint",
            "next_join",
            "sample",
        ],
        "JoinConstraint" => &["expr", "constraint_type"],
        "Call" => &["name", "args", "params", "distinct"],
        _ => &[],
    };
    let mut out: Vec<(&'static str, &AstValue)> = Vec::new();
    for key in order {
        if let Some((k, v)) = node.fields.iter().find(|(k, _)| k == key) {
            out.push((k, v));
        }
    }
    for (k, v) in &node.fields {
        if !order.contains(k) {
            out.push((k, v));
        }
    }
    out
}

fn ast_scalar(v: Option<&AstValue>) -> Value {
    match v {
        Some(AstValue::Int(i)) => Value::from(*i),
        Some(AstValue::Str(s)) => Value::from(s.as_str()),
        Some(AstValue::Bool(b)) => Value::from(*b),
        Some(AstValue::Float(f)) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        _ => Value::Null,
    }
}

fn if_else(cond: Code, then: Code, els: Option<Code>) -> Code {
    let mut out = cond;
    let skip = then.len() + if els.is_some() { 2 } else { 0 };
    out.extend([op(Op::JumpIfFalse), Value::from(skip)]);
    out.extend(then);
    if let Some(e) = els {
        out.extend([op(Op::Jump), Value::from(e.len())]);
        out.extend(e);
    }
    out
}

/// `GET_LOCAL local; CALL_GLOBAL name 1`
fn global_call1(local: usize, name: &str) -> [Value; 5] {
    [
        op(Op::GetLocal),
        Value::from(local),
        op(Op::CallGlobal),
        Value::from(name),
        Value::from(1),
    ]
}

/// `local_to := list[index]`
fn element_into(list: usize, index: usize, to: usize) -> [Value; 7] {
    [
        op(Op::GetLocal),
        Value::from(list),
        op(Op::GetLocal),
        Value::from(index),
        op(Op::GetProperty),
        op(Op::SetLocal),
        Value::from(to),
    ]
}

fn closure(name: &str, argc: usize, body: Code, ups: &[Upvalue]) -> Code {
    let mut out = vec![
        op(Op::Callable),
        Value::from(name),
        Value::from(argc),
        Value::from(ups.len()),
        Value::from(body.len()),
    ];
    out.extend(body);
    out.extend([op(Op::Closure), Value::from(ups.len())]);
    for u in ups {
        out.extend([Value::from(u.is_local), Value::from(u.index)]);
    }
    out
}
