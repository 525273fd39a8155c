//! The compilation context: team, timezone, query modifiers, limit context, and the values map
//! that string constants are sent through (`%(hogql_val_N)s`).

use serde::{Deserialize, Serialize};

use crate::schema::{MaterializedColumns, PersonsOnEventsMode};

/// PostHog's `MAX_SELECT_RETURNED_ROWS`: the cap on any top-level LIMIT.
pub const MAX_SELECT_RETURNED_ROWS: i64 = 50_000;
/// PostHog's `DEFAULT_RETURNED_ROWS`: the API's default LIMIT.
pub const DEFAULT_RETURNED_ROWS: i64 = 100;

/// The `personsOnEventsMode` modifier values, with PostHog's JSON spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoeModeName {
    /// `disabled`.
    #[default]
    Disabled,
    /// `person_id_no_override_properties_on_events`.
    PersonIdNoOverridePropertiesOnEvents,
    /// `person_id_override_properties_on_events`.
    PersonIdOverridePropertiesOnEvents,
    /// `person_id_override_properties_joined`.
    PersonIdOverridePropertiesJoined,
}

impl From<PoeModeName> for PersonsOnEventsMode {
    fn from(mode: PoeModeName) -> Self {
        match mode {
            PoeModeName::Disabled => PersonsOnEventsMode::Disabled,
            PoeModeName::PersonIdNoOverridePropertiesOnEvents => {
                PersonsOnEventsMode::PersonIdNoOverridePropertiesOnEvents
            }
            PoeModeName::PersonIdOverridePropertiesOnEvents => {
                PersonsOnEventsMode::PersonIdOverridePropertiesOnEvents
            }
            PoeModeName::PersonIdOverridePropertiesJoined => {
                PersonsOnEventsMode::PersonIdOverridePropertiesJoined
            }
        }
    }
}

/// The `personsArgMaxVersion` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgMaxVersion {
    /// `auto`: v2 when properties are read.
    #[default]
    Auto,
    /// `v1`: argMax in the subquery.
    V1,
    /// `v2`: `(id, version) IN (…)`.
    V2,
}

/// The `personsJoinMode` modifier: how `persons` is joined to what reads it through a lazy join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonsJoinMode {
    /// `inner`: `INNER JOIN` (events without a live person are dropped).
    #[default]
    Inner,
    /// `left`: `LEFT JOIN` (events without a person keep their row).
    Left,
}

/// The subset of PostHog's `HogQLQueryModifiers` this compiler reads, with PostHog's JSON names.
/// Absent fields take PostHog's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Modifiers {
    /// Where `events.person_id` / `events.person` come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons_on_events_mode: Option<PoeModeName>,
    /// `false`: DateTime fields are shown in UTC instead of the project timezone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub convert_to_project_timezone: Option<bool>,
    /// How persons are deduplicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons_arg_max_version: Option<ArgMaxVersion>,
    /// The join to `persons` from `pdi.person`, `person_distinct_ids.person` and, in the
    /// joined-properties mode, `events.person`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persons_join_mode: Option<PersonsJoinMode>,
}

/// Which caller the query runs for; decides the default and maximum top-level LIMIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitContext {
    /// Direct printing: default and maximum are both [`MAX_SELECT_RETURNED_ROWS`].
    #[default]
    Default,
    /// The query API: default [`DEFAULT_RETURNED_ROWS`], maximum [`MAX_SELECT_RETURNED_ROWS`].
    Api,
}

impl LimitContext {
    /// The LIMIT added when the query has none.
    pub fn default_limit(self) -> i64 {
        match self {
            LimitContext::Default => MAX_SELECT_RETURNED_ROWS,
            LimitContext::Api => DEFAULT_RETURNED_ROWS,
        }
    }

    /// The largest LIMIT allowed.
    pub fn max_limit(self) -> i64 {
        MAX_SELECT_RETURNED_ROWS
    }
}

/// A parameter value sent next to the SQL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// A string (string constants, JSON keys, timezone names, suffix arguments).
    Str(String),
    /// An integer (array indexes in JSON paths).
    Int(i64),
}

/// Everything a compilation needs besides the query, plus the values it collects.
#[derive(Debug, Clone)]
pub struct Context {
    /// The team every table is guarded to.
    pub team_id: i64,
    /// The project timezone (IANA name).
    pub timezone: String,
    /// Query modifiers.
    pub modifiers: Modifiers,
    /// Default/maximum LIMIT policy.
    pub limit_context: LimitContext,
    /// Append PostHog's global `SETTINGS` list to the outermost query.
    pub global_settings: bool,
    /// The team's materialized property columns (event properties are read from them).
    pub materialized: MaterializedColumns,
    /// The parameter values, in insertion order (`hogql_val_0`, `hogql_val_1`, …).
    pub values: Vec<(String, ParamValue)>,
    /// Per-request limits (AST size, compile work).
    pub limits: Limits,
}

/// Per-request limits of one compilation. Each breach is an error with its own stable code
/// (the query API answers them with 400):
///
/// | limit | code |
/// | --- | --- |
/// | [`Limits::max_ast_nodes`] | `query_too_large` |
/// | [`Limits::max_work`] | `compile_budget_exceeded` |
/// | nesting ([`crate::lower::MAX_DEPTH`], the parser's 1000 levels, operator chains included) | `query_error` / `syntax_error` |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most AST nodes a query may have (a node per constant, field, call, operator, …).
    pub max_ast_nodes: usize,
    /// Most units of compile work (one per expression or query printed, counting every
    /// printing pass): bounds queries whose printing multiplies, such as nested subqueries
    /// that each read `person.*` and so are printed twice per level.
    pub max_work: u64,
}

impl Default for Limits {
    /// 100 000 nodes (about a megabyte of HogQL) and 500 000 units of work: a query of the
    /// largest size printed in two passes (lazy joins) stays well under it, while shapes whose
    /// work multiplies per nesting level stop at about 12 levels.
    fn default() -> Self {
        Limits {
            max_ast_nodes: 100_000,
            max_work: 500_000,
        }
    }
}

impl Context {
    /// A context for `team_id` with UTC, default modifiers and the default limit context.
    pub fn new(team_id: i64) -> Self {
        Context {
            team_id,
            timezone: "UTC".to_owned(),
            modifiers: Modifiers::default(),
            limit_context: LimitContext::default(),
            global_settings: true,
            materialized: MaterializedColumns::default(),
            values: Vec::new(),
            limits: Limits::default(),
        }
    }

    /// Store a string value; returns its placeholder `%(hogql_val_N)s`, N being the number of
    /// values stored before it (shared by the whole query).
    pub fn add_value(&mut self, value: &str) -> String {
        self.add_param(ParamValue::Str(value.to_owned()))
    }

    /// Store any parameter value; see [`Self::add_value`].
    pub fn add_param(&mut self, value: ParamValue) -> String {
        let key = format!("hogql_val_{}", self.values.len());
        let placeholder = format!("%({key})s");
        self.values.push((key, value));
        placeholder
    }

    /// The timezone DateTime fields are converted to: the project timezone, or UTC when the
    /// `convertToProjectTimezone` modifier is `false`.
    pub fn display_timezone(&self) -> &str {
        if self.modifiers.convert_to_project_timezone == Some(false) {
            "UTC"
        } else {
            &self.timezone
        }
    }

    /// The persons-on-events mode in schema terms.
    pub fn poe_mode(&self) -> PersonsOnEventsMode {
        self.modifiers
            .persons_on_events_mode
            .unwrap_or_default()
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_numbered_by_insertion() {
        let mut ctx = Context::new(1);
        assert_eq!(ctx.add_value("a"), "%(hogql_val_0)s");
        assert_eq!(ctx.add_value("a"), "%(hogql_val_1)s");
        assert_eq!(
            ctx.values[1],
            ("hogql_val_1".to_owned(), ParamValue::Str("a".to_owned()))
        );
        assert_eq!(ctx.add_param(ParamValue::Int(1)), "%(hogql_val_2)s");
    }

    #[test]
    fn limit_contexts() {
        assert_eq!(LimitContext::Default.default_limit(), 50_000);
        assert_eq!(LimitContext::Api.default_limit(), 100);
        assert_eq!(LimitContext::Api.max_limit(), 50_000);
    }

    #[test]
    fn modifiers_have_posthog_json_names() {
        let m: Modifiers = serde_json::from_str(
            r#"{"personsOnEventsMode": "person_id_no_override_properties_on_events",
                "convertToProjectTimezone": false, "personsArgMaxVersion": "v2"}"#,
        )
        .unwrap();
        assert_eq!(
            m.persons_on_events_mode,
            Some(PoeModeName::PersonIdNoOverridePropertiesOnEvents)
        );
        assert_eq!(m.convert_to_project_timezone, Some(false));
        assert_eq!(m.persons_arg_max_version, Some(ArgMaxVersion::V2));
        assert!(serde_json::from_str::<Modifiers>(r#"{"bogus": 1}"#).is_err());
    }
}
