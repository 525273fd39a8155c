//! The one engine helper: renders `${engine}` from a replication scheme and a render context.
//!
//! | spec | cluster layout | single-node layout |
//! |---|---|---|
//! | `merge_tree`, `sharded` | `Replicated<F>MergeTree('<zk>/{shard}/posthog.<t>', '{replica}'[, args])` | `<F>MergeTree([args])` |
//! | `merge_tree`, `replicated` | `Replicated<F>MergeTree('<zk>/noshard/posthog.<t>', '{replica}-{shard}'[, args])` | `<F>MergeTree([args])` |
//! | `merge_tree`, `not_sharded` | `<F>MergeTree([args])` | same |
//! | `distributed`, `mode = "read"` | `Distributed('<cluster>', '<db>', '<t>'[, key])` | `Merge('<db>', '^<t>$')` |
//! | `distributed`, `mode = "write"` | same as read | `Buffer('<db>', '<t>', 1, 0, 0, 0, 0, 0, 0)` |
//! | `kafka` | `Kafka SETTINGS kafka_broker_list = …, kafka_topic_list = '<prefix><topic>', …` | same |
//!
//! Single-node has no Keeper, no macros and no `remote_servers` (chDB has no cluster config), so replicated
//! engines become their plain family, a read Distributed becomes a `Merge` table over its one data table
//! (read only), and a writable Distributed becomes a `Buffer` with zero thresholds, which writes every
//! block straight through to the data table (verified on chDB 26.9: rows are visible at once).

use std::collections::BTreeMap;

use serde::Deserialize;

/// How a MergeTree-family table is replicated (PostHog's `ReplicationScheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationScheme {
    /// One table per shard, replicated within the shard: ZooKeeper path has `{shard}`.
    Sharded,
    /// One table replicated on every node: ZooKeeper path has `noshard`.
    Replicated,
    /// A plain local table.
    NotSharded,
}

/// Read or write side of a Distributed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DistributedMode {
    /// A read table (`X` / `distributed_X`).
    Read,
    /// A writable table (`writable_X`).
    Write,
}

/// The `engine = { … }` table of an operation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EngineSpec {
    /// A MergeTree-family engine.
    MergeTree {
        /// `MergeTree`, `ReplacingMergeTree`, `CollapsingMergeTree`, `AggregatingMergeTree`, …
        family: String,
        /// The replication scheme.
        replication: ReplicationScheme,
        /// Extra engine arguments (version column, sign column, …), as SQL text.
        #[serde(default)]
        args: Vec<String>,
    },
    /// A Distributed engine over a data table.
    Distributed {
        /// Read or write side.
        mode: DistributedMode,
        /// Cluster name, e.g. `posthog` or `posthog_single_shard`.
        cluster: String,
        /// The data table.
        table: String,
        /// Sharding key expression (needed to write to a multi-shard cluster).
        sharding_key: Option<String>,
    },
    /// A Kafka engine; broker list and topic prefix come from the render context, never from the file.
    Kafka {
        /// Topic, without prefix.
        topic: String,
        /// Consumer group, without prefix.
        group: String,
        /// Message format.
        #[serde(default = "default_format")]
        format: String,
        /// Extra `kafka_*` settings.
        #[serde(default)]
        settings: BTreeMap<String, toml::Value>,
    },
}

fn default_format() -> String {
    "JSONEachRow".to_string()
}

/// Whether the target has a cluster (Keeper, macros, `remote_servers`) or is one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// Multi-node ClickHouse with Keeper and macros.
    Cluster,
    /// One node playing every role (chDB, local stack).
    SingleNode,
}

/// Everything rendering needs that is not in the migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    /// Cluster or single node.
    pub layout: Layout,
    /// Database the migrations run in.
    pub database: String,
    /// ZooKeeper path root, e.g. `/clickhouse/tables`.
    pub zk_root: String,
    /// Optional unique key inserted before `{shard}`/`noshard` (tests: Keeper is not cleaned on DROP).
    pub zk_key: Option<String>,
    /// Kafka bootstrap servers (`KAFKA_HOSTS`).
    pub kafka_hosts: String,
    /// Prefix for topic names (`KAFKA_PREFIX`).
    pub topic_prefix: String,
    /// Prefix for consumer group names (unique per test run).
    pub group_prefix: String,
    /// Extra Kafka table settings for this environment, e.g. the local stack's flush/poll intervals.
    pub kafka_settings: Vec<(String, String)>,
}

impl RenderContext {
    /// The context the checker lints with: a cluster, database `posthog`, a placeholder broker.
    pub fn lint() -> Self {
        Self {
            layout: Layout::Cluster,
            database: "posthog".to_string(),
            zk_root: "/clickhouse/tables".to_string(),
            zk_key: None,
            kafka_hosts: "kafka:9092".to_string(),
            topic_prefix: String::new(),
            group_prefix: String::new(),
            kafka_settings: Vec::new(),
        }
    }
}

fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn setting_value(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

impl EngineSpec {
    /// Renders the engine clause text (what follows `ENGINE =`) for `table`.
    pub fn render(&self, table: &str, ctx: &RenderContext) -> String {
        match self {
            EngineSpec::MergeTree {
                family,
                replication,
                args,
            } => {
                let plain_args = args.join(", ");
                match (ctx.layout, replication) {
                    (Layout::SingleNode, _) | (_, ReplicationScheme::NotSharded) => {
                        format!("{family}({plain_args})")
                    }
                    (Layout::Cluster, scheme) => {
                        let key = ctx
                            .zk_key
                            .as_deref()
                            .map(|k| format!("{k}_"))
                            .unwrap_or_default();
                        let (shard, replica) = match scheme {
                            ReplicationScheme::Sharded => ("{shard}", "{replica}"),
                            _ => ("noshard", "{replica}-{shard}"),
                        };
                        let path = format!("{}/{key}{shard}/posthog.{table}", ctx.zk_root);
                        let mut all = vec![quote(&path), quote(replica)];
                        all.extend(args.iter().cloned());
                        format!("Replicated{family}({})", all.join(", "))
                    }
                }
            }
            EngineSpec::Distributed {
                mode,
                cluster,
                table: data_table,
                sharding_key,
            } => match (ctx.layout, mode) {
                (Layout::SingleNode, DistributedMode::Read) => {
                    format!(
                        "Merge({}, {})",
                        quote(&ctx.database),
                        quote(&format!("^{data_table}$"))
                    )
                }
                (Layout::SingleNode, DistributedMode::Write) => {
                    format!(
                        "Buffer({}, {}, 1, 0, 0, 0, 0, 0, 0)",
                        quote(&ctx.database),
                        quote(data_table)
                    )
                }
                (Layout::Cluster, _) => {
                    let mut all = vec![quote(cluster), quote(&ctx.database), quote(data_table)];
                    all.extend(sharding_key.iter().cloned());
                    format!("Distributed({})", all.join(", "))
                }
            },
            EngineSpec::Kafka {
                topic,
                group,
                format,
                settings,
            } => {
                let mut all = vec![
                    ("kafka_broker_list".to_string(), quote(&ctx.kafka_hosts)),
                    (
                        "kafka_topic_list".to_string(),
                        quote(&format!("{}{topic}", ctx.topic_prefix)),
                    ),
                    (
                        "kafka_group_name".to_string(),
                        quote(&format!("{}{group}", ctx.group_prefix)),
                    ),
                    ("kafka_format".to_string(), quote(format)),
                ];
                all.extend(settings.iter().map(|(k, v)| (k.clone(), setting_value(v))));
                for (k, v) in &ctx.kafka_settings {
                    if !all.iter().any(|(existing, _)| existing == k) {
                        all.push((k.clone(), v.clone()));
                    }
                }
                let list: Vec<String> =
                    all.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("Kafka SETTINGS {}", list.join(", "))
            }
        }
    }

    /// Whether this spec renders a Kafka engine (whose SETTINGS must stay last in the statement).
    pub fn is_kafka(&self) -> bool {
        matches!(self, EngineSpec::Kafka { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(src: &str) -> EngineSpec {
        toml::from_str::<BTreeMap<String, EngineSpec>>(&format!("engine = {src}"))
            .unwrap()
            .remove("engine")
            .unwrap()
    }

    #[test]
    fn sharded_and_replicated_paths() {
        let ctx = RenderContext::lint();
        let s = spec(
            r#"{ kind = "merge_tree", family = "ReplacingMergeTree", replication = "sharded", args = ["_timestamp"] }"#,
        );
        assert_eq!(
            s.render("sharded_events", &ctx),
            "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/posthog.sharded_events', '{replica}', _timestamp)"
        );
        let r = spec(
            r#"{ kind = "merge_tree", family = "ReplacingMergeTree", replication = "replicated", args = ["version"] }"#,
        );
        assert_eq!(
            r.render(
                "person",
                &RenderContext {
                    zk_key: Some("t1".into()),
                    ..ctx.clone()
                }
            ),
            "ReplicatedReplacingMergeTree('/clickhouse/tables/t1_noshard/posthog.person', '{replica}-{shard}', version)"
        );
        let single = RenderContext {
            layout: Layout::SingleNode,
            ..ctx
        };
        assert_eq!(r.render("person", &single), "ReplacingMergeTree(version)");
    }

    #[test]
    fn distributed_and_kafka() {
        let ctx = RenderContext {
            kafka_settings: vec![("kafka_poll_timeout_ms".into(), "100".into())],
            ..RenderContext::lint()
        };
        let d = spec(
            r#"{ kind = "distributed", mode = "write", cluster = "posthog", table = "sharded_events", sharding_key = "sipHash64(distinct_id)" }"#,
        );
        assert_eq!(
            d.render("writable_events", &ctx),
            "Distributed('posthog', 'posthog', 'sharded_events', sipHash64(distinct_id))"
        );
        let single = RenderContext {
            layout: Layout::SingleNode,
            database: "db1".into(),
            ..ctx.clone()
        };
        assert_eq!(
            d.render("writable_events", &single),
            "Buffer('db1', 'sharded_events', 1, 0, 0, 0, 0, 0, 0)"
        );
        let k = spec(r#"{ kind = "kafka", topic = "clickhouse_person", group = "group1" }"#);
        assert_eq!(
            k.render("kafka_person", &ctx),
            "Kafka SETTINGS kafka_broker_list = 'kafka:9092', kafka_topic_list = 'clickhouse_person', kafka_group_name = 'group1', kafka_format = 'JSONEachRow', kafka_poll_timeout_ms = 100"
        );
    }

    #[test]
    fn unknown_engine_fields_are_rejected() {
        let err = toml::from_str::<BTreeMap<String, EngineSpec>>(
            r#"engine = { kind = "kafka", topic = "t", group = "g", brokers = "x" }"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
