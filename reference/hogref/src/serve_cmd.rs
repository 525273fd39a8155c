//! `hogref serve`: the reference server. By default capture, the ingestion worker and the query API run
//! in one process; `--capture-only`, `--worker-only` and `--query-only` run one of them.
//!
//! Configuration comes from the environment, with the compose stack's names (crate `settings`):
//! `DATABASE_URL`, `CLICKHOUSE_URL`/`_DATABASE`/`_USER`/`_PASSWORD`, `REDIS_URL`, `KAFKA_HOSTS`,
//! `KAFKA_PREFIX`, `HOGREF_BIND_ADDRESS`, `HOGREF_CAPTURE_PORT` (3000), `HOGREF_QUERY_PORT` (8000),
//! `HOGREF_LOG_LEVEL`, `INGESTION_WORKER_INDEX`/`_COUNT`, `INGESTION_CONSUMER_GROUP`; the worker's
//! configuration comes from these settings only. `--port P` serves every HTTP API on the one port P
//! instead.
//!
//! - capture: PostHog's v0 capture endpoints producing to Kafka.
//! - worker: consumes `events_plugin_ingestion`, resolves teams and persons in PostgreSQL, produces
//!   ClickHouse rows; consumer group `INGESTION_CONSUMER_GROUP` (default `ingestion-events`).
//! - query: `POST /api/projects/:team_id/query` (crate `query-api`), results cached in Redis.
//!
//! On start it migrates PostgreSQL (the worker's schema, API keys included) and, unless
//! `--no-migrate`, applies Hogref's ClickHouse migrations (`--migrations DIR`). Logs are JSON lines on
//! stderr; `/metrics` serves Prometheus counters. On SIGTERM or Ctrl-C listeners stop accepting,
//! in-flight requests finish, the producer is flushed, then the worker commits and stops.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::routing::get;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve only the capture endpoints (`/e`, `/i/v0/e`, `/capture`, `/track`, `/engage`, `/batch`).
    #[arg(long, conflicts_with_all = ["worker_only", "query_only"])]
    capture_only: bool,
    /// Run only the ingestion worker (Kafka → PostgreSQL persons → Kafka rows for ClickHouse).
    #[arg(long, conflicts_with = "query_only")]
    worker_only: bool,
    /// Serve only the query API.
    #[arg(long)]
    query_only: bool,
    /// One port for every HTTP API (default: HOGREF_CAPTURE_PORT for capture, HOGREF_QUERY_PORT for queries).
    #[arg(long)]
    port: Option<u16>,
    /// Address to listen on (default: HOGREF_BIND_ADDRESS, else 0.0.0.0).
    #[arg(long)]
    host: Option<IpAddr>,
    /// Do not apply the ClickHouse migrations on start.
    #[arg(long)]
    no_migrate: bool,
    /// Hogref's ClickHouse migrations.
    #[arg(long, default_value = "migrations/clickhouse")]
    migrations: String,
    /// How long a query result stays in the Redis cache, in seconds.
    #[arg(long, default_value_t = query_api::DEFAULT_CACHE_TTL_SECONDS)]
    query_cache_ttl: u64,
}

/// The settings from the process environment, and which of [`settings::DEV_DEFAULTS`] filled a gap
/// (logged once the logger is up).
fn load_settings() -> anyhow::Result<(settings::Settings, Vec<&'static str>)> {
    settings::Settings::for_development(std::env::vars()).context("configuration")
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<i32> {
    let (settings, defaulted) = load_settings()?;
    logging::init(settings.server.log_level)?;
    for var in defaulted {
        tracing::warn!(var, "setting not set; using a throwaway development value");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args, settings))?;
    Ok(0)
}

/// Checks and applies Hogref's ClickHouse migrations on the one node at `CLICKHOUSE_URL`.
fn migrate_clickhouse(dir: &str, settings: &settings::Settings) -> anyhow::Result<()> {
    use migration_checker::{Config, SourceSet};
    let set = SourceSet::read(dir).with_context(|| {
        format!("reading ClickHouse migrations from {dir} (pass --migrations DIR, or --no-migrate)")
    })?;
    let report = migration_checker::check(std::slice::from_ref(&set), &Config::built_in("hogref")?);
    if !report.diagnostics.is_empty() {
        anyhow::bail!(
            "refusing to migrate: the checker found problems\n{}",
            report.render_text()
        );
    }
    let (migrations, _) = set.migrations();
    let mut env = migration_runner::topology::Env::from_process();
    env.kafka_hosts = Some(settings.kafka.bootstrap_servers());
    let topology = migration_runner::Topology::single_node(
        settings.clickhouse.url.as_str().trim_end_matches('/'),
        &settings.clickhouse.database,
        &env,
    );
    let report = migration_runner::apply(&topology, &migrations)?;
    tracing::info!(
        applied = %report.applied.join(", "),
        already_applied = report.already_applied.len(),
        "clickhouse migrations"
    );
    Ok(())
}

type ServerTask = tokio::task::JoinHandle<std::io::Result<()>>;

async fn listen(
    addr: SocketAddr,
    router: Router,
    what: &str,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<ServerTask> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(
        api = what,
        url = %format_args!("http://{}", listener.local_addr()?),
        "listening"
    );
    let mut stopped = stopped.clone();
    Ok(tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
        .await
    }))
}

async fn serve(args: ServeArgs, settings: settings::Settings) -> anyhow::Result<()> {
    let runs_capture = !args.worker_only && !args.query_only;
    let runs_worker = !args.capture_only && !args.query_only;
    let runs_query = !args.capture_only && !args.worker_only;
    let host = args.host.unwrap_or(settings.server.bind_address);
    let kafka_hosts = settings.kafka.bootstrap_servers();
    let kafka_prefix = settings.kafka.prefix.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);

    // Topics before ClickHouse: a Kafka table created while its topic is missing may never be
    // assigned some partitions (brokers like tansu do not auto-create topics).
    let migrates = !args.no_migrate && (runs_query || runs_worker);
    if runs_capture || runs_worker || migrates {
        let topics: Vec<String> = ingest_worker::pipeline_topics()
            .into_iter()
            .map(|t| settings.kafka.topic(t))
            .collect();
        ingest_worker::create_topics(&kafka_hosts, &topics, 3)
            .await
            .context("creating the Kafka topics")?;
    }
    if migrates {
        let (dir, settings) = (args.migrations.clone(), settings.clone());
        tokio::task::spawn_blocking(move || migrate_clickhouse(&dir, &settings)).await??;
    }

    let pool = if runs_worker || runs_query {
        tracing::info!(
            "connecting to PostgreSQL (DATABASE_URL); the pool gives up after its acquire timeout"
        );
        let pool = ingest_worker::connect(settings.postgres.url.as_str())
            .await
            .context("connecting to PostgreSQL (DATABASE_URL)")?;
        ingest_worker::migrate(&pool).await?;
        Some(pool)
    } else {
        None
    };

    let mut worker_task = None;
    if runs_worker && let Some(pool) = &pool {
        let config = ingest_worker::WorkerConfig::from_settings(&settings);
        let (index, count) = (settings.worker.index, settings.worker.count);
        let worker = ingest_worker::Worker::new(config.clone(), pool.clone())?
            .with_partition_share(index, count)?;
        tracing::info!(
            topic = %format_args!("{}events_plugin_ingestion", config.kafka_prefix),
            group = %config.group_id,
            kafka = %config.kafka_hosts,
            worker_index = index,
            worker_count = count,
            "worker consuming"
        );
        worker_task = Some(tokio::spawn(worker.run(stopped.clone())));
    }

    let mut sink = None;
    let capture_router = if runs_capture {
        let kafka = Arc::new(capture_server::KafkaSink::new(&kafka_hosts, &kafka_prefix)?);
        if let Ok(missing) = kafka.missing_topics(Duration::from_secs(10))
            && !missing.is_empty()
        {
            tracing::warn!(
                topics = %missing.join(", "),
                "topics missing on the broker (requests producing to them answer 503)"
            );
        }
        let state = capture_server::AppState::new(kafka.clone());
        sink = Some(kafka);
        Some((capture_server::app(state.clone()), state.metrics))
    } else {
        None
    };

    let query_state = match (&pool, runs_query) {
        (Some(pool), true) => {
            let ch = &settings.clickhouse;
            let clickhouse = query_api::ClickHouse::new(
                ch.url.as_str(),
                &ch.database,
                &ch.user,
                ch.password.expose(),
            );
            let cache = query_api::Cache::new(settings.redis.url.as_str(), args.query_cache_ttl)?;
            Some(query_api::AppState {
                pool: pool.clone(),
                clickhouse: Arc::new(clickhouse),
                cache: Some(Arc::new(cache)),
                metrics: Arc::new(query_api::Metrics::default()),
                limits: Arc::new(query_api::Limits::default()),
                fixed_now: None,
            })
        }
        _ => None,
    };

    let mut servers = Vec::new();
    match (args.port, capture_router, query_state) {
        (Some(port), capture, query) => {
            // Every API on one port: the query routes and a combined /metrics first, capture for the rest.
            let capture_metrics = capture.as_ref().map(|(_, m)| m.clone());
            let query_metrics = query.as_ref().map(|q| q.metrics.clone());
            let mut router = Router::new().route(
                "/metrics",
                get(move || {
                    let (c, q) = (capture_metrics.clone(), query_metrics.clone());
                    async move {
                        let mut text = String::new();
                        if let Some(c) = c {
                            text.push_str(&c.render());
                        }
                        if let Some(q) = q {
                            text.push_str(&q.render());
                        }
                        (
                            [(
                                axum::http::header::CONTENT_TYPE,
                                "text/plain; version=0.0.4",
                            )],
                            text,
                        )
                    }
                }),
            );
            if let Some(state) = query {
                router = router.merge(query_api::routes(state));
            }
            router = match capture {
                Some((capture, _)) => router.fallback_service(capture),
                None => router
                    .route("/_liveness", get(|| async { "ok" }))
                    .route("/_readiness", get(|| async { "query" })),
            };
            if runs_capture || runs_query {
                servers.push(listen(SocketAddr::new(host, port), router, "all", &stopped).await?);
            }
        }
        (None, capture, query) => {
            if let Some((capture, _)) = capture {
                let addr = SocketAddr::new(host, settings.server.capture_port);
                servers.push(listen(addr, capture, "capture", &stopped).await?);
            }
            if let Some(state) = query {
                let addr = SocketAddr::new(host, settings.server.query_port);
                servers.push(listen(addr, query_api::app(state), "query", &stopped).await?);
            }
        }
    }

    let worker_result = match &mut worker_task {
        Some(task) => tokio::select! {
            _ = capture_server::shutdown_signal() => None,
            result = task => Some(result),
        },
        None => {
            capture_server::shutdown_signal().await;
            None
        }
    };
    tracing::info!("shutting down");
    stop.send_replace(true);
    for server in servers {
        server.await??;
    }
    if let Some(sink) = sink {
        sink.flush(Duration::from_secs(10));
    }
    match (worker_result, worker_task) {
        (Some(result), _) => result?.context("the ingestion worker stopped")?,
        (None, Some(task)) => task.await??,
        (None, None) => {}
    }
    if let Some(pool) = pool {
        pool.close().await;
    }
    tracing::info!("stopped");
    Ok(())
}
