//! Huge operator chains and nestings of every kind through parse, JSON, printing and drop on a
//! small (256 KiB) thread: each either parses (flat `and`/`or`/`||` chains) or is the parser's
//! "too deeply nested" error, never a stack overflow. (Before the fix, `select 1+1+…` with ~900k
//! terms aborted the process: the left-deep tree had one level per term and every recursive
//! walk of it, down to its drop, overflowed.)

use hogql_parser::{EntryPoint, parse, parse_json_string, printer};

/// Terms per chain: far past the nesting limit, small enough for a debug build.
const TERMS: usize = 200_000;

/// Stack of the thread each case runs on (smaller than any server worker's).
const SMALL_STACK: usize = 256 * 1024;

/// What a case must come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Parses (a flat node), and prints and serialises.
    Parses,
    /// The nesting limit's syntax error.
    TooDeep,
}

fn chain(sep: &str, term: &str) -> String {
    let mut s = String::with_capacity(TERMS * (sep.len() + term.len()) + 16);
    s.push_str("select ");
    for i in 0..TERMS {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(term);
    }
    s
}

fn wrapped(open: &str, inner: &str, close: &str) -> String {
    format!(
        "select {}{inner}{}",
        open.repeat(TERMS),
        close.repeat(TERMS)
    )
}

fn cases() -> Vec<(&'static str, String, Outcome)> {
    use Outcome::*;
    vec![
        ("plus", chain("+", "1"), TooDeep),
        ("minus", chain("-", "1"), TooDeep),
        ("times", chain("*", "1"), TooDeep),
        ("concat", chain("||", "'a'"), Parses),
        ("and", chain(" and ", "1"), Parses),
        ("or", chain(" or ", "1"), Parses),
        ("equals", chain("=", "1"), TooDeep),
        ("less", chain("<", "1"), TooDeep),
        ("nullish", chain("??", "1"), TooDeep),
        (
            "ternary",
            format!("{} ? 1 : 1", chain(" ? 1 : ", "1")),
            TooDeep,
        ),
        (
            "array access",
            format!("select a{}", "[1]".repeat(TERMS)),
            TooDeep,
        ),
        (
            "tuple access",
            format!("select a{}", ".1".repeat(TERMS)),
            TooDeep,
        ),
        (
            "casts",
            format!("select a{}", "::Int64".repeat(TERMS)),
            TooDeep,
        ),
        (
            "call of call",
            format!("select f{}", "(1)".repeat(TERMS)),
            TooDeep,
        ),
        ("nested calls", wrapped("f(", "1", ")"), TooDeep),
        ("nested arrays", wrapped("[", "1", "]"), TooDeep),
        ("nested tuples", wrapped("(1, ", "1", ")"), TooDeep),
        ("nested parens", wrapped("(", "1", ")"), TooDeep),
        ("unary minus", wrapped("- ", "1", ""), TooDeep),
        ("not", wrapped("not ", "1", ""), TooDeep),
        ("lambdas", wrapped("x -> ", "1", ""), TooDeep),
        (
            "joins",
            format!("select 1 from {}", vec!["events"; TERMS].join(", ")),
            TooDeep,
        ),
        (
            "subqueries",
            wrapped("(select 1 from ", "events", ")"),
            TooDeep,
        ),
    ]
}

/// Parses `src` on a small thread, serialises it to JSON and prints it back; returns whether it
/// parsed and the parse error's message otherwise.
fn run_small(src: String) -> Result<(), String> {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let json = parse_json_string(EntryPoint::Select, &src, true);
            match parse(EntryPoint::Select, &src) {
                Ok(node) => {
                    assert!(
                        json.contains("\"node\":\"SelectQuery\""),
                        "JSON of a parsed tree"
                    );
                    let printed = printer::print(&node);
                    assert!(!printed.is_empty());
                    drop(node);
                    Ok(())
                }
                Err(e) => {
                    assert!(
                        json.contains("\"error\":true"),
                        "{}",
                        &json[..200.min(json.len())]
                    );
                    Err(e.message().to_owned())
                }
            }
        })
        .expect("spawning the test thread")
        .join()
        .expect("the parser panicked")
}

#[test]
fn every_chain_parses_or_is_too_deep_on_a_small_thread() {
    let mut bad = Vec::new();
    for (name, src, expected) in cases() {
        let got = match run_small(src) {
            Ok(()) => Outcome::Parses,
            Err(m) if m == "expression too deeply nested" => Outcome::TooDeep,
            Err(m) => {
                bad.push(format!("{name}: unexpected error {m:?}"));
                continue;
            }
        };
        if got != expected {
            bad.push(format!("{name}: {got:?}, expected {expected:?}"));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn chains_under_the_limit_still_parse() {
    for src in [
        format!("select {}", vec!["1"; 900].join("+")),
        format!("select a{}", "[1]".repeat(900)),
        format!("select 1 from {}", vec!["events"; 900].join(", ")),
    ] {
        parse(EntryPoint::Select, &src).unwrap_or_else(|e| panic!("{e}: {}", &src[..40]));
    }
}
