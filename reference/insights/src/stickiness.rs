//! `StickinessQuery`: for each series, how many persons (or groups) were active in exactly 1, 2, …
//! N intervals of the range, as PostHog's stickiness runner counts them: N is the number of
//! intervals from the one holding `date_from` to the one holding `date_to` (10 for ten whole days),
//! `intervalCount` groups that many intervals into one from the range's first, `computedAs:
//! cumulative` turns the counts into "N or more" and `stickinessCriteria` counts only the intervals
//! with a number of events that meets it.

use serde_json::{Map, Value, json};

use crate::common::{
    Compare, Interval, Math, Series, compare_periods, interval_count, properties_of, read_series,
    reject_unanswered, where_clause,
};
use crate::dates::{Range, hogql_time};
use crate::error::{Error, Result};
use crate::hogql::string;
use crate::json::Obj;
use crate::trends::MAX_ROWS_PER_PART;
use crate::{Context, number};

/// A planned stickiness query.
#[derive(Debug, Clone)]
pub struct Stickiness {
    series: Vec<Series>,
    periods: Vec<Range>,
    compare: bool,
    filters: Vec<String>,
    /// How many intervals make one (`intervalCount`).
    count: i64,
    /// `computedAs: cumulative`.
    cumulative: bool,
    /// `stickinessCriteria`: the comparison and the number of events an interval needs.
    criteria: Option<(&'static str, i64)>,
}

impl Stickiness {
    pub(crate) fn read(query: &Value, ctx: &Context) -> Result<Stickiness> {
        let obj = Obj::new("query", query)?;
        obj.deny_unknown(&[
            "series",
            "dateRange",
            "interval",
            "intervalCount",
            "properties",
            "filterTestAccounts",
            "stickinessFilter",
            "compareFilter",
            "samplingFactor",
            "dataColorTheme",
            "modifiers",
        ])?;
        reject_unanswered(&obj)?;
        let count = interval_count(&obj)?;
        let series = read_series(&obj)?;
        for (i, s) in series.iter().enumerate() {
            if !matches!(s.math, Math::Total | Math::Dau | Math::UniqueGroup(_)) {
                return Err(Error::unsupported(
                    format!("{}[{i}].math", obj.child("series")),
                    "this math in a stickiness query",
                ));
            }
        }
        let interval = Interval::read(&obj, "interval")?;
        let range = Range::of_query(&obj, interval, ctx)?;
        let mut compare = None;
        let (mut cumulative, mut criteria) = (false, None);
        if let Some(filter) = obj.object("stickinessFilter")? {
            filter.deny_unknown(&[
                "compare",
                "compare_to",
                "display",
                "hiddenLegendIndexes",
                "showLegend",
                "showValuesOnSeries",
                "showMultipleYAxes",
                "resultCustomizations",
                "computedAs",
                "stickinessCriteria",
            ])?;
            cumulative = match filter.str("computedAs")? {
                None | Some("non_cumulative") => false,
                Some("cumulative") => true,
                Some(other) => {
                    return Err(Error::invalid(
                        filter.child("computedAs"),
                        format!(
                            "unknown computation `{other}` (expected cumulative or non_cumulative)"
                        ),
                    ));
                }
            };
            if let Some(c) = filter.object("stickinessCriteria")? {
                criteria = read_criteria(&c)?;
            }
            compare = Compare::read_legacy(&filter)?;
        }
        if let Some(c) = obj.object("compareFilter")? {
            compare = Compare::read(&c)?.or(compare);
        }
        let periods = compare_periods(compare.as_ref(), range);
        let filters = properties_of(&obj)?;
        Ok(Stickiness {
            series,
            periods,
            compare: compare.is_some(),
            filters,
            count,
            cumulative,
            criteria,
        })
    }

    /// How many (grouped) intervals a period has: the width of its series.
    fn width(&self, period: &Range) -> usize {
        let buckets = period.buckets().len();
        let count = self.count.max(1) as usize;
        buckets.div_ceil(count)
    }

    /// The HogQL of the interval an event falls in.
    fn bucket(&self, period: &Range) -> String {
        let start = period.interval.start_of("timestamp");
        if self.count == 1 {
            return start;
        }
        format!(
            "intDiv(dateDiff({}, toDateTime({}), {start}), {})",
            string(period.interval.name()),
            string(&hogql_time(period.first_bucket())),
            self.count
        )
    }

    pub(crate) fn hogql(&self) -> String {
        let mut parts = Vec::new();
        for (p, period) in self.periods.iter().enumerate() {
            for (s, series) in self.series.iter().enumerate() {
                let part = p * self.series.len() + s;
                let target = match series.math {
                    Math::UniqueGroup(index) => format!("`$group_{index}`"),
                    _ => "person_id".to_owned(),
                };
                let mut conditions = vec![period.condition()];
                conditions.extend(series.conditions());
                conditions.extend(self.filters.iter().cloned());
                let where_ = where_clause(&conditions);
                let bucket = self.bucket(period);
                let per_target = match self.criteria {
                    None => format!(
                        "SELECT {target} AS target, count(DISTINCT {bucket}) AS num_intervals \
                         FROM events WHERE {where_} GROUP BY target"
                    ),
                    Some((op, value)) => format!(
                        "SELECT target, countIf(events_in_interval {op} {value}) AS num_intervals FROM (\
                         SELECT {target} AS target, {bucket} AS interval, count() AS events_in_interval \
                         FROM events WHERE {where_} GROUP BY target, interval) \
                         GROUP BY target HAVING num_intervals > 0"
                    ),
                };
                parts.push(format!(
                    "SELECT {part} AS part, num_intervals, count() AS value FROM ({per_target}) \
                     GROUP BY num_intervals LIMIT {MAX_ROWS_PER_PART}"
                ));
            }
        }
        parts.join("\nUNION ALL\n")
    }

    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        let n_parts = self.periods.len() * self.series.len();
        let widths: Vec<usize> = self.periods.iter().map(|p| self.width(p)).collect();
        let mut data: Vec<Vec<f64>> = (0..n_parts)
            .map(|part| vec![0.0; widths[part / self.series.len()]])
            .collect();
        for row in rows {
            let cells = row
                .as_array()
                .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
            let [part, n, value] = cells.as_slice() else {
                return Err(Error::Rows(format!(
                    "expected 3 columns, got {}",
                    cells.len()
                )));
            };
            let part = number(part)
                .map(|p| p as usize)
                .filter(|p| *p < n_parts)
                .ok_or_else(|| Error::Rows(format!("bad part {part}")))?;
            let n = number(n).unwrap_or(0.0) as usize;
            if (1..=data[part].len()).contains(&n) {
                data[part][n - 1] += number(value).unwrap_or(0.0);
            }
        }
        let mut results = Vec::new();
        for (part, values) in data.iter().enumerate() {
            let (period, s) = (part / self.series.len(), part % self.series.len());
            let series = &self.series[s];
            let unit = self.periods[period].interval.name();
            let mut item = Map::new();
            item.insert("count".into(), json!(values.iter().sum::<f64>()));
            let values: Vec<f64> = if self.cumulative {
                // "N or more": the actors of N intervals and of every larger number.
                let mut running = 0.0;
                let mut out: Vec<f64> = values
                    .iter()
                    .rev()
                    .map(|v| {
                        running += v;
                        running
                    })
                    .collect();
                out.reverse();
                out
            } else {
                values.clone()
            };
            let more = if self.cumulative { " or more" } else { "" };
            item.insert(
                "data".into(),
                Value::Array(values.iter().map(|v| json!(*v as i64)).collect()),
            );
            item.insert("days".into(), json!((1..=values.len()).collect::<Vec<_>>()));
            item.insert(
                "labels".into(),
                json!(
                    (1..=values.len())
                        .map(|n| format!("{n} {unit}{}{more}", if n == 1 { "" } else { "s" }))
                        .collect::<Vec<_>>()
                ),
            );
            item.insert("label".into(), Value::String(series.label()));
            item.insert("action".into(), crate::trends::action(series, s));
            if self.compare {
                item.insert("compare".into(), Value::Bool(true));
                item.insert(
                    "compare_label".into(),
                    Value::String(if period == 0 { "current" } else { "previous" }.into()),
                );
            }
            results.push(Value::Object(item));
        }
        let mut out = Map::new();
        out.insert("results".into(), Value::Array(results));
        Ok(out)
    }
}

/// `stickinessCriteria` (`{operator: gte|lte|exact, value: N}`): the HogQL comparison and `N`.
fn read_criteria(obj: &Obj<'_>) -> Result<Option<(&'static str, i64)>> {
    obj.deny_unknown(&["operator", "value"])?;
    let op = match obj.str("operator")? {
        Some("gte") => ">=",
        Some("lte") => "<=",
        Some("exact") => "=",
        Some(other) => {
            return Err(Error::invalid(
                obj.child("operator"),
                format!("unknown operator `{other}` (expected gte, lte or exact)"),
            ));
        }
        None => return Err(Error::invalid(obj.child("operator"), "is required")),
    };
    let value = obj
        .int("value")?
        .ok_or_else(|| Error::invalid(obj.child("value"), "is required"))?;
    Ok(Some((op, value)))
}
