//! Every comma-separated list of the grammar (read by one helper, `Parser::comma_list`): what each
//! accepts and where it fails, with and without a trailing comma, empty, and with a doubled comma.
//! The outcomes were recorded from the parser before the lists shared that helper; a change here
//! changes what HogQL is accepted, so check it against PostHog's parsers first.

use hogql_parser::{EntryPoint, parse};

use EntryPoint::{Expr, Program, Select};

/// `None` when the source parses, else `Some((error offset, message))`.
type Outcome = Option<(usize, &'static str)>;

/// `(entry point, source, outcome)`.
const CASES: &[(EntryPoint, &str, Outcome)] = &[
    (Expr, "f(a, b)", None),
    (Expr, "f(a, b,)", None),
    (Expr, "f()", None),
    (
        Expr,
        "f(,)",
        Some((2, "unexpected ',', expected expression")),
    ),
    (
        Expr,
        "f(a,,)",
        Some((4, "unexpected ',', expected expression")),
    ),
    (Expr, "`a`, `b` -> a", None),
    (
        Expr,
        "`a`, -> a",
        Some((3, "unexpected ',' after the end of the input")),
    ),
    (Expr, "a, b -> a", None),
    (
        Expr,
        "a, b, -> a",
        Some((1, "unexpected ',' after the end of the input")),
    ),
    (Expr, "(a, b) -> a", None),
    (
        Expr,
        "(a, b,) -> a",
        Some((8, "unexpected '->' after the end of the input")),
    ),
    (Expr, "lambda a, b: a", None),
    (
        Expr,
        "lambda a, b,: a",
        Some((7, "unexpected 'a' after the end of the input")),
    ),
    (Select, "select * exclude (a, b)", None),
    (
        Select,
        "select * exclude (a, b,)",
        Some((23, "unexpected ')', expected identifier")),
    ),
    (
        Select,
        "select * exclude ()",
        Some((18, "unexpected ')', expected identifier")),
    ),
    (Select, "select (* replace (a as b, c as d))", None),
    (
        Select,
        "select (* replace (a as b,))",
        Some((26, "unexpected ')', expected expression")),
    ),
    (Expr, "[1, 2]", None),
    (Expr, "[1, 2,]", None),
    (Expr, "[]", None),
    (
        Expr,
        "[,]",
        Some((1, "unexpected ',', expected expression")),
    ),
    (Expr, "(1, 2)", None),
    (Expr, "(1, 2,)", None),
    (Expr, "(1,)", None),
    (
        Expr,
        "(1,,)",
        Some((3, "unexpected ',', expected expression")),
    ),
    (Expr, "{'a': 1, 'b': 2}", None),
    (Expr, "{'a': 1,}", None),
    (Expr, "{}", None),
    (
        Expr,
        "{'a': 1,,}",
        Some((8, "unexpected ',', expected expression")),
    ),
    (Expr, "sum(x) over (partition by a, b)", None),
    (Expr, "sum(x) over (partition by a, b,)", None),
    (
        Expr,
        "sum(x) over (partition by a, order by b)",
        Some((35, "unexpected 'by', expected )")),
    ),
    (Expr, "cast(x as Decimal(10, 2))", None),
    (Expr, "cast(x as Tuple())", None),
    (
        Expr,
        "cast(x as Decimal(10, 2,))",
        Some((24, "unexpected ')', expected type name")),
    ),
    (Select, "select a from t order by a, b", None),
    (
        Select,
        "select a from t order by a, b,",
        Some((30, "unexpected end of input, expected expression")),
    ),
    (
        Select,
        "with a as (select 1), b as (select 2) select 1",
        None,
    ),
    (
        Select,
        "with a as (select 1), select 1",
        Some((29, "unexpected '1', expected as")),
    ),
    (Select, "select a, b from t", None),
    (Select, "select a, b, from t", None),
    (Select, "select a, b,", None),
    (
        Select,
        "select a, b, where",
        Some((18, "unexpected end of input, expected expression")),
    ),
    (
        Select,
        "select a, , b",
        Some((10, "unexpected ',', expected expression")),
    ),
    (Select, "select 1 from t array join a as x, b as y", None),
    (
        Select,
        "select 1 from t array join a as x,",
        Some((34, "unexpected end of input, expected expression")),
    ),
    (Select, "select 1 from t window w as (), v as ()", None),
    (
        Select,
        "select 1 from t window w as (),",
        Some((31, "unexpected end of input, expected identifier")),
    ),
    (
        Select,
        "select 1 from t order by a interpolate (a, b)",
        None,
    ),
    (Select, "select 1 from t order by a interpolate ()", None),
    (
        Select,
        "select 1 from t order by a interpolate (a,)",
        Some((42, "unexpected ')', expected expression")),
    ),
    (
        Select,
        "select 1 from t settings a = 1, b = 2",
        Some((16, "Unsupported: SelectStmt.settingsClause()")),
    ),
    (Select, "select 1 from t limit 1 by a, b", None),
    (
        Select,
        "select 1 from t limit 1 by a, b,",
        Some((32, "unexpected end of input, expected expression")),
    ),
    (
        Select,
        "select 1 from t group by grouping sets ((a, b), c)",
        None,
    ),
    (
        Select,
        "select 1 from t group by grouping sets ((a, b), c,)",
        Some((50, "unexpected ')', expected expression")),
    ),
    (Select, "select 1 from t group by a, b", None),
    (
        Select,
        "select 1 from t group by a, b,",
        Some((30, "unexpected end of input, expected expression")),
    ),
    (Select, "with t(a, b) as (select 1) select 1", None),
    (
        Select,
        "with t(a, b,) as (select 1) select 1",
        Some((17, "unexpected '(', expected identifier")),
    ),
    (Select, "select 1 from t join u using a, b", None),
    (
        Select,
        "select 1 from t join u using a, b,",
        Some((34, "unexpected end of input, expected expression")),
    ),
    (Select, "select 1 from t as x(a, b)", None),
    (
        Select,
        "select 1 from t as x(a, b,)",
        Some((26, "unexpected ')', expected identifier")),
    ),
    (
        Select,
        "select 1 from t as x()",
        Some((21, "unexpected ')', expected identifier")),
    ),
    (Program, "fn f(a, b) { return a }", None),
    (Program, "fn f(a, b,) { return a }", None),
    (Program, "fn f() { return 1 }", None),
    (
        Program,
        "fn f(,) { return 1 }",
        Some((5, "unexpected ',', expected identifier")),
    ),
    (Program, "fn f(a.b, c) { return 1 }", None),
];

#[test]
fn every_list_accepts_and_rejects_as_before() {
    let mut wrong = Vec::new();
    for &(entry, src, expected) in CASES {
        let got = match parse(entry, src) {
            Ok(_) => None,
            Err(e) => Some((e.offsets().0, e.message().to_string())),
        };
        let expected = expected.map(|(o, m)| (o, m.to_string()));
        if got != expected {
            wrong.push(format!(
                "{entry:?} {src:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
