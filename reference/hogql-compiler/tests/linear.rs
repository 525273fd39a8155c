//! Compile and bind work grows linearly with the query, on the shapes that were quadratic, and
//! the per-request limits stop the shapes that are not.
//!
//! Work is counted, never timed: [`Compiled::work`] (one unit per expression and query
//! printed, every pass) plus the parser's [`hogql_parser::parse_cost`], and
//! [`bind_values_counted`] for binding. Each family is a query shape parametrised by `n`;
//! doubling `n` must at most double the work, with a little slack for constant overheads.

use hogql_compiler::{Compiled, Context, Limits, bind_values_counted, compile};
use hogql_parser::{EntryPoint, parse_cost};

type Family = (&'static str, fn(usize) -> String);

const SIZES: [usize; 4] = [250, 500, 1000, 2000];

const FAMILIES: &[Family] = &[
    ("columns", |n| {
        let cols: Vec<String> = (0..n).map(|i| format!("event as c{i}")).collect();
        format!("select {} from events", cols.join(", "))
    }),
    ("implicit columns", |n| {
        format!("select {} from events", vec!["event"; n].join(", "))
    }),
    ("alias references", |n| {
        let cols: Vec<String> = (0..n).map(|i| format!("c{} + 1 as c{i}", i / 2)).collect();
        format!("select 1 as c0, {} from events", cols[1..].join(", "))
    }),
    ("or of comparisons", |n| {
        let terms: Vec<String> = (0..n).map(|i| format!("event = 'e{i}'")).collect();
        format!("select count() from events where {}", terms.join(" or "))
    }),
    ("and chain", |n| {
        format!(
            "select count() from events where {}",
            vec!["distinct_id != 'x'"; n].join(" and ")
        )
    }),
    ("|| chain", |n| {
        format!("select {} from events", vec!["event"; n].join(" || "))
    }),
    ("in list", |n| {
        let items: Vec<String> = (0..n).map(|i| format!("'v{i}'")).collect();
        format!(
            "select count() from events where event in ({})",
            items.join(", ")
        )
    }),
];

fn ctx() -> Context {
    let mut ctx = Context::new(420);
    ctx.global_settings = false;
    ctx.limits = Limits {
        max_ast_nodes: usize::MAX,
        max_work: u64::MAX,
    };
    ctx
}

fn compiled(src: &str) -> Compiled {
    compile(src, &mut ctx()).unwrap_or_else(|e| panic!("{e}: {}", &src[..60.min(src.len())]))
}

fn ratios(costs: &[u64]) -> Vec<f64> {
    costs
        .windows(2)
        .map(|w| w[1] as f64 / w[0] as f64)
        .collect()
}

#[test]
fn compile_work_is_linear() {
    let mut bad = Vec::new();
    for (name, f) in FAMILIES {
        let costs: Vec<u64> = SIZES
            .iter()
            .map(|&n| {
                let src = f(n);
                compiled(&src).work + parse_cost(EntryPoint::Select, &src)
            })
            .collect();
        let g = ratios(&costs);
        if g.iter().any(|r| *r > 2.2) {
            bad.push(format!(
                "{name}: work {costs:?}, ratios per doubling {g:.2?}"
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "super-linear compiling:\n{}",
        bad.join("\n")
    );
}

#[test]
fn bind_work_is_linear_in_the_values() {
    let costs: Vec<u64> = SIZES
        .iter()
        .map(|&n| {
            let items: Vec<String> = (0..n).map(|i| format!("'v{i}'")).collect();
            let out = compiled(&format!(
                "select count() from events where event in ({})",
                items.join(", ")
            ));
            assert_eq!(out.values.len(), n);
            let (sql, work) = bind_values_counted(&out.clickhouse, &out.values);
            assert!(sql.is_ok());
            work
        })
        .collect();
    let g = ratios(&costs);
    assert!(
        g.iter().all(|r| *r <= 2.2),
        "binding: work {costs:?}, ratios {g:.2?}"
    );
}

/// Nested subqueries that each read a lazy join (`person.…`). Each SELECT with a lazy join used
/// to be printed twice (a pass to find the joins, one to print them), subqueries inside it
/// included, so the work quadrupled per level (16 levels took 14 s, then hit the budget); the
/// lazy-table pass now plans every SELECT's joins once and each SELECT is printed once.
fn nested_person_subqueries(levels: usize) -> String {
    let mut q = "select event from events where person.properties.email != 'x'".to_owned();
    for _ in 0..levels {
        q = format!(
            "select event from events where person.properties.email != 'x' and event in ({q})"
        );
    }
    q
}

#[test]
fn nested_person_subqueries_are_linear() {
    let levels = [8, 16, 32, 64];
    let sources: Vec<String> = levels
        .iter()
        .map(|&n| nested_person_subqueries(n))
        .collect();
    let compile_work: Vec<u64> = sources.iter().map(|src| compiled(src).work).collect();
    let g = ratios(&compile_work);
    assert!(
        g.iter().all(|r| *r <= 2.2),
        "nested person subqueries: compile work {compile_work:?}, ratios per doubling {g:.2?}"
    );
    // Known gap, outside the compiler: the parser memoizes, while it speculates on a
    // `(select …)`, each enclosing expression that holds an attempt (a copy of the subtree), so
    // its counted work grows with the square of the nesting (bounded by its 1000 levels). When
    // this fails, the parser is linear here: add `parse_cost` to the check above.
    let parse_work: Vec<u64> = sources
        .iter()
        .map(|src| parse_cost(EntryPoint::Select, src))
        .collect();
    let g = ratios(&parse_work);
    assert!(
        g.iter().any(|r| *r > 2.2),
        "the parser is linear on nested subqueries now ({parse_work:?}, {g:.2?}): \
         count it in the check above"
    );
}

#[test]
fn the_default_budget_admits_nested_person_subqueries() {
    let mut ctx = Context::new(420);
    let out = compile(&nested_person_subqueries(16), &mut ctx).expect("compiles");
    assert!(out.work < Limits::default().max_work / 10, "{}", out.work);
    // each level joins persons once, in its own SELECT
    assert_eq!(
        out.clickhouse.matches("AS events__pdi__person ON").count(),
        17
    );
}

/// Every compile shape is linear now, so the budget is a backstop: past `max_work` units the
/// compilation stops with a coded error, whatever the shape.
#[test]
fn the_work_budget_is_a_coded_error() {
    let mut ctx = Context::new(420);
    ctx.limits.max_work = 1_000;
    let err = compile(&nested_person_subqueries(64), &mut ctx).expect_err("over budget");
    assert_eq!(err.code(), "compile_budget_exceeded", "{err}");
    assert_eq!(
        err.to_string(),
        "The query is too expensive to compile (more than 1000 units of work)"
    );
    let mut ctx = Context::new(420);
    ctx.limits.max_work = 1_000;
    compile(&nested_person_subqueries(4), &mut ctx).expect("compiles");
}

/// The default budget lets the largest query the AST limit admits compile: a SELECT of
/// `max_ast_nodes / 4` columns, each reading a lazy join (planned, then printed).
#[test]
fn the_default_budget_admits_the_largest_query() {
    let columns = Limits::default().max_ast_nodes / 4;
    let src = format!(
        "select {} from events",
        vec!["person.properties.email"; columns].join(", ")
    );
    let mut ctx = Context::new(420);
    let out = compile(&src, &mut ctx).expect("compiles");
    assert!(out.work < Limits::default().max_work, "{}", out.work);
}

#[test]
fn the_ast_size_limit_is_a_coded_error() {
    let mut ctx = Context::new(420);
    ctx.limits.max_ast_nodes = 1_000;
    let src = format!("select {} from events", vec!["event"; 2_000].join(", "));
    let err = compile(&src, &mut ctx).expect_err("too large");
    assert_eq!(err.code(), "query_too_large", "{err}");
    assert!(
        err.to_string().starts_with("The query is too large ("),
        "{err}"
    );
    // the default allows ordinary queries
    let mut ctx = Context::new(420);
    compile("select event, count() from events group by event", &mut ctx).expect("compiles");
}
