//! The local provider: chDB behind `chdb_http.py`, tansu, a throwaway PostgreSQL cluster and a private Redis.
//!
//! Each component lives in its own directory under the stack directory, listens on a free port of
//! 127.0.0.1, logs to a file there, and runs in its own process group so that the stack stops it in order.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::process::{
    free_port, http_ping, is_alive, log_tail, output_of, port_open, redis_ping, run_logged,
    run_logged_own_group, spawn_detached, terminate, wait_ready,
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
        run_logged("postgres", chown, &stack_dir.join("postgres-chown.log"))?;
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
    run_logged("postgres", initdb, &init_log)?;
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
    run_logged_own_group("postgres", pg_ctl, &ctl_log).map_err(|e| Error::Component {
        component: "postgres",
        reason: format!("{e}\nserver log {}:\n{}", log.display(), log_tail(&log, 10)),
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
    run_logged("postgres", createdb, &ctl_log)?;
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
        started_at: now_unix(),
    })
}

/// The storage URL tansu uses: `$HOGREF_TANSU_STORAGE`, else SQLite in the broker's directory (kept
/// across a broker restart; the path is relative to the broker's working directory).
fn tansu_storage() -> String {
    std::env::var("HOGREF_TANSU_STORAGE").unwrap_or_else(|_| "sqlite://tansu.db".to_string())
}

/// The SQL that gives tansu's SQLite `header` table an index on `(topition, offset_id)`. tansu 0.6.0
/// creates that table without any index and reads a record's headers with a lookup on those two
/// columns, so every fetched record scans every header stored: with capture's ~9 headers per event
/// the broker stalls completely after about 10k events (all requests queue behind its one storage
/// task). Idempotent.
const TANSU_HEADER_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS hogref_header_topition_offset_id ON header (topition, offset_id)";

/// Adds [`TANSU_HEADER_INDEX`] to the broker's SQLite file (Python's `sqlite3`, from the chDB venv),
/// waiting for tansu to have created its schema. Nothing to do for other storage engines.
fn index_tansu_headers(dir: &Path) -> Result<()> {
    let storage = tansu_storage();
    let Some(file) = storage.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let python = install::chdb_python()?;
    let script = format!(
        "import sqlite3, sys, time\n\
         for _ in range(100):\n\
         \x20   c = sqlite3.connect('{file}', timeout=30)\n\
         \x20   if c.execute(\"select 1 from sqlite_master where name = 'header'\").fetchone():\n\
         \x20       c.execute('{TANSU_HEADER_INDEX}'); c.commit(); sys.exit(0)\n\
         \x20   c.close(); time.sleep(0.1)\n\
         sys.exit('tansu created no header table within 10 s')\n"
    );
    let out = Command::new(&python)
        .current_dir(dir)
        .args(["-c", &script])
        .output()
        .map_err(|e| Error::io(format!("running {}", python.display()), e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Component {
            component: "kafka",
            reason: format!(
                "indexing tansu's header table failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// Starts tansu on a fresh port (or on `port`, to restart a broker in place). Topics are not auto-created.
pub(crate) fn start_kafka(stack_dir: &Path, port: Option<u16>) -> Result<ComponentState> {
    let binary = install::tansu()?;
    let dir = stack_dir.join("kafka");
    mkdir(&dir)?;
    let log = dir.join("tansu.log");
    let port = match port {
        Some(port) => port,
        None => free_port()?,
    };
    let url = format!("tcp://127.0.0.1:{port}");
    let start = Instant::now();
    let mut cmd = Command::new(&binary);
    cmd.current_dir(&dir)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", &tansu_storage()])
        .env(
            "RUST_LOG",
            std::env::var("HOGREF_TANSU_LOG").unwrap_or_else(|_| "warn".into()),
        );
    let pid = spawn_detached("kafka", cmd, &log)?;
    wait_ready("kafka", Some(pid), &log, Duration::from_secs(30), || {
        port_open(port).then_some(())
    })?;
    index_tansu_headers(&dir)?;
    let version = output_of(&binary, &["--version"])
        .and_then(|v| v.split_whitespace().last().map(str::to_string))
        .unwrap_or_else(|| pinned("tansu").to_string());
    Ok(ComponentState {
        name: "kafka".into(),
        what: format!("tansu broker, storage {}", tansu_storage()),
        version,
        address: format!("127.0.0.1:{port}"),
        port,
        pid: Some(pid),
        dir,
        log,
        bin: Some(binary),
        ready_secs: start.elapsed().as_secs_f64(),
        started_at: now_unix(),
    })
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
