//! `hogref serve`: run the reference server. By default both the capture front and the ingestion
//! worker run in one process; `--capture-only` / `--worker-only` run one of them.
//!
//! - capture: PostHog's v0 capture endpoints producing to Kafka (`KAFKA_HOSTS`, topic prefix `KAFKA_PREFIX`).
//! - worker: consumes `events_plugin_ingestion`, resolves teams and persons in PostgreSQL
//!   (`DATABASE_URL`, migrated on start), produces ClickHouse rows; consumer group
//!   `INGESTION_CONSUMER_GROUP` (default `ingestion-events`). Its topics are created when missing.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// Serve only the capture endpoints (`/e`, `/i/v0/e`, `/capture`, `/track`, `/engage`, `/batch`).
    #[arg(long, conflicts_with = "worker_only")]
    capture_only: bool,
    /// Run only the ingestion worker (Kafka → PostgreSQL persons → Kafka rows for ClickHouse).
    #[arg(long)]
    worker_only: bool,
    /// Port to listen on.
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<i32> {
    if args.capture_only {
        let config = capture_server::ServeConfig::from_env(SocketAddr::new(args.host, args.port))?;
        capture_server::serve_blocking(&config)?;
        return Ok(0);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(args))?;
    Ok(0)
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = ingest_worker::WorkerConfig::from_env()?;
    let database_url = std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .context(
            "environment variable DATABASE_URL is not set (the worker keeps persons in PostgreSQL)",
        )?;
    let pool = ingest_worker::connect(&database_url).await?;
    ingest_worker::migrate(&pool).await?;
    ingest_worker::ensure_topics(&config.kafka_hosts, &config.kafka_prefix, 3).await?;
    let worker = ingest_worker::Worker::new(config.clone(), pool)?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    eprintln!(
        "worker: consuming {}events_plugin_ingestion as group {:?} (kafka {})",
        config.kafka_prefix, config.group_id, config.kafka_hosts
    );
    let worker_task = tokio::spawn(worker.run(stopped.clone()));

    let capture_task = if args.worker_only {
        None
    } else {
        let sink = Arc::new(capture_server::KafkaSink::new(
            &config.kafka_hosts,
            &config.kafka_prefix,
        )?);
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
        eprintln!("capture: listening on http://{}", listener.local_addr()?);
        let mut capture_stopped = stopped.clone();
        let state = capture_server::AppState::new(sink.clone());
        Some((
            sink,
            tokio::spawn(capture_server::serve(listener, state, async move {
                let _ = capture_stopped.wait_for(|s| *s).await;
            })),
        ))
    };

    let mut worker_task = worker_task;
    let worker_result = tokio::select! {
        _ = shutdown_signal() => None,
        result = &mut worker_task => Some(result),
    };
    stop.send_replace(true);
    if let Some((sink, task)) = capture_task {
        task.await??;
        sink.flush(Duration::from_secs(10));
    }
    match worker_result {
        Some(result) => result?.context("the ingestion worker stopped")?,
        None => worker_task.await??,
    }
    Ok(())
}
