//! The parts every insight shares, read from PostHog's schema: `EventsNode` series with their math,
//! property filters, `dateRange`, `interval`, `breakdownFilter`, `compareFilter`, and their HogQL.

use serde_json::Value;

use crate::dates::Range;
use crate::error::{Error, Result};
use crate::hogql::{field, string};
use crate::json::Obj;

/// Bucket size of a time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One week starting on Sunday (PostHog's default week start).
    Week,
    /// One calendar month.
    Month,
}

impl Interval {
    pub(crate) fn read(obj: &Obj<'_>, key: &str) -> Result<Interval> {
        Ok(match obj.str(key)? {
            None | Some("day") => Interval::Day,
            Some("hour") => Interval::Hour,
            Some("week") => Interval::Week,
            Some("month") => Interval::Month,
            Some("minute") => return Err(Error::unsupported(obj.child(key), "interval `minute`")),
            Some(other) => {
                return Err(Error::invalid(
                    obj.child(key),
                    format!("unknown interval `{other}` (expected hour, day, week or month)"),
                ));
            }
        })
    }

    /// PostHog's name of the interval.
    pub fn name(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// The HogQL expression of the start of the bucket holding `expr`.
    pub(crate) fn start_of(self, expr: &str) -> String {
        match self {
            Interval::Hour => format!("toStartOfHour({expr})"),
            Interval::Day => format!("toStartOfDay({expr})"),
            Interval::Week => format!("toStartOfWeek({expr}, 0)"),
            Interval::Month => format!("toStartOfMonth({expr})"),
        }
    }
}

/// Refuses what no insight kind here answers on the query object: `modifiers`,
/// `filterTestAccounts: true` (no test account filters are stored) and sampling.
pub(crate) fn reject_unanswered(obj: &Obj<'_>) -> Result<()> {
    obj.reject_set("modifiers", "`modifiers` on an insight query")?;
    obj.reject_set(
        "filterTestAccounts",
        "`filterTestAccounts: true` (no test account filters are stored)",
    )?;
    if let Some(factor) = obj.number("samplingFactor")?
        && factor != 1.0
    {
        return Err(Error::unsupported(obj.child("samplingFactor"), "sampling"));
    }
    Ok(())
}

/// The object's `properties` as HogQL conditions (none when absent).
pub(crate) fn properties_of(obj: &Obj<'_>) -> Result<Vec<String>> {
    match obj.get("properties") {
        None => Ok(Vec::new()),
        Some(v) => property_filters(v, &obj.child("properties")),
    }
}

/// `series`: 1 to 26 `EventsNode`s.
pub(crate) fn read_series(obj: &Obj<'_>) -> Result<Vec<Series>> {
    let items = obj
        .array("series")?
        .ok_or_else(|| Error::invalid(obj.child("series"), "is required"))?;
    if items.is_empty() || items.len() > 26 {
        return Err(Error::invalid(
            obj.child("series"),
            "must have 1 to 26 series",
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, s)| Series::read(s, &format!("{}[{i}]", obj.child("series"))))
        .collect()
}

/// A group type index field (`math_group_type_index`, ...): 0 to 4, `None` when absent.
pub(crate) fn group_type_index(obj: &Obj<'_>, key: &str) -> Result<Option<i64>> {
    match obj.int(key)? {
        Some(index) if !(0..=4).contains(&index) => {
            Err(Error::invalid(obj.child(key), "must be between 0 and 4"))
        }
        other => Ok(other),
    }
}

/// The fields of PostHog's `breakdownFilter`.
const BREAKDOWN_FIELDS: &[&str] = &[
    "breakdown",
    "breakdown_type",
    "breakdown_limit",
    "breakdown_group_type_index",
    "breakdown_hide_other_aggregation",
    "breakdown_normalize_url",
    "breakdown_histogram_bin_count",
    "breakdowns",
];

/// What every `breakdownFilter` reader does first: unknown fields are errors, and histogram bins
/// and URL normalisation are refused.
pub(crate) fn breakdown_preamble(obj: &Obj<'_>) -> Result<()> {
    obj.deny_unknown(BREAKDOWN_FIELDS)?;
    obj.reject_set(
        "breakdown_histogram_bin_count",
        "`breakdown_histogram_bin_count`",
    )?;
    obj.reject_set("breakdown_normalize_url", "`breakdown_normalize_url`")
}

/// `breakdown_limit`: 1 to 1000, `default` when absent.
pub(crate) fn breakdown_limit(obj: &Obj<'_>, default: usize) -> Result<usize> {
    match obj.int("breakdown_limit")? {
        None => Ok(default),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(_) => Err(Error::invalid(
            obj.child("breakdown_limit"),
            "must be between 1 and 1000",
        )),
    }
}

/// `intervalCount`: how many intervals make one bucket (1 when absent).
pub(crate) fn interval_count(obj: &Obj<'_>) -> Result<i64> {
    match obj.int("intervalCount")? {
        None => Ok(1),
        Some(n) if (1..=1000).contains(&n) => Ok(n),
        Some(_) => Err(Error::invalid(
            obj.child("intervalCount"),
            "must be between 1 and 1000",
        )),
    }
}

/// Conditions joined into one `WHERE` body, each in parentheses.
pub(crate) fn where_clause(conditions: &[String]) -> String {
    conditions
        .iter()
        .map(|c| format!("({c})"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// What a series counts per bucket.
#[derive(Debug, Clone, PartialEq)]
pub enum Math {
    /// `total`: events.
    Total,
    /// `dau`: distinct persons.
    Dau,
    /// `unique_session`: distinct `$session_id`.
    UniqueSession,
    /// `weekly_active`: distinct persons active in the 7 days up to each bucket.
    WeeklyActive,
    /// `monthly_active`: distinct persons active in the 30 days up to each bucket.
    MonthlyActive,
    /// `unique_group`: distinct group keys of a group type.
    UniqueGroup(i64),
    /// `sum`/`avg`/`min`/`max`/`median`/`pNN` of a numeric event property.
    Property {
        /// The aggregate's HogQL spelling, e.g. `sum` or `quantile(0.9)`.
        aggregate: String,
        /// The property.
        property: String,
    },
}

impl Math {
    /// The HogQL aggregate of the series.
    pub(crate) fn aggregate(&self) -> String {
        match self {
            Math::Total => "count()".into(),
            Math::Dau | Math::WeeklyActive | Math::MonthlyActive => {
                "count(DISTINCT person_id)".into()
            }
            Math::UniqueSession => "count(DISTINCT `$session_id`)".into(),
            Math::UniqueGroup(index) => format!("count(DISTINCT `$group_{index}`)"),
            Math::Property {
                aggregate,
                property,
            } => format!("{aggregate}(toFloat({}))", field("properties", property)),
        }
    }

    /// A condition the events must meet for this math to count them.
    pub(crate) fn condition(&self) -> Option<String> {
        match self {
            Math::UniqueGroup(index) => Some(format!("notEmpty(`$group_{index}`)")),
            _ => None,
        }
    }
}

/// One `EventsNode` of `series`.
#[derive(Debug, Clone)]
pub struct Series {
    /// The event name; `None` is "All events".
    pub event: Option<String>,
    /// `custom_name`, as sent.
    pub custom_name: Option<String>,
    /// The math.
    pub math: Math,
    /// The math name as sent (for the response's `action.math`).
    pub math_name: Option<String>,
    /// `math_property`, as sent.
    pub math_property: Option<String>,
    /// `math_group_type_index`, as sent.
    pub math_group_type_index: Option<i64>,
    /// The series' own property filters, as HogQL conditions.
    pub filters: Vec<String>,
}

impl Series {
    /// Reads an `EventsNode`.
    pub(crate) fn read(value: &Value, path: &str) -> Result<Series> {
        let obj = Obj::new(path, value)?;
        obj.deny_unknown(&[
            "event",
            "name",
            "custom_name",
            "math",
            "math_property",
            "math_property_type",
            "math_group_type_index",
            "math_hogql",
            "properties",
            "fixedProperties",
            "limit",
        ])?;
        match obj.str("kind")? {
            Some("EventsNode") => {}
            Some("ActionsNode") => {
                return Err(Error::unsupported(obj.child("kind"), "`ActionsNode`"));
            }
            Some(other) => {
                return Err(Error::invalid(
                    obj.child("kind"),
                    format!("unknown series kind `{other}` (expected EventsNode)"),
                ));
            }
            None => return Err(Error::invalid(obj.child("kind"), "is required")),
        }
        obj.reject_set("fixedProperties", "`fixedProperties`")?;
        obj.reject_set("math_hogql", "`math_hogql`")?;
        let math_name = obj.str("math")?.map(str::to_owned);
        let math_property = obj.str("math_property")?.map(str::to_owned);
        let math_group_type_index = group_type_index(&obj, "math_group_type_index")?;
        let need_property = || {
            math_property.clone().ok_or_else(|| {
                Error::invalid(obj.child("math_property"), "is required for this math")
            })
        };
        let property_math = |aggregate: &str| -> Result<Math> {
            Ok(Math::Property {
                aggregate: aggregate.to_owned(),
                property: need_property()?,
            })
        };
        let math = match math_name.as_deref() {
            None | Some("total") => Math::Total,
            Some("dau") => Math::Dau,
            Some("unique_session") => Math::UniqueSession,
            Some("weekly_active") => Math::WeeklyActive,
            Some("monthly_active") => Math::MonthlyActive,
            Some("unique_group") => {
                let index = math_group_type_index.ok_or_else(|| {
                    Error::invalid(
                        obj.child("math_group_type_index"),
                        "is required for unique_group",
                    )
                })?;
                Math::UniqueGroup(index)
            }
            Some("sum") => property_math("sum")?,
            Some("avg") => property_math("avg")?,
            Some("min") => property_math("min")?,
            Some("max") => property_math("max")?,
            Some("median") => property_math("quantile(0.5)")?,
            Some("p75") => property_math("quantile(0.75)")?,
            Some("p90") => property_math("quantile(0.9)")?,
            Some("p95") => property_math("quantile(0.95)")?,
            Some("p99") => property_math("quantile(0.99)")?,
            Some(
                other @ ("hogql"
                | "first_time_for_user"
                | "first_matching_event_for_user"
                | "avg_count_per_actor"
                | "sum_count_per_actor"
                | "min_count_per_actor"
                | "max_count_per_actor"
                | "median_count_per_actor"
                | "p75_count_per_actor"
                | "p90_count_per_actor"
                | "p95_count_per_actor"
                | "p99_count_per_actor"),
            ) => {
                return Err(Error::unsupported(
                    obj.child("math"),
                    format!("math `{other}`"),
                ));
            }
            Some(other) => {
                return Err(Error::invalid(
                    obj.child("math"),
                    format!("unknown math `{other}`"),
                ));
            }
        };
        let filters = properties_of(&obj)?;
        Ok(Series {
            event: obj.str("event")?.map(str::to_owned),
            custom_name: obj.str("custom_name")?.map(str::to_owned),
            math,
            math_name,
            math_property,
            math_group_type_index,
            filters,
        })
    }

    /// The series' label: the event name, or "All events".
    pub fn label(&self) -> String {
        self.event.clone().unwrap_or_else(|| "All events".into())
    }

    /// Every condition of the series: its event, its math's and its own filters.
    pub(crate) fn conditions(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(event) = &self.event {
            out.push(format!("event = {}", string(event)));
        }
        out.extend(self.math.condition());
        out.extend(self.filters.iter().cloned());
        out
    }
}

/// Reads `properties`: a list of property filters (all must hold) or a `PropertyGroupFilter`.
pub(crate) fn property_filters(value: &Value, path: &str) -> Result<Vec<String>> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| property_filter(item, &format!("{path}[{i}]")))
            .collect(),
        Value::Object(_) => {
            let group = property_group(value, path)?;
            Ok(group.into_iter().collect())
        }
        _ => Err(Error::invalid(
            path,
            "must be a list of property filters or a property group",
        )),
    }
}

/// A `PropertyGroupFilter` (`{type: AND|OR, values: [...]}`) as one condition, `None` when empty.
fn property_group(value: &Value, path: &str) -> Result<Option<String>> {
    let obj = Obj::new(path, value)?;
    obj.deny_unknown(&["type", "values"])?;
    let joiner = match obj.str("type")? {
        Some("AND") | None => " AND ",
        Some("OR") => " OR ",
        Some(other) => {
            return Err(Error::invalid(
                obj.child("type"),
                format!("unknown group type `{other}`"),
            ));
        }
    };
    let mut parts = Vec::new();
    for (i, item) in obj.array("values")?.into_iter().flatten().enumerate() {
        let child = format!("{}[{i}]", obj.child("values"));
        let is_group = item.get("values").is_some() && item.get("key").is_none();
        if is_group {
            parts.extend(property_group(item, &child)?);
        } else {
            parts.push(property_filter(item, &child)?);
        }
    }
    Ok(match parts.len() {
        0 => None,
        _ => Some(format!("({})", parts.join(joiner))),
    })
}

/// One property filter as a HogQL condition.
pub(crate) fn property_filter(value: &Value, path: &str) -> Result<String> {
    let obj = Obj::new(path, value)?;
    obj.deny_unknown(&[
        "key",
        "value",
        "operator",
        "type",
        "group_type_index",
        "label",
    ])?;
    let kind = obj.str("type")?.unwrap_or("event");
    let key = obj
        .str("key")?
        .ok_or_else(|| Error::invalid(obj.child("key"), "is required"))?;
    let subject = match kind {
        "event" => field("properties", key),
        "person" => field("person.properties", key),
        "group" => {
            let index = group_type_index(&obj, "group_type_index")?.ok_or_else(|| {
                Error::invalid(
                    obj.child("group_type_index"),
                    "is required for a group filter",
                )
            })?;
            field(&format!("group_{index}.properties"), key)
        }
        "session" => field("session", key),
        "hogql" => return Ok(format!("({key})")),
        "cohort"
        | "element"
        | "static-cohort"
        | "precalculated-cohort"
        | "behavioral"
        | "recording"
        | "log_entry"
        | "feature"
        | "data_warehouse"
        | "data_warehouse_person_property"
        | "error_tracking_issue"
        | "event_metadata" => {
            return Err(Error::unsupported(
                obj.child("type"),
                format!("a `{kind}` property filter"),
            ));
        }
        other => {
            return Err(Error::invalid(
                obj.child("type"),
                format!("unknown filter type `{other}`"),
            ));
        }
    };
    let operator = obj.str("operator")?.unwrap_or("exact");
    let value = obj.get("value");
    let values = || -> Result<Vec<String>> {
        let items: Vec<&Value> = match value {
            None => {
                return Err(Error::invalid(
                    obj.child("value"),
                    "is required for this operator",
                ));
            }
            Some(Value::Array(items)) => items.iter().collect(),
            Some(v) => vec![v],
        };
        items
            .into_iter()
            .map(|v| {
                scalar_text(v).ok_or_else(|| {
                    Error::invalid(obj.child("value"), "must be a string, number or boolean")
                })
            })
            .collect()
    };
    let single = || -> Result<String> {
        let all = values()?;
        match all.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(Error::invalid(
                obj.child("value"),
                "must be a single value for this operator",
            )),
        }
    };
    let number = || -> Result<f64> {
        single()?
            .parse::<f64>()
            .map_err(|_| Error::invalid(obj.child("value"), "must be a number for this operator"))
    };
    let text = format!("toString({subject})");
    Ok(match operator {
        "exact" => {
            let all = values()?;
            match all.as_slice() {
                [one] => format!("{subject} = {}", string(one)),
                _ => format!(
                    "{subject} IN ({})",
                    all.iter().map(|v| string(v)).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        "is_not" => {
            let all = values()?;
            match all.as_slice() {
                [one] => format!("{subject} != {}", string(one)),
                _ => format!(
                    "({subject} IS NULL OR {subject} NOT IN ({}))",
                    all.iter().map(|v| string(v)).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        "icontains" => format!(
            "{text} ILIKE {}",
            string(&format!("%{}%", like_escape(&single()?)))
        ),
        "not_icontains" => format!(
            "({subject} IS NULL OR NOT ({text} ILIKE {}))",
            string(&format!("%{}%", like_escape(&single()?)))
        ),
        "regex" => format!("match({text}, {})", string(&single()?)),
        "not_regex" => format!(
            "({subject} IS NULL OR NOT match({text}, {}))",
            string(&single()?)
        ),
        "gt" => format!("toFloat({subject}) > {}", number()?),
        "gte" => format!("toFloat({subject}) >= {}", number()?),
        "lt" => format!("toFloat({subject}) < {}", number()?),
        "lte" => format!("toFloat({subject}) <= {}", number()?),
        "is_set" => format!("{subject} IS NOT NULL"),
        "is_not_set" => format!("{subject} IS NULL"),
        other @ ("is_date_exact"
        | "is_date_before"
        | "is_date_after"
        | "between"
        | "not_between"
        | "min"
        | "max"
        | "in"
        | "not_in"
        | "is_cleaned_path_exact"
        | "flag_evaluates_to"
        | "semver_eq"
        | "semver_gt"
        | "semver_lt") => {
            return Err(Error::unsupported(
                obj.child("operator"),
                format!("operator `{other}`"),
            ));
        }
        other => {
            return Err(Error::invalid(
                obj.child("operator"),
                format!("unknown operator `{other}`"),
            ));
        }
    })
}

/// A JSON scalar as the text ClickHouse extracts from a property (`true`, `10`, `1.5`, `abc`).
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `breakdownFilter` with one breakdown.
#[derive(Debug, Clone)]
pub struct Breakdown {
    /// The HogQL of the breakdown value (a string, nulls as PostHog's null label).
    pub expr: String,
    /// How many values get a series of their own; the rest become "other".
    pub limit: usize,
    /// Whether the "other" series is dropped.
    pub hide_other: bool,
}

/// PostHog's breakdown value for a missing property.
pub const BREAKDOWN_NULL: &str = "$$_posthog_breakdown_null_$$";
/// PostHog's breakdown value for the values past the limit.
pub const BREAKDOWN_OTHER: &str = "$$_posthog_breakdown_other_$$";
/// PostHog's default breakdown limit.
pub const DEFAULT_BREAKDOWN_LIMIT: usize = 25;

impl Breakdown {
    /// Reads `breakdownFilter`; `None` when it asks for no breakdown.
    pub(crate) fn read(obj: &Obj<'_>) -> Result<Option<Breakdown>> {
        breakdown_preamble(obj)?;
        obj.reject_set("breakdowns", "multiple `breakdowns`")?;
        let Some(breakdown) = obj.get("breakdown") else {
            return Ok(None);
        };
        let key = match breakdown {
            Value::String(s) => s.clone(),
            Value::Array(_) | Value::Number(_) => {
                return Err(Error::unsupported(
                    obj.child("breakdown"),
                    "a list or cohort breakdown",
                ));
            }
            _ => return Err(Error::invalid(obj.child("breakdown"), "must be a string")),
        };
        let kind = obj.str("breakdown_type")?.unwrap_or("event");
        let subject = match kind {
            "event" => field("properties", &key),
            "person" => field("person.properties", &key),
            "group" => {
                let index =
                    group_type_index(obj, "breakdown_group_type_index")?.ok_or_else(|| {
                        Error::invalid(
                            obj.child("breakdown_group_type_index"),
                            "is required for a group breakdown",
                        )
                    })?;
                field(&format!("group_{index}.properties"), &key)
            }
            "session" => field("session", &key),
            "hogql" => format!("({key})"),
            "cohort" | "data_warehouse" | "data_warehouse_person_property" | "event_metadata" => {
                return Err(Error::unsupported(
                    obj.child("breakdown_type"),
                    format!("breakdown type `{kind}`"),
                ));
            }
            other => {
                return Err(Error::invalid(
                    obj.child("breakdown_type"),
                    format!("unknown breakdown type `{other}`"),
                ));
            }
        };
        let limit = breakdown_limit(obj, DEFAULT_BREAKDOWN_LIMIT)?;
        Ok(Some(Breakdown {
            expr: format!(
                "ifNull(nullIf(toString({subject}), ''), {})",
                string(BREAKDOWN_NULL)
            ),
            limit,
            hide_other: obj
                .bool("breakdown_hide_other_aggregation")?
                .unwrap_or(false),
        }))
    }
}

/// The periods a query answers: its range, then the one `compare` adds (the same number of
/// intervals just before, or the range shifted by `compare_to`).
pub(crate) fn compare_periods(compare: Option<&Compare>, range: Range) -> Vec<Range> {
    let mut periods = vec![range];
    match compare {
        None => {}
        Some(Compare::Previous) => {
            let n = range.buckets().len() as i64;
            periods.push(range.shifted_intervals(-n));
        }
        Some(Compare::To(by)) => periods.push(range.shifted_back(by)),
    }
    periods
}

/// `compareFilter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Compare {
    /// The period just before, of the same length.
    Previous,
    /// The same period shifted by a relative amount (`-1w`).
    To(crate::dates::Relative),
}

impl Compare {
    pub(crate) fn read(obj: &Obj<'_>) -> Result<Option<Compare>> {
        obj.deny_unknown(&["compare", "compare_to"])?;
        Compare::read_legacy(obj)
    }

    /// `compare`/`compare_to` inside another object (the older `stickinessFilter.compare`).
    pub(crate) fn read_legacy(obj: &Obj<'_>) -> Result<Option<Compare>> {
        if !obj.bool("compare")?.unwrap_or(false) {
            return Ok(None);
        }
        Ok(Some(match obj.str("compare_to")? {
            None => Compare::Previous,
            Some(text) => Compare::To(crate::dates::Relative::parse(text).ok_or_else(|| {
                Error::invalid(
                    obj.child("compare_to"),
                    format!("`{text}` is not a relative date like -1w"),
                )
            })?),
        }))
    }
}
