//! Group rules against a REAL PostgreSQL (feature `services`, env `DATABASE_URL`; a missing variable
//! FAILS the test): group type indexes per project (first sight, at most five), and `$groupidentify`
//! upserts (version 1 on creation, +1 per change, no write without a change, earliest `created_at`).
#![cfg(feature = "services")]

use chrono::{TimeZone as _, Utc};
use ingest_worker::create_team;
use ingest_worker::store::{group_type_index, upsert_group};
use serde_json::{Map, Value, json};

fn map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_types_and_group_upserts() -> anyhow::Result<()> {
    let pipeline_kit::PgSchema {
        name: schema,
        admin,
        pool,
    } = pipeline_kit::pg_schema(
        &pipeline_kit::unique("ingest_groups"),
        pipeline_kit::stack_settings()?.postgres.url.as_str(),
        2,
    )
    .await?;
    let team = create_team(&pool, "groups").await?;
    let other = create_team(&pool, "other").await?;

    // Indexes in order of first sight, stable afterwards, at most five per project.
    let mut seen = Vec::new();
    for t in [
        "company", "project", "company", "team", "org", "unit", "sixth", "project",
    ] {
        seen.push(group_type_index(&pool, &team, t).await?);
    }
    assert_eq!(
        seen,
        [
            Some(0),
            Some(1),
            Some(0),
            Some(2),
            Some(3),
            Some(4),
            None,
            Some(1)
        ]
    );
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM group_type_mapping WHERE project_id = $1")
            .bind(team.project_id)
            .fetch_one(&pool)
            .await?;
    assert_eq!(rows, 5);
    // Another project starts at 0 again.
    assert_eq!(group_type_index(&pool, &other, "sixth").await?, Some(0));

    // Creation: version 1, the $group_set properties, created_at = the event time.
    let t1 = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    let created = upsert_group(&pool, &team, 0, "acme", &map(json!({"name": "Acme"})), t1)
        .await?
        .expect("a new group is written");
    assert_eq!(
        serde_json::to_value(&created)?,
        json!({"group_type_index": 0, "group_key": "acme", "team_id": team.id,
               "group_properties": "{\"name\":\"Acme\"}", "created_at": "2026-03-01 10:00:00",
               "version": 1})
    );
    // The same values again: nothing to write.
    let t2 = Utc.with_ymd_and_hms(2026, 3, 1, 11, 0, 0).unwrap();
    assert_eq!(
        upsert_group(&pool, &team, 0, "acme", &map(json!({"name": "Acme"})), t2).await?,
        None
    );
    // A change: version 2, merged properties; an earlier event moves created_at back.
    let t0 = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    let changed = upsert_group(
        &pool,
        &team,
        0,
        "acme",
        &map(json!({"name": "Acme Inc", "size": 12})),
        t0,
    )
    .await?
    .expect("a change is written");
    assert_eq!(changed.version, 2);
    assert_eq!(changed.created_at, "2026-02-01 00:00:00");
    assert_eq!(
        serde_json::from_str::<Value>(&changed.group_properties)?,
        json!({"name": "Acme Inc", "size": 12})
    );
    // A group with an empty $group_set is still created.
    let bare = upsert_group(&pool, &team, 1, "p-1", &Map::new(), t1).await?;
    assert_eq!(
        bare.map(|r| (r.version, r.group_properties)),
        Some((1, "{}".to_string()))
    );
    let (props, version): (sqlx::types::Json<Value>, i64) = sqlx::query_as(
        "SELECT group_properties, version FROM groups WHERE team_id = $1 AND group_type_index = 0 AND group_key = 'acme'",
    )
    .bind(team.id)
    .fetch_one(&pool)
    .await?;
    assert_eq!(props.0, json!({"name": "Acme Inc", "size": 12}));
    assert_eq!(version, 2);

    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}
