//! PostgreSQL: schema migrations (embedded), teams by token, and person processing (identify/alias
//! links and merges, property updates with a version bump) in one transaction per batch of events
//! ([`PersonBatch`]: the batch's persons are read and locked in one query, events that change nothing
//! cost no statement, and the writes share the transaction). It returns the ClickHouse rows that
//! mirror every change; the worker produces them once the transaction committed.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::Result;
use crate::event_row::{
    DistinctIdRow, EventPerson, IncomingEvent, PersonMode, PersonRow, is_personless,
    strip_person_operations,
};
use crate::lift::lift_person_properties;
use crate::merge::{MergeDecision, PersonFacts, decide_for, merge_request, merged_properties};
use crate::person_id::person_uuid;
use crate::properties::PropertyUpdates;

/// The embedded migrations of `migrations/`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A connection pool for `database_url` (a `postgres://` URL).
pub async fn connect(database_url: &str) -> Result<PgPool> {
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(database_url)
        .await?)
}

/// Applies the embedded migrations (idempotent).
pub async fn migrate(pool: &PgPool) -> Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}

/// A team (project) as ingestion needs it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Team {
    pub id: i64,
    pub project_id: i64,
    pub name: String,
    pub api_token: String,
    pub timezone: String,
    pub anonymize_ips: bool,
    pub person_processing_opt_out: bool,
}

const TEAM_COLUMNS: &str = "id, COALESCE(project_id, id) AS project_id, name, api_token, timezone, anonymize_ips, person_processing_opt_out";

/// Creates a team with a fresh `phc_` token.
pub async fn create_team(pool: &PgPool, name: &str) -> Result<Team> {
    let team = sqlx::query_as::<_, Team>(&format!(
        "INSERT INTO team (name, api_token) VALUES ($1, 'phc_' || replace(gen_random_uuid()::text, '-', '')) \
         RETURNING {TEAM_COLUMNS}"
    ))
    .bind(name)
    .fetch_one(pool)
    .await?;
    Ok(team)
}

/// The team whose `api_token` is `token`.
pub async fn team_by_token(pool: &PgPool, token: &str) -> Result<Option<Team>> {
    Ok(sqlx::query_as::<_, Team>(&format!(
        "SELECT {TEAM_COLUMNS} FROM team WHERE api_token = $1"
    ))
    .bind(token)
    .fetch_optional(pool)
    .await?)
}

/// A person row as loaded from PostgreSQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: i64,
    pub uuid: Uuid,
    pub properties: Map<String, Value>,
    pub created_at: DateTime<Utc>,
    pub is_identified: bool,
    pub version: i64,
}

type PersonTuple = (i64, Uuid, Json<Value>, DateTime<Utc>, bool, i64);

/// `(team, distinct id)` and the [`PersonTuple`] of its person.
type PreloadRow = (
    i64,
    String,
    i64,
    Uuid,
    Json<Value>,
    DateTime<Utc>,
    bool,
    i64,
);

fn person_from(t: PersonTuple) -> Person {
    Person {
        id: t.0,
        uuid: t.1,
        properties: match t.2.0 {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        created_at: t.3,
        is_identified: t.4,
        version: t.5,
    }
}

/// Everything person processing decided for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonOutcome {
    /// The person the event row is written with.
    pub person: EventPerson,
    /// `clickhouse_person` rows to produce.
    pub persons: Vec<PersonRow>,
    /// `clickhouse_person_distinct_id` rows to produce.
    pub distinct_ids: Vec<DistinctIdRow>,
    /// Ingestion warnings (type names).
    pub warnings: Vec<&'static str>,
}

fn person_row(team_id: i64, p: &Person) -> PersonRow {
    PersonRow::new(
        p.uuid,
        team_id,
        &p.created_at,
        &p.properties,
        p.is_identified,
        p.version,
        false,
    )
}

/// Whether a PostgreSQL error is a race with a concurrent writer (unique violation, serialization
/// failure, deadlock), after which the whole batch is worth running again.
pub fn is_retryable(error: &crate::Error) -> bool {
    match error {
        crate::Error::Postgres(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("23505" | "40001" | "40P01"))
        }
        _ => false,
    }
}

/// Attempts at a batch that lost a race with a concurrent writer before the error is returned.
pub const RACE_ATTEMPTS: usize = 5;

/// The teams whose `api_token` is one of `tokens`, in one query.
pub async fn teams_by_tokens(pool: &PgPool, tokens: &[String]) -> Result<Vec<Team>> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as::<_, Team>(&format!(
        "SELECT {TEAM_COLUMNS} FROM team WHERE api_token = ANY($1)"
    ))
    .bind(tokens)
    .fetch_all(pool)
    .await?)
}

/// The PostgreSQL side of one batch of events: one transaction, the batch's persons read (and locked)
/// in one query up front, and an in-memory view of every person and distinct id the batch has read or
/// written, so that an event that changes nothing costs no round trip. [`PersonBatch::commit`] makes
/// every change of the batch visible at once; dropping it unfinished rolls all of them back.
pub struct PersonBatch {
    tx: Transaction<'static, Postgres>,
    /// `(team, distinct id)` → the person it belongs to (`None`: known to have none).
    distinct_ids: HashMap<(i64, String), Option<i64>>,
    /// Persons read or written by this batch, locked by its transaction.
    persons: HashMap<i64, Person>,
    /// `(team, distinct id)` pairs this batch already recorded as personless.
    personless_seen: HashSet<(i64, String)>,
    /// PostgreSQL statements run (for tests and benches: the work a batch costs).
    pub statements: u64,
}

impl std::fmt::Debug for PersonBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonBatch")
            .field("distinct_ids", &self.distinct_ids.len())
            .field("persons", &self.persons.len())
            .field("statements", &self.statements)
            .finish_non_exhaustive()
    }
}

impl PersonBatch {
    /// Opens the batch's transaction.
    pub async fn begin(pool: &PgPool) -> Result<PersonBatch> {
        Ok(PersonBatch {
            tx: pool.begin().await?,
            distinct_ids: HashMap::new(),
            persons: HashMap::new(),
            personless_seen: HashSet::new(),
            statements: 0,
        })
    }

    /// Reads and locks, in one query, the persons of every `(team, distinct id)` pair not read yet
    /// (in person id order, so that two batches lock their common persons in the same order).
    pub async fn preload(&mut self, pairs: &[(i64, String)]) -> Result<()> {
        let mut teams = Vec::new();
        let mut ids = Vec::new();
        for (team, id) in pairs {
            let key = (*team, id.clone());
            if self.distinct_ids.contains_key(&key) {
                continue;
            }
            self.distinct_ids.insert(key, None);
            teams.push(*team);
            ids.push(id.clone());
        }
        if ids.is_empty() {
            return Ok(());
        }
        self.statements += 1;
        let rows: Vec<PreloadRow> =
            sqlx::query_as(
                "SELECT d.team_id, d.distinct_id, p.id, p.uuid, p.properties, p.created_at, p.is_identified, p.version \
                 FROM person_distinct_id d JOIN person p ON p.id = d.person_id \
                 WHERE (d.team_id, d.distinct_id) IN (SELECT * FROM unnest($1::bigint[], $2::text[])) \
                 ORDER BY p.id FOR UPDATE OF p",
            )
            .bind(&teams)
            .bind(&ids)
            .fetch_all(&mut *self.tx)
            .await?;
        for (team, distinct_id, id, uuid, properties, created_at, is_identified, version) in rows {
            self.distinct_ids.insert((team, distinct_id), Some(id));
            self.persons.entry(id).or_insert_with(|| {
                person_from((id, uuid, properties, created_at, is_identified, version))
            });
        }
        Ok(())
    }

    /// Commits every change of the batch.
    pub async fn commit(mut self) -> Result<()> {
        self.statements += 1;
        self.tx.commit().await?;
        Ok(())
    }

    /// The person of `distinct_id`, locked for the transaction.
    async fn person_of(&mut self, team_id: i64, distinct_id: &str) -> Result<Option<Person>> {
        let key = (team_id, distinct_id.to_string());
        if !self.distinct_ids.contains_key(&key) {
            self.preload(std::slice::from_ref(&key)).await?;
        }
        match self.distinct_ids.get(&key) {
            Some(Some(id)) => Ok(self.persons.get(id).cloned()),
            _ => Ok(None),
        }
    }

    async fn person_by_id(&mut self, id: i64) -> Result<Person> {
        if let Some(p) = self.persons.get(&id) {
            return Ok(p.clone());
        }
        self.statements += 1;
        let row: PersonTuple = sqlx::query_as(
            "SELECT id, uuid, properties, created_at, is_identified, version FROM person WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_one(&mut *self.tx)
        .await?;
        let person = person_from(row);
        self.persons.insert(id, person.clone());
        Ok(person)
    }

    /// Remembers `person` as written by this batch.
    fn remember(&mut self, person: &Person) {
        self.persons.insert(person.id, person.clone());
    }
}

/// Processes the person side of `event` in a batch of its own (see [`PersonBatch`]), committed
/// before it returns. Retries a few times when a concurrent writer wins a race.
pub async fn process_person(
    pool: &PgPool,
    team: &Team,
    event: &mut IncomingEvent,
) -> Result<PersonOutcome> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut try_event = event.clone();
        let result = async {
            let mut batch = PersonBatch::begin(pool).await?;
            let outcome = process_person_in(&mut batch, team, &mut try_event).await?;
            batch.commit().await?;
            Ok(outcome)
        }
        .await;
        match result {
            Err(e) if attempt < RACE_ATTEMPTS && is_retryable(&e) => continue,
            other => {
                *event = try_event;
                return other;
            }
        }
    }
}

/// Processes the person side of `event` inside `batch` (mutating its properties: person operations
/// stripped from personless events, person-ish properties lifted for the others) and returns the
/// person to write the event with and the rows that mirror the changes.
pub async fn process_person_in(
    batch: &mut PersonBatch,
    team: &Team,
    event: &mut IncomingEvent,
) -> Result<PersonOutcome> {
    if event.event == "$groupidentify" {
        // A group's properties travel in `$group_set`; the sender's person is not updated.
        strip_person_operations(&mut event.properties);
    }
    if is_personless(&event.properties) || team.person_processing_opt_out {
        strip_person_operations(&mut event.properties);
        return personless(batch, team, event).await;
    }
    // Person-ish properties ($current_url, utm_*, ...) go into $set and, as $initial_*, $set_once
    // (spec §3.4). Only here: personless events and $groupidentify keep no person operations.
    if event.event != "$groupidentify" {
        lift_person_properties(&event.event, &mut event.properties);
    }
    personful(batch, team, event).await
}

/// The distinct ids whose persons `event` may read: its own and, for a merge, the other one.
pub fn distinct_ids_of(event: &IncomingEvent) -> Vec<String> {
    let mut ids = vec![event.distinct_id.clone()];
    if let Some(request) = merge_request(&event.event, &event.properties) {
        ids.push(request.other);
    }
    ids
}

async fn personless(
    batch: &mut PersonBatch,
    team: &Team,
    event: &IncomingEvent,
) -> Result<PersonOutcome> {
    let existing = batch.person_of(team.id, &event.distinct_id).await?;
    if existing.is_none()
        && batch
            .personless_seen
            .insert((team.id, event.distinct_id.clone()))
    {
        batch.statements += 1;
        sqlx::query(
            "INSERT INTO personless_distinct_id (team_id, distinct_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(team.id)
        .bind(&event.distinct_id)
        .execute(&mut *batch.tx)
        .await?;
    }
    let person = match existing {
        None => EventPerson::propertyless(team.id, &event.distinct_id),
        Some(p) => {
            let upgrade = !team.person_processing_opt_out
                && event.timestamp > p.created_at + Duration::minutes(1);
            EventPerson {
                uuid: p.uuid,
                properties: if upgrade { p.properties } else { Map::new() },
                created_at: p.created_at,
                mode: if upgrade {
                    PersonMode::ForceUpgrade
                } else {
                    PersonMode::Propertyless
                },
            }
        }
    };
    Ok(PersonOutcome {
        person,
        persons: Vec::new(),
        distinct_ids: Vec::new(),
        warnings: Vec::new(),
    })
}

/// Inserts a distinct id for `person`; version 1 if the id was used personless before (an override).
async fn add_distinct_id(
    batch: &mut PersonBatch,
    team_id: i64,
    person: &Person,
    distinct_id: &str,
) -> Result<DistinctIdRow> {
    batch.statements += 1;
    // One statement: mark a personless use as merged, and insert with version 1 when there was one.
    let (version,): (i64,) = sqlx::query_as(
        "WITH merged AS (UPDATE personless_distinct_id SET is_merged = true \
         WHERE team_id = $1 AND distinct_id = $3 AND NOT is_merged RETURNING 1) \
         INSERT INTO person_distinct_id (team_id, person_id, distinct_id, version) \
         SELECT $1, $2, $3, (SELECT count(*) FROM merged) RETURNING version",
    )
    .bind(team_id)
    .bind(person.id)
    .bind(distinct_id)
    .fetch_one(&mut *batch.tx)
    .await?;
    batch
        .distinct_ids
        .insert((team_id, distinct_id.to_string()), Some(person.id));
    Ok(DistinctIdRow {
        team_id,
        distinct_id: distinct_id.to_string(),
        person_id: person.uuid,
        is_deleted: 0,
        version,
    })
}

async fn insert_person(
    batch: &mut PersonBatch,
    team_id: i64,
    uuid: Uuid,
    properties: &Map<String, Value>,
    created_at: DateTime<Utc>,
    is_identified: bool,
) -> Result<Person> {
    let now: Map<String, Value> = properties
        .keys()
        .map(|k| (k.clone(), Value::String(created_at.to_rfc3339())))
        .collect();
    batch.statements += 1;
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO person (uuid, team_id, properties, properties_last_updated_at, is_identified, version, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id",
    )
    .bind(uuid)
    .bind(team_id)
    .bind(Json(Value::Object(properties.clone())))
    .bind(Json(Value::Object(now)))
    .bind(is_identified)
    .bind(created_at)
    .fetch_one(&mut *batch.tx)
    .await?;
    let person = Person {
        id,
        uuid,
        properties: properties.clone(),
        created_at,
        is_identified,
        version: 0,
    };
    batch.remember(&person);
    Ok(person)
}

/// Writes `person` back with a version bump; `changed` keys get `properties_last_updated_at = at`.
async fn save_person(
    batch: &mut PersonBatch,
    person: &mut Person,
    changed: &[String],
    at: DateTime<Utc>,
) -> Result<()> {
    let stamps: Map<String, Value> = changed
        .iter()
        .map(|k| (k.clone(), Value::String(at.to_rfc3339())))
        .collect();
    batch.statements += 1;
    let (version,): (i64,) = sqlx::query_as(
        "UPDATE person SET properties = $2, properties_last_updated_at = properties_last_updated_at || $3, \
         is_identified = $4, created_at = $5, version = version + 1 WHERE id = $1 RETURNING version",
    )
    .bind(person.id)
    .bind(Json(Value::Object(person.properties.clone())))
    .bind(Json(Value::Object(stamps)))
    .bind(person.is_identified)
    .bind(person.created_at)
    .fetch_one(&mut *batch.tx)
    .await?;
    person.version = version;
    batch.remember(person);
    Ok(())
}

async fn personful(
    batch: &mut PersonBatch,
    team: &Team,
    event: &IncomingEvent,
) -> Result<PersonOutcome> {
    let mut persons = Vec::new();
    let mut distinct_ids = Vec::new();
    let mut warnings = Vec::new();
    let updates = PropertyUpdates::from_properties(&event.properties);
    let did = event.distinct_id.as_str();
    let mut identify = false;

    if let Some(request) = merge_request(&event.event, &event.properties) {
        let mine = batch.person_of(team.id, did).await?;
        let theirs = batch.person_of(team.id, &request.other).await?;
        let facts = |p: &Option<Person>| {
            p.as_ref().map(|p| PersonFacts {
                id: p.id,
                is_identified: p.is_identified,
            })
        };
        match decide_for(
            did,
            facts(&mine),
            &request.other,
            facts(&theirs),
            request.dangerously,
        ) {
            MergeDecision::AlreadyLinked => identify = true,
            MergeDecision::Refused { warning } => warnings.push(warning),
            MergeDecision::CreateWithBoth => {
                identify = true;
                let person = insert_person(
                    batch,
                    team.id,
                    person_uuid(team.id, did),
                    &updates.initial_properties(),
                    event.timestamp,
                    true,
                )
                .await?;
                persons.push(person_row(team.id, &person));
                distinct_ids.push(add_distinct_id(batch, team.id, &person, did).await?);
                distinct_ids.push(add_distinct_id(batch, team.id, &person, &request.other).await?);
            }
            MergeDecision::AddDistinctId {
                person,
                distinct_id,
            } => {
                identify = true;
                let person = batch.person_by_id(person).await?;
                distinct_ids.push(add_distinct_id(batch, team.id, &person, &distinct_id).await?);
            }
            MergeDecision::Merge { target, source } => {
                identify = true;
                let mut into = batch.person_by_id(target).await?;
                let from = batch.person_by_id(source).await?;
                into.properties = merged_properties(&into.properties, &from.properties);
                into.created_at = into.created_at.min(from.created_at);
                into.is_identified = true;
                let changed: Vec<String> = into.properties.keys().cloned().collect();
                save_person(batch, &mut into, &changed, event.timestamp).await?;
                let floor = into.version.max(from.version + 1);
                if floor > into.version {
                    batch.statements += 1;
                    sqlx::query("UPDATE person SET version = $2 WHERE id = $1")
                        .bind(into.id)
                        .bind(floor)
                        .execute(&mut *batch.tx)
                        .await?;
                    into.version = floor;
                    batch.remember(&into);
                }
                batch.statements += 2;
                let moved: Vec<(String, i64)> = sqlx::query_as(
                    "UPDATE person_distinct_id SET person_id = $2, version = version + 1 \
                     WHERE person_id = $1 RETURNING distinct_id, version",
                )
                .bind(from.id)
                .bind(into.id)
                .fetch_all(&mut *batch.tx)
                .await?;
                sqlx::query("DELETE FROM person WHERE id = $1")
                    .bind(from.id)
                    .execute(&mut *batch.tx)
                    .await?;
                batch.persons.remove(&from.id);
                persons.push(person_row(team.id, &into));
                persons.push(PersonRow::new(
                    from.uuid,
                    team.id,
                    &from.created_at,
                    &from.properties,
                    from.is_identified,
                    from.version,
                    true,
                ));
                for (distinct_id, version) in moved {
                    batch
                        .distinct_ids
                        .insert((team.id, distinct_id.clone()), Some(into.id));
                    distinct_ids.push(DistinctIdRow {
                        team_id: team.id,
                        distinct_id,
                        person_id: into.uuid,
                        is_deleted: 0,
                        version,
                    });
                }
            }
        }
    }

    let person = match batch.person_of(team.id, did).await? {
        Some(mut person) => {
            let changed = updates.apply(&mut person.properties);
            let newly_identified = identify && !person.is_identified;
            person.is_identified |= identify;
            if !changed.is_empty() || newly_identified {
                save_person(batch, &mut person, &changed, event.timestamp).await?;
                persons.push(person_row(team.id, &person));
            }
            person
        }
        None => {
            let person = insert_person(
                batch,
                team.id,
                person_uuid(team.id, did),
                &updates.initial_properties(),
                event.timestamp,
                identify,
            )
            .await?;
            persons.push(person_row(team.id, &person));
            distinct_ids.push(add_distinct_id(batch, team.id, &person, did).await?);
            person
        }
    };
    // Several rows of one person may be listed; the last one carries the highest version.
    Ok(PersonOutcome {
        person: EventPerson {
            uuid: person.uuid,
            properties: person.properties,
            created_at: person.created_at,
            mode: PersonMode::Full,
        },
        persons,
        distinct_ids,
        warnings,
    })
}

/// The index of `group_type` in the team's project, creating the mapping on first sight with the
/// lowest free index. `None` once the project has its five types (the type is then ignored).
pub async fn group_type_index(pool: &PgPool, team: &Team, group_type: &str) -> Result<Option<i16>> {
    for _ in 0..5 {
        let found: Option<(i16,)> = sqlx::query_as(
            "SELECT group_type_index FROM group_type_mapping WHERE project_id = $1 AND group_type = $2",
        )
        .bind(team.project_id)
        .bind(group_type)
        .fetch_optional(pool)
        .await?;
        if let Some((index,)) = found {
            return Ok(Some(index));
        }
        let used: Vec<(i16,)> = sqlx::query_as(
            "SELECT group_type_index FROM group_type_mapping WHERE project_id = $1 ORDER BY group_type_index",
        )
        .bind(team.project_id)
        .fetch_all(pool)
        .await?;
        let Some(free) =
            (0..crate::groups::MAX_GROUP_TYPES).find(|i| !used.iter().any(|(u,)| u == i))
        else {
            return Ok(None);
        };
        // A concurrent writer may take the same index or type: then look again.
        let inserted: Option<(i16,)> = sqlx::query_as(
            "INSERT INTO group_type_mapping (team_id, project_id, group_type, group_type_index) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING group_type_index",
        )
        .bind(team.id)
        .bind(team.project_id)
        .bind(group_type)
        .bind(free)
        .fetch_optional(pool)
        .await?;
        if let Some((index,)) = inserted {
            return Ok(Some(index));
        }
    }
    Ok(None)
}

/// Applies a `$groupidentify` in a transaction of its own; see [`upsert_group_in`].
pub async fn upsert_group(
    pool: &PgPool,
    team: &Team,
    index: i16,
    key: &str,
    set: &Map<String, Value>,
    timestamp: DateTime<Utc>,
) -> Result<Option<crate::groups::GroupRow>> {
    let mut batch = PersonBatch::begin(pool).await?;
    let row = upsert_group_in(&mut batch, team, index, key, set, timestamp).await?;
    batch.commit().await?;
    Ok(row)
}

/// Applies a `$groupidentify` to the group `(team, index, key)`: a new group gets the `$group_set`
/// properties, `created_at` = the event time (never later than now) and version 1; an existing one
/// is written (version + 1, `created_at` = the earlier of both) only when a property changed.
/// Returns the `clickhouse_groups` row of the write, `None` when nothing changed.
pub async fn upsert_group_in(
    batch: &mut PersonBatch,
    team: &Team,
    index: i16,
    key: &str,
    set: &Map<String, Value>,
    timestamp: DateTime<Utc>,
) -> Result<Option<crate::groups::GroupRow>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        batch.statements += 1;
        let current: Option<(Json<Value>, DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT group_properties, created_at, version FROM groups \
             WHERE team_id = $1 AND group_type_index = $2 AND group_key = $3 FOR UPDATE",
        )
        .bind(team.id)
        .bind(index)
        .bind(key)
        .fetch_optional(&mut *batch.tx)
        .await?;
        let row = match current {
            None => {
                let created_at = timestamp.min(Utc::now());
                batch.statements += 1;
                let inserted: Option<(i64,)> = sqlx::query_as(
                    "INSERT INTO groups (team_id, group_type_index, group_key, group_properties, created_at, version) \
                     VALUES ($1, $2, $3, $4, $5, 1) ON CONFLICT DO NOTHING RETURNING version",
                )
                .bind(team.id)
                .bind(index)
                .bind(key)
                .bind(Json(Value::Object(set.clone())))
                .bind(created_at)
                .fetch_optional(&mut *batch.tx)
                .await?;
                match inserted {
                    Some((version,)) => Some(crate::groups::GroupRow::new(
                        team.id,
                        index,
                        key,
                        set,
                        &created_at,
                        version,
                    )),
                    // Someone inserted it meanwhile: read it again and update it.
                    None if attempt < 5 => continue,
                    None => None,
                }
            }
            Some((properties, created_at, _)) => {
                let current = match properties.0 {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                match crate::groups::apply_group_set(&current, set) {
                    None => None,
                    Some(next) => {
                        let created_at = created_at.min(timestamp);
                        batch.statements += 1;
                        let (version,): (i64,) = sqlx::query_as(
                            "UPDATE groups SET group_properties = $4, created_at = $5, version = version + 1 \
                             WHERE team_id = $1 AND group_type_index = $2 AND group_key = $3 RETURNING version",
                        )
                        .bind(team.id)
                        .bind(index)
                        .bind(key)
                        .bind(Json(Value::Object(next.clone())))
                        .bind(created_at)
                        .fetch_one(&mut *batch.tx)
                        .await?;
                        Some(crate::groups::GroupRow::new(
                            team.id,
                            index,
                            key,
                            &next,
                            &created_at,
                            version,
                        ))
                    }
                }
            }
        };
        return Ok(row);
    }
}
