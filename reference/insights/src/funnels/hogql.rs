//! The HogQL of a funnel, in stages (each a subquery):
//!
//! 1. events of the range (for `strict`, every event; else those of a step or an exclusion) with
//!    their time in milliseconds `t`, a bit mask `m` of the steps (bits `0..n`) and exclusions
//!    (bits `n..`) they match, and the breakdown value `bd` (an array of strings);
//! 2. per person (and value, for `all_events`): the sorted times of each step `t_k` and each
//!    exclusion `x_j` (for `strict`, one sorted array `e` of `t * 2^20 + m`), and the attributed
//!    breakdown value `prop`;
//! 3. per person, `rows`: one array per anchor that no exclusion drops, `[steps, times…]` (the
//!    step times reached, 0 when missing; for `unordered`, the sorted times); each step's (and
//!    exclusion's) first time after the anchors' is found for all anchors at once by one sort
//!    (see [`successors`]), so the stage grows as `n log n` with a person's events;
//! 4. steps: per person the most steps reached and the conversion times averaged over the anchors
//!    that reach them, then counts, `avg` and `median` per breakdown value (values past the limit
//!    fold into "other"); trends: per person and interval of the anchor the most steps, then the
//!    persons reaching the from and to steps per interval.

use super::{Attribution, Funnels, Order};
use crate::dates::hogql_time;
use crate::hogql::string;
use crate::trends::MAX_ROWS_PER_PART;

/// `strict` packs an event as `t * SHIFT + m`: times in milliseconds stay below 2^43 until the
/// year 2248, so 20 bits of mask fit an Int64.
const SHIFT: i64 = 1 << 20;

/// The whole query of the plan.
pub(super) fn query(f: &Funnels) -> String {
    let rows = rows_query(f);
    match f.viz {
        super::Viz::Steps => steps_query(f, &rows),
        super::Viz::Trends => trends_query(f, &rows),
        super::Viz::TimeToConvert => time_to_convert_query(f, &rows),
    }
}

fn n(f: &Funnels) -> usize {
    f.steps.len()
}

/// Stage 1: the events.
fn events_query(f: &Funnels) -> String {
    let mut conditions: Vec<String> = f
        .steps
        .iter()
        .map(|s| super::conjunction(&s.conditions()))
        .collect();
    conditions.extend(f.exclusions.iter().map(|e| e.condition.clone()));
    let mask = conditions
        .iter()
        .enumerate()
        .map(|(bit, c)| format!("if({c}, {}, 0)", 1_i64 << bit))
        .collect::<Vec<_>>()
        .join(" + ");
    let mut where_ = vec![f.range.condition()];
    where_.extend(f.filters.iter().cloned());
    if f.order != Order::Strict {
        where_.push(
            conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" OR "),
        );
    }
    let breakdown = match &f.breakdown {
        Some(b) => format!(", [{}] AS bd", b.exprs.join(", ")),
        None => String::new(),
    };
    format!(
        "SELECT person_id AS target, toUnixTimestamp64Milli(timestamp) AS t, {mask} AS m{breakdown} \
         FROM events WHERE {}",
        super::conjunction(&where_)
    )
}

/// The empty breakdown value: one empty string per property.
fn empty_value(f: &Funnels) -> String {
    let n_props = f.breakdown.as_ref().map_or(1, |b| b.exprs.len());
    format!("[{}]", vec!["''"; n_props].join(", "))
}

/// Stage 2: per person (and breakdown value).
fn persons_query(f: &Funnels) -> String {
    let n = n(f);
    let mut select = vec!["target".to_owned()];
    let mut group_by = "target".to_owned();
    let mut step_attribution = None;
    if let Some(b) = &f.breakdown {
        let non_empty = "notEmpty(arrayFilter(v -> v != '', bd))";
        let attributed = match b.attribution {
            Attribution::AllEvents => None,
            Attribution::FirstTouch => Some(format!("argMinIf(bd, t, {non_empty})")),
            Attribution::LastTouch => Some(format!("argMaxIf(bd, t, {non_empty})")),
            Attribution::Step(k) => {
                step_attribution = Some(k);
                None
            }
        };
        match (attributed, step_attribution) {
            (Some(value), _) => select.push(format!(
                "if(empty({value}), {}, {value}) AS prop",
                empty_value(f)
            )),
            (None, None) => {
                select.push("bd AS prop".into());
                group_by.push_str(", bd");
            }
            (None, Some(_)) => {}
        }
    }
    if f.order == Order::Strict {
        select.push(format!("arraySort(groupArray(t * {SHIFT} + m)) AS e"));
    } else {
        for k in 0..n {
            select.push(format!(
                "arraySort(groupArrayIf(t, bitTest(m, {k}))) AS t_{k}"
            ));
        }
    }
    for j in 0..f.exclusions.len() {
        select.push(format!(
            "arraySort(groupArrayIf(t, bitTest(m, {}))) AS x_{j}",
            n + j
        ));
    }
    let Some(k) = step_attribution else {
        return format!(
            "SELECT {} FROM ({}) GROUP BY {group_by}",
            select.join(", "),
            events_query(f)
        );
    };
    // `step` attribution: the person splits by the values of their step-k events; each part keeps
    // the step-k events of its value and shares every other step's events (PostHog takes the
    // value of the path's step-k event).
    select.push(format!(
        "arraySort((b, x) -> x, groupArrayIf(bd, bitTest(m, {k})), groupArrayIf(t, bitTest(m, {k}))) AS b_{k}"
    ));
    let grouped = format!(
        "SELECT {} FROM ({}) GROUP BY target",
        select.join(", "),
        events_query(f)
    );
    let mut columns: Vec<String> = (0..n).map(|i| format!("t_{i}")).collect();
    columns.extend((0..f.exclusions.len()).map(|j| format!("x_{j}")));
    let exploded = format!(
        "SELECT target, arrayJoin(arrayDistinct(b_{k})) AS prop, b_{k}, {} FROM ({grouped})",
        columns.join(", ")
    );
    columns[k] = format!("arrayFilter((x, b) -> b = prop, t_{k}, b_{k}) AS t_{k}");
    format!(
        "SELECT target, prop, {} FROM ({exploded})",
        columns.join(", ")
    )
}

/// The largest time in milliseconds a query of [`successors`] sorts as: a missing step (0) is
/// placed after every real time so that it has no successor.
const NONE: i64 = 1 << 61;

/// Defines (in `defs`, as `expr AS name` items of one SELECT) `name`: for each time of `queries`
/// (non-decreasing once a 0, "missing", counts as the largest), the first time of the sorted
/// array `sorted` at or after it (`after`: strictly after it), 0 when there is none or the query
/// is 0. One sort of both arrays together, so a person's cost grows as `n log n` with their
/// events (a scan of `sorted` per query grew as the square).
///
/// Each time `x` becomes `2x + tag`, the tag putting, at equal times, a query before the sorted
/// times (`>=`) or after them (`>`); the running count of sorted times before each query is then
/// the index of its successor. Equal queries have equal successors, so the queries keep their
/// order after the sort.
fn successors(defs: &mut Vec<String>, name: &str, queries: &str, sorted: &str, after: bool) {
    let (query_tag, sorted_tag) = if after { (1, 0) } else { (0, 1) };
    defs.push(format!(
        "arraySort(arrayConcat(arrayMap(q -> if(q = 0, _toInt64({NONE}), q) * 2 + {query_tag}, {queries}), \
         arrayMap(x -> x * 2 + {sorted_tag}, {sorted}))) AS {name}_m"
    ));
    defs.push(format!(
        "arrayMap(c -> {sorted}[c + 1], arrayFilter((c, v) -> bitAnd(v, 1) = {query_tag}, \
         arrayCumSum(arrayMap(v -> bitAnd(v, 1) = {sorted_tag}, {name}_m)), {name}_m)) AS {name}"
    ));
}

/// `arrayMap((v_0, v_1, …) -> BODY, ARRAYS…)` over equally long arrays, `BODY` given the names.
fn zip(arrays: &[String], body: impl Fn(&[String]) -> String) -> String {
    let names: Vec<String> = (0..arrays.len()).map(|i| format!("v_{i}")).collect();
    format!(
        "arrayMap(({}) -> {}, {})",
        names.join(", "),
        body(&names),
        arrays.join(", ")
    )
}

/// Per anchor, `p`: the `n` step times (0 = not reached; for `unordered`, sorted with the 0s last)
/// then, per exclusion, its first event at or after the exclusion's `funnelFromStep` time. The
/// arrays it reads are defined in `defs`.
fn anchors(f: &Funnels, defs: &mut Vec<String>) -> String {
    let n = n(f);
    let m = f.exclusions.len();
    match f.order {
        Order::Ordered => {
            // Step k's times per anchor: the successors of step k-1's, which stay non-decreasing
            // (then 0s) along the sorted anchors.
            let mut columns = vec!["t_0".to_owned()];
            for k in 1..n {
                let name = format!("fq_{k}");
                successors(
                    defs,
                    &name,
                    &columns[k - 1],
                    &format!("t_{k}"),
                    f.repeats_previous(k),
                );
                columns.push(name);
            }
            for (j, e) in f.exclusions.iter().enumerate() {
                let name = format!("fx_{j}");
                successors(defs, &name, &columns[e.from], &format!("x_{j}"), false);
                columns.push(name);
            }
            zip(&columns, |v| format!("[{}]", v.join(", ")))
        }
        Order::Strict => {
            let items = (0..n)
                .map(|k| {
                    if k == 0 {
                        format!("intDiv(e[i], {SHIFT})")
                    } else {
                        format!(
                            "if(bitTest(e[i + {k}] % {SHIFT}, {k}), intDiv(e[i + {k}], {SHIFT}), 0)"
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "arrayMap(i -> [{items}], arrayFilter(i -> bitTest(e[i] % {SHIFT}, 0), arrayEnumerate(e)))"
            )
        }
        Order::Unordered => {
            // Per step j as the anchor: every other step's first time at or after it, and each
            // exclusion's (an unordered funnel excludes from its anchor on).
            let rotations = (0..n)
                .map(|j| {
                    let mut columns = vec![format!("t_{j}")];
                    for i in (1..n).map(|i| (i + j) % n) {
                        let name = format!("fu_{j}_{i}");
                        successors(defs, &name, &format!("t_{j}"), &format!("t_{i}"), false);
                        columns.push(name);
                    }
                    for x in 0..m {
                        let name = format!("fx_{j}_{x}");
                        successors(defs, &name, &format!("t_{j}"), &format!("x_{x}"), false);
                        columns.push(name);
                    }
                    zip(&columns, |v| {
                        let sorted = format!("arraySort(x -> (x = 0, x), [{}])", v[..n].join(", "));
                        if m == 0 {
                            sorted
                        } else {
                            format!("arrayConcat({sorted}, [{}])", v[n..].join(", "))
                        }
                    })
                })
                .collect::<Vec<_>>();
            format!("arrayConcat({})", rotations.join(", "))
        }
    }
}

/// Whether anchor `p` is dropped by an exclusion (PostHog: `exclusion = 1`).
fn excluded(f: &Funnels) -> Option<String> {
    if f.exclusions.is_empty() {
        return None;
    }
    let (n, w) = (n(f), f.window_ms);
    let parts = f
        .exclusions
        .iter()
        .enumerate()
        .map(|(j, e)| {
            let (from, to) = (e.from + 1, e.to + 1);
            let first = format!("p[{}]", n + 1 + j);
            format!(
                "(p[{from}] > 0 AND {first} > p[{from}] AND {first} < if(p[{to}] = 0, p[{from}] + {w}, p[{to}]))"
            )
        })
        .collect::<Vec<_>>();
    Some(parts.join(" OR "))
}

/// The number of steps anchor `p` reaches.
fn steps_of(f: &Funnels) -> String {
    let (n, w) = (n(f), f.window_ms);
    match f.order {
        // The path is a chain: a missing step stays missing and times only grow.
        Order::Ordered => {
            format!(
                "1 + arrayCount(x -> x > 0 AND x <= p[1] + {w}, arraySlice(p, 2, {}))",
                n - 1
            )
        }
        Order::Strict => {
            let mut terms = vec!["1".to_owned()];
            let mut all = Vec::new();
            for k in 1..n {
                all.push(format!("p[{i}] > 0 AND p[{i}] <= p[1] + {w}", i = k + 1));
                terms.push(format!("if({}, 1, 0)", all.join(" AND ")));
            }
            terms.join(" + ")
        }
        Order::Unordered => {
            format!("1 + arrayCount(x -> x > p[1] AND x <= p[1] + {w}, arraySlice(p, 1, {n}))")
        }
    }
}

/// Stage 3: per person, `rows`.
fn rows_query(f: &Funnels) -> String {
    let mut defs = Vec::new();
    let mut kept = anchors(f, &mut defs);
    if let Some(condition) = excluded(f) {
        kept = format!("arrayFilter(p -> NOT ({condition}), {kept})");
    }
    let rows = format!(
        "arrayMap(p -> arrayConcat([_toInt64({})], arraySlice(p, 1, {})), {kept})",
        steps_of(f),
        n(f)
    );
    defs.push(format!("{rows} AS rows"));
    format!(
        "SELECT target{}, {} FROM ({})",
        if f.breakdown.is_some() { ", prop" } else { "" },
        defs.join(", "),
        persons_query(f)
    )
}

/// Conversion time from step `k - 1` to step `k` of row `r` (`[steps, times…]`), in seconds (-1:
/// none; times never go back, so a real one is never negative).
fn conversion(f: &Funnels, k: usize) -> String {
    let (this, prev) = (format!("r[{}]", k + 2), format!("r[{}]", k + 1));
    let seconds = format!("intDiv({this}, 1000) - intDiv({prev}, 1000)");
    match f.order {
        Order::Ordered | Order::Strict => format!("if(r[1] > {k}, {seconds}, -1)"),
        Order::Unordered => format!(
            "if({this} != 0 AND {this} <= {prev} + {w}, {seconds}, -1)",
            w = f.window_ms
        ),
    }
}

/// Per person (and breakdown value): the most steps reached, `steps`, and the conversion time into
/// each step k ≥ 1 averaged over the anchors that reach the most, `conv_k` (null when none).
fn per_person_query(f: &Funnels, rows: &str) -> String {
    let n = n(f);
    let prop = if f.breakdown.is_some() { ", prop" } else { "" };
    let best = format!(
        "SELECT target{prop}, steps, arrayFilter(r -> r[1] = steps, rows) AS best FROM (\
         SELECT target{prop}, rows, arrayMax(arrayMap(r -> r[1], rows)) AS steps FROM ({rows}) \
         WHERE notEmpty(rows))"
    );
    let lists = (1..n)
        .map(|k| {
            format!(
                "arrayFilter(v -> v >= 0, arrayMap(r -> {}, best)) AS cv_{k}",
                conversion(f, k)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let averages = (1..n)
        .map(|k| format!("if(empty(cv_{k}), NULL, arrayAvg(cv_{k})) AS conv_{k}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT target{prop}, steps, {averages} FROM (SELECT target{prop}, steps, {lists} FROM ({best}))"
    )
}

/// Stage 4, steps: per person then per breakdown value. Columns: `[prop,] s_0.., avg_1..,
/// median_1..`.
fn steps_query(f: &Funnels, rows: &str) -> String {
    let n = n(f);
    let per_person = per_person_query(f, rows);
    let mut columns = Vec::new();
    for k in 0..n {
        columns.push(format!("countIf(steps >= {}) AS s_{k}", k + 1));
    }
    for k in 1..n {
        columns.push(format!("avg(conv_{k}) AS avg_{k}"));
    }
    for k in 1..n {
        columns.push(format!("median(conv_{k}) AS median_{k}"));
    }
    match &f.breakdown {
        None => format!("SELECT {} FROM ({per_person})", columns.join(", ")),
        Some(b) => {
            let convs = (1..n).map(|k| format!(", conv_{k}")).collect::<String>();
            let top = format!(
                "SELECT prop FROM ({per_person}) GROUP BY prop ORDER BY count() DESC, prop ASC LIMIT {}",
                b.limit
            );
            format!(
                "SELECT value, {} FROM (SELECT steps{convs}, if(prop IN ({top}), prop, [{}]) AS value \
                 FROM ({per_person})) GROUP BY value LIMIT {MAX_ROWS_PER_PART}",
                columns.join(", "),
                string(super::FUNNEL_OTHER),
            )
        }
    }
}

/// Stage 4, trends: per person and interval of the anchor the most steps, then per interval the
/// persons reaching the from and to steps. Columns: `bucket` (1-based), `reached_from`,
/// `reached_to`.
fn trends_query(f: &Funnels, rows: &str) -> String {
    let bounds = f
        .range
        .buckets()
        .iter()
        .map(|b| {
            format!(
                "toUnixTimestamp(toDateTime({})) * 1000",
                string(&hogql_time(*b))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT bucket, countIf(steps >= {from}) AS reached_from, countIf(steps >= {to}) AS reached_to FROM (\
         SELECT target, bucket, max(r[1]) AS steps FROM (\
         SELECT target, arrayJoin(rows) AS r, arrayCount(b -> b <= r[2], [{bounds}]) AS bucket FROM ({rows})) \
         GROUP BY target, bucket) WHERE bucket > 0 GROUP BY bucket ORDER BY bucket LIMIT {MAX_ROWS_PER_PART}",
        from = f.from_step + 1,
        to = f.to_step + 1,
    )
}

/// Stage 4, time to convert: per person who reached the to step, the sum of their conversion
/// times from the from step, `v`; then the histogram's bounds (PostHog's `histogram_params`) and
/// the persons per bin. Columns: `lo` (first bin's start), `width`, `average`, `bins` (the bin
/// count), `idx` (0-based bin), `persons`; one row per non-empty bin (none when no one converted).
fn time_to_convert_query(f: &Funnels, rows: &str) -> String {
    let sum = (f.from_step + 1..=f.to_step)
        .map(|k| format!("conv_{k}"))
        .collect::<Vec<_>>()
        .join(" + ");
    let bins = match f.bin_count {
        Some(b) => b.to_string(),
        None => format!(
            "least({}, greatest(1, ceil(cbrt(samples))))",
            super::MAX_AUTO_BINS
        ),
    };
    let params = format!(
        "SELECT ifNull(floor(min(v)), 0) AS lo, ifNull(ceil(max(v)), 1) AS hi, round(avg(v), 2) AS average, \
         count() AS samples, {bins} AS bins, ceil((hi - lo) / bins) AS raw_width, \
         if(raw_width > 0, raw_width, 60) AS width, groupArrayIf(ifNull(v, 0), isNotNull(v)) AS vs \
         FROM (SELECT {sum} AS v FROM ({per_person}) WHERE conv_{to} IS NOT NULL)",
        per_person = per_person_query(f, rows),
        to = f.to_step,
    );
    format!(
        "SELECT lo, width, average, bins, idx, count() AS persons FROM (\
         SELECT lo, width, average, bins, arrayJoin(arrayMap(x -> _toInt64(floor((x - lo) / width)), vs)) AS idx \
         FROM ({params})) GROUP BY lo, width, average, bins, idx ORDER BY idx LIMIT {MAX_ROWS_PER_PART}"
    )
}
