//! The node kinds the parser emits, written down once: PostHog's `node` name, every field the
//! parser may set on it (PostHog's names), and a small source whose tree holds it.
//!
//! Tests read this table: every kind the parser builds must be in it, every field it sets must be
//! listed for its kind, and the printers and the compiler's lowering must handle every kind (their
//! samples are printed, parsed back and lowered, see `hogql-compiler/tests/node_kinds.rs`).

use crate::EntryPoint;

/// One node kind.
#[derive(Debug, Clone, Copy)]
pub struct NodeKind {
    /// PostHog's node name ([`crate::Node::kind`], the JSON `node`).
    pub name: &'static str,
    /// Every field the parser may set on it; a field left out is null or false in PostHog's JSON.
    pub fields: &'static [&'static str],
    /// The entry point of [`NodeKind::sample`]: [`EntryPoint::Program`] for the statements of Hog
    /// programs (printed by [`crate::print_program`], compiled to bytecode rather than lowered to
    /// SQL), the others for HogQL (printed by [`crate::printer::print`]).
    pub entry: EntryPoint,
    /// A small source whose tree, parsed from `entry`, holds a node of this kind.
    pub sample: &'static str,
}

macro_rules! kind {
    ($name:ident, [$($field:literal),* $(,)?], $entry:ident, $sample:literal) => {
        NodeKind {
            name: stringify!($name),
            fields: &[$($field),*],
            entry: EntryPoint::$entry,
            sample: $sample,
        }
    };
}

/// Every node kind the parser emits, by name (one line a kind).
#[rustfmt::skip]
pub const NODE_KINDS: &[NodeKind] = &[
    kind!(Alias, ["alias", "expr"], Expr, "1 as a"),
    kind!(And, ["exprs"], Expr, "a and b"),
    kind!(ArithmeticOperation, ["left", "op", "right"], Expr, "a + 1"),
    kind!(Array, ["exprs"], Expr, "[1, 2]"),
    kind!(ArrayAccess, ["array", "property", "nullish"], Expr, "a[1]"),
    kind!(ArraySlice, ["array", "start_expr", "end_expr"], Expr, "a[1:2]"),
    kind!(BetweenExpr, ["expr", "low", "high", "negated"], Expr, "a not between 1 and 2"),
    kind!(Block, ["declarations"], Expr, "x -> { return x }"),
    kind!(CTE, ["name", "expr", "cte_type", "columns", "materialized", "recursive"], Select, "with t as (select 1) select * from t"),
    kind!(Call, ["name", "args", "params", "distinct", "filter_expr", "within_group"], Expr, "count(distinct a) filter (where b)"),
    kind!(ColumnsExpr, ["all_columns", "exclude", "replace", "regex"], Select, "select * exclude (a) from t"),
    kind!(CompareOperation, ["left", "op", "right", "is_null_comparison_style"], Expr, "a = 1"),
    kind!(Constant, ["value", "value_type"], Expr, "1"),
    kind!(Dict, ["items"], Expr, "{'a': 1}"),
    kind!(ExprCall, ["expr", "args"], Expr, "(x -> x)(1)"),
    kind!(ExprStatement, ["expr"], Program, "f(1);"),
    kind!(Field, ["chain"], Expr, "a.b"),
    kind!(ForInStatement, ["keyVar", "valueVar", "expr", "body"], Program, "for (let k, v in a) { print(k) }"),
    kind!(ForStatement, ["initializer", "condition", "increment", "body"], Program, "for (let i := 0; i < 3; i := i + 1) { print(i) }"),
    kind!(Function, ["name", "params", "body"], Program, "fn f(a, b) { return a }"),
    kind!(GroupingSet, ["exprs"], Select, "select a from t group by grouping sets ((a), (a, b))"),
    kind!(HogQLXAttribute, ["name", "value"], Expr, "<Sparkline data={[1, 2]} />"),
    kind!(HogQLXTag, ["kind", "attributes"], Expr, "<Sparkline data={[1, 2]} />"),
    kind!(IfStatement, ["expr", "then", "else_"], Program, "if (a) { return 1 } else { return 2 }"),
    kind!(InterpolateExpr, ["expr"], Select, "select a from t order by a with fill interpolate (b)"),
    kind!(IsDistinctFrom, ["left", "right", "negated"], Expr, "a is not distinct from b"),
    kind!(JoinConstraint, ["expr", "constraint_type"], Select, "select 1 from a join b on a.x = b.x"),
    kind!(JoinExpr, ["table", "table_args", "alias", "column_aliases", "table_final", "sample", "constraint", "join_type", "next_join"], Select, "select 1 from t as x final"),
    kind!(Lambda, ["args", "expr"], Expr, "(x, y) -> x + y"),
    kind!(LimitByExpr, ["n", "offset_value", "exprs"], Select, "select a from t limit 1 by a"),
    kind!(NamedArgument, ["name", "value"], Expr, "f(a := 1)"),
    kind!(Not, ["expr"], Expr, "not a"),
    kind!(Or, ["exprs"], Expr, "a or b"),
    kind!(OrderExpr, ["expr", "order", "with_fill"], Select, "select a from t order by a desc"),
    kind!(Placeholder, ["expr"], Expr, "{a}"),
    kind!(PositionalRef, ["index"], Select, "select a from t order by #1"),
    kind!(Program, ["declarations"], Program, "let a := 1"),
    kind!(RatioExpr, ["left", "right"], Select, "select 1 from t sample 1/10 offset 1/2"),
    kind!(ReturnStatement, ["expr"], Program, "return 1"),
    kind!(SampleExpr, ["sample_value", "offset_value"], Select, "select 1 from t sample 1/10 offset 1/2"),
    kind!(SelectQuery, ["ctes", "distinct", "select", "select_from", "array_join_op", "array_join_list", "prewhere", "where", "group_by", "group_by_mode", "having", "qualify", "window_exprs", "order_by", "interpolate", "limit_by", "limit", "offset", "limit_with_ties"], Select, "select 1"),
    kind!(SelectSetNode, ["select_query", "set_operator"], Select, "select 1 union all select 2"),
    kind!(SelectSetQuery, ["initial_select_query", "subsequent_select_queries", "limit", "offset", "limit_with_ties"], Select, "select 1 union all select 2"),
    kind!(ThrowStatement, ["expr"], Program, "throw Error('x')"),
    kind!(TryCast, ["expr", "type_name"], Expr, "try_cast(a as Int64)"),
    kind!(TryCatchStatement, ["try_stmt", "catches", "finally_stmt"], Program, "try { f() } catch (e) { return 1 } finally { g() }"),
    kind!(Tuple, ["exprs"], Expr, "(1, 2)"),
    kind!(TupleAccess, ["tuple", "index", "nullish"], Expr, "a.1"),
    kind!(TypeCast, ["expr", "type_name"], Expr, "a::Int64"),
    kind!(VariableAssignment, ["left", "right"], Program, "let a := 1; a := 2"),
    kind!(VariableDeclaration, ["name", "expr"], Program, "let a := 1"),
    kind!(WhileStatement, ["expr", "body"], Program, "while (a) { a := a - 1 }"),
    kind!(WindowExpr, ["partition_by", "order_by", "frame_method", "frame_start", "frame_end"], Expr, "sum(a) over (partition by b order by c rows between unbounded preceding and current row)"),
    kind!(WindowFrameExpr, ["frame_type", "frame_value"], Expr, "sum(a) over (partition by b order by c rows between unbounded preceding and current row)"),
    kind!(WindowFunction, ["name", "exprs", "args", "over_expr", "over_identifier"], Expr, "sum(a) over (partition by b order by c rows between unbounded preceding and current row)"),
    kind!(WithFillExpr, ["from_value", "to_value", "step_value", "staleness_value"], Select, "select a from t order by a with fill from 1 to 10 step 1"),
];

/// The entry of [`NODE_KINDS`] named `name`.
pub fn node_kind(name: &str) -> Option<&'static NodeKind> {
    NODE_KINDS.iter().find(|k| k.name == name)
}
