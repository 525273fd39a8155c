//! Person processing against a REAL PostgreSQL (feature `services`, env `DATABASE_URL`; a missing
//! variable FAILS the test): creation, `$set`/`$set_once`/`$unset`, identify links, a two-person merge,
//! the refusals, personless events and their later override. Each run uses its own schema.
#![cfg(feature = "services")]

use chrono::{TimeZone as _, Utc};
use ingest_worker::event_row::{IncomingEvent, PersonMode};
use ingest_worker::merge::{WARN_ALREADY_IDENTIFIED, WARN_ILLEGAL_ID};
use ingest_worker::person_id::person_uuid;
use ingest_worker::store::{PersonOutcome, process_person};
use ingest_worker::{Team, create_team, migrate};
use serde_json::{Value, json};
use sqlx::PgPool;

fn event(second: u32, name: &str, distinct_id: &str, properties: Value) -> IncomingEvent {
    IncomingEvent {
        uuid: uuid::Uuid::from_u128(u128::from(second)),
        token: String::new(),
        distinct_id: distinct_id.to_string(),
        event: name.to_string(),
        properties: properties.as_object().cloned().unwrap_or_default(),
        timestamp: Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, second).unwrap(),
        now: None,
        historical_migration: false,
    }
}

async fn run(
    pool: &PgPool,
    team: &Team,
    second: u32,
    name: &str,
    id: &str,
    props: Value,
) -> PersonOutcome {
    let mut ev = event(second, name, id, props);
    process_person(pool, team, &mut ev).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persons_follow_the_identity_rules() -> anyhow::Result<()> {
    let pipeline_kit::PgSchema {
        name: schema,
        admin,
        pool,
    } = pipeline_kit::pg_schema(
        &pipeline_kit::unique("ingest_persons"),
        pipeline_kit::stack_settings()?.postgres.url.as_str(),
        2,
    )
    .await?;
    migrate(&pool).await?; // idempotent
    let team = create_team(&pool, "persons").await?;
    assert!(team.api_token.starts_with("phc_"));
    let t = team.id;

    // Two anonymous persons.
    let a = run(
        &pool,
        &team,
        1,
        "$pageview",
        "anon-a",
        json!({"$set": {"a": 1, "shared": "anon"}, "$set_once": {"first": "a"}}),
    )
    .await;
    assert_eq!(a.person.uuid, person_uuid(t, "anon-a"));
    assert_eq!(a.person.mode, PersonMode::Full);
    assert_eq!(a.persons.len(), 1);
    assert_eq!(a.persons[0].version, 0);
    assert_eq!(a.distinct_ids.len(), 1);
    let b = run(
        &pool,
        &team,
        2,
        "$pageview",
        "user-b",
        json!({"$set": {"b": 2, "shared": "user"}, "$set_once": {"first": "b"}}),
    )
    .await;
    assert_eq!(b.person.uuid, person_uuid(t, "user-b"));

    // A property-less event writes nothing.
    let quiet = run(&pool, &team, 3, "$pageview", "user-b", json!({})).await;
    assert!(quiet.persons.is_empty() && quiet.distinct_ids.is_empty());

    // $identify with two persons: the event's person survives, the anonymous one is merged away.
    let m = run(
        &pool,
        &team,
        4,
        "$identify",
        "user-b",
        json!({"$anon_distinct_id": "anon-a"}),
    )
    .await;
    assert_eq!(m.person.uuid, person_uuid(t, "user-b"));
    assert_eq!(
        Value::Object(m.person.properties.clone()),
        json!({"a": 1, "shared": "user", "first": "b", "b": 2})
    );
    assert_eq!(
        m.person.created_at,
        Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 1).unwrap()
    );
    let deleted: Vec<_> = m.persons.iter().filter(|r| r.is_deleted == 1).collect();
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, person_uuid(t, "anon-a"));
    assert_eq!(deleted[0].version, 100);
    let survivor = m.persons.iter().rfind(|r| r.is_deleted == 0).unwrap();
    assert_eq!(
        (survivor.id, survivor.is_identified),
        (person_uuid(t, "user-b"), 1)
    );
    assert!(survivor.version >= 1);
    assert_eq!(m.distinct_ids.len(), 1);
    assert_eq!(
        (
            m.distinct_ids[0].distinct_id.as_str(),
            m.distinct_ids[0].person_id,
            m.distinct_ids[0].version
        ),
        ("anon-a", person_uuid(t, "user-b"), 1)
    );
    let persons: i64 = sqlx::query_scalar("SELECT count(*) FROM person")
        .fetch_one(&pool)
        .await?;
    assert_eq!(persons, 1);

    // Events of the merged-away id now resolve to the survivor; $unset deletes.
    let after = run(
        &pool,
        &team,
        5,
        "$pageview",
        "anon-a",
        json!({"$unset": ["a"]}),
    )
    .await;
    assert_eq!(after.person.uuid, person_uuid(t, "user-b"));
    assert!(!after.person.properties.contains_key("a"));

    // Linking a new id to an identified person is fine (only the merged-away side must be anonymous).
    let c = run(
        &pool,
        &team,
        6,
        "$identify",
        "user-c",
        json!({"$anon_distinct_id": "user-b"}),
    )
    .await;
    assert_eq!(c.person.uuid, person_uuid(t, "user-b"));
    assert!(c.warnings.is_empty());

    // Merging an identified person away is refused; the event keeps its own person.
    run(&pool, &team, 7, "$pageview", "user-d", json!({})).await;
    let d = run(
        &pool,
        &team,
        8,
        "$identify",
        "user-d",
        json!({"$anon_distinct_id": "user-b"}),
    )
    .await;
    assert_eq!(d.warnings, [WARN_ALREADY_IDENTIFIED]);
    assert_eq!(d.person.uuid, person_uuid(t, "user-d"));
    let illegal = run(
        &pool,
        &team,
        9,
        "$create_alias",
        "user-d",
        json!({"alias": "anonymous"}),
    )
    .await;
    assert_eq!(illegal.warnings, [WARN_ILLEGAL_ID]);

    // $merge_dangerously merges even an identified person away (user-b's person, which holds
    // anon-a, user-b and user-c) into the event's person; illegal ids are still refused.
    let refused = run(
        &pool,
        &team,
        20,
        "$merge_dangerously",
        "user-d",
        json!({"alias": "null"}),
    )
    .await;
    assert_eq!(refused.warnings, [WARN_ILLEGAL_ID]);
    let md = run(
        &pool,
        &team,
        21,
        "$merge_dangerously",
        "user-d",
        json!({"alias": "user-b", "$set": {"merged": true}}),
    )
    .await;
    assert!(md.warnings.is_empty(), "{:?}", md.warnings);
    assert_eq!(md.person.uuid, person_uuid(t, "user-d"));
    assert_eq!(md.person.properties["merged"], true);
    assert_eq!(
        md.person.properties["b"], 2,
        "the merged-away person's properties are kept"
    );
    assert_eq!(
        md.person.created_at,
        Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 1).unwrap(),
        "the older created_at wins"
    );
    let gone: Vec<_> = md.persons.iter().filter(|r| r.is_deleted == 1).collect();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].id, person_uuid(t, "user-b"));
    let mut moved: Vec<String> = md
        .distinct_ids
        .iter()
        .map(|r| {
            assert_eq!(r.person_id, person_uuid(t, "user-d"));
            r.distinct_id.clone()
        })
        .collect();
    moved.sort();
    assert_eq!(moved, ["anon-a", "user-b", "user-c"]);
    let owners: Vec<(String, uuid::Uuid)> = sqlx::query_as(
        "SELECT d.distinct_id, p.uuid FROM person_distinct_id d JOIN person p ON p.id = d.person_id \
         WHERE d.distinct_id IN ('anon-a', 'user-b', 'user-c', 'user-d') ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    assert!(
        owners.iter().all(|(_, p)| *p == person_uuid(t, "user-d")),
        "{owners:?}"
    );
    assert_eq!(owners.len(), 4);

    // $groupidentify never updates the sender's person.
    let gi = run(
        &pool,
        &team,
        22,
        "$groupidentify",
        "user-d",
        json!({"$group_type": "company", "$group_key": "acme", "$set": {"merged": false}}),
    )
    .await;
    assert!(gi.persons.is_empty());
    assert_eq!(gi.person.properties["merged"], true);

    // Personless: no person, the stand-in id; a later identify creates one person for both ids and
    // writes the personless id as an override (version 1).
    let ghost = run(
        &pool,
        &team,
        10,
        "$pageview",
        "ghost",
        json!({"$process_person_profile": false, "$set": {"x": 1}}),
    )
    .await;
    assert_eq!(ghost.person.mode, PersonMode::Propertyless);
    assert_eq!(ghost.person.uuid, person_uuid(t, "ghost"));
    assert!(ghost.persons.is_empty());
    let g = run(
        &pool,
        &team,
        11,
        "$identify",
        "ghost-user",
        json!({"$anon_distinct_id": "ghost", "$set": {"y": 2}}),
    )
    .await;
    assert_eq!(g.person.uuid, person_uuid(t, "ghost-user"));
    assert_eq!(Value::Object(g.person.properties.clone()), json!({"y": 2}));
    let versions: Vec<(String, i64)> = g
        .distinct_ids
        .iter()
        .map(|r| (r.distinct_id.clone(), r.version))
        .collect();
    assert_eq!(
        versions,
        [("ghost-user".to_string(), 0), ("ghost".to_string(), 1)]
    );
    let identified: bool = sqlx::query_scalar("SELECT is_identified FROM person WHERE uuid = $1")
        .bind(person_uuid(t, "ghost-user"))
        .fetch_one(&pool)
        .await?;
    assert!(identified);
    // A personless event of an id that has a person now, more than a minute after its creation.
    let mut late = event(
        0,
        "$pageview",
        "ghost",
        json!({"$process_person_profile": false}),
    );
    late.timestamp = Utc.with_ymd_and_hms(2026, 3, 1, 10, 5, 0).unwrap();
    let late = process_person(&pool, &team, &mut late).await?;
    assert_eq!(late.person.mode, PersonMode::ForceUpgrade);
    assert_eq!(late.person.uuid, person_uuid(t, "ghost-user"));

    // Person-ish properties are lifted (spec §3.4): the latest into $set, the first as $initial_*.
    // A personless event lifts nothing; $groupidentify neither.
    let mut anon = event(
        20,
        "$pageview",
        "web",
        json!({"$process_person_profile": false, "$current_url": "https://a/0"}),
    );
    let personless = process_person(&pool, &team, &mut anon).await?;
    assert!(personless.persons.is_empty());
    assert!(!anon.properties.contains_key("$set"));
    let w = run(
        &pool,
        &team,
        21,
        "$pageview",
        "web",
        json!({"$current_url": "https://a/1", "utm_source": "news", "$browser": "Firefox"}),
    )
    .await;
    let lifted = json!({"$current_url": "https://a/1", "utm_source": "news", "$browser": "Firefox",
        "$initial_current_url": "https://a/1", "$initial_utm_source": "news", "$initial_browser": "Firefox"});
    assert_eq!(Value::Object(w.person.properties.clone()), lifted);
    assert_eq!(w.persons.len(), 1);
    // The same page again changes nothing: no person row, no version bump.
    let same = run(
        &pool,
        &team,
        22,
        "$pageview",
        "web",
        json!({"$current_url": "https://a/1", "$browser": "Firefox"}),
    )
    .await;
    assert!(same.persons.is_empty());
    assert_eq!(Value::Object(same.person.properties.clone()), lifted);
    // A new page: $current_url follows, $initial_current_url stays; an explicit $set wins.
    let next = run(
        &pool,
        &team,
        23,
        "$pageview",
        "web",
        json!({"$current_url": "https://a/2", "$browser": "Chrome", "$set": {"$browser": "Mine"}}),
    )
    .await;
    assert_eq!(next.persons.len(), 1);
    assert_eq!(next.person.properties["$current_url"], "https://a/2");
    assert_eq!(
        next.person.properties["$initial_current_url"],
        "https://a/1"
    );
    assert_eq!(next.person.properties["$browser"], "Mine");
    assert_eq!(next.person.properties["$initial_browser"], "Firefox");
    let mut group = event(
        24,
        "$groupidentify",
        "web",
        json!({"$group_type": "company", "$group_key": "c1", "$current_url": "https://a/3"}),
    );
    let grouped = process_person(&pool, &team, &mut group).await?;
    assert!(grouped.persons.is_empty());
    assert!(!group.properties.contains_key("$set"));
    assert_eq!(grouped.person.properties["$current_url"], "https://a/2");

    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}
