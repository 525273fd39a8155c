//! The external provider: services that already run somewhere, named by `CLICKHOUSE_URL`, `KAFKA_HOSTS`,
//! `DATABASE_URL` and `REDIS_URL`. Nothing is started or stopped; `up` only checks that each one answers.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::{ComponentState, Endpoints, Error, Result, now_unix};

/// Reads the endpoints from the environment and checks that every host accepts TCP connections.
pub(crate) fn connect(dir: &Path) -> Result<(Endpoints, Vec<ComponentState>)> {
    let endpoints = Endpoints::from_env()?;
    let targets = [
        ("clickhouse", host_port(&endpoints.clickhouse_url, 8123)),
        (
            "kafka",
            endpoints
                .kafka_hosts
                .split(',')
                .next()
                .map(|h| host_port(h, 9092))
                .unwrap_or_default(),
        ),
        ("postgres", host_port(&endpoints.database_url, 5432)),
        ("redis", host_port(&endpoints.redis_url, 6379)),
    ];
    let mut components = Vec::new();
    for (name, address) in targets {
        let started = std::time::Instant::now();
        reachable(&address).map_err(|reason| Error::Component {
            component: crate::local::component_name(name),
            reason: format!("external service at {address} does not answer: {reason}"),
        })?;
        components.push(ComponentState {
            name: name.to_string(),
            what: "external service".into(),
            version: "external".into(),
            port: address
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0),
            address,
            pid: None,
            dir: dir.to_path_buf(),
            log: dir.join("none"),
            bin: None,
            ready_secs: started.elapsed().as_secs_f64(),
            log_offset: 0,
            started_at: now_unix(),
        });
    }
    Ok((endpoints, components))
}

/// `host:port` out of a URL such as `postgres://user:pw@host:5432/db` or a bare `host:port`.
pub(crate) fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if has_port {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    }
}

/// Whether `host:port` resolves and accepts a TCP connection within 2 seconds.
pub(crate) fn reachable(address: &str) -> std::result::Result<(), String> {
    let addrs: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve: {e}"))?
        .collect();
    let mut last = "no address".to_string();
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn host_port_is_read_from_urls_and_bare_addresses() {
        assert_eq!(host_port("http://127.0.0.1:18123", 8123), "127.0.0.1:18123");
        assert_eq!(host_port("http://ch.example/", 8123), "ch.example:8123");
        assert_eq!(
            host_port("postgres://u:p@db:5433/x?sslmode=disable", 5432),
            "db:5433"
        );
        assert_eq!(host_port("redis://127.0.0.1:6379/", 6379), "127.0.0.1:6379");
        assert_eq!(host_port("broker1:9092", 9092), "broker1:9092");
    }
}
