//! The database schema HogQL exposes: tables, their fields, and how each field resolves.
//!
//! A [`Database`] maps HogQL table names (`events`, `persons`, `raw_groups`, `numbers`, …) to
//! [`Table`]s. Each table says what it prints as in ClickHouse (`raw_persons` → `person`), whether
//! it is a real table, a *lazy* table resolved into a deduplicating subquery, or a table function,
//! and lists its fields in PostHog's order. A field is one of:
//!
//! * a [`Column`]: a stored column with its HogQL value type, nullability and ClickHouse type;
//! * an expression field: HogQL text computed from other columns (the `sessions` aggregates);
//! * a [`LazyJoin`]: following it adds a join to another table (`events.pdi`);
//! * a virtual table: a group of columns of the same row under a prefix (`events.poe.properties`);
//! * a field traverser: an alias for a chain of fields (`events.person` = `pdi.person`).
//!
//! `SELECT *` expands to the columns and expression fields of a table, minus `team_id` (except on
//! table functions), minus the table's "excluded from `*`" list ([`Table::asterisk_fields`]).
//!
//! Materialized property columns are per-team metadata ([`MaterializedColumns`]). Per-query
//! shape changes PostHog makes when it builds the database are available as builders:
//! [`Database::with_persons_on_events_mode`] (the `personsOnEventsMode` modifier rewires
//! `events.person` / `events.person_id`, adding `event_person_id` and the `override` join in the
//! override modes) and [`Database::with_group_types`] (`events.<group type name>`).
//!
//! # Sources
//!
//! Field names, kinds and nullability are PostHog's `posthog/hogql/database/schema/*.py`:
//! events.py @ 0639fcc3773a840a6d6f4b736b81c26f13537704, persons.py @
//! 041911659d49b21a1c06cda5f8e0532d665ca437, persons_pdi.py @
//! ad219e56a6a6979477963436ba98477a40171465, person_distinct_ids.py @
//! 006778d4e4ad8c41e69ee55161b851039e70c0fc, person_distinct_id_overrides.py @
//! 060ebc2b0b56e51fcee2e12e4433c38f99911e2e, groups.py @ 0751027339fe5ec5adb2f45516c0c077e85e13b0,
//! sessions_v1.py @ 0bc8c76a705c54be7ced673ff1eef1cb45795586 (sessions_v2.py: see `sessions_v2.rs`), cohort_people.py @
//! 06a782c63eb9733697a3357fb3a8d9c42d3868bf, numbers.py @ 110ba9df293ae598c83cff38469298bbb9f7c4fd,
//! the root table list and `create_hogql_database` mode handling of database.py (index ids
//! 51806747674 and 54574309229) and `get_asterisk` of models.py (index id 54647781084). ClickHouse column types are from posthog/models/event/sql.py @
//! cfd68dbcdf60e15eaa45052287b3117687399dff (plus the `$session_id_uuid` and `elements_chain_*`
//! materialized columns of a newer events DDL) and `/work/shared/spec/ingestion.md` §4 for
//! `person`, `person_distinct_id2` and `person_distinct_id_overrides`; where no DDL was read the
//! ClickHouse type is `None`. The materialized-column naming rule is PostHog's
//! `materialized_column_name` (`mat_`/`pmat_` + the property with `[^0-9a-zA-Z$]` → `_`).
//!
//! # Known gaps
//!
//! * Only the core tables of spec §5 are modelled: no `session_replay_events`, logs, heatmaps,
//!   warehouse tables, saved views, `system.*`, or the `posthog.` namespace.
//! * `sessions` is v1 or v2 ([`SessionsSchema`]; no v3); `$channel_type`'s expression (channel
//!   rules) is not carried.
//! * Lazy-join resolution itself (building the join subqueries) is the resolver's job; this module
//!   only describes the joins.

mod materialized;
mod sessions_v2;
mod tables;

#[cfg(test)]
mod tests;

pub use materialized::{
    MaterializedColumn, MaterializedColumns, PropertySource, materialized_column_name,
};

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use crate::difflib::get_close_matches;
use crate::functions::{TableFunction, table_function};
use crate::{Error, Result};

/// The HogQL value type of a column (PostHog's `*DatabaseField` classes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Integer,
    Float,
    String,
    /// A JSON document in a string column (`properties`); supports `properties.x` access.
    StringJson,
    StringArray,
    Date,
    DateTime,
    Boolean,
    Uuid,
    /// A plain `DatabaseField` (aggregate states, enums, …).
    Unknown,
}

/// A stored column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The ClickHouse column name (printed, escaped as an identifier).
    pub name: String,
    /// The HogQL value type.
    pub value_type: ValueType,
    /// PostHog's declared `nullable`; `None` when the schema does not say, which PostHog treats
    /// as not nullable (`not not None`).
    pub declared_nullable: Option<bool>,
    /// The ClickHouse column type, when the DDL was read.
    pub clickhouse_type: Option<&'static str>,
}

impl Column {
    /// Whether the printer must treat the column as nullable.
    pub fn is_nullable(&self) -> bool {
        self.declared_nullable == Some(true)
    }
}

/// A field computed by a HogQL expression over the table's source columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpressionField {
    /// HogQL expression text, or `None` when PostHog builds it from configuration (channel type).
    pub expr: Option<String>,
    /// The result type.
    pub value_type: ValueType,
    /// Declared nullability, as for [`Column`].
    pub declared_nullable: Option<bool>,
}

/// The join a lazy join adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// `INNER JOIN`.
    Inner,
    /// `LEFT JOIN`.
    Left,
    /// `LEFT OUTER JOIN`.
    LeftOuter,
}

impl JoinKind {
    /// The SQL keywords.
    pub fn as_sql(self) -> &'static str {
        match self {
            JoinKind::Inner => "INNER JOIN",
            JoinKind::Left => "LEFT JOIN",
            JoinKind::LeftOuter => "LEFT OUTER JOIN",
        }
    }
}

/// A field that, when accessed, joins another table: `ON from.<from_field> = to.<to_field>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LazyJoin {
    /// The joined table's HogQL name in the [`Database`].
    pub table: &'static str,
    /// The join PostHog adds by default.
    pub join: JoinKind,
    /// The key on the source table.
    pub from_field: String,
    /// The key on the joined table.
    pub to_field: &'static str,
    /// An extra restriction inside the joined subquery (HogQL text), e.g. `index = 0`.
    pub filter: Option<String>,
    /// Where the default can change (modifiers, feature flags).
    pub note: Option<&'static str>,
    /// HogQL over the source table's fields that ON compares instead of `from_field` (sessions
    /// v2 joins on `_toUInt128(toUUID($session_id))`).
    pub from_expr: Option<&'static str>,
}

/// What a field name on a table resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// A stored column.
    Column(Column),
    /// A computed field.
    Expression(ExpressionField),
    /// A join to another table.
    LazyJoin(LazyJoin),
    /// Columns of the same row grouped under a prefix; printed against the parent table.
    VirtualTable(Vec<FieldDef>),
    /// An alias for a chain of fields, e.g. `["pdi", "person"]`.
    Traverser(Vec<&'static str>),
}

/// A named field of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// The HogQL field name.
    pub name: String,
    /// What it resolves to.
    pub field: Field,
    /// Listed in the table's "excluded from `*`" list.
    pub excluded_from_asterisk: bool,
}

/// How a lazy table is turned into a subquery over its raw table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LazySource {
    /// Latest row per key: `argMax(field, <version>) … GROUP BY <group_by> HAVING
    /// argMax(<deleted>, <version>) = 0` (persons, distinct ids, overrides, groups).
    ArgMax {
        /// The raw table selected from.
        raw_table: &'static str,
        /// The grouping key fields.
        group_by: Vec<&'static str>,
        /// The field that orders versions.
        version_field: &'static str,
        /// The soft-delete flag, if any.
        deleted_field: Option<&'static str>,
    },
    /// Aggregate-state merges grouped by a key; the fields are [`ExpressionField`]s (sessions).
    Aggregate {
        /// The raw table selected from.
        raw_table: &'static str,
        /// The grouping key fields.
        group_by: Vec<&'static str>,
    },
    /// `SELECT DISTINCT … WHERE (cohort_id, version) IN <current versions>` (cohort people).
    CohortVersions {
        /// The raw table selected from.
        raw_table: &'static str,
    },
}

/// What kind of table it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableKind {
    /// A real ClickHouse table, printed by name.
    Table,
    /// A view-like table resolved into a subquery (`persons` over `raw_persons`).
    Lazy(LazySource),
    /// A table function (`numbers(10)`).
    Function(TableFunction),
}

/// One table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The HogQL name.
    pub name: &'static str,
    /// What the table prints as in ClickHouse.
    pub clickhouse_name: &'static str,
    /// Real, lazy or table function.
    pub kind: TableKind,
    /// Whether the printer adds `equals(<table>.team_id, <team>)` (false for table functions).
    pub team_id_guard: bool,
    /// Fields in PostHog's order.
    pub fields: Vec<FieldDef>,
}

impl Table {
    /// The field called `name`, or PostHog's `Field not found: name`.
    pub fn field(&self, name: &str) -> Result<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| Error::FieldNotFound {
                name: name.to_owned(),
            })
    }

    /// Replace the field of the same name in place, or append it (Python dict assignment).
    fn set_field(&mut self, def: FieldDef) {
        match self.fields.iter_mut().find(|f| f.name == def.name) {
            Some(existing) => *existing = def,
            None => self.fields.push(def),
        }
    }

    /// Whether the table has a field called `name`.
    pub fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.name == name)
    }

    /// The fields `SELECT *` expands to, in order: columns and expression fields, without
    /// `team_id` (kept on table functions) and without the table's excluded fields. Lazy joins,
    /// virtual tables and traversers are never expanded.
    pub fn asterisk_fields(&self) -> Vec<&str> {
        let is_function = matches!(self.kind, TableKind::Function(_));
        self.fields
            .iter()
            .filter(|f| !f.excluded_from_asterisk)
            .filter(|f| is_function || f.name != "team_id")
            .filter(|f| matches!(f.field, Field::Column(_) | Field::Expression(_)))
            .map(|f| f.name.as_str())
            .collect()
    }
}

/// PostHog's `personsOnEventsMode` modifier: where `events.person_id` and `events.person.*` come
/// from. PostHog rewires the `events` table per query ([`Database::with_persons_on_events_mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PersonsOnEventsMode {
    /// `person` and `person_id` go through the `pdi` join (the schema's default shape).
    #[default]
    Disabled,
    /// `person_id` is the column on events; `person` is the `poe` virtual table.
    PersonIdNoOverridePropertiesOnEvents,
    /// `person_id` prefers the overrides table; `person` (and `poe.id`) read from events.
    PersonIdOverridePropertiesOnEvents,
    /// `person_id` prefers the overrides table; `person` joins `persons` on it.
    PersonIdOverridePropertiesJoined,
}

/// Which `sessions` table a query reads (PostHog's `sessionTableVersion` and
/// `sessionsV2JoinMode`); [`Database::with_sessions_schema`] rewires the schema for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SessionsSchema {
    /// Sessions v1 over `raw_sessions` printed `sessions` (the schema's default shape).
    #[default]
    V1,
    /// Sessions v2 over `raw_sessions`; events join on `_toUInt128(toUUID($session_id))`.
    V2JoinByString,
    /// Sessions v2; events join on their `$session_id_uuid` column.
    V2JoinByUuid,
}

/// The expression PostHog gives `events.person_id` in the override modes.
pub const OVERRIDE_PERSON_ID_EXPR: &str =
    "if(not(empty(override.distinct_id)), override.person_id, event_person_id)";

/// The HogQL table names PostHog offers as "Did you mean" candidates (its visible table list,
/// restricted to the tables modelled here).
const SUGGESTED_TABLES: [&str; 4] = ["events", "groups", "persons", "sessions"];

/// The group joins on `events`, by group type index.
const GROUP_JOINS: [&str; 5] = ["group_0", "group_1", "group_2", "group_3", "group_4"];

/// All tables of a project, plus its materialized columns.
#[derive(Debug, Clone)]
pub struct Database {
    /// Shared between clones: copied only when a `with_*` method rewires a table.
    tables: Arc<Vec<Table>>,
    by_name: Arc<HashMap<&'static str, usize>>,
    /// Materialized property columns of this team.
    pub materialized: MaterializedColumns,
}

impl Database {
    /// The default PostHog schema (no materialized columns).
    pub fn posthog_default() -> Self {
        // Building the schema is cheap but not free; PostHog learnt that per-query database
        // construction dominates compile time (#27451), so the default tables are built once.
        // Clones share the tables (`Arc`), so this is a few reference counts.
        static DEFAULT: OnceLock<Database> = OnceLock::new();
        DEFAULT
            .get_or_init(|| Self::from_tables(tables::default_tables()))
            .clone()
    }

    /// The default schema rewired for `mode` ([`Database::with_persons_on_events_mode`]), built
    /// once per mode and shared: what a query without materialized columns compiles against.
    /// The sessions schema is chosen the same way ([`Database::with_sessions_schema`]).
    pub fn posthog_default_for(
        mode: PersonsOnEventsMode,
        sessions: SessionsSchema,
    ) -> &'static Database {
        static BY_MODE: [OnceLock<Database>; 12] = [const { OnceLock::new() }; 12];
        let slot = match mode {
            PersonsOnEventsMode::Disabled => 0,
            PersonsOnEventsMode::PersonIdNoOverridePropertiesOnEvents => 1,
            PersonsOnEventsMode::PersonIdOverridePropertiesOnEvents => 2,
            PersonsOnEventsMode::PersonIdOverridePropertiesJoined => 3,
        };
        let slot = slot * 3
            + match sessions {
                SessionsSchema::V1 => 0,
                SessionsSchema::V2JoinByString => 1,
                SessionsSchema::V2JoinByUuid => 2,
            };
        BY_MODE[slot].get_or_init(|| {
            Self::posthog_default()
                .with_persons_on_events_mode(mode)
                .with_sessions_schema(sessions)
        })
    }

    /// The same database with the `sessions` tables of `sessions`, as PostHog's
    /// `create_hogql_database` swaps in `SessionsTableV2` and `RawSessionsTableV2` and rewires
    /// `events.session` for `sessionTableVersion` v2 (and auto).
    pub fn with_sessions_schema(mut self, sessions: SessionsSchema) -> Self {
        let (from_field, from_expr) = match sessions {
            SessionsSchema::V1 => return self,
            SessionsSchema::V2JoinByString => ("$session_id", Some(sessions_v2::EVENTS_JOIN_KEY)),
            SessionsSchema::V2JoinByUuid => ("$session_id_uuid", None),
        };
        let [lazy, raw] = sessions_v2::tables();
        let by_name = Arc::clone(&self.by_name);
        let tables = Arc::make_mut(&mut self.tables);
        for table in [lazy, raw] {
            if let Some(&i) = by_name.get(table.name) {
                tables[i] = table;
            }
        }
        if let Some(&i) = by_name.get("events") {
            let mut session = tables::join_def(
                "session",
                "sessions",
                JoinKind::Left,
                from_field,
                "session_id_v7",
            );
            if let Field::LazyJoin(join) = &mut session.field {
                join.from_expr = from_expr;
            }
            tables[i].set_field(session);
        }
        self
    }

    fn from_tables(tables: Vec<Table>) -> Self {
        let by_name = tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name, i))
            .collect();
        Self {
            tables: Arc::new(tables),
            by_name: Arc::new(by_name),
            materialized: MaterializedColumns::default(),
        }
    }

    /// The same database with a team's materialized columns.
    pub fn with_materialized(mut self, materialized: MaterializedColumns) -> Self {
        self.materialized = materialized;
        self
    }

    /// The same database with `events` rewired for a persons-on-events mode, as PostHog's
    /// `create_hogql_database` does.
    pub fn with_persons_on_events_mode(mut self, mode: PersonsOnEventsMode) -> Self {
        let Some(&i) = self.by_name.get("events") else {
            return self;
        };
        let events = &mut Arc::make_mut(&mut self.tables)[i];
        let person_id_expression = || FieldDef {
            name: "person_id".to_owned(),
            field: Field::Expression(ExpressionField {
                expr: Some(OVERRIDE_PERSON_ID_EXPR.to_owned()),
                value_type: ValueType::Unknown,
                declared_nullable: None,
            }),
            excluded_from_asterisk: false,
        };
        let use_overrides = |events: &mut Table| {
            events.set_field(tables::column_def(
                "event_person_id",
                "person_id",
                ValueType::String,
                None,
                Some("UUID"),
            ));
            events.set_field(tables::join_def(
                "override",
                "person_distinct_id_overrides",
                JoinKind::LeftOuter,
                "distinct_id",
                "distinct_id",
            ));
            events.set_field(person_id_expression());
        };
        match mode {
            PersonsOnEventsMode::Disabled => {
                events.set_field(tables::traverser_def("person", &["pdi", "person"]));
                events.set_field(tables::traverser_def("person_id", &["pdi", "person_id"]));
            }
            PersonsOnEventsMode::PersonIdNoOverridePropertiesOnEvents => {
                events.set_field(tables::column_def(
                    "person_id",
                    "person_id",
                    ValueType::String,
                    None,
                    Some("UUID"),
                ));
                events.set_field(tables::traverser_def("person", &["poe"]));
            }
            PersonsOnEventsMode::PersonIdOverridePropertiesOnEvents => {
                use_overrides(events);
                events.set_field(tables::traverser_def("person", &["poe"]));
                if let Some(poe) = events.fields.iter_mut().find(|f| f.name == "poe")
                    && let Field::VirtualTable(fields) = &mut poe.field
                    && let Some(id) = fields.iter_mut().find(|f| f.name == "id")
                {
                    *id = FieldDef {
                        name: "id".to_owned(),
                        ..person_id_expression()
                    };
                }
            }
            PersonsOnEventsMode::PersonIdOverridePropertiesJoined => {
                use_overrides(events);
                events.set_field(tables::join_def(
                    "person",
                    "persons",
                    JoinKind::Inner,
                    "person_id",
                    "id",
                ));
            }
        }
        self
    }

    /// The same database with the team's group types reachable by name: `events.<group type>`
    /// is a traverser to `group_<index>` unless `events` already has a field of that name.
    pub fn with_group_types<'a>(
        mut self,
        group_types: impl IntoIterator<Item = (u8, &'a str)>,
    ) -> Self {
        let Some(&i) = self.by_name.get("events") else {
            return self;
        };
        let events = &mut Arc::make_mut(&mut self.tables)[i];
        for (index, name) in group_types {
            if index < 5 && !events.has_field(name) {
                events.fields.push(FieldDef {
                    name: name.to_owned(),
                    field: Field::Traverser(vec![GROUP_JOINS[usize::from(index)]]),
                    excluded_from_asterisk: false,
                });
            }
        }
        self
    }

    /// The table called `name` (exact), or ``Unknown table `name`.`` with up to three
    /// suggestions (difflib, cutoff 0.7) from PostHog's visible tables.
    pub fn table(&self, name: &str) -> Result<&Table> {
        if let Some(&i) = self.by_name.get(name) {
            return Ok(&self.tables[i]);
        }
        let lowered = name.to_lowercase();
        let candidates = SUGGESTED_TABLES
            .iter()
            .copied()
            .filter(|c| c.to_lowercase() != lowered);
        let suggestions = get_close_matches(name, candidates, 3, 0.7)
            .into_iter()
            .map(str::to_owned)
            .collect();
        Err(Error::UnknownTable {
            name: name.to_owned(),
            suggestions,
        })
    }

    /// Whether a table called `name` exists.
    pub fn has_table(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The field `name` of table `table`.
    pub fn field(&self, table: &str, name: &str) -> Result<&FieldDef> {
        self.table(table)?.field(name)
    }

    /// Follow a chain of field names from a table through lazy joins, virtual tables and
    /// traversers, e.g. `["person", "properties"]` on `events`. Returns the table the last field
    /// lives on and the field. Property paths below a JSON column are the caller's business.
    pub fn resolve_chain(&self, table: &str, chain: &[&str]) -> Result<(&Table, &FieldDef)> {
        let mut current = self.table(table)?;
        let mut scope: &[FieldDef] = &current.fields;
        let mut pending: Vec<&str> = chain.iter().rev().copied().collect();
        let mut last: Option<(&Table, &FieldDef)> = None;
        let mut hops = 0;
        while let Some(name) = pending.pop() {
            hops += 1;
            if hops > 64 {
                // Traversers pointing at each other; the default schema has none.
                return Err(Error::FieldNotFound {
                    name: name.to_owned(),
                });
            }
            let field =
                scope
                    .iter()
                    .find(|f| f.name == name)
                    .ok_or_else(|| Error::FieldNotFound {
                        name: name.to_owned(),
                    })?;
            let owner = current;
            match &field.field {
                Field::LazyJoin(join) => {
                    current = self.table(join.table)?;
                    scope = &current.fields;
                }
                // Virtual-table fields live on the same row: the owner stays.
                Field::VirtualTable(fields) => scope = fields,
                Field::Traverser(path) => {
                    pending.extend(path.iter().rev());
                    continue;
                }
                Field::Column(_) | Field::Expression(_) => {
                    if !pending.is_empty() {
                        // Deeper access into a column (properties.x) is not a schema lookup.
                        return Ok((owner, field));
                    }
                }
            }
            last = Some((owner, field));
        }
        last.ok_or_else(|| Error::FieldNotFound {
            name: String::new(),
        })
    }

    /// All tables, in definition order.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The table function called `name`, if `name` is one.
    pub fn table_function(&self, name: &str) -> Option<&'static TableFunction> {
        table_function(name)
    }
}
