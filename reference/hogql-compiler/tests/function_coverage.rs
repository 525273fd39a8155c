//! Function coverage: every entry of the allowlist (PostHog's aggregations with their generated
//! combinators, its ClickHouse function table and its PostHog-only functions) is called once in
//! `SELECT f(...) FROM events` and must compile, unless it is in the checked gap list
//! `tests/function_gaps.tsv` (`name<TAB>reason`), where it must fail. A listed function that
//! starts compiling fails the test (remove it from the list), as does an unlisted one that
//! stops compiling. The test reports "N of M functions" on stderr (`--nocapture`).

use std::collections::BTreeMap;

use hogql_compiler::functions::{FunctionMeta, registry};
use hogql_compiler::{Context, compile};

/// A call of `meta` with its minimum arity: numeric arguments, a constant aggregate name for
/// `arrayReduce`-style functions, parameters when required, a DateTime for time windows.
fn call_text(meta: &FunctionMeta) -> String {
    let n = meta.args.min;
    let mut args: Vec<String> = (0..n).map(|_| "1".to_owned()).collect();
    if meta.parametric_first_arg && !args.is_empty() {
        args[0] = "'sum'".into();
    }
    if hogql_compiler::functions::FIRST_ARG_DATETIME_FUNCTIONS.contains(&meta.name.as_str())
        && !args.is_empty()
    {
        args[0] = "timestamp".into();
    }
    let params = if meta.params.min > 0 {
        format!(
            "({})",
            (0..meta.params.min)
                .map(|_| "1")
                .collect::<Vec<_>>()
                .join(", ")
        )
    } else {
        String::new()
    };
    let within = if meta.requires_within_group {
        " WITHIN GROUP (ORDER BY event)"
    } else {
        ""
    };
    format!("{}{params}({}){within}", meta.name, args.join(", "))
}

/// `name -> reason` from the gap list.
fn gaps() -> BTreeMap<String, String> {
    let path = conformance::paths::workspace_root()
        .join("reference/hogql-compiler/tests/function_gaps.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (name, reason) = l.split_once('\t')?;
            Some((name.to_owned(), reason.to_owned()))
        })
        .collect()
}

#[test]
fn every_function_compiles_or_is_a_listed_gap() {
    let gaps = gaps();
    let mut total = 0;
    let mut compiled = 0;
    let mut problems = Vec::new();
    let mut failing = Vec::new();
    for meta in registry().all_entries() {
        total += 1;
        let src = format!("select {} from events", call_text(meta));
        let mut ctx = Context::new(420);
        let result = compile(&src, &mut ctx);
        match (&result, gaps.get(&meta.name)) {
            (Ok(_), None) => compiled += 1,
            (Ok(out), Some(_)) => problems.push(format!(
                "{}: listed as a gap but compiles (remove it from tests/function_gaps.tsv): {}",
                meta.name, out.clickhouse
            )),
            (Err(_), Some(reason)) if reason.trim().is_empty() => {
                problems.push(format!("{}: gap without a reason", meta.name));
            }
            (Err(_), Some(_)) => {}
            (Err(e), None) => {
                failing.push(format!("{}\t[{}] {e}", meta.name, e.code()));
            }
        }
    }
    for name in gaps.keys() {
        if !registry().all_entries().any(|m| &m.name == name) {
            problems.push(format!(
                "{name}: listed as a gap but not in the function table"
            ));
        }
    }
    eprintln!("function coverage: {compiled} of {total} functions compile");
    if !failing.is_empty() {
        problems.push(format!(
            "{} unlisted functions fail (add them to tests/function_gaps.tsv with a reason, or fix them):\n{}",
            failing.len(),
            failing.join("\n")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(compiled + gaps.len(), total);
}
