//! The embedded function tables and their line format.
//!
//! Why data files and not Rust statics: the tables are several hundred facts taken from
//! PostHog's public source, and they change upstream often. One line per function (`name arity
//! flags => target`) keeps each fact on one reviewable diff line, can be compared side by side
//! with PostHog's listing, and keeps the Rust code about *behaviour* only. The files are embedded
//! with `include_str!` (no I/O at run time), parsed once into a registry, and every line is
//! validated by the crate's tests, so a malformed line fails `cargo test`, not a query.
//!
//! # Format
//!
//! ```text
//! # comment
//! <hogql-name>  <args>  [flags…]  [=> <clickhouse target>]
//! ```
//!
//! * `<args>`: `N` (exactly), `N..M`, or `N..` (at least N).
//! * `=> target`: everything after ` => ` verbatim (it may contain spaces); defaults to the name.
//! * flags:
//!   * `ci` — case-insensitive: also found by the lowercase spelling of a call;
//!   * `tz` — timezone-aware: the project timezone is appended as the last argument;
//!   * `params=N`, `params=N..M`, `params=N..` — parameters of a parametric call;
//!   * `overload=T1,T2:name` — print `name` when the first argument has type T1 or T2;
//!   * `suffix='text'` — a string constant appended after the arguments; `suffix=@NAME` — a
//!     named PostHog constant table; repeatable, in order;
//!   * `passthrough=N` — the last N caller arguments are formatted into the suffix templates;
//!   * `template` — the target has `{}` placeholders filled in order; `positional` — `{N}`;
//!   * `parametric` — the first argument names an aggregate (`arrayReduce`);
//!   * `within_group` — the aggregation requires `WITHIN GROUP`;
//!   * `udf` — a PostHog-deployed UDF.
//!
//! The aggregation family marks every entry as an aggregate.

use super::meta::{ArgType, Arity, Family, FunctionMeta, Overload, SuffixArg, Target};
use crate::{Error, Result};

/// The embedded data file of a family (`None` for generated families).
pub(crate) fn source(family: Family) -> Option<(&'static str, &'static str)> {
    macro_rules! file {
        ($name:literal) => {
            Some((
                concat!($name, ".txt"),
                include_str!(concat!("data/", $name, ".txt")),
            ))
        };
    }
    match family {
        Family::Arithmetic => file!("arithmetic"),
        Family::Arrays => file!("arrays"),
        Family::Conversions => file!("conversions"),
        Family::DateTime => file!("datetime"),
        Family::Geo => file!("geo"),
        Family::Json => file!("json"),
        Family::Math => file!("math"),
        Family::Strings => file!("strings"),
        Family::Comparison => file!("comparison"),
        Family::Logic => file!("logic"),
        Family::Conditional => file!("conditional"),
        Family::Maps => file!("maps"),
        Family::Bits => file!("bits"),
        Family::Bitmaps => file!("bitmaps"),
        Family::Url => file!("url"),
        Family::Tuples => file!("tuples"),
        Family::Other => file!("other"),
        Family::TimeWindow => file!("time_window"),
        Family::Distance => file!("distance"),
        Family::Window => file!("window"),
        Family::Udfs => file!("udfs"),
        Family::Aggregations => file!("aggregations"),
        Family::PostHog => file!("posthog"),
        Family::Combinators => None,
    }
}

/// Parse `N`, `N..M` or `N..`.
fn parse_arity(text: &str) -> Option<Arity> {
    match text.split_once("..") {
        None => text.parse().ok().map(Arity::exactly),
        Some((min, "")) => Some(Arity {
            min: min.parse().ok()?,
            max: None,
        }),
        Some((min, max)) => {
            let arity = Arity {
                min: min.parse().ok()?,
                max: Some(max.parse().ok()?),
            };
            (arity.max >= Some(arity.min)).then_some(arity)
        }
    }
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parse one family's file into entries with their 1-based line numbers, in file order.
pub(crate) fn parse_family(
    family: Family,
    file: &'static str,
    text: &'static str,
) -> Result<Vec<(usize, FunctionMeta)>> {
    let mut entries = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line_no = index + 1;
        let err = |message: String| Error::InvalidData {
            file,
            line: line_no,
            message,
        };
        let line = raw_line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (head, target_text) = match line.split_once(" => ") {
            Some((head, target)) => (head, Some(target.trim())),
            None => (line, None),
        };
        let mut words = head.split_whitespace();
        let name = words.next().ok_or_else(|| err("missing name".into()))?;
        if !is_valid_name(name) {
            return Err(err(format!("invalid function name {name:?}")));
        }
        let args_text = words
            .next()
            .ok_or_else(|| err(format!("missing arity for {name}")))?;
        let args =
            parse_arity(args_text).ok_or_else(|| err(format!("invalid arity {args_text:?}")))?;
        let mut meta = FunctionMeta {
            name: name.to_owned(),
            family,
            target: Target::Name(name.to_owned()),
            args,
            params: Arity::exactly(0),
            aggregate: family.kind() == super::meta::FunctionKind::Aggregation,
            tz_aware: false,
            case_sensitive: true,
            overloads: Vec::new(),
            suffix_args: Vec::new(),
            passthrough_suffix_args_count: 0,
            parametric_first_arg: false,
            requires_within_group: false,
            is_udf: false,
        };
        let (mut template, mut positional) = (false, false);
        for flag in words {
            match flag.split_once('=') {
                None => match flag {
                    "ci" => meta.case_sensitive = false,
                    "tz" => meta.tz_aware = true,
                    "template" => template = true,
                    "positional" => positional = true,
                    "parametric" => meta.parametric_first_arg = true,
                    "within_group" => meta.requires_within_group = true,
                    "udf" => meta.is_udf = true,
                    other => return Err(err(format!("unknown flag {other:?}"))),
                },
                Some(("params", value)) => {
                    meta.params = parse_arity(value)
                        .ok_or_else(|| err(format!("invalid params {value:?}")))?;
                }
                Some(("passthrough", value)) => {
                    meta.passthrough_suffix_args_count = value
                        .parse()
                        .map_err(|_| err(format!("invalid passthrough {value:?}")))?;
                }
                Some(("suffix", value)) => {
                    let arg = if let Some(named) = value.strip_prefix('@') {
                        SuffixArg::Named(named.to_owned())
                    } else if let Some(text) =
                        value.strip_prefix('\'').and_then(|v| v.strip_suffix('\''))
                    {
                        SuffixArg::Str(text.to_owned())
                    } else {
                        return Err(err(format!("invalid suffix {value:?}")));
                    };
                    meta.suffix_args.push(arg);
                }
                Some(("overload", value)) => {
                    let (types, target) = value
                        .split_once(':')
                        .ok_or_else(|| err(format!("invalid overload {value:?}")))?;
                    let first_arg_types = types
                        .split(',')
                        .map(|t| {
                            ArgType::parse(t).ok_or_else(|| err(format!("unknown type {t:?}")))
                        })
                        .collect::<Result<Vec<_>>>()?;
                    if !is_valid_name(target) {
                        return Err(err(format!("invalid overload target {target:?}")));
                    }
                    meta.overloads.push(Overload {
                        first_arg_types,
                        clickhouse_name: target.to_owned(),
                    });
                }
                Some((key, _)) => return Err(err(format!("unknown flag {key:?}"))),
            }
        }
        let target_text = target_text.unwrap_or(name);
        meta.target = if template || positional {
            if !target_text.contains('{') {
                return Err(err(format!("template for {name} has no placeholder")));
            }
            Target::Template {
                text: target_text.to_owned(),
                positional,
            }
        } else {
            if !is_valid_name(target_text) {
                return Err(err(format!(
                    "target {target_text:?} of {name} is not a plain name; mark it `template`"
                )));
            }
            Target::Name(target_text.to_owned())
        };
        if meta.passthrough_suffix_args_count > meta.suffix_args.len() {
            return Err(err(format!(
                "{name}: passthrough without enough suffix arguments"
            )));
        }
        entries.push((line_no, meta));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &'static str) -> Result<Vec<FunctionMeta>> {
        Ok(parse_family(Family::Other, "test.txt", text)?
            .into_iter()
            .map(|(_, meta)| meta)
            .collect())
    }

    #[test]
    fn arity_forms() {
        assert_eq!(parse_arity("2"), Some(Arity::exactly(2)));
        assert_eq!(
            parse_arity("1..3"),
            Some(Arity {
                min: 1,
                max: Some(3)
            })
        );
        assert_eq!(parse_arity("0.."), Some(Arity { min: 0, max: None }));
        assert_eq!(parse_arity("3..1"), None);
        assert_eq!(parse_arity("x"), None);
        assert_eq!(parse_arity("..2"), None);
    }

    #[test]
    fn full_line_with_every_flag_kind() {
        let entries = parse(
            "# comment\n\n toDateTime 1..2 tz ci params=1..2 overload=DateTime,Date,Integer:toDateTime suffix='x' suffix=@T passthrough=1 => parseDateTime64BestEffortOrNull\n",
        )
        .unwrap();
        let meta = &entries[0];
        assert_eq!(meta.name, "toDateTime");
        assert_eq!(meta.clickhouse_name(), "parseDateTime64BestEffortOrNull");
        assert_eq!(
            meta.args,
            Arity {
                min: 1,
                max: Some(2)
            }
        );
        assert_eq!(
            meta.params,
            Arity {
                min: 1,
                max: Some(2)
            }
        );
        assert!(meta.tz_aware && !meta.case_sensitive && !meta.aggregate);
        assert_eq!(
            meta.overloads[0].first_arg_types,
            [ArgType::DateTime, ArgType::Date, ArgType::Integer]
        );
        assert_eq!(
            meta.suffix_args,
            [SuffixArg::Str("x".into()), SuffixArg::Named("T".into())]
        );
        assert_eq!(meta.passthrough_suffix_args_count, 1);
        assert_eq!(meta.clickhouse_name_for(Some(ArgType::Date)), "toDateTime");
        assert_eq!(
            meta.clickhouse_name_for(Some(ArgType::String)),
            "parseDateTime64BestEffortOrNull"
        );
    }

    #[test]
    fn templates_keep_spaces() {
        let entries = parse("f 2 positional => g({1}, {0})").unwrap();
        assert_eq!(
            entries[0].target,
            Target::Template {
                text: "g({1}, {0})".into(),
                positional: true
            }
        );
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let cases = [
            ("f", "missing arity for f"),
            ("f x", "invalid arity \"x\""),
            ("f 1 bogus", "unknown flag \"bogus\""),
            (
                "f 1 => g(x)",
                "target \"g(x)\" of f is not a plain name; mark it `template`",
            ),
            ("f 1 template => g", "template for f has no placeholder"),
            ("f 1 overload=Foo:g", "unknown type \"Foo\""),
            ("f 1 suffix=x", "invalid suffix \"x\""),
            ("f-g 1", "invalid function name \"f-g\""),
            (
                "f 1 passthrough=1",
                "f: passthrough without enough suffix arguments",
            ),
        ];
        for (line, message) in cases {
            let text: &'static str = Box::leak(format!("# header\n{line}\n").into_boxed_str());
            let err = parse(text).unwrap_err();
            assert_eq!(
                err,
                Error::InvalidData {
                    file: "test.txt",
                    line: 2,
                    message: message.into()
                },
                "line {line:?}"
            );
        }
    }

    #[test]
    fn aggregation_family_marks_aggregates() {
        let entries = parse_family(Family::Aggregations, "a.txt", "# c\nsum 1 ci").unwrap();
        assert_eq!(entries[0].0, 2);
        assert!(entries[0].1.aggregate);
    }
}
