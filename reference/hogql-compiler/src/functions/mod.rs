//! The HogQL function allowlist: which calls exist, what they print as, and how they are checked.
//!
//! HogQL never passes an unknown call through to ClickHouse. A call is looked up, in this order,
//! in the aggregations (hand-listed plus generated combinators), the ClickHouse functions (one
//! table merged from the per-family data files) and the PostHog-specific functions; anything
//! else is `Unsupported function call 'x(...)'`, with a difflib suggestion when one is close.
//!
//! # Sources
//!
//! The tables are facts taken from PostHog's public repository through the search index; each
//! data file names the file and commit it was read from:
//!
//! | family file | PostHog file | version |
//! | --- | --- | --- |
//! | arithmetic | functions/clickhouse/arithmetic.py | b3cd2b303cdb7ef3eb8d8ec98d15cdf5d5916e2f |
//! | arrays | functions/clickhouse/arrays.py | 08f73216dfe5402871afde5bca9d67706a8d16e0 |
//! | conversions | functions/clickhouse/conversions.py | 039a7875fe169fcf3b16fce67e7977d06ac27cbb |
//! | datetime | functions/clickhouse/datetime.py | 194144dda2d02a02470bb9d252040a980b64d538 |
//! | geo | functions/clickhouse/geo.py | db13a077ee454a5c31e2733a6d89e9dcd6c03b2d |
//! | json | functions/clickhouse/json.py | 09b8ff3a46edc79530e12e22a41d36adf285487d |
//! | math | functions/clickhouse/mathematical.py | 64ca40f5422c39443f8c39435a3e2de03a09047a |
//! | strings | functions/clickhouse/strings.py | 24b3f0129d837d9845cb4dfd208b06430e4fd79e |
//! | comparison … window, other | functions/mapping.py (inline entries) | af2acc5c0e3808d0f5443f6cb074b3b434e1d666 |
//! | udfs | functions/udfs.py | 13aa1208d34b120d49734b4c2e61c26973dc120c |
//! | aggregations, combinators | functions/aggregations.py | index id 10154020152 (no commit reported); cross-checked with ad219e56a6a6979477963436ba98477a40171465 |
//! | combinator snapshot | hogql/test/__snapshots__/test_mapping.ambr | 69ddff7648b3131ebd095a07f70169550f08ea1a |
//! | posthog | functions/posthog.py | index id 54607495980 (no commit reported) |
//! | parametric list | functions/config.py | 06f8db43ffa8a00847b148b0dbf1cd50e2b3c5a3 |
//! | languages.tsv ([`named_constant`]) | hogql/language_mappings.py | a6e3cd83a8e653036341a236edd2cbfe268470e5 |
//! | error texts, lookup order | printer/base.py (index id 51774963375), functions/core.py 13aa1208d34b120d49734b4c2e61c26973dc120c |
//!
//! The files come from different commits (the index keeps one version of each), so the union is
//! close to, but not exactly, one PostHog release.
//!
//! # Known gaps
//!
//! * `signatures` (argument/return types used for type inference) are not carried.
//! * No entry in these versions sets `requires_within_group` (`percentile_cont` and friends are
//!   newer); the flag and its errors are supported for when they are added.
//! * The `is_udf` version suffix is the printer's business (deployment configuration).

mod combinators;
mod data;
mod meta;
mod special;
mod template;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use combinators::COMBINATOR_BASES;
pub use meta::{ArgType, Arity, Family, FunctionKind, FunctionMeta, Overload, SuffixArg, Target};
pub use special::{
    ADD_OR_NULL_DATETIME_FUNCTIONS, COMPARISON_FUNCTIONS, CompareOp, FIRST_ARG_DATETIME_FUNCTIONS,
    PERMITTED_PARAMETRIC_FUNCTIONS, TABLE_FUNCTIONS, TRIM_REWRITES, TableFunction,
    check_parametric_first_arg, comparison_op, is_allowed_parametric_function, named_constant,
    table_function, trim_side,
};
pub use template::render_template;

use crate::difflib::get_close_matches;
use crate::error::{CallTerm, Counted, Expected};
use crate::escape::Dialect;
use crate::{Error, Result};

/// One lookup table: entries in definition order plus a name index.
#[derive(Debug, Default)]
struct Table {
    entries: Vec<FunctionMeta>,
    by_name: HashMap<String, usize>,
}

impl Table {
    /// Insert, replacing an existing entry of the same name in place (Python dict semantics).
    fn upsert(&mut self, meta: FunctionMeta) {
        match self.by_name.get(&meta.name) {
            Some(&i) => self.entries[i] = meta,
            None => {
                self.by_name.insert(meta.name.clone(), self.entries.len());
                self.entries.push(meta);
            }
        }
    }

    /// PostHog's `_find_function`: the exact name, else the lowercased name if that entry is
    /// case-insensitive.
    fn find(&self, name: &str) -> Option<&FunctionMeta> {
        if let Some(&i) = self.by_name.get(name) {
            return Some(&self.entries[i]);
        }
        let lower = name.to_lowercase();
        let meta = &self.entries[*self.by_name.get(&lower)?];
        (!meta.case_sensitive).then_some(meta)
    }
}

/// How a call name resolves, in the order PostHog's printer checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolved<'a> {
    /// A comparison name (`equals`, `like`, `in`, …): print as a comparison operation.
    Comparison(CompareOp),
    /// An aggregation.
    Aggregation(&'a FunctionMeta),
    /// A ClickHouse function.
    Function(&'a FunctionMeta),
    /// A PostHog-specific function.
    PostHogFunction(&'a FunctionMeta),
}

/// A call's shape, as far as the allowlist checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallShape {
    /// Number of arguments.
    pub args: usize,
    /// Number of parameters in `f(params)(args)`, `None` without the parameter list.
    pub params: Option<usize>,
    /// Whether the call has `WITHIN GROUP (ORDER BY …)`.
    pub within_group: bool,
}

/// The three function tables, loaded once from the embedded data.
#[derive(Debug)]
pub struct FunctionRegistry {
    aggregations: Table,
    functions: Table,
    posthog: Table,
    /// Names offered as suggestions (`ALL_EXPOSED_FUNCTION_NAMES`): ClickHouse functions, then
    /// aggregations, without `_`-prefixed names.
    exposed: Vec<String>,
}

fn check_count(
    term: CallTerm,
    name: &str,
    counted: Counted,
    arity: Arity,
    found: usize,
) -> Result<()> {
    let expected = if arity.max == Some(arity.min) && !arity.accepts(found) {
        Expected::Exactly(arity.min)
    } else if found < arity.min {
        Expected::AtLeast(arity.min)
    } else if let Some(max) = arity.max.filter(|&max| found > max) {
        Expected::AtMost(max)
    } else {
        return Ok(());
    };
    Err(Error::WrongCount {
        term,
        name: name.to_owned(),
        counted,
        expected,
        found,
    })
}

impl FunctionRegistry {
    /// Parse every embedded table. Fails only if the embedded data is malformed or names a
    /// function twice within one table.
    pub fn load() -> Result<Self> {
        let mut functions = Table::default();
        for family in Family::CLICKHOUSE {
            Self::load_family(&mut functions, family, false)?;
        }
        let mut aggregations = Table::default();
        for meta in combinators::generate() {
            aggregations.upsert(meta);
        }
        // Hand-listed aggregations override generated names (PostHog spreads the generated dict
        // first); duplicates within the hand list are still errors.
        Self::load_family(&mut aggregations, Family::Aggregations, true)?;
        let mut posthog = Table::default();
        Self::load_family(&mut posthog, Family::PostHog, false)?;

        let exposed = functions
            .entries
            .iter()
            .chain(&aggregations.entries)
            .filter(|m| !m.is_hidden())
            .map(|m| m.name.clone())
            .collect();
        Ok(Self {
            aggregations,
            functions,
            posthog,
            exposed,
        })
    }

    fn load_family(table: &mut Table, family: Family, may_override_generated: bool) -> Result<()> {
        match data::source(family) {
            Some((file, text)) => load_text(table, family, file, text, may_override_generated),
            None => Ok(()),
        }
    }

    /// The aggregation named `name` (PostHog's `find_hogql_aggregation`).
    pub fn find_aggregation(&self, name: &str) -> Option<&FunctionMeta> {
        self.aggregations.find(name)
    }

    /// The ClickHouse function named `name` (`find_hogql_function`).
    pub fn find_function(&self, name: &str) -> Option<&FunctionMeta> {
        self.functions.find(name)
    }

    /// The PostHog function named `name` (`find_hogql_posthog_function`).
    pub fn find_posthog_function(&self, name: &str) -> Option<&FunctionMeta> {
        self.posthog.find(name)
    }

    /// Look a name up in the three tables in PostHog's order: aggregation, ClickHouse function,
    /// PostHog function. Case-insensitive entries are also found by any casing of their name.
    pub fn lookup(&self, name: &str) -> Option<&FunctionMeta> {
        self.find_aggregation(name)
            .or_else(|| self.find_function(name))
            .or_else(|| self.find_posthog_function(name))
    }

    /// The closest exposed name, as PostHog's "Perhaps you meant" computes it.
    pub fn suggest(&self, name: &str) -> Option<&str> {
        get_close_matches(name, self.exposed.iter().map(String::as_str), 1, 0.6)
            .into_iter()
            .next()
    }

    /// Resolve a call name the way the printer dispatches it: comparison names first, then the
    /// three tables; an unknown name is an error carrying the suggestion.
    pub fn resolve(&self, name: &str) -> Result<Resolved<'_>> {
        if let Some(op) = comparison_op(name) {
            return Ok(Resolved::Comparison(op));
        }
        if let Some(meta) = self.find_aggregation(name) {
            return Ok(Resolved::Aggregation(meta));
        }
        if let Some(meta) = self.find_function(name) {
            return Ok(Resolved::Function(meta));
        }
        if let Some(meta) = self.find_posthog_function(name) {
            return Ok(Resolved::PostHogFunction(meta));
        }
        Err(Error::UnsupportedFunction {
            name: name.to_owned(),
            suggestion: self.suggest(name).map(str::to_owned),
        })
    }

    /// Resolve a call and check its argument, parameter and `WITHIN GROUP` shape for the
    /// ClickHouse dialect; see [`Self::check_call_in`].
    pub fn check_call(&self, name: &str, shape: CallShape) -> Result<Resolved<'_>> {
        self.check_call_in(Dialect::ClickHouse, name, shape)
    }

    /// Resolve a call and check its shape, producing PostHog's errors in PostHog's order.
    ///
    /// When printing ClickHouse SQL, PostHog expands template targets (`date_bin`, `every`, …)
    /// *before* any count check, so for those entries the counts are checked only by
    /// [`render_template`] (and a `{N}` template silently ignores extra arguments). In the HogQL
    /// dialect templates are not expanded and the normal checks apply. Aggregate nesting and the
    /// parametric first argument depend on the AST and are checked by the caller
    /// ([`check_parametric_first_arg`]).
    pub fn check_call_in(
        &self,
        dialect: Dialect,
        name: &str,
        shape: CallShape,
    ) -> Result<Resolved<'_>> {
        let resolved = self.resolve(name)?;
        let expands_template = |meta: &FunctionMeta| {
            dialect == Dialect::ClickHouse && matches!(meta.target, Target::Template { .. })
        };
        match resolved {
            Resolved::Comparison(_) => {
                if shape.args != 2 {
                    return Err(Error::ComparisonArity {
                        name: name.to_owned(),
                    });
                }
            }
            Resolved::Aggregation(meta)
            | Resolved::Function(meta)
            | Resolved::PostHogFunction(meta)
                if expands_template(meta) => {}
            Resolved::Aggregation(meta) => {
                if meta.requires_within_group && !shape.within_group {
                    return Err(Error::RequiresWithinGroup {
                        name: name.to_owned(),
                    });
                }
                Self::check_counts(CallTerm::Aggregation, name, meta, shape)?;
                if shape.within_group && !meta.requires_within_group {
                    return Err(Error::WithinGroupNotSupported {
                        name: name.to_owned(),
                    });
                }
            }
            Resolved::Function(meta) => Self::check_counts(CallTerm::Function, name, meta, shape)?,
            Resolved::PostHogFunction(meta) => {
                // PostHog checks only the arguments of PostHog functions.
                check_count(
                    CallTerm::Function,
                    name,
                    Counted::Argument,
                    meta.args,
                    shape.args,
                )?;
            }
        }
        Ok(resolved)
    }

    fn check_counts(
        term: CallTerm,
        name: &str,
        meta: &FunctionMeta,
        shape: CallShape,
    ) -> Result<()> {
        check_count(term, name, Counted::Argument, meta.args, shape.args)?;
        if meta.params.min > 0 {
            let Some(params) = shape.params else {
                return Err(Error::MissingParameters {
                    term,
                    name: name.to_owned(),
                });
            };
            check_count(term, name, Counted::Parameter, meta.params, params)?;
        }
        Ok(())
    }

    /// Every entry of a table, in definition order.
    pub fn entries(&self, kind: FunctionKind) -> &[FunctionMeta] {
        match kind {
            FunctionKind::Aggregation => &self.aggregations.entries,
            FunctionKind::ClickHouse => &self.functions.entries,
            FunctionKind::PostHog => &self.posthog.entries,
        }
    }

    /// All entries of all tables, aggregations first.
    pub fn all_entries(&self) -> impl Iterator<Item = &FunctionMeta> {
        self.aggregations
            .entries
            .iter()
            .chain(&self.functions.entries)
            .chain(&self.posthog.entries)
    }

    /// The names offered as suggestions (PostHog's `ALL_EXPOSED_FUNCTION_NAMES`).
    pub fn exposed_names(&self) -> &[String] {
        &self.exposed
    }
}

/// Add a family's entries to a table. A name already in the table is an error, except that
/// hand-listed aggregations may replace generated combinator names.
fn load_text(
    table: &mut Table,
    family: Family,
    file: &'static str,
    text: &'static str,
    may_override_generated: bool,
) -> Result<()> {
    for (line, meta) in data::parse_family(family, file, text)? {
        if let Some(existing) = table.find_exact(&meta.name) {
            let allowed = may_override_generated && existing.family == Family::Combinators;
            if !allowed {
                return Err(Error::InvalidData {
                    file,
                    line,
                    message: format!("{} is already defined in {}", meta.name, existing.family),
                });
            }
        }
        table.upsert(meta);
    }
    Ok(())
}

impl Table {
    fn find_exact(&self, name: &str) -> Option<&FunctionMeta> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }
}

/// The process-wide registry, built on first use from the embedded tables.
///
/// # Panics
///
/// Only if the embedded data is malformed, which the crate's tests rule out
/// (`registry_loads`); no user input reaches this.
pub fn registry() -> &'static FunctionRegistry {
    static REGISTRY: OnceLock<FunctionRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| match FunctionRegistry::load() {
        Ok(registry) => registry,
        Err(err) => panic!("hogql-compiler embedded function tables are invalid: {err}"),
    })
}

/// [`FunctionRegistry::lookup`] on the process-wide registry.
pub fn lookup(name: &str) -> Option<&'static FunctionMeta> {
    registry().lookup(name)
}

#[cfg(test)]
mod tests;
