//! Hog program printer: statements back to Hog text that parses to the same tree (spans aside).
//!
//! Expressions go through the HogQL printer, wrapped in parentheses where a statement could
//! otherwise read them differently (a leading `{` would be a block, a leading `if (` a statement).
//! Simple statements end with `;`, so a following `(` never continues them as a call; so do blocks and
//! compound statements in a statement list.

use crate::ast::{Node, Value};
use crate::printer::{ident, print};

/// Prints a `Program` node (or a single statement) as Hog.
pub fn print_program(node: &Node) -> String {
    let mut out = String::with_capacity(128);
    if node.kind == "Program" {
        for d in node.list("declarations").iter().filter_map(Value::as_node) {
            declaration(&mut out, d);
            out.push('\n');
        }
    } else {
        statement(&mut out, node);
    }
    out
}

/// `{ declaration ... }`
pub(crate) fn block(out: &mut String, n: &Node) {
    out.push_str("{ ");
    for d in n.list("declarations").iter().filter_map(Value::as_node) {
        declaration(out, d);
        out.push(' ');
    }
    out.push('}');
}

/// A statement in a program or block. One that ends with `}` gets a `;` (skipped there), so a
/// following `(` or `.` does not turn a block into a called or accessed expression.
fn declaration(out: &mut String, n: &Node) {
    statement(out, n);
    if out.ends_with('}') {
        out.push(';');
    }
}

fn paren_expr(out: &mut String, n: Option<&Node>) {
    out.push('(');
    if let Some(e) = n {
        out.push_str(&print(e));
    }
    out.push(')');
}

fn target(out: &mut String, n: Option<&Node>) {
    // an assignment target is printed bare: `a.b`, `a[1]`, `t.1`
    if let Some(e) = n {
        out.push_str(&print(e));
    }
}

fn var_decl(out: &mut String, n: &Node) {
    out.push_str("let ");
    ident(out, n.str("name").unwrap_or_default());
    if let Some(e) = n.node("expr") {
        out.push_str(" := ");
        paren_expr(out, Some(e));
    }
}

fn assignment(out: &mut String, n: &Node) {
    target(out, n.node("left"));
    out.push_str(" := ");
    paren_expr(out, n.node("right"));
}

/// A `for` initializer or increment.
fn clause(out: &mut String, n: Option<&Node>) {
    match n {
        Some(c) if c.kind == "VariableDeclaration" => var_decl(out, c),
        Some(c) if c.kind == "VariableAssignment" => assignment(out, c),
        Some(c) => paren_expr(out, Some(c)),
        None => {}
    }
}

fn body(out: &mut String, n: Option<&Node>) {
    match n {
        Some(b) => statement(out, b),
        None => out.push(';'),
    }
}

fn statement(out: &mut String, n: &Node) {
    match n.kind {
        "VariableDeclaration" => {
            var_decl(out, n);
            out.push(';');
        }
        "VariableAssignment" => {
            assignment(out, n);
            out.push(';');
        }
        "ExprStatement" => {
            if n.node("expr").is_some() {
                paren_expr(out, n.node("expr"));
            }
            out.push(';');
        }
        "ReturnStatement" => {
            out.push_str("return");
            if let Some(e) = n.node("expr") {
                out.push(' ');
                paren_expr(out, Some(e));
            }
            out.push(';');
        }
        "ThrowStatement" => {
            out.push_str("throw ");
            paren_expr(out, n.node("expr"));
            out.push(';');
        }
        "IfStatement" => {
            out.push_str("if ");
            paren_expr(out, n.node("expr"));
            out.push(' ');
            body(out, n.node("then"));
            if let Some(e) = n.node("else_") {
                out.push_str(" else ");
                statement(out, e);
            }
        }
        "WhileStatement" => {
            out.push_str("while ");
            paren_expr(out, n.node("expr"));
            out.push(' ');
            body(out, n.node("body"));
        }
        "ForStatement" => {
            out.push_str("for (");
            clause(out, n.node("initializer"));
            out.push_str("; ");
            if let Some(c) = n.node("condition") {
                paren_expr(out, Some(c));
            }
            out.push_str("; ");
            clause(out, n.node("increment"));
            out.push_str(") ");
            body(out, n.node("body"));
        }
        "ForInStatement" => {
            out.push_str("for (let ");
            if let Some(k) = n.str("keyVar") {
                ident(out, k);
                out.push_str(", ");
            }
            ident(out, n.str("valueVar").unwrap_or_default());
            out.push_str(" in ");
            paren_expr(out, n.node("expr"));
            out.push_str(") ");
            body(out, n.node("body"));
        }
        "Function" => {
            out.push_str("fn ");
            ident(out, n.str("name").unwrap_or_default());
            out.push('(');
            for (i, p) in n.list("params").iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Value::Str(s) = p {
                    for (j, part) in s.split('.').enumerate() {
                        if j > 0 {
                            out.push('.');
                        }
                        ident(out, part);
                    }
                }
            }
            out.push_str(") ");
            body(out, n.node("body"));
        }
        "TryCatchStatement" => {
            out.push_str("try ");
            body(out, n.node("try_stmt"));
            for c in n.list("catches") {
                let Value::List(parts) = c else { continue };
                out.push_str(" catch ");
                if let Some(Value::Str(v)) = parts.first() {
                    out.push('(');
                    ident(out, v);
                    if let Some(Value::Str(t)) = parts.get(1) {
                        out.push_str(": ");
                        ident(out, t);
                    }
                    out.push_str(") ");
                }
                body(out, parts.get(2).and_then(Value::as_node));
            }
            if let Some(f) = n.node("finally_stmt") {
                out.push_str(" finally ");
                statement(out, f);
            }
        }
        "Block" => block(out, n),
        // an expression where a statement was expected
        _ => {
            paren_expr(out, Some(n));
            out.push(';');
        }
    }
}
