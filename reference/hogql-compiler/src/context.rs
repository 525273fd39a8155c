//! The compilation context: team, timezone, query modifiers, limit context, and the values map
//! that string constants are sent through (`%(hogql_val_N)s`).

use serde::{Deserialize, Serialize};

use crate::schema::{MaterializedColumns, PersonsOnEventsMode, SessionsSchema};

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

/// `materializationMode`: whether and how materialized property columns are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterializationMode {
    /// `auto`: PostHog resolves it to `legacy_null_as_null`.
    #[default]
    Auto,
    /// `legacy_null_as_string`: a non-nullable column is read bare (`''` stays `''`).
    LegacyNullAsString,
    /// `legacy_null_as_null`: `nullIf(nullIf(col, ''), 'null')`.
    LegacyNullAsNull,
    /// `disabled`: properties are always read from the JSON column.
    Disabled,
}

/// `propertyGroupsMode`: reading properties from the `properties_group_*` map columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyGroupsMode {
    /// `disabled` (PostHog's default).
    #[default]
    Disabled,
    /// `enabled`: `has(group, key) ? group[key] : null`.
    Enabled,
    /// `optimized`: comparisons rewritten against the map as well.
    Optimized,
}

/// `sessionTableVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionTableVersion {
    /// `auto`: PostHog resolves it to v2.
    #[default]
    Auto,
    /// `v1`: sessions over `raw_sessions`, printed `sessions` (the default when absent).
    V1,
    /// `v2`: sessions over `raw_sessions` v2 (aggregate states per `session_id_v7`), printed
    /// `raw_sessions`.
    V2,
    /// `v3`: sessions over `raw_sessions_v3` (not supported: `unsupported_modifier`).
    V3,
}

/// `sessionsV2JoinMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionsV2JoinMode {
    /// `string`.
    String,
    /// `uuid`.
    Uuid,
}

/// `inCohortVia`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InCohortVia {
    /// `auto`.
    Auto,
    /// `leftjoin`.
    Leftjoin,
    /// `subquery`.
    Subquery,
    /// `leftjoin_conjoined`.
    LeftjoinConjoined,
}

/// `bounceRatePageViewMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BounceRatePageViewMode {
    /// `count_pageviews` (sessions v1's rule).
    CountPageviews,
    /// `uniq_urls`.
    UniqUrls,
    /// `uniq_page_screen_autocaptures`.
    UniqPageScreenAutocaptures,
}

/// `materializedColumnsOptimizationMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaterializedColumnsOptimizationMode {
    /// `disabled`.
    Disabled,
    /// `optimized`.
    Optimized,
}

/// PostHog's `HogQLQueryModifiers` (posthog/schema.py), every field with PostHog's JSON name.
/// Absent fields take PostHog's defaults; an unknown field is rejected naming it
/// ([`Modifiers::from_json`]); a known value this compiler cannot apply is rejected by
/// [`Modifiers::check`] naming the modifier, never silently ignored.
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
    /// Materialized property columns: read them, and how.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialization_mode: Option<MaterializationMode>,
    /// `properties_group_*` map columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property_groups_mode: Option<PropertyGroupsMode>,
    /// Which sessions table `sessions` and `events.session` use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_table_version: Option<SessionTableVersion>,
    /// How events join sessions v2.
    #[serde(
        default,
        rename = "sessionsV2JoinMode",
        skip_serializing_if = "Option::is_none"
    )]
    pub sessions_v2_join_mode: Option<SessionsV2JoinMode>,
    /// How `x IN COHORT n` is printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_cohort_via: Option<InCohortVia>,
    /// How sessions count pageviews for `$is_bounce`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_rate_page_view_mode: Option<BounceRatePageViewMode>,
    /// The duration under which a session is a bounce (PostHog: 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounce_rate_duration_seconds: Option<serde_json::Number>,
    /// Filters on a joined persons table pushed into its subquery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize_joined_filters: Option<bool>,
    /// Rewrites onto ClickHouse projections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize_projections: Option<bool>,
    /// Data-warehouse tables: read columns whose type could not be inferred.
    #[serde(
        default,
        rename = "s3TableUseInvalidColumns",
        skip_serializing_if = "Option::is_none"
    )]
    pub s3_table_use_invalid_columns: Option<bool>,
    /// Saved queries read from their materialized tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_materialized_views: Option<bool>,
    /// The presorted events table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_presorted_events_table: Option<bool>,
    /// Web analytics pre-aggregated tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_web_analytics_pre_aggregated_tables: Option<bool>,
    /// Automatic rewrites onto pre-aggregated tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_preaggregated_table_transforms: Option<bool>,
    /// How materialized columns are compared (skip-index friendly forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub materialized_columns_optimization_mode: Option<MaterializedColumnsOptimizationMode>,
    /// The custom channel-type rules for `$channel_type` (a list of rule objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_channel_type_rules: Option<serde_json::Value>,
    /// Event-like data-warehouse tables (a list of table descriptions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_warehouse_events_modifiers: Option<serde_json::Value>,
    /// Debug output (no effect on the SQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug: Option<bool>,
    /// Per-step timings in the response (no effect on the SQL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<bool>,
    /// The `format_csv_allow_double_quotes` setting of exports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format_csv_allow_double_quotes: Option<bool>,
}

impl Modifiers {
    /// Parse modifiers from JSON with PostHog's names. An unknown field is an
    /// `invalid_modifiers` error naming it (serde's message lists the field).
    pub fn from_json(json: &str) -> Result<Modifiers, crate::Error> {
        serde_json::from_str(json).map_err(|e| crate::Error::InvalidModifiers {
            message: e.to_string(),
        })
    }

    /// Reject every modifier value that would change PostHog's SQL in a way this compiler does
    /// not implement (`unsupported_modifier`, naming the modifier and value). Values that
    /// print the same SQL as the default, and modifiers with no effect on a HogQL query's SQL
    /// (debug, timings, CSV export quoting, warehouse-only switches when no warehouse table
    /// exists), are accepted.
    pub fn check(&self) -> Result<(), crate::Error> {
        let reject = |name: &str, value: &str| {
            Err(crate::Error::UnsupportedModifier {
                name: name.to_owned(),
                value: value.to_owned(),
            })
        };
        if let Some(v @ SessionTableVersion::V3) = self.session_table_version {
            return reject("sessionTableVersion", &enum_text(&v));
        }
        // `optimized` rewrites comparisons on a property-group key (`=`, `IN`, `IS [NOT] NULL`,
        // `JSONHas`) into `has(...)` and map reads over `properties_group_*` (PostHog's test_printer.py
        // test_property_groups_optimized_*): a rule set of its own, not done here (checked gaps
        // fixtures/hogql/print-gaps/0028-0031); the map reads of `enabled` are.
        if let Some(v @ PropertyGroupsMode::Optimized) = self.property_groups_mode {
            return reject("propertyGroupsMode", &enum_text(&v));
        }
        if let Some(
            v @ (BounceRatePageViewMode::UniqUrls
            | BounceRatePageViewMode::UniqPageScreenAutocaptures),
        ) = self.bounce_rate_page_view_mode
        {
            return reject("bounceRatePageViewMode", &enum_text(&v));
        }
        if let Some(n) = &self.bounce_rate_duration_seconds
            && n.as_f64() != Some(10.0)
        {
            return reject("bounceRateDurationSeconds", &n.to_string());
        }
        if self.optimize_projections == Some(true) {
            return reject("optimizeProjections", "true");
        }
        if self.use_presorted_events_table == Some(true) {
            return reject("usePresortedEventsTable", "true");
        }
        if self.use_web_analytics_pre_aggregated_tables == Some(true) {
            return reject("useWebAnalyticsPreAggregatedTables", "true");
        }
        if self.use_preaggregated_table_transforms == Some(true) {
            return reject("usePreaggregatedTableTransforms", "true");
        }
        if let Some(v @ MaterializedColumnsOptimizationMode::Optimized) =
            self.materialized_columns_optimization_mode
        {
            return reject("materializedColumnsOptimizationMode", &enum_text(&v));
        }
        if let Some(rules) = &self.custom_channel_type_rules
            && rules.as_array().is_none_or(|a| !a.is_empty())
        {
            return reject("customChannelTypeRules", &rules.to_string());
        }
        if let Some(tables) = &self.data_warehouse_events_modifiers
            && tables.as_array().is_none_or(|a| !a.is_empty())
        {
            return reject("dataWarehouseEventsModifiers", &tables.to_string());
        }
        Ok(())
    }
}

/// A unit enum's JSON spelling.
fn enum_text<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The IANA timezone names PostHog's `ZoneInfo` accepts (tzdata 2025b, one per line).
const TIMEZONES: &str = include_str!("timezones.txt");

/// Whether `name` is a timezone PostHog accepts (`Unknown timezone: 'X'` otherwise).
pub fn is_known_timezone(name: &str) -> bool {
    TIMEZONES.lines().any(|l| l == name && !l.starts_with('#'))
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

    /// Check what PostHog checks before printing: the project timezone is known (`Unknown
    /// timezone: 'X'`, as PostHog's `Database` rejects it) and every modifier can apply.
    pub fn check(&self) -> Result<(), crate::Error> {
        if !is_known_timezone(&self.timezone) {
            return Err(crate::Error::UnknownTimezone {
                name: self.timezone.clone(),
            });
        }
        self.modifiers.check()
    }

    /// The sessions tables in schema terms: v1 when `sessionTableVersion` is absent (the shape
    /// this compiler prints by default) or `v1`; v2 for `v2` and for `auto`, which PostHog
    /// resolves to v2; joined from events by `$session_id` unless `sessionsV2JoinMode` is `uuid`.
    pub fn sessions_schema(&self) -> SessionsSchema {
        match (
            self.modifiers.session_table_version,
            self.modifiers.sessions_v2_join_mode,
        ) {
            (None | Some(SessionTableVersion::V1 | SessionTableVersion::V3), _) => {
                SessionsSchema::V1
            }
            (
                Some(SessionTableVersion::V2 | SessionTableVersion::Auto),
                Some(SessionsV2JoinMode::Uuid),
            ) => SessionsSchema::V2JoinByUuid,
            (Some(SessionTableVersion::V2 | SessionTableVersion::Auto), _) => {
                SessionsSchema::V2JoinByString
            }
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

    #[test]
    fn every_posthog_modifier_field_is_accepted() {
        // The fields of PostHog's HogQLQueryModifiers (posthog/schema.py).
        let m = Modifiers::from_json(
            r#"{"bounceRateDurationSeconds": 10, "bounceRatePageViewMode": "count_pageviews",
                "convertToProjectTimezone": true, "customChannelTypeRules": [],
                "dataWarehouseEventsModifiers": [], "debug": false,
                "formatCsvAllowDoubleQuotes": false, "inCohortVia": "auto",
                "materializationMode": "legacy_null_as_null", "optimizeJoinedFilters": false,
                "optimizeProjections": false, "personsArgMaxVersion": "auto",
                "personsJoinMode": "inner", "personsOnEventsMode": "disabled",
                "propertyGroupsMode": "disabled", "s3TableUseInvalidColumns": false,
                "sessionTableVersion": "v1", "sessionsV2JoinMode": null, "timings": true,
                "useMaterializedViews": true, "usePreaggregatedTableTransforms": false,
                "usePresortedEventsTable": false, "useWebAnalyticsPreAggregatedTables": false,
                "materializedColumnsOptimizationMode": "disabled"}"#,
        )
        .unwrap();
        assert_eq!(m.check(), Ok(()));
    }

    #[test]
    fn unknown_modifier_fields_and_values_are_coded_errors_naming_them() {
        let e = Modifiers::from_json(r#"{"personsOnEventMode": "disabled"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_modifiers");
        assert!(e.to_string().contains("personsOnEventMode"), "{e}");
        let e = Modifiers::from_json(r#"{"sessionTableVersion": "v9"}"#).unwrap_err();
        assert_eq!(e.code(), "invalid_modifiers");
        assert!(e.to_string().contains("v9"), "{e}");
        let m = Modifiers::from_json(r#"{"sessionTableVersion": "v3"}"#).unwrap();
        let e = m.check().unwrap_err();
        assert_eq!(e.code(), "unsupported_modifier");
        assert!(e.to_string().contains("sessionTableVersion=v3"), "{e}");
    }

    #[test]
    fn session_table_versions_resolve_as_posthog_resolves_them() {
        let schema = |json: &str| {
            let mut ctx = Context::new(1);
            ctx.modifiers = Modifiers::from_json(json).unwrap();
            assert_eq!(ctx.check(), Ok(()));
            ctx.sessions_schema()
        };
        assert_eq!(schema("{}"), SessionsSchema::V1);
        assert_eq!(
            schema(r#"{"sessionTableVersion": "v1"}"#),
            SessionsSchema::V1
        );
        assert_eq!(
            schema(r#"{"sessionTableVersion": "v1", "sessionsV2JoinMode": "uuid"}"#),
            SessionsSchema::V1
        );
        assert_eq!(
            schema(r#"{"sessionTableVersion": "v2"}"#),
            SessionsSchema::V2JoinByString
        );
        assert_eq!(
            schema(r#"{"sessionTableVersion": "auto"}"#),
            SessionsSchema::V2JoinByString
        );
        assert_eq!(
            schema(r#"{"sessionTableVersion": "v2", "sessionsV2JoinMode": "string"}"#),
            SessionsSchema::V2JoinByString
        );
        assert_eq!(
            schema(r#"{"sessionTableVersion": "auto", "sessionsV2JoinMode": "uuid"}"#),
            SessionsSchema::V2JoinByUuid
        );
    }

    #[test]
    fn timezones_are_checked_like_posthog() {
        assert!(is_known_timezone("UTC"));
        assert!(is_known_timezone("US/Pacific"));
        assert!(is_known_timezone("Europe/Tallinn"));
        assert!(!is_known_timezone("Europe/PostHogLandia"));
        assert!(!is_known_timezone(""));
        let mut ctx = Context::new(1);
        ctx.timezone = "Mars/Olympus".into();
        assert_eq!(ctx.check().unwrap_err().code(), "unknown_timezone");
    }
}
