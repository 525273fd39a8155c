//! Aggregate combinator names generated from a few bases and ClickHouse's combinator suffixes.
//!
//! PostHog (functions/aggregations.py, `generate_combinator_suffix_combinations`) allows, for the
//! bases `avg`, `sum`, `min`, `max`, `count`, `countDistinct` and `median`, every chain of suffixes
//! that obeys these rules (spec §6):
//!
//! | suffix | arity change | may be followed by |
//! | --- | --- | --- |
//! | `If` | +1 | nothing |
//! | `Array`, `Map`, `State`, `Merge`, `ForEach` | none | `If`, `OrDefault`, `OrNull` |
//! | `OrDefault`, `OrNull` | none | `If` |
//! | `ArgMin`, `ArgMax` | +1 | `If`, `OrDefault`, `OrNull` |
//!
//! A suffix is never repeated. Names are produced depth-first in the table's order, which gives
//! 47 names per base and the same order as PostHog's `test_mapping.ambr` snapshot. Hand-listed
//! aggregations with the same name take precedence (see the registry).

use super::meta::{Arity, Family, FunctionMeta, Target};

/// A combinator suffix with its arity change and the suffixes allowed after it.
#[derive(Debug, Clone, Copy)]
struct Combinator {
    suffix: &'static str,
    extra_args: usize,
    then: &'static [&'static str],
}

const AFTER_TRANSFORM: &[&str] = &["If", "OrDefault", "OrNull"];

const COMBINATORS: [Combinator; 10] = [
    Combinator {
        suffix: "If",
        extra_args: 1,
        then: &[],
    },
    Combinator {
        suffix: "Array",
        extra_args: 0,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "Map",
        extra_args: 0,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "State",
        extra_args: 0,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "Merge",
        extra_args: 0,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "ForEach",
        extra_args: 0,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "OrDefault",
        extra_args: 0,
        then: &["If"],
    },
    Combinator {
        suffix: "OrNull",
        extra_args: 0,
        then: &["If"],
    },
    Combinator {
        suffix: "ArgMin",
        extra_args: 1,
        then: AFTER_TRANSFORM,
    },
    Combinator {
        suffix: "ArgMax",
        extra_args: 1,
        then: AFTER_TRANSFORM,
    },
];

/// The bases and their own argument counts.
pub const COMBINATOR_BASES: [(&str, Arity); 7] = [
    ("avg", Arity::exactly(1)),
    ("sum", Arity::exactly(1)),
    ("min", Arity::exactly(1)),
    ("max", Arity::exactly(1)),
    (
        "count",
        Arity {
            min: 0,
            max: Some(1),
        },
    ),
    ("countDistinct", Arity::exactly(1)),
    ("median", Arity::exactly(1)),
];

fn combinator(suffix: &str) -> Option<&'static Combinator> {
    COMBINATORS.iter().find(|c| c.suffix == suffix)
}

fn extend(
    base: &str,
    base_arity: Arity,
    chain: &mut Vec<&'static Combinator>,
    out: &mut Vec<FunctionMeta>,
) {
    if !chain.is_empty() {
        let name: String = std::iter::once(base)
            .chain(chain.iter().map(|c| c.suffix))
            .collect();
        let extra: usize = chain.iter().map(|c| c.extra_args).sum();
        let args = Arity {
            min: base_arity.min + extra,
            max: base_arity.max.map(|max| max + extra),
        };
        out.push(FunctionMeta {
            target: Target::Name(name.clone()),
            name,
            family: Family::Combinators,
            args,
            params: Arity::exactly(0),
            aggregate: true,
            tz_aware: false,
            case_sensitive: true,
            overloads: Vec::new(),
            suffix_args: Vec::new(),
            passthrough_suffix_args_count: 0,
            parametric_first_arg: false,
            requires_within_group: false,
            is_udf: false,
        });
    }
    let next: Vec<&'static Combinator> = match chain.last() {
        None => COMBINATORS.iter().collect(),
        Some(last) => last.then.iter().filter_map(|s| combinator(s)).collect(),
    };
    for c in next {
        if chain.iter().any(|used| used.suffix == c.suffix) {
            continue;
        }
        chain.push(c);
        extend(base, base_arity, chain, out);
        chain.pop();
    }
}

/// All generated combinator entries, in PostHog's order.
pub(super) fn generate() -> Vec<FunctionMeta> {
    let mut out = Vec::new();
    for (base, arity) in COMBINATOR_BASES {
        extend(base, arity, &mut Vec::new(), &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(all: &'a [FunctionMeta], name: &str) -> &'a FunctionMeta {
        all.iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} not generated"))
    }

    #[test]
    fn forty_seven_per_base_and_no_duplicates() {
        let all = generate();
        assert_eq!(all.len(), 7 * 47);
        for (base, _) in COMBINATOR_BASES {
            // countDistinct* also starts with "count": match on the exact base.
            let n = all
                .iter()
                .filter(|m| {
                    m.name.strip_prefix(base).is_some_and(|rest| {
                        rest.starts_with(|c: char| c.is_ascii_uppercase())
                            && !(base == "count" && rest.starts_with("Distinct"))
                    })
                })
                .count();
            assert_eq!(n, 47, "base {base}");
        }
        let mut names: Vec<_> = all.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    /// Exact entries from PostHog's `test_mapping.ambr` snapshot.
    #[test]
    fn entries_match_posthog_snapshot() {
        let all = generate();
        let cases = [
            ("avgIf", 2, 2),
            ("avgArrayOrNullIf", 2, 2),
            ("avgArgMinOrDefaultIf", 3, 3),
            ("countIf", 1, 2),
            ("countArray", 0, 1),
            ("countMerge", 0, 1),
            ("countArgMax", 1, 2),
            ("countArgMaxIf", 2, 3),
            ("countDistinctIf", 2, 2),
            ("countDistinctArgMaxOrNullIf", 3, 3),
            ("medianForEachOrNull", 1, 1),
            ("sumMapOrDefaultIf", 2, 2),
        ];
        for (name, min, max) in cases {
            let meta = find(&all, name);
            assert_eq!(
                meta.args,
                Arity {
                    min,
                    max: Some(max)
                },
                "{name}"
            );
            assert!(meta.aggregate && meta.case_sensitive);
            assert_eq!(meta.clickhouse_name(), name);
        }
    }

    #[test]
    fn order_matches_posthog_snapshot() {
        let names: Vec<String> = generate().into_iter().take(12).map(|m| m.name).collect();
        assert_eq!(
            names,
            [
                "avgIf",
                "avgArray",
                "avgArrayIf",
                "avgArrayOrDefault",
                "avgArrayOrDefaultIf",
                "avgArrayOrNull",
                "avgArrayOrNullIf",
                "avgMap",
                "avgMapIf",
                "avgMapOrDefault",
                "avgMapOrDefaultIf",
                "avgMapOrNull",
            ]
        );
    }

    #[test]
    fn illegal_chains_are_absent() {
        let all = generate();
        for name in [
            "avgIfArray",
            "avgOrNullArray",
            "sumDistinct",
            "avgIfIf",
            "avgArrayMap",
            "avgOrNullOrDefault",
        ] {
            assert!(
                all.iter().all(|m| m.name != name),
                "{name} should not exist"
            );
        }
    }
}
