//! `TrendsQuery`: one row per (series, period, bucket, breakdown value) from a single HogQL query (a
//! `UNION ALL` of one `SELECT` per series and period), then zero-filled, ranked into breakdown series
//! with "other", combined by formulas and shaped like PostHog's `TrendsQueryResponse.results`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::common::{
    BREAKDOWN_NULL, BREAKDOWN_OTHER, Breakdown, Compare, Interval, Math, Series, compare_periods,
    properties_of, read_series, reject_unanswered, where_clause,
};
use crate::dates::{Range, parse_clickhouse_time};
use crate::error::{Error, Result};
use crate::formula::Formula;
use crate::json::Obj;
use crate::{Context, number};

/// Rows each part may return before the answer is refused rather than cut.
pub const MAX_ROWS_PER_PART: usize = 10_000;

/// How the values are shown, as far as it changes the numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Display {
    /// One value per bucket.
    Series,
    /// Running total per bucket.
    Cumulative,
    /// One value for the whole range (`aggregated_value`).
    Total,
}

/// A planned trends query.
#[derive(Debug, Clone)]
pub struct Trends {
    series: Vec<Series>,
    /// The current period, then the compared one.
    periods: Vec<Range>,
    compare: bool,
    breakdown: Option<Breakdown>,
    formulas: Vec<(String, Formula)>,
    display: Display,
    filters: Vec<String>,
}

const TRENDS_FILTER_KEYS: &[&str] = &[
    "formula",
    "formulas",
    "formulaNodes",
    "display",
    "smoothingIntervals",
    // Presentation only: they change how the UI draws, never the numbers.
    "showLegend",
    "showValuesOnSeries",
    "showPercentStackView",
    "showLabelsOnSeries",
    "hiddenLegendIndexes",
    "hiddenLegendBreakdowns",
    "aggregationAxisFormat",
    "aggregationAxisPrefix",
    "aggregationAxisPostfix",
    "decimalPlaces",
    "minDecimalPlaces",
    "yAxisScaleType",
    "showMultipleYAxes",
    "showAlertThresholdLines",
    "resultCustomizationBy",
    "resultCustomizations",
    "goalLines",
    "showTrendLines",
    "showMovingAverage",
    "movingAverageIntervals",
    "showConfidenceIntervals",
    "confidenceLevel",
    "detailedResultsAggregationType",
];

impl Trends {
    /// Reads a `TrendsQuery` object.
    pub(crate) fn read(query: &Value, ctx: &Context) -> Result<Trends> {
        let obj = Obj::new("query", query)?;
        obj.deny_unknown(&[
            "series",
            "dateRange",
            "interval",
            "properties",
            "filterTestAccounts",
            "breakdownFilter",
            "compareFilter",
            "trendsFilter",
            "samplingFactor",
            "aggregation_group_type_index",
            "dataColorTheme",
            "modifiers",
            "conversionGoal",
        ])?;
        reject_unanswered(&obj)?;
        obj.reject_set("conversionGoal", "`conversionGoal`")?;
        obj.reject_set(
            "aggregation_group_type_index",
            "`aggregation_group_type_index`",
        )?;
        let series = read_series(&obj)?;

        let mut display = Display::Series;
        let mut formulas = Vec::new();
        if let Some(filter) = obj.object("trendsFilter")? {
            filter.deny_unknown(TRENDS_FILTER_KEYS)?;
            if let Some(n) = filter.int("smoothingIntervals")?
                && n != 1
            {
                return Err(Error::unsupported(
                    filter.child("smoothingIntervals"),
                    "smoothing",
                ));
            }
            display = match filter.str("display")? {
                None
                | Some(
                    "ActionsLineGraph" | "ActionsBar" | "ActionsAreaGraph" | "ActionsStackedBar",
                ) => Display::Series,
                Some("ActionsLineGraphCumulative") => Display::Cumulative,
                Some(
                    "BoldNumber" | "ActionsPie" | "ActionsBarValue" | "ActionsTable" | "WorldMap",
                ) => Display::Total,
                Some(other @ ("CalendarHeatmap" | "BoxPlot")) => {
                    return Err(Error::unsupported(
                        filter.child("display"),
                        format!("display `{other}`"),
                    ));
                }
                Some(other) => {
                    return Err(Error::invalid(
                        filter.child("display"),
                        format!("unknown display `{other}`"),
                    ));
                }
            };
            let mut texts: Vec<(String, String)> = Vec::new();
            if let Some(f) = filter.str("formula")?
                && !f.trim().is_empty()
            {
                texts.push((f.to_owned(), filter.child("formula")));
            }
            for (i, f) in filter.array("formulas")?.into_iter().flatten().enumerate() {
                let field = format!("{}[{i}]", filter.child("formulas"));
                let f = f
                    .as_str()
                    .ok_or_else(|| Error::invalid(&field, "must be a string"))?;
                texts.push((f.to_owned(), field));
            }
            for (i, node) in filter
                .array("formulaNodes")?
                .into_iter()
                .flatten()
                .enumerate()
            {
                let field = format!("{}[{i}]", filter.child("formulaNodes"));
                let node = Obj::new(&field, node)?;
                node.deny_unknown(&["formula", "custom_name"])?;
                let f = node
                    .str("formula")?
                    .ok_or_else(|| Error::invalid(node.child("formula"), "is required"))?;
                texts.push((f.to_owned(), node.child("formula")));
            }
            for (text, field) in texts {
                let parsed = Formula::parse(&text, series.len(), &field)?;
                formulas.push((text, parsed));
            }
        }

        let interval = if display == Display::Total {
            Interval::Day
        } else {
            Interval::read(&obj, "interval")?
        };
        let range = Range::of_query(&obj, interval, ctx)?;
        let mut compare = None;
        if let Some(c) = obj.object("compareFilter")? {
            compare = Compare::read(&c)?;
        }
        let periods = compare_periods(compare.as_ref(), range);
        let breakdown = match obj.object("breakdownFilter")? {
            Some(b) => Breakdown::read(&b)?,
            None => None,
        };
        for (i, s) in series.iter().enumerate() {
            if !matches!(s.math, Math::WeeklyActive | Math::MonthlyActive) {
                continue;
            }
            let field = format!("{}[{i}].math", obj.child("series"));
            if display == Display::Total {
                return Err(Error::unsupported(
                    field,
                    "weekly or monthly active users with a total-value display",
                ));
            }
            if breakdown.is_some() {
                return Err(Error::unsupported(
                    field,
                    "weekly or monthly active users with a breakdown",
                ));
            }
        }
        let filters = properties_of(&obj)?;
        Ok(Trends {
            series,
            periods,
            compare: compare.is_some(),
            breakdown,
            formulas,
            display,
            filters,
        })
    }

    /// The HogQL of the whole query.
    pub(crate) fn hogql(&self) -> String {
        let mut parts = Vec::new();
        for (p, period) in self.periods.iter().enumerate() {
            for (s, series) in self.series.iter().enumerate() {
                let part = p * self.series.len() + s;
                // As text in the project timezone: the query API's ClickHouse format shows
                // DateTimes as ISO 8601 in UTC, which would lose the project's wall clock.
                let bucket = match self.display {
                    Display::Total => "''".to_owned(),
                    _ => format!("toString({})", period.interval.start_of("timestamp")),
                };
                let breakdown = self
                    .breakdown
                    .as_ref()
                    .map(|b| b.expr.clone())
                    .unwrap_or_else(|| "''".into());
                let mut conditions = vec![period.condition()];
                conditions.extend(series.conditions());
                conditions.extend(self.filters.iter().cloned());
                if let Some(lookback) = active_days(&series.math) {
                    conditions[0] = active_window(period, lookback);
                    parts.push(active_part(part, period, lookback, &conditions));
                    continue;
                }
                parts.push(format!(
                    "SELECT {part} AS part, {bucket} AS bucket, {agg} AS value, {breakdown} AS breakdown_value \
                     FROM events WHERE {where_} GROUP BY bucket, breakdown_value LIMIT {limit}",
                    agg = series.math.aggregate(),
                    where_ = where_clause(&conditions),
                    limit = MAX_ROWS_PER_PART,
                ));
            }
        }
        parts.join("\nUNION ALL\n")
    }

    /// PostHog's `results` and `hasMore` from the query's rows.
    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        let n_parts = self.periods.len() * self.series.len();
        let calendars: Vec<Vec<NaiveDateTime>> = self
            .periods
            .iter()
            .map(|p| match self.display {
                Display::Total => vec![NaiveDateTime::default()],
                _ => p.buckets(),
            })
            .collect();
        let indexes: Vec<HashMap<NaiveDateTime, usize>> = calendars
            .iter()
            .map(|c| c.iter().enumerate().map(|(i, at)| (*at, i)).collect())
            .collect();
        // part -> breakdown value -> values per bucket
        let mut values: Vec<Vec<(String, Vec<f64>)>> = vec![Vec::new(); n_parts];
        let mut counts = vec![0usize; n_parts];
        for row in rows {
            let cells = row
                .as_array()
                .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
            let [part, bucket, value, breakdown] = cells.as_slice() else {
                return Err(Error::Rows(format!(
                    "expected 4 columns, got {}",
                    cells.len()
                )));
            };
            let part = part
                .as_u64()
                .or_else(|| part.as_str().and_then(|s| s.parse().ok()))
                .map(|p| p as usize)
                .filter(|p| *p < n_parts)
                .ok_or_else(|| Error::Rows(format!("bad part {part}")))?;
            counts[part] += 1;
            let period = part / self.series.len();
            let bucket_index = match self.display {
                Display::Total => Some(0),
                _ => bucket
                    .as_str()
                    .and_then(parse_clickhouse_time)
                    .and_then(|at| indexes[period].get(&at).copied()),
            };
            let Some(bucket_index) = bucket_index else {
                continue;
            };
            let value = number(value).unwrap_or(0.0);
            let breakdown = match breakdown {
                Value::String(s) => s.clone(),
                Value::Null => BREAKDOWN_NULL.to_owned(),
                other => other.to_string(),
            };
            let slot = match values[part].iter().position(|(b, _)| *b == breakdown) {
                Some(i) => i,
                None => {
                    values[part].push((breakdown, vec![0.0; calendars[period].len()]));
                    values[part].len() - 1
                }
            };
            values[part][slot].1[bucket_index] += value;
        }
        if let Some(part) = counts.iter().position(|c| *c >= MAX_ROWS_PER_PART) {
            return Err(Error::unsupported(
                "query.breakdownFilter",
                format!(
                    "a breakdown with more than {MAX_ROWS_PER_PART} (value, bucket) pairs in one series (series {})",
                    part % self.series.len()
                ),
            ));
        }

        // Rank breakdown values per part; fold the rest into "other".
        let mut has_more = false;
        let mut ranked: Vec<Vec<(String, Vec<f64>)>> = Vec::with_capacity(n_parts);
        for (part, mut groups) in values.into_iter().enumerate() {
            let period = part / self.series.len();
            let width = calendars[period].len();
            match &self.breakdown {
                None => {
                    let data = groups
                        .pop()
                        .map(|(_, d)| d)
                        .unwrap_or_else(|| vec![0.0; width]);
                    ranked.push(vec![(String::new(), data)]);
                }
                Some(b) => {
                    groups.sort_by(|(a, da), (b, db)| {
                        let (ta, tb): (f64, f64) = (da.iter().sum(), db.iter().sum());
                        tb.total_cmp(&ta).then_with(|| a.cmp(b))
                    });
                    if groups.len() > b.limit {
                        has_more = true;
                        let rest = groups.split_off(b.limit);
                        if !b.hide_other {
                            let mut other = vec![0.0; width];
                            for (_, d) in rest {
                                for (o, v) in other.iter_mut().zip(d) {
                                    *o += v;
                                }
                            }
                            groups.push((BREAKDOWN_OTHER.to_owned(), other));
                        }
                    }
                    ranked.push(groups);
                }
            }
        }

        let mut results = Vec::new();
        if self.formulas.is_empty() {
            for (part, groups) in ranked.iter().enumerate() {
                let (period, s) = (part / self.series.len(), part % self.series.len());
                for (breakdown, data) in groups {
                    let series = &self.series[s];
                    let mut label = series.label();
                    if self.breakdown.is_some() {
                        let pretty = breakdown_label(breakdown);
                        label = if self.series.len() > 1 {
                            format!("{label} - {pretty}")
                        } else {
                            pretty
                        };
                    }
                    let mut item = self.item(period, data, label, series.math.is_count());
                    item.insert("action".into(), action(series, s));
                    self.decorate(&mut item, period, breakdown);
                    results.push(Value::Object(item));
                }
            }
        } else {
            for (text, formula) in &self.formulas {
                for period in 0..self.periods.len() {
                    let parts =
                        &ranked[period * self.series.len()..(period + 1) * self.series.len()];
                    let mut keys: Vec<&String> = Vec::new();
                    for groups in parts {
                        for (b, _) in groups {
                            if !keys.contains(&b) {
                                keys.push(b);
                            }
                        }
                    }
                    let width = calendars[period].len();
                    let mut rows: Vec<(String, Vec<f64>)> = keys
                        .into_iter()
                        .map(|key| {
                            let data = (0..width)
                                .map(|i| {
                                    let inputs: Vec<f64> = parts
                                        .iter()
                                        .map(|g| {
                                            g.iter()
                                                .find(|(b, _)| b == key)
                                                .map(|(_, d)| d[i])
                                                .unwrap_or(0.0)
                                        })
                                        .collect();
                                    formula.eval(&inputs)
                                })
                                .collect();
                            (key.clone(), data)
                        })
                        .collect();
                    if self.breakdown.is_some() {
                        rows.sort_by(|(a, da), (b, db)| {
                            let (ta, tb): (f64, f64) = (da.iter().sum(), db.iter().sum());
                            tb.total_cmp(&ta).then_with(|| a.cmp(b))
                        });
                    }
                    for (breakdown, data) in rows {
                        let mut item = self.item(period, &data, format!("Formula ({text})"), false);
                        item.insert("action".into(), Value::Null);
                        self.decorate(&mut item, period, &breakdown);
                        results.push(Value::Object(item));
                    }
                }
            }
        }
        let mut out = Map::new();
        out.insert("results".into(), Value::Array(results));
        out.insert("hasMore".into(), Value::Bool(has_more));
        Ok(out)
    }

    fn item(
        &self,
        period: usize,
        data: &[f64],
        label: String,
        integral: bool,
    ) -> Map<String, Value> {
        let range = &self.periods[period];
        let mut item = Map::new();
        match self.display {
            Display::Total => {
                item.insert("data".into(), json!([]));
                item.insert("days".into(), json!([]));
                item.insert("count".into(), json!(0));
                item.insert(
                    "aggregated_value".into(),
                    render(data.first().copied().unwrap_or(0.0), integral),
                );
            }
            Display::Series | Display::Cumulative => {
                let mut data = data.to_vec();
                let count = if self.display == Display::Cumulative {
                    let mut total = 0.0;
                    for v in &mut data {
                        total += *v;
                        *v = total;
                    }
                    total
                } else {
                    data.iter().sum()
                };
                let buckets = range.buckets();
                item.insert(
                    "data".into(),
                    Value::Array(data.iter().map(|v| render(*v, integral)).collect()),
                );
                item.insert(
                    "labels".into(),
                    json!(buckets.iter().map(|b| range.label(*b)).collect::<Vec<_>>()),
                );
                item.insert(
                    "days".into(),
                    json!(buckets.iter().map(|b| range.day(*b)).collect::<Vec<_>>()),
                );
                item.insert("count".into(), json!(count));
            }
        }
        item.insert("label".into(), Value::String(label));
        item
    }

    fn decorate(&self, item: &mut Map<String, Value>, period: usize, breakdown: &str) {
        if self.compare {
            item.insert("compare".into(), Value::Bool(true));
            item.insert(
                "compare_label".into(),
                Value::String(if period == 0 { "current" } else { "previous" }.into()),
            );
        }
        if self.breakdown.is_some() {
            item.insert(
                "breakdown_value".into(),
                Value::String(breakdown.to_owned()),
            );
        }
    }
}

impl Math {
    /// Whether the values are counts (rendered as integers).
    fn is_count(&self) -> bool {
        !matches!(self, Math::Property { .. })
    }
}

/// The look-back of weekly/monthly active users in days (PostHog counts, for a bucket starting at
/// `d`, the actors with an event in `(d - N + 1 days, d + 1 day]`).
fn active_days(math: &Math) -> Option<i64> {
    match math {
        Math::WeeklyActive => Some(7),
        Math::MonthlyActive => Some(30),
        _ => None,
    }
}

/// The events an active-users series reads: from `N` days before the first bucket to the end.
fn active_window(period: &Range, lookback: i64) -> String {
    let first = period.first_bucket() - chrono::Duration::days(lookback);
    format!(
        "timestamp >= toDateTime({}) AND timestamp <= toDateTime({})",
        crate::hogql::string(&crate::dates::hogql_time(first)),
        crate::hogql::string(&crate::dates::hogql_time(period.to)),
    )
}

/// One active-users part: every event counts for each bucket start `d` of the range with
/// `d - (N - 1) days < timestamp <= d + 1 day`; only the few buckets near the event are tried.
fn active_part(part: usize, period: &Range, lookback: i64, conditions: &[String]) -> String {
    let interval = period.interval;
    let unit = match interval {
        Interval::Hour => "Hour",
        Interval::Day => "Day",
        Interval::Week => "Week",
        Interval::Month => "Month",
    };
    // Bucket starts from the one holding `timestamp - 1 day` up to `timestamp + N - 1 days`.
    let candidates = match interval {
        Interval::Hour => (lookback + 1) * 24,
        Interval::Day => lookback + 1,
        Interval::Week => lookback / 7 + 2,
        Interval::Month => lookback / 28 + 2,
    };
    let first = interval.start_of("timestamp - toIntervalDay(1)");
    let from = crate::hogql::string(&crate::dates::hogql_time(period.first_bucket()));
    let to = crate::hogql::string(&crate::dates::hogql_time(period.to));
    format!(
        "SELECT {part} AS part, toString(d) AS bucket, count(DISTINCT person_id) AS value, '' AS breakdown_value \
         FROM (SELECT person_id, arrayJoin(arrayFilter(d -> timestamp <= d + toIntervalDay(1) \
         AND timestamp > d - toIntervalDay({exclusive}) AND d >= toDateTime({from}) AND d <= toDateTime({to}), \
         arrayMap(k -> {first} + toInterval{unit}(k), range(0, {candidates})))) AS d \
         FROM events WHERE {where_}) GROUP BY bucket LIMIT {limit}",
        exclusive = lookback - 1,
        where_ = where_clause(conditions),
        limit = MAX_ROWS_PER_PART,
    )
}

fn render(value: f64, integral: bool) -> Value {
    if integral && value.fract() == 0.0 && value.abs() < 9e15 {
        json!(value as i64)
    } else {
        json!(value)
    }
}

/// The label PostHog shows for a breakdown value.
fn breakdown_label(value: &str) -> String {
    match value {
        BREAKDOWN_NULL => "None".into(),
        BREAKDOWN_OTHER => "Other (i.e. all remaining values)".into(),
        other => other.to_owned(),
    }
}

pub(crate) fn action(series: &Series, order: usize) -> Value {
    json!({
        "id": series.event,
        "type": "events",
        "order": order,
        "name": series.label(),
        "custom_name": series.custom_name,
        "math": series.math_name.clone().unwrap_or_else(|| "total".into()),
        "math_property": series.math_property,
        "math_hogql": null,
        "math_group_type_index": series.math_group_type_index,
        "properties": {},
    })
}
