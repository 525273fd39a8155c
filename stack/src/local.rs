//! The local provider: chDB behind `chdb_http.py`, tansu, a throwaway PostgreSQL cluster and a private Redis.
//!
//! Each component lives in its own directory under the stack directory, listens on a free port of
//! 127.0.0.1, logs to a file there, and runs in its own process group so that the stack stops it in order.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use std::thread::sleep;

use crate::process::{
    free_port, http_ping, is_alive, listener_pid, log_tail, output_of, output_with_deadline,
    port_open, redis_ping, run_logged, run_logged_own_group, spawn_detached, terminate, wait_ready,
};
use crate::{ComponentState, Error, Result, install, now_unix, pinned};

/// The front program, embedded so that the crate needs no files at run time.
const CHDB_HTTP_PY: &str = include_str!("../chdb/chdb_http.py");

/// Where PostgreSQL's files go: the `postgres` OS user must reach them, and `$HOME` (/root) is private,
/// so when running as root they go to a per-stack directory under the system temp dir.
pub(crate) fn postgres_dir(stack_dir: &Path) -> PathBuf {
    if install::is_root() {
        let key = stack_dir.to_string_lossy();
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        let name = stack_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::env::temp_dir().join(format!("hogref-pg-{name}-{:08x}", hash as u32))
    } else {
        stack_dir.join("postgres")
    }
}

/// Starts Redis: `redis-server` without persistence.
pub(crate) fn start_redis(stack_dir: &Path) -> Result<ComponentState> {
    let binary = install::redis_server()?;
    let dir = stack_dir.join("redis");
    mkdir(&dir)?;
    let log = dir.join("redis.log");
    let port = free_port()?;
    let start = Instant::now();
    let mut cmd = Command::new(&binary);
    cmd.args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(&dir);
    let pid = spawn_detached("redis", cmd, &log)?;
    let address = format!("127.0.0.1:{port}");
    wait_ready("redis", Some(pid), &log, Duration::from_secs(20), || {
        redis_ping(&address).then_some(())
    })?;
    let version = output_of(&binary, &["--version"])
        .and_then(|v| {
            v.split_whitespace()
                .find_map(|w| w.strip_prefix("v=").map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".into());
    Ok(ComponentState {
        name: "redis".into(),
        what: "redis-server (Debian)".into(),
        version,
        address,
        port,
        pid: Some(pid),
        dir,
        log,
        bin: Some(binary),
        ready_secs: start.elapsed().as_secs_f64(),
        log_offset: 0,
        started_at: now_unix(),
    })
}

fn pg_command(bin: &Path, program: &str) -> Command {
    if install::is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(bin.join(program));
        cmd
    } else {
        Command::new(bin.join(program))
    }
}

/// Starts PostgreSQL: `initdb` into a fresh directory, `pg_ctl start -w`, then `CREATE DATABASE hogref`.
pub(crate) fn start_postgres(stack_dir: &Path) -> Result<ComponentState> {
    let bin = install::postgres_bin()?;
    let dir = postgres_dir(stack_dir);
    if dir.exists() {
        fs::remove_dir_all(&dir)
            .map_err(|e| Error::io(format!("removing old {}", dir.display()), e))?;
    }
    mkdir(&dir)?;
    if install::is_root() {
        let mut chown = Command::new("chown");
        chown.args(["-R", "postgres:postgres"]).arg(&dir);
        run_logged(
            "postgres",
            chown,
            &stack_dir.join("postgres-chown.log"),
            Duration::from_secs(60),
        )?;
    }
    let data = dir.join("data");
    let log = dir.join("server.log");
    let init_log = stack_dir.join("postgres-initdb.log");
    let start = Instant::now();
    let mut initdb = pg_command(&bin, "initdb");
    initdb.arg("-D").arg(&data).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--no-locale",
        "--no-sync",
    ]);
    run_logged("postgres", initdb, &init_log, Duration::from_secs(120))?;
    let port = free_port()?;
    let options = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=200",
        dir.display()
    );
    let mut pg_ctl = pg_command(&bin, "pg_ctl");
    pg_ctl
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "30", "-o", &options, "start"]);
    let ctl_log = stack_dir.join("postgres-pg_ctl.log");
    run_logged_own_group("postgres", pg_ctl, &ctl_log, Duration::from_secs(60)).map_err(|e| {
        Error::Component {
            component: "postgres",
            reason: format!("{e}\nserver log {}:\n{}", log.display(), log_tail(&log, 10)),
        }
    })?;
    let pid = fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
    wait_ready("postgres", pid, &log, Duration::from_secs(30), || {
        port_open(port).then_some(())
    })?;
    let mut createdb = Command::new(bin.join("createdb"));
    createdb.args([
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "hogref",
    ]);
    run_logged("postgres", createdb, &ctl_log, Duration::from_secs(60))?;
    let version = output_of(&bin.join("postgres"), &["--version"])
        .and_then(|v| v.split_whitespace().nth(2).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Ok(ComponentState {
        name: "postgres".into(),
        what: format!("PostgreSQL cluster (initdb, {})", bin.display()),
        version,
        address: format!("127.0.0.1:{port}"),
        port,
        pid,
        dir,
        log,
        bin: Some(bin),
        ready_secs: start.elapsed().as_secs_f64(),
        log_offset: 0,
        started_at: now_unix(),
    })
}

/// Where tansu keeps topics, records and committed offsets (`HOGREF_TANSU_STORAGE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TansuStorage {
    /// `sqlite` (the default): a SQLite file in the broker's directory. Durable: topics, records and
    /// committed group offsets survive a broker restart (the fault tests rely on it). About 5.8k
    /// capture-shaped messages/s on the development machine.
    Sqlite,
    /// `memory`: everything in the broker's memory, lost when it stops or restarts. For benchmarks
    /// only (its ceiling is about 80 times SQLite's).
    Memory,
}

impl TansuStorage {
    /// The choice named by `HOGREF_TANSU_STORAGE` (`sqlite` when unset or empty); any other value is
    /// an error naming the variable.
    pub fn from_env() -> Result<TansuStorage> {
        match std::env::var("HOGREF_TANSU_STORAGE") {
            Err(_) => Ok(TansuStorage::Sqlite),
            Ok(value) => value.trim().parse(),
        }
    }

    /// The name as `HOGREF_TANSU_STORAGE` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            TansuStorage::Sqlite => "sqlite",
            TansuStorage::Memory => "memory",
        }
    }

    /// tansu's `--storage-engine` URL. `sqlite://` paths are relative to the broker's working
    /// directory (its component directory).
    pub fn url(self) -> &'static str {
        match self {
            TansuStorage::Sqlite => "sqlite://tansu.db",
            TansuStorage::Memory => "memory://tansu/",
        }
    }

    /// Whether records survive a broker restart.
    pub fn durable(self) -> bool {
        self == TansuStorage::Sqlite
    }
}

impl std::str::FromStr for TansuStorage {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "" | "sqlite" => Ok(TansuStorage::Sqlite),
            "memory" => Ok(TansuStorage::Memory),
            other => Err(Error::Component {
                component: "kafka",
                reason: format!(
                    "HOGREF_TANSU_STORAGE=`{other}` is not a storage choice: expected sqlite (durable, the default) or memory (lost on restart)"
                ),
            }),
        }
    }
}

/// The storage file of a SQLite-backed broker, inside its component directory.
const TANSU_SQLITE_FILE: &str = "tansu.db";

/// The SQL that gives tansu's SQLite `header` table an index on `(topition, offset_id)`. tansu 0.6.0
/// creates that table without any index and reads a record's headers with a lookup on those two
/// columns, so every fetched record scans every header stored: with capture's ~9 headers per event
/// the broker stalls completely after about 10k events (all requests queue behind its one storage
/// task). Idempotent.
const TANSU_HEADER_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS hogref_header_topition_offset_id ON header (topition, offset_id)";

/// How long a broker may take to hold its port and answer a Metadata request.
const KAFKA_READY: Duration = Duration::from_secs(30);

/// How long a broker's health probe waits for an answer.
pub(crate) const KAFKA_PROBE: Duration = Duration::from_secs(5);

/// How long a restart keeps retrying while the broker's old port is taken (`AddrInUse`).
pub(crate) const KAFKA_BIND_RETRY: Duration = Duration::from_secs(30);

/// Runs `script` with Python's `sqlite3` (from the chDB venv) in `dir`; fails with its stderr.
fn run_sqlite_script(dir: &Path, what: &str, script: &str) -> Result<()> {
    let python = install::chdb_python()?;
    let mut cmd = Command::new(&python);
    cmd.current_dir(dir).args(["-c", script]);
    let out =
        output_with_deadline(cmd, Duration::from_secs(60)).map_err(|reason| Error::Component {
            component: "kafka",
            reason: format!("{what}: {reason}"),
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Component {
            component: "kafka",
            reason: format!(
                "{what} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Whether the SQLite file in `dir` already has [`TANSU_HEADER_INDEX`].
fn header_index_exists(dir: &Path) -> bool {
    dir.join(TANSU_SQLITE_FILE).is_file()
        && run_sqlite_script(
            dir,
            "looking for the header index",
            &format!(
                "import sqlite3, sys\n\
                 c = sqlite3.connect('file:{TANSU_SQLITE_FILE}?mode=ro', uri=True, timeout=10)\n\
                 sys.exit(0 if c.execute(\"select 1 from sqlite_master where name = 'hogref_header_topition_offset_id'\").fetchone() else 1)\n"
            ),
        )
        .is_ok()
}

/// Gives a SQLite-backed broker its header index *before* it serves anyone: tansu keeps one storage
/// task that stops for good after a storage error, so the index must not be written from a second
/// process while the broker runs (a lock collision would wedge it). On a fresh directory tansu is
/// started once on a throwaway port to create its schema (it does so before it listens), killed, and
/// the index is added with nothing else holding the file. A restart finds the index already there.
fn prepare_tansu_sqlite(binary: &Path, dir: &Path, log: &Path) -> Result<()> {
    if header_index_exists(dir) {
        return Ok(());
    }
    let port = free_port()?;
    let mut cmd = tansu_command(binary, dir, port, TansuStorage::Sqlite);
    cmd.env("RUST_LOG", "warn");
    let pid = spawn_detached("kafka", cmd, log)?;
    let ready = wait_ready("kafka", Some(pid), log, KAFKA_READY, || {
        (listener_pid(port) == Some(pid)).then_some(())
    });
    let stopped = terminate(pid, Duration::from_millis(500));
    ready?;
    if !stopped {
        return Err(Error::Component {
            component: "kafka",
            reason: format!("the schema-creating broker (pid {pid}) did not stop"),
        });
    }
    run_sqlite_script(
        dir,
        "indexing tansu's header table",
        &format!(
            "import sqlite3, sys\n\
             c = sqlite3.connect('{TANSU_SQLITE_FILE}', timeout=10)\n\
             if not c.execute(\"select 1 from sqlite_master where name = 'header'\").fetchone():\n\
             \x20   sys.exit('tansu created no header table')\n\
             c.execute('{TANSU_HEADER_INDEX}'); c.commit()\n"
        ),
    )
}

fn tansu_command(binary: &Path, dir: &Path, port: u16, storage: TansuStorage) -> Command {
    let url = format!("tcp://127.0.0.1:{port}");
    let mut cmd = Command::new(binary);
    cmd.current_dir(dir)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", storage.url()])
        .env(
            "RUST_LOG",
            std::env::var("HOGREF_TANSU_LOG").unwrap_or_else(|_| "warn".into()),
        );
    cmd
}

/// Starts tansu on a fresh port with the storage `HOGREF_TANSU_STORAGE` names. Topics are not
/// auto-created.
pub(crate) fn start_kafka(stack_dir: &Path) -> Result<ComponentState> {
    start_kafka_with(stack_dir, None, TansuStorage::from_env()?, Duration::ZERO)
}

/// Starts tansu, on `port` when given (a restart in place; while that port is taken by someone else
/// the start is retried until `bind_retry` has passed, then fails naming the port and its holder).
///
/// The broker is ready when its own process holds the port (not merely "something answers there")
/// and it answers a Metadata request from its storage.
pub(crate) fn start_kafka_with(
    stack_dir: &Path,
    port: Option<u16>,
    storage: TansuStorage,
    bind_retry: Duration,
) -> Result<ComponentState> {
    let binary = install::tansu()?;
    let dir = stack_dir.join("kafka");
    mkdir(&dir)?;
    let log = dir.join("tansu.log");
    if storage == TansuStorage::Sqlite {
        prepare_tansu_sqlite(&binary, &dir, &log)?;
    }
    let port = match port {
        Some(port) => port,
        None => free_port()?,
    };
    let address = format!("127.0.0.1:{port}");
    let start = Instant::now();
    let (pid, log_offset) = loop {
        let taken_by = listener_pid(port);
        if let Some(holder) = taken_by {
            if start.elapsed() >= bind_retry {
                return Err(Error::Component {
                    component: "kafka",
                    reason: format!(
                        "cannot start the broker on {address}: the port is held by pid {holder} ({}) and stayed taken for {:.0}s; log {}:\n{}",
                        process_name(holder),
                        bind_retry.as_secs_f64(),
                        log.display(),
                        log_tail(&log, 10)
                    ),
                });
            }
            sleep(Duration::from_millis(200));
            continue;
        }
        let offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
        let pid = spawn_detached("kafka", tansu_command(&binary, &dir, port, storage), &log)?;
        let bound = wait_ready("kafka", Some(pid), &log, KAFKA_READY, || {
            (listener_pid(port) == Some(pid)).then_some(())
        });
        match bound {
            Ok(()) => break (pid, offset),
            // tansu panics on `AddrInUse` when someone took the port between our look and its bind.
            Err(_)
                if log_since(&log, offset).contains("AddrInUse")
                    && start.elapsed() < bind_retry =>
            {
                let _ = terminate(pid, Duration::from_secs(1));
                sleep(Duration::from_millis(200));
            }
            Err(e) => {
                let _ = terminate(pid, Duration::from_secs(1));
                let taken = log_since(&log, offset).contains("AddrInUse");
                return Err(if taken {
                    Error::Component {
                        component: "kafka",
                        reason: format!(
                            "cannot start the broker on {address}: the port stayed taken (AddrInUse) for {:.0}s; log {}:\n{}",
                            bind_retry.as_secs_f64(),
                            log.display(),
                            log_tail(&log, 10)
                        ),
                    }
                } else {
                    e
                });
            }
        }
    };
    let probed = wait_ready("kafka", Some(pid), &log, KAFKA_READY, || {
        crate::process::kafka_metadata_probe(&address, KAFKA_PROBE).ok()
    });
    if let Err(e) = probed {
        let _ = terminate(pid, Duration::from_secs(1));
        return Err(e);
    }
    let version = output_of(&binary, &["--version"])
        .and_then(|v| v.split_whitespace().last().map(str::to_string))
        .unwrap_or_else(|| pinned("tansu").to_string());
    Ok(ComponentState {
        name: "kafka".into(),
        what: format!(
            "tansu broker, storage {} ({})",
            storage.url(),
            if storage.durable() {
                "durable"
            } else {
                "lost on restart"
            }
        ),
        version,
        address,
        port,
        pid: Some(pid),
        dir,
        log,
        bin: Some(binary),
        ready_secs: start.elapsed().as_secs_f64(),
        log_offset,
        started_at: now_unix(),
    })
}

/// The storage a running broker was started with (from its component description).
pub(crate) fn storage_of(component: &ComponentState) -> TansuStorage {
    if component.what.contains(TansuStorage::Memory.url()) {
        TansuStorage::Memory
    } else {
        TansuStorage::Sqlite
    }
}

/// The text a log file gained after byte `offset`.
fn log_since(log: &Path, offset: u64) -> String {
    fs::read(log)
        .ok()
        .and_then(|bytes| {
            bytes
                .get(offset as usize..)
                .map(|b| String::from_utf8_lossy(b).into_owned())
        })
        .unwrap_or_default()
}

/// A process's command name, for messages (`?` when it cannot be read).
fn process_name(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Whether the broker's storage still works: it answers a Metadata request (read from storage) within
/// [`KAFKA_PROBE`]. When it does not, the error carries the storage errors tansu logged since it started
/// (a broker whose storage task stopped answers nothing that touches storage again).
pub(crate) fn kafka_health(component: &ComponentState) -> std::result::Result<(), String> {
    crate::process::kafka_metadata_probe(&component.address, KAFKA_PROBE).map_err(|why| {
        // This run's lines only: the log also holds earlier runs (and their shutdown noise).
        let storage_errors: Vec<String> = log_since(&component.log, component.log_offset)
            .lines()
            .map(strip_ansi)
            .filter(|l| {
                l.contains("SqliteFailure")
                    || l.contains("UnableToSend")
                    || l.contains("Storage(")
                    || l.contains("panicked")
            })
            .collect();
        let last: Vec<&String> = storage_errors.iter().rev().take(3).rev().collect();
        if last.is_empty() {
            format!(
                "broker at {} does not serve from its storage: {why}; log {}:\n{}",
                component.address,
                component.log.display(),
                log_tail(&component.log, 10)
            )
        } else {
            format!(
                "broker at {} does not serve from its storage ({} storage errors logged, last: {}): {why}; log {}",
                component.address,
                storage_errors.len(),
                last.iter()
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(" | "),
                component.log.display()
            )
        }
    })
}

/// A log line without its terminal colour codes.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Starts the ClickHouse engine: chDB in the cached venv behind `chdb_http.py`, on a port it picks itself.
pub(crate) fn start_clickhouse(stack_dir: &Path) -> Result<ComponentState> {
    let python = install::chdb_python()?;
    let dir = stack_dir.join("clickhouse");
    mkdir(&dir)?;
    let script = dir.join("chdb_http.py");
    fs::write(&script, CHDB_HTTP_PY)
        .map_err(|e| Error::io(format!("writing {}", script.display()), e))?;
    let log = dir.join("clickhouse.log");
    // Readiness is read from this run's log lines only.
    let offset = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let start = Instant::now();
    let mut cmd = Command::new(&python);
    cmd.current_dir(&dir)
        .arg("-u")
        .arg(&script)
        .arg("--path")
        .arg(dir.join("data"))
        .args(["--host", "127.0.0.1", "--port", "0"]);
    let pid = spawn_detached("clickhouse", cmd, &log)?;
    let (port, version) = wait_ready(
        "clickhouse",
        Some(pid),
        &log,
        Duration::from_secs(90),
        || {
            let text = fs::read(&log).ok()?;
            let text = String::from_utf8_lossy(text.get(offset as usize..)?).into_owned();
            let line = text.lines().find(|l| l.starts_with("READY "))?;
            let mut words = line.split_whitespace().skip(1);
            let port = words.next()?.rsplit(':').next()?.parse::<u16>().ok()?;
            let version = words.nth(1)?.to_string();
            Some((port, version))
        },
    )?;
    let address = format!("127.0.0.1:{port}");
    wait_ready(
        "clickhouse",
        Some(pid),
        &log,
        Duration::from_secs(10),
        || http_ping(&address).then_some(()),
    )?;
    Ok(ComponentState {
        name: "clickhouse".into(),
        what: format!(
            "chDB (chdb-core {}) behind chdb_http.py",
            pinned("chdb-core")
        ),
        version,
        address,
        port,
        pid: Some(pid),
        dir,
        log,
        bin: Some(python),
        ready_secs: start.elapsed().as_secs_f64(),
        log_offset: 0,
        started_at: now_unix(),
    })
}

/// Stops one component; returns how long it took. Zombies count as stopped.
pub(crate) fn stop(component: &ComponentState) -> Result<f64> {
    let start = Instant::now();
    let gone = match component.name.as_str() {
        "postgres" => stop_postgres(component),
        // tansu waits ~5 s on SIGTERM while clients are connected; the front is stopped first.
        "kafka" => component
            .pid
            .is_none_or(|p| terminate(p, Duration::from_secs(3))),
        _ => component
            .pid
            .is_none_or(|p| terminate(p, Duration::from_secs(5))),
    };
    if gone {
        Ok(start.elapsed().as_secs_f64())
    } else {
        Err(Error::Component {
            component: component_name(&component.name),
            reason: format!(
                "pid {} is still alive after SIGKILL",
                component.pid.unwrap_or(0)
            ),
        })
    }
}

fn stop_postgres(component: &ComponentState) -> bool {
    if let (Some(bin), Some(pid)) = (&component.bin, component.pid)
        && is_alive(pid)
    {
        let mut pg_ctl = pg_command(bin, "pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(component.dir.join("data"))
            .args(["-m", "fast", "-w", "-t", "10", "stop"]);
        let _ = run_logged(
            "postgres",
            pg_ctl,
            &component.dir.with_extension("stop.log"),
            Duration::from_secs(30),
        );
    }
    let gone = component
        .pid
        .is_none_or(|p| terminate(p, Duration::from_secs(5)));
    if gone {
        let _ = fs::remove_dir_all(&component.dir);
        let _ = fs::remove_file(component.dir.with_extension("stop.log"));
    }
    gone
}

/// The static name used in errors for a component.
pub(crate) fn component_name(name: &str) -> &'static str {
    match name {
        "clickhouse" => "clickhouse",
        "kafka" => "kafka",
        "postgres" => "postgres",
        "redis" => "redis",
        _ => "component",
    }
}

/// Whether a component answers: its process is alive and its port speaks its protocol.
pub(crate) fn check(component: &ComponentState) -> std::result::Result<(), String> {
    if let Some(pid) = component.pid
        && !is_alive(pid)
    {
        return Err(format!(
            "process {pid} is gone (log {})",
            component.log.display()
        ));
    }
    if component.name == "kafka" {
        return kafka_health(component);
    }
    let ok = match component.name.as_str() {
        "clickhouse" => http_ping(&component.address),
        "redis" => redis_ping(&component.address),
        _ => port_open(component.port),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} does not answer (log {})",
            component.address,
            component.log.display()
        ))
    }
}

fn mkdir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tansu_storage_names_parse_and_anything_else_is_refused() {
        assert_eq!(
            "sqlite".parse::<TansuStorage>().unwrap(),
            TansuStorage::Sqlite
        );
        assert_eq!("".parse::<TansuStorage>().unwrap(), TansuStorage::Sqlite);
        assert_eq!(
            "memory".parse::<TansuStorage>().unwrap(),
            TansuStorage::Memory
        );
        assert_eq!(TansuStorage::Memory.url(), "memory://tansu/");
        assert_eq!(TansuStorage::Sqlite.url(), "sqlite://tansu.db");
        assert!(TansuStorage::Sqlite.durable() && !TansuStorage::Memory.durable());
        let err = "sqlite://tansu.db"
            .parse::<TansuStorage>()
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "kafka: HOGREF_TANSU_STORAGE=`sqlite://tansu.db` is not a storage choice: expected sqlite (durable, the default) or memory (lost on restart)"
        );
    }

    #[test]
    fn ansi_colour_codes_are_stripped_from_log_lines() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[31mERROR\u{1b}[0m x"),
            "2026 ERROR x"
        );
    }
}
