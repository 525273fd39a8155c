//! The topology file: nodes (HTTP URL, role, shard, replica), clusters, database and Kafka settings.
//!
//! ```toml
//! layout = "cluster"            # or "single_node" (no Keeper, no macros, no remote_servers)
//! database = "posthog"
//! tracking_roles = ["DATA"]     # nodes holding the tracking table (replicated on them)
//!
//! [[nodes]]
//! name = "data-1"
//! host = "http://clickhouse-data-1:8123"
//! role = "DATA"
//! shard = 1
//! replica = 1
//!
//! [clusters]                   # cluster name → shards → replica node names (documents remote_servers)
//! posthog = [["data-1"], ["data-2"]]
//!
//! [auth]                       # optional; the password is read from the named env variable
//! user = "default"
//! password_env = "CLICKHOUSE_PASSWORD"
//!
//! [kafka]                      # broker list comes from env KAFKA_HOSTS, topic prefix from KAFKA_PREFIX
//! settings = { kafka_flush_interval_ms = 100 }
//! ```

use std::collections::BTreeMap;

use migration_checker::{Layout, RenderContext};
use serde::Deserialize;

use crate::{Error, Result};

/// One ClickHouse node.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Unique name.
    pub name: String,
    /// HTTP interface URL, e.g. `http://127.0.0.1:8123`.
    pub host: String,
    /// Role (`DATA`, `COORDINATOR`, `INGESTION_SMALL`, … or `ALL`).
    pub role: String,
    /// Shard number (data nodes).
    pub shard: Option<u32>,
    /// Replica number within the shard.
    pub replica: Option<u32>,
}

/// Kafka settings of the environment.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSection {
    /// Extra Kafka table settings (name → value).
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

/// Credentials sent to every node (`X-ClickHouse-User` / `X-ClickHouse-Key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    user: String,
    /// Name of the environment variable holding the password (never the password itself).
    password_env: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    #[serde(default)]
    auth: Option<RawAuth>,
    layout: Layout,
    database: String,
    #[serde(default = "default_tracking_roles")]
    tracking_roles: Vec<String>,
    #[serde(default)]
    zk_key: Option<String>,
    nodes: Vec<Node>,
    #[serde(default)]
    clusters: BTreeMap<String, Vec<Vec<String>>>,
    #[serde(default)]
    kafka: KafkaSection,
}

fn default_tracking_roles() -> Vec<String> {
    vec!["DATA".to_string()]
}

/// A parsed topology plus the environment values rendering needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Where it came from (for messages).
    pub path: String,
    /// Cluster or single node.
    pub layout: Layout,
    /// Database the migrations run in.
    pub database: String,
    /// Roles whose nodes hold the tracking table.
    pub tracking_roles: Vec<String>,
    /// Unique ZooKeeper path key (tests).
    pub zk_key: Option<String>,
    /// Nodes, sorted by name.
    pub nodes: Vec<Node>,
    /// Cluster name → shards → node names.
    pub clusters: BTreeMap<String, Vec<Vec<String>>>,
    /// Kafka bootstrap servers (env `KAFKA_HOSTS`).
    pub kafka_hosts: String,
    /// Topic prefix (env `KAFKA_PREFIX`).
    pub topic_prefix: String,
    /// Consumer group prefix (env `HOGREF_KAFKA_GROUP_PREFIX`; tests make it unique).
    pub group_prefix: String,
    /// Extra Kafka table settings.
    pub kafka_settings: Vec<(String, String)>,
    /// Credentials, if the nodes need them.
    pub auth: Option<Auth>,
}

/// Environment values the topology does not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    /// `KAFKA_HOSTS`.
    pub kafka_hosts: Option<String>,
    /// `KAFKA_PREFIX`.
    pub topic_prefix: Option<String>,
    /// `HOGREF_KAFKA_GROUP_PREFIX`.
    pub group_prefix: Option<String>,
    /// `CLICKHOUSE_USER` (single-node mode).
    pub clickhouse_user: Option<String>,
    /// `CLICKHOUSE_PASSWORD` (single-node mode), and the variable a topology's `password_env` names.
    pub vars: BTreeMap<String, String>,
}

impl Env {
    /// Reads the variables from the process environment.
    pub fn from_process() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            kafka_hosts: get("KAFKA_HOSTS"),
            topic_prefix: get("KAFKA_PREFIX"),
            group_prefix: get("HOGREF_KAFKA_GROUP_PREFIX"),
            clickhouse_user: get("CLICKHOUSE_USER"),
            vars: std::env::vars().collect(),
        }
    }
}

fn setting_text(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        other => other.to_string(),
    }
}

/// Kafka settings of the local stack (chDB + tansu): fast flushes so tests see rows within ~1 s.
/// `kafka_consumer_reschedule_ms`: after a poll that found nothing, a Kafka table's consumer sleeps
/// this long (ClickHouse's default 500 ms). With tansu, which holds a fetch for librdkafka's full
/// `fetch.wait.max.ms`, a poll often finds nothing while rows are on their way, and the 500 ms sleep
/// on top was most of the capture-to-queryable p95 at 1k ev/s (`cargo xtask bench ingest`).
pub const LOCAL_STACK_KAFKA_SETTINGS: &[(&str, &str)] = &[
    ("kafka_flush_interval_ms", "100"),
    ("kafka_poll_timeout_ms", "100"),
    ("kafka_consumer_reschedule_ms", "100"),
];

impl Topology {
    /// Parses a topology file's text.
    pub fn from_toml(path: &str, text: &str, env: &Env) -> Result<Self> {
        let bad = |message: String| Error::Topology {
            path: path.to_string(),
            message,
        };
        let raw: RawTopology =
            toml::from_str(text).map_err(|e| bad(e.message().trim().to_string()))?;
        let mut nodes = raw.nodes;
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        if nodes.is_empty() {
            return Err(bad("the topology has no node".to_string()));
        }
        for pair in nodes.windows(2) {
            if pair[0].name == pair[1].name {
                return Err(bad(format!("node name `{}` is used twice", pair[0].name)));
            }
        }
        for (cluster, shards) in &raw.clusters {
            for name in shards.iter().flatten() {
                if !nodes.iter().any(|n| &n.name == name) {
                    return Err(bad(format!(
                        "cluster `{cluster}` names unknown node `{name}`"
                    )));
                }
            }
        }
        let auth = match raw.auth {
            Some(a) => Some(Auth {
                password: env.vars.get(&a.password_env).cloned().ok_or_else(|| {
                    bad(format!(
                        "the password variable `{}` named by [auth] is not set",
                        a.password_env
                    ))
                })?,
                user: a.user,
            }),
            None => None,
        };
        Ok(Self {
            auth,
            path: path.to_string(),
            layout: raw.layout,
            database: raw.database,
            tracking_roles: raw.tracking_roles,
            zk_key: raw.zk_key,
            nodes,
            clusters: raw.clusters,
            kafka_hosts: env.kafka_hosts.clone().unwrap_or_default(),
            topic_prefix: env.topic_prefix.clone().unwrap_or_default(),
            group_prefix: env.group_prefix.clone().unwrap_or_default(),
            kafka_settings: raw
                .kafka
                .settings
                .iter()
                .map(|(k, v)| (k.clone(), setting_text(v)))
                .collect(),
        })
    }

    /// One node at `url` playing every role (`ALL`), single-node rendering, local-stack Kafka settings.
    pub fn single_node(url: &str, database: &str, env: &Env) -> Self {
        Self {
            path: "CLICKHOUSE_URL".to_string(),
            layout: Layout::SingleNode,
            database: database.to_string(),
            tracking_roles: vec!["ALL".to_string()],
            zk_key: None,
            nodes: vec![Node {
                name: "local".to_string(),
                host: url.to_string(),
                role: "ALL".to_string(),
                shard: None,
                replica: None,
            }],
            clusters: BTreeMap::new(),
            kafka_hosts: env.kafka_hosts.clone().unwrap_or_default(),
            topic_prefix: env.topic_prefix.clone().unwrap_or_default(),
            group_prefix: env.group_prefix.clone().unwrap_or_default(),
            kafka_settings: LOCAL_STACK_KAFKA_SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            auth: env.clickhouse_user.as_ref().map(|user| Auth {
                user: user.clone(),
                password: env
                    .vars
                    .get("CLICKHOUSE_PASSWORD")
                    .cloned()
                    .unwrap_or_default(),
            }),
        }
    }

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// Nodes that hold the tracking table (role in `tracking_roles`, or `ALL`), sorted by name.
    pub fn tracking_nodes(&self) -> Vec<&Node> {
        self.nodes
            .iter()
            .filter(|n| n.role == "ALL" || self.tracking_roles.contains(&n.role))
            .collect()
    }

    /// The render context for the engine helper.
    pub fn render_context(&self) -> RenderContext {
        RenderContext {
            layout: self.layout,
            database: self.database.clone(),
            zk_root: "/clickhouse/tables".to_string(),
            zk_key: self.zk_key.clone(),
            kafka_hosts: self.kafka_hosts.clone(),
            topic_prefix: self.topic_prefix.clone(),
            group_prefix: self.group_prefix.clone(),
            kafka_settings: self.kafka_settings.clone(),
        }
    }
}
