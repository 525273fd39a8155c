//! Migration runner: reads a topology, plans which statement runs on which node, and applies migrations
//! over ClickHouse's HTTP interface, recording each in a tracking table only after all its operations
//! succeeded. It knows nothing about rules (that is `migration-checker`) and nothing about the stack.
//!
//! Routing (one operation → hosts), as PostHog's runner does it:
//! - `sharded` and `is_alter_on_replicated_table`: one host per shard among the role hosts (Keeper
//!   replicates the ALTER to the other replicas of each shard);
//! - `is_alter_on_replicated_table` only: one host among the role hosts;
//! - otherwise (CREATE, DROP, ALTER of Distributed/Kafka/MV): every host whose role is listed.
//!
//! A node with role `ALL` (the single-node mode) takes every role. An operation that matches no host is an
//! error, never silently recorded as applied.

pub mod client;
pub mod plan;
pub mod topology;

pub use plan::{Plan, Step, plan};
pub use topology::{Node, Topology};

/// Errors of the runner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The topology file is invalid.
    #[error("{path}: {message}")]
    Topology {
        /// File.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An operation's roles match no node of the topology.
    #[error("{migration} operation {op}: no node has a role in [{roles}]")]
    NoHost {
        /// Migration name.
        migration: String,
        /// 1-based operation index.
        op: usize,
        /// The roles asked for.
        roles: String,
    },
    /// An operation's SQL could not be rendered.
    #[error("{migration} operation {op}: {message}")]
    Render {
        /// Migration name.
        migration: String,
        /// 1-based operation index.
        op: usize,
        /// What is wrong.
        message: String,
    },
    /// A statement failed on one or more nodes.
    #[error("{migration} operation {op} failed on {}", failures.iter().map(|(n, m)| format!("{n}: {m}")).collect::<Vec<_>>().join("; "))]
    Failed {
        /// Migration name.
        migration: String,
        /// 1-based operation index.
        op: usize,
        /// (node name, error text) of each failing node.
        failures: Vec<(String, String)>,
    },
    /// A bookkeeping query failed.
    #[error("node {node}: {message}")]
    Node {
        /// Node name.
        node: String,
        /// Error text.
        message: String,
    },
    /// Migration files could not be read or parsed.
    #[error(transparent)]
    Checker(#[from] migration_checker::Error),
}

/// Result with the runner's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Migrations applied by this run, in order.
    pub applied: Vec<String>,
    /// Migrations that were already recorded.
    pub already_applied: Vec<String>,
}

/// Name of the tracking table (columns as PostHog's: `package_name, module_name, applied`).
pub const TRACKING_TABLE: &str = "hogref_migrations";
/// `package_name` of Hogref's rows.
pub const PACKAGE: &str = "hogref";

/// Applies every pending migration of `migrations` (sorted by name) to `topology`.
pub fn apply(
    topology: &Topology,
    migrations: &[migration_checker::Migration],
) -> Result<ApplyReport> {
    let ctx = topology.render_context();
    let http = client::Client::with_auth(topology.auth.clone());
    // 1. the database on every node, 2. the tracking table on the tracking nodes.
    for node in &topology.nodes {
        http.exec(
            node,
            None,
            &format!("CREATE DATABASE IF NOT EXISTS `{}`", topology.database),
        )?;
    }
    let tracking = topology.tracking_nodes();
    let Some(first) = tracking.first() else {
        return Err(Error::Topology {
            path: topology.path.clone(),
            message: "no node can hold the tracking table".into(),
        });
    };
    let engine = migration_checker::EngineSpec::MergeTree {
        family: "MergeTree".to_string(),
        replication: migration_checker::engine::ReplicationScheme::Replicated,
        args: Vec::new(),
    }
    .render(TRACKING_TABLE, &ctx);
    let create_tracking = format!(
        "CREATE TABLE IF NOT EXISTS {TRACKING_TABLE} (package_name String, module_name String, applied DateTime) \
         ENGINE = {engine} ORDER BY (package_name, module_name)"
    );
    for node in &tracking {
        http.exec(node, Some(&topology.database), &create_tracking)?;
    }
    let applied_text = http.exec(
        first,
        Some(&topology.database),
        &format!("SELECT DISTINCT module_name FROM {TRACKING_TABLE} WHERE package_name = '{PACKAGE}' FORMAT TabSeparated"),
    )?;
    let done: std::collections::BTreeSet<&str> = applied_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut sorted: Vec<&migration_checker::Migration> = migrations.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut report = ApplyReport::default();
    for migration in sorted {
        if done.contains(migration.name.as_str()) {
            report.already_applied.push(migration.name.clone());
            continue;
        }
        for step in plan::plan_migration(topology, migration, &ctx)? {
            let failures: Vec<(String, String)> = std::thread::scope(|scope| {
                let handles: Vec<_> = step
                    .nodes
                    .iter()
                    .filter_map(|name| topology.node(name))
                    .map(|node| {
                        let (http, sql, db) = (&http, &step.sql, &topology.database);
                        scope.spawn(move || (node.name.clone(), http.exec(node, Some(db), sql)))
                    })
                    .collect();
                handles
                    .into_iter()
                    .filter_map(|h| match h.join() {
                        Ok((_, Ok(_))) => None,
                        Ok((name, Err(err))) => Some((name, err.to_string())),
                        Err(_) => Some(("?".to_string(), "worker thread panicked".to_string())),
                    })
                    .collect()
            });
            if !failures.is_empty() {
                return Err(Error::Failed {
                    migration: migration.name.clone(),
                    op: step.op,
                    failures,
                });
            }
        }
        http.exec(
            first,
            Some(&topology.database),
            &format!("INSERT INTO {TRACKING_TABLE} (package_name, module_name, applied) VALUES ('{PACKAGE}', '{}', now())", migration.name),
        )?;
        report.applied.push(migration.name.clone());
    }
    Ok(report)
}
