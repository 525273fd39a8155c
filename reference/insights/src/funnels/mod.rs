//! `FunnelsQuery`: how many persons did step 1, then step 2, … each within the conversion window
//! of their step-1 event, with the average and median time between steps, per breakdown value, or
//! as a conversion rate per interval (`funnelVizType: trends`), or as a histogram of the persons'
//! conversion times between two steps (`funnelVizType: time_to_convert`).
//!
//! Built from arrays and lambdas that ClickHouse and chDB both run (PostHog's runner now uses
//! UDFs; this follows the semantics of its window-function funnels): per person, the sorted times
//! of each step's events; per step-1 event (an "anchor"), the path of step times it reaches; per
//! person, the anchors that reach the most steps (their conversion times averaged, as PostHog's
//! `HAVING steps = max(max_steps)`); then counts, `avg` and `median` over persons. See
//! [`hogql`] for the query and [`shape`] for the response.
//!
//! Order types, as PostHog defines them:
//! - `ordered`: step k is the earliest step-k event at or after step k-1's (strictly after when
//!   the step repeats the previous one), within the window of the anchor;
//! - `strict`: step k is the event right after step k-1's among *all* the person's events;
//! - `unordered`: any step may be the anchor; a step counts when its earliest event after the
//!   anchor falls in the window; conversion times are between the sorted step times.
//!
//! Exclusions drop an anchor whose exclusion event falls after its `funnelFromStep` event and
//! before its `funnelToStep` event (or the window's end); a person with no anchor left is not
//! counted, as in PostHog. Breakdowns (event or person properties, one or several) attribute a
//! value per person (`first_touch`, `last_touch`, `step`) or split the person's events by value
//! (`all_events`); values past `breakdown_limit` (by persons at step 1) fold into "other".
//!
//! Differences from PostHog, documented rather than hidden: times are compared in milliseconds
//! (PostHog: microseconds), so two events in the same millisecond are simultaneous; a `month`
//! conversion window is 30 days (PostHog: a calendar month); when several anchors reach the most
//! steps their conversion times are averaged (PostHog's UDF funnels pick one); `step` attribution
//! splits a person by the values of their step-k events. Refused (400 naming the field): exclusions
//! and `step` attribution on `strict` funnels, a breakdown of funnel trends or of time to convert,
//! actions (`ActionsNode` steps, `FunnelExclusionActionsNode` exclusions) and cohort property
//! filters (no actions or cohorts are stored), group aggregation, and cohort, group, session or
//! HogQL breakdowns.
//!
//! Time to convert, as PostHog's non-UDF `FunnelTimeToConvert`: per person who reached
//! `funnelToStep` (default: the last), the sum of their conversion times from `funnelFromStep`
//! (default 0) to it; bins from the floor of the least to the ceiling of the greatest, `binCount`
//! of them (clamped to 1..=90) or, when absent, the cube root of the number of persons rounded up
//! (1..=60), each `ceil(range / count)` seconds wide (60 when that is 0), plus one more; the
//! answer is `{bins: [[from_seconds, persons]…], average_conversion_time}` (the average rounded to
//! two places; null when no one converted).

mod hogql;
mod shape;

use serde_json::{Map, Value};

use crate::Context;
use crate::common::{
    Interval, Math, Series, breakdown_limit, breakdown_preamble, properties_of, reject_unanswered,
    where_clause,
};
use crate::dates::Range;
use crate::error::{Error, Result};
use crate::hogql::field;
use crate::json::Obj;

/// The most steps a funnel may have here.
pub const MAX_STEPS: usize = 10;
/// The most exclusions a funnel may have here.
pub const MAX_EXCLUSIONS: usize = 10;
/// The most properties of one breakdown.
pub const MAX_BREAKDOWN_PROPERTIES: usize = 5;
/// The breakdown value of the values past the limit (PostHog's funnels say `Other`).
pub const FUNNEL_OTHER: &str = "Other";
/// The most bins of a time-to-convert histogram (a larger `binCount` is clamped, as PostHog).
pub const MAX_BINS: i64 = 90;
/// The most bins PostHog picks by itself (the cube root of the persons who converted).
pub const MAX_AUTO_BINS: i64 = 60;
/// PostHog's default number of breakdown values of a funnel.
pub const DEFAULT_FUNNEL_BREAKDOWN_LIMIT: usize = 25;

/// `funnelOrderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Steps in order, other events in between allowed.
    Ordered,
    /// Steps in order with no other event in between.
    Strict,
    /// Steps in any order.
    Unordered,
}

/// `funnelVizType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viz {
    /// Counts per step.
    Steps,
    /// Conversion rate per interval of the anchor.
    Trends,
    /// A histogram of the persons' conversion times from one step to a later one.
    TimeToConvert,
}

/// One `exclusions` item.
#[derive(Debug, Clone)]
pub struct Exclusion {
    /// The event's conditions, as a HogQL condition.
    pub condition: String,
    /// `funnelFromStep`.
    pub from: usize,
    /// `funnelToStep`.
    pub to: usize,
}

/// `breakdownAttributionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribution {
    /// The person's first non-empty value.
    FirstTouch,
    /// The person's last non-empty value.
    LastTouch,
    /// Each event's own value; a person can be in several breakdowns.
    AllEvents,
    /// The value on the person's first event of that step (0-based).
    Step(usize),
}

/// A funnel's `breakdownFilter`.
#[derive(Debug, Clone)]
pub struct FunnelBreakdown {
    /// One HogQL string expression per property (empty string when missing).
    pub exprs: Vec<String>,
    /// Values kept; the rest fold into "other".
    pub limit: usize,
    /// How a person gets a value.
    pub attribution: Attribution,
}

/// A planned funnel.
#[derive(Debug, Clone)]
pub struct Funnels {
    steps: Vec<Series>,
    range: Range,
    window_ms: i64,
    filters: Vec<String>,
    order: Order,
    viz: Viz,
    exclusions: Vec<Exclusion>,
    breakdown: Option<FunnelBreakdown>,
    /// For trends and time to convert: the steps the conversion goes from and to (0-based).
    from_step: usize,
    to_step: usize,
    /// For time to convert: `binCount` (clamped to 1..=90, as PostHog); `None` picks it from the
    /// number of persons who converted.
    bin_count: Option<i64>,
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
        reject_unanswered(&obj)?;
        if obj.get("aggregation_group_type_index").is_some() {
            return Err(Error::unsupported(
                obj.child("aggregation_group_type_index"),
                "group funnels",
            ));
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
                refuse_actions(s, &path)?;
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
        let n_steps = steps.len();
        let mut funnels = Funnels {
            steps,
            range: Range::read(None, Interval::Day, ctx.now, &ctx.timezone, None)?,
            window_ms: 14 * 86_400_000,
            filters: Vec::new(),
            order: Order::Ordered,
            viz: Viz::Steps,
            exclusions: Vec::new(),
            breakdown: None,
            from_step: 0,
            to_step: n_steps - 1,
            bin_count: None,
        };
        if let Some(f) = obj.object("funnelsFilter")? {
            funnels.read_filter(&f)?;
        }
        let interval = Interval::read(&obj, "interval")?;
        funnels.range = Range::of_query(&obj, interval, ctx)?;
        funnels.filters = properties_of(&obj)?;
        if let Some(b) = obj.object("breakdownFilter")? {
            let attribution = match obj.object("funnelsFilter")? {
                Some(f) => read_attribution(&f, n_steps)?,
                None => Attribution::FirstTouch,
            };
            if let Attribution::Step(k) = attribution
                && k > 0
                && funnels.order == Order::Unordered
            {
                // PostHog refuses it too: in an unordered funnel any step can come first.
                return Err(Error::invalid(
                    "query.funnelsFilter.breakdownAttributionValue",
                    "an unordered funnel attributes breakdowns to step 0 only",
                ));
            }
            if matches!(attribution, Attribution::Step(_)) && funnels.order == Order::Strict {
                return Err(Error::unsupported(
                    "query.funnelsFilter.breakdownAttributionType",
                    "`step` attribution on a strict funnel",
                ));
            }
            funnels.breakdown = read_breakdown(&b, attribution)?;
            if funnels.breakdown.is_some() && funnels.viz == Viz::Trends {
                return Err(Error::unsupported(
                    b.child("breakdown"),
                    "a breakdown of funnel trends",
                ));
            }
            if funnels.breakdown.is_some() && funnels.viz == Viz::TimeToConvert {
                return Err(Error::unsupported(
                    b.child("breakdown"),
                    "a breakdown of a funnel's time to convert",
                ));
            }
        }
        Ok(funnels)
    }

    fn read_filter(&mut self, f: &Obj<'_>) -> Result<()> {
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
        let n_steps = self.steps.len();
        self.order = match f.str("funnelOrderType")? {
            None | Some("ordered") => Order::Ordered,
            Some("strict") => Order::Strict,
            Some("unordered") => Order::Unordered,
            Some(other) => {
                return Err(Error::invalid(
                    f.child("funnelOrderType"),
                    format!("unknown order type `{other}` (expected ordered, strict or unordered)"),
                ));
            }
        };
        self.viz = match f.str("funnelVizType")? {
            None | Some("steps") => Viz::Steps,
            Some("trends") => Viz::Trends,
            Some("time_to_convert") => Viz::TimeToConvert,
            Some(other) => {
                return Err(Error::invalid(
                    f.child("funnelVizType"),
                    format!("unknown visualisation `{other}`"),
                ));
            }
        };
        // PostHog's frontend sends the default, `person_id`; anything else is a different actor.
        if let Some(v) = f.get("funnelAggregateByHogQL")
            && v.as_str() != Some("person_id")
        {
            return Err(Error::unsupported(
                f.child("funnelAggregateByHogQL"),
                "`funnelAggregateByHogQL`",
            ));
        }
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
        let unit_ms = match f.str("funnelWindowIntervalUnit")? {
            Some("second") => 1_000,
            Some("minute") => 60_000,
            Some("hour") => 3_600_000,
            None | Some("day") => 86_400_000,
            Some("week") => 7 * 86_400_000,
            Some("month") => 30 * 86_400_000,
            Some(other) => {
                return Err(Error::invalid(
                    f.child("funnelWindowIntervalUnit"),
                    format!("unknown unit `{other}`"),
                ));
            }
        };
        self.window_ms = amount * unit_ms;
        let step_index = |key: &str| -> Result<Option<usize>> {
            match f.int(key)? {
                None => Ok(None),
                Some(n) if n >= 0 && (n as usize) < n_steps => Ok(Some(n as usize)),
                Some(_) => Err(Error::invalid(
                    f.child(key),
                    format!("must be a step index between 0 and {}", n_steps - 1),
                )),
            }
        };
        let from = step_index("funnelFromStep")?;
        let to = step_index("funnelToStep")?;
        match self.viz {
            Viz::Trends | Viz::TimeToConvert => {
                self.from_step = from.unwrap_or(0);
                self.to_step = to.unwrap_or(n_steps - 1);
                if self.to_step <= self.from_step {
                    return Err(Error::invalid(
                        f.child("funnelToStep"),
                        "must be after funnelFromStep",
                    ));
                }
            }
            Viz::Steps => {
                if from.is_some() {
                    return Err(Error::unsupported(
                        f.child("funnelFromStep"),
                        "`funnelFromStep` outside trends",
                    ));
                }
                if to.is_some() {
                    return Err(Error::unsupported(
                        f.child("funnelToStep"),
                        "`funnelToStep` outside trends",
                    ));
                }
            }
        }
        if self.viz == Viz::TimeToConvert {
            // PostHog clamps a custom bin count to 1..=90.
            self.bin_count = f.int("binCount")?.map(|b| b.clamp(1, MAX_BINS));
        }
        if let Some(items) = f.array("exclusions")? {
            if items.len() > MAX_EXCLUSIONS {
                return Err(Error::invalid(
                    f.child("exclusions"),
                    format!("must have at most {MAX_EXCLUSIONS} items"),
                ));
            }
            if !items.is_empty() && self.order == Order::Strict {
                return Err(Error::unsupported(
                    f.child("exclusions"),
                    "exclusions on a strict funnel",
                ));
            }
            for (i, item) in items.iter().enumerate() {
                let path = format!("{}[{i}]", f.child("exclusions"));
                self.exclusions.push(self.read_exclusion(item, &path)?);
            }
        }
        Ok(())
    }

    fn read_exclusion(&self, item: &Value, path: &str) -> Result<Exclusion> {
        let n_steps = self.steps.len();
        let obj = Obj::new(path, item)?;
        let index = |key: &str| -> Result<usize> {
            match obj.int(key)? {
                Some(n) if n >= 0 && (n as usize) < n_steps => Ok(n as usize),
                Some(_) => Err(Error::invalid(
                    obj.child(key),
                    format!("must be a step index between 0 and {}", n_steps - 1),
                )),
                None => Err(Error::invalid(obj.child(key), "is required")),
            }
        };
        refuse_actions(item, path)?;
        let from = index("funnelFromStep")?;
        let to = index("funnelToStep")?;
        if to <= from {
            return Err(Error::invalid(
                obj.child("funnelToStep"),
                "must be after funnelFromStep",
            ));
        }
        if self.order == Order::Unordered && (from != 0 || to != n_steps - 1) {
            return Err(Error::invalid(
                obj.child("funnelFromStep"),
                "an unordered funnel excludes over the whole funnel only (from 0 to the last step)",
            ));
        }
        // An exclusion is an `EventsNode` with the step range; read it as a series without it.
        let mut node = item.clone();
        if let Some(map) = node.as_object_mut() {
            map.remove("funnelFromStep");
            map.remove("funnelToStep");
            if map.get("kind").and_then(Value::as_str) == Some("FunnelExclusionEventsNode") {
                map.insert("kind".into(), Value::String("EventsNode".into()));
            }
        }
        let series = Series::read(&node, path)?;
        if series.math != Math::Total {
            return Err(Error::unsupported(
                format!("{path}.math"),
                "math on an exclusion",
            ));
        }
        Ok(Exclusion {
            condition: conjunction(&series.conditions()),
            from,
            to,
        })
    }

    /// The HogQL of the plan.
    pub(crate) fn hogql(&self) -> String {
        hogql::query(self)
    }

    /// The response fields from the rows of [`Funnels::hogql`].
    pub(crate) fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        shape::shape(self, rows)
    }

    /// Whether step `k` (k ≥ 1) is matched by every event of step `k - 1` (the same event with
    /// the same or fewer filters): then it must come strictly after, as in PostHog.
    fn repeats_previous(&self, k: usize) -> bool {
        let (prev, this) = (&self.steps[k - 1], &self.steps[k]);
        (this.event.is_none() || this.event == prev.event)
            && this.filters.iter().all(|f| prev.filters.contains(f))
    }
}

/// Refuses an action (`ActionsNode`, `FunnelExclusionActionsNode`) naming its `kind` before its
/// other fields (an action's `id` is no field of an events node): no actions are stored.
fn refuse_actions(node: &Value, path: &str) -> Result<()> {
    match node.get("kind").and_then(Value::as_str) {
        Some(kind @ ("ActionsNode" | "FunnelExclusionActionsNode")) => Err(Error::unsupported(
            format!("{path}.kind"),
            format!("`{kind}` (no actions are stored)"),
        )),
        _ => Ok(()),
    }
}

/// `c1 AND c2 …` (`1 = 1` when empty), each part parenthesised.
pub(crate) fn conjunction(conditions: &[String]) -> String {
    if conditions.is_empty() {
        "1 = 1".into()
    } else {
        where_clause(conditions)
    }
}

fn read_attribution(f: &Obj<'_>, n_steps: usize) -> Result<Attribution> {
    Ok(match f.str("breakdownAttributionType")? {
        None | Some("first_touch") => Attribution::FirstTouch,
        Some("last_touch") => Attribution::LastTouch,
        Some("all_events") => Attribution::AllEvents,
        Some("step") => {
            let key = "breakdownAttributionValue";
            match f.int(key)? {
                Some(n) if n >= 0 && (n as usize) < n_steps => Attribution::Step(n as usize),
                Some(_) => {
                    return Err(Error::invalid(
                        f.child(key),
                        format!("must be a step index between 0 and {}", n_steps - 1),
                    ));
                }
                None => return Err(Error::invalid(f.child(key), "is required for `step`")),
            }
        }
        Some(other) => {
            return Err(Error::invalid(
                f.child("breakdownAttributionType"),
                format!("unknown attribution `{other}`"),
            ));
        }
    })
}

fn read_breakdown(obj: &Obj<'_>, attribution: Attribution) -> Result<Option<FunnelBreakdown>> {
    breakdown_preamble(obj)?;
    obj.reject_set("breakdowns", "multiple `breakdowns` on a funnel")?;
    obj.reject_set(
        "breakdown_hide_other_aggregation",
        "`breakdown_hide_other_aggregation` on a funnel",
    )?;
    let Some(breakdown) = obj.get("breakdown") else {
        return Ok(None);
    };
    let keys: Vec<String> = match breakdown {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() && items.len() <= MAX_BREAKDOWN_PROPERTIES => {
            items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        Error::unsupported(obj.child("breakdown"), "a cohort breakdown")
                    })
                })
                .collect::<Result<_>>()?
        }
        Value::Array(_) => {
            return Err(Error::invalid(
                obj.child("breakdown"),
                format!("must list 1 to {MAX_BREAKDOWN_PROPERTIES} properties"),
            ));
        }
        Value::Number(_) => {
            return Err(Error::unsupported(
                obj.child("breakdown"),
                "a cohort breakdown",
            ));
        }
        _ => {
            return Err(Error::invalid(
                obj.child("breakdown"),
                "must be a string or a list of strings",
            ));
        }
    };
    let prefix = match obj.str("breakdown_type")?.unwrap_or("event") {
        "event" => "properties",
        "person" => "person.properties",
        other @ ("group"
        | "cohort"
        | "session"
        | "hogql"
        | "data_warehouse"
        | "data_warehouse_person_property"
        | "event_metadata") => {
            return Err(Error::unsupported(
                obj.child("breakdown_type"),
                format!("funnel breakdown type `{other}`"),
            ));
        }
        other => {
            return Err(Error::invalid(
                obj.child("breakdown_type"),
                format!("unknown breakdown type `{other}`"),
            ));
        }
    };
    let limit = breakdown_limit(obj, DEFAULT_FUNNEL_BREAKDOWN_LIMIT)?;
    let exprs = keys
        .iter()
        .map(|k| format!("ifNull(toString({}), '')", field(prefix, k)))
        .collect();
    Ok(Some(FunnelBreakdown {
        exprs,
        limit,
        attribution,
    }))
}
