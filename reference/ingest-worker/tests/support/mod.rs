//! Shared setup of the service tests: a private topic prefix, ClickHouse database (Hogref's schema
//! reading those topics) and PostgreSQL schema with a team; the worker and capture run in-process on
//! real ports and can be stopped, crashed and started again.
//!
//! Every wait here has a deadline and fails with one line naming what it waited for (issue 16: a
//! test must never hang); the durations are generous upper bounds, not expectations.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ingest_worker::{Stats, Team, Worker, WorkerConfig, create_team, create_topics, migrate};
use migration_runner::Topology;
use migration_runner::client::Client;
use migration_runner::topology::Env;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub(crate) fn env(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
        panic!("the `services` feature is on but {name} is not set: run `cargo xtask test`, or eval \"$(cargo xtask stack env)\"")
    })
}

pub(crate) fn unique(tag: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    format!("{tag}_{}_{millis}", std::process::id())
}

/// Every topic capture, the worker and the ClickHouse schema name.
pub(crate) const TOPICS: &[&str] = &[
    "events_plugin_ingestion",
    "events_plugin_ingestion_historical",
    "exceptions_ingestion",
    "clickhouse_events_json",
    "clickhouse_person",
    "clickhouse_person_distinct_id",
    "clickhouse_groups",
    "clickhouse_ingestion_warnings",
];

/// One test's private world on the shared stack.
pub(crate) struct Harness {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) kafka_hosts: String,
    pub(crate) topology: Topology,
    pub(crate) admin: PgPool,
    pub(crate) pool: PgPool,
    pub(crate) team: Team,
}

impl Harness {
    /// Creates the topics (`input_partitions` for capture's topics, one for the ClickHouse ones),
    /// applies Hogref's ClickHouse migrations in a fresh database and the worker's PostgreSQL
    /// migrations in a fresh schema, and creates a team.
    pub(crate) async fn new(tag: &str, input_partitions: i32) -> anyhow::Result<Harness> {
        Harness::with_kafka(tag, input_partitions, &env("KAFKA_HOSTS")).await
    }

    /// Like [`Harness::new`], on the broker at `kafka_hosts` (a test's private broker) instead of the
    /// stack's; ClickHouse's Kafka tables read from that broker too.
    pub(crate) async fn with_kafka(
        tag: &str,
        input_partitions: i32,
        kafka_hosts: &str,
    ) -> anyhow::Result<Harness> {
        let clickhouse_url = env("CLICKHOUSE_URL");
        let kafka_hosts = kafka_hosts.to_string();
        let database_url = env("DATABASE_URL");
        let name = unique(tag);
        let prefix = format!("{name}_");

        let (input, output): (Vec<&str>, Vec<&str>) =
            TOPICS.iter().partition(|t| !t.starts_with("clickhouse_"));
        let names = |list: &[&str]| -> Vec<String> {
            list.iter().map(|t| format!("{prefix}{t}")).collect()
        };
        deadline(
            "creating the test's topics",
            TOPICS_DEADLINE,
            create_topics(&kafka_hosts, &names(&input), input_partitions),
        )
        .await??;
        deadline(
            "creating the test's topics",
            TOPICS_DEADLINE,
            create_topics(&kafka_hosts, &names(&output), 1),
        )
        .await??;

        let mut ch_env = Env::from_process();
        ch_env.kafka_hosts = Some(kafka_hosts.clone());
        ch_env.topic_prefix = Some(prefix.clone());
        ch_env.group_prefix = Some(prefix.clone());
        let topology = Topology::single_node(&clickhouse_url, &name, &ch_env);
        let dir = format!("{}/../../migrations/clickhouse", env!("CARGO_MANIFEST_DIR"));
        let (migrations, problems) = migration_checker::SourceSet::read(&dir)?.migrations();
        anyhow::ensure!(problems.is_empty(), "{problems:?}");
        tokio::task::block_in_place(|| migration_runner::apply(&topology, &migrations))?;

        let PgSchema { admin, pool, .. } = deadline(
            "creating the test's PostgreSQL schema",
            PG_DEADLINE,
            pg_schema(&name, &database_url, 4),
        )
        .await??;
        let team = deadline("creating a team", PG_DEADLINE, create_team(&pool, tag)).await??;
        Ok(Harness {
            name,
            prefix,
            kafka_hosts,
            topology,
            admin,
            pool,
            team,
        })
    }

    pub(crate) fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            kafka_hosts: self.kafka_hosts.clone(),
            kafka_prefix: self.prefix.clone(),
            group_id: format!("{}ingestion", self.prefix),
            batch_size: 500,
            batch_wait: Duration::from_millis(50),
        }
    }

    /// Starts a worker and waits until it holds its partitions.
    pub(crate) async fn start_worker(&self) -> anyhow::Result<RunningWorker> {
        let worker = Worker::new(self.worker_config(), self.pool.clone())?;
        let stats = worker.stats();
        let mut ready = worker.ready();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(worker.run(stopped));
        tokio::time::timeout(Duration::from_secs(60), ready.wait_for(|r| *r))
            .await
            .context("the worker held no partitions within 60 s")??;
        Ok(RunningWorker { stop, task, stats })
    }

    /// Starts capture on a free loopback port with the Kafka sink.
    pub(crate) async fn start_capture(&self) -> anyhow::Result<RunningCapture> {
        let sink = Arc::new(capture_server::KafkaSink::new(
            &self.kafka_hosts,
            &self.prefix,
        )?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(capture_server::serve(
            listener,
            capture_server::AppState::new(sink),
            async {
                let _ = stopped.await;
            },
        ));
        Ok(RunningCapture { addr, stop, task })
    }

    /// Rows of a ClickHouse query in this test's database (`FORMAT JSONEachRow` is appended).
    pub(crate) fn rows(&self, sql: &str) -> anyhow::Result<Vec<Value>> {
        let text = tokio::task::block_in_place(|| {
            Client::new().exec(
                &self.topology.nodes[0],
                Some(&self.topology.database),
                &format!("{sql} FORMAT JSONEachRow"),
            )
        })?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).context("a JSONEachRow line"))
            .collect()
    }

    /// Polls `sql` until `done` holds for its rows (`timeout` at most).
    pub(crate) async fn wait_until(
        &self,
        sql: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.rows(sql)?;
            if done(&got) {
                return Ok(got);
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting on `{sql}`; have {}",
                Value::Array(got.into_iter().take(20).collect())
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Drops the ClickHouse database and the PostgreSQL schema.
    pub(crate) async fn cleanup(self) -> anyhow::Result<()> {
        deadline(
            "closing the PostgreSQL pool",
            PG_DEADLINE,
            self.pool.close(),
        )
        .await?;
        let drop_schema = format!("DROP SCHEMA {} CASCADE", self.name);
        deadline(
            "dropping the test's PostgreSQL schema",
            PG_DEADLINE,
            sqlx::query(&drop_schema).execute(&self.admin),
        )
        .await??;
        let _ = tokio::task::block_in_place(|| {
            Client::new().exec(
                &self.topology.nodes[0],
                None,
                &format!("DROP DATABASE IF EXISTS `{}` SYNC", self.name),
            )
        });
        Ok(())
    }
}

/// A PostgreSQL schema of one test's own, with the worker's migrations applied.
pub(crate) struct PgSchema {
    pub(crate) name: String,
    /// A connection outside the schema (to drop it).
    pub(crate) admin: PgPool,
    /// Connections whose `search_path` is the schema.
    pub(crate) pool: PgPool,
}

/// Creates schema `name` in `database_url` and applies the worker's migrations in it.
pub(crate) async fn pg_schema(
    name: &str,
    database_url: &str,
    connections: u32,
) -> anyhow::Result<PgSchema> {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await?;
    sqlx::query(&format!("CREATE SCHEMA {name}"))
        .execute(&admin)
        .await?;
    let options = PgConnectOptions::from_str(database_url)?.options([("search_path", name)]);
    let pool = PgPoolOptions::new()
        .max_connections(connections)
        .connect_with(options)
        .await?;
    migrate(&pool).await?;
    Ok(PgSchema {
        name: name.to_owned(),
        admin,
        pool,
    })
}

/// A worker running in this process.
pub(crate) struct RunningWorker {
    pub(crate) stop: tokio::sync::watch::Sender<bool>,
    pub(crate) task: tokio::task::JoinHandle<ingest_worker::Result<()>>,
    pub(crate) stats: Arc<Stats>,
}

impl RunningWorker {
    /// Asks the worker to stop and waits for it (60 s at most).
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        deadline("the worker to stop", STOP_DEADLINE, self.task).await???;
        Ok(())
    }

    /// Kills the worker wherever it is (mid-batch included), like a crash.
    pub(crate) async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Capture running in this process.
pub(crate) struct RunningCapture {
    pub(crate) addr: SocketAddr,
    pub(crate) stop: tokio::sync::oneshot::Sender<()>,
    pub(crate) task: tokio::task::JoinHandle<capture_server::Result<()>>,
}

impl RunningCapture {
    /// Graceful shutdown: in-flight requests finish (60 s at most).
    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        deadline("capture to stop", STOP_DEADLINE, self.task).await???;
        Ok(())
    }
}

/// One HTTP/1.1 POST over a fresh connection; returns the status and the response text. Capture
/// answers within its broker's delivery timeout (20 s); no answer within [`POST_DEADLINE`] is an error.
pub(crate) async fn post(
    addr: SocketAddr,
    path: &str,
    body: &str,
) -> anyhow::Result<(u16, String)> {
    deadline(
        &format!("capture at {addr} to answer POST {path}"),
        POST_DEADLINE,
        post_unbounded(addr, path, body),
    )
    .await?
}

async fn post_unbounded(addr: SocketAddr, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("no status line in {text:?}"))?;
    Ok((status, text))
}

/// Longest wait for topic creation (the admin call has its own 15 s operation timeout).
pub(crate) const TOPICS_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for a PostgreSQL setup or cleanup step.
pub(crate) const PG_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for the worker or capture to stop.
pub(crate) const STOP_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for one capture request.
pub(crate) const POST_DEADLINE: Duration = Duration::from_secs(60);

/// Awaits `future` for at most `limit`; past it, an error that names what was waited for.
pub(crate) async fn deadline<T>(
    what: &str,
    limit: Duration,
    future: impl std::future::Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| anyhow::anyhow!("gave up waiting for {what} after {}s", limit.as_secs()))
}

/// A ClickHouse string column holding JSON, parsed.
pub(crate) fn json_field(row: &Value, field: &str) -> Value {
    serde_json::from_str(row[field].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}
