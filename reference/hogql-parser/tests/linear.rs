//! Parsing work grows linearly with the input, on the shapes that used to backtrack.
//!
//! Work is counted, not timed ([`hogql_parser::parse_cost`]: tokens lexed plus AST nodes copied
//! while backtracking), so these checks are exact and do not depend on the machine. Each family
//! is an input shape parametrised by a size `n`; doubling `n` must at most double the work, with a
//! little slack for constant overheads. The fuzzer found the first three families as inputs of
//! about 1 KB that took over a second (exponential backtracking of `case(`/`interval(`/`(select`).

use hogql_parser::{EntryPoint, parse_cost};

type Family = (&'static str, fn(usize) -> String);

/// The sizes each family is measured at; the deepest stays under the nesting limit.
const SIZES: [usize; 4] = [25, 50, 100, 200];

/// Shapes whose work must be linear in `n`, whether they parse or not.
const LINEAR: &[Family] = &[
    ("unclosed (case(", |n| {
        format!("select {}x", "(case(".repeat(n))
    }),
    ("closed (case(", |n| {
        format!("select {}x{}", "(case(".repeat(n), ")".repeat(2 * n))
    }),
    ("closed case(", |n| {
        format!("select {}x{}", "case(".repeat(n), ")".repeat(n))
    }),
    ("unclosed (interval(", |n| {
        format!("select {}", "(interval(".repeat(n))
    }),
    ("closed interval(", |n| {
        format!("select {}1{}", "interval(".repeat(n), ")".repeat(n))
    }),
    ("unclosed (select(", |n| {
        format!("select {}", "(select(".repeat(n))
    }),
    ("unclosed (with(", |n| {
        format!("select {}", "(with(".repeat(n))
    }),
    ("unclosed ((not/t", |n| {
        format!("select {}", "((not/t ".repeat(n))
    }),
    ("unclosed (case(((not/t", |n| {
        format!("select {}", "(case(((not/t ".repeat(n))
    }),
    // PostHog's hogql-parser-rs 1.3.112 takes 3 s on this at 4 repeats and 60 s at 5 (n / 12
    // repeats keeps it under the nesting limit)
    ("the slow fuzz unit's motif", |n| {
        let motif = "((((((((with((((case(((not/t ((((((((ne(w(select  forl(";
        format!("select {}", motif.repeat(n / 12))
    }),
    ("unclosed (-(", |n| format!("select {}x", "(-(".repeat(n))),
    ("unclosed dict", |n| {
        format!("select {}", "{'a':(".repeat(n))
    }),
    ("not( calls", |n| {
        format!("select {}x{}", "not(".repeat(n), ")".repeat(n))
    }),
    ("unclosed tuples", |n| format!("select {}", "(a,".repeat(n))),
    ("lambda parameters", |n| {
        format!("select lambda {}: 1", vec!["a"; 10 * n].join(","))
    }),
    ("CTE columns", |n| {
        format!(
            "with t({}) as (select 1) select 1",
            vec!["a"; 10 * n].join(",")
        )
    }),
    ("CASE chain", |n| {
        format!(
            "select case {} end",
            "when a then (case(b) when 1 then 2 end) ".repeat(n)
        )
    }),
    // flat chains: each term used to copy the whole operand list so far (10k terms: 6.7 s)
    ("|| chain", |n| {
        format!("select {}", vec!["'a'"; 50 * n].join(" || "))
    }),
    ("or chain", |n| {
        format!("select {}", vec!["a"; 50 * n].join(" or "))
    }),
    ("and chain", |n| {
        format!("select {}", vec!["a"; 50 * n].join(" and "))
    }),
    ("|| of parenthesised chains", |n| {
        format!("select {}", vec!["('a' || 'b')"; 50 * n].join(" || "))
    }),
    ("or of parenthesised ors", |n| {
        format!("select {}", vec!["(a or b)"; 50 * n].join(" or "))
    }),
    // many fixed-depth towers side by side: the nested shapes below, repeated horizontally
    ("towers of case(...)+1", |n| {
        let tower = format!("{}x{}", "case(".repeat(8), ")+1".repeat(8));
        format!("select {}", vec![tower; n].join(", "))
    }),
    ("towers of (select(...))", |n| {
        let tower = format!("{}1{}", "(select(".repeat(8), ")".repeat(16));
        format!("select {}", vec![tower; n].join(", "))
    }),
];

/// Nested shapes that parse but whose attempts succeed or fail only after their whole inside:
/// the parser keeps what it parsed inside an attempt and copies it back on the fallback, so the
/// work is linear in size times nesting depth. The nesting limit (1000) bounds the depth, so the
/// work stays linear in the input with a bounded factor; doubling `n` may at most quadruple it.
const SIZE_TIMES_DEPTH: &[Family] = &[
    ("nested (select(", |n| {
        format!("select {}1{}", "(select(".repeat(n), ")".repeat(2 * n))
    }),
    ("nested (with(", |n| {
        format!("select {}1{}", "(with(".repeat(n), ")".repeat(2 * n))
    }),
    ("nested CASE subjects", |n| {
        format!(
            "select {}x{}",
            "case(".repeat(n),
            ") when 1 then 2 end".repeat(n)
        )
    }),
    ("nested case(...)+1", |n| {
        format!("select {}x{}", "case(".repeat(n), ")+1".repeat(n))
    }),
    // the second fuzz run's slow unit: `case` minus a braced/bracketed/listed `case`
    ("nested {case - ...}", |n| {
        format!("select {}x{}", "{case - ".repeat(n / 4), "}".repeat(n / 4))
    }),
    ("nested [case - ...]", |n| {
        format!("select {}x{}", "[case - ".repeat(n / 4), "]".repeat(n / 4))
    }),
    ("nested f(1, case - ...)", |n| {
        format!(
            "select {}x{}",
            "f(1, case - ".repeat(n / 4),
            ")".repeat(n / 4)
        )
    }),
    ("nested (case - ...)", |n| {
        format!("select {}x{}", "(case - ".repeat(n / 4), ")".repeat(n / 4))
    }),
];

fn growth(f: fn(usize) -> String, entry: EntryPoint) -> Vec<f64> {
    let costs: Vec<u64> = SIZES.iter().map(|&n| parse_cost(entry, &f(n))).collect();
    costs
        .windows(2)
        .map(|w| w[1] as f64 / w[0] as f64)
        .collect()
}

#[test]
fn hostile_shapes_parse_in_linear_work() {
    let mut bad = Vec::new();
    for (name, f) in LINEAR {
        for entry in [EntryPoint::Select, EntryPoint::Expr] {
            let g = growth(*f, entry);
            if g.iter().any(|r| *r > 2.2) {
                bad.push(format!(
                    "{name} ({entry:?}): work ratios per doubling {g:.2?}"
                ));
            }
        }
    }
    assert!(bad.is_empty(), "super-linear parsing:\n{}", bad.join("\n"));
}

#[test]
fn nested_attempts_stay_within_size_times_depth() {
    let mut bad = Vec::new();
    for (name, f) in SIZE_TIMES_DEPTH {
        let g = growth(*f, EntryPoint::Select);
        if g.iter().any(|r| *r > 4.2) {
            bad.push(format!("{name}: work ratios per doubling {g:.2?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "worse than size x depth:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_slow_fuzz_inputs_are_cheap() {
    // the inputs the fuzzer saved as slow units (0.3 to 1 KB; 0.2-1.3 s each in release before)
    // (name, most work units per byte): nested subquery attempts cost size times depth
    for (name, per_byte) in [
        ("fuzz_slow_case_nesting_1", 10),
        ("fuzz_slow_case_nesting_2", 10),
        ("fuzz_slow_with_case_not", 10),
        ("fuzz_slow_brace_case_minus", 10),
        ("fuzz_slow_select_arrows", 10),
        ("fuzz_slow_nested_selects", 40),
    ] {
        let path =
            conformance::paths::fixtures_dir().join(format!("hogql/parse/hostile/{name}.hogql"));
        let src = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let src = String::from_utf8_lossy(&src);
        for entry in [EntryPoint::Select, EntryPoint::Expr, EntryPoint::OrderExpr] {
            let cost = parse_cost(entry, &src);
            assert!(
                cost < per_byte * src.len() as u64,
                "{name} ({entry:?}): {cost} work units for {} bytes",
                src.len()
            );
        }
    }
}
