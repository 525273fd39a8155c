//! `hogref team create --name N`: creates a team in PostgreSQL (`DATABASE_URL`; the schema is migrated
//! first) with a query API key, and prints it as JSON (`id`, `project_id`, `name`, `api_token`,
//! `timezone`, `personal_api_key`). `api_token` (`phc_…`) is the public project token capture takes;
//! `personal_api_key` (`phx_…`) is the secret the query API takes as `Authorization: Bearer`, shown once.

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub(crate) struct TeamArgs {
    #[command(subcommand)]
    command: TeamCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TeamCommand {
    /// Create a team with a fresh project API token (`phc_…`) and a query API key (`phx_…`).
    Create {
        /// The team's name.
        #[arg(long)]
        name: String,
    },
}

pub(crate) fn run(args: TeamArgs) -> anyhow::Result<i32> {
    let TeamCommand::Create { name } = args.command;
    let url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .context("environment variable DATABASE_URL is not set (a postgres:// URL)")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (team, key) = runtime.block_on(async {
        let pool = ingest_worker::connect(&url).await?;
        ingest_worker::migrate(&pool).await?;
        let team = ingest_worker::create_team(&pool, &name).await?;
        let key = query_api::auth::create_api_key(&pool, team.id, "hogref team create").await?;
        pool.close().await;
        Ok::<_, anyhow::Error>((team, key))
    })?;
    println!(
        "{}",
        serde_json::json!({
            "id": team.id,
            "project_id": team.project_id,
            "name": team.name,
            "api_token": team.api_token,
            "timezone": team.timezone,
            "personal_api_key": key,
        })
    );
    Ok(0)
}
