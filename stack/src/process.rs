//! Child processes of a stack: start detached (own process group), check liveness, stop with a deadline.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::{Error, Result};

/// Starts `cmd` in its own process group (so a terminal Ctrl-C reaches only us, and we stop it in order),
/// with stdin closed and stdout/stderr appended to `log`. Returns the child's pid.
pub(crate) fn spawn_detached(component: &'static str, mut cmd: Command, log: &Path) -> Result<u32> {
    let out = open_log(log)?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io(format!("cloning log handle {}", log.display()), e))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    let child = cmd.spawn().map_err(|e| Error::Component {
        component,
        reason: format!("cannot start {:?}: {e}", cmd.get_program()),
    })?;
    // The child is reaped by init once we exit; liveness checks treat zombies as stopped.
    Ok(child.id())
}

/// Runs a command to completion within `limit`, output appended to `log`; fails with the log tail
/// (past `limit` it is killed and the error says so). It stays in our process group, so a Ctrl-C stops
/// it too (installs, initdb).
pub(crate) fn run_logged(
    component: &'static str,
    cmd: Command,
    log: &Path,
    limit: Duration,
) -> Result<()> {
    run_logged_with(component, cmd, log, false, limit)
}

/// Like [`run_logged`], in a process group of its own: for commands that leave a daemon behind
/// (`pg_ctl start`), which the stack stops itself, in order.
pub(crate) fn run_logged_own_group(
    component: &'static str,
    cmd: Command,
    log: &Path,
    limit: Duration,
) -> Result<()> {
    run_logged_with(component, cmd, log, true, limit)
}

fn run_logged_with(
    component: &'static str,
    mut cmd: Command,
    log: &Path,
    own_group: bool,
    limit: Duration,
) -> Result<()> {
    let out = open_log(log)?;
    let err = out
        .try_clone()
        .map_err(|e| Error::io(format!("cloning log handle {}", log.display()), e))?;
    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    if own_group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| Error::Component {
        component,
        reason: format!("cannot run {program}: {e}"),
    })?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() < limit => sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::Component {
                    component,
                    reason: format!(
                        "{program} did not finish within {}s (killed); log {}:\n{}",
                        limit.as_secs(),
                        log.display(),
                        log_tail(log, 15)
                    ),
                });
            }
        }
    };
    if status.success() {
        Ok(())
    } else {
        Err(Error::Component {
            component,
            reason: format!(
                "{program} failed ({status}); log {}:\n{}",
                log.display(),
                log_tail(log, 15)
            ),
        })
    }
}

/// Opens (creating parents) a log file for appending.
pub(crate) fn open_log(log: &Path) -> Result<File> {
    if let Some(parent) = log.parent() {
        fs::create_dir_all(parent)
            .map_err(|e| Error::io(format!("creating {}", parent.display()), e))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|e| Error::io(format!("opening log {}", log.display()), e))
}

/// Whether `pid` is a live process. A zombie (state `Z`, not yet reaped) counts as stopped.
pub(crate) fn is_alive(pid: u32) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // Format: `pid (comm) S ...`; comm may contain spaces, so look after the last `)`.
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => state != "Z" && state != "X",
        None => false,
    }
}

/// Sends SIGTERM, waits up to `grace`, then SIGKILL and waits up to 2 s more. Returns whether it is gone.
pub(crate) fn terminate(pid: u32, grace: Duration) -> bool {
    if !is_alive(pid) {
        return true;
    }
    let target = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
    let _ = kill(target, Signal::SIGTERM);
    if wait_gone(pid, grace) {
        return true;
    }
    let _ = kill(target, Signal::SIGKILL);
    wait_gone(pid, Duration::from_secs(2))
}

fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !is_alive(pid) {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    !is_alive(pid)
}

/// Picks a free TCP port on 127.0.0.1 (the OS chooses; the listener is closed before returning).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("picking a free port".to_string(), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("picking a free port".to_string(), e))
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub(crate) fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Sends `request` to `host:port` and returns the whole response (for `/ping` and Redis `PING`).
pub(crate) fn exchange(addr: &str, request: &[u8], expect_close: bool) -> Option<String> {
    let addr: SocketAddr = addr.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .ok()?;
    stream.write_all(request).ok()?;
    let mut buf = Vec::new();
    if expect_close {
        let _ = stream.read_to_end(&mut buf);
    } else {
        let mut chunk = [0u8; 512];
        let n = stream.read(&mut chunk).ok()?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// An HTTP GET of ClickHouse's `/ping`; true on `Ok.`.
pub(crate) fn http_ping(host_port: &str) -> bool {
    let req = format!("GET /ping HTTP/1.1\r\nHost: {host_port}\r\nConnection: close\r\n\r\n");
    exchange(host_port, req.as_bytes(), true).is_some_and(|r| r.contains("Ok."))
}

/// A Redis `PING`; true on `+PONG`.
pub(crate) fn redis_ping(host_port: &str) -> bool {
    exchange(host_port, b"PING\r\n", false).is_some_and(|r| r.starts_with("+PONG"))
}

/// The last `lines` lines of a log file, indented, for error messages.
pub(crate) fn log_tail(log: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(log) else {
        return format!("    (no log at {})", log.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut text = String::new();
    let mut raw = Vec::new();
    let _ = file.read_to_end(&mut raw);
    text.push_str(&String::from_utf8_lossy(&raw));
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        return "    (log is empty)".to_string();
    }
    all[start..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Polls `check` every 25 ms until it returns `Some`, the process `pid` dies, or `timeout` passes.
pub(crate) fn wait_ready<T>(
    component: &'static str,
    pid: Option<u32>,
    log: &Path,
    timeout: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if let Some(pid) = pid
            && !is_alive(pid)
        {
            // One last look: it may have become ready and exited between checks (never expected).
            return Err(Error::Component {
                component,
                reason: format!(
                    "exited during start-up (pid {pid}); log {}:\n{}",
                    log.display(),
                    log_tail(log, 15)
                ),
            });
        }
        if start.elapsed() > timeout {
            return Err(Error::Component {
                component,
                reason: format!(
                    "not ready after {}s; log {}:\n{}",
                    timeout.as_secs(),
                    log.display(),
                    log_tail(log, 15)
                ),
            });
        }
        sleep(Duration::from_millis(25));
    }
}

/// The pid that listens on `127.0.0.1:port` (or `0.0.0.0:port`), read from `/proc/net/tcp` and the
/// processes' file descriptors; `None` when nothing listens there (or the owner cannot be seen).
///
/// Readiness checks use it so that a broker counts as up only when *its* process holds the port: a
/// port that answers because another process took it is not a broker that started.
pub(crate) fn listener_pid(port: u16) -> Option<u32> {
    let inode = listening_inode(port)?;
    let wanted = format!("socket:[{inode}]");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == wanted.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

/// The inode of the socket listening on TCP `port` of 127.0.0.1 or 0.0.0.0 (state `0A` in `/proc/net/tcp`).
fn listening_inode(port: u16) -> Option<String> {
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    let suffix = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
        let host = local.strip_suffix(suffix.as_str())?;
        (*state == "0A" && (host == "0100007F" || host == "00000000")).then(|| inode.to_string())
    })
}

/// Asks the Kafka-protocol broker at `addr` for its metadata (a Metadata v1 request for every topic,
/// which the broker answers from its storage) and waits at most `timeout` for the answer.
///
/// `Ok` means the broker read its storage and answered; the error says what did not happen (no
/// connection, the connection closed without an answer, no answer in time, a malformed answer).
pub(crate) fn kafka_metadata_probe(
    addr: &str,
    timeout: Duration,
) -> std::result::Result<(), String> {
    const CORRELATION_ID: i32 = 0x686f_6772;
    let socket: SocketAddr = addr
        .parse()
        .map_err(|e| format!("bad broker address {addr}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&socket, timeout)
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    // Request header v1 (api key 3 = Metadata, version 1, correlation id, client id) and a null topic
    // array (= every topic).
    let client_id = b"hogref-probe";
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes());
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&CORRELATION_ID.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&(-1i32).to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    let remaining = |deadline: Instant| {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    };
    stream
        .set_write_timeout(Some(remaining(deadline)))
        .and_then(|()| stream.write_all(&frame))
        .map_err(|e| format!("cannot send a Metadata request to {addr}: {e}"))?;
    let mut read_exact = |buf: &mut [u8]| -> std::result::Result<(), String> {
        stream
            .set_read_timeout(Some(remaining(deadline)))
            .map_err(|e| e.to_string())?;
        stream.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => format!(
                "no answer to a Metadata request within {:.1}s",
                timeout.as_secs_f64()
            ),
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted => {
                "the broker closed the connection without answering a Metadata request".to_string()
            }
            _ => format!("reading the Metadata answer failed: {e}"),
        })
    };
    let mut len = [0u8; 4];
    read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    if !(4..=16 * 1024 * 1024).contains(&len) {
        return Err(format!("a Metadata answer of {len} bytes makes no sense"));
    }
    let mut answer = vec![0u8; len as usize];
    read_exact(&mut answer)?;
    let correlation = i32::from_be_bytes([answer[0], answer[1], answer[2], answer[3]]);
    if correlation == CORRELATION_ID {
        Ok(())
    } else {
        Err(format!(
            "the Metadata answer carries correlation id {correlation}, not {CORRELATION_ID}"
        ))
    }
}

/// Runs a command and returns its trimmed stdout (for `--version` probes); `None` when it fails or
/// takes more than 10 s.
pub(crate) fn output_of(program: &Path, args: &[&str]) -> Option<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    let out = output_with_deadline(cmd, Duration::from_secs(10)).ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs `cmd` to completion, killing it when `limit` passes; stdout and stderr are captured (for
/// commands with little output: they are read once it exited).
pub fn output_with_deadline(
    mut cmd: Command,
    limit: Duration,
) -> std::result::Result<std::process::Output, String> {
    let program = format!("{:?}", cmd.get_program());
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    wait_with_deadline(&mut child, &program, limit)?;
    child
        .wait_with_output()
        .map_err(|e| format!("reading the output of {program}: {e}"))
}

/// Runs `cmd` to completion with its stdout and stderr left as they are (inherited unless set),
/// killing it when `limit` passes; the error names `what` and the limit in one line.
pub fn status_with_deadline(
    what: &str,
    cmd: &mut Command,
    limit: Duration,
) -> std::result::Result<std::process::ExitStatus, String> {
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {what} ({:?}): {e}", cmd.get_program()))?;
    wait_with_deadline(&mut child, what, limit)
}

/// Waits for `child` to exit, killing it (and reaping it) when `limit` passes; the error names
/// `what` and the limit in one line.
pub fn wait_with_deadline(
    child: &mut std::process::Child,
    what: &str,
    limit: Duration,
) -> std::result::Result<std::process::ExitStatus, String> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if start.elapsed() < limit => sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} did not finish within {}s (killed)",
                    limit.as_secs()
                ));
            }
            Err(e) => return Err(format!("waiting for {what}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_missing_one_is_not() {
        assert!(is_alive(std::process::id()));
        assert!(!is_alive(u32::MAX - 1));
    }

    #[test]
    fn a_status_command_past_its_deadline_is_killed_and_named() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let err = status_with_deadline("sleepy helper", &mut cmd, Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(err, "sleepy helper did not finish within 0s (killed)");
        let mut cmd = Command::new("true");
        assert!(
            status_with_deadline("true", &mut cmd, Duration::from_secs(30))
                .unwrap()
                .success()
        );
    }

    #[test]
    fn log_tail_keeps_the_last_non_empty_lines() {
        let dir = std::env::temp_dir().join(format!("stack-tail-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("x.log");
        fs::write(&log, "one\n\ntwo\nthree\nfour\n").unwrap();
        let tail = log_tail(&log, 2);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(tail, "    | three\n    | four");
    }

    #[test]
    fn a_wait_that_never_succeeds_names_the_component_and_the_limit() {
        let missing = Path::new("/nonexistent/hogref/x.log");
        let err = wait_ready("redis", None, missing, Duration::from_millis(60), || {
            None::<()>
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("redis: not ready after 0s; log /nonexistent/hogref/x.log:"),
            "{err}"
        );
        assert!(
            err.contains("(no log at /nonexistent/hogref/x.log)"),
            "{err}"
        );
    }

    #[test]
    fn a_command_past_its_deadline_is_killed_and_named() {
        let dir = std::env::temp_dir().join(format!("stack-deadline-{}", std::process::id()));
        let log = dir.join("slow.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; sleep 30"]);
        let err = run_logged("postgres", cmd, &log, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        let _ = fs::remove_dir_all(&dir);
        assert!(
            err.starts_with("postgres: \"sh\" did not finish within 0s (killed); log "),
            "{err}"
        );
        assert!(err.ends_with("    | started"), "{err}");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30"]);
        assert_eq!(
            output_with_deadline(cmd, Duration::from_millis(200)).unwrap_err(),
            "\"sh\" did not finish within 0s (killed)"
        );
    }

    #[test]
    fn a_free_port_is_not_answering() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        assert!(!port_open(port));
        assert_eq!(listener_pid(port), None);
    }

    #[test]
    fn the_listener_of_a_port_is_found_by_its_pid() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_eq!(listener_pid(port), Some(std::process::id()));
    }

    #[test]
    fn a_kafka_probe_of_something_that_is_not_a_broker_says_what_happened() {
        // Nothing listens: the connection is refused.
        let port = free_port().unwrap();
        let err =
            kafka_metadata_probe(&format!("127.0.0.1:{port}"), Duration::from_secs(2)).unwrap_err();
        assert!(err.starts_with("cannot connect to 127.0.0.1:"), "{err}");
        // A listener that accepts and closes: no answer.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let closer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = [0u8; 4];
            conn.read_exact(&mut head).unwrap();
            let mut request = vec![0u8; i32::from_be_bytes(head) as usize];
            conn.read_exact(&mut request).unwrap();
        });
        let err = kafka_metadata_probe(&addr, Duration::from_secs(5)).unwrap_err();
        closer.join().unwrap();
        assert_eq!(
            err,
            "the broker closed the connection without answering a Metadata request"
        );
        // A listener that accepts and never answers: the probe gives up at its deadline.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let err = kafka_metadata_probe(&addr, Duration::from_millis(300)).unwrap_err();
        drop(listener);
        assert_eq!(err, "no answer to a Metadata request within 0.3s");
    }
}
