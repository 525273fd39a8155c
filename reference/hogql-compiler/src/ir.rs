//! The compiler's typed IR: one Rust type per HogQL node kind, built once from the parser's
//! uniform tree by [`crate::lower`], so the resolver and printer never look at field names again.
//!
//! Node and field names follow PostHog's AST (spec §2). Spans are the parser's byte spans; nodes
//! the parser synthesises (the `0` in `-x`, desugared calls) may have none.

pub use hogql_parser::Span;

/// An expression with its source span.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the expression is.
    pub kind: ExprKind,
    /// Where it came from, when known.
    pub span: Option<Span>,
}

impl Expr {
    /// An expression without a span.
    pub fn new(kind: ExprKind) -> Self {
        Expr { kind, span: None }
    }

    /// A plain call `name(args…)` (no parameters, DISTINCT, FILTER or WITHIN GROUP).
    pub fn call(name: &str, args: Vec<Expr>) -> Self {
        Expr::new(ExprKind::Call(Call {
            name: name.into(),
            args,
            params: None,
            distinct: false,
            filter: None,
            within_group: None,
        }))
    }
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    /// `NULL`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A float.
    Float(f64),
    /// A number kept as text (`value_type: "number"`): integers beyond `i64`, `Infinity`,
    /// `-Infinity`, `NaN`.
    Number(String),
    /// A string.
    Str(String),
}

/// One element of a field chain (`properties.$browser` is `[Name("properties"), Name("$browser")]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChainPart {
    /// A name.
    Name(String),
    /// A number (`x.1` inside a chain).
    Index(i64),
}

impl std::fmt::Display for ChainPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainPart::Name(n) => f.write_str(n),
            ChainPart::Index(i) => write!(f, "{i}"),
        }
    }
}

/// `ast.CompareOperationOp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Like,
    ILike,
    NotLike,
    NotILike,
    In,
    GlobalIn,
    NotIn,
    GlobalNotIn,
    InCohort,
    NotInCohort,
    Regex,
    NotRegex,
    IRegex,
    NotIRegex,
}

impl CompareOp {
    /// Parse PostHog's op string (`==`, `not ilike`, `=~*`, …).
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "==" => CompareOp::Eq,
            "!=" => CompareOp::NotEq,
            "<" => CompareOp::Lt,
            "<=" => CompareOp::LtEq,
            ">" => CompareOp::Gt,
            ">=" => CompareOp::GtEq,
            "like" => CompareOp::Like,
            "ilike" => CompareOp::ILike,
            "not like" => CompareOp::NotLike,
            "not ilike" => CompareOp::NotILike,
            "in" => CompareOp::In,
            "global in" => CompareOp::GlobalIn,
            "not in" => CompareOp::NotIn,
            "global not in" => CompareOp::GlobalNotIn,
            "in cohort" => CompareOp::InCohort,
            "not in cohort" => CompareOp::NotInCohort,
            "=~" => CompareOp::Regex,
            "!~" => CompareOp::NotRegex,
            "=~*" => CompareOp::IRegex,
            "!~*" => CompareOp::NotIRegex,
            _ => return None,
        })
    }

    /// PostHog's op string.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::NotEq => "!=",
            CompareOp::Lt => "<",
            CompareOp::LtEq => "<=",
            CompareOp::Gt => ">",
            CompareOp::GtEq => ">=",
            CompareOp::Like => "like",
            CompareOp::ILike => "ilike",
            CompareOp::NotLike => "not like",
            CompareOp::NotILike => "not ilike",
            CompareOp::In => "in",
            CompareOp::GlobalIn => "global in",
            CompareOp::NotIn => "not in",
            CompareOp::GlobalNotIn => "global not in",
            CompareOp::InCohort => "in cohort",
            CompareOp::NotInCohort => "not in cohort",
            CompareOp::Regex => "=~",
            CompareOp::NotRegex => "!~",
            CompareOp::IRegex => "=~*",
            CompareOp::NotIRegex => "!~*",
        }
    }
}

/// `ast.ArithmeticOperationOp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

impl ArithOp {
    /// Parse `+ - * / %`.
    pub fn parse(op: &str) -> Option<Self> {
        Some(match op {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            "/" => ArithOp::Div,
            "%" => ArithOp::Mod,
            _ => return None,
        })
    }

    /// The operator symbol.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
        }
    }

    /// The ClickHouse function it prints as.
    pub fn clickhouse_function(self) -> &'static str {
        match self {
            ArithOp::Add => "plus",
            ArithOp::Sub => "minus",
            ArithOp::Mul => "multiply",
            ArithOp::Div => "divide",
            ArithOp::Mod => "modulo",
        }
    }
}

/// A function call `name(params)(args)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The name as written.
    pub name: String,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Parametric-call parameters `f(params)(args)`, `None` without the list.
    pub params: Option<Vec<Expr>>,
    /// `f(DISTINCT …)`.
    pub distinct: bool,
    /// `FILTER (WHERE …)`.
    pub filter: Option<Box<Expr>>,
    /// `WITHIN GROUP (ORDER BY …)`.
    pub within_group: Option<Vec<OrderExpr>>,
}

/// One `COLUMNS(...)` / `* EXCEPT` / `* REPLACE` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnsExpr {
    /// `*` with modifiers.
    pub all_columns: bool,
    /// `EXCLUDE (a, b)` names.
    pub exclude: Vec<String>,
    /// `REPLACE (expr AS name)` items.
    pub replace: Vec<(String, Expr)>,
    /// `COLUMNS('regex')`.
    pub regex: Option<String>,
    /// `COLUMNS(a, b)`.
    pub columns: Vec<Expr>,
}

/// Expression kinds.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Constant(Constant),
    /// A name chain.
    Field(Vec<ChainPart>),
    /// A call.
    Call(Call),
    /// `left op right`.
    Compare {
        op: CompareOp,
        left: Box<Expr>,
        right: Box<Expr>,
        /// Written as `IS [NOT] NULL`.
        is_null_style: bool,
    },
    /// `left op right`.
    Arithmetic {
        op: ArithOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `a AND b AND …`.
    And(Vec<Expr>),
    /// `a OR b OR …`.
    Or(Vec<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `expr [NOT] BETWEEN low AND high`.
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    /// `a IS [NOT] DISTINCT FROM b`.
    IsDistinctFrom {
        left: Box<Expr>,
        right: Box<Expr>,
        negated: bool,
    },
    /// `expr AS alias`.
    Alias {
        alias: String,
        expr: Box<Expr>,
        hidden: bool,
    },
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `{'k': v}`.
    Dict(Vec<(Expr, Expr)>),
    /// `a[b]`, `a?.[b]`.
    ArrayAccess {
        array: Box<Expr>,
        property: Box<Expr>,
        nullish: bool,
    },
    /// `a[start:end]`.
    ArraySlice {
        array: Box<Expr>,
        start: Option<Box<Expr>>,
        end: Option<Box<Expr>>,
    },
    /// `t.1`, `t?.1`.
    TupleAccess {
        tuple: Box<Expr>,
        index: i64,
        nullish: bool,
    },
    /// `(x, y) -> expr`.
    Lambda { args: Vec<String>, expr: Box<Expr> },
    /// `CAST(x AS t)`, `x::t`, `TRY_CAST`.
    TypeCast {
        expr: Box<Expr>,
        type_name: String,
        try_cast: bool,
    },
    /// `{name}`.
    Placeholder(Box<Expr>),
    /// A subquery used as an expression.
    Query(Box<Query>),
    /// `f(…) OVER (…)`.
    WindowFunction(Box<WindowFunction>),
    /// `COLUMNS(…)` and friends.
    Columns(ColumnsExpr),
    /// `name => value` inside a call.
    NamedArgument { name: String, value: Box<Expr> },
    /// `$1`-style positional reference.
    PositionalRef(i64),
    /// `(expr)(args)`: calling something that is not a name.
    ExprCall { expr: Box<Expr>, args: Vec<Expr> },
    /// A `GROUPING SETS` element.
    GroupingSet(Vec<Expr>),
    /// A HogQLX tag `<Tag a={…} />`.
    HogQLXTag {
        kind: String,
        attributes: Vec<(String, Expr)>,
    },
}

/// `ASC` / `DESC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    Asc,
    Desc,
}

/// `WITH FILL FROM … TO … STEP … STALENESS …`.
#[derive(Debug, Clone, PartialEq)]
pub struct WithFill {
    pub from: Option<Expr>,
    pub to: Option<Expr>,
    pub step: Option<Expr>,
    pub staleness: Option<Expr>,
}

/// One ORDER BY element.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderExpr {
    pub expr: Expr,
    pub order: Order,
    pub with_fill: Option<WithFill>,
    pub span: Option<Span>,
}

/// `INTERPOLATE (name AS expr)` item.
#[derive(Debug, Clone, PartialEq)]
pub struct InterpolateExpr {
    pub name: String,
    pub expr: Option<Expr>,
}

/// A window frame bound.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameBound {
    /// `CURRENT ROW`, `PRECEDING`, `FOLLOWING`.
    pub frame_type: String,
    /// `N` in `N PRECEDING`; `None` for UNBOUNDED.
    pub frame_value: Option<i64>,
}

/// `OVER (PARTITION BY … ORDER BY … ROWS …)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowExpr {
    /// `OVER (w …)`: a named base window.
    pub base: Option<String>,
    pub partition_by: Vec<Expr>,
    pub order_by: Vec<OrderExpr>,
    /// `ROWS` / `RANGE`.
    pub frame_method: Option<String>,
    pub frame_start: Option<FrameBound>,
    pub frame_end: Option<FrameBound>,
}

/// `name(exprs)(args) OVER …`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowFunction {
    pub name: String,
    pub exprs: Vec<Expr>,
    pub args: Vec<Expr>,
    pub over_expr: Option<WindowExpr>,
    pub over_identifier: Option<String>,
}

/// `LIMIT n [OFFSET m] BY exprs`.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitBy {
    pub n: Expr,
    pub offset: Option<Expr>,
    pub exprs: Vec<Expr>,
}

/// `WITH name AS (…)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cte {
    pub name: String,
    pub expr: Expr,
    /// `subquery` or `column`.
    pub cte_type: String,
    pub columns: Vec<String>,
    pub materialized: Option<bool>,
    pub recursive: bool,
    pub span: Option<Span>,
}

/// `a / b` in SAMPLE.
#[derive(Debug, Clone, PartialEq)]
pub struct Ratio {
    pub left: Expr,
    pub right: Option<Expr>,
}

/// `SAMPLE x [OFFSET y]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub sample_value: Ratio,
    pub offset_value: Option<Ratio>,
}

/// `ON expr` / `USING expr`.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinConstraint {
    pub expr: Expr,
    /// `ON` or `USING`.
    pub constraint_type: String,
}

/// What a JoinExpr reads from.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinTable {
    /// A table by name (`events`, `posthog.x`), with table-function arguments if called.
    Table {
        chain: Vec<String>,
        args: Option<Vec<Expr>>,
        span: Option<Span>,
    },
    /// A subquery.
    Query(Box<Query>),
    /// `{placeholder}`.
    Placeholder(Expr),
    /// A parenthesised join expression.
    Nested(Box<JoinExpr>),
    /// Something else the parser accepted (printed as an error by the resolver).
    Other(Expr),
}

/// One element of the FROM linked list.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinExpr {
    /// `LEFT JOIN`, `CROSS JOIN`, …; `None` for the first table.
    pub join_type: Option<String>,
    pub table: JoinTable,
    pub alias: Option<String>,
    pub table_final: bool,
    pub sample: Option<Sample>,
    pub constraint: Option<JoinConstraint>,
    pub column_aliases: Vec<String>,
    pub next_join: Option<Box<JoinExpr>>,
    pub span: Option<Span>,
}

impl JoinExpr {
    /// `FROM name`: a bare table with nothing joined (what the printer's generated subqueries read).
    pub fn table(name: &str) -> JoinExpr {
        JoinExpr {
            join_type: None,
            table: JoinTable::Table {
                chain: vec![name.to_owned()],
                args: None,
                span: None,
            },
            alias: None,
            table_final: false,
            sample: None,
            constraint: None,
            column_aliases: Vec::new(),
            next_join: None,
            span: None,
        }
    }
}

/// `ARRAY JOIN` / `LEFT ARRAY JOIN`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayJoin {
    pub op: String,
    pub list: Vec<Expr>,
}

/// One SELECT statement.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SelectQuery {
    pub ctes: Vec<Cte>,
    pub distinct: bool,
    pub select: Vec<Expr>,
    pub select_from: Option<JoinExpr>,
    pub array_join: Option<ArrayJoin>,
    pub prewhere: Option<Expr>,
    pub where_: Option<Expr>,
    pub group_by: Vec<Expr>,
    /// `all`, `grouping_sets`, `rollup`, `cube`, … as the parser names it.
    pub group_by_mode: Option<String>,
    pub having: Option<Expr>,
    pub qualify: Option<Expr>,
    pub window_exprs: Vec<(String, WindowExpr)>,
    pub order_by: Vec<OrderExpr>,
    pub interpolate: Vec<InterpolateExpr>,
    pub limit_by: Option<LimitBy>,
    pub limit: Option<Expr>,
    pub offset: Option<Expr>,
    pub limit_with_ties: bool,
    /// Query-level `SETTINGS` (never parsed from HogQL; the compiler adds them to the
    /// subqueries it builds, e.g. `optimize_aggregation_in_order=1`), as printed `key=value`.
    pub settings: Vec<(String, String)>,
    pub span: Option<Span>,
}

/// `UNION ALL`, `EXCEPT`, ….
#[derive(Debug, Clone, PartialEq)]
pub struct SetNode {
    pub set_operator: String,
    pub query: Query,
}

/// `q1 UNION ALL q2 …`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectSetQuery {
    pub initial: Box<Query>,
    pub subsequent: Vec<SetNode>,
    pub span: Option<Span>,
}

/// A whole query.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    Select(Box<SelectQuery>),
    Set(SelectSetQuery),
    /// `{placeholder}` where a query is expected.
    Placeholder(Expr),
}
