//! `StickinessQuery`: for each series, how many persons (or groups) were active in exactly 1, 2, …
//! N intervals of the range, as PostHog's stickiness runner counts them (N is the number of
//! interval starts in the range plus one, e.g. 11 for ten whole days).

use serde_json::{Map, Value, json};

use crate::common::{Compare, Interval, Math, Series, property_filters};
use crate::dates::Range;
use crate::error::{Error, Result};
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
        obj.reject_set("modifiers", "`modifiers` on an insight query")?;
        obj.reject_set(
            "filterTestAccounts",
            "`filterTestAccounts: true` (no test account filters are stored)",
        )?;
        if let Some(n) = obj.int("intervalCount")?
            && n != 1
        {
            return Err(Error::unsupported(
                obj.child("intervalCount"),
                "an interval count other than 1",
            ));
        }
        if let Some(factor) = obj.number("samplingFactor")?
            && factor != 1.0
        {
            return Err(Error::unsupported(obj.child("samplingFactor"), "sampling"));
        }
        let items = obj
            .array("series")?
            .ok_or_else(|| Error::invalid(obj.child("series"), "is required"))?;
        if items.is_empty() || items.len() > 26 {
            return Err(Error::invalid(
                obj.child("series"),
                "must have 1 to 26 series",
            ));
        }
        let series = items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let path = format!("{}[{i}]", obj.child("series"));
                let series = Series::read(s, &path)?;
                match series.math {
                    Math::Total | Math::Dau | Math::UniqueGroup(_) => Ok(series),
                    _ => Err(Error::unsupported(
                        format!("{path}.math"),
                        "this math in a stickiness query",
                    )),
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let interval = Interval::read(&obj, "interval")?;
        let range = Range::read(
            obj.object("dateRange")?.as_ref(),
            interval,
            ctx.now,
            &ctx.timezone,
        )?;
        let mut compare = None;
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
            if let Some(kind) = filter.str("computedAs")?
                && kind != "non_cumulative"
            {
                return Err(Error::unsupported(
                    filter.child("computedAs"),
                    format!("`{kind}`"),
                ));
            }
            filter.reject_set("stickinessCriteria", "`stickinessCriteria`")?;
            compare = Compare::read_legacy(&filter)?;
        }
        if let Some(c) = obj.object("compareFilter")? {
            compare = Compare::read(&c)?.or(compare);
        }
        let mut periods = vec![range];
        match &compare {
            None => {}
            Some(Compare::Previous) => {
                let n = range.buckets().len() as i64;
                periods.push(range.shifted_intervals(-n));
            }
            Some(Compare::To(by)) => periods.push(range.shifted_back(by)),
        }
        let filters = match obj.get("properties") {
            None => Vec::new(),
            Some(v) => property_filters(v, &obj.child("properties"))?,
        };
        Ok(Stickiness {
            series,
            periods,
            compare: compare.is_some(),
            filters,
        })
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
                parts.push(format!(
                    "SELECT {part} AS part, num_intervals, count() AS value FROM (\
                     SELECT {target} AS target, count(DISTINCT {bucket}) AS num_intervals \
                     FROM events WHERE {where_} GROUP BY target) \
                     GROUP BY num_intervals LIMIT {MAX_ROWS_PER_PART}",
                    bucket = period.interval.start_of("timestamp"),
                    where_ = conditions
                        .iter()
                        .map(|c| format!("({c})"))
                        .collect::<Vec<_>>()
                        .join(" AND "),
                ));
            }
        }
        parts.join("\nUNION ALL\n")
    }

    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        let n_parts = self.periods.len() * self.series.len();
        let widths: Vec<usize> = self.periods.iter().map(|p| p.buckets().len() + 1).collect();
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
            item.insert(
                "data".into(),
                Value::Array(values.iter().map(|v| json!(*v as i64)).collect()),
            );
            item.insert("days".into(), json!((1..=values.len()).collect::<Vec<_>>()));
            item.insert(
                "labels".into(),
                json!(
                    (1..=values.len())
                        .map(|n| format!("{n} {unit}{}", if n == 1 { "" } else { "s" }))
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
