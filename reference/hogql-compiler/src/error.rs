//! The crate's one error type.
//!
//! Most variants are user-facing query errors whose `Display` text is PostHog's exact wording
//! (capitalised, sometimes with a trailing period), because the conformance suite compares error
//! texts with PostHog's. That is a deliberate exception to the house rule of lowercase messages;
//! the stable machine-readable identity of each error is [`Error::code`].

use std::fmt;

/// Which table a called name was found in, which decides the word PostHog uses in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallTerm {
    /// "Function 'x' …" (ClickHouse and PostHog functions).
    Function,
    /// "Aggregation 'x' …".
    Aggregation,
}

impl fmt::Display for CallTerm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CallTerm::Function => "Function",
            CallTerm::Aggregation => "Aggregation",
        })
    }
}

/// What was counted: the arguments `f(a, b)` or the parameters `f(p)(a)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counted {
    /// Call arguments.
    Argument,
    /// Parametric-aggregate parameters.
    Parameter,
}

/// The bound a call violated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expected {
    /// `min == max`: "expects N argument(s)".
    Exactly(usize),
    /// Too few: "expects at least N argument(s)".
    AtLeast(usize),
    /// Too many: "expects at most N argument(s)".
    AtMost(usize),
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Renders "argument"/"parameter" with PostHog's pluralisation (plural unless exactly one).
struct CountedWord(Counted, usize);

impl fmt::Display for CountedWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self.0 {
            Counted::Argument => "argument",
            Counted::Parameter => "parameter",
        };
        write!(f, "{word}{}", plural(self.1))
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Exactly(n) => write!(f, "{n}"),
            Expected::AtLeast(n) => write!(f, "at least {n}"),
            Expected::AtMost(n) => write!(f, "at most {n}"),
        }
    }
}

impl Expected {
    fn bound(self) -> usize {
        match self {
            Expected::Exactly(n) | Expected::AtLeast(n) | Expected::AtMost(n) => n,
        }
    }
}

fn did_you_mean(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(" Did you mean: {}?", suggestions.join(", "))
    }
}

fn perhaps(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(". Perhaps you meant '{s}(...)'?"),
        None => String::new(),
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An identifier contains `%`, which would clash with `%(name)s` parameters.
    #[error(
        "The HogQL identifier \"{identifier}\" is not permitted as it contains the \"%\" character"
    )]
    PercentInIdentifier {
        /// The identifier as written.
        identifier: String,
    },

    /// A call to a name that is in none of the allowlists.
    #[error("Unsupported function call '{name}(...)'{}", perhaps(suggestion))]
    UnsupportedFunction {
        /// The name as written.
        name: String,
        /// The closest known name (difflib, cutoff 0.6), if any.
        suggestion: Option<String>,
    },

    /// Too few or too many arguments or parameters.
    #[error("{term} '{name}' expects {expected} {}, found {found}", CountedWord(*counted, expected.bound()))]
    WrongCount {
        /// Function or aggregation.
        term: CallTerm,
        /// The name as written.
        name: String,
        /// Arguments or parameters.
        counted: Counted,
        /// The violated bound.
        expected: Expected,
        /// How many were given.
        found: usize,
    },

    /// A parametric aggregate or function called without its `(params)`.
    #[error("{term} '{name}' requires parameters in addition to arguments")]
    MissingParameters {
        /// Function or aggregation.
        term: CallTerm,
        /// The name as written.
        name: String,
    },

    /// `equals(a)` and friends: comparison names take exactly two arguments.
    #[error("Comparison '{name}' requires exactly two arguments")]
    ComparisonArity {
        /// The name as written.
        name: String,
    },

    /// An aggregation that needs `WITHIN GROUP (ORDER BY …)` was called without it.
    #[error("Aggregation '{name}' requires WITHIN GROUP")]
    RequiresWithinGroup {
        /// The name as written.
        name: String,
    },

    /// `WITHIN GROUP` on an aggregation that does not take it.
    #[error("Aggregation '{name}' does not support WITHIN GROUP")]
    WithinGroupNotSupported {
        /// The name as written.
        name: String,
    },

    /// An aggregation nested inside another one.
    #[error("Aggregation '{name}' cannot be nested inside another aggregation '{outer}'.")]
    NestedAggregation {
        /// The inner aggregation.
        name: String,
        /// The enclosing aggregation.
        outer: String,
    },

    /// A function whose first argument names an aggregate (`arrayReduce`) was called without
    /// arguments.
    #[error("Missing arguments in function '{name}'")]
    MissingParametricArgument {
        /// The name as written.
        name: String,
    },

    /// The first argument of an `arrayReduce`-style function is not an allowed aggregate.
    #[error("Invalid parametric function in '{name}', '{value}' is not supported.")]
    InvalidParametricFunction {
        /// The outer function as written.
        name: String,
        /// The aggregate name given as the first argument.
        value: String,
    },

    /// A `{}` template function called with a different number of arguments than placeholders.
    #[error("Function '{name}' requires exactly {expected} argument{}", plural(*expected))]
    TemplateArity {
        /// The name as written.
        name: String,
        /// The number of `{}` placeholders.
        expected: usize,
    },

    /// A `{N}` template refers to an argument that was not given.
    #[error(
        "Invalid argument reference in function '{name}': Replacement index {index} out of range for positional args tuple"
    )]
    TemplateIndex {
        /// The name as written.
        name: String,
        /// The missing index.
        index: usize,
    },

    /// A table function (`numbers`) used without `(args)`.
    #[error("Table function '{name}' requires arguments")]
    TableFunctionRequiresArguments {
        /// The table function.
        name: String,
    },

    /// A table function called with too few arguments.
    #[error("Table function '{name}' requires at least {min} argument{}", if *min > 1 { "s" } else { "" })]
    TableFunctionTooFewArguments {
        /// The table function.
        name: String,
        /// Its minimum.
        min: usize,
    },

    /// A table function called with too many arguments.
    #[error("Table function '{name}' requires at most {max} argument{}", if *max > 1 { "s" } else { "" })]
    TableFunctionTooManyArguments {
        /// The table function.
        name: String,
        /// Its maximum.
        max: usize,
    },

    /// A table function that exists in HogQL but cannot be printed for ClickHouse.
    #[error("{name}() is not supported in ClickHouse dialect")]
    TableFunctionNotInClickHouse {
        /// The table function.
        name: String,
    },

    /// `FROM other` for a table that does not exist.
    #[error("Unknown table `{name}`.{}", did_you_mean(suggestions))]
    UnknownTable {
        /// The table name as written (dotted for nested names).
        name: String,
        /// Up to three close table names (difflib, cutoff 0.7).
        suggestions: Vec<String>,
    },

    /// A field looked up on a table that does not have it (e.g. `person.chipotle`).
    #[error("Field not found: {name}")]
    FieldNotFound {
        /// The field name.
        name: String,
    },

    /// An alias named like a table of the same SELECT (or `table.x`): ClickHouse would resolve
    /// the table's name, and the team guard with it, to the alias.
    #[error("Cannot use the alias \"{alias}\": a table in the same SELECT is called \"{table}\"")]
    AliasShadowsTable {
        /// The alias as written.
        alias: String,
        /// The FROM entry's name (its alias or table name).
        table: String,
    },

    /// The query has more AST nodes than [`Limits::max_ast_nodes`](crate::context::Limits).
    #[error("The query is too large ({nodes} syntax nodes, at most {limit} allowed)")]
    QueryTooLarge {
        /// Nodes in the query.
        nodes: usize,
        /// The limit.
        limit: usize,
    },

    /// Compiling took more work than [`Limits::max_work`](crate::context::Limits).
    #[error("The query is too expensive to compile (more than {limit} units of work)")]
    CompileBudgetExceeded {
        /// The limit.
        limit: u64,
    },

    /// A `{name}` placeholder's value is of a kind HogQL has no constant for (an object).
    #[error(
        "the value of placeholder {{{name}}} must be a string, number, boolean, null or an array of those"
    )]
    InvalidPlaceholderValue {
        /// The placeholder's name.
        name: String,
    },

    /// The HogQL text does not parse (the parser's message).
    #[error("{message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },

    /// A name that is neither a column, an alias, a table nor a lambda argument in scope.
    #[error("Unable to resolve field: {name}")]
    UnresolvedField {
        /// The first element of the chain.
        name: String,
    },

    /// A user-facing query error with PostHog's wording (e.g. "SQL indexes start from one, not
    /// from zero").
    #[error("{message}")]
    Query {
        /// The message.
        message: String,
    },

    /// The project timezone is not an IANA name PostHog accepts.
    #[error("Unknown timezone: '{name}'")]
    UnknownTimezone {
        /// The timezone given.
        name: String,
    },

    /// Query modifiers that are not PostHog's `HogQLQueryModifiers` (unknown field or value).
    #[error("invalid modifiers: {message}")]
    InvalidModifiers {
        /// The parser's message, naming the field or value.
        message: String,
    },

    /// A modifier value this compiler cannot apply (PostHog would print different SQL).
    #[error("modifier {name}={value} is not supported by the compiler yet")]
    UnsupportedModifier {
        /// The modifier's PostHog name.
        name: String,
        /// The value given.
        value: String,
    },

    /// A construct the compiler does not handle yet.
    #[error("{what} is not supported by the compiler yet")]
    NotSupported {
        /// What was used.
        what: String,
    },

    /// The parser produced a tree the compiler cannot read (a parser/compiler mismatch).
    #[error("invalid syntax tree: {message}")]
    InvalidAst {
        /// What is wrong.
        message: String,
    },

    /// Binding values: a `%(name)s` placeholder whose name is not in the values map.
    #[error("no value for placeholder `{name}` at byte {offset}")]
    UnboundPlaceholder {
        /// The placeholder's name.
        name: String,
        /// Byte offset of its `%` in the SQL.
        offset: usize,
    },

    /// Binding values: a `%` that starts neither `%(name)s` nor `%%`.
    #[error("malformed placeholder at byte {offset}: expected `%(name)s` or `%%`")]
    MalformedPlaceholder {
        /// Byte offset of the `%` in the SQL.
        offset: usize,
    },

    /// The crate's embedded data tables are malformed (a bug caught by the crate's tests).
    #[error("invalid embedded data in {file} line {line}: {message}")]
    InvalidData {
        /// The data file.
        file: &'static str,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// A stable, machine-readable code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PercentInIdentifier { .. } => "identifier_percent",
            Error::UnsupportedFunction { .. } => "unsupported_function",
            Error::WrongCount {
                counted: Counted::Argument,
                ..
            } => "wrong_argument_count",
            Error::WrongCount {
                counted: Counted::Parameter,
                ..
            } => "wrong_parameter_count",
            Error::MissingParameters { .. } => "missing_parameters",
            Error::ComparisonArity { .. } => "comparison_arity",
            Error::RequiresWithinGroup { .. } => "requires_within_group",
            Error::WithinGroupNotSupported { .. } => "within_group_not_supported",
            Error::NestedAggregation { .. } => "nested_aggregation",
            Error::MissingParametricArgument { .. } => "missing_parametric_argument",
            Error::InvalidParametricFunction { .. } => "invalid_parametric_function",
            Error::TemplateArity { .. } => "template_arity",
            Error::TemplateIndex { .. } => "template_index",
            Error::TableFunctionRequiresArguments { .. } => "table_function_requires_arguments",
            Error::TableFunctionTooFewArguments { .. } => "table_function_too_few_arguments",
            Error::TableFunctionTooManyArguments { .. } => "table_function_too_many_arguments",
            Error::TableFunctionNotInClickHouse { .. } => "table_function_not_in_clickhouse",
            Error::UnknownTable { .. } => "unknown_table",
            Error::FieldNotFound { .. } => "field_not_found",
            Error::AliasShadowsTable { .. } => "alias_shadows_table",
            Error::QueryTooLarge { .. } => "query_too_large",
            Error::CompileBudgetExceeded { .. } => "compile_budget_exceeded",
            Error::InvalidPlaceholderValue { .. } => "invalid_placeholder_value",
            Error::Syntax { .. } => "syntax_error",
            Error::UnresolvedField { .. } => "unresolved_field",
            Error::Query { .. } => "query_error",
            Error::UnknownTimezone { .. } => "unknown_timezone",
            Error::InvalidModifiers { .. } => "invalid_modifiers",
            Error::UnsupportedModifier { .. } => "unsupported_modifier",
            Error::NotSupported { .. } => "not_supported",
            Error::InvalidAst { .. } => "invalid_ast",
            Error::InvalidData { .. } => "invalid_embedded_data",
            Error::UnboundPlaceholder { .. } => "unbound_placeholder",
            Error::MalformedPlaceholder { .. } => "malformed_placeholder",
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_messages_follow_posthog_wording() {
        let e = |term, counted, expected, found| Error::WrongCount {
            term,
            name: "f".into(),
            counted,
            expected,
            found,
        };
        use CallTerm::*;
        use Counted::*;
        use Expected::*;
        assert_eq!(
            e(Function, Argument, Exactly(2), 3).to_string(),
            "Function 'f' expects 2 arguments, found 3"
        );
        assert_eq!(
            e(Function, Argument, Exactly(1), 0).to_string(),
            "Function 'f' expects 1 argument, found 0"
        );
        assert_eq!(
            e(Function, Argument, Exactly(0), 1).to_string(),
            "Function 'f' expects 0 arguments, found 1"
        );
        assert_eq!(
            e(Aggregation, Argument, AtMost(1), 4).to_string(),
            "Aggregation 'f' expects at most 1 argument, found 4"
        );
        assert_eq!(
            e(Aggregation, Argument, AtLeast(2), 1).to_string(),
            "Aggregation 'f' expects at least 2 arguments, found 1"
        );
        assert_eq!(
            e(Aggregation, Parameter, Exactly(1), 2).to_string(),
            "Aggregation 'f' expects 1 parameter, found 2"
        );
        assert_eq!(
            e(Function, Parameter, AtMost(2), 3).to_string(),
            "Function 'f' expects at most 2 parameters, found 3"
        );
    }

    #[test]
    fn table_function_messages_pluralise_like_posthog() {
        // PostHog writes `'s' if n > 1`, so zero takes the singular here (unlike call arity).
        let few = Error::TableFunctionTooFewArguments {
            name: "numbers".into(),
            min: 1,
        };
        assert_eq!(
            few.to_string(),
            "Table function 'numbers' requires at least 1 argument"
        );
        let many = Error::TableFunctionTooManyArguments {
            name: "numbers".into(),
            max: 2,
        };
        assert_eq!(
            many.to_string(),
            "Table function 'numbers' requires at most 2 arguments"
        );
    }

    #[test]
    fn unknown_table_with_and_without_suggestions() {
        let plain = Error::UnknownTable {
            name: "other".into(),
            suggestions: vec![],
        };
        assert_eq!(plain.to_string(), "Unknown table `other`.");
        let hinted = Error::UnknownTable {
            name: "event".into(),
            suggestions: vec!["events".into()],
        };
        assert_eq!(
            hinted.to_string(),
            "Unknown table `event`. Did you mean: events?"
        );
    }
}
