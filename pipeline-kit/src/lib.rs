//! Pipeline kit (dev only): one test's or bench's private pipeline on a running stack. A [`Harness`] is
//! a namespace of its own (topics under its own prefix, a fresh ClickHouse database with Hogref's schema
//! reading those topics, a PostgreSQL schema with the worker's migrations and a team); the ingestion
//! worker and capture run in process on it and can be stopped, crashed and started again.
//!
//! It is built from the pieces production uses, never a copy of them: the topics from
//! [`ingest_worker::pipeline_topics`], the ClickHouse schema through `migration-runner`, the service
//! addresses through `settings` (the same [`settings::Settings::for_development`] `hogref serve` reads)
//! and the worker's configuration from those settings ([`ingest_worker::WorkerConfig::from_settings`]).
//! Requests go out through `conformance::http`'s request head and answer parser.
//!
//! Every wait has a deadline and fails with one line naming what it waited for; the durations are
//! generous upper bounds, not expectations.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
pub use conformance::http::{Response, WireRequest};
use ingest_worker::{Stats, Team, Worker, WorkerConfig, create_team, create_topics, migrate};
use migration_runner::Topology;
use migration_runner::client::Client;
use migration_runner::topology::Env;
use serde_json::Value;
use settings::Settings;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Longest wait for topic creation (the admin call has its own 15 s operation timeout).
pub const TOPICS_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for a PostgreSQL setup or cleanup step.
pub const PG_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for the worker to hold its partitions.
pub const READY_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for the worker or capture to stop.
pub const STOP_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for one capture request (capture answers within its broker's delivery timeout, 20 s).
pub const POST_DEADLINE: Duration = Duration::from_secs(60);

/// The workspace root, found at run time (`conformance::paths`).
pub fn workspace_root() -> PathBuf {
    conformance::paths::workspace_root()
}

/// The settings of the running stack: its four service variables from the environment (a missing
/// one is an error naming it), read as `hogref serve` reads them.
pub fn stack_settings() -> anyhow::Result<Settings> {
    settings_for(&stack::Endpoints::from_env()?)
}

/// The settings of a stack at `endpoints` (a test's private stack, say).
pub fn settings_for(endpoints: &stack::Endpoints) -> anyhow::Result<Settings> {
    let (settings, _) =
        Settings::for_development(endpoints.env_vars()).context("the stack's settings")?;
    Ok(settings)
}

/// `tag`, this process's id and the time in milliseconds: a name no other run uses.
pub fn unique(tag: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    format!("{tag}_{}_{millis}", std::process::id())
}

/// Awaits `future` for at most `limit`; past it, an error that names what was waited for.
pub async fn deadline<T>(
    what: &str,
    limit: Duration,
    future: impl Future<Output = T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| anyhow::anyhow!("gave up waiting for {what} after {}s", limit.as_secs()))
}

/// How a [`Harness`] is laid out.
#[derive(Debug, Clone)]
pub struct Options {
    /// Partitions of capture's topics (the worker's input among them).
    pub input_partitions: i32,
    /// Partitions of the `clickhouse_*` topics the worker produces.
    pub output_partitions: i32,
    /// Connections of the PostgreSQL pool the worker uses.
    pub connections: u32,
    /// Most messages in one worker batch.
    pub batch_size: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            input_partitions: 1,
            output_partitions: 1,
            connections: 4,
            batch_size: ingest_worker::worker::DEFAULT_BATCH_SIZE,
        }
    }
}

/// One test's private world on a stack.
#[derive(Debug)]
pub struct Harness {
    /// The namespace's name: ClickHouse database, PostgreSQL schema, run suffix.
    pub name: String,
    /// Prepended to every topic and ClickHouse consumer group name (`{name}_`).
    pub prefix: String,
    /// The stack's settings with this namespace's topic prefix, database and consumer group.
    pub settings: Settings,
    /// The broker's bootstrap servers.
    pub kafka_hosts: String,
    /// The ClickHouse node and database.
    pub topology: Topology,
    /// A connection outside the schema (to drop it).
    pub admin: PgPool,
    /// Connections whose `search_path` is the schema.
    pub pool: PgPool,
    /// The team every event of the test belongs to.
    pub team: Team,
    batch_size: usize,
}

impl Harness {
    /// On the running stack (its variables from the environment), `input_partitions` for capture's
    /// topics, one for the ClickHouse ones.
    pub async fn new(tag: &str, input_partitions: i32) -> anyhow::Result<Harness> {
        let options = Options {
            input_partitions,
            ..Options::default()
        };
        Harness::create(&stack_settings()?, tag, &options).await
    }

    /// Like [`Harness::new`], on the broker at `kafka_hosts` (a test's private broker) instead of the
    /// stack's; ClickHouse's Kafka tables read from that broker too.
    pub async fn with_kafka(
        tag: &str,
        input_partitions: i32,
        kafka_hosts: &str,
    ) -> anyhow::Result<Harness> {
        let mut settings = stack_settings()?;
        settings.kafka.hosts = kafka_hosts.split(',').map(str::to_owned).collect();
        let options = Options {
            input_partitions,
            ..Options::default()
        };
        Harness::create(&settings, tag, &options).await
    }

    /// Creates the topics, applies Hogref's ClickHouse migrations in a fresh database and the worker's
    /// PostgreSQL migrations in a fresh schema, and creates a team named `tag`, on the stack `base`
    /// describes.
    pub async fn create(base: &Settings, tag: &str, options: &Options) -> anyhow::Result<Harness> {
        let name = unique(tag);
        let prefix = format!("{name}_");
        let mut settings = base.clone();
        settings.kafka.prefix = prefix.clone();
        settings.clickhouse.database = name.clone();
        settings.worker.group_id = format!("{prefix}ingestion");
        let kafka_hosts = settings.kafka.bootstrap_servers();

        let (output, input): (Vec<&str>, Vec<&str>) = ingest_worker::pipeline_topics()
            .into_iter()
            .partition(|t| t.starts_with("clickhouse_"));
        for (list, partitions) in [
            (input, options.input_partitions),
            (output, options.output_partitions),
        ] {
            let names: Vec<String> = list.into_iter().map(|t| settings.kafka.topic(t)).collect();
            deadline(
                "creating the test's topics",
                TOPICS_DEADLINE,
                create_topics(&kafka_hosts, &names, partitions),
            )
            .await??;
        }

        let topology = clickhouse_schema(&settings)?;

        let PgSchema { admin, pool, .. } = deadline(
            "creating the test's PostgreSQL schema",
            PG_DEADLINE,
            pg_schema(&name, settings.postgres.url.as_str(), options.connections),
        )
        .await??;
        let team = deadline("creating a team", PG_DEADLINE, create_team(&pool, tag)).await??;
        Ok(Harness {
            name,
            prefix,
            settings,
            kafka_hosts,
            topology,
            admin,
            pool,
            team,
            batch_size: options.batch_size,
        })
    }

    /// The worker's configuration: from [`Harness::settings`], with the batch size of the options.
    pub fn worker_config(&self) -> WorkerConfig {
        WorkerConfig {
            batch_size: self.batch_size,
            ..WorkerConfig::from_settings(&self.settings)
        }
    }

    /// Starts a worker with [`Harness::worker_config`] and waits until it holds its partitions.
    pub async fn start_worker(&self) -> anyhow::Result<RunningWorker> {
        self.start_worker_with(self.worker_config()).await
    }

    /// Starts a worker with `config` and waits until it holds its partitions.
    pub async fn start_worker_with(&self, config: WorkerConfig) -> anyhow::Result<RunningWorker> {
        run_worker(Worker::new(config, self.pool.clone())?, "the worker").await
    }

    /// Starts capture on a free loopback port with the Kafka sink on this namespace's topics.
    pub async fn start_capture(&self) -> anyhow::Result<RunningCapture> {
        start_capture(&self.kafka_hosts, &self.prefix).await
    }

    /// Rows of a ClickHouse query in this namespace's database (`FORMAT JSONEachRow` is appended).
    pub fn rows(&self, sql: &str) -> anyhow::Result<Vec<Value>> {
        rows(&self.topology, sql)
    }

    /// Polls `sql` until `done` holds for its rows (`timeout` at most); past it, the last rows.
    pub async fn poll_rows(
        &self,
        sql: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.rows(sql)?;
            if done(&got) || Instant::now() >= deadline {
                return Ok(got);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Polls `sql` until `done` holds for its rows (`timeout` at most); past it, an error naming the
    /// query and showing the rows it had.
    pub async fn wait_until(
        &self,
        sql: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let got = self.poll_rows(sql, timeout, &done).await?;
        anyhow::ensure!(
            done(&got),
            "timed out after {timeout:?} waiting on `{sql}`; have {}",
            Value::Array(got.into_iter().take(20).collect())
        );
        Ok(got)
    }

    /// Drops the ClickHouse database and the PostgreSQL schema.
    pub async fn cleanup(self) -> anyhow::Result<()> {
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

/// Applies Hogref's ClickHouse migrations (`migrations/clickhouse`) in database
/// `settings.clickhouse.database`, its Kafka tables reading `settings.kafka`'s topics under its
/// prefix (and their consumer groups under it too); returns the single-node topology.
pub fn clickhouse_schema(settings: &Settings) -> anyhow::Result<Topology> {
    let mut env = Env::from_process();
    env.kafka_hosts = Some(settings.kafka.bootstrap_servers());
    env.topic_prefix = Some(settings.kafka.prefix.clone());
    env.group_prefix = Some(settings.kafka.prefix.clone());
    let mut topology = Topology::single_node(
        settings.clickhouse.url.as_str().trim_end_matches('/'),
        &settings.clickhouse.database,
        &env,
    );
    // `HOGREF_BENCH_KAFKA_SETTINGS=name=value,...` (set by hand for `cargo xtask bench ingest`)
    // overrides the local stack's Kafka table settings, e.g. `kafka_consumer_reschedule_ms=500`
    // (ClickHouse's default) to compare with the stack's.
    if let Ok(overrides) = std::env::var("HOGREF_BENCH_KAFKA_SETTINGS") {
        for pair in overrides.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, v) = pair.split_once('=').with_context(|| {
                format!("HOGREF_BENCH_KAFKA_SETTINGS: `{pair}` is not name=value")
            })?;
            let (k, v) = (k.trim().to_string(), v.trim().to_string());
            topology.kafka_settings.retain(|(name, _)| *name != k);
            topology.kafka_settings.push((k, v));
        }
    }
    let dir = workspace_root().join("migrations/clickhouse");
    let (migrations, problems) =
        migration_checker::SourceSet::read(&dir.to_string_lossy())?.migrations();
    anyhow::ensure!(problems.is_empty(), "{problems:?}");
    tokio::task::block_in_place(|| migration_runner::apply(&topology, &migrations))?;
    Ok(topology)
}

/// A ClickHouse database `name` on the running stack with Hogref's schema, its Kafka tables reading
/// topics (and consumer groups) of their own under `{name}_`, so they never consume another run's rows.
pub fn clickhouse_database(name: &str) -> anyhow::Result<Topology> {
    let mut settings = stack_settings()?;
    settings.clickhouse.database = name.to_owned();
    settings.kafka.prefix = format!("{name}_");
    clickhouse_schema(&settings)
}

/// Rows of a ClickHouse query in `topology`'s database (`FORMAT JSONEachRow` is appended).
pub fn rows(topology: &Topology, sql: &str) -> anyhow::Result<Vec<Value>> {
    let text = tokio::task::block_in_place(|| {
        Client::new().exec(
            &topology.nodes[0],
            Some(&topology.database),
            &format!("{sql} FORMAT JSONEachRow"),
        )
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).context("a JSONEachRow line"))
        .collect()
}

/// A PostgreSQL schema of one test's own, with the worker's migrations applied.
#[derive(Debug)]
pub struct PgSchema {
    /// The schema's name.
    pub name: String,
    /// A connection outside the schema (to drop it).
    pub admin: PgPool,
    /// Connections whose `search_path` is the schema.
    pub pool: PgPool,
}

/// Creates schema `name` in `database_url` and applies the worker's migrations in it.
pub async fn pg_schema(
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
#[derive(Debug)]
pub struct RunningWorker {
    /// Set to `true` to ask the worker to stop.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// The worker's task.
    pub task: tokio::task::JoinHandle<ingest_worker::Result<()>>,
    /// Its counters.
    pub stats: Arc<Stats>,
}

/// Runs `worker` on the current runtime and waits until it holds its partitions
/// ([`READY_DEADLINE`]); `what` names it in the error.
pub async fn run_worker(worker: Worker, what: &str) -> anyhow::Result<RunningWorker> {
    let stats = worker.stats();
    let mut ready = worker.ready();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(worker.run(stopped));
    tokio::time::timeout(READY_DEADLINE, ready.wait_for(|r| *r))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "{what} held no partitions within {} s",
                READY_DEADLINE.as_secs()
            )
        })??;
    Ok(RunningWorker { stop, task, stats })
}

impl RunningWorker {
    /// Asks the worker to stop and waits for it ([`STOP_DEADLINE`]).
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.send_replace(true);
        deadline("the worker to stop", STOP_DEADLINE, self.task).await???;
        Ok(())
    }

    /// Kills the worker wherever it is (mid-batch included), like a crash.
    pub async fn crash(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Capture running in this process.
#[derive(Debug)]
pub struct RunningCapture {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Send (or drop) to shut it down gracefully.
    pub stop: tokio::sync::oneshot::Sender<()>,
    /// Its server task.
    pub task: tokio::task::JoinHandle<capture_server::Result<()>>,
}

/// Starts capture on a free loopback port with the Kafka sink (topics under `prefix`), on the current
/// runtime. It runs until [`RunningCapture::stop`] or until the [`RunningCapture`] is dropped.
pub async fn start_capture(kafka_hosts: &str, prefix: &str) -> anyhow::Result<RunningCapture> {
    let sink = Arc::new(capture_server::KafkaSink::new(kafka_hosts, prefix)?);
    serve_capture(capture_server::AppState::new(sink)).await
}

/// Serves capture with `state` (its own sink, clock or randomness) like [`start_capture`].
pub async fn serve_capture(state: capture_server::AppState) -> anyhow::Result<RunningCapture> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(capture_server::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Ok(RunningCapture { addr, stop, task })
}

impl RunningCapture {
    /// Graceful shutdown: in-flight requests finish ([`STOP_DEADLINE`]).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        deadline("capture to stop", STOP_DEADLINE, self.task).await???;
        Ok(())
    }
}

/// One JSON POST over a fresh connection; the status and the answer's body as text. No answer within
/// [`POST_DEADLINE`] is an error.
pub async fn post(addr: SocketAddr, path: &str, body: &str) -> anyhow::Result<(u16, String)> {
    post_within(addr, path, body, POST_DEADLINE).await
}

/// [`post`] with a deadline of `limit`.
pub async fn post_within(
    addr: SocketAddr,
    path: &str,
    body: &str,
    limit: Duration,
) -> anyhow::Result<(u16, String)> {
    let request = WireRequest {
        method: "POST".to_owned(),
        uri: path.to_owned(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body: body.as_bytes().to_vec(),
    };
    let response = deadline(
        &format!("capture at {addr} to answer POST {path}"),
        limit,
        send(addr, &request),
    )
    .await??;
    Ok((response.status, response.text()))
}

/// Sends `request` over a fresh connection to `addr` and reads the whole answer (the conformance
/// suite's request head and answer parser, over tokio). No deadline of its own: wrap it in
/// [`deadline`].
pub async fn send(addr: SocketAddr, request: &WireRequest) -> anyhow::Result<Response> {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    let head = conformance::http::request_head(
        &addr.to_string(),
        &request.method,
        &request.uri,
        &request.headers,
        request.body.len(),
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&request.body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    conformance::http::parse_response(&raw)
        .with_context(|| format!("answer of {} {}", request.method, request.uri))
}

/// A ClickHouse string column holding JSON, parsed (`null` when it is not JSON).
pub fn json_field(row: &Value, field: &str) -> Value {
    serde_json::from_str(row[field].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

/// A whole pipeline for one test: a [`Harness`] with the worker and capture running on it.
#[derive(Debug)]
pub struct Pipeline {
    /// The namespace.
    pub harness: Harness,
    /// Where capture listens.
    pub addr: SocketAddr,
    worker: RunningWorker,
    capture: RunningCapture,
}

impl Pipeline {
    /// A [`Harness`] on the running stack with `options`, the worker (ready) and capture.
    pub async fn start(tag: &str, options: &Options) -> anyhow::Result<Pipeline> {
        let harness = Harness::create(&stack_settings()?, tag, options).await?;
        let worker = harness.start_worker().await?;
        let capture = harness.start_capture().await?;
        Ok(Pipeline {
            addr: capture.addr,
            harness,
            worker,
            capture,
        })
    }

    /// Stops capture, then the worker, and drops the namespace.
    pub async fn finish(self) -> anyhow::Result<()> {
        self.capture.stop().await?;
        self.worker.stop().await?;
        self.harness.cleanup().await
    }
}

impl std::ops::Deref for Pipeline {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.harness
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_for_reads_the_four_endpoints() {
        let endpoints = stack::Endpoints {
            clickhouse_url: "http://127.0.0.1:18123".into(),
            kafka_hosts: "127.0.0.1:19092,127.0.0.1:19093".into(),
            database_url: "postgres://postgres@127.0.0.1:15432/hogref".into(),
            redis_url: "redis://127.0.0.1:16379/".into(),
        };
        let settings = settings_for(&endpoints).unwrap();
        assert_eq!(settings.kafka.bootstrap_servers(), endpoints.kafka_hosts);
        assert_eq!(settings.clickhouse.url.as_str(), "http://127.0.0.1:18123/");
        assert_eq!(settings.postgres.url.as_str(), endpoints.database_url);
        let config = WorkerConfig::from_settings(&settings);
        assert_eq!(config.kafka_hosts, endpoints.kafka_hosts);
        assert_eq!(config.group_id, settings::DEFAULT_CONSUMER_GROUP);
    }

    #[test]
    fn every_topic_capture_produces_to_is_a_pipeline_topic() {
        let topics = ingest_worker::pipeline_topics();
        for topic in [
            "events_plugin_ingestion",
            "events_plugin_ingestion_historical",
            "exceptions_ingestion",
            "clickhouse_events_json",
            "clickhouse_ingestion_warnings",
        ] {
            assert!(topics.contains(&topic), "{topic} missing from {topics:?}");
        }
    }
}
