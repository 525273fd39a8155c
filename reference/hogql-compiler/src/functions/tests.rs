//! Tests of the loaded registry: counts, lookups, PostHog's error texts and the full listing.

use super::*;
use crate::escape::Dialect;
use std::fmt::Write as _;

fn reg() -> &'static FunctionRegistry {
    registry()
}

fn shape(args: usize) -> CallShape {
    CallShape {
        args,
        ..CallShape::default()
    }
}

#[test]
fn registry_loads() {
    FunctionRegistry::load().unwrap();
}

#[test]
fn every_family_has_entries() {
    for family in Family::ALL {
        let n = reg().all_entries().filter(|m| m.family == family).count();
        assert!(n > 0, "family {family} is empty");
    }
}

/// The per-family sizes, pinned so that data changes are deliberate.
#[test]
fn family_counts() {
    let mut listing = String::new();
    for family in Family::ALL {
        let n = reg().all_entries().filter(|m| m.family == family).count();
        writeln!(listing, "{family}: {n}").unwrap();
    }
    writeln!(
        listing,
        "aggregations total: {}",
        reg().entries(FunctionKind::Aggregation).len()
    )
    .unwrap();
    writeln!(
        listing,
        "clickhouse functions total: {}",
        reg().entries(FunctionKind::ClickHouse).len()
    )
    .unwrap();
    writeln!(
        listing,
        "posthog functions total: {}",
        reg().entries(FunctionKind::PostHog).len()
    )
    .unwrap();
    writeln!(listing, "exposed names: {}", reg().exposed_names().len()).unwrap();
    insta::assert_snapshot!("family_counts", listing);
}

/// The whole table, one line per entry, so data changes are reviewed as a diff.
#[test]
fn full_listing() {
    let mut listing = String::new();
    for kind in [
        FunctionKind::Aggregation,
        FunctionKind::ClickHouse,
        FunctionKind::PostHog,
    ] {
        writeln!(listing, "## {kind:?}").unwrap();
        for meta in reg().entries(kind) {
            let mut flags = Vec::new();
            if meta.params.min > 0 || meta.params.max != Some(0) {
                flags.push(format!("params={}", meta.params));
            }
            if meta.tz_aware {
                flags.push("tz".to_owned());
            }
            if !meta.case_sensitive {
                flags.push("ci".to_owned());
            }
            for overload in &meta.overloads {
                flags.push(format!(
                    "overload({:?})={}",
                    overload.first_arg_types, overload.clickhouse_name
                ));
            }
            for suffix in &meta.suffix_args {
                flags.push(format!("suffix={suffix:?}"));
            }
            if meta.parametric_first_arg {
                flags.push("parametric".to_owned());
            }
            if meta.is_udf {
                flags.push("udf".to_owned());
            }
            let target = match &meta.target {
                Target::Name(name) => name.clone(),
                Target::Template { text, positional } => {
                    format!(
                        "{} {text}",
                        if *positional {
                            "positional"
                        } else {
                            "template"
                        }
                    )
                }
            };
            writeln!(
                listing,
                "{} [{}] {} -> {}{}{}",
                meta.name,
                meta.family,
                meta.args,
                target,
                if flags.is_empty() { "" } else { " " },
                flags.join(" ")
            )
            .unwrap();
        }
    }
    insta::assert_snapshot!("full_listing", listing);
}

#[test]
fn lookup_order_is_aggregation_then_function_then_posthog() {
    assert_eq!(lookup("count").unwrap().kind(), FunctionKind::Aggregation);
    assert_eq!(lookup("plus").unwrap().kind(), FunctionKind::ClickHouse);
    assert_eq!(
        lookup("matchesAction").unwrap().kind(),
        FunctionKind::PostHog
    );
    assert!(lookup("hamburger").is_none());
    // Dangerous or unlisted ClickHouse functions are absent.
    for name in [
        "reinterpret",
        "url",
        "s3",
        "file",
        "remote",
        "sleep",
        "system",
        "currentDatabase",
        "sumDistinct",
    ] {
        assert!(lookup(name).is_none(), "{name} must not be allowed");
    }
}

#[test]
fn case_insensitive_entries_match_any_casing_of_a_lowercase_key() {
    assert_eq!(lookup("NOW").unwrap().clickhouse_name(), "now64");
    assert_eq!(lookup("Count").unwrap().name, "count");
    assert_eq!(lookup("IFNULL").unwrap().clickhouse_name(), "ifNull");
    assert_eq!(lookup("ifNull").unwrap().clickhouse_name(), "ifNull");
    assert_eq!(lookup("CoAlEsCe").unwrap().name, "coalesce");
    // Case-sensitive entries need the exact spelling.
    assert!(lookup("tostring").is_none());
    assert!(lookup("TOSTRING").is_none());
    assert!(lookup("COUNTIF").is_none());
    // A case-insensitive entry with a camelCase key is only found by its exact spelling
    // (PostHog lowercases the *call*, not the keys).
    assert!(lookup("max2").is_some());
    assert!(lookup("MAX2").is_some());
}

#[test]
fn representative_mappings_from_spec() {
    let cases = [
        ("now", "now64", true),
        ("current_timestamp", "now64", true),
        ("today", "today", false),
        ("current_date", "today", false),
        ("toDateTimeUS", "parseDateTime64BestEffortUSOrNull", true),
        ("toDateTime64", "toDateTime64", true),
        ("toDate", "toDateOrNull", false),
        ("parseDateTime", "parseDateTimeOrNull", true),
        (
            "parseDateTimeBestEffort",
            "parseDateTime64BestEffortOrNull",
            true,
        ),
        ("toInt", "accurateCastOrNull", false),
        ("toFloat", "accurateCastOrNull", false),
        ("toUUID", "accurateCastOrNull", false),
        ("toDecimal", "accurateCastOrNull", false),
        ("toIntOrZero", "toInt64OrZero", false),
        ("toFloatOrZero", "toFloat64OrZero", false),
        ("toFloatOrDefault", "toFloat64OrDefault", false),
        ("left", "leftUTF8", false),
        ("right", "rightUTF8", false),
        ("lag", "lagInFrame", false),
        ("lead", "leadInFrame", false),
        ("date_trunc", "dateTrunc", false),
        ("date_diff", "dateDiff", false),
        ("date_add", "date_add", true),
        ("date_subtract", "date_sub", true),
        ("to_char", "formatDateTime", true),
        ("make_timestamp", "makeDateTime", true),
        ("make_date", "makeDate", false),
        ("toModifiedJulianDay", "toModifiedJulianDayOrNull", false),
        ("avgArray", "avgArrayOrNull", false),
        ("medianArray", "medianArrayOrNull", false),
        ("array_agg", "groupArray", false),
        ("ltrim", "trimLeft", false),
        ("btrim", "trim", false),
        ("languageCodeToName", "transform", false),
    ];
    for (name, clickhouse, tz) in cases {
        let meta = lookup(name).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(meta.clickhouse_name(), clickhouse, "{name}");
        assert_eq!(meta.tz_aware, tz, "{name} tz");
    }
    let to_int = lookup("toInt").unwrap();
    assert_eq!(to_int.suffix_args, [SuffixArg::Str("Int64".into())]);
    let to_decimal = lookup("toDecimal").unwrap();
    assert_eq!(to_decimal.passthrough_suffix_args_count, 1);
    assert_eq!(
        to_decimal.suffix_args,
        [SuffixArg::Str("Decimal64({0})".into())]
    );
    let to_date = lookup("toDate").unwrap();
    assert_eq!(
        to_date.clickhouse_name_for(Some(ArgType::DateTime)),
        "toDate"
    );
    assert_eq!(
        to_date.clickhouse_name_for(Some(ArgType::String)),
        "toDateOrNull"
    );
    let to_date_time = lookup("toDateTime").unwrap();
    assert_eq!(
        to_date_time.clickhouse_name_for(Some(ArgType::Integer)),
        "toDateTime"
    );
    let date_bin = lookup("date_bin").unwrap();
    assert_eq!(
        render_template(
            "date_bin",
            &date_bin.target,
            &["i".into(), "ts".into(), "o".into()]
        )
        .unwrap(),
        "toStartOfInterval(ts, i, o)"
    );
    let to_timestamp = lookup("to_timestamp").unwrap();
    assert_eq!(
        render_template("to_timestamp", &to_timestamp.target, &["x".into()]).unwrap(),
        "toDateTime(fromUnixTimestamp(x))"
    );
    let quantile = lookup("quantile").unwrap();
    assert_eq!(quantile.params, Arity::exactly(1));
    let sample = lookup("groupArraySample").unwrap();
    assert_eq!(
        sample.params,
        Arity {
            min: 1,
            max: Some(2)
        }
    );
    assert!(lookup("arrayReduce").unwrap().parametric_first_arg);
    assert!(lookup("aggregate_funnel").unwrap().is_udf);
}

#[test]
fn hand_listed_aggregations_override_generated_combinators() {
    // Generated: countMerge 0..1, sumMap 1..1, avgArray -> avgArray; hand-listed wins.
    assert_eq!(lookup("countMerge").unwrap().args, Arity::exactly(1));
    assert_eq!(lookup("countMerge").unwrap().family, Family::Aggregations);
    assert_eq!(
        lookup("sumMap").unwrap().args,
        Arity {
            min: 1,
            max: Some(2)
        }
    );
    assert_eq!(
        lookup("avgArray").unwrap().clickhouse_name(),
        "avgArrayOrNull"
    );
    assert_eq!(
        lookup("countMapIf").unwrap().args,
        Arity {
            min: 2,
            max: Some(3)
        }
    );
    // Untouched generated names stay.
    assert_eq!(
        lookup("countArgMaxIf").unwrap().args,
        Arity {
            min: 2,
            max: Some(3)
        }
    );
    assert_eq!(lookup("countArgMaxIf").unwrap().family, Family::Combinators);
    assert_eq!(lookup("avgArrayOrNullIf").unwrap().args, Arity::exactly(2));
}

#[test]
fn arity_errors_use_posthog_texts() {
    let cases = [
        (
            "count",
            4,
            "Aggregation 'count' expects at most 1 argument, found 4",
        ),
        ("avg", 0, "Aggregation 'avg' expects 1 argument, found 0"),
        (
            "avgIf",
            3,
            "Aggregation 'avgIf' expects 2 arguments, found 3",
        ),
        (
            "uniq",
            0,
            "Aggregation 'uniq' expects at least 1 argument, found 0",
        ),
        ("plus", 3, "Function 'plus' expects 2 arguments, found 3"),
        (
            "multiIf",
            2,
            "Function 'multiIf' expects at least 3 arguments, found 2",
        ),
        (
            "toDayOfWeek",
            4,
            "Function 'toDayOfWeek' expects at most 3 arguments, found 4",
        ),
        (
            "now",
            2,
            "Function 'now' expects at most 1 argument, found 2",
        ),
        (
            "NOW",
            2,
            "Function 'NOW' expects at most 1 argument, found 2",
        ),
        ("today", 1, "Function 'today' expects 0 arguments, found 1"),
        (
            "matchesAction",
            2,
            "Function 'matchesAction' expects 1 argument, found 2",
        ),
        (
            "equals",
            3,
            "Comparison 'equals' requires exactly two arguments",
        ),
    ];
    for (name, args, message) in cases {
        let err = reg().check_call(name, shape(args)).unwrap_err();
        assert_eq!(err.to_string(), message, "{name}/{args}");
    }
    assert_eq!(
        reg().check_call("count", shape(4)).unwrap_err().code(),
        "wrong_argument_count"
    );
}

#[test]
fn parameter_errors_use_posthog_texts() {
    let missing = reg().check_call("quantile", shape(1)).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Aggregation 'quantile' requires parameters in addition to arguments"
    );
    assert_eq!(missing.code(), "missing_parameters");
    let too_many = CallShape {
        args: 1,
        params: Some(2),
        within_group: false,
    };
    assert_eq!(
        reg()
            .check_call("quantile", too_many)
            .unwrap_err()
            .to_string(),
        "Aggregation 'quantile' expects 1 parameter, found 2"
    );
    let sample = CallShape {
        args: 1,
        params: Some(3),
        within_group: false,
    };
    assert_eq!(
        reg()
            .check_call("groupArraySample", sample)
            .unwrap_err()
            .to_string(),
        "Aggregation 'groupArraySample' expects at most 2 parameters, found 3"
    );
    let ok = CallShape {
        args: 1,
        params: Some(1),
        within_group: false,
    };
    assert!(matches!(
        reg().check_call("quantile", ok),
        Ok(Resolved::Aggregation(_))
    ));
    // Parameters are not checked when the entry has no minimum (PostHog behaviour).
    let extra = CallShape {
        args: 1,
        params: Some(5),
        within_group: false,
    };
    assert!(reg().check_call("sum", extra).is_ok());
}

#[test]
fn within_group_is_rejected_where_unsupported() {
    let call = CallShape {
        args: 1,
        params: None,
        within_group: true,
    };
    assert_eq!(
        reg().check_call("sum", call).unwrap_err().to_string(),
        "Aggregation 'sum' does not support WITHIN GROUP"
    );
}

#[test]
fn comparison_names_resolve_before_tables() {
    assert_eq!(
        reg().check_call("equals", shape(2)).unwrap(),
        Resolved::Comparison(CompareOp::Eq)
    );
    assert_eq!(
        reg().check_call("like", shape(2)).unwrap(),
        Resolved::Comparison(CompareOp::Like)
    );
    assert_eq!(
        reg().check_call("notIn", shape(2)).unwrap(),
        Resolved::Comparison(CompareOp::NotIn)
    );
    // Every comparison name is also an allowlisted function (PostHog lists them in both).
    for (name, _) in COMPARISON_FUNCTIONS {
        assert!(reg().find_function(name).is_some(), "{name}");
    }
}

#[test]
fn unsupported_function_messages() {
    let err = reg().check_call("hamburger", shape(0)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unsupported function call 'hamburger(...)'"
    );
    assert_eq!(err.code(), "unsupported_function");
    let err = reg().check_call("tostring", shape(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Unsupported function call 'tostring(...)'. Perhaps you meant 'toString(...)'?"
    );
}

/// Suggestions pinned against CPython 3.11 `difflib.get_close_matches(name, names, 1)` over the
/// exposed names (the list in `full_listing`, minus `_`-prefixed and PostHog functions).
#[test]
fn suggestions_match_python_difflib() {
    let cases: &[(&str, Option<&str>)] = &[
        ("tostring", Some("toString")),
        ("hamburger", None),
        ("cuont", Some("count")),
        ("toStartOfWek", Some("toStartOfWeek")),
        ("arrayMapp", Some("arrayMap")),
        // Not JSONExtractString: difflib is case-sensitive.
        ("jsonextractstring", Some("extractIPv4Substrings")),
        ("sumDistinct", Some("countDistinctIf")),
        ("countdistinct", Some("countDistinctIf")),
        ("toint", Some("toInt")),
        ("quantil", Some("quantile")),
        ("uniqExcat", Some("uniqExact")),
        ("date_trunk", Some("date_trunc")),
        ("JSONExtractStrng", Some("JSONExtractString")),
        ("lenght", Some("length")),
        ("splitbystring", Some("splitByString")),
        ("NOWW", None),
        ("xyz", None),
    ];
    for &(name, expected) in cases {
        assert_eq!(reg().suggest(name), expected, "{name}");
    }
}

#[test]
fn exposed_names_skip_hidden_and_posthog_functions() {
    let names = reg().exposed_names();
    assert!(names.iter().all(|n| !n.starts_with('_')));
    assert!(names.iter().any(|n| n == "toString"));
    assert!(names.iter().any(|n| n == "avgArrayOrNullIf"));
    assert!(!names.iter().any(|n| n == "matchesAction"));
    assert!(lookup("_toInt64").is_some());
}

#[test]
fn template_entries_defer_counts_to_rendering_in_clickhouse() {
    // PostHog renders `{}` templates before validating counts, so the message comes from the
    // template check; in the HogQL dialect the ordinary check applies.
    assert!(reg().check_call("every", shape(2)).is_ok());
    let every = lookup("every").unwrap();
    let args: Vec<String> = vec!["a".into(), "b".into()];
    assert_eq!(
        render_template("every", &every.target, &args)
            .unwrap_err()
            .to_string(),
        "Function 'every' requires exactly 1 argument"
    );
    assert_eq!(
        reg()
            .check_call_in(Dialect::HogQL, "every", shape(2))
            .unwrap_err()
            .to_string(),
        "Aggregation 'every' expects 1 argument, found 2"
    );
    // A `{N}` template ignores extra arguments when rendered.
    let date_bin = lookup("date_bin").unwrap();
    let four: Vec<String> = ["i", "ts", "o", "extra"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(
        render_template("date_bin", &date_bin.target, &four).unwrap(),
        "toStartOfInterval(ts, i, o)"
    );
    assert!(
        reg()
            .check_call_in(Dialect::HogQL, "date_bin", shape(4))
            .is_err()
    );
}

/// Names PostHog's newer trees have that these tables do not. When one is added, this test fails
/// and the entry must move out of the list.
#[test]
fn known_missing_functions() {
    const KNOWN_MISSING: [&str; 4] = [
        "percentile_cont",
        "percentile_disc",
        "quantileExact",
        "topKIf",
    ];
    for name in KNOWN_MISSING {
        assert!(
            lookup(name).is_none(),
            "{name} is now present: remove it from KNOWN_MISSING"
        );
    }
}

/// The last generated entries match PostHog's `test_mapping.ambr` snapshot (it ends with the
/// `median` base), and the snapshot's 329 names all exist with their listed arity.
#[test]
fn combinators_end_like_posthog_snapshot() {
    let generated: Vec<&FunctionMeta> = reg()
        .entries(FunctionKind::Aggregation)
        .iter()
        .filter(|m| m.family == Family::Combinators)
        .collect();
    let last = generated.last().unwrap();
    assert_eq!(
        (last.name.as_str(), last.args),
        ("medianArgMaxOrNullIf", Arity::exactly(3))
    );
    assert_eq!(COMBINATOR_BASES.len() * 47, 329);
}

/// 250 mutated function names and CPython 3.11's `get_close_matches(word, exposed, 1)` answer
/// (`difflib_cases/suggestions.tsv`, computed over the names of the `full_listing` snapshot).
#[test]
fn suggestions_match_cpython_on_mutated_names() {
    let mut n = 0;
    for line in include_str!("../difflib_cases/suggestions.tsv").lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (word, expected) = line.split_once('\t').unwrap();
        let expected = (expected != "-").then_some(expected);
        assert_eq!(reg().suggest(word), expected, "{word}");
        n += 1;
    }
    assert_eq!(n, 250);
}

proptest::proptest! {
    // Unknown names compute a suggestion over ~1,100 names; 64 cases keep the suite fast.
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn checking_any_call_never_panics(name in "\\PC{0,24}", args in 0usize..12, params in proptest::option::of(0usize..4), within_group: bool) {
        let shape = CallShape { args, params, within_group };
        let _ = reg().check_call(&name, shape);
        let _ = reg().check_call_in(Dialect::HogQL, &name, shape);
    }

    #[test]
    fn rendering_any_template_never_panics(text in "[{}0-9a-z(), ]{0,30}", args in proptest::collection::vec("[a-z]{1,3}", 0..5), positional: bool) {
        let target = Target::Template { text, positional };
        let _ = render_template("f", &target, &args);
    }
}

#[test]
fn duplicate_names_are_data_errors_except_over_generated_combinators() {
    let mut table = Table::default();
    let err = load_text(
        &mut table,
        Family::Math,
        "dup.txt",
        "f 1\n# x\nf 2\n",
        false,
    )
    .unwrap_err();
    assert_eq!(
        err,
        Error::InvalidData {
            file: "dup.txt",
            line: 3,
            message: "f is already defined in math".into()
        }
    );
    let mut aggregations = Table::default();
    for meta in combinators::generate() {
        aggregations.upsert(meta);
    }
    let before = aggregations.entries.len();
    load_text(
        &mut aggregations,
        Family::Aggregations,
        "a.txt",
        "avgIf 5\n",
        true,
    )
    .unwrap();
    assert_eq!(aggregations.entries.len(), before, "replaced in place");
    assert_eq!(aggregations.find("avgIf").unwrap().args, Arity::exactly(5));
    assert_eq!(
        aggregations.entries[0].name, "avgIf",
        "position kept, like a Python dict"
    );
    let err = load_text(
        &mut aggregations,
        Family::Aggregations,
        "a.txt",
        "avgIf 1\n",
        true,
    )
    .unwrap_err();
    assert_eq!(err.code(), "invalid_embedded_data");
}
