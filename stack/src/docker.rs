//! The docker provider (cargo feature `docker`; UNTESTED: no Docker engine was available to develop against).
//!
//! It drives the `docker` CLI rather than testcontainers, because `cargo xtask stack up` must leave the
//! containers running after the command exits (testcontainers removes them when its handle drops).
//! Official images, one user-defined network per stack so that ClickHouse's Kafka engine reaches the
//! broker as `kafka:9092` (exported as `CLICKHOUSE_KAFKA_HOSTS`), host ports on 127.0.0.1.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{free_port, http_ping, port_open, redis_ping, wait_ready};
use crate::{ComponentState, Endpoints, Error, Result, now_unix, pinned};

/// Whether a Docker engine answers (`docker version` within 5 s).
pub(crate) fn available() -> bool {
    Command::new("timeout")
        .args(["5", "docker", "version", "--format", "{{.Server.Version}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn docker(component: &'static str, args: &[&str]) -> Result<String> {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Component {
            component,
            reason: format!("cannot run docker: {e}"),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(Error::Component {
            component,
            reason: format!(
                "docker {} failed: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

fn network(stack: &str) -> String {
    format!("hogref-{stack}")
}

fn container(stack: &str, component: &str) -> String {
    format!("hogref-{stack}-{component}")
}

/// What `start` hands back: endpoints, components, and extra environment variables.
type Started = (Endpoints, Vec<ComponentState>, Vec<(String, String)>);

/// Starts the four containers.
pub(crate) fn start(stack: &str, dir: &Path) -> Result<Started> {
    if !available() {
        return Err(Error::ProviderUnavailable {
            provider: "docker",
            reason: "no Docker engine answers `docker version`".into(),
        });
    }
    let net = network(stack);
    let _ = docker("docker", &["network", "create", &net]);
    let mut components = Vec::new();
    let result = (|| {
        components.push(run_redis(stack, dir)?);
        components.push(run_postgres(stack, dir)?);
        components.push(run_kafka(stack, dir)?);
        components.push(run_clickhouse(stack, dir)?);
        Ok::<(), Error>(())
    })();
    if let Err(e) = result {
        for c in components.iter().rev() {
            let _ = stop(c);
        }
        let _ = docker("docker", &["network", "rm", &net]);
        return Err(e);
    }
    let port = |n: &str| {
        components
            .iter()
            .find(|c| c.name == n)
            .map_or(0, |c| c.port)
    };
    let endpoints = Endpoints {
        clickhouse_url: format!("http://127.0.0.1:{}", port("clickhouse")),
        kafka_hosts: format!("127.0.0.1:{}", port("kafka")),
        database_url: format!("postgres://postgres@127.0.0.1:{}/hogref", port("postgres")),
        redis_url: format!("redis://127.0.0.1:{}/", port("redis")),
    };
    let extra = vec![(
        "CLICKHOUSE_KAFKA_HOSTS".to_string(),
        "kafka:9092".to_string(),
    )];
    Ok((endpoints, components, extra))
}

#[allow(clippy::too_many_arguments)]
fn run(
    stack: &str,
    dir: &Path,
    component: &'static str,
    image: String,
    host_port: u16,
    container_port: u16,
    env: &[(&str, String)],
    args: &[&str],
) -> Result<ComponentState> {
    let name = container(stack, component);
    let _ = docker(component, &["rm", "-f", &name]);
    let mut cmd: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "--name".into(),
        name.clone(),
        "--network".into(),
        network(stack),
        "--network-alias".into(),
        component.into(),
        "-p".into(),
        format!("127.0.0.1:{host_port}:{container_port}"),
    ];
    for (key, value) in env {
        cmd.push("-e".into());
        cmd.push(format!("{key}={value}"));
    }
    cmd.push(image.clone());
    cmd.extend(args.iter().map(|a| (*a).to_string()));
    let refs: Vec<&str> = cmd.iter().map(String::as_str).collect();
    docker(component, &refs)?;
    Ok(ComponentState {
        name: component.into(),
        what: format!("container {name} ({image})"),
        version: image.rsplit(':').next().unwrap_or_default().to_string(),
        address: format!("127.0.0.1:{host_port}"),
        port: host_port,
        pid: None,
        dir: dir.to_path_buf(),
        log: dir.join(format!("{component}.log")),
        bin: Some("docker".into()),
        ready_secs: 0.0,
        log_offset: 0,
        started_at: now_unix(),
    })
}

/// Waits for a container to answer; on timeout the error carries `docker logs --tail`.
fn ready(
    mut c: ComponentState,
    start: Instant,
    mut check: impl FnMut(&ComponentState) -> bool,
) -> Result<ComponentState> {
    let component = crate::local::component_name(&c.name);
    let probe = c.clone();
    let outcome = wait_ready(component, None, &c.log, Duration::from_secs(180), || {
        check(&probe).then_some(())
    });
    if let Err(e) = outcome {
        let logs = docker(
            component,
            &["logs", "--tail", "15", &probe.what_container()],
        )
        .unwrap_or_default();
        return Err(Error::Component {
            component,
            reason: format!("{e}\ncontainer logs:\n{logs}"),
        });
    }
    c.ready_secs = start.elapsed().as_secs_f64();
    c.started_at = now_unix();
    Ok(c)
}

impl ComponentState {
    fn what_container(&self) -> String {
        self.what
            .strip_prefix("container ")
            .and_then(|w| w.split_whitespace().next())
            .unwrap_or_default()
            .to_string()
    }
}

fn run_redis(stack: &str, dir: &Path) -> Result<ComponentState> {
    let start = Instant::now();
    let image = format!("redis:{}", pinned("redis"));
    let c = run(
        stack,
        dir,
        "redis",
        image,
        free_port()?,
        6379,
        &[],
        &["redis-server", "--save", "", "--appendonly", "no"],
    )?;
    ready(c, start, |c| redis_ping(&c.address))
}

fn run_postgres(stack: &str, dir: &Path) -> Result<ComponentState> {
    let start = Instant::now();
    let image = format!("postgres:{}", pinned("postgres"));
    let env = [
        ("POSTGRES_HOST_AUTH_METHOD", "trust".to_string()),
        ("POSTGRES_DB", "hogref".to_string()),
    ];
    let c = run(stack, dir, "postgres", image, free_port()?, 5432, &env, &[])?;
    let name = c.what_container();
    // During initialisation the server listens on its socket only; TCP inside the container means done.
    ready(c, start, move |_| {
        docker(
            "postgres",
            &[
                "exec",
                &name,
                "pg_isready",
                "-q",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
            ],
        )
        .is_ok()
    })
}

fn run_kafka(stack: &str, dir: &Path) -> Result<ComponentState> {
    let start = Instant::now();
    let image = format!("apache/kafka:{}", pinned("apache/kafka"));
    let port = free_port()?;
    let env = [
        ("KAFKA_NODE_ID", "1".to_string()),
        ("KAFKA_PROCESS_ROLES", "broker,controller".to_string()),
        (
            "KAFKA_LISTENERS",
            "INTERNAL://:9092,EXTERNAL://:19092,CONTROLLER://:9093".to_string(),
        ),
        (
            "KAFKA_ADVERTISED_LISTENERS",
            format!("INTERNAL://kafka:9092,EXTERNAL://127.0.0.1:{port}"),
        ),
        (
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
            "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT".to_string(),
        ),
        ("KAFKA_INTER_BROKER_LISTENER_NAME", "INTERNAL".to_string()),
        ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER".to_string()),
        (
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "1@localhost:9093".to_string(),
        ),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1".to_string()),
        (
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
            "1".to_string(),
        ),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1".to_string()),
        ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0".to_string()),
        ("KAFKA_NUM_PARTITIONS", "3".to_string()),
    ];
    let c = run(stack, dir, "kafka", image, port, 19092, &env, &[])?;
    let name = c.what_container();
    ready(c, start, move |c| {
        port_open(c.port)
            && docker("kafka", &["logs", &name]).is_ok_and(|l| {
                l.contains("Kafka Server started") || l.contains("started (kafka.server")
            })
    })
}

fn run_clickhouse(stack: &str, dir: &Path) -> Result<ComponentState> {
    let start = Instant::now();
    let image = format!(
        "clickhouse/clickhouse-server:{}",
        pinned("clickhouse/clickhouse-server")
    );
    let env = [("CLICKHOUSE_SKIP_USER_SETUP", "1".to_string())];
    let c = run(
        stack,
        dir,
        "clickhouse",
        image,
        free_port()?,
        8123,
        &env,
        &[],
    )?;
    ready(c, start, |c| http_ping(&c.address))
}

/// Saves the container's log next to the stack and removes the container.
pub(crate) fn stop(c: &ComponentState) -> Result<f64> {
    let start = Instant::now();
    let name = c.what_container();
    let component = crate::local::component_name(&c.name);
    if let Ok(logs) = docker(component, &["logs", &name]) {
        let _ = fs::write(&c.log, logs);
    }
    docker(component, &["rm", "-f", &name])?;
    Ok(start.elapsed().as_secs_f64())
}

/// Removes the stack's network (after its containers).
pub(crate) fn remove_network(stack: &str) {
    let _ = docker("docker", &["network", "rm", &network(stack)]);
}
