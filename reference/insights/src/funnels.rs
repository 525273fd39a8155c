//! `FunnelsQuery`, the ordered steps visualisation: how many persons did step 1, then step 2 after
//! it, … each within the conversion window of their step-1 event. Built from arrays (per person,
//! the sorted times of each step's events; for each step-1 time, the earliest later time of each
//! next step), which ClickHouse and chDB both run; PostHog's own runner now uses UDFs.
//!
//! Differences, all refused rather than guessed: strict and unordered order types, the trends and
//! time-to-convert visualisations, exclusions and breakdowns are not answered yet (400 naming the
//! field). Conversion times are not computed: `average_conversion_time` and
//! `median_conversion_time` are null.

use serde_json::{Map, Value, json};

use crate::common::{Interval, Math, Series, property_filters};
use crate::dates::Range;
use crate::error::{Error, Result};
use crate::json::Obj;
use crate::trends::MAX_ROWS_PER_PART;
use crate::{Context, number};

/// The most steps a funnel may have here (the generated HogQL grows with the square of it).
pub const MAX_STEPS: usize = 10;

/// A planned funnel.
#[derive(Debug, Clone)]
pub struct Funnels {
    steps: Vec<Series>,
    range: Range,
    window_seconds: i64,
    filters: Vec<String>,
}

impl Funnels {
    pub(crate) fn read(query: &Value, ctx: &Context) -> Result<Funnels> {
        let obj = Obj::new("query", query)?;
        obj.deny_unknown(&[
            "series",
            "dateRange",
            "interval",
            "properties",
            "filterTestAccounts",
            "funnelsFilter",
            "breakdownFilter",
            "samplingFactor",
            "aggregation_group_type_index",
            "dataColorTheme",
            "modifiers",
        ])?;
        obj.reject_set("modifiers", "`modifiers` on an insight query")?;
        obj.reject_set(
            "filterTestAccounts",
            "`filterTestAccounts: true` (no test account filters are stored)",
        )?;
        if obj.get("aggregation_group_type_index").is_some() {
            return Err(Error::unsupported(
                obj.child("aggregation_group_type_index"),
                "group funnels",
            ));
        }
        if let Some(b) = obj.object("breakdownFilter")?
            && b.get("breakdown").is_some()
        {
            return Err(Error::unsupported(
                obj.child("breakdownFilter"),
                "a funnel breakdown",
            ));
        }
        if let Some(factor) = obj.number("samplingFactor")?
            && factor != 1.0
        {
            return Err(Error::unsupported(obj.child("samplingFactor"), "sampling"));
        }
        let mut window_seconds = 14 * 86_400;
        if let Some(f) = obj.object("funnelsFilter")? {
            f.deny_unknown(&[
                "funnelOrderType",
                "funnelVizType",
                "funnelWindowInterval",
                "funnelWindowIntervalUnit",
                "exclusions",
                "breakdownAttributionType",
                "breakdownAttributionValue",
                "binCount",
                "funnelAggregateByHogQL",
                "funnelFromStep",
                "funnelToStep",
                "funnelStepReference",
                "layout",
                "hiddenLegendBreakdowns",
                "resultCustomizations",
                "showValuesOnSeries",
                "goalLines",
                "useUdf",
            ])?;
            match f.str("funnelOrderType")? {
                None | Some("ordered") => {}
                Some(other @ ("strict" | "unordered")) => {
                    return Err(Error::unsupported(
                        f.child("funnelOrderType"),
                        format!("`{other}`"),
                    ));
                }
                Some(other) => {
                    return Err(Error::invalid(
                        f.child("funnelOrderType"),
                        format!("unknown order type `{other}`"),
                    ));
                }
            }
            match f.str("funnelVizType")? {
                None | Some("steps") => {}
                Some(other @ ("trends" | "time_to_convert")) => {
                    return Err(Error::unsupported(
                        f.child("funnelVizType"),
                        format!("`{other}`"),
                    ));
                }
                Some(other) => {
                    return Err(Error::invalid(
                        f.child("funnelVizType"),
                        format!("unknown visualisation `{other}`"),
                    ));
                }
            }
            f.reject_set("exclusions", "`exclusions`")?;
            f.reject_set("funnelAggregateByHogQL", "`funnelAggregateByHogQL`")?;
            f.reject_set("funnelFromStep", "`funnelFromStep`")?;
            f.reject_set("funnelToStep", "`funnelToStep`")?;
            // PostHog falls back to 14 for a missing, zero or negative window.
            let amount = f
                .int("funnelWindowInterval")?
                .filter(|n| *n > 0)
                .unwrap_or(14);
            if amount > 100_000 {
                return Err(Error::invalid(
                    f.child("funnelWindowInterval"),
                    "must be at most 100000",
                ));
            }
            let unit = match f.str("funnelWindowIntervalUnit")? {
                Some("second") => 1,
                Some("minute") => 60,
                Some("hour") => 3_600,
                None | Some("day") => 86_400,
                Some("week") => 7 * 86_400,
                Some("month") => 30 * 86_400,
                Some(other) => {
                    return Err(Error::invalid(
                        f.child("funnelWindowIntervalUnit"),
                        format!("unknown unit `{other}`"),
                    ));
                }
            };
            window_seconds = amount * unit;
        }
        let items = obj
            .array("series")?
            .ok_or_else(|| Error::invalid(obj.child("series"), "is required"))?;
        if items.len() < 2 || items.len() > MAX_STEPS {
            return Err(Error::invalid(
                obj.child("series"),
                format!("must have 2 to {MAX_STEPS} steps"),
            ));
        }
        let steps = items
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let path = format!("{}[{i}]", obj.child("series"));
                let step = Series::read(s, &path)?;
                if step.math != Math::Total {
                    return Err(Error::unsupported(
                        format!("{path}.math"),
                        "math on a funnel step",
                    ));
                }
                Ok(step)
            })
            .collect::<Result<Vec<_>>>()?;
        // Funnel steps are counted over the whole range; the interval only matters to trends.
        let interval = Interval::read(&obj, "interval")?;
        let range = Range::read(
            obj.object("dateRange")?.as_ref(),
            interval,
            ctx.now,
            &ctx.timezone,
        )?;
        let filters = match obj.get("properties") {
            None => Vec::new(),
            Some(v) => property_filters(v, &obj.child("properties"))?,
        };
        Ok(Funnels {
            steps,
            range,
            window_seconds,
            filters,
        })
    }

    fn condition(step: &Series) -> String {
        let conditions = step.conditions();
        if conditions.is_empty() {
            "1 = 1".into()
        } else {
            conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" AND ")
        }
    }

    pub(crate) fn hogql(&self) -> String {
        let conditions: Vec<String> = self.steps.iter().map(Self::condition).collect();
        let arrays = conditions
            .iter()
            .enumerate()
            .map(|(i, c)| {
                format!("arraySort(groupArrayIf(toUnixTimestamp(timestamp), {c})) AS t_{i}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        // f_k: the earliest step-k time not before step k-1's (after it, for a repeated step).
        let mut time = "t0".to_owned();
        let mut reached = Vec::new();
        let mut all = Vec::new();
        for k in 1..self.steps.len() {
            // Strictly after, as PostHog's array/window funnels compare `latest_{k-1} < latest_k`.
            time = format!("arrayFirst(x{k} -> x{k} > {time}, t_{k})");
            all.push(format!(
                "({time} > 0 AND {time} <= t0 + {})",
                self.window_seconds
            ));
            reached.push(format!("toInt({})", all.join(" AND ")));
        }
        let steps = format!("1 + {}", reached.join(" + "));
        let mut where_ = vec![self.range.condition()];
        where_.push(
            conditions
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" OR "),
        );
        where_.extend(self.filters.iter().cloned());
        format!(
            "SELECT steps, count() AS value FROM (\
             SELECT target, arrayMax(arrayMap(t0 -> {steps}, t_0)) AS steps FROM (\
             SELECT person_id AS target, {arrays} FROM events WHERE {where_} GROUP BY target) \
             WHERE notEmpty(t_0)) GROUP BY steps LIMIT {MAX_ROWS_PER_PART}",
            where_ = where_
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" AND "),
        )
    }

    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        let mut reached = vec![0.0; self.steps.len()];
        for row in rows {
            let cells = row
                .as_array()
                .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
            let [steps, value] = cells.as_slice() else {
                return Err(Error::Rows(format!(
                    "expected 2 columns, got {}",
                    cells.len()
                )));
            };
            let steps = number(steps).unwrap_or(0.0) as usize;
            let value = number(value).unwrap_or(0.0);
            for slot in reached.iter_mut().take(steps.min(self.steps.len())) {
                *slot += value;
            }
        }
        let results = self
            .steps
            .iter()
            .zip(reached)
            .enumerate()
            .map(|(order, (step, count))| {
                json!({
                    "action_id": step.event,
                    "name": step.event,
                    "custom_name": step.custom_name,
                    "order": order,
                    "type": "events",
                    "count": count as i64,
                    "average_conversion_time": null,
                    "median_conversion_time": null,
                })
            })
            .collect();
        let mut out = Map::new();
        out.insert("results".into(), Value::Array(results));
        Ok(out)
    }
}
