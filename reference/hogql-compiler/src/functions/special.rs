//! Small fixed tables the printer consults besides the allowlist: comparison names that are
//! re-routed to the comparison printer, the aggregates an `arrayReduce`-style first argument may
//! name, and the table functions allowed in `FROM`.

use crate::{Error, Result};

/// A comparison operator (`ast.CompareOperationOp`) that a function name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    NotEq,
    Lt,
    Gt,
    LtEq,
    GtEq,
    Like,
    ILike,
    NotLike,
    NotILike,
    In,
    NotIn,
}

/// PostHog's `HOGQL_COMPARISON_MAPPING`: a call to one of these names (exact spelling) is
/// printed through the null-safe comparison printer instead of as a plain call.
/// (PostHog: functions/mapping.py @ af2acc5c0e3808d0f5443f6cb074b3b434e1d666.)
pub const COMPARISON_FUNCTIONS: [(&str, CompareOp); 12] = [
    ("equals", CompareOp::Eq),
    ("notEquals", CompareOp::NotEq),
    ("less", CompareOp::Lt),
    ("greater", CompareOp::Gt),
    ("lessOrEquals", CompareOp::LtEq),
    ("greaterOrEquals", CompareOp::GtEq),
    ("like", CompareOp::Like),
    ("ilike", CompareOp::ILike),
    ("notLike", CompareOp::NotLike),
    ("notILike", CompareOp::NotILike),
    ("in", CompareOp::In),
    ("notIn", CompareOp::NotIn),
];

/// The comparison a function name stands for. Case-sensitive, like PostHog's dict lookup.
pub fn comparison_op(name: &str) -> Option<CompareOp> {
    COMPARISON_FUNCTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, op)| *op)
}

impl CompareOp {
    /// The same operator in the IR.
    pub fn to_ir(self) -> crate::ir::CompareOp {
        use crate::ir::CompareOp as Ir;
        match self {
            CompareOp::Eq => Ir::Eq,
            CompareOp::NotEq => Ir::NotEq,
            CompareOp::Lt => Ir::Lt,
            CompareOp::Gt => Ir::Gt,
            CompareOp::LtEq => Ir::LtEq,
            CompareOp::GtEq => Ir::GtEq,
            CompareOp::Like => Ir::Like,
            CompareOp::ILike => Ir::ILike,
            CompareOp::NotLike => Ir::NotLike,
            CompareOp::NotILike => Ir::NotILike,
            CompareOp::In => Ir::In,
            CompareOp::NotIn => Ir::NotIn,
        }
    }

    /// The ClickHouse function the operator prints as.
    pub fn clickhouse_function(self) -> &'static str {
        COMPARISON_FUNCTIONS
            .iter()
            .find(|(_, op)| *op == self)
            .map(|(name, _)| *name)
            .unwrap_or("equals")
    }
}

/// PostHog's `HOGQL_PERMITTED_PARAMETRIC_FUNCTIONS`: the aggregates that may be named by the
/// first argument of `arrayReduce` and other `parametric` entries. Case-sensitive.
///
/// Spec §4 says 23 names; the PostHog versions in the index list 20 (without `median`) or 21
/// (with it). This is the 21-name list of functions/config.py @ 06f8db43ffa8a00847b148b0dbf1cd50e2b3c5a3.
pub const PERMITTED_PARAMETRIC_FUNCTIONS: [&str; 21] = [
    "count",
    "countMap",
    "countMapState",
    "sum",
    "sumMap",
    "sumMapState",
    "min",
    "minMap",
    "minMapState",
    "max",
    "maxMap",
    "maxMapState",
    "avg",
    "avgState",
    "avgMap",
    "avgMapState",
    "median",
    "uniq",
    "uniqState",
    "uniqMap",
    "uniqMapState",
];

/// Whether `name` may be the first argument of an `arrayReduce`-style call.
pub fn is_allowed_parametric_function(name: &str) -> bool {
    PERMITTED_PARAMETRIC_FUNCTIONS.contains(&name)
}

/// Check the constant first argument of a `parametric` call: `args_len` is the number of call
/// arguments, `first_arg` the first one if it is a string constant.
pub fn check_parametric_first_arg(
    name: &str,
    args_len: usize,
    first_arg: Option<&str>,
) -> Result<()> {
    if args_len == 0 {
        return Err(Error::MissingParametricArgument {
            name: name.to_owned(),
        });
    }
    match first_arg {
        Some(value) if is_allowed_parametric_function(value) => Ok(()),
        Some(value) => Err(Error::InvalidParametricFunction {
            name: name.to_owned(),
            value: value.to_owned(),
        }),
        // Non-constant first arguments have their own messages that depend on the AST node type;
        // the printer produces those.
        None => Ok(()),
    }
}

/// Functions whose result PostHog takes from the `-OrNull` variant by default (config.py
/// `ADD_OR_NULL_DATETIME_FUNCTIONS`); the printer consults this when it rewrites date parsing.
pub const ADD_OR_NULL_DATETIME_FUNCTIONS: [&str; 5] = [
    "toDateTime",
    "toDateTimeUS",
    "parseDateTime",
    "parseDateTimeBestEffort",
    "parseDateTimeBestEffortOrNull",
];

/// Functions whose first argument must be a `DateTime`, not a `DateTime64`; the printer wraps it
/// in `toDateTime(x, 'UTC')` (config.py `FIRST_ARG_DATETIME_FUNCTIONS`).
pub const FIRST_ARG_DATETIME_FUNCTIONS: [&str; 6] = [
    "tumble",
    "tumbleStart",
    "tumbleEnd",
    "hop",
    "hopStart",
    "hopEnd",
];

/// The exact HogQL names the printer rewrites from `f(s, c)` to `trim(<side> c FROM s)`
/// (spec §6); the aliases `btrim`, `ltrim`, `rtrim` print as plain calls.
pub const TRIM_REWRITES: [(&str, &str); 3] = [
    ("trim", "BOTH"),
    ("trimLeft", "LEADING"),
    ("trimRight", "TRAILING"),
];

/// The `trim(<side> … FROM …)` side for a call name, if the printer rewrites it.
pub fn trim_side(name: &str) -> Option<&'static str> {
    TRIM_REWRITES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, side)| *side)
}

/// The ISO 639-1 codes and English names behind `languageCodeToName`, in PostHog's order.
fn languages() -> &'static [(&'static str, &'static str)] {
    static LANGUAGES: std::sync::OnceLock<Vec<(&'static str, &'static str)>> =
        std::sync::OnceLock::new();
    LANGUAGES.get_or_init(|| {
        include_str!("data/languages.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(|line| line.split_once('\t'))
            .collect()
    })
}

/// The values of a named suffix constant ([`super::SuffixArg::Named`]): `LANGUAGE_CODES` and
/// `LANGUAGE_NAMES`, each printed as one array argument of `transform`.
pub fn named_constant(name: &str) -> Option<Vec<&'static str>> {
    match name {
        "LANGUAGE_CODES" => Some(languages().iter().map(|(code, _)| *code).collect()),
        "LANGUAGE_NAMES" => Some(languages().iter().map(|(_, name)| *name).collect()),
        _ => None,
    }
}

/// A table function allowed in `FROM` (PostHog's `FunctionCallTable`s at the database root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableFunction {
    /// The HogQL name.
    pub name: &'static str,
    /// Fewest arguments.
    pub min_args: usize,
    /// Most arguments.
    pub max_args: usize,
    /// The ClickHouse name, or `None` when PostHog refuses to print it for ClickHouse.
    pub clickhouse_name: Option<&'static str>,
    /// The single column it produces.
    pub column: &'static str,
}

/// `numbers(N)` / `numbers(start, count)`, and the DuckDB/Postgres-style `range` and
/// `generate_series`, which newer PostHog keeps in HogQL but rejects for ClickHouse.
/// (PostHog: database/schema/numbers.py @ 110ba9df293ae598c83cff38469298bbb9f7c4fd and the
/// range/generate_series tables of the same era.)
pub const TABLE_FUNCTIONS: [TableFunction; 3] = [
    TableFunction {
        name: "numbers",
        min_args: 1,
        max_args: 2,
        clickhouse_name: Some("numbers"),
        column: "number",
    },
    TableFunction {
        name: "range",
        min_args: 1,
        max_args: 3,
        clickhouse_name: None,
        column: "range",
    },
    TableFunction {
        name: "generate_series",
        min_args: 1,
        max_args: 3,
        clickhouse_name: None,
        column: "generate_series",
    },
];

/// Look up a table function by its exact name.
pub fn table_function(name: &str) -> Option<&'static TableFunction> {
    TABLE_FUNCTIONS.iter().find(|t| t.name == name)
}

impl TableFunction {
    /// Check a `FROM name(args…)` call the way PostHog's printer does: `None` means the table was
    /// used without parentheses.
    pub fn check_args(&self, args: Option<usize>) -> Result<()> {
        let name = self.name.to_owned();
        let Some(n) = args else {
            return Err(Error::TableFunctionRequiresArguments { name });
        };
        if n < self.min_args {
            return Err(Error::TableFunctionTooFewArguments {
                name,
                min: self.min_args,
            });
        }
        if n > self.max_args {
            return Err(Error::TableFunctionTooManyArguments {
                name,
                max: self.max_args,
            });
        }
        Ok(())
    }

    /// The name to print in ClickHouse SQL.
    pub fn clickhouse_name(&self) -> Result<&'static str> {
        self.clickhouse_name
            .ok_or_else(|| Error::TableFunctionNotInClickHouse {
                name: self.name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_names_are_exact_case() {
        assert_eq!(comparison_op("equals"), Some(CompareOp::Eq));
        assert_eq!(comparison_op("notILike"), Some(CompareOp::NotILike));
        assert_eq!(comparison_op("EQUALS"), None);
        assert_eq!(comparison_op("globalIn"), None);
        for (name, op) in COMPARISON_FUNCTIONS {
            assert_eq!(op.clickhouse_function(), name);
        }
    }

    #[test]
    fn parametric_first_argument() {
        assert_eq!(PERMITTED_PARAMETRIC_FUNCTIONS.len(), 21);
        assert!(check_parametric_first_arg("arrayReduce", 2, Some("sum")).is_ok());
        assert!(check_parametric_first_arg("arrayReduce", 2, Some("uniqMapState")).is_ok());
        assert_eq!(
            check_parametric_first_arg("arrayReduce", 2, Some("SUM"))
                .unwrap_err()
                .to_string(),
            "Invalid parametric function in 'arrayReduce', 'SUM' is not supported."
        );
        assert_eq!(
            check_parametric_first_arg("arrayReduce", 0, None)
                .unwrap_err()
                .to_string(),
            "Missing arguments in function 'arrayReduce'"
        );
        assert_eq!(
            check_parametric_first_arg("arrayReduce", 2, Some("groupArray"))
                .unwrap_err()
                .code(),
            "invalid_parametric_function"
        );
    }

    #[test]
    fn language_constants() {
        let codes = named_constant("LANGUAGE_CODES").unwrap();
        let names = named_constant("LANGUAGE_NAMES").unwrap();
        assert_eq!((codes.len(), names.len()), (184, 184));
        assert_eq!((codes[0], names[0]), ("aa", "Afar"));
        assert_eq!((codes[37], names[37]), ("en", "English"));
        assert_eq!((codes[183], names[183]), ("zu", "Zulu"));
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, codes, "codes are unique and in order");
        assert!(named_constant("OTHER").is_none());
        // Every named suffix in the tables resolves.
        for meta in crate::functions::registry().all_entries() {
            for suffix in &meta.suffix_args {
                if let crate::functions::SuffixArg::Named(name) = suffix {
                    assert!(
                        named_constant(name).is_some(),
                        "{} uses unknown {name}",
                        meta.name
                    );
                }
            }
        }
    }

    #[test]
    fn printer_name_lists() {
        assert_eq!(trim_side("trim"), Some("BOTH"));
        assert_eq!(trim_side("trimLeft"), Some("LEADING"));
        assert_eq!(trim_side("trimRight"), Some("TRAILING"));
        assert_eq!(trim_side("ltrim"), None);
        assert!(FIRST_ARG_DATETIME_FUNCTIONS.contains(&"hopEnd"));
        assert!(ADD_OR_NULL_DATETIME_FUNCTIONS.contains(&"toDateTimeUS"));
        // Every listed name is an allowlisted function.
        for name in FIRST_ARG_DATETIME_FUNCTIONS
            .iter()
            .chain(&ADD_OR_NULL_DATETIME_FUNCTIONS[..4])
            .chain(TRIM_REWRITES.iter().map(|(n, _)| n))
        {
            assert!(crate::functions::lookup(name).is_some(), "{name}");
        }
    }

    #[test]
    fn table_functions_check_counts() {
        let numbers = table_function("numbers").unwrap();
        assert!(numbers.check_args(Some(1)).is_ok());
        assert!(numbers.check_args(Some(2)).is_ok());
        assert_eq!(
            numbers.check_args(None).unwrap_err().to_string(),
            "Table function 'numbers' requires arguments"
        );
        assert_eq!(
            numbers.check_args(Some(0)).unwrap_err().to_string(),
            "Table function 'numbers' requires at least 1 argument"
        );
        assert_eq!(
            numbers.check_args(Some(3)).unwrap_err().to_string(),
            "Table function 'numbers' requires at most 2 arguments"
        );
        assert_eq!(numbers.clickhouse_name(), Ok("numbers"));
        let range = table_function("range").unwrap();
        assert!(range.check_args(Some(3)).is_ok());
        assert_eq!(
            range.clickhouse_name().unwrap_err().to_string(),
            "range() is not supported in ClickHouse dialect"
        );
        assert_eq!(table_function("generate_series").unwrap().max_args, 3);
        assert!(table_function("url").is_none());
        assert!(table_function("s3").is_none());
    }
}
