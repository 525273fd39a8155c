//! Running the server on a real port: Kafka sink from `KAFKA_HOSTS` and `KAFKA_PREFIX`, graceful
//! shutdown on Ctrl-C, client addresses passed to handlers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::sink::KafkaSink;
use crate::{AppState, app};

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub addr: SocketAddr,
    /// Kafka bootstrap servers.
    pub kafka_hosts: String,
    /// Prepended to every topic name.
    pub kafka_prefix: String,
}

impl ServeConfig {
    /// `KAFKA_HOSTS` (required) and `KAFKA_PREFIX` (default empty) from the environment.
    pub fn from_env(addr: SocketAddr) -> Result<ServeConfig> {
        let kafka_hosts = std::env::var("KAFKA_HOSTS")
            .map_err(|_| Error::Config("environment variable KAFKA_HOSTS is not set".into()))?;
        Ok(ServeConfig {
            addr,
            kafka_hosts,
            kafka_prefix: std::env::var("KAFKA_PREFIX").unwrap_or_default(),
        })
    }
}

/// Serves capture on an already bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await?;
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (`hogref serve` waits on it too).
pub async fn shutdown_signal() {
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

/// Builds a runtime, binds `config.addr` and serves until Ctrl-C or SIGTERM, then flushes the producer.
pub fn serve_blocking(config: &ServeConfig) -> Result<()> {
    let sink = Arc::new(
        KafkaSink::new(&config.kafka_hosts, &config.kafka_prefix)
            .map_err(|e| Error::Config(e.to_string()))?,
    );
    match sink.missing_topics(Duration::from_secs(10)) {
        Ok(missing) if missing.is_empty() => {}
        Ok(missing) => tracing::warn!(
            topics = %missing.join(", "),
            "topics missing on the broker (requests producing to them answer 503)"
        ),
        Err(e) => tracing::warn!(error = %e, "listing the broker's topics failed"),
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.addr).await?;
        tracing::info!(
            url = %format_args!("http://{}", listener.local_addr()?),
            kafka = %config.kafka_hosts,
            kafka_prefix = %config.kafka_prefix,
            "listening"
        );
        let state = AppState::new(sink.clone());
        serve(listener, state, shutdown_signal()).await?;
        sink.flush(Duration::from_secs(10));
        Ok(())
    })
}
