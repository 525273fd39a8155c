//! The test stack: real ClickHouse, a Kafka-protocol broker, PostgreSQL and Redis, brought up by a provider.
//!
//! Providers (`local`, `docker`, `external`) sit behind one interface so that every test runs unchanged on each.
//! This crate knows nothing about HogQL, capture or ingestion: it only installs, starts, describes and stops
//! services. A running stack is described by a state file (`<cache>/stacks/<name>/state.json`), so one
//! process can start a stack (`cargo xtask stack up`) and another can stop it (`cargo xtask stack down`).
//!
//! The local provider needs no Docker:
//! - ClickHouse: chDB (the ClickHouse engine as a Python library, PyPI `chdb-core`) in a venv in the cache,
//!   behind `chdb/chdb_http.py`, which speaks ClickHouse's HTTP interface;
//! - Kafka: tansu, a Kafka-protocol broker built with `cargo install` into the cache; its storage is
//!   `HOGREF_TANSU_STORAGE`: `sqlite` (default, durable across restarts) or `memory` (lost on restart);
//! - PostgreSQL: a throwaway cluster from Debian's binaries (`initdb` + `pg_ctl`);
//! - Redis: a private `redis-server` without persistence.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

#[cfg(feature = "docker")]
mod docker;
mod external;
mod install;
mod local;
mod process;

pub use local::TansuStorage;
pub use process::{output_with_deadline, status_with_deadline, wait_with_deadline};

/// Connection settings of a running stack, as every Hogref program and test reads them from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// ClickHouse HTTP interface, e.g. `http://127.0.0.1:18123`. Env: `CLICKHOUSE_URL`.
    pub clickhouse_url: String,
    /// Kafka bootstrap servers, comma separated, e.g. `127.0.0.1:19092`. Env: `KAFKA_HOSTS`.
    pub kafka_hosts: String,
    /// PostgreSQL URL, e.g. `postgres://postgres@127.0.0.1:15432/hogref`. Env: `DATABASE_URL`.
    pub database_url: String,
    /// Redis URL, e.g. `redis://127.0.0.1:16379/`. Env: `REDIS_URL`.
    pub redis_url: String,
}

/// The environment variable names, in the order of [`Endpoints::env_vars`].
pub const ENV_VARS: [&str; 4] = ["CLICKHOUSE_URL", "KAFKA_HOSTS", "DATABASE_URL", "REDIS_URL"];

impl Endpoints {
    /// The environment variables that carry these endpoints, in a stable order.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CLICKHOUSE_URL", self.clickhouse_url.clone()),
            ("KAFKA_HOSTS", self.kafka_hosts.clone()),
            ("DATABASE_URL", self.database_url.clone()),
            ("REDIS_URL", self.redis_url.clone()),
        ]
    }

    /// Reads all four endpoints from the environment; a missing one is an error naming it.
    pub fn from_env() -> Result<Self> {
        let get = |var: &'static str| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .ok_or(Error::MissingEnv { var })
        };
        Ok(Endpoints {
            clickhouse_url: get("CLICKHOUSE_URL")?,
            kafka_hosts: get("KAFKA_HOSTS")?,
            database_url: get("DATABASE_URL")?,
            redis_url: get("REDIS_URL")?,
        })
    }
}

/// Which provider brings the services up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// chDB behind an HTTP front, tansu, private PostgreSQL and Redis: no Docker needed.
    Local,
    /// The official images run through the `docker` CLI (not testcontainers, so containers outlive
    /// `stack up`), one user-defined network per stack, host ports on 127.0.0.1; needs the `docker`
    /// feature and a Docker engine. Untested: the development machines have none.
    Docker,
    /// Existing services named by environment variables.
    External,
}

impl Provider {
    /// The provider used when none is named: `docker` when built with the `docker` feature and a Docker
    /// engine answers, else `local`.
    pub fn detect() -> Provider {
        #[cfg(feature = "docker")]
        if docker::available() {
            return Provider::Docker;
        }
        Provider::Local
    }

    /// The provider's name as typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Local => "local",
            Provider::Docker => "docker",
            Provider::External => "external",
        }
    }
}

impl std::str::FromStr for Provider {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "local" => Ok(Provider::Local),
            "docker" => Ok(Provider::Docker),
            "external" => Ok(Provider::External),
            other => Err(Error::UnknownProvider(other.to_string())),
        }
    }
}

/// Everything that can go wrong bringing a stack up, describing it, or taking it down.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A component failed to install, start, answer or stop; the reason carries its log tail.
    #[error("{component}: {reason}")]
    Component {
        /// `clickhouse`, `kafka`, `postgres` or `redis`.
        component: &'static str,
        /// What happened.
        reason: String,
    },
    /// Installing a missing tool failed.
    #[error("installing {what} failed: {reason}")]
    Install {
        /// The tool or package.
        what: String,
        /// What happened.
        reason: String,
    },
    /// No state file: the stack is not up.
    #[error("stack `{name}` is not running (no {})", state.display())]
    NotRunning {
        /// The stack name.
        name: String,
        /// Where its state file would be.
        state: PathBuf,
    },
    /// `up` on a stack whose components still run.
    #[error(
        "stack `{name}` is already running; stop it with `cargo xtask stack down --name {name}`"
    )]
    AlreadyRunning {
        /// The stack name.
        name: String,
    },
    /// An endpoint variable is not set (external provider, or tests run outside `cargo xtask test`).
    #[error(
        "{var} is not set: run through `cargo xtask test`, or `eval \"$(cargo xtask stack env)\"` after `cargo xtask stack up`"
    )]
    MissingEnv {
        /// The variable.
        var: &'static str,
    },
    /// The provider name is not one of local, docker, external.
    #[error("unknown provider `{0}`: expected local, docker or external")]
    UnknownProvider(String),
    /// The provider cannot be used here.
    #[error("provider {provider} is unavailable: {reason}")]
    ProviderUnavailable {
        /// The provider.
        provider: &'static str,
        /// Why.
        reason: String,
    },
    /// A stack name with characters that do not belong in a directory name.
    #[error("invalid stack name `{0}`: use lowercase letters, digits, `-` and `_`")]
    BadName(String),
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The state file could not be parsed.
    #[error("state file {path} is unreadable: {reason}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

impl Error {
    pub(crate) fn io(context: String, source: std::io::Error) -> Self {
        Error::Io { context, source }
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One pinned external version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The name as its registry knows it.
    pub name: &'static str,
    /// The exact version (or feature list).
    pub version: &'static str,
    /// Where it comes from and what it is for.
    pub source: &'static str,
}

/// Every external version the stack installs or expects, in one place (printed by `stack up`).
/// The Docker image tags must equal those of `docker/docker-compose.yml` (a test checks it).
/// Rust crates are pinned separately by the committed `Cargo.lock`.
pub const PINNED: &[Pin] = &[
    Pin {
        name: "chdb-core",
        version: "26.9.0",
        source: "PyPI wheel, ClickHouse engine 26.9.2.1 (local provider), pip --no-deps",
    },
    Pin {
        name: "lz4",
        version: "4.4.5",
        source: "PyPI, decodes decompress=1 inserts in chdb_http.py",
    },
    Pin {
        name: "python",
        version: "3.11",
        source: "python3 that creates the chDB venv ($HOGREF_PYTHON overrides)",
    },
    Pin {
        name: "tansu",
        version: "0.6.0",
        source: "crates.io, Kafka-protocol broker, cargo install --locked (local provider)",
    },
    Pin {
        name: "tansu-features",
        version: "dynostore,libsql",
        source: "cargo features of the tansu build (memory:// and sqlite:// storage)",
    },
    Pin {
        name: "postgresql",
        version: "15",
        source: "Debian 12 package postgresql (15.x), newest /usr/lib/postgresql/*/bin",
    },
    Pin {
        name: "redis-server",
        version: "7.0",
        source: "Debian 12 package redis-server (7.0.x)",
    },
    Pin {
        name: "clickhouse/clickhouse-server",
        version: "26.9.6.6",
        source: "Docker image (docker provider)",
    },
    Pin {
        name: "apache/kafka",
        version: "4.1.1",
        source: "Docker image, KRaft mode (docker provider)",
    },
    Pin {
        name: "postgres",
        version: "17.6-bookworm",
        source: "Docker image (docker provider)",
    },
    Pin {
        name: "redis",
        version: "7.4.6-bookworm",
        source: "Docker image (docker provider)",
    },
];

/// The pinned version of `name` from [`PINNED`].
pub fn pinned(name: &str) -> &'static str {
    PINNED
        .iter()
        .find(|p| p.name == name)
        .map_or("", |p| p.version)
}

/// The cache for tools, venvs, stacks and builds: `$HOGREF_CACHE`, else `$HOME/.cache/hogref`.
/// It lives outside the clone so that a fresh clone (as in CI) reuses earlier installs.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("HOGREF_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    home.join(".cache").join("hogref")
}

/// The directory of the stack called `name`.
pub fn stack_dir(name: &str) -> PathBuf {
    cache_dir().join("stacks").join(name)
}

fn state_path(name: &str) -> PathBuf {
    stack_dir(name).join("state.json")
}

pub(crate) fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// One running component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentState {
    /// `clickhouse`, `kafka`, `postgres` or `redis`.
    pub name: String,
    /// What runs (program and how).
    pub what: String,
    /// The version it reports.
    pub version: String,
    /// `host:port`.
    pub address: String,
    /// The port (0 when unknown).
    pub port: u16,
    /// The process id, for providers that own processes.
    pub pid: Option<u32>,
    /// Its directory (data, log).
    pub dir: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    /// Where this run of the component starts in its log (a restarted broker appends to the same file).
    #[serde(default)]
    pub log_offset: u64,
    /// The binary (or binaries directory) it was started from.
    pub bin: Option<PathBuf>,
    /// Seconds from start to ready.
    pub ready_secs: f64,
    /// Unix seconds when it became ready.
    pub started_at: u64,
}

/// What the state file records about a stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    /// The stack's name (its directory under `<cache>/stacks/`).
    pub name: String,
    /// Who brought it up.
    pub provider: Provider,
    /// The stack directory.
    pub dir: PathBuf,
    /// Connection settings.
    pub endpoints: Endpoints,
    /// Components in start order.
    pub components: Vec<ComponentState>,
    /// Provider-specific variables beyond the four endpoints, e.g. `CLICKHOUSE_KAFKA_HOSTS` (how
    /// ClickHouse itself reaches the broker, when that differs from `KAFKA_HOSTS`).
    #[serde(default)]
    pub extra_env: Vec<(String, String)>,
}

impl StackState {
    /// Every variable a program or test run against this stack gets: the endpoints, then the extras.
    pub fn env_vars(&self) -> Vec<(String, String)> {
        self.endpoints
            .env_vars()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .chain(self.extra_env.iter().cloned())
            .collect()
    }
}

impl StackState {
    /// Reads the state file of the stack `name`.
    pub fn load(name: &str) -> Result<StackState> {
        let path = state_path(name);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotRunning {
                    name: name.to_string(),
                    state: path,
                });
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_str(&text).map_err(|e| Error::State {
            path,
            reason: e.to_string(),
        })
    }

    fn save(&self) -> Result<()> {
        let path = state_path(&self.name);
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::State {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, text).map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
        fs::rename(&tmp, &path).map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }
}

/// A component's liveness, as `status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentStatus {
    /// The component.
    pub name: String,
    /// Its address.
    pub address: String,
    /// `Ok` when it answers, else why not.
    pub health: std::result::Result<(), String>,
}

/// How to bring a stack up.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The stack name (a directory under `<cache>/stacks/`); several stacks can run side by side.
    pub name: String,
    /// The provider.
    pub provider: Provider,
}

/// A running stack. Dropping it stops every component, unless it was [`Stack::detach`]ed.
#[derive(Debug)]
pub struct Stack {
    state: StackState,
    stop_on_drop: bool,
}

impl Stack {
    /// Installs what is missing, starts every component, waits until each answers, and writes the state file.
    /// If one component fails, those already started are stopped again before the error returns.
    pub fn up(options: &UpOptions) -> Result<Stack> {
        let name = &options.name;
        check_name(name)?;
        if let Ok(old) = StackState::load(name) {
            if old
                .components
                .iter()
                .any(|c| c.pid.is_some_and(process::is_alive))
            {
                return Err(Error::AlreadyRunning { name: name.clone() });
            }
            // Leftovers of a stack whose processes died: clean up whatever remains.
            let _ = down_state(&old, false);
        }
        let dir = stack_dir(name);
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("removing old {}", dir.display()), e))?;
        }
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let mut stack = Stack {
            state: StackState {
                name: name.clone(),
                provider: options.provider,
                dir: dir.clone(),
                endpoints: Endpoints {
                    clickhouse_url: String::new(),
                    kafka_hosts: String::new(),
                    database_url: String::new(),
                    redis_url: String::new(),
                },
                components: Vec::new(),
                extra_env: Vec::new(),
            },
            stop_on_drop: true,
        };
        match options.provider {
            Provider::Local => {
                // Install everything first, so nothing runs while a long install (tansu) is going on.
                install::redis_server()?;
                install::postgres_bin()?;
                install::tansu()?;
                install::chdb_python()?;
                // Start order is the reverse of the stop order (the ClickHouse front stops first).
                let starters: [fn(&Path) -> Result<ComponentState>; 4] = [
                    local::start_redis,
                    local::start_postgres,
                    local::start_kafka,
                    local::start_clickhouse,
                ];
                for start in starters {
                    match start(&dir) {
                        Ok(component) => stack.state.components.push(component),
                        Err(e) => {
                            // Stop what started, keep the directory (its logs explain the failure).
                            stack.stop_on_drop = false;
                            let _ = down_state(&stack.state, false);
                            return Err(e);
                        }
                    }
                    stack.state.save()?;
                }
                let port_of = |n: &str| {
                    stack
                        .state
                        .components
                        .iter()
                        .find(|c| c.name == n)
                        .map_or(0, |c| c.port)
                };
                stack.state.endpoints = Endpoints {
                    clickhouse_url: format!("http://127.0.0.1:{}", port_of("clickhouse")),
                    kafka_hosts: format!("127.0.0.1:{}", port_of("kafka")),
                    database_url: format!(
                        "postgres://postgres@127.0.0.1:{}/hogref",
                        port_of("postgres")
                    ),
                    redis_url: format!("redis://127.0.0.1:{}/", port_of("redis")),
                };
            }
            Provider::External => {
                let (endpoints, components) = external::connect(&dir)?;
                stack.state.endpoints = endpoints;
                stack.state.components = components;
            }
            #[cfg(feature = "docker")]
            Provider::Docker => {
                stack.stop_on_drop = false;
                let (endpoints, components, extra) = docker::start(name, &dir)?;
                stack.state.endpoints = endpoints;
                stack.state.components = components;
                stack.state.extra_env = extra;
                stack.stop_on_drop = true;
            }
            #[cfg(not(feature = "docker"))]
            Provider::Docker => {
                stack.stop_on_drop = false;
                let _ = fs::remove_dir_all(&dir);
                return Err(Error::ProviderUnavailable {
                    provider: "docker",
                    reason: "this build has no docker support; build xtask with `--features stack/docker` (untested), or use --provider local or external".into(),
                });
            }
        }
        stack.state.save()?;
        Ok(stack)
    }

    /// The stack's recorded state.
    pub fn state(&self) -> &StackState {
        &self.state
    }

    /// The connection settings.
    pub fn endpoints(&self) -> &Endpoints {
        &self.state.endpoints
    }

    /// Leaves the stack running after this handle is gone (`cargo xtask stack up`); stop it with [`down`].
    pub fn detach(mut self) -> StackState {
        self.stop_on_drop = false;
        self.state.clone()
    }

    /// Stops every component in order (ClickHouse front, Kafka, PostgreSQL, Redis) and removes the
    /// stack directory. Returns each component's stop time in seconds.
    pub fn stop(mut self) -> Result<Vec<(String, f64)>> {
        self.stop_on_drop = false;
        down_state(&self.current_state(), true)
    }

    /// The state file's view when it exists: another process (a fault test calling [`restart_kafka`])
    /// may have replaced a component since this handle was made.
    fn current_state(&self) -> StackState {
        StackState::load(&self.state.name)
            .ok()
            .filter(|s| s.dir == self.state.dir)
            .unwrap_or_else(|| self.state.clone())
    }

    /// Stops the Kafka broker and starts it again on the same port with the same storage (for fault tests).
    /// While the old port is taken the start is retried for 30 s, then it fails naming the port's holder.
    pub fn restart_kafka(&mut self) -> Result<f64> {
        restart_kafka_in(&mut self.state, local::KAFKA_BIND_RETRY, || {})
    }

    /// Like [`Stack::restart_kafka`], retrying a taken port for `bind_retry`, with `between` run after the
    /// old broker stopped and before the new one starts (a fault test takes the port there).
    pub fn restart_kafka_with(
        &mut self,
        bind_retry: std::time::Duration,
        between: impl FnOnce(),
    ) -> Result<f64> {
        restart_kafka_in(&mut self.state, bind_retry, between)
    }

    /// Brings up a stack of one component, a local Kafka broker of its own, for a test that restarts or
    /// breaks its broker: a failure there must not reach the tests sharing the main stack. `storage`
    /// `None` means `HOGREF_TANSU_STORAGE`. Its name should start with the main stack's name and a `-`
    /// (`cargo xtask test` then brings it down if the test is killed). Dropping it stops the broker.
    pub fn private_broker(name: &str, storage: Option<TansuStorage>) -> Result<Stack> {
        check_name(name)?;
        let storage = match storage {
            Some(storage) => storage,
            None => TansuStorage::from_env()?,
        };
        if let Ok(old) = StackState::load(name) {
            let _ = down_state(&old, false);
        }
        let dir = stack_dir(name);
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| Error::io(format!("removing old {}", dir.display()), e))?;
        }
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let kafka = local::start_kafka_with(&dir, None, storage, std::time::Duration::ZERO)?;
        let state = StackState {
            name: name.to_string(),
            provider: Provider::Local,
            dir,
            endpoints: Endpoints {
                clickhouse_url: String::new(),
                kafka_hosts: kafka.address.clone(),
                database_url: String::new(),
                redis_url: String::new(),
            },
            components: vec![kafka],
            extra_env: Vec::new(),
        };
        let stack = Stack {
            state,
            stop_on_drop: true,
        };
        stack.state.save()?;
        Ok(stack)
    }

    /// Whether the stack's Kafka broker serves from its storage (see [`kafka_health`]).
    pub fn kafka_health(&self) -> std::result::Result<(), String> {
        kafka_health_of(&self.state)
    }
}

/// Whether the Kafka broker of `state` serves from its storage: it answers a Metadata request (which
/// tansu reads from its storage) within 5 s. A broker whose storage task stopped (tansu stops it for
/// good after a storage error) fails this while its port still accepts connections; the error names
/// the broker and carries the storage errors from its log.
pub fn kafka_health(name: &str) -> std::result::Result<(), String> {
    let state = StackState::load(name).map_err(|e| e.to_string())?;
    kafka_health_of(&state)
}

fn kafka_health_of(state: &StackState) -> std::result::Result<(), String> {
    let kafka = state
        .components
        .iter()
        .find(|c| c.name == "kafka")
        .ok_or_else(|| format!("stack `{}` has no kafka component", state.name))?;
    if state.provider == Provider::External || kafka.pid.is_none() {
        return process::kafka_metadata_probe(&kafka.address, local::KAFKA_PROBE)
            .map_err(|why| format!("kafka: broker at {}: {why}", kafka.address));
    }
    local::check(kafka).map_err(|why| format!("kafka: {why}"))
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        return Err(Error::BadName(name.to_string()));
    }
    Ok(())
}

/// Restarts the Kafka broker of the running stack `name` (its state file is updated); returns the
/// seconds until the broker answered again. Topics, records and committed offsets survive with the
/// `sqlite` storage (not with `memory`). Tests find the stack's name in `HOGREF_STACK` (set by
/// `cargo xtask test`); a test that restarts a broker should use a [`Stack::private_broker`] instead.
pub fn restart_kafka(name: &str) -> Result<f64> {
    let mut state = StackState::load(name)?;
    restart_kafka_in(&mut state, local::KAFKA_BIND_RETRY, || {})
}

fn restart_kafka_in(
    state: &mut StackState,
    bind_retry: std::time::Duration,
    between: impl FnOnce(),
) -> Result<f64> {
    let idx = state
        .components
        .iter()
        .position(|c| c.name == "kafka" && c.pid.is_some())
        .ok_or(Error::Component {
            component: "kafka",
            reason: format!(
                "stack `{}` has no local kafka broker to restart",
                state.name
            ),
        })?;
    let old = state.components[idx].clone();
    local::stop(&old)?;
    between();
    let started = local::start_kafka_with(
        &state.dir,
        Some(old.port),
        local::storage_of(&old),
        bind_retry,
    )?;
    let secs = started.ready_secs;
    state.components[idx] = started;
    state.save()?;
    Ok(secs)
}

impl Drop for Stack {
    fn drop(&mut self) {
        if self.stop_on_drop {
            let _ = down_state(&self.current_state(), true);
        }
    }
}

fn stop_order(components: &[ComponentState]) -> Vec<&ComponentState> {
    ["clickhouse", "kafka", "postgres", "redis"]
        .iter()
        .filter_map(|n| components.iter().find(|c| c.name == *n))
        .collect()
}

fn down_state(state: &StackState, remove_dir: bool) -> Result<Vec<(String, f64)>> {
    let mut times = Vec::new();
    let mut first_error = None;
    if state.provider != Provider::External {
        for component in stop_order(&state.components) {
            let stopped = match state.provider {
                #[cfg(feature = "docker")]
                Provider::Docker => docker::stop(component),
                _ => local::stop(component),
            };
            match stopped {
                Ok(secs) => times.push((component.name.clone(), secs)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        #[cfg(feature = "docker")]
        if state.provider == Provider::Docker {
            docker::remove_network(&state.name);
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let _ = fs::remove_file(state_path(&state.name));
    if remove_dir && std::env::var_os("HOGREF_KEEP_STACK_DIR").is_none() {
        let _ = fs::remove_dir_all(&state.dir);
    }
    Ok(times)
}

/// Stops the stack `name` from its state file (the counterpart of `up` + [`Stack::detach`]).
pub fn down(name: &str) -> Result<Vec<(String, f64)>> {
    let state = StackState::load(name)?;
    down_state(&state, true)
}

/// Checks each component of the stack `name`: is its process alive, does its port answer.
pub fn status(name: &str) -> Result<(StackState, Vec<ComponentStatus>)> {
    let state = StackState::load(name)?;
    let statuses = state
        .components
        .iter()
        .map(|c| ComponentStatus {
            name: c.name.clone(),
            address: c.address.clone(),
            health: match state.provider {
                Provider::External => external::reachable(&c.address),
                _ => local::check(c),
            },
        })
        .collect();
    Ok((state, statuses))
}

#[cfg(test)]
mod tests {
    /// The docker provider and the compose stack run the same images: the tags are pinned once in each
    /// place, and this keeps the two equal.
    #[test]
    fn docker_image_pins_match_the_compose_stack() {
        let compose = include_str!("../../docker/docker-compose.yml");
        for image in [
            "clickhouse/clickhouse-server",
            "apache/kafka",
            "postgres",
            "redis",
        ] {
            let expected = format!("image: {image}:{}", super::pinned(image));
            assert!(
                compose.lines().any(|l| l.trim() == expected),
                "docker/docker-compose.yml has no `{expected}`: pin the same tag in both places"
            );
        }
    }

    use super::*;

    #[test]
    fn pinned_versions_are_found_by_name() {
        assert_eq!(pinned("chdb-core"), "26.9.0");
        assert_eq!(pinned("tansu"), "0.6.0");
        assert_eq!(pinned("lz4"), "4.4.5");
        assert_eq!(pinned("no-such-tool"), "");
    }

    #[test]
    fn providers_parse_and_print() {
        for provider in [Provider::Local, Provider::Docker, Provider::External] {
            assert_eq!(provider.as_str().parse::<Provider>().unwrap(), provider);
        }
        let err = "podman".parse::<Provider>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown provider `podman`: expected local, docker or external"
        );
    }

    #[test]
    fn env_vars_are_in_the_documented_order() {
        let endpoints = Endpoints {
            clickhouse_url: "http://a:1".into(),
            kafka_hosts: "b:2".into(),
            database_url: "postgres://c:3/d".into(),
            redis_url: "redis://e:4/".into(),
        };
        let names: Vec<&str> = endpoints.env_vars().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ENV_VARS);
    }

    #[test]
    fn bad_stack_names_are_refused_before_anything_starts() {
        let err = Stack::up(&UpOptions {
            name: "../x".into(),
            provider: Provider::Local,
        })
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "invalid stack name `../x`: use lowercase letters, digits, `-` and `_`"
        );
    }
}
