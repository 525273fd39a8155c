//! Unit tests for `Settings::from_env`: defaults, every error, and secret hygiene.

use super::*;

const KEY_A: &str = "vLLXoHUJnhq3riWUa47LiFPkvQU_Pn6Bb9hU-MUJ1yQ";
const KEY_B: &str = "oKmjalAHOEFZ_Ry7vGjpUjkTMAu_TIDqkqmG-2pfsdc";

/// The three required variables, plus `extra` (later entries win).
fn env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("SECRET_KEY", "test-secret"),
        ("ENCRYPTION_KEYS", KEY_A),
        ("ENCRYPTION_SALT_KEYS", KEY_B),
    ];
    vars.extend_from_slice(extra);
    vars
}

#[track_caller]
fn check_err(extra: &[(&str, &str)], expected: &str) {
    let err = Settings::from_env(env(extra)).unwrap_err();
    assert_eq!(err.to_string(), expected);
}

#[test]
fn defaults() {
    let s = Settings::from_env(env(&[])).unwrap();
    assert_eq!(s.server.bind_address.to_string(), "0.0.0.0");
    assert_eq!((s.server.capture_port, s.server.query_port), (3000, 8000));
    assert_eq!(s.server.log_level, LogLevel::Info);
    assert_eq!(s.server.site_url.as_str(), "http://localhost:8000/");
    assert!(!s.server.is_behind_proxy && !s.server.trust_all_proxies);
    assert_eq!(s.clickhouse.url.as_str(), "http://localhost:8123/");
    assert_eq!(s.clickhouse.database, "default");
    assert_eq!(s.clickhouse.user, "default");
    assert!(s.clickhouse.password.is_empty());
    assert!(s.clickhouse.verify);
    assert_eq!(
        [
            s.clickhouse.cluster.as_str(),
            &s.clickhouse.migrations_cluster,
            &s.clickhouse.single_shard_cluster
        ],
        ["posthog", "posthog_migrations", "posthog_single_shard"]
    );
    assert_eq!(s.kafka.bootstrap_servers(), "localhost:9092");
    assert_eq!(
        s.kafka.topic("clickhouse_events_json"),
        "clickhouse_events_json"
    );
    assert_eq!(
        s.postgres.url.as_str(),
        "postgres://posthog:posthog@localhost:5432/posthog"
    );
    assert_eq!(s.redis.url.as_str(), "redis://localhost:6379/");
    assert_eq!(s.encryption.keys.len(), 1);
    assert_eq!(s.encryption.salt_keys[0].encode(), KEY_B);
}

#[test]
fn explicit_values() {
    let s = Settings::from_env(env(&[
        ("HOGREF_BIND_ADDRESS", "::1"),
        ("HOGREF_CAPTURE_PORT", "3300"),
        ("HOGREF_QUERY_PORT", "8800"),
        ("HOGREF_LOG_LEVEL", "DEBUG"),
        ("IS_BEHIND_PROXY", "yes"),
        ("TRUST_ALL_PROXIES", "1"),
        ("CLICKHOUSE_URL", "https://ch.example.com:8443"),
        ("CLICKHOUSE_VERIFY", "off"),
        ("CLICKHOUSE_PASSWORD", "pw"),
        ("KAFKA_HOSTS", "k1:9092, k2:9093"),
        ("KAFKA_PREFIX", "test.run-1_"),
        ("ENCRYPTION_SALT_KEYS", &format!("{KEY_B}, {KEY_A}=")),
    ]))
    .unwrap();
    assert_eq!(s.server.bind_address.to_string(), "::1");
    assert_eq!((s.server.capture_port, s.server.query_port), (3300, 8800));
    assert_eq!(s.server.log_level, LogLevel::Debug);
    assert!(s.server.is_behind_proxy && s.server.trust_all_proxies);
    assert_eq!(s.clickhouse.url.scheme(), "https");
    assert!(!s.clickhouse.verify);
    assert_eq!(s.clickhouse.password.expose(), "pw");
    assert_eq!(s.kafka.hosts, ["k1:9092", "k2:9093"]);
    assert_eq!(
        s.kafka.topic("events_plugin_ingestion"),
        "test.run-1_events_plugin_ingestion"
    );
    assert_eq!(s.encryption.salt_keys.len(), 2);
    assert_eq!(s.encryption.salt_keys[1].encode(), KEY_A);
}

#[test]
fn empty_values_count_as_unset() {
    let s =
        Settings::from_env(env(&[("HOGREF_CAPTURE_PORT", ""), ("CLICKHOUSE_URL", "")])).unwrap();
    assert_eq!(s.server.capture_port, 3000);
    assert_eq!(s.clickhouse.url.as_str(), "http://localhost:8123/");
}

#[test]
fn missing_required() {
    let err = Settings::from_env([("SECRET_KEY", "")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "3 configuration problems:\n  SECRET_KEY: required but not set\n  ENCRYPTION_KEYS: required but not set\n  ENCRYPTION_SALT_KEYS: required but not set"
    );
    assert_eq!(err.problems().len(), 3);
}

#[test]
fn encryption_key_errors() {
    let short = KEY_A[..42].to_owned(); // 42 chars decode to 31 bytes
    check_err(
        &[("ENCRYPTION_SALT_KEYS", &format!("{KEY_B},{short}"))],
        "ENCRYPTION_SALT_KEYS: key 2 is not base64url of 32 bytes (decodes to 31 bytes)",
    );
    check_err(
        &[("ENCRYPTION_KEYS", &KEY_A.replace('_', "/"))],
        "ENCRYPTION_KEYS: key 1 is not base64url of 32 bytes (contains `/`: that is standard base64; base64url uses `-` and `_` instead of `+` and `/`)",
    );
    check_err(
        &[("ENCRYPTION_KEYS", "00beef0000beef0000beef0000beef00")],
        "ENCRYPTION_KEYS: key 1 is not base64url of 32 bytes (decodes to 24 bytes)",
    );
    check_err(
        &[("ENCRYPTION_KEYS", &format!("{KEY_A},"))],
        "ENCRYPTION_KEYS: key 2 is not base64url of 32 bytes (it is empty)",
    );
    check_err(
        &[("ENCRYPTION_KEYS", "not base64 at all!")],
        "ENCRYPTION_KEYS: key 1 is not base64url of 32 bytes (invalid character ' ' at position 4)",
    );
}

#[test]
fn port_errors() {
    check_err(
        &[("HOGREF_CAPTURE_PORT", "http")],
        "HOGREF_CAPTURE_PORT: `http` is not a port number (1-65535)",
    );
    check_err(
        &[("HOGREF_QUERY_PORT", "65536")],
        "HOGREF_QUERY_PORT: `65536` is not a port number (1-65535)",
    );
    check_err(
        &[("HOGREF_QUERY_PORT", "0")],
        "HOGREF_QUERY_PORT: `0` is not a port number (1-65535)",
    );
    check_err(
        &[("HOGREF_QUERY_PORT", "+80")],
        "HOGREF_QUERY_PORT: `+80` is not a port number (1-65535)",
    );
    check_err(
        &[("HOGREF_CAPTURE_PORT", "8000")],
        "HOGREF_QUERY_PORT: same port as HOGREF_CAPTURE_PORT (8000)",
    );
}

#[test]
fn url_errors() {
    check_err(
        &[("DATABASE_URL", "not a url")],
        "DATABASE_URL: not a valid URL (relative URL without a base)",
    );
    check_err(
        &[("DATABASE_URL", "mysql://u:p@h/db")],
        "DATABASE_URL: URL scheme `mysql` is not postgres or postgresql",
    );
    check_err(
        &[("REDIS_URL", "http://redis:6379")],
        "REDIS_URL: URL scheme `http` is not redis or rediss",
    );
    check_err(
        &[("CLICKHOUSE_URL", "clickhouse:8123")],
        "CLICKHOUSE_URL: URL scheme `clickhouse` is not http or https",
    );
    check_err(
        &[("CLICKHOUSE_URL", "http://user:secret@clickhouse:8123")],
        "CLICKHOUSE_URL: credentials belong in CLICKHOUSE_USER and CLICKHOUSE_PASSWORD, not in the URL",
    );
    check_err(
        &[("SITE_URL", "http://:8000")],
        "SITE_URL: not a valid URL (empty host)",
    );
    check_err(&[("REDIS_URL", "redis:///0")], "REDIS_URL: URL has no host");
}

#[test]
fn url_errors_never_repeat_the_value() {
    let err = Settings::from_env(env(&[("DATABASE_URL", "postgres://u:hunter2@[bad/db")]))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("DATABASE_URL: not a valid URL ("), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn other_value_errors() {
    check_err(
        &[("IS_BEHIND_PROXY", "maybe")],
        "IS_BEHIND_PROXY: `maybe` is not a boolean (true/false, 1/0, yes/no, on/off)",
    );
    check_err(
        &[("HOGREF_BIND_ADDRESS", "localhost")],
        "HOGREF_BIND_ADDRESS: `localhost` is not an IP address",
    );
    check_err(
        &[("HOGREF_LOG_LEVEL", "loud")],
        "HOGREF_LOG_LEVEL: `loud` is not a log level (error, warn, info, debug, trace)",
    );
    check_err(
        &[("CLICKHOUSE_DATABASE", "my-db")],
        "CLICKHOUSE_DATABASE: `my-db` is not a plain identifier (ASCII letters, digits and `_`, not starting with a digit)",
    );
    check_err(
        &[("CLICKHOUSE_CLUSTER", "1st")],
        "CLICKHOUSE_CLUSTER: `1st` is not a plain identifier (ASCII letters, digits and `_`, not starting with a digit)",
    );
    check_err(
        &[("KAFKA_HOSTS", "kafka:9092,kafka")],
        "KAFKA_HOSTS: entry 2 `kafka` is not host:port",
    );
    check_err(
        &[("KAFKA_HOSTS", "kafka:9092,")],
        "KAFKA_HOSTS: entry 2 `` is not host:port",
    );
    check_err(
        &[("KAFKA_PREFIX", "my prefix/")],
        "KAFKA_PREFIX: `my prefix/` may only contain ASCII letters, digits, `.`, `_` and `-`",
    );
}

#[test]
fn unknown_hogref_variables_are_typos() {
    check_err(
        &[("HOGREF_CAPTUR_PORT", "3000")],
        "HOGREF_CAPTUR_PORT: unknown Hogref variable (did you mean HOGREF_CAPTURE_PORT?)",
    );
    check_err(
        &[("HOGREF_SOMETHING_ELSE", "1")],
        "HOGREF_SOMETHING_ELSE: unknown Hogref variable",
    );
    // Other unknown names (the rest of the process environment) are not ours to judge.
    Settings::from_env(env(&[("PATH", "/usr/bin"), ("POSTGRES_USER", "x")])).unwrap();
}

#[test]
fn reports_every_problem_at_once() {
    let err = Settings::from_env(env(&[
        ("HOGREF_CAPTURE_PORT", "x"),
        ("REDIS_URL", "http://r"),
        ("ENCRYPTION_KEYS", "a,b"),
    ]))
    .unwrap_err();
    let problems: Vec<String> = err.problems().iter().map(ToString::to_string).collect();
    assert_eq!(
        problems,
        [
            "REDIS_URL: URL scheme `http` is not redis or rediss",
            "HOGREF_CAPTURE_PORT: `x` is not a port number (1-65535)",
            "ENCRYPTION_KEYS: key 1 is not base64url of 32 bytes (length 1 is impossible for base64)",
            "ENCRYPTION_KEYS: key 2 is not base64url of 32 bytes (length 1 is impossible for base64)",
        ]
    );
}

#[test]
fn debug_output_hides_secrets() {
    let s = Settings::from_env(env(&[
        (
            "DATABASE_URL",
            "postgres://posthog:pg-secret@db:5432/posthog",
        ),
        ("REDIS_URL", "redis://:redis-secret@redis:6379/"),
        ("CLICKHOUSE_PASSWORD", "ch-secret"),
    ]))
    .unwrap();
    let debug = format!("{s:?}");
    for secret in [
        "pg-secret",
        "redis-secret",
        "ch-secret",
        "test-secret",
        KEY_A,
        KEY_B,
    ] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    assert!(
        debug.contains("postgres://posthog:***@db:5432/posthog"),
        "{debug}"
    );
    assert_eq!(s.postgres.url.password(), Some("pg-secret"));
}

#[test]
fn reads_exactly_the_listed_variables() {
    let mut env = Env::new(env(&[]));
    env.settings().unwrap();
    let read: Vec<&str> = env.read.iter().copied().collect();
    let mut listed = VARIABLES.to_vec();
    listed.sort_unstable();
    assert_eq!(read, listed);
}

#[test]
fn from_dotenv_parses_then_validates() {
    let text = format!(
        "SECRET_KEY='s'\nENCRYPTION_KEYS={KEY_A}\nENCRYPTION_SALT_KEYS=\"{KEY_B}\"\nHOGREF_QUERY_PORT=9\n"
    );
    assert_eq!(Settings::from_dotenv(&text).unwrap().server.query_port, 9);
    assert_eq!(
        Settings::from_dotenv("SECRET_KEY\n")
            .unwrap_err()
            .to_string(),
        "line 1: expected KEY=VALUE, a comment or a blank line"
    );
}

#[test]
fn ingestion_worker_share() {
    let s = Settings::from_env(env(&[])).unwrap();
    assert_eq!(
        s.worker,
        WorkerSettings {
            index: 0,
            count: 1,
            group_id: "ingestion-events".into()
        }
    );
    let s = Settings::from_env(env(&[
        ("INGESTION_WORKER_INDEX", "2"),
        ("INGESTION_WORKER_COUNT", "3"),
        ("INGESTION_CONSUMER_GROUP", "ingestion-b"),
    ]))
    .unwrap();
    assert_eq!(
        s.worker,
        WorkerSettings {
            index: 2,
            count: 3,
            group_id: "ingestion-b".into()
        }
    );
    check_err(
        &[("INGESTION_WORKER_INDEX", "1")],
        "INGESTION_WORKER_INDEX: 1 is not below INGESTION_WORKER_COUNT (1)",
    );
    check_err(
        &[("INGESTION_WORKER_COUNT", "0")],
        "INGESTION_WORKER_COUNT: `0` is not a valid count or index (a non-negative integer; a count is at least 1)",
    );
    check_err(
        &[("INGESTION_WORKER_INDEX", "-1")],
        "INGESTION_WORKER_INDEX: `-1` is not a valid count or index (a non-negative integer; a count is at least 1)",
    );
}

#[test]
fn development_settings_fill_only_the_unset_secrets() {
    let (s, defaulted) = Settings::for_development([
        ("SECRET_KEY", "mine"),
        ("KAFKA_PREFIX", "dev_"),
        ("HOGREF_TYPO", "passed over"),
        ("CLICKHOUSE_DATABASE", " "),
    ])
    .unwrap();
    assert_eq!(defaulted, ["ENCRYPTION_KEYS", "ENCRYPTION_SALT_KEYS"]);
    assert_eq!(s.server.secret_key.expose(), "mine");
    assert_eq!(s.kafka.prefix, "dev_");
    assert_eq!(s.clickhouse.database, "default");
}
