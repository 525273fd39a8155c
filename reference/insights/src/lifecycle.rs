//! `LifecycleQuery`: per interval, how many persons were new (active in the interval their person
//! was created), returning (active in the interval before too), resurrecting (not active in the one
//! before) and dormant (active in the one before, not in this one; counted negative), as PostHog's
//! lifecycle runner splits them. Activity in the interval just before the range decides the first
//! interval's statuses.

use serde_json::{Map, Value, json};

use crate::common::{
    Interval, Math, Series, interval_count, properties_of, reject_unanswered, where_clause,
};
use crate::dates::{Range, hogql_time, parse_clickhouse_time, step};
use crate::error::{Error, Result};
use crate::hogql::string;
use crate::json::Obj;
use crate::trends::MAX_ROWS_PER_PART;
use crate::{Context, number};

/// The statuses, in the order of PostHog's results.
pub const STATUSES: [&str; 4] = ["new", "returning", "resurrecting", "dormant"];

/// A planned lifecycle query.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    series: Series,
    range: Range,
    filters: Vec<String>,
    /// The project timezone, which the activity array's buckets keep.
    timezone: String,
}

impl Lifecycle {
    pub(crate) fn read(query: &Value, ctx: &Context) -> Result<Lifecycle> {
        let obj = Obj::new("query", query)?;
        obj.deny_unknown(&[
            "series",
            "dateRange",
            "interval",
            "intervalCount",
            "properties",
            "filterTestAccounts",
            "lifecycleFilter",
            "samplingFactor",
            "aggregation_group_type_index",
            "dataColorTheme",
            "modifiers",
        ])?;
        reject_unanswered(&obj)?;
        if obj.get("aggregation_group_type_index").is_some() {
            return Err(Error::unsupported(
                obj.child("aggregation_group_type_index"),
                "a group lifecycle (groups' created_at)",
            ));
        }
        if interval_count(&obj)? != 1 {
            return Err(Error::unsupported(
                obj.child("intervalCount"),
                "an interval count other than 1",
            ));
        }
        if let Some(filter) = obj.object("lifecycleFilter")? {
            filter.deny_unknown(&[
                "toggledLifecycles",
                "showValuesOnSeries",
                "showLegend",
                "stacked",
            ])?;
            // Which statuses the chart shows: PostHog's runner answers all four either way.
            for (i, status) in filter
                .array("toggledLifecycles")?
                .into_iter()
                .flatten()
                .enumerate()
            {
                if !status.as_str().is_some_and(|s| STATUSES.contains(&s)) {
                    return Err(Error::invalid(
                        format!("{}[{i}]", filter.child("toggledLifecycles")),
                        "must be new, returning, resurrecting or dormant",
                    ));
                }
            }
        }
        let items = obj
            .array("series")?
            .ok_or_else(|| Error::invalid(obj.child("series"), "is required"))?;
        let [item] = items.as_slice() else {
            return Err(Error::invalid(
                obj.child("series"),
                "must have exactly one series",
            ));
        };
        let path = format!("{}[0]", obj.child("series"));
        let series = Series::read(item, &path)?;
        if !matches!(series.math, Math::Total | Math::Dau) {
            return Err(Error::unsupported(
                format!("{path}.math"),
                "math in a lifecycle query",
            ));
        }
        let interval = Interval::read(&obj, "interval")?;
        let range = Range::of_query(&obj, interval, ctx)?;
        let filters = properties_of(&obj)?;
        Ok(Lifecycle {
            series,
            range,
            filters,
            timezone: ctx.timezone.clone(),
        })
    }

    fn one(&self) -> String {
        let unit = match self.range.interval {
            Interval::Hour => "Hour",
            Interval::Day => "Day",
            Interval::Week => "Week",
            Interval::Month => "Month",
        };
        format!("toInterval{unit}(1)")
    }

    pub(crate) fn hogql(&self) -> String {
        let interval = self.range.interval;
        let first = self.range.first_bucket();
        let before = step(first, interval, -1);
        // Events of the whole interval holding `date_to` count, as in PostHog's lifecycle (a
        // month range ending on the 1st still sees the rest of that month).
        let last = self.range.buckets().last().copied().unwrap_or(first);
        let mut conditions = vec![format!(
            "timestamp >= toDateTime({}) AND timestamp < toDateTime({})",
            string(&hogql_time(before)),
            string(&hogql_time(step(last, interval, 1))),
        )];
        conditions.extend(self.series.conditions());
        conditions.extend(self.filters.iter().cloned());
        let inner = format!(
            "SELECT person_id AS target, {created} AS created, {periods} AS periods \
             FROM events WHERE {where_} GROUP BY target",
            created = interval.start_of("min(person.created_at)"),
            periods = match interval {
                // ClickHouse's arrays of DateTime drop the timezone: put it back, so that the
                // buckets print as the project's wall clock and `- interval` steps calendar days
                // across DST. Weeks and months are Dates, which have none to lose.
                Interval::Hour | Interval::Day => format!(
                    "arrayMap(p -> toTimeZone(p, {}), groupUniqArray({}))",
                    string(&self.timezone),
                    interval.start_of("timestamp")
                ),
                Interval::Week | Interval::Month => {
                    format!("groupUniqArray({})", interval.start_of("timestamp"))
                }
            },
            where_ = where_clause(&conditions),
        );
        let window = format!(
            "period >= toDateTime({}) AND period <= toDateTime({})",
            string(&hogql_time(first)),
            string(&hogql_time(self.range.to)),
        );
        let one = self.one();
        let active = format!(
            "SELECT toString(period) AS bucket, \
             if(period = created, 'new', if(has(periods, period - {one}), 'returning', 'resurrecting')) AS status, \
             toInt(count()) AS value \
             FROM (SELECT arrayJoin(periods) AS period, periods, created FROM ({inner})) \
             WHERE {window} GROUP BY bucket, status LIMIT {MAX_ROWS_PER_PART}"
        );
        let dormant = format!(
            "SELECT toString(period) AS bucket, 'dormant' AS status, -toInt(count()) AS value \
             FROM (SELECT arrayJoin(arrayMap(p -> p + {one}, arrayFilter(p -> not(has(periods, p + {one})), periods))) AS period FROM ({inner})) \
             WHERE {window} GROUP BY bucket, status LIMIT {MAX_ROWS_PER_PART}"
        );
        format!("{active}\nUNION ALL\n{dormant}")
    }

    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        let buckets = self.range.buckets();
        let index: std::collections::HashMap<_, _> =
            buckets.iter().enumerate().map(|(i, b)| (*b, i)).collect();
        let mut data = vec![vec![0.0; buckets.len()]; STATUSES.len()];
        for row in rows {
            let cells = row
                .as_array()
                .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
            let [bucket, status, value] = cells.as_slice() else {
                return Err(Error::Rows(format!(
                    "expected 3 columns, got {}",
                    cells.len()
                )));
            };
            let Some(s) = STATUSES.iter().position(|s| Some(*s) == status.as_str()) else {
                return Err(Error::Rows(format!("unknown status {status}")));
            };
            if let Some(i) = bucket
                .as_str()
                .and_then(parse_clickhouse_time)
                .and_then(|at| index.get(&at))
            {
                data[s][*i] += number(value).unwrap_or(0.0);
            }
        }
        let labels: Vec<String> = buckets.iter().map(|b| self.range.label(*b)).collect();
        let days: Vec<String> = buckets.iter().map(|b| self.range.day(*b)).collect();
        let results = STATUSES
            .iter()
            .zip(data)
            .map(|(status, values)| {
                json!({
                    "count": values.iter().sum::<f64>(),
                    "data": values,
                    "days": days,
                    "labels": labels,
                    "label": format!("{} - {status}", self.series.label()),
                    "status": status,
                    "action": crate::trends::action(&self.series, 0),
                })
            })
            .collect();
        let mut out = Map::new();
        out.insert("results".into(), Value::Array(results));
        Ok(out)
    }
}
