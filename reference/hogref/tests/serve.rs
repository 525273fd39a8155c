//! `hogref serve` as a process against the REAL stack (feature `services`; `cargo xtask test` turns it on
//! and exports the service variables; a missing variable FAILS the test). Each test isolates itself with
//! its own ClickHouse database, Kafka topic prefix and consumer groups.
#![cfg(feature = "services")]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

fn env(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| {
        panic!("the `services` feature is on but {name} is not set: run `cargo xtask test`, or eval \"$(cargo xtask stack env)\"")
    })
}

fn unique(tag: &str) -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() % 100_000_000)
        .unwrap_or(0);
    format!("{tag}_{}_{millis}", std::process::id())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The environment of one isolated deployment on the shared stack.
fn deployment(tag: &str) -> Vec<(String, String)> {
    let id = unique(tag);
    let mut vars: Vec<(String, String)> =
        ["CLICKHOUSE_URL", "KAFKA_HOSTS", "DATABASE_URL", "REDIS_URL"]
            .iter()
            .map(|k| ((*k).to_owned(), env(k)))
            .collect();
    vars.extend([
        ("CLICKHOUSE_DATABASE".to_owned(), id.clone()),
        ("KAFKA_PREFIX".to_owned(), format!("{id}_")),
        ("HOGREF_KAFKA_GROUP_PREFIX".to_owned(), format!("{id}_")),
        (
            "INGESTION_CONSUMER_GROUP".to_owned(),
            format!("{id}_ingestion"),
        ),
        ("HOGREF_LOG_LEVEL".to_owned(), "info".to_owned()),
    ]);
    vars
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(vars: &[(String, String)], args: &[&str], ready: &str) -> Server {
    let root = conformance::paths::workspace_root();
    let child = Command::new(env!("CARGO_BIN_EXE_hogref"))
        .current_dir(root)
        .arg("serve")
        .args(args)
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .spawn()
        .expect("hogref serve starts");
    let server = Server(child);
    let agent = agent();
    let deadline = Instant::now() + Duration::from_secs(120);
    while agent
        .get(format!("{ready}/_liveness"))
        .call()
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "hogref serve did not answer {ready}/_liveness"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// SIGTERM, then the exit status (the server must stop by itself, gracefully).
fn terminate(mut server: Server) -> std::process::ExitStatus {
    let pid = server.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.0.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "hogref serve ignored SIGTERM for 30s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(url: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
    let mut request = agent().post(url).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    let response = request.send(body.to_string()).expect("request");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn get(url: &str) -> (u16, String) {
    let response = agent().get(url).call().expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.into_body().read_to_string().unwrap_or_default(),
    )
}

/// Drops the deployment's ClickHouse database (its Kafka tables stop consuming).
fn drop_database(vars: &[(String, String)]) {
    if let Some((_, db)) = vars.iter().find(|(k, _)| k == "CLICKHOUSE_DATABASE") {
        let _ = agent()
            .post(format!("{}/", env("CLICKHOUSE_URL")))
            .send(format!("DROP DATABASE IF EXISTS `{db}`"));
    }
}

fn create_team(vars: &[(String, String)]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_hogref"))
        .args(["team", "create", "--name", "serve-test"])
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("hogref team create");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("team JSON")
}

/// Polls a HogQL query (refresh) until its results equal `want`.
fn wait_for(base: &str, team: &Value, query: &str, want: &Value) {
    let url = format!("{base}/api/projects/{}/query", team["id"]);
    let key = team["personal_api_key"].as_str();
    let body = json!({"query": {"kind": "HogQLQuery", "query": query}, "refresh": true});
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, answer) = post(&url, &body, key);
        if status == 200 && answer["results"] == *want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: still {status} {answer} after 90s, want {want}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn one_port_serves_all_and_a_restart_loses_no_accepted_event() {
    let vars = deployment("serve_all");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = start(
        &vars,
        &["--host", "127.0.0.1", "--port", &port.to_string()],
        &base,
    );
    let team = create_team(&vars);
    let token = team["api_token"].as_str().expect("token");

    // 40 events in 4 batches, each answered 200, then SIGTERM right away.
    for batch in 0..4 {
        let events: Vec<Value> = (0..10)
            .map(
                |i| json!({"event": "e", "distinct_id": format!("u{batch}-{i}"), "properties": {}}),
            )
            .collect();
        let (status, body) = post(
            &format!("{base}/batch/"),
            &json!({"api_key": token, "batch": events}),
            None,
        );
        assert_eq!(status, 200, "{body}");
    }
    let (status, metrics) = get(&format!("{base}/metrics"));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("capture_events_ingested_total 40"),
        "{metrics}"
    );
    assert!(metrics.contains("query_api_cache_hits_total"), "{metrics}");
    let exit = terminate(server);
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");

    // A new process (same deployment) ingests whatever the first did not, and the query API sees all 40.
    let server = start(
        &vars,
        &["--host", "127.0.0.1", "--port", &port.to_string()],
        &base,
    );
    wait_for(
        &base,
        &team,
        "select count(distinct uuid), count(distinct distinct_id) from events",
        &json!([[40, 40]]),
    );
    let exit = terminate(server);
    assert!(exit.success(), "{exit}");
    drop_database(&vars);
}

#[test]
fn capture_and_query_on_their_own_ports() {
    let mut vars = deployment("serve_split");
    let (capture_port, query_port) = (free_port(), free_port());
    vars.extend([
        ("HOGREF_BIND_ADDRESS".to_owned(), "127.0.0.1".to_owned()),
        ("HOGREF_CAPTURE_PORT".to_owned(), capture_port.to_string()),
        ("HOGREF_QUERY_PORT".to_owned(), query_port.to_string()),
    ]);
    let capture = format!("http://127.0.0.1:{capture_port}");
    let query = format!("http://127.0.0.1:{query_port}");
    let server = start(&vars, &[], &capture);
    let team = create_team(&vars);
    let (status, _) = post(
        &format!("{capture}/e/"),
        &json!({"api_key": team["api_token"], "event": "split", "distinct_id": "d", "properties": {}}),
        None,
    );
    assert_eq!(status, 200);
    // The query API lives on its port only; each port has /metrics and /_liveness.
    let key = team["personal_api_key"].as_str();
    let body = json!({"query": {"kind": "HogQLQuery", "query": "select 1"}});
    let (status, _) = post(
        &format!("{capture}/api/projects/{}/query", team["id"]),
        &body,
        key,
    );
    assert_eq!(status, 404);
    wait_for(
        &query,
        &team,
        "select event from events",
        &json!([["split"]]),
    );
    let (status, metrics) = get(&format!("{query}/metrics"));
    assert_eq!(status, 200);
    assert!(
        metrics.contains("query_api_responses_total{status=\"200\",code=\"ok\"}"),
        "{metrics}"
    );
    assert_eq!(get(&format!("{query}/_liveness")).0, 200);
    assert!(terminate(server).success());
    drop_database(&vars);
}
