//! The data model of one allowlist entry, mirroring what PostHog's `HogQLFunctionMeta` records.

use std::fmt;

/// The family (source table) an entry comes from; one data file per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    Arithmetic,
    Arrays,
    Conversions,
    DateTime,
    Geo,
    Json,
    Math,
    Strings,
    Comparison,
    Logic,
    Conditional,
    Maps,
    Bits,
    Bitmaps,
    Url,
    Tuples,
    Other,
    TimeWindow,
    Distance,
    Window,
    Udfs,
    /// Hand-listed aggregations.
    Aggregations,
    /// Aggregations generated from a base and combinator suffixes (`avgArrayOrNullIf`).
    Combinators,
    /// PostHog-specific functions (`matchesAction`, `sparkline`, …).
    PostHog,
}

impl Family {
    /// The ClickHouse-function families, in the order PostHog merges them into one table.
    pub const CLICKHOUSE: [Family; 21] = [
        Family::Arithmetic,
        Family::Arrays,
        Family::Conversions,
        Family::DateTime,
        Family::Geo,
        Family::Json,
        Family::Math,
        Family::Strings,
        Family::Comparison,
        Family::Logic,
        Family::Conditional,
        Family::Maps,
        Family::Bits,
        Family::Bitmaps,
        Family::Url,
        Family::Tuples,
        Family::Other,
        Family::TimeWindow,
        Family::Distance,
        Family::Window,
        Family::Udfs,
    ];

    /// Every family, in listing order.
    pub const ALL: [Family; 24] = [
        Family::Arithmetic,
        Family::Arrays,
        Family::Conversions,
        Family::DateTime,
        Family::Geo,
        Family::Json,
        Family::Math,
        Family::Strings,
        Family::Comparison,
        Family::Logic,
        Family::Conditional,
        Family::Maps,
        Family::Bits,
        Family::Bitmaps,
        Family::Url,
        Family::Tuples,
        Family::Other,
        Family::TimeWindow,
        Family::Distance,
        Family::Window,
        Family::Udfs,
        Family::Aggregations,
        Family::Combinators,
        Family::PostHog,
    ];

    /// A short lowercase name (also the data file's stem).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Arithmetic => "arithmetic",
            Family::Arrays => "arrays",
            Family::Conversions => "conversions",
            Family::DateTime => "datetime",
            Family::Geo => "geo",
            Family::Json => "json",
            Family::Math => "math",
            Family::Strings => "strings",
            Family::Comparison => "comparison",
            Family::Logic => "logic",
            Family::Conditional => "conditional",
            Family::Maps => "maps",
            Family::Bits => "bits",
            Family::Bitmaps => "bitmaps",
            Family::Url => "url",
            Family::Tuples => "tuples",
            Family::Other => "other",
            Family::TimeWindow => "time_window",
            Family::Distance => "distance",
            Family::Window => "window",
            Family::Udfs => "udfs",
            Family::Aggregations => "aggregations",
            Family::Combinators => "combinators",
            Family::PostHog => "posthog",
        }
    }

    /// Which lookup table the family belongs to.
    pub fn kind(self) -> FunctionKind {
        match self {
            Family::Aggregations | Family::Combinators => FunctionKind::Aggregation,
            Family::PostHog => FunctionKind::PostHog,
            _ => FunctionKind::ClickHouse,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The three lookup tables, searched in this order by [`super::FunctionRegistry::lookup`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FunctionKind {
    /// `HOGQL_AGGREGATIONS`.
    Aggregation,
    /// `HOGQL_CLICKHOUSE_FUNCTIONS`.
    ClickHouse,
    /// `HOGQL_POSTHOG_FUNCTIONS`.
    PostHog,
}

/// An inclusive count range; `max: None` means variadic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Arity {
    /// Fewest allowed.
    pub min: usize,
    /// Most allowed, `None` for no limit.
    pub max: Option<usize>,
}

impl Arity {
    /// Exactly `n`.
    pub const fn exactly(n: usize) -> Self {
        Self {
            min: n,
            max: Some(n),
        }
    }

    /// Whether `n` is within the range.
    pub fn accepts(self, n: usize) -> bool {
        n >= self.min && self.max.is_none_or(|max| n <= max)
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.max {
            Some(max) if max == self.min => write!(f, "{max}"),
            Some(max) => write!(f, "{}..{max}", self.min),
            None => write!(f, "{}..", self.min),
        }
    }
}

/// What the call prints as in ClickHouse.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A plain function name: `name(args…)`.
    Name(String),
    /// A SQL template with placeholders. `positional: false` means `{}` placeholders filled in
    /// order (and the call must have exactly as many arguments); `true` means `{N}` references.
    Template {
        /// The template text.
        text: String,
        /// `{N}` (true) or `{}` (false) placeholders.
        positional: bool,
    },
}

impl Target {
    /// The name or template text.
    pub fn text(&self) -> &str {
        match self {
            Target::Name(name) => name,
            Target::Template { text, .. } => text,
        }
    }
}

/// The constant types an overload can key on (PostHog's `ConstantType` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgType {
    Integer,
    Float,
    Decimal,
    String,
    Boolean,
    Date,
    DateTime,
    Uuid,
    Array,
    Tuple,
    Interval,
}

impl ArgType {
    /// Parse the spelling used in the data files.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "Integer" => ArgType::Integer,
            "Float" => ArgType::Float,
            "Decimal" => ArgType::Decimal,
            "String" => ArgType::String,
            "Boolean" => ArgType::Boolean,
            "Date" => ArgType::Date,
            "DateTime" => ArgType::DateTime,
            "UUID" => ArgType::Uuid,
            "Array" => ArgType::Array,
            "Tuple" => ArgType::Tuple,
            "Interval" => ArgType::Interval,
            _ => return None,
        })
    }
}

/// Use a different ClickHouse function when the first argument has one of these types, e.g.
/// `toDate(<DateTime>)` prints `toDate` instead of `toDateOrNull`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Overload {
    /// Types of the first argument that select this overload.
    pub first_arg_types: Vec<ArgType>,
    /// The ClickHouse function to print instead.
    pub clickhouse_name: String,
}

/// A constant appended after the caller's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SuffixArg {
    /// A string constant; it goes through the printer's value parameterisation like any string.
    /// With `passthrough_suffix_args_count`, `{0}` in it is replaced by the caller's last
    /// argument(s) first (`toDecimal(x, 5)` → `accurateCastOrNull(x, 'Decimal64(5)')`).
    Str(String),
    /// A PostHog constant table not carried by this crate (`LANGUAGE_CODES`).
    Named(String),
}

/// One allowlist entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionMeta {
    /// The HogQL name, as spelled in the table (the lookup key).
    pub name: String,
    /// Which family (data file) it comes from.
    pub family: Family,
    /// What it prints as.
    pub target: Target,
    /// Allowed argument counts.
    pub args: Arity,
    /// Allowed parameter counts for parametric calls `f(params)(args)`; `min == 0` means
    /// parameters are not checked (PostHog only checks them when a minimum is set).
    pub params: Arity,
    /// An aggregate (everything in the aggregation table).
    pub aggregate: bool,
    /// The project timezone is appended as the last argument unless the caller gave the maximum.
    pub tz_aware: bool,
    /// `false`: the entry is also found by the lowercase spelling of a call (`NOW()`).
    pub case_sensitive: bool,
    /// Alternate ClickHouse names chosen by the first argument's type.
    pub overloads: Vec<Overload>,
    /// Constants appended after the caller's arguments.
    pub suffix_args: Vec<SuffixArg>,
    /// How many trailing caller arguments are consumed into the suffix templates.
    pub passthrough_suffix_args_count: usize,
    /// The first argument must be a constant string naming an allowed aggregate (`arrayReduce`).
    pub parametric_first_arg: bool,
    /// The aggregation requires `WITHIN GROUP (ORDER BY …)`.
    pub requires_within_group: bool,
    /// A PostHog-deployed UDF; the printer appends the deployment's version suffix.
    pub is_udf: bool,
}

impl FunctionMeta {
    /// The ClickHouse name, or the template text.
    pub fn clickhouse_name(&self) -> &str {
        self.target.text()
    }

    /// Which lookup table the entry lives in.
    pub fn kind(&self) -> FunctionKind {
        self.family.kind()
    }

    /// Hidden entries (leading underscore) are callable but not offered as suggestions or
    /// listed to users, like PostHog's `ALL_EXPOSED_FUNCTION_NAMES`.
    pub fn is_hidden(&self) -> bool {
        self.name.starts_with('_')
    }

    /// The ClickHouse name to print for a first argument of type `first_arg`, after overloads.
    pub fn clickhouse_name_for(&self, first_arg: Option<ArgType>) -> &str {
        if let Some(ty) = first_arg
            && let Some(overload) = self
                .overloads
                .iter()
                .find(|o| o.first_arg_types.contains(&ty))
        {
            return &overload.clickhouse_name;
        }
        self.clickhouse_name()
    }
}
