//! PostHog's insight queries, pure: a typed query (`TrendsQuery`, ...) read strictly from PostHog's
//! JSON schema, turned into HogQL text that `hogql-compiler` compiles (so the team guard and every
//! HogQL rule apply), and the ClickHouse rows of that HogQL shaped into PostHog's response series
//! (`data`, `labels`, `days`, `count`, `label`, `breakdown_value`, `compare_label`, `action`, ...).
//!
//! It knows nothing of HTTP, ClickHouse connections or the clock: the caller gives "now" in the
//! project's wall-clock time. A request outside the supported subset is an [`Error::Unsupported`]
//! naming the field, never a guess.

pub mod common;
pub mod dates;
mod error;
pub mod formula;
pub mod funnels;
mod hogql;
mod json;
pub mod lifecycle;
pub mod retention;
pub mod stickiness;
pub mod trends;

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

pub use crate::error::{Error, Result};

/// What a plan needs besides the query.
#[derive(Debug, Clone)]
pub struct Context {
    /// The project timezone (an IANA name); dates in the query are wall-clock times there.
    pub timezone: String,
    /// Now, as wall-clock time in the project timezone.
    pub now: NaiveDateTime,
    /// The team's earliest event, as wall-clock time in the project timezone: where a range with
    /// `date_from: "all"` starts (`None`: such a range is refused). See [`wants_earliest_event`].
    pub earliest_event: Option<NaiveDateTime>,
}

/// Whether planning `query` needs [`Context::earliest_event`] (its `dateRange.date_from` is
/// `all`), so that the caller looks it up only then.
pub fn wants_earliest_event(query: &Value) -> bool {
    query
        .get("dateRange")
        .and_then(|r| r.get("date_from"))
        .and_then(Value::as_str)
        == Some("all")
}

/// The insight kinds this crate answers.
pub const KINDS: &[&str] = &[
    "TrendsQuery",
    "StickinessQuery",
    "LifecycleQuery",
    "FunnelsQuery",
    "RetentionQuery",
];

/// Kinds PostHog has that this crate recognises but does not answer yet.
pub const PLANNED_KINDS: &[&str] = &["FunnelsQuery", "PathsQuery"];

/// A query ready to compile and run, and how to shape its rows.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The query kind, e.g. `TrendsQuery`.
    pub kind: &'static str,
    /// The HogQL to compile for the team (the response's `hogql`).
    pub hogql: String,
    shape: Shape,
}

#[derive(Debug, Clone)]
enum Shape {
    Trends(Box<trends::Trends>),
    Stickiness(Box<stickiness::Stickiness>),
    Lifecycle(Box<lifecycle::Lifecycle>),
    Funnels(Box<funnels::Funnels>),
    Retention(Box<retention::Retention>),
}

/// Whether `kind` is an insight kind this crate knows (answered or recognised).
pub fn is_insight_kind(kind: &str) -> bool {
    KINDS.contains(&kind) || PLANNED_KINDS.contains(&kind)
}

/// Reads `query` (the request's `query` object) and plans it.
pub fn plan(query: &Value, ctx: &Context) -> Result<Plan> {
    let kind = query
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("query.kind", "is required"))?;
    match kind {
        "TrendsQuery" => {
            let trends = trends::Trends::read(query, ctx)?;
            Ok(Plan {
                kind: "TrendsQuery",
                hogql: trends.hogql(),
                shape: Shape::Trends(Box::new(trends)),
            })
        }
        "StickinessQuery" => {
            let stickiness = stickiness::Stickiness::read(query, ctx)?;
            Ok(Plan {
                kind: "StickinessQuery",
                hogql: stickiness.hogql(),
                shape: Shape::Stickiness(Box::new(stickiness)),
            })
        }
        "LifecycleQuery" => {
            let lifecycle = lifecycle::Lifecycle::read(query, ctx)?;
            Ok(Plan {
                kind: "LifecycleQuery",
                hogql: lifecycle.hogql(),
                shape: Shape::Lifecycle(Box::new(lifecycle)),
            })
        }
        "FunnelsQuery" => {
            let funnels = funnels::Funnels::read(query, ctx)?;
            Ok(Plan {
                kind: "FunnelsQuery",
                hogql: funnels.hogql(),
                shape: Shape::Funnels(Box::new(funnels)),
            })
        }
        "RetentionQuery" => {
            let retention = retention::Retention::read(query, ctx)?;
            Ok(Plan {
                kind: "RetentionQuery",
                hogql: retention.hogql(),
                shape: Shape::Retention(Box::new(retention)),
            })
        }
        other if PLANNED_KINDS.contains(&other) => {
            Err(Error::unsupported("query.kind", format!("`{other}`")))
        }
        other => Err(Error::invalid(
            "query.kind",
            format!("unknown insight kind `{other}`"),
        )),
    }
}

impl Plan {
    /// The response fields (`results`, and `hasMore` where PostHog has it) from the rows of the
    /// compiled [`Plan::hogql`], each row an array of the selected columns.
    pub fn shape(&self, rows: &[Value]) -> Result<Map<String, Value>> {
        match &self.shape {
            Shape::Trends(t) => t.shape(rows),
            Shape::Stickiness(s) => s.shape(rows),
            Shape::Lifecycle(l) => l.shape(rows),
            Shape::Funnels(f) => f.shape(rows),
            Shape::Retention(r) => r.shape(rows),
        }
    }
}

/// A ClickHouse JSON cell as a number (numbers, numeric strings for 64-bit types, null as 0).
pub(crate) fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        Value::Null => Some(0.0),
        _ => None,
    }
}
