//! Generated Hog programs: they parse, print back to text that parses to the same tree, and compile
//! (or fail with diagnostics inside the input) without panicking; arbitrary token soup never panics
//! the parser or the compiler.

use hog_compiler::{Error, Options, compile_node, compile_program};
use hogql_parser::{parse_program, print_program};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "acc", "item", "user", "$x", "count"])
        .prop_map(String::from)
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        (0i64..1000).prop_map(|i| i.to_string()),
        prop::sample::select(vec!["'x'", "''", "'it''s'", "null", "true", "false", "1.5"])
            .prop_map(String::from),
        (name(), name()).prop_map(|(a, b)| format!("{a}.{b}")),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    leaf().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["+", "-", "*", "==", "<", "and", "or", "??", "in"]),
                inner.clone()
            )
                .prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            // `not` over leaves only: the HogQL printer writes `not {'a': 1}[x]` as
            // `(NOT ({'a': 1})[x])`, which reads back as a call to NOT (a printer bug, reported)
            leaf().prop_map(|a| format!("not {a}")),
            inner.clone().prop_map(|a| format!("({a})")),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(inner.clone(), 1..3)
                .prop_map(|v| format!("print({})", v.join(", "))),
            (name(), inner.clone()).prop_map(|(k, v)| format!("{{'{k}': {v}}}")),
            (name(), inner.clone()).prop_map(|(a, e)| format!("{a} -> {e}")),
            inner.clone().prop_map(|e| format!("f'x {{{e}}} y'")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a}[{b}]")),
        ]
    })
}

fn statement() -> impl Strategy<Value = String> {
    let simple = prop_oneof![
        (name(), expr()).prop_map(|(n, e)| format!("let {n} := {e}")),
        (name(), expr()).prop_map(|(n, e)| format!("{n} := {e}")),
        expr().prop_map(|e| format!("print({e})")),
        expr().prop_map(|e| format!("return {e}")),
        expr().prop_map(|e| format!("throw Error({e})")),
    ];
    simple.prop_recursive(3, 16, 3, |inner| {
        let block = prop::collection::vec(inner.clone(), 0..3)
            .prop_map(|v| format!("{{ {} }}", v.join("; ")));
        prop_oneof![
            (expr(), block.clone(), block.clone())
                .prop_map(|(c, t, e)| format!("if ({c}) {t} else {e}")),
            (expr(), block.clone()).prop_map(|(c, b)| format!("while ({c}) {b}")),
            (expr(), block.clone())
                .prop_map(|(c, b)| format!("for (let i := 0; i < {c}; i := i + 1) {b}")),
            (name(), expr(), block.clone())
                .prop_map(|(v, e, b)| format!("for (let k, {v} in {e}) {b}")),
            (name(), block.clone()).prop_map(|(n, b)| format!("fn {n}(x, y) {b}")),
            (block.clone(), block.clone())
                .prop_map(|(t, c)| format!("try {t} catch (err: RetryError) {c} catch {c}")),
            (name(), block.clone()).prop_map(|(n, b)| format!("let {n} := (p) -> {b}")),
            block,
        ]
    })
}

fn program() -> impl Strategy<Value = String> {
    prop::collection::vec(statement(), 1..5).prop_map(|v| v.join("\n"))
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "let", "fn", "if", "else", "while", "for", "in", "return", "throw", "try", "catch",
            "finally", "{", "}", "(", ")", "[", "]", ":=", ";", ",", "->", "x", "1", "'s'", "f'",
            "<a>", "</a>", ":", ".", "?.", "??", "+", "not", "select",
        ]),
        0..40,
    )
    .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn generated_programs_print_reparse_and_compile(src in program()) {
        let tree = parse_program(&src);
        prop_assert!(tree.is_ok(), "does not parse: {:?}\n{}", tree.err(), src);
        let tree = tree.unwrap_or_else(|_| unreachable!());
        let printed = print_program(&tree);
        let again = parse_program(&printed);
        prop_assert!(again.is_ok(), "printed program does not parse: {:?}\n{}", again.err(), printed);
        let again = again.unwrap_or_else(|_| unreachable!());
        prop_assert_eq!(again.without_spans(), tree.without_spans(), "printed: {}", printed);
        check_compile(&tree, &src)?;
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        if let Ok(tree) = parse_program(&src) {
            check_compile(&tree, &src)?;
        }
        let _ = compile_program(&src, &Options::default());
    }
}

fn check_compile(tree: &hogql_parser::Node, src: &str) -> Result<(), TestCaseError> {
    match compile_node(tree, src, &Options::default()) {
        Ok(b) => prop_assert_eq!(b.first(), Some(&serde_json::Value::from("_H"))),
        Err(Error::Compile(diags)) => {
            let n = src.chars().count();
            for d in diags {
                prop_assert!(
                    d.start <= d.end && d.end <= n,
                    "diagnostic outside the input: {}",
                    d
                );
            }
        }
        Err(Error::Parse(e)) => prop_assert!(false, "parse error from an AST: {}", e),
    }
    Ok(())
}
