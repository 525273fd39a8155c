//! `RetentionQuery`: of the actors (persons, or groups of a type) who did the target event in an
//! interval, how many did the returning event in each of the following intervals, as PostHog's
//! retention runner counts them: recurring or first-time cohorts, `minimumOccurrences`, cumulative
//! ("on or after") retention, one breakdown with a limit and "Other", property filters on the query
//! and on each entity. The range is PostHog's retention range: `date_to` padded to the end of its
//! interval, `date_from` given or `totalIntervals` intervals before.
//!
//! Results are PostHog's matrix: one cohort per start interval (`label` `Day 3`, `date`), each with
//! `totalIntervals` values (`count`, `label`), and `breakdown_value` when broken down.

use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use crate::common::{
    BREAKDOWN_OTHER, DEFAULT_BREAKDOWN_LIMIT, Interval, breakdown_limit, breakdown_preamble,
    group_type_index, properties_of, reject_unanswered,
};
use crate::dates::{Relative, hogql_time, parse_point, start_of_interval, step};
use crate::error::{Error, Result};
use crate::hogql::{field, string};
use crate::json::Obj;
use crate::trends::MAX_ROWS_PER_PART;
use crate::{Context, number};

/// PostHog's default `totalIntervals`.
pub const DEFAULT_TOTAL_INTERVALS: i64 = 7;
/// The largest `totalIntervals` (and number of cohorts) answered.
pub const MAX_INTERVALS: i64 = 1_000;
/// The largest matrix (cohorts × intervals) answered.
const MAX_CELLS: i64 = 200_000;

/// `targetEntity` / `returningEntity`: an event (or all events) with its own property filters.
#[derive(Debug, Clone)]
struct Entity {
    /// `None` is "All events".
    event: Option<String>,
    filters: Vec<String>,
}

impl Entity {
    fn read(obj: Option<Obj<'_>>) -> Result<Entity> {
        let Some(obj) = obj else {
            // PostHog's default entity: `$pageview`.
            return Ok(Entity {
                event: Some("$pageview".into()),
                filters: Vec::new(),
            });
        };
        obj.deny_unknown(&[
            "id",
            "type",
            "name",
            "custom_name",
            "order",
            "uuid",
            "properties",
        ])?;
        match obj.str("type")? {
            None | Some("events") => {}
            Some("actions") => {
                return Err(Error::unsupported(
                    obj.child("type"),
                    "an `actions` entity (no actions are stored)",
                ));
            }
            Some(other) => {
                return Err(Error::invalid(
                    obj.child("type"),
                    format!("unknown entity type `{other}` (expected events or actions)"),
                ));
            }
        }
        let event = match obj.get("id") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                return Err(Error::invalid(
                    obj.child("id"),
                    "must be an event name or null for an events entity",
                ));
            }
        };
        let filters = properties_of(&obj)?;
        Ok(Entity { event, filters })
    }

    /// The HogQL condition an event meets to be this entity.
    fn condition(&self) -> String {
        let mut parts = Vec::new();
        if let Some(event) = &self.event {
            parts.push(format!("event = {}", string(event)));
        }
        parts.extend(self.filters.iter().map(|f| format!("({f})")));
        if parts.is_empty() {
            "true".into()
        } else {
            format!("({})", parts.join(" AND "))
        }
    }
}

/// A planned retention query.
#[derive(Debug, Clone)]
pub struct Retention {
    interval: Interval,
    /// Start of the first cohort's interval.
    from: NaiveDateTime,
    /// Exclusive end: the start of the interval after `date_to`'s.
    to: NaiveDateTime,
    /// Cohorts (start intervals) in the range.
    n_cohorts: i64,
    /// `totalIntervals`: values per cohort.
    lookahead: i64,
    first_time: bool,
    cumulative: bool,
    minimum_occurrences: i64,
    target: Entity,
    returning: Entity,
    filters: Vec<String>,
    /// The actor column: `person_id` or `$group_N`.
    actor: String,
    group_index: Option<i64>,
    /// The breakdown value's HogQL and the breakdown limit.
    breakdown: Option<(String, usize)>,
    /// Whether the project's timezone is UTC (dates then end in `Z`).
    utc: bool,
}

impl Retention {
    pub(crate) fn read(query: &Value, ctx: &Context) -> Result<Retention> {
        let obj = Obj::new("query", query)?;
        obj.deny_unknown(&[
            "retentionFilter",
            "dateRange",
            "properties",
            "filterTestAccounts",
            "breakdownFilter",
            "aggregation_group_type_index",
            "samplingFactor",
            "dataColorTheme",
            "modifiers",
        ])?;
        reject_unanswered(&obj)?;
        let group_index = group_type_index(&obj, "aggregation_group_type_index")?;
        let filter = obj.object("retentionFilter")?;
        let empty = Value::Object(Map::new());
        let filter = match filter {
            Some(f) => f,
            None => Obj::new(obj.child("retentionFilter"), &empty)?,
        };
        filter.deny_unknown(&[
            "targetEntity",
            "returningEntity",
            "retentionType",
            "period",
            "totalIntervals",
            "cumulative",
            "minimumOccurrences",
            "showMean",
            "meanRetentionCalculation",
            "display",
            "dashboardDisplay",
            "retentionReference",
            "selectedInterval",
            "showTrendLines",
            "timeWindowMode",
        ])?;
        match filter.str("timeWindowMode")? {
            None | Some("strict_calendar_dates") => {}
            Some(other) => {
                return Err(Error::unsupported(
                    filter.child("timeWindowMode"),
                    format!("time window mode `{other}`"),
                ));
            }
        }
        let first_time = match filter.str("retentionType")? {
            None | Some("retention_recurring") => false,
            Some("retention_first_time") => true,
            Some(other @ "retention_first_ever_occurrence") => {
                return Err(Error::unsupported(
                    filter.child("retentionType"),
                    format!("retention type `{other}`"),
                ));
            }
            Some(other) => {
                return Err(Error::invalid(
                    filter.child("retentionType"),
                    format!("unknown retention type `{other}`"),
                ));
            }
        };
        let interval = match filter
            .str("period")?
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("day") => Interval::Day,
            Some("hour") => Interval::Hour,
            Some("week") => Interval::Week,
            Some("month") => Interval::Month,
            Some(other) => {
                return Err(Error::invalid(
                    filter.child("period"),
                    format!("unknown period `{other}` (expected Hour, Day, Week or Month)"),
                ));
            }
        };
        let lookahead = filter
            .int("totalIntervals")?
            .unwrap_or(DEFAULT_TOTAL_INTERVALS);
        if !(1..=MAX_INTERVALS).contains(&lookahead) {
            return Err(Error::invalid(
                filter.child("totalIntervals"),
                format!("must be between 1 and {MAX_INTERVALS}"),
            ));
        }
        let minimum_occurrences = filter.int("minimumOccurrences")?.unwrap_or(1);
        if !(1..=1_000_000).contains(&minimum_occurrences) {
            return Err(Error::invalid(
                filter.child("minimumOccurrences"),
                "must be between 1 and 1000000",
            ));
        }
        let cumulative = filter.bool("cumulative")?.unwrap_or(false);
        let target = Entity::read(filter.object("targetEntity")?)?;
        let returning = Entity::read(filter.object("returningEntity")?)?;

        let (from, to) = range(obj.object("dateRange")?.as_ref(), interval, lookahead, ctx)?;
        let mut n_cohorts = 0;
        let mut at = from;
        while at < to {
            at = step(at, interval, 1);
            n_cohorts += 1;
            if n_cohorts > MAX_INTERVALS {
                return Err(Error::invalid(
                    "query.dateRange.date_from",
                    format!(
                        "the range has more than {MAX_INTERVALS} {} intervals",
                        interval.name()
                    ),
                ));
            }
        }
        if n_cohorts * lookahead > MAX_CELLS {
            return Err(Error::invalid(
                filter.child("totalIntervals"),
                format!("the retention matrix would have more than {MAX_CELLS} cells"),
            ));
        }
        let filters = properties_of(&obj)?;
        let breakdown = match obj.object("breakdownFilter")? {
            None => None,
            Some(b) => read_breakdown(&b)?,
        };
        Ok(Retention {
            interval,
            from,
            to,
            n_cohorts,
            lookahead,
            first_time,
            cumulative,
            minimum_occurrences,
            target,
            returning,
            filters,
            actor: match group_index {
                Some(i) => format!("`$group_{i}`"),
                None => "person_id".into(),
            },
            group_index,
            breakdown,
            utc: matches!(ctx.timezone.as_str(), "UTC" | "Etc/UTC" | "GMT"),
        })
    }

    fn unit(&self) -> &'static str {
        match self.interval {
            Interval::Hour => "Hour",
            Interval::Day => "Day",
            Interval::Week => "Week",
            Interval::Month => "Month",
        }
    }

    pub(crate) fn hogql(&self) -> String {
        let bucket = self.interval.start_of("timestamp");
        let window = format!(
            "timestamp >= toDateTime({}) AND timestamp < toDateTime({})",
            string(&hogql_time(self.from)),
            string(&hogql_time(self.to)),
        );
        let (target, returning) = (self.target.condition(), self.returning.condition());
        let mut conditions: Vec<String> = self.filters.iter().map(|f| format!("({f})")).collect();
        if !self.first_time {
            // First-time cohorts need each actor's first target event of all time.
            conditions.push(format!("({window})"));
        }
        if let (Some(a), Some(b)) = (&self.target.event, &self.returning.event) {
            let mut events = vec![string(a), string(b)];
            events.sort();
            events.dedup();
            conditions.push(format!("event IN ({})", events.join(", ")));
        }
        if let Some(index) = self.group_index {
            conditions.push(format!("notEmpty(`$group_{index}`)"));
        }
        conditions.push(format!("({target} OR {returning})"));
        let cohorts = format!(
            "arrayMap(x -> toDateTime({}) + toInterval{}(x), range(0, {}))",
            string(&hogql_time(self.from)),
            self.unit(),
            self.n_cohorts
        );
        let starts = if self.first_time {
            format!(
                "if(has(groupUniqArrayIf({bucket}, {target} AND {window}), {first}), [{first}], [])",
                first = self
                    .interval
                    .start_of(&format!("minIf(timestamp, {target})")),
            )
        } else {
            format!("groupUniqArrayIf({bucket}, {target} AND {window})")
        };
        let returns = if self.minimum_occurrences > 1 {
            format!(
                "arrayFilter(d -> countEqual(groupArrayIf({bucket}, {returning} AND {window}), d) >= {m}, {cohorts})",
                m = self.minimum_occurrences
            )
        } else {
            format!("groupUniqArrayIf({bucket}, {returning} AND {window})")
        };
        let (bd_select, bd_group, bd_pass) = match &self.breakdown {
            Some((expr, _)) => (
                format!(", {expr} AS breakdown_value"),
                ", breakdown_value",
                ", breakdown_value",
            ),
            None => (String::new(), "", ""),
        };
        let per_actor = format!(
            "SELECT {actor} AS actor_id{bd_select}, \
             arrayFilter(i -> i >= 0, arrayMap(d -> indexOf({cohorts}, d) - 1, {starts})) AS start_indexes, \
             arrayMap(d -> indexOf({cohorts}, d) - 1, {returns}) AS return_indexes \
             FROM events WHERE {where_} GROUP BY actor_id{bd_group}",
            actor = self.actor,
            where_ = conditions.join(" AND "),
        );
        let offsets = format!(
            "arrayConcat([0], arrayFilter(k -> k > 0 AND k < {lookahead}, arrayMap(r -> r - start_index, return_indexes)))",
            lookahead = self.lookahead
        );
        let offsets = if self.cumulative {
            format!("range(0, arrayMax({offsets}) + 1)")
        } else {
            offsets
        };
        format!(
            "SELECT start_index, interval_offset, toInt(count(DISTINCT actor_id)) AS actors{bd_pass} \
             FROM (SELECT actor_id{bd_pass}, start_index, arrayJoin({offsets}) AS interval_offset \
             FROM (SELECT actor_id{bd_pass}, arrayJoin(start_indexes) AS start_index, return_indexes FROM ({per_actor}))) \
             GROUP BY start_index, interval_offset{bd_pass} \
             ORDER BY start_index, interval_offset LIMIT {MAX_ROWS_PER_PART}"
        )
    }

    fn date(&self, cohort: i64) -> String {
        let at = step(self.from, self.interval, cohort);
        if self.utc {
            at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            at.format("%Y-%m-%dT%H:%M:%S").to_string()
        }
    }

    fn cohorts(&self, counts: &std::collections::HashMap<(i64, i64), f64>) -> Vec<Value> {
        let unit = self.unit();
        (0..self.n_cohorts)
            .map(|s| {
                let values: Vec<Value> = (0..self.lookahead)
                    .map(|k| {
                        json!({
                            "count": counts.get(&(s, k)).copied().unwrap_or(0.0),
                            "label": format!("{unit} {k}"),
                        })
                    })
                    .collect();
                json!({
                    "values": values,
                    "label": format!("{unit} {s}"),
                    "date": self.date(s),
                })
            })
            .collect()
    }

    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        use std::collections::HashMap;
        let mut by_value: HashMap<String, HashMap<(i64, i64), f64>> = HashMap::new();
        for row in rows {
            let cells = row
                .as_array()
                .ok_or_else(|| Error::Rows("a row is not an array".into()))?;
            let (s, k, count, value) = match cells.as_slice() {
                [s, k, count] => (s, k, count, None),
                [s, k, count, value] => (s, k, count, Some(value)),
                _ => {
                    return Err(Error::Rows(format!(
                        "expected 3 or 4 columns, got {}",
                        cells.len()
                    )));
                }
            };
            let s = number(s).unwrap_or(-1.0) as i64;
            let k = number(k).unwrap_or(-1.0) as i64;
            if !(0..self.n_cohorts).contains(&s) || !(0..self.lookahead).contains(&k) {
                continue;
            }
            let value = match value {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(v)) => v.clone(),
                Some(other) => other.to_string(),
            };
            *by_value
                .entry(value)
                .or_default()
                .entry((s, k))
                .or_insert(0.0) += number(count).unwrap_or(0.0);
        }
        let results = match &self.breakdown {
            None => self.cohorts(by_value.get("").unwrap_or(&HashMap::new())),
            Some((_, limit)) => {
                let mut totals: Vec<(String, f64)> = by_value
                    .iter()
                    .map(|(v, counts)| {
                        let total = counts
                            .iter()
                            .filter(|((_, k), _)| *k == 0)
                            .map(|(_, c)| c)
                            .sum();
                        (v.clone(), total)
                    })
                    .collect();
                totals.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let mut order: Vec<String> =
                    totals.iter().take(*limit).map(|(v, _)| v.clone()).collect();
                if totals.len() > *limit {
                    let mut other: HashMap<(i64, i64), f64> = HashMap::new();
                    for (v, _) in &totals[*limit..] {
                        for (cell, c) in by_value.remove(v).unwrap_or_default() {
                            *other.entry(cell).or_insert(0.0) += c;
                        }
                    }
                    by_value.insert(BREAKDOWN_OTHER.to_owned(), other);
                    order.push(BREAKDOWN_OTHER.to_owned());
                }
                let mut out = Vec::new();
                for value in order {
                    let counts = by_value.remove(&value).unwrap_or_default();
                    for mut cohort in self.cohorts(&counts) {
                        cohort["breakdown_value"] = Value::String(value.clone());
                        out.push(cohort);
                    }
                }
                out
            }
        };
        let mut out = Map::new();
        out.insert("results".into(), Value::Array(results));
        Ok(out)
    }
}

/// PostHog's retention range: the start of the first cohort and the (exclusive) start of the
/// interval after `date_to`'s.
fn range(
    obj: Option<&Obj<'_>>,
    interval: Interval,
    lookahead: i64,
    ctx: &Context,
) -> Result<(NaiveDateTime, NaiveDateTime)> {
    let field = |k: &str| {
        obj.map(|o| o.child(k))
            .unwrap_or_else(|| format!("query.dateRange.{k}"))
    };
    if let Some(o) = obj {
        o.deny_unknown(&["date_from", "date_to", "explicitDate"])?;
    }
    let explicit = match obj {
        Some(o) => o.bool("explicitDate")?.unwrap_or(false),
        None => false,
    };
    let text = |k: &str| -> Result<Option<&str>> {
        match obj {
            Some(o) => o.str(k),
            None => Ok(None),
        }
    };
    let point = |k: &str, text: &str| -> Result<NaiveDateTime> {
        parse_point(text, ctx.now, &ctx.timezone).ok_or_else(|| {
            Error::invalid(field(k), format!("`{text}` is not a date or relative date"))
        })
    };
    let (mut end, relative) = match text("date_to")? {
        None => (ctx.now, true),
        Some(t) => (point("date_to", t)?, Relative::parse(t).is_some()),
    };
    if !explicit {
        if interval != Interval::Hour {
            end = start_of_interval(end, Interval::Day) + chrono::Duration::days(1)
                - chrono::Duration::microseconds(1);
        } else if relative {
            end = start_of_interval(end, Interval::Hour) + chrono::Duration::hours(1)
                - chrono::Duration::microseconds(1);
        }
    }
    let to = start_of_interval(step(end, interval, 1), interval);
    let from = match text("date_from")? {
        Some("all") => return Err(Error::unsupported(field("date_from"), "`all`")),
        Some(t) => {
            let at = point("date_from", t)?;
            // PostHog truncates date_from to the day, then to the interval.
            start_of_interval(start_of_interval(at, Interval::Day), interval)
        }
        None => start_of_interval(step(to, interval, -lookahead), interval),
    };
    if from >= to {
        return Err(Error::invalid(field("date_to"), "is before date_from"));
    }
    Ok((from, to))
}

/// `breakdownFilter` of a retention query: one breakdown (PostHog uses the first of `breakdowns`),
/// its value as a string with nulls as `''`, and the limit.
fn read_breakdown(obj: &Obj<'_>) -> Result<Option<(String, usize)>> {
    breakdown_preamble(obj)?;
    obj.reject_set(
        "breakdown_hide_other_aggregation",
        "`breakdown_hide_other_aggregation`",
    )?;
    let limit = breakdown_limit(obj, DEFAULT_BREAKDOWN_LIMIT)?;
    // (path of the property, property, type, group type index)
    let (path, property, kind, group): (String, String, String, Option<i64>) =
        match obj.array("breakdowns")? {
            Some(items) if !items.is_empty() => {
                let path = format!("{}[0]", obj.child("breakdowns"));
                let first = Obj::new(path.clone(), &items[0])?;
                first.deny_unknown(&[
                    "property",
                    "type",
                    "group_type_index",
                    "histogram_bin_count",
                    "normalize_url",
                ])?;
                first.reject_set("histogram_bin_count", "`histogram_bin_count`")?;
                first.reject_set("normalize_url", "`normalize_url`")?;
                let property = match first.get("property") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(Error::invalid(first.child("property"), "is required")),
                };
                (
                    first.child("property"),
                    property,
                    first.str("type")?.unwrap_or("event").to_owned(),
                    first.int("group_type_index")?,
                )
            }
            _ => match obj.get("breakdown") {
                None => return Ok(None),
                Some(Value::String(s)) => (
                    obj.child("breakdown"),
                    s.clone(),
                    obj.str("breakdown_type")?.unwrap_or("event").to_owned(),
                    obj.int("breakdown_group_type_index")?,
                ),
                Some(_) => {
                    if obj.str("breakdown_type")? == Some("cohort") {
                        return Err(Error::unsupported(
                            obj.child("breakdown_type"),
                            "a cohort breakdown",
                        ));
                    }
                    return Err(Error::invalid(
                        obj.child("breakdown"),
                        "must be a property name",
                    ));
                }
            },
        };
    let subject = match kind.as_str() {
        "event" | "event_metadata" => field("properties", &property),
        "person" if property.starts_with("$virt_") => {
            return Err(Error::unsupported(
                path,
                format!("the virtual person property `{property}`"),
            ));
        }
        "person" => field("person.properties", &property),
        "group" => {
            let index = group.filter(|i| (0..=4).contains(i)).ok_or_else(|| {
                Error::invalid(
                    path.clone(),
                    "a group breakdown needs a group type index 0..4",
                )
            })?;
            field(&format!("group_{index}.properties"), &property)
        }
        "cohort" => return Err(Error::unsupported(path, "a cohort breakdown")),
        other => {
            return Err(Error::unsupported(path, format!("a `{other}` breakdown")));
        }
    };
    Ok(Some((format!("ifNull(toString({subject}), '')"), limit)))
}
