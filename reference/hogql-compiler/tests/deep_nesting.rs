//! Deeply nested queries through the public `compile` on ordinary threads: every case compiles or
//! comes back as an error, never a stack overflow (the compiler grows its stack on demand instead
//! of running each query on a big-stack helper thread).

use hogql_compiler::lower::MAX_DEPTH;
use hogql_compiler::{CompileError, Compiled, Context, compile};

fn run(src: &str) -> Result<Compiled, CompileError> {
    let mut ctx = Context::new(420);
    compile(src, &mut ctx)
}

/// `compile(src)` on a fresh thread with a `stack` byte stack (smaller than any server worker's).
fn on_small_thread(src: String, stack: usize) -> Result<Compiled, CompileError> {
    std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || run(&src))
        .expect("spawning the test thread")
        .join()
        .expect("compile panicked")
}

fn nested_calls(levels: usize) -> String {
    format!(
        "select {}1{} from events",
        "plus(".repeat(levels),
        ", 1)".repeat(levels)
    )
}

fn nested_subqueries(levels: usize) -> String {
    format!(
        "select * from {}(select 1 as x){}",
        "(select * from ".repeat(levels),
        ")".repeat(levels)
    )
}

fn nested_parens(levels: usize) -> String {
    format!(
        "select {}1{} as y",
        "(1 + ".repeat(levels),
        ")".repeat(levels)
    )
}

fn assert_too_deep(outcome: Result<Compiled, CompileError>) {
    let err = outcome.expect_err("deeper than the limit must be an error");
    assert_eq!(err.code(), "query_error", "{err}");
    assert_eq!(
        err.to_string(),
        format!("The query is nested too deeply (more than {MAX_DEPTH} levels)")
    );
}

#[test]
fn calls_just_under_the_limit_compile_on_the_test_thread() {
    let out = run(&nested_calls(MAX_DEPTH - 10)).expect("compiles");
    let head = format!("SELECT {}1, 1)", "plus(".repeat(MAX_DEPTH - 10));
    assert!(out.clickhouse.starts_with(&head), "{}", out.clickhouse);
}

#[test]
fn calls_over_the_limit_are_an_error() {
    assert_too_deep(run(&nested_calls(MAX_DEPTH + 50)));
}

#[test]
fn arithmetic_just_under_the_limit_compiles_on_a_small_thread() {
    let out = on_small_thread(nested_parens(MAX_DEPTH - 10), 256 * 1024).expect("compiles");
    assert_eq!(out.clickhouse.matches("plus(1, ").count(), MAX_DEPTH - 10);
}

#[test]
fn arithmetic_over_the_limit_is_an_error_on_a_small_thread() {
    assert_too_deep(on_small_thread(nested_parens(MAX_DEPTH + 20), 256 * 1024));
}

#[test]
fn subqueries_compile_until_the_limit_then_error() {
    // Each subquery level is several tree levels (join, table, select); find the deepest that
    // compiles and check it really is deep, and that one more level is the depth error.
    let mut deepest = 0;
    for levels in 1..MAX_DEPTH {
        match on_small_thread(nested_subqueries(levels), 512 * 1024) {
            Ok(out) => {
                // The innermost `(select 1 as x)` is one more subquery.
                let subqueries = out.clickhouse.matches("(SELECT").count();
                assert_eq!(subqueries, levels + 1, "{}", out.clickhouse);
                deepest = levels;
            }
            Err(err) => {
                assert_too_deep(Err(err));
                break;
            }
        }
    }
    assert!(deepest >= 40, "only {deepest} nested subqueries compiled");
    assert_too_deep(on_small_thread(nested_subqueries(deepest + 1), 512 * 1024));
}

#[test]
fn past_the_parser_limit_is_a_syntax_error_not_an_overflow() {
    let err = on_small_thread(nested_parens(1100), 512 * 1024).expect_err("too deep to parse");
    assert_eq!(err.code(), "syntax_error", "{err}");
}
