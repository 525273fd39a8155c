//! Lowering: the parser's uniform, JSON-shaped tree ([`hogql_parser::Node`]) into the typed
//! [`crate::ir`]. Unknown node kinds and malformed fields are errors with the node's span, never
//! panics.

use hogql_parser::{Node, Value};

use crate::Error;
use crate::compile::{CompileError, grow};
use crate::ir::*;

type Result<T> = std::result::Result<T, CompileError>;

fn invalid(node: &Node, message: impl Into<String>) -> CompileError {
    CompileError::new(
        Error::InvalidAst {
            message: format!("{}: {}", node.kind, message.into()),
        },
        node.span,
    )
}

fn child<'a>(node: &'a Node, key: &str) -> Result<&'a Node> {
    node.node(key)
        .ok_or_else(|| invalid(node, format!("missing `{key}`")))
}

fn opt_expr(node: &Node, key: &str) -> Result<Option<Expr>> {
    node.node(key).map(expr).transpose()
}

fn boxed(node: &Node, key: &str) -> Result<Box<Expr>> {
    Ok(Box::new(expr(child(node, key)?)?))
}

fn expr_list(node: &Node, key: &str) -> Result<Vec<Expr>> {
    node.list(key)
        .iter()
        .map(|v| match v {
            Value::Node(n) => expr(n),
            _ => Err(invalid(node, format!("`{key}` holds a non-node"))),
        })
        .collect()
}

fn str_list(node: &Node, key: &str) -> Result<Vec<String>> {
    node.list(key)
        .iter()
        .map(|v| match v {
            Value::Str(s) => Ok(s.clone()),
            _ => Err(invalid(node, format!("`{key}` holds a non-string"))),
        })
        .collect()
}

fn opt_str(node: &Node, key: &str) -> Option<String> {
    node.str(key).map(str::to_owned)
}

fn int_field(node: &Node, key: &str) -> Result<i64> {
    match node.get(key) {
        Some(Value::Int(i)) => Ok(*i),
        _ => Err(invalid(node, format!("`{key}` is not an integer"))),
    }
}

/// The deepest node nesting the compiler accepts. Lowering and printing recurse once per
/// level, so this bounds their stack use (the parser accepts far deeper left-associative
/// operator chains, e.g. `1+1+…+1` with thousands of terms).
pub const MAX_DEPTH: usize = 256;

/// The nesting depth of a tree, computed without recursion.
pub(crate) fn tree_depth(root: &Node) -> usize {
    let mut deepest = 0;
    let mut stack: Vec<(&Value, usize)> = root.fields.iter().map(|(_, v)| (v, 1)).collect();
    while let Some((value, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match value {
            Value::Node(n) => stack.extend(n.fields.iter().map(|(_, v)| (v, depth + 1))),
            Value::List(items) => stack.extend(items.iter().map(|v| (v, depth))),
            Value::Map(items) => stack.extend(items.iter().map(|(_, v)| (v, depth))),
            _ => {}
        }
    }
    deepest
}

/// Lower a whole query (`SelectQuery`, `SelectSetQuery` or a placeholder).
///
/// Trees nested deeper than [`MAX_DEPTH`] are rejected with an error.
pub fn query(node: &Node) -> Result<Query> {
    query_of_depth(node, tree_depth(node))
}

/// [`query`] for a tree whose [`tree_depth`] the caller already measured.
pub(crate) fn query_of_depth(node: &Node, depth: usize) -> Result<Query> {
    if depth > MAX_DEPTH {
        return Err(CompileError::new(
            Error::Query {
                message: format!("The query is nested too deeply (more than {MAX_DEPTH} levels)"),
            },
            node.span,
        ));
    }
    query_inner(node)
}

fn query_inner(node: &Node) -> Result<Query> {
    grow(|| query_kind(node))
}

fn query_kind(node: &Node) -> Result<Query> {
    match node.kind {
        "SelectQuery" => Ok(Query::Select(Box::new(select(node)?))),
        "SelectSetQuery" => {
            let initial = Box::new(query_inner(child(node, "initial_select_query")?)?);
            let mut subsequent = Vec::new();
            for v in node.list("subsequent_select_queries") {
                let n = v
                    .as_node()
                    .ok_or_else(|| invalid(node, "set member is not a node"))?;
                subsequent.push(SetNode {
                    set_operator: opt_str(n, "set_operator").unwrap_or_default(),
                    query: query_inner(child(n, "select_query")?)?,
                });
            }
            Ok(Query::Set(SelectSetQuery {
                initial,
                subsequent,
                span: node.span,
            }))
        }
        "Placeholder" => Ok(Query::Placeholder(expr(node)?)),
        other => Err(CompileError::new(
            Error::Query {
                message: format!("A {other} cannot be used as a SELECT query"),
            },
            node.span,
        )),
    }
}

fn order_expr(node: &Node) -> Result<OrderExpr> {
    if node.kind != "OrderExpr" {
        return Err(invalid(node, "expected OrderExpr"));
    }
    let with_fill = match node.node("with_fill") {
        Some(w) => Some(WithFill {
            from: opt_expr(w, "from_value")?,
            to: opt_expr(w, "to_value")?,
            step: opt_expr(w, "step_value")?,
            staleness: opt_expr(w, "staleness_value")?,
        }),
        None => None,
    };
    Ok(OrderExpr {
        expr: expr(child(node, "expr")?)?,
        order: if node.str("order") == Some("DESC") {
            Order::Desc
        } else {
            Order::Asc
        },
        with_fill,
        span: node.span,
    })
}

fn order_list(node: &Node, key: &str) -> Result<Vec<OrderExpr>> {
    node.list(key)
        .iter()
        .map(|v| {
            v.as_node()
                .ok_or_else(|| invalid(node, format!("`{key}` holds a non-node")))
                .and_then(order_expr)
        })
        .collect()
}

fn frame_bound(node: &Node) -> Result<FrameBound> {
    let frame_value = match node.get("frame_value") {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Node(n)) => match n.get("value") {
            Some(Value::Int(i)) => Some(*i),
            _ => return Err(invalid(node, "frame value is not an integer")),
        },
        _ => None,
    };
    Ok(FrameBound {
        frame_type: opt_str(node, "frame_type").unwrap_or_default(),
        frame_value,
    })
}

fn window_expr(node: &Node) -> Result<WindowExpr> {
    Ok(WindowExpr {
        base: opt_str(node, "window_name"),
        partition_by: expr_list(node, "partition_by")?,
        order_by: order_list(node, "order_by")?,
        frame_method: opt_str(node, "frame_method"),
        frame_start: node.node("frame_start").map(frame_bound).transpose()?,
        frame_end: node.node("frame_end").map(frame_bound).transpose()?,
    })
}

fn ratio(node: &Node) -> Result<Ratio> {
    if node.kind == "RatioExpr" {
        Ok(Ratio {
            left: expr(child(node, "left")?)?,
            right: opt_expr(node, "right")?,
        })
    } else {
        Ok(Ratio {
            left: expr(node)?,
            right: None,
        })
    }
}

fn join_expr(node: &Node) -> Result<JoinExpr> {
    if node.kind != "JoinExpr" {
        return Err(invalid(node, "expected JoinExpr"));
    }
    let table_node = child(node, "table")?;
    let table = match table_node.kind {
        "Field" => {
            let chain = field_chain(table_node)?
                .into_iter()
                .map(|p| p.to_string())
                .collect();
            let args = match node.get("table_args") {
                Some(Value::List(_)) => Some(expr_list(node, "table_args")?),
                _ => None,
            };
            JoinTable::Table {
                chain,
                args,
                span: table_node.span,
            }
        }
        "SelectQuery" | "SelectSetQuery" => JoinTable::Query(Box::new(query_inner(table_node)?)),
        "Placeholder" => JoinTable::Placeholder(expr(table_node)?),
        "JoinExpr" => JoinTable::Nested(Box::new(join_expr(table_node)?)),
        _ => JoinTable::Other(expr(table_node)?),
    };
    let sample = match node.node("sample") {
        Some(s) => Some(Sample {
            sample_value: ratio(child(s, "sample_value")?)?,
            offset_value: s.node("offset_value").map(ratio).transpose()?,
        }),
        None => None,
    };
    let constraint = match node.node("constraint") {
        Some(c) => Some(JoinConstraint {
            expr: expr(child(c, "expr")?)?,
            constraint_type: opt_str(c, "constraint_type").unwrap_or_else(|| "ON".into()),
        }),
        None => None,
    };
    Ok(JoinExpr {
        join_type: opt_str(node, "join_type"),
        table,
        alias: opt_str(node, "alias"),
        table_final: node.flag("table_final"),
        sample,
        constraint,
        column_aliases: str_list(node, "column_aliases")?,
        next_join: node
            .node("next_join")
            .map(join_expr)
            .transpose()?
            .map(Box::new),
        span: node.span,
    })
}

fn cte(node: &Node) -> Result<Cte> {
    let materialized = match node.get("materialized") {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    Ok(Cte {
        name: opt_str(node, "name").ok_or_else(|| invalid(node, "missing name"))?,
        expr: expr(child(node, "expr")?)?,
        cte_type: opt_str(node, "cte_type").unwrap_or_else(|| "subquery".into()),
        columns: str_list(node, "columns")?,
        materialized,
        recursive: node.flag("recursive"),
        span: node.span,
    })
}

/// Lower one `SelectQuery` node.
pub fn select(node: &Node) -> Result<SelectQuery> {
    grow(|| select_inner(node))
}

fn select_inner(node: &Node) -> Result<SelectQuery> {
    let mut ctes = Vec::new();
    match node.get("ctes") {
        Some(Value::List(items)) => {
            for v in items {
                let n = v.as_node().ok_or_else(|| invalid(node, "bad CTE"))?;
                ctes.push(cte(n)?);
            }
        }
        Some(Value::Map(items)) => {
            for (_, v) in items {
                let n = v.as_node().ok_or_else(|| invalid(node, "bad CTE"))?;
                ctes.push(cte(n)?);
            }
        }
        _ => {}
    }
    let mut window_exprs = Vec::new();
    if let Some(Value::Map(items)) = node.get("window_exprs") {
        for (name, v) in items {
            let n = v.as_node().ok_or_else(|| invalid(node, "bad window"))?;
            window_exprs.push((name.clone(), window_expr(n)?));
        }
    }
    let array_join = match node.str("array_join_op") {
        Some(op) => Some(ArrayJoin {
            op: op.to_owned(),
            list: expr_list(node, "array_join_list")?,
        }),
        None => None,
    };
    let limit_by = match node.node("limit_by") {
        Some(lb) => Some(LimitBy {
            n: expr(child(lb, "n")?)?,
            offset: opt_expr(lb, "offset_value")?,
            exprs: expr_list(lb, "exprs")?,
        }),
        None => None,
    };
    let mut interpolate = Vec::new();
    for v in node.list("interpolate") {
        let n = v
            .as_node()
            .ok_or_else(|| invalid(node, "bad INTERPOLATE"))?;
        interpolate.push(InterpolateExpr {
            name: opt_str(n, "name").unwrap_or_default(),
            expr: opt_expr(n, "expr")?,
        });
    }
    Ok(SelectQuery {
        ctes,
        distinct: node.flag("distinct"),
        select: expr_list(node, "select")?,
        select_from: node.node("select_from").map(join_expr).transpose()?,
        array_join,
        prewhere: opt_expr(node, "prewhere")?,
        where_: opt_expr(node, "where")?,
        group_by: expr_list(node, "group_by")?,
        group_by_mode: opt_str(node, "group_by_mode"),
        having: opt_expr(node, "having")?,
        qualify: opt_expr(node, "qualify")?,
        window_exprs,
        order_by: order_list(node, "order_by")?,
        interpolate,
        limit_by,
        limit: opt_expr(node, "limit")?,
        offset: opt_expr(node, "offset")?,
        limit_with_ties: node.flag("limit_with_ties"),
        settings: Vec::new(),
        span: node.span,
    })
}

fn field_chain(node: &Node) -> Result<Vec<ChainPart>> {
    node.list("chain")
        .iter()
        .map(|v| match v {
            Value::Str(s) => Ok(ChainPart::Name(s.clone())),
            Value::Int(i) => Ok(ChainPart::Index(*i)),
            _ => Err(invalid(
                node,
                "chain element is neither a name nor a number",
            )),
        })
        .collect()
}

fn constant(node: &Node) -> Result<Constant> {
    Ok(match node.get("value") {
        None | Some(Value::Null) => Constant::Null,
        Some(Value::Bool(b)) => Constant::Bool(*b),
        Some(Value::Int(i)) => Constant::Int(*i),
        Some(Value::Float(f)) => Constant::Float(*f),
        Some(Value::Str(s)) if node.str("value_type") == Some("number") => {
            Constant::Number(s.clone())
        }
        Some(Value::Str(s)) => Constant::Str(s.clone()),
        Some(_) => return Err(invalid(node, "unsupported constant value")),
    })
}

/// Lower one expression node.
pub fn expr(node: &Node) -> Result<Expr> {
    grow(|| expr_inner(node))
}

fn expr_inner(node: &Node) -> Result<Expr> {
    let kind = match node.kind {
        "Constant" => ExprKind::Constant(constant(node)?),
        "Field" => ExprKind::Field(field_chain(node)?),
        "Call" => ExprKind::Call(Call {
            name: opt_str(node, "name").ok_or_else(|| invalid(node, "missing name"))?,
            args: expr_list(node, "args")?,
            params: match node.get("params") {
                Some(Value::List(_)) => Some(expr_list(node, "params")?),
                _ => None,
            },
            distinct: node.flag("distinct"),
            filter: node
                .node("filter_expr")
                .map(expr)
                .transpose()?
                .map(Box::new),
            within_group: match node.get("within_group") {
                Some(Value::List(_)) => Some(order_list(node, "within_group")?),
                _ => None,
            },
        }),
        "CompareOperation" => {
            let op = node.str("op").unwrap_or_default();
            ExprKind::Compare {
                op: CompareOp::parse(op)
                    .ok_or_else(|| invalid(node, format!("unknown operator `{op}`")))?,
                left: boxed(node, "left")?,
                right: boxed(node, "right")?,
                is_null_style: node.flag("is_null_comparison_style"),
            }
        }
        "ArithmeticOperation" => {
            let op = node.str("op").unwrap_or_default();
            ExprKind::Arithmetic {
                op: ArithOp::parse(op)
                    .ok_or_else(|| invalid(node, format!("unknown operator `{op}`")))?,
                left: boxed(node, "left")?,
                right: boxed(node, "right")?,
            }
        }
        "And" => ExprKind::And(expr_list(node, "exprs")?),
        "Or" => ExprKind::Or(expr_list(node, "exprs")?),
        "Not" => ExprKind::Not(boxed(node, "expr")?),
        "BetweenExpr" => ExprKind::Between {
            expr: boxed(node, "expr")?,
            low: boxed(node, "low")?,
            high: boxed(node, "high")?,
            negated: node.flag("negated"),
        },
        "IsDistinctFrom" => ExprKind::IsDistinctFrom {
            left: boxed(node, "left")?,
            right: boxed(node, "right")?,
            negated: node.flag("negated"),
        },
        "Alias" => ExprKind::Alias {
            alias: opt_str(node, "alias").ok_or_else(|| invalid(node, "missing alias"))?,
            expr: boxed(node, "expr")?,
            hidden: node.flag("hidden"),
        },
        "Array" => ExprKind::Array(expr_list(node, "exprs")?),
        "Tuple" => ExprKind::Tuple(expr_list(node, "exprs")?),
        "Dict" => {
            let mut items = Vec::new();
            for v in node.list("items") {
                match v {
                    Value::List(pair) if pair.len() == 2 => {
                        match (pair[0].as_node(), pair[1].as_node()) {
                            (Some(k), Some(v)) => items.push((expr(k)?, expr(v)?)),
                            _ => return Err(invalid(node, "dict item is not a node pair")),
                        }
                    }
                    _ => return Err(invalid(node, "dict item is not a pair")),
                }
            }
            ExprKind::Dict(items)
        }
        "ArrayAccess" => ExprKind::ArrayAccess {
            array: boxed(node, "array")?,
            property: boxed(node, "property")?,
            nullish: node.flag("nullish"),
        },
        "ArraySlice" => ExprKind::ArraySlice {
            array: boxed(node, "array")?,
            start: node.node("start_expr").map(expr).transpose()?.map(Box::new),
            end: node.node("end_expr").map(expr).transpose()?.map(Box::new),
        },
        "TupleAccess" => ExprKind::TupleAccess {
            tuple: boxed(node, "tuple")?,
            index: int_field(node, "index")?,
            nullish: node.flag("nullish"),
        },
        "Lambda" => ExprKind::Lambda {
            args: str_list(node, "args")?,
            expr: boxed(node, "expr")?,
        },
        "TypeCast" | "TryCast" => ExprKind::TypeCast {
            expr: boxed(node, "expr")?,
            type_name: opt_str(node, "type_name").unwrap_or_default(),
            try_cast: node.kind == "TryCast",
        },
        "Placeholder" => ExprKind::Placeholder(boxed(node, "expr")?),
        "SelectQuery" | "SelectSetQuery" => ExprKind::Query(Box::new(query_inner(node)?)),
        "WindowFunction" => ExprKind::WindowFunction(Box::new(WindowFunction {
            name: opt_str(node, "name").unwrap_or_default(),
            exprs: expr_list(node, "exprs")?,
            args: expr_list(node, "args")?,
            over_expr: node.node("over_expr").map(window_expr).transpose()?,
            over_identifier: opt_str(node, "over_identifier"),
        })),
        "ColumnsExpr" => {
            let mut replace = Vec::new();
            if let Some(Value::Map(items)) = node.get("replace") {
                for (name, v) in items {
                    let n = v.as_node().ok_or_else(|| invalid(node, "bad REPLACE"))?;
                    replace.push((name.clone(), expr(n)?));
                }
            }
            ExprKind::Columns(ColumnsExpr {
                all_columns: node.flag("all_columns"),
                exclude: str_list(node, "exclude")?,
                replace,
                regex: opt_str(node, "regex"),
                columns: expr_list(node, "columns")?,
            })
        }
        "NamedArgument" => ExprKind::NamedArgument {
            name: opt_str(node, "name").unwrap_or_default(),
            value: boxed(node, "value")?,
        },
        "PositionalRef" => ExprKind::PositionalRef(int_field(node, "index")?),
        "ExprCall" => ExprKind::ExprCall {
            expr: boxed(node, "expr")?,
            args: expr_list(node, "args")?,
        },
        "GroupingSet" => ExprKind::GroupingSet(expr_list(node, "exprs")?),
        "HogQLXTag" => {
            let mut attributes = Vec::new();
            for v in node.list("attributes") {
                let a = v.as_node().ok_or_else(|| invalid(node, "bad attribute"))?;
                let value = match a.get("value") {
                    Some(Value::Node(n)) => expr(n)?,
                    Some(Value::List(items)) => {
                        let mut out = Vec::new();
                        for item in items {
                            match item {
                                Value::Node(n) => out.push(expr(n)?),
                                Value::Str(s) => out
                                    .push(Expr::new(ExprKind::Constant(Constant::Str(s.clone())))),
                                _ => return Err(invalid(a, "bad attribute value")),
                            }
                        }
                        Expr::new(ExprKind::Array(out))
                    }
                    Some(Value::Str(s)) => Expr::new(ExprKind::Constant(Constant::Str(s.clone()))),
                    _ => return Err(invalid(a, "bad attribute value")),
                };
                attributes.push((opt_str(a, "name").unwrap_or_default(), value));
            }
            ExprKind::HogQLXTag {
                kind: opt_str(node, "kind").unwrap_or_default(),
                attributes,
            }
        }
        other => {
            return Err(CompileError::new(
                Error::NotSupported {
                    what: format!("the node kind `{other}`"),
                },
                node.span,
            ));
        }
    };
    Ok(Expr {
        kind,
        span: node.span,
    })
}
