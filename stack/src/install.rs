//! Installing what the local provider needs, once, into the cache (or via apt-get), and saying so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::process::{is_alive, run_logged};
use crate::{Error, Result, cache_dir, pinned};

/// Longest `apt-get` run.
const APT_LIMIT: Duration = Duration::from_secs(900);

/// Longest tansu build (about 13 min on 2 idle cores; much longer on a loaded machine).
const TANSU_BUILD_LIMIT: Duration = Duration::from_secs(3600);

/// Whether this process runs as root (PostgreSQL binaries then run as the `postgres` user).
pub(crate) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Finds `program` on `PATH` (or in `/usr/sbin`, `/usr/bin`).
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Installs Debian packages with apt-get (running `apt-get update` when the first try fails).
pub(crate) fn apt_install(component: &'static str, packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    if !is_root() {
        return Err(Error::Install {
            what: list.clone(),
            reason: format!("not root; install them with `sudo apt-get install -y {list}`"),
        });
    }
    let log = cache_dir().join("logs").join("apt-get.log");
    eprintln!(
        "stack: installing {list} with apt-get (log {})...",
        log.display()
    );
    let start = Instant::now();
    let install = || {
        let mut cmd = Command::new("apt-get");
        cmd.args(["install", "-y", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_logged(component, cmd, &log, APT_LIMIT)
    };
    if install().is_err() {
        let mut update = Command::new("apt-get");
        update
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive");
        run_logged(component, update, &log, APT_LIMIT)?;
        install().map_err(|e| Error::Install {
            what: list.clone(),
            reason: e.to_string(),
        })?;
    }
    eprintln!(
        "stack: installed {list} in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `redis-server`, installed with apt-get when missing.
pub(crate) fn redis_server() -> Result<PathBuf> {
    if let Some(found) = which("redis-server") {
        return Ok(found);
    }
    apt_install("redis", &["redis-server"])?;
    which("redis-server").ok_or_else(|| Error::Install {
        what: "redis-server".into(),
        reason: "apt-get succeeded but redis-server is not on PATH".into(),
    })
}

/// The PostgreSQL server binaries directory (`$HOGREF_PG_BIN`, else the newest `/usr/lib/postgresql/*/bin`),
/// installing Debian's `postgresql` when none is found.
pub(crate) fn postgres_bin() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("HOGREF_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(found) = newest_pg_bin() {
        return Ok(found);
    }
    apt_install("postgres", &["postgresql"])?;
    newest_pg_bin().ok_or_else(|| Error::Install {
        what: "postgresql".into(),
        reason: "apt-get succeeded but no /usr/lib/postgresql/*/bin/initdb exists".into(),
    })
}

fn newest_pg_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The Python of the chDB venv (`<cache>/venv-chdb`), created and filled with the pinned wheels when missing.
pub(crate) fn chdb_python() -> Result<PathBuf> {
    let venv = cache_dir().join("venv-chdb");
    let python = venv.join("bin").join("python");
    let marker = venv.join("hogref-pins.txt");
    let wanted = format!(
        "chdb-core=={} lz4=={}\n",
        pinned("chdb-core"),
        pinned("lz4")
    );
    if python.is_file() && fs::read_to_string(&marker).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    let log = cache_dir().join("logs").join("venv-chdb.log");
    let base = std::env::var("HOGREF_PYTHON").unwrap_or_else(|_| "python3".to_string());
    eprintln!(
        "stack: installing chDB into {} ({base} -m venv; pip install --no-deps {}; ~180 MB download, log {})...",
        venv.display(),
        wanted.trim(),
        log.display()
    );
    let start = Instant::now();
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .map_err(|e| Error::io(format!("removing stale venv {}", venv.display()), e))?;
    }
    let create = || {
        let mut cmd = Command::new(&base);
        cmd.args(["-m", "venv"]).arg(&venv);
        run_logged("clickhouse", cmd, &log, Duration::from_secs(300))
    };
    if create().is_err() {
        // Debian's python3 needs python3-venv for `-m venv` (ensurepip).
        let _ = fs::remove_dir_all(&venv);
        apt_install("clickhouse", &["python3-venv"])?;
        create().map_err(|e| Error::Install {
            what: "chDB venv".into(),
            reason: e.to_string(),
        })?;
    }
    let mut pip = Command::new(venv.join("bin").join("pip"));
    pip.args([
        "install",
        "--disable-pip-version-check",
        "--no-deps",
        &format!("chdb-core=={}", pinned("chdb-core")),
        &format!("lz4=={}", pinned("lz4")),
    ]);
    run_logged("clickhouse", pip, &log, Duration::from_secs(1200)).map_err(|e| Error::Install {
        what: "chdb-core".into(),
        reason: e.to_string(),
    })?;
    fs::write(&marker, wanted)
        .map_err(|e| Error::io(format!("writing {}", marker.display()), e))?;
    eprintln!(
        "stack: installed chDB in {:.1}s",
        start.elapsed().as_secs_f64()
    );
    Ok(python)
}

/// The tansu binary (`$HOGREF_TANSU`, else `<cache>/tools/tansu-<v>/bin/tansu`), built with
/// `cargo install` when missing (about 10-15 minutes on 2 cores).
pub(crate) fn tansu() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("HOGREF_TANSU") {
        return Ok(PathBuf::from(path));
    }
    let version = pinned("tansu");
    let root = cache_dir().join("tools").join(format!("tansu-{version}"));
    let binary = root.join("bin").join("tansu");
    if binary.is_file() {
        return Ok(binary);
    }
    let lock = root.with_extension("installing");
    wait_for_other_install(&lock, &binary);
    if binary.is_file() {
        return Ok(binary);
    }
    fs::create_dir_all(root.parent().unwrap_or(&root))
        .map_err(|e| Error::io("creating the tools dir".into(), e))?;
    fs::write(&lock, std::process::id().to_string())
        .map_err(|e| Error::io(format!("writing {}", lock.display()), e))?;
    let log = cache_dir().join("tansu-install.log");
    let features = pinned("tansu-features");
    eprintln!(
        "stack: installing tansu {version} (about 10-15 min on 2 cores): cargo install tansu --version {version} --locked --features {features} --root {} (log {})...",
        root.display(),
        log.display()
    );
    let start = Instant::now();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["install", "tansu", "--version", version, "--locked"])
        .args(["--features", features, "--root"])
        .arg(&root)
        .env("CARGO_TARGET_DIR", cache_dir().join("tansu-build"));
    let result = run_logged("kafka", cmd, &log, TANSU_BUILD_LIMIT);
    let _ = fs::remove_file(&lock);
    result.map_err(|e| Error::Install {
        what: format!("tansu {version}"),
        reason: e.to_string(),
    })?;
    eprintln!(
        "stack: installed tansu in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(binary)
}

/// If another process holds the install lock and is alive, waits for it (printing once), at most as
/// long as a build of our own may take; then the caller builds itself.
fn wait_for_other_install(lock: &Path, binary: &Path) {
    let Some(pid) = fs::read_to_string(lock)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    if !is_alive(pid) {
        return;
    }
    eprintln!("stack: waiting for another tansu install (pid {pid}) to finish...");
    let start = Instant::now();
    while is_alive(pid) && !binary.is_file() {
        if start.elapsed() > TANSU_BUILD_LIMIT {
            eprintln!(
                "stack: the other tansu install (pid {pid}) is still running after {}s; building here",
                TANSU_BUILD_LIMIT.as_secs()
            );
            return;
        }
        sleep(Duration::from_secs(5));
    }
}
