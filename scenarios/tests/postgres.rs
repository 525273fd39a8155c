//! PostgreSQL with `sqlx`: a migration applied by sqlx's migrator, then queries, in a schema of its own.
#![cfg(feature = "services")]

use std::str::FromStr as _;

use sqlx::Row as _;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_applies_and_queries_see_its_table() -> anyhow::Result<()> {
    let url = scenarios::endpoints()?.database_url;
    let schema = scenarios::unique("sqlx");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await?;

    let options = PgConnectOptions::from_str(&url)?.options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await?;
    let migrator = sqlx::migrate::Migrator::new(
        conformance::paths::workspace_root().join("scenarios/migrations"),
    )
    .await?;
    migrator.run(&pool).await?;
    // Applying again is a no-op.
    migrator.run(&pool).await?;

    for (team, name) in [(1_i64, "web"), (1, "app"), (2, "docs")] {
        sqlx::query("INSERT INTO projects (team_id, name) VALUES ($1, $2)")
            .bind(team)
            .bind(name)
            .execute(&pool)
            .await?;
    }
    let rows = sqlx::query("SELECT name FROM projects WHERE team_id = $1 ORDER BY name")
        .bind(1_i64)
        .fetch_all(&pool)
        .await?;
    let names: Vec<String> = rows.iter().map(|r| r.get("name")).collect();
    assert_eq!(names, ["app", "web"]);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await?;
    assert_eq!(applied, 1);

    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}
