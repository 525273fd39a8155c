//! The crate's error type.

/// Errors of the ingestion worker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kafka message that cannot be ingested (PostHog would send it to the DLQ).
    #[error("bad message: {field}: {message}")]
    BadMessage { field: String, message: String },
    /// Configuration is missing or invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// PostgreSQL failed.
    #[error("postgres: {0}")]
    Postgres(#[from] sqlx::Error),
    /// Applying the PostgreSQL migrations failed.
    #[error("postgres migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Kafka failed (client creation, delivery, commit).
    #[error("kafka: {0}")]
    Kafka(String),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
