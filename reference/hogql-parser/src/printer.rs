//! HogQL printer: turns an AST back into HogQL text that parses to the same AST (modulo spans).
//!
//! The output is deliberately over-parenthesised: every compound expression is wrapped, so
//! precedence never changes the tree on the way back.

use std::fmt::Write as _;

use crate::ast::{Node, Value};

/// Prints `node` (an expression, ORDER BY element, select or set of selects) as HogQL.
pub fn print(node: &Node) -> String {
    // selects come out parenthesised, which both the `select` and the `expr` entry points accept
    let mut out = String::with_capacity(64);
    p_node(&mut out, node);
    out
}

/// Nodes whose printed form takes a postfix (`[i]`, `.1`) without extra parentheses.
fn is_atomic(n: &Node) -> bool {
    match n.kind {
        "Field" => !n
            .list("chain")
            .iter()
            .any(|v| matches!(v, Value::Str(s) if s == "*")),
        "Call" | "ArrayAccess" | "TupleAccess" | "ArraySlice" | "Array" | "Placeholder" => true,
        _ => false,
    }
}

/// Like [`postfix_base`], but a constant is written bare; says whether it was one.
fn constant_or_postfix_base(out: &mut String, n: &Node, key: &str) -> bool {
    match n.node(key) {
        Some(c) if c.kind == "Constant" => {
            p_node(out, c);
            true
        }
        _ => {
            postfix_base(out, n, key);
            false
        }
    }
}

fn postfix_base(out: &mut String, n: &Node, key: &str) {
    match n.node(key) {
        Some(c) if is_atomic(c) => p_node(out, c),
        Some(c) => {
            out.push('(');
            p_node(out, c);
            out.push(')');
        }
        None => {}
    }
}

/// Binding power of a node's outermost operator (as the parser sees it), for bare printing.
fn prec(n: &Node) -> u8 {
    if is_unary_minus(n) {
        return 120;
    }
    match n.kind {
        "ArithmeticOperation" => match n.str("op") {
            Some("*" | "/" | "%") => 110,
            _ => 100,
        },
        "CompareOperation" if n.flag("is_null_comparison_style") => 85,
        "CompareOperation" => 90,
        "IsDistinctFrom" => 80,
        "BetweenExpr" => 65,
        "Not" => 60,
        _ => 255,
    }
}

/// `0 - x` as the parser builds it for `-x`.
fn is_unary_minus(n: &Node) -> bool {
    n.kind == "ArithmeticOperation"
        && n.str("op") == Some("-")
        && n.node("left")
            .is_some_and(|l| l.kind == "Constant" && l.get("value") == Some(&Value::Int(0)))
}

/// Prints `n` without outer parentheses when its operator binds at least as tightly as `min`,
/// recursing down the left spine. `NOT (` reads as a call to `not` in PostHog's grammar, so the
/// operand of NOT must not start with a parenthesis.
fn spine(out: &mut String, n: &Node, min: u8) {
    let p = prec(n);
    if p == 255 || p < min {
        p_node(out, n);
        return;
    }
    if is_unary_minus(n) {
        // `-(x)` parses to the same `0 - x` and, unlike `(0 - x)`, does not start with `(`
        out.push_str("-(");
        child(out, n, "right");
        out.push(')');
        return;
    }
    match n.kind {
        "Not" => {
            out.push_str("NOT ");
            not_operand(out, n);
        }
        "BetweenExpr" => {
            if let Some(c) = n.node("expr") {
                spine(out, c, 65);
            }
            out.push_str(if n.flag("negated") {
                " NOT BETWEEN ("
            } else {
                " BETWEEN ("
            });
            child(out, n, "low");
            out.push_str(") AND (");
            child(out, n, "high");
            out.push(')');
        }
        "CompareOperation" if n.flag("is_null_comparison_style") => {
            if let Some(c) = n.node("left") {
                spine(out, c, 85);
            }
            out.push_str(if n.str("op") == Some("!=") {
                " IS NOT NULL"
            } else {
                " IS NULL"
            });
        }
        _ => {
            if let Some(c) = n.node("left") {
                spine(out, c, p);
            }
            if n.kind == "IsDistinctFrom" {
                out.push_str(if n.flag("negated") {
                    " IS NOT DISTINCT FROM "
                } else {
                    " IS DISTINCT FROM "
                });
            } else {
                out.push(' ');
                out.push_str(n.str("op").unwrap_or_default());
                out.push(' ');
            }
            child(out, n, "right");
        }
    }
}

fn is_plain_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b'$')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$')
        && !crate::parser::is_keyword(s)
}

pub(crate) fn ident(out: &mut String, s: &str) {
    if is_plain_ident(s) {
        out.push_str(s);
        return;
    }
    out.push('`');
    for c in s.chars() {
        match c {
            '`' => out.push_str("``"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('`');
}

fn string(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

fn list(out: &mut String, items: &[Value]) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        p_value(out, v);
    }
}

fn p_value(out: &mut String, v: &Value) {
    match v {
        Value::Node(n) => p_node(out, n),
        Value::List(l) => list(out, l),
        Value::Str(s) => string(out, s),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Float(f) => {
            let _ = write!(out, "{f:?}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("NULL"),
        Value::Map(_) => {}
    }
}

fn child(out: &mut String, n: &Node, key: &str) {
    if let Some(c) = n.node(key) {
        p_node(out, c);
    }
}

fn paren_child(out: &mut String, n: &Node, key: &str) {
    out.push('(');
    child(out, n, key);
    out.push(')');
}

/// Grows the stack on demand (the recursion is once per tree level, and the parser bounds the
/// depth but not to what a small thread's stack holds).
fn p_node(out: &mut String, n: &Node) {
    stacker::maybe_grow(64 * 1024, 1024 * 1024, || p_node_here(out, n));
}

fn p_node_here(out: &mut String, n: &Node) {
    match n.kind {
        "Constant" => match (n.get("value"), n.str("value_type")) {
            (Some(Value::Str(s)), Some("number")) => match s.as_str() {
                "Infinity" => out.push_str("inf"),
                "-Infinity" => out.push_str("-inf"),
                "NaN" => out.push_str("nan"),
                raw => out.push_str(raw),
            },
            (Some(v), _) => p_value(out, v),
            (None, _) => out.push_str("NULL"),
        },
        "Field" => {
            for (i, v) in n.list("chain").iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                match v {
                    Value::Str(s) if s == "*" => out.push('*'),
                    Value::Str(s) => ident(out, s),
                    other => p_value(out, other),
                }
            }
        }
        "Alias" => {
            out.push('(');
            paren_child(out, n, "expr");
            out.push_str(" AS ");
            ident(out, n.str("alias").unwrap_or_default());
            out.push(')');
        }
        "Call" => {
            out.push_str(n.str("name").unwrap_or_default());
            if n.get("params").is_some() {
                out.push('(');
                list(out, n.list("params"));
                out.push(')');
            }
            if n.get("within_group").is_some() {
                // WITHIN GROUP keeps the call's own arguments in `params`
                out.push_str(" WITHIN GROUP (ORDER BY ");
                list(out, n.list("within_group"));
                out.push(')');
                return;
            }
            out.push('(');
            if n.flag("distinct") {
                out.push_str("DISTINCT ");
            }
            list(out, n.list("args"));
            out.push(')');
            if n.get("within_group").is_some() {
                out.push_str(" WITHIN GROUP (ORDER BY ");
                list(out, n.list("within_group"));
                out.push(')');
            }
            if let Some(f) = n.node("filter_expr") {
                out.push_str(" FILTER (WHERE ");
                p_node(out, f);
                out.push(')');
            }
        }
        "ExprCall" => {
            paren_child(out, n, "expr");
            out.push('(');
            list(out, n.list("args"));
            out.push(')');
        }
        "ArithmeticOperation" | "CompareOperation" => {
            out.push('(');
            child(out, n, "left");
            if n.flag("is_null_comparison_style") {
                out.push_str(if n.str("op") == Some("!=") {
                    " IS NOT NULL)"
                } else {
                    " IS NULL)"
                });
                return;
            }
            out.push(' ');
            out.push_str(n.str("op").unwrap_or_default());
            out.push(' ');
            child(out, n, "right");
            out.push(')');
        }
        "And" | "Or" => {
            out.push('(');
            let sep = if n.kind == "And" { " AND " } else { " OR " };
            for (i, v) in n.list("exprs").iter().enumerate() {
                if i > 0 {
                    out.push_str(sep);
                }
                p_value(out, v);
            }
            out.push(')');
        }
        "Not" => {
            out.push_str("(NOT ");
            not_operand(out, n);
            out.push(')');
        }
        "BetweenExpr" => {
            out.push('(');
            child(out, n, "expr");
            out.push_str(if n.flag("negated") {
                " NOT BETWEEN ("
            } else {
                " BETWEEN ("
            });
            child(out, n, "low");
            out.push_str(") AND (");
            child(out, n, "high");
            out.push_str("))");
        }
        "IsDistinctFrom" => {
            out.push('(');
            child(out, n, "left");
            out.push_str(if n.flag("negated") {
                " IS NOT DISTINCT FROM "
            } else {
                " IS DISTINCT FROM "
            });
            child(out, n, "right");
            out.push(')');
        }
        "Array" => {
            out.push('[');
            list(out, n.list("exprs"));
            out.push(']');
        }
        "Tuple" => {
            out.push('(');
            list(out, n.list("exprs"));
            if n.list("exprs").len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        "Dict" => {
            out.push('{');
            for (i, item) in n.list("items").iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Value::List(kv) = item
                    && let [k, v] = kv.as_slice()
                {
                    p_value(out, k);
                    out.push_str(": ");
                    p_value(out, v);
                }
            }
            out.push('}');
        }
        "ArrayAccess" => {
            // a constant takes `[...]` bare (`1['a']`, `-1['a']`); in parentheses it would turn
            // `NOT 1['a']` into a call to `not`
            constant_or_postfix_base(out, n, "array");
            out.push_str(if n.flag("nullish") { "?.[" } else { "[" });
            child(out, n, "property");
            out.push(']');
        }
        "ArraySlice" => {
            constant_or_postfix_base(out, n, "array");
            out.push('[');
            child(out, n, "start_expr");
            out.push(':');
            child(out, n, "end_expr");
            out.push(']');
        }
        "TupleAccess" => {
            // a constant base is written bare, a space before the dot: `1 .2` (`1.2` is a number)
            let spaced = constant_or_postfix_base(out, n, "tuple");
            out.push_str(match (n.flag("nullish"), spaced) {
                (true, true) => " ?. ",
                (true, false) => "?.",
                (false, true) => " .",
                (false, false) => ".",
            });
            if let Some(Value::Int(i)) = n.get("index") {
                let _ = write!(out, "{i}");
            }
        }
        "Lambda" => lambda(out, n, true),
        "TypeCast" | "TryCast" => {
            out.push_str(if n.kind == "TypeCast" {
                "CAST("
            } else {
                "TRY_CAST("
            });
            child(out, n, "expr");
            out.push_str(" AS ");
            out.push_str(n.str("type_name").unwrap_or_default());
            out.push(')');
        }
        "Placeholder" => {
            out.push('{');
            child(out, n, "expr");
            out.push('}');
        }
        "PositionalRef" => {
            if let Some(Value::Int(i)) = n.get("index") {
                let _ = write!(out, "#{i}");
            }
        }
        "NamedArgument" => {
            ident(out, n.str("name").unwrap_or_default());
            out.push_str(" := ");
            child(out, n, "value");
        }
        "ColumnsExpr" => {
            if let Some(re) = n.str("regex") {
                out.push_str("COLUMNS(");
                string(out, re);
                out.push(')');
            } else if let Some(Value::Map(items)) = n.get("replace") {
                out.push_str("(* REPLACE(");
                for (i, (name, v)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push('(');
                    p_value(out, v);
                    out.push_str(") AS ");
                    ident(out, name);
                }
                out.push_str("))");
            } else {
                out.push_str("* EXCLUDE(");
                for (i, v) in n.list("exclude").iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if let Value::Str(s) = v {
                        ident(out, s);
                    }
                }
                out.push(')');
            }
        }
        "WindowFunction" => {
            out.push_str(n.str("name").unwrap_or_default());
            out.push('(');
            list(out, n.list("exprs"));
            out.push(')');
            if !n.list("args").is_empty() {
                out.push('(');
                list(out, n.list("args"));
                out.push(')');
            }
            out.push_str(" OVER ");
            if let Some(id) = n.str("over_identifier") {
                ident(out, id);
            } else {
                out.push('(');
                child(out, n, "over_expr");
                out.push(')');
            }
        }
        "WindowExpr" => window_expr(out, n),
        "WindowFrameExpr" => match n.str("frame_type") {
            Some("CURRENT ROW") => out.push_str("CURRENT ROW"),
            Some(t) => {
                match n.get("frame_value") {
                    Some(Value::Int(v)) => {
                        let _ = write!(out, "{v}");
                    }
                    _ => out.push_str("UNBOUNDED"),
                }
                out.push(' ');
                out.push_str(t);
            }
            None => {}
        },
        "OrderExpr" => {
            paren_child(out, n, "expr");
            out.push(' ');
            out.push_str(n.str("order").unwrap_or("ASC"));
            if let Some(wf) = n.node("with_fill") {
                out.push_str(" WITH FILL");
                for (k, kw) in [
                    ("from_value", " FROM "),
                    ("to_value", " TO "),
                    ("step_value", " STEP "),
                    ("staleness_value", " STALENESS "),
                ] {
                    if let Some(v) = wf.node(k) {
                        out.push_str(kw);
                        out.push('(');
                        p_node(out, v);
                        out.push(')');
                    }
                }
            }
        }
        "HogQLXTag" => hogqlx(out, n),
        "Block" => crate::program_print::block(out, n),
        "SelectQuery" => {
            out.push('(');
            select_query(out, n);
            out.push(')');
        }
        "SelectSetQuery" => {
            out.push('(');
            select_set(out, n);
            out.push(')');
        }
        _ => {}
    }
}

fn select_set(out: &mut String, n: &Node) {
    child(out, n, "initial_select_query");
    for s in n.list("subsequent_select_queries") {
        if let Some(s) = s.as_node() {
            out.push(' ');
            out.push_str(s.str("set_operator").unwrap_or("UNION ALL"));
            out.push(' ');
            child(out, s, "select_query");
        }
    }
    limit_offset(out, n);
}

fn window_expr(out: &mut String, n: &Node) {
    let mut parts: Vec<String> = Vec::new();
    if n.get("partition_by").is_some() {
        let mut s = String::from("PARTITION BY ");
        list(&mut s, n.list("partition_by"));
        parts.push(s);
    }
    if n.get("order_by").is_some() {
        let mut s = String::from("ORDER BY ");
        list(&mut s, n.list("order_by"));
        parts.push(s);
    }
    if let Some(m) = n.str("frame_method") {
        let mut s = format!("{m} ");
        if let Some(end) = n.node("frame_end") {
            s.push_str("BETWEEN ");
            child(&mut s, n, "frame_start");
            s.push_str(" AND ");
            p_node(&mut s, end);
        } else {
            child(&mut s, n, "frame_start");
        }
        parts.push(s);
    }
    out.push_str(&parts.join(" "));
}

fn hogqlx(out: &mut String, n: &Node) {
    let kind = n.str("kind").unwrap_or_default();
    out.push('<');
    out.push_str(kind);
    let mut children: Option<&Value> = None;
    for a in n.list("attributes") {
        let Some(a) = a.as_node() else { continue };
        let name = a.str("name").unwrap_or_default();
        if name == "children" && matches!(a.get("value"), Some(Value::List(_))) {
            children = a.get("value");
            continue;
        }
        out.push(' ');
        out.push_str(name);
        out.push('=');
        match a.get("value") {
            Some(Value::Node(v))
                if v.kind == "Constant" && matches!(v.get("value"), Some(Value::Str(_))) =>
            {
                string(out, v.str("value").unwrap_or_default());
            }
            Some(v) => {
                out.push('{');
                p_value(out, v);
                out.push('}');
            }
            None => out.push_str("{NULL}"),
        }
    }
    match children {
        Some(Value::List(cs)) if !cs.is_empty() => {
            out.push('>');
            for c in cs {
                match c.as_node() {
                    Some(t) if t.kind == "HogQLXTag" => hogqlx(out, t),
                    _ => {
                        out.push('{');
                        p_value(out, c);
                        out.push('}');
                    }
                }
            }
            out.push_str("</");
            out.push_str(kind);
            out.push('>');
        }
        _ => out.push_str(" />"),
    }
}

fn limit_offset(out: &mut String, n: &Node) {
    if let Some(l) = n.node("limit") {
        out.push_str(" LIMIT ");
        p_node(out, l);
        if n.flag("limit_with_ties") {
            out.push_str(" WITH TIES");
        }
    }
    if let Some(o) = n.node("offset") {
        out.push_str(" OFFSET ");
        p_node(out, o);
    }
}

fn select_query(out: &mut String, n: &Node) {
    if n.get("ctes").is_some() {
        out.push_str("WITH ");
        if n.list("ctes")
            .iter()
            .any(|c| c.as_node().is_some_and(|c| c.flag("recursive")))
        {
            out.push_str("RECURSIVE ");
        }
        for (i, c) in n.list("ctes").iter().enumerate() {
            let Some(c) = c.as_node() else { continue };
            if i > 0 {
                out.push_str(", ");
            }
            let name = c.str("name").unwrap_or_default();
            if c.str("cte_type") == Some("column") {
                paren_child(out, c, "expr");
                out.push_str(" AS ");
                ident(out, name);
            } else {
                ident(out, name);
                if c.get("columns").is_some() {
                    out.push('(');
                    for (j, col) in c.list("columns").iter().enumerate() {
                        if j > 0 {
                            out.push_str(", ");
                        }
                        if let Value::Str(s) = col {
                            ident(out, s);
                        }
                    }
                    out.push(')');
                }
                out.push_str(" AS ");
                if c.flag("materialized") {
                    out.push_str("MATERIALIZED ");
                }
                paren_child(out, c, "expr");
            }
        }
        out.push(' ');
    }
    out.push_str("SELECT ");
    if n.flag("distinct") {
        out.push_str("DISTINCT ");
    }
    list(out, n.list("select"));
    if let Some(f) = n.node("select_from") {
        out.push_str(" FROM ");
        join_expr(out, f, true);
    }
    if let Some(op) = n.str("array_join_op") {
        out.push(' ');
        out.push_str(op);
        out.push(' ');
        list(out, n.list("array_join_list"));
    }
    for (k, kw) in [("prewhere", " PREWHERE "), ("where", " WHERE ")] {
        if let Some(e) = n.node(k) {
            out.push_str(kw);
            p_node(out, e);
        }
    }
    match n.str("group_by_mode") {
        Some("all") => out.push_str(" GROUP BY ALL"),
        Some(mode @ ("cube" | "rollup")) => {
            out.push_str(if mode == "cube" {
                " GROUP BY CUBE("
            } else {
                " GROUP BY ROLLUP("
            });
            list(out, n.list("group_by"));
            out.push(')');
        }
        Some("grouping_sets") => {
            out.push_str(" GROUP BY GROUPING SETS (");
            for (i, s) in n.list("group_by").iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('(');
                if let Some(s) = s.as_node() {
                    list(out, s.list("exprs"));
                }
                out.push(')');
            }
            out.push(')');
        }
        _ => {
            if n.get("group_by").is_some() {
                out.push_str(" GROUP BY ");
                list(out, n.list("group_by"));
            }
        }
    }
    for (k, kw) in [("having", " HAVING "), ("qualify", " QUALIFY ")] {
        if let Some(e) = n.node(k) {
            out.push_str(kw);
            p_node(out, e);
        }
    }
    if let Some(Value::Map(ws)) = n.get("window_exprs") {
        out.push_str(" WINDOW ");
        for (i, (name, w)) in ws.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            ident(out, name);
            out.push_str(" AS (");
            p_value(out, w);
            out.push(')');
        }
    }
    if n.get("order_by").is_some() {
        out.push_str(" ORDER BY ");
        list(out, n.list("order_by"));
        if n.get("interpolate").is_some() {
            out.push_str(" INTERPOLATE (");
            for (i, it) in n.list("interpolate").iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Some(it) = it.as_node() {
                    child(out, it, "expr");
                }
            }
            out.push(')');
        }
    }
    if let Some(lb) = n.node("limit_by") {
        out.push_str(" LIMIT ");
        child(out, lb, "n");
        if let Some(o) = lb.node("offset_value") {
            out.push_str(" OFFSET ");
            p_node(out, o);
        }
        out.push_str(" BY ");
        list(out, lb.list("exprs"));
    }
    limit_offset(out, n);
}

fn join_expr(out: &mut String, j: &Node, first: bool) {
    if !first {
        out.push(' ');
        out.push_str(j.str("join_type").unwrap_or("JOIN"));
        out.push(' ');
    }
    if let Some(t) = j.node("table") {
        match t.kind {
            "Field" => {
                p_node(out, t);
                if j.get("table_args").is_some() {
                    out.push('(');
                    list(out, j.list("table_args"));
                    out.push(')');
                }
            }
            "Placeholder" | "HogQLXTag" => p_node(out, t),
            "JoinExpr" => {
                out.push('(');
                join_expr(out, t, true);
                out.push(')');
            }
            _ => p_node(out, t),
        }
    }
    if let Some(a) = j.str("alias") {
        out.push_str(" AS ");
        ident(out, a);
        if j.get("column_aliases").is_some() {
            out.push('(');
            for (i, c) in j.list("column_aliases").iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                if let Value::Str(s) = c {
                    ident(out, s);
                }
            }
            out.push(')');
        }
    }
    if j.flag("table_final") {
        out.push_str(" FINAL");
    }
    if let Some(s) = j.node("sample") {
        out.push_str(" SAMPLE ");
        ratio(out, s.node("sample_value"));
        if let Some(o) = s.node("offset_value") {
            out.push_str(" OFFSET ");
            ratio(out, Some(o));
        }
    }
    if let Some(c) = j.node("constraint") {
        out.push(' ');
        out.push_str(c.str("constraint_type").unwrap_or("ON"));
        out.push(' ');
        child(out, c, "expr");
    }
    if let Some(next) = j.node("next_join") {
        join_expr(out, next, false);
    }
}

fn ratio(out: &mut String, r: Option<&Node>) {
    let Some(r) = r else { return };
    if r.kind != "RatioExpr" {
        p_node(out, r);
        return;
    }
    child(out, r, "left");
    if let Some(right) = r.node("right") {
        out.push('/');
        p_node(out, right);
    }
}

/// `((a, b) -> (e))`, or bare `a, b -> (e)` where it cannot be followed by anything (after NOT).
fn lambda(out: &mut String, n: &Node, parens: bool) {
    if parens {
        out.push_str("((");
    }
    for (i, a) in n.list("args").iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if let Value::Str(s) = a {
            ident(out, s);
        }
    }
    out.push_str(if parens { ") -> " } else { " -> " });
    match n.node("expr") {
        Some(b) if b.kind == "Block" => p_node(out, b),
        _ => paren_child(out, n, "expr"),
    }
    if parens {
        out.push(')');
    }
}

/// The operand of NOT, which must not start with `(` (that would read as a call to `not`).
fn not_operand(out: &mut String, n: &Node) {
    match n.node("expr") {
        // `NOT x -> (e)`: the lambda comes out bare, as the parser reads `not x -> e`
        Some(c) if c.kind == "Lambda" && !c.list("args").is_empty() => lambda(out, c, false),
        Some(c) => spine(out, c, 60),
        None => {}
    }
}
