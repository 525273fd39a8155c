//! Configuration stage: typed, validated settings for the Hogref server, from environment variables.
//!
//! Pure: it reads the `(name, value)` pairs it is given (or the text of a `.env` file) and never
//! touches the process environment, the file system or the network. The variable names are those
//! of `docker/.env.example` and, where PostHog has one, PostHog's own name. An empty value counts
//! as unset. Every problem is reported at once, each naming its variable.
//!
//! A binary layers its sources by chaining them, later ones winning: for example the entries of
//! a `.env` file ([`parse_dotenv`]) followed by `std::env::vars()`.
//!
//! ```
//! let env = [
//!     ("SECRET_KEY", "not-a-real-secret"),
//!     ("ENCRYPTION_KEYS", "vLLXoHUJnhq3riWUa47LiFPkvQU_Pn6Bb9hU-MUJ1yQ"),
//!     ("ENCRYPTION_SALT_KEYS", "oKmjalAHOEFZ_Ry7vGjpUjkTMAu_TIDqkqmG-2pfsdc"),
//!     ("KAFKA_PREFIX", "dev_"),
//! ];
//! let settings = settings::Settings::from_env(env).unwrap();
//! assert_eq!(settings.kafka.topic("events_plugin_ingestion"), "dev_events_plugin_ingestion");
//! assert_eq!(settings.clickhouse.url.as_str(), "http://localhost:8123/");
//! ```

mod dotenv;
mod error;
mod keys;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use url::Url;

pub use crate::dotenv::{DotEnvEntry, parse_dotenv};
pub use crate::error::{DotEnvProblem, Error, KeyProblem, Result};
pub use crate::keys::{EncryptionKey, KEY_LEN};

/// Every variable [`Settings::from_env`] reads, in the order `docker/.env.example` lists them.
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "CLICKHOUSE_URL",
    "CLICKHOUSE_DATABASE",
    "CLICKHOUSE_USER",
    "CLICKHOUSE_PASSWORD",
    "CLICKHOUSE_VERIFY",
    "CLICKHOUSE_CLUSTER",
    "CLICKHOUSE_MIGRATIONS_CLUSTER",
    "CLICKHOUSE_SINGLE_SHARD_CLUSTER",
    "REDIS_URL",
    "KAFKA_HOSTS",
    "KAFKA_PREFIX",
    "SECRET_KEY",
    "SITE_URL",
    "IS_BEHIND_PROXY",
    "TRUST_ALL_PROXIES",
    "HOGREF_BIND_ADDRESS",
    "HOGREF_CAPTURE_PORT",
    "HOGREF_QUERY_PORT",
    "HOGREF_LOG_LEVEL",
    "ENCRYPTION_KEYS",
    "ENCRYPTION_SALT_KEYS",
    "INGESTION_WORKER_INDEX",
    "INGESTION_WORKER_COUNT",
    "INGESTION_CONSUMER_GROUP",
];

/// Throwaway values for the settings Hogref requires but does not use yet (signing, field
/// encryption), so a development run or a test needs only the service variables
/// ([`Settings::for_development`]). Never for production: they are public.
pub const DEV_DEFAULTS: &[(&str, &str)] = &[
    (
        "SECRET_KEY",
        "hogref-development-secret-key-not-for-production",
    ),
    (
        "ENCRYPTION_KEYS",
        "vLLXoHUJnhq3riWUa47LiFPkvQU_Pn6Bb9hU-MUJ1yQ",
    ),
    (
        "ENCRYPTION_SALT_KEYS",
        "oKmjalAHOEFZ_Ry7vGjpUjkTMAu_TIDqkqmG-2pfsdc",
    ),
];

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Listeners, logging and the public face of the server.
    pub server: ServerSettings,
    /// The analytics database.
    pub clickhouse: ClickHouseSettings,
    /// The event bus.
    pub kafka: KafkaSettings,
    /// The metadata database (`DATABASE_URL`).
    pub postgres: PostgresSettings,
    /// The cache (`REDIS_URL`).
    pub redis: RedisSettings,
    /// Keys for encrypted fields.
    pub encryption: EncryptionSettings,
    /// The ingestion worker's share of the input topic's partitions.
    pub worker: WorkerSettings,
}

/// The ingestion worker: its consumer group, and which partitions of `events_plugin_ingestion` it
/// reads: those whose number modulo `count` is `index` (static assignment; several servers split the
/// topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// `INGESTION_WORKER_INDEX` (default 0): this worker's place, below the count.
    pub index: u32,
    /// `INGESTION_WORKER_COUNT` (default 1): how many workers split the topic, at least 1.
    pub count: u32,
    /// `INGESTION_CONSUMER_GROUP` (default `ingestion-events`): the group id its offsets are
    /// committed under (not prefixed by `KAFKA_PREFIX`).
    pub group_id: String,
}

/// The ingestion worker's consumer group when `INGESTION_CONSUMER_GROUP` is unset.
pub const DEFAULT_CONSUMER_GROUP: &str = "ingestion-events";

/// Listeners, logging and the public face of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `HOGREF_BIND_ADDRESS` (default `0.0.0.0`).
    pub bind_address: IpAddr,
    /// `HOGREF_CAPTURE_PORT` (default 3000): the capture API.
    pub capture_port: u16,
    /// `HOGREF_QUERY_PORT` (default 8000): the query API. Must differ from the capture port.
    pub query_port: u16,
    /// `HOGREF_LOG_LEVEL` (default `info`).
    pub log_level: LogLevel,
    /// `SITE_URL` (default `http://localhost:8000`): the public base URL, http or https.
    pub site_url: Url,
    /// `SECRET_KEY` (required).
    pub secret_key: Secret,
    /// `IS_BEHIND_PROXY` (default false): take the client IP from `X-Forwarded-For`.
    pub is_behind_proxy: bool,
    /// `TRUST_ALL_PROXIES` (default false): trust every hop of `X-Forwarded-For`.
    pub trust_all_proxies: bool,
}

/// The analytics database, over its HTTP interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseSettings {
    /// `CLICKHOUSE_URL` (default `http://localhost:8123`): http or https, no credentials.
    pub url: Url,
    /// `CLICKHOUSE_DATABASE` (default `default`).
    pub database: String,
    /// `CLICKHOUSE_USER` (default `default`).
    pub user: String,
    /// `CLICKHOUSE_PASSWORD` (default empty).
    pub password: Secret,
    /// `CLICKHOUSE_VERIFY` (default true): verify the TLS certificate of an https URL.
    pub verify: bool,
    /// `CLICKHOUSE_CLUSTER` (default `posthog`).
    pub cluster: String,
    /// `CLICKHOUSE_MIGRATIONS_CLUSTER` (default `posthog_migrations`).
    pub migrations_cluster: String,
    /// `CLICKHOUSE_SINGLE_SHARD_CLUSTER` (default `posthog_single_shard`).
    pub single_shard_cluster: String,
}

/// The event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `KAFKA_HOSTS` (default `localhost:9092`): bootstrap servers, each `host:port`.
    pub hosts: Vec<String>,
    /// `KAFKA_PREFIX` (default empty): prepended to every topic name.
    pub prefix: String,
}

impl KafkaSettings {
    /// The bootstrap list in librdkafka's `bootstrap.servers` form.
    pub fn bootstrap_servers(&self) -> String {
        self.hosts.join(",")
    }

    /// A topic's full name: the prefix, then the base name (e.g. `events_plugin_ingestion`).
    pub fn topic(&self, base: &str) -> String {
        format!("{}{base}", self.prefix)
    }
}

/// The metadata database.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// `DATABASE_URL` (default `postgres://posthog:posthog@localhost:5432/posthog`).
    pub url: Url,
}

/// The cache.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `REDIS_URL` (default `redis://localhost:6379/`): redis or rediss.
    pub url: Url,
}

/// Keys for encrypted fields. The first key of each list encrypts; every key decrypts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionSettings {
    /// `ENCRYPTION_KEYS` (required).
    pub keys: Vec<EncryptionKey>,
    /// `ENCRYPTION_SALT_KEYS` (required).
    pub salt_keys: Vec<EncryptionKey>,
}

/// A log level, as `HOGREF_LOG_LEVEL` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// `error`
    Error,
    /// `warn`
    Warn,
    /// `info`
    Info,
    /// `debug`
    Debug,
    /// `trace`
    Trace,
}

impl LogLevel {
    /// The lowercase name, which is also a valid `tracing` filter directive.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }
}

/// A secret string. `Debug` prints `***`; [`Secret::expose`] hands out the value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string (e.g. no ClickHouse password).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresSettings")
            .field("url", &redacted(&self.url))
            .finish()
    }
}

impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redacted(&self.url))
            .finish()
    }
}

/// The URL with its password (if any) replaced by `***`, for logs.
pub fn redacted(url: &Url) -> String {
    let mut copy = url.clone();
    if copy.password().is_some() {
        // Cannot fail: a URL that has a password can have it replaced.
        let _ = copy.set_password(Some("***"));
    }
    copy.to_string()
}

impl Settings {
    /// Builds the settings from `(name, value)` pairs, e.g. `std::env::vars()` or
    /// [`parse_dotenv`] entries. Names outside [`VARIABLES`] are ignored, except unknown
    /// `HOGREF_*` names, which are reported as likely typos. A name given twice keeps its last value.
    pub fn from_env<I, K, V>(vars: I) -> Result<Settings>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut env = Env::new(vars);
        let settings = env.settings();
        env.check_unknown();
        Error::from_list(env.errors)?;
        // Every field was read without error, so `settings` is complete.
        Ok(settings.expect("no errors means every field parsed"))
    }

    /// Like [`Settings::from_env`] for a development run or a test: only the names of [`VARIABLES`]
    /// are read (others, `HOGREF_*` typos included, are passed over), and each of [`DEV_DEFAULTS`]
    /// fills its variable when that is unset. Returns the settings and the names a default filled.
    pub fn for_development<I, K, V>(vars: I) -> Result<(Settings, Vec<&'static str>)>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let given: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, v)| VARIABLES.contains(&k.as_ref()) && !v.as_ref().trim().is_empty())
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        let mut layered: Vec<(String, String)> = Vec::new();
        let mut defaulted = Vec::new();
        for (name, value) in DEV_DEFAULTS {
            if !given.iter().any(|(k, _)| k == name) {
                defaulted.push(*name);
                layered.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        layered.extend(given);
        Ok((Settings::from_env(layered)?, defaulted))
    }

    /// Parses `.env` text, then builds the settings from it alone.
    pub fn from_dotenv(text: &str) -> Result<Settings> {
        let entries = parse_dotenv(text)?;
        Settings::from_env(entries.into_iter().map(|e| (e.key, e.value)))
    }
}

/// The variables being read, and the problems found so far.
struct Env {
    vars: BTreeMap<String, String>,
    errors: Vec<Error>,
    read: BTreeSet<&'static str>,
}

impl Env {
    fn new<I, K, V>(vars: I) -> Env
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        Env {
            vars,
            errors: Vec::new(),
            read: BTreeSet::new(),
        }
    }

    /// Reads every section; `None` if any field failed (the errors are in `self.errors`).
    fn settings(&mut self) -> Option<Settings> {
        let postgres = self.postgres();
        let clickhouse = self.clickhouse();
        let redis = self.redis();
        let kafka = self.kafka();
        let server = self.server();
        let encryption = self.encryption();
        let worker = self.worker();
        Some(Settings {
            server: server?,
            clickhouse: clickhouse?,
            kafka: kafka?,
            postgres: postgres?,
            redis: redis?,
            encryption: encryption?,
            worker: worker?,
        })
    }

    fn worker(&mut self) -> Option<WorkerSettings> {
        let count = self.parsed("INGESTION_WORKER_COUNT", "1", |var, value| {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| Error::Count {
                    var,
                    value: value.to_owned(),
                })
        });
        let index = self.parsed("INGESTION_WORKER_INDEX", "0", |var, value| {
            value.trim().parse::<u32>().map_err(|_| Error::Count {
                var,
                value: value.to_owned(),
            })
        });
        let group_id = self
            .get("INGESTION_CONSUMER_GROUP")
            .unwrap_or(DEFAULT_CONSUMER_GROUP)
            .trim()
            .to_owned();
        let (index, count) = (index?, count?);
        if index >= count {
            self.errors.push(Error::WorkerIndex { index, count });
            return None;
        }
        Some(WorkerSettings {
            index,
            count,
            group_id,
        })
    }

    fn postgres(&mut self) -> Option<PostgresSettings> {
        let url = self.url(
            "DATABASE_URL",
            Some("postgres://posthog:posthog@localhost:5432/posthog"),
            &["postgres", "postgresql"],
            "postgres or postgresql",
        )?;
        Some(PostgresSettings { url })
    }

    fn clickhouse(&mut self) -> Option<ClickHouseSettings> {
        let url = self.url(
            "CLICKHOUSE_URL",
            Some("http://localhost:8123"),
            &["http", "https"],
            "http or https",
        );
        if let Some(url) = &url
            && (!url.username().is_empty() || url.password().is_some())
        {
            self.errors.push(Error::UrlShape {
                    var: "CLICKHOUSE_URL",
                    problem: "credentials belong in CLICKHOUSE_USER and CLICKHOUSE_PASSWORD, not in the URL",
                });
        }
        let database = self.identifier("CLICKHOUSE_DATABASE", "default");
        let user = self.get("CLICKHOUSE_USER").unwrap_or("default").to_owned();
        let password = Secret(self.get("CLICKHOUSE_PASSWORD").unwrap_or("").to_owned());
        let verify = self.bool("CLICKHOUSE_VERIFY", true);
        let cluster = self.identifier("CLICKHOUSE_CLUSTER", "posthog");
        let migrations_cluster =
            self.identifier("CLICKHOUSE_MIGRATIONS_CLUSTER", "posthog_migrations");
        let single_shard_cluster =
            self.identifier("CLICKHOUSE_SINGLE_SHARD_CLUSTER", "posthog_single_shard");
        Some(ClickHouseSettings {
            url: url?,
            database: database?,
            user,
            password,
            verify: verify?,
            cluster: cluster?,
            migrations_cluster: migrations_cluster?,
            single_shard_cluster: single_shard_cluster?,
        })
    }

    fn redis(&mut self) -> Option<RedisSettings> {
        let url = self.url(
            "REDIS_URL",
            Some("redis://localhost:6379/"),
            &["redis", "rediss"],
            "redis or rediss",
        )?;
        Some(RedisSettings { url })
    }

    fn kafka(&mut self) -> Option<KafkaSettings> {
        let hosts = self.host_ports("KAFKA_HOSTS", "localhost:9092");
        let prefix = self.get("KAFKA_PREFIX").unwrap_or("").to_owned();
        let prefix_ok = prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !prefix_ok {
            self.errors.push(Error::TopicPrefix {
                var: "KAFKA_PREFIX",
                value: prefix,
            });
            return None;
        }
        Some(KafkaSettings {
            hosts: hosts?,
            prefix,
        })
    }

    fn server(&mut self) -> Option<ServerSettings> {
        let bind_address = self.parsed("HOGREF_BIND_ADDRESS", "0.0.0.0", |var, value| {
            value.parse::<IpAddr>().map_err(|_| Error::IpAddr {
                var,
                value: value.to_owned(),
            })
        });
        let capture_port = self.port("HOGREF_CAPTURE_PORT", 3000);
        let query_port = self.port("HOGREF_QUERY_PORT", 8000);
        if let (Some(capture), Some(query)) = (capture_port, query_port)
            && capture == query
        {
            self.errors.push(Error::PortClash {
                var: "HOGREF_QUERY_PORT",
                other: "HOGREF_CAPTURE_PORT",
                port: query,
            });
            return None;
        }
        let log_level = self.parsed("HOGREF_LOG_LEVEL", "info", |var, value| {
            Ok(match value.to_ascii_lowercase().as_str() {
                "error" => LogLevel::Error,
                "warn" | "warning" => LogLevel::Warn,
                "info" => LogLevel::Info,
                "debug" => LogLevel::Debug,
                "trace" => LogLevel::Trace,
                _ => {
                    return Err(Error::LogLevel {
                        var,
                        value: value.to_owned(),
                    });
                }
            })
        });
        let site_url = self.url(
            "SITE_URL",
            Some("http://localhost:8000"),
            &["http", "https"],
            "http or https",
        );
        let secret_key = self.required("SECRET_KEY").map(|s| Secret(s.to_owned()));
        let is_behind_proxy = self.bool("IS_BEHIND_PROXY", false);
        let trust_all_proxies = self.bool("TRUST_ALL_PROXIES", false);
        Some(ServerSettings {
            bind_address: bind_address?,
            capture_port: capture_port?,
            query_port: query_port?,
            log_level: log_level?,
            site_url: site_url?,
            secret_key: secret_key?,
            is_behind_proxy: is_behind_proxy?,
            trust_all_proxies: trust_all_proxies?,
        })
    }

    fn encryption(&mut self) -> Option<EncryptionSettings> {
        let keys = self.keys("ENCRYPTION_KEYS");
        let salt_keys = self.keys("ENCRYPTION_SALT_KEYS");
        Some(EncryptionSettings {
            keys: keys?,
            salt_keys: salt_keys?,
        })
    }

    // --- one variable each -------------------------------------------------------------------

    /// The value, or `None` when unset or empty.
    fn get(&mut self, var: &'static str) -> Option<&str> {
        debug_assert!(VARIABLES.contains(&var), "{var} missing from VARIABLES");
        self.read.insert(var);
        self.vars
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn required(&mut self, var: &'static str) -> Option<String> {
        let value = self.get(var).map(str::to_owned);
        if value.is_none() {
            self.errors.push(Error::Missing { var });
        }
        value
    }

    /// Parses the value (or `default`), recording the error if it does not parse.
    fn parsed<T>(
        &mut self,
        var: &'static str,
        default: &str,
        parse: impl FnOnce(&'static str, &str) -> Result<T>,
    ) -> Option<T> {
        let value = self.get(var).unwrap_or(default).to_owned();
        parse(var, &value).map_err(|e| self.errors.push(e)).ok()
    }

    fn port(&mut self, var: &'static str, default: u16) -> Option<u16> {
        self.parsed(var, &default.to_string(), |var, value| {
            parse_port(value).ok_or_else(|| Error::Port {
                var,
                value: value.to_owned(),
            })
        })
    }

    fn bool(&mut self, var: &'static str, default: bool) -> Option<bool> {
        self.parsed(
            var,
            if default { "true" } else { "false" },
            |var, value| match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(Error::Bool {
                    var,
                    value: value.to_owned(),
                }),
            },
        )
    }

    fn identifier(&mut self, var: &'static str, default: &str) -> Option<String> {
        self.parsed(var, default, |var, value| {
            let mut chars = value.chars();
            let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if ok {
                Ok(value.to_owned())
            } else {
                Err(Error::Identifier {
                    var,
                    value: value.to_owned(),
                })
            }
        })
    }

    fn url(
        &mut self,
        var: &'static str,
        default: Option<&str>,
        schemes: &[&str],
        expected: &'static str,
    ) -> Option<Url> {
        let value = match (self.get(var), default) {
            (Some(v), _) => v.to_owned(),
            (None, Some(d)) => d.to_owned(),
            (None, None) => {
                self.errors.push(Error::Missing { var });
                return None;
            }
        };
        let result = match Url::parse(&value) {
            Err(e) => Err(Error::Url {
                var,
                reason: e.to_string(),
            }),
            Ok(url) if !schemes.contains(&url.scheme()) => Err(Error::UrlScheme {
                var,
                scheme: url.scheme().to_owned(),
                expected,
            }),
            Ok(url) if url.host_str().is_none_or(str::is_empty) => Err(Error::UrlShape {
                var,
                problem: "URL has no host",
            }),
            Ok(url) => Ok(url),
        };
        result.map_err(|e| self.errors.push(e)).ok()
    }

    /// A comma-separated `host:port` list.
    fn host_ports(&mut self, var: &'static str, default: &str) -> Option<Vec<String>> {
        self.parsed(var, default, |var, value| {
            value
                .split(',')
                .enumerate()
                .map(|(i, entry)| {
                    let entry = entry.trim();
                    let ok = entry.rsplit_once(':').is_some_and(|(host, port)| {
                        !host.is_empty()
                            && !host.contains(char::is_whitespace)
                            && parse_port(port).is_some()
                    });
                    if ok {
                        Ok(entry.to_owned())
                    } else {
                        Err(Error::HostPort {
                            var,
                            index: i + 1,
                            value: entry.to_owned(),
                        })
                    }
                })
                .collect()
        })
    }

    /// A comma-separated list of encryption keys; every bad key is reported.
    fn keys(&mut self, var: &'static str) -> Option<Vec<EncryptionKey>> {
        let value = self.required(var)?;
        let mut keys = Vec::new();
        let mut ok = true;
        for (i, text) in value.split(',').enumerate() {
            match EncryptionKey::decode(text.trim()) {
                Ok(key) => keys.push(key),
                Err(problem) => {
                    ok = false;
                    self.errors.push(Error::Key {
                        var,
                        index: i + 1,
                        problem,
                    });
                }
            }
        }
        ok.then_some(keys)
    }

    /// Reports `HOGREF_*` names that no setting reads.
    fn check_unknown(&mut self) {
        for name in self.vars.keys() {
            if name.starts_with("HOGREF_") && !VARIABLES.contains(&name.as_str()) {
                self.errors.push(Error::Unknown {
                    var: name.clone(),
                    did_you_mean: closest(name),
                });
            }
        }
    }
}

/// A TCP port: 1-65535, digits only.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&p| p != 0)
}

/// The known `HOGREF_*` variable nearest to `name`, if it is a plausible typo (edit distance ≤ 3).
fn closest(name: &str) -> Option<&'static str> {
    VARIABLES
        .iter()
        .filter(|v| v.starts_with("HOGREF_"))
        .map(|v| (edit_distance(name, v), *v))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests;
