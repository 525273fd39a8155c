//! Property tests: generated ASTs print and parse back to themselves; printed parses of generated
//! source round-trip; arbitrary strings and keyword/punctuation soups never panic the parser.

use hogql_parser::{EntryPoint, Node, Value, parse, parse_json, printer};
use proptest::prelude::*;

fn constant(v: Value) -> Node {
    Node::new("Constant", None).with("value", v)
}

fn leaf() -> impl Strategy<Value = Node> {
    let names = prop::sample::select(vec![
        "a",
        "b",
        "event",
        "properties",
        "$browser",
        "x_1",
        "select",
        "a b",
        "we`ird",
        "dq\"x",
    ]);
    prop_oneof![
        any::<i64>().prop_map(|i| constant(Value::Int(i))),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| constant(Value::Float(f))),
        ".{0,8}".prop_map(|s| constant(Value::Str(s))),
        any::<bool>().prop_map(|b| constant(Value::Bool(b))),
        Just(constant(Value::Null)),
        prop::collection::vec(names, 1..4).prop_map(|c| {
            Node::new("Field", None).with(
                "chain",
                Value::List(c.into_iter().map(|s| Value::Str(s.to_string())).collect()),
            )
        }),
    ]
}

fn list(v: Vec<Node>) -> Value {
    Value::nodes(v)
}

/// Canonical expression trees: shapes PostHog's parser can produce (e.g. no `And` directly in `And`).
fn expr() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(4, 48, 4, |inner| {
        let arith_ops = prop::sample::select(vec!["+", "-", "*", "/", "%"]);
        let cmp_ops = prop::sample::select(vec![
            "==",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "like",
            "ilike",
            "not like",
            "not ilike",
            "in",
            "not in",
            "=~",
            "!~",
            "=~*",
            "!~*",
        ]);
        let funcs = prop::sample::select(vec![
            "f", "count", "sum", "toString", "coalesce", "concat", "if",
        ]);
        prop_oneof![
            (inner.clone(), arith_ops, inner.clone()).prop_map(|(l, op, r)| {
                Node::new("ArithmeticOperation", None)
                    .with("left", Value::node(l))
                    .with("op", Value::Str(op.into()))
                    .with("right", Value::node(r))
            }),
            (inner.clone(), cmp_ops, inner.clone()).prop_map(|(l, op, r)| {
                Node::new("CompareOperation", None)
                    .with("left", Value::node(l))
                    .with("op", Value::Str(op.into()))
                    .with("right", Value::node(r))
            }),
            (
                prop::sample::select(vec!["And", "Or"]),
                prop::collection::vec(inner.clone(), 2..4)
            )
                .prop_map(|(k, es)| {
                    let es: Vec<Node> = es.into_iter().filter(|e| e.kind != k).collect();
                    if es.len() < 2 {
                        constant(Value::Null)
                    } else {
                        Node::new(k, None).with("exprs", list(es))
                    }
                }),
            inner.clone().prop_map(|e| {
                let ok = matches!(
                    e.kind,
                    "Constant"
                        | "Field"
                        | "Call"
                        | "CompareOperation"
                        | "ArithmeticOperation"
                        | "Not"
                        | "Array"
                );
                // `NOT (` reads as a call to `not`: PostHog's parser never builds a `Not` whose operand
                // text starts with a parenthesis, so neither do we
                let printed =
                    printer::print(&Node::new("Not", None).with("expr", Value::node(e.clone())));
                let ok = ok && !printed.starts_with("(NOT (");
                if ok {
                    Node::new("Not", None).with("expr", Value::node(e))
                } else {
                    e
                }
            }),
            (
                funcs,
                prop::collection::vec(inner.clone(), 0..3),
                any::<bool>()
            )
                .prop_map(|(f, args, distinct)| {
                    let mut c = Node::new("Call", None)
                        .with("args", list(args))
                        .with("name", Value::Str(f.into()));
                    if distinct && !c.list("args").is_empty() {
                        c.set("distinct", Value::Bool(true));
                    }
                    c
                }),
            prop::collection::vec(inner.clone(), 0..3)
                .prop_map(|es| Node::new("Array", None).with("exprs", list(es))),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|es| Node::new("Tuple", None).with("exprs", list(es))),
            (inner.clone(), inner.clone()).prop_map(|(a, p)| {
                Node::new("ArrayAccess", None)
                    .with("array", Value::node(a))
                    .with("property", Value::node(p))
            }),
            (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                |(e, lo, hi, neg)| {
                    let mut b = Node::new("BetweenExpr", None)
                        .with("expr", Value::node(e))
                        .with("high", Value::node(hi))
                        .with("low", Value::node(lo));
                    if neg {
                        b.set("negated", Value::Bool(true));
                    }
                    b
                }
            ),
            (inner.clone(), any::<bool>()).prop_map(|(e, neg)| {
                Node::new("CompareOperation", None)
                    .with("is_null_comparison_style", Value::Bool(true))
                    .with("left", Value::node(e))
                    .with("op", Value::Str(if neg { "!=" } else { "==" }.into()))
                    .with("right", Value::node(constant(Value::Null)))
            }),
        ]
    })
}

/// Token soups of HogQL keywords and punctuation.
fn soup() -> impl Strategy<Value = String> {
    let toks = prop::sample::select(vec![
        "select",
        "from",
        "where",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ".",
        "1",
        "'s'",
        "a",
        "b",
        "and",
        "or",
        "not",
        "join",
        "left",
        "on",
        "using",
        "as",
        "case",
        "when",
        "then",
        "else",
        "end",
        "union",
        "all",
        "limit",
        "offset",
        "by",
        "order",
        "group",
        "having",
        "::",
        "->",
        "?",
        ":",
        "??",
        "?.",
        "<",
        ">",
        "/>",
        "</",
        "f'",
        "'",
        "`",
        "\"",
        "#",
        "--",
        "/*",
        "*",
        "-",
        "+",
        "||",
        "=",
        "!=",
        "interval",
        "day",
        "cast",
        "with",
        "over",
        "partition",
        "between",
        "is",
        "null",
        "in",
        "cohort",
        "lambda",
        "x",
        "$",
        "0x",
        "1e",
        ".5",
        "\n",
        " ",
    ]);
    prop::collection::vec(toks, 0..40).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_ast_roundtrips(ast in expr()) {
        let printed = printer::print(&ast);
        let parsed = parse(EntryPoint::Expr, &printed);
        prop_assert!(parsed.is_ok(), "printed {printed:?} does not parse: {parsed:?}");
        let parsed = parsed.unwrap_or_else(|_| Node::new("Constant", None));
        prop_assert_eq!(parsed.without_spans(), ast, "printed: {}", printed);
    }

    #[test]
    fn arbitrary_strings_never_panic(src in ".{0,200}") {
        for entry in [EntryPoint::Expr, EntryPoint::Select, EntryPoint::OrderExpr] {
            let _ = parse_json(entry, &src, true);
        }
    }

    #[test]
    fn token_soups_never_panic_and_parses_roundtrip(src in soup()) {
        for entry in [EntryPoint::Expr, EntryPoint::Select, EntryPoint::OrderExpr] {
            let _ = parse_json(entry, &src, true);
            if let Ok(node) = parse(entry, &src)
                && entry != EntryPoint::OrderExpr {
                    let printed = printer::print(&node);
                    let again = parse(entry, &printed);
                    prop_assert!(again.is_ok(), "printed {printed:?} of {src:?} does not parse: {again:?}");
                    prop_assert_eq!(again.unwrap_or_else(|_| Node::new("Constant", None)).without_spans(), node.without_spans());
                }
        }
    }
}
