//! The plan: each operation rendered for the topology and routed to its nodes (no I/O).

use std::fmt::Write as _;

use migration_checker::analysis::render_sql;
use migration_checker::{Layout, Migration, Operation, RenderContext};

use crate::topology::{Node, Topology};
use crate::{Error, Result};

/// How an operation's hosts were chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Sharded replicated ALTER: one host per shard.
    OneHostPerShard,
    /// Non-sharded replicated ALTER: one host.
    OneHost,
    /// Everything else: every host of the listed roles.
    EveryHost,
}

/// One operation, rendered and routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Migration name.
    pub migration: String,
    /// 1-based operation index.
    pub op: usize,
    /// Routing branch.
    pub routing: Routing,
    /// Node names, sorted.
    pub nodes: Vec<String>,
    /// The SQL to run.
    pub sql: String,
}

/// Every step of a set of migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Steps in execution order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Human-readable plan: one header line per step, then its SQL indented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let routing = match step.routing {
                Routing::OneHostPerShard => "one host per shard",
                Routing::OneHost => "one host",
                Routing::EveryHost => "every host",
            };
            let _ = writeln!(
                out,
                "{} op {} ({routing}) -> {}",
                step.migration,
                step.op,
                step.nodes.join(", ")
            );
            for line in step.sql.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
        out
    }
}

/// The nodes an operation runs on.
pub fn route<'t>(topology: &'t Topology, op: &Operation) -> (Routing, Vec<&'t Node>) {
    let wants_all = op.node_roles.iter().any(|r| r == "ALL");
    let candidates: Vec<&Node> = topology
        .nodes
        .iter()
        .filter(|n| wants_all || n.role == "ALL" || op.node_roles.contains(&n.role))
        .collect();
    let sharded = op.sharded.unwrap_or(false);
    let replicated_alter = op.is_alter_on_replicated_table.unwrap_or(false);
    if topology.layout == Layout::SingleNode {
        return (Routing::EveryHost, candidates);
    }
    if sharded && replicated_alter {
        let mut seen = std::collections::BTreeSet::new();
        let picked = candidates
            .into_iter()
            .filter(|n| {
                // Shard-less nodes (satellites, ingestion) are each their own shard.
                let key = n
                    .shard
                    .map_or_else(|| format!("node:{}", n.name), |s| format!("shard:{s}"));
                seen.insert(key)
            })
            .collect();
        (Routing::OneHostPerShard, picked)
    } else if replicated_alter {
        (Routing::OneHost, candidates.into_iter().take(1).collect())
    } else {
        (Routing::EveryHost, candidates)
    }
}

/// Renders and routes every operation of one migration.
pub fn plan_migration(
    topology: &Topology,
    migration: &Migration,
    ctx: &RenderContext,
) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    for (i, op) in migration.operations.iter().enumerate() {
        let render_err = |message: String| Error::Render {
            migration: migration.name.clone(),
            op: i + 1,
            message,
        };
        if op.engine.as_ref().is_some_and(|e| e.is_kafka()) && ctx.kafka_hosts.is_empty() {
            return Err(render_err(
                "a Kafka table needs the broker list: set KAFKA_HOSTS".to_string(),
            ));
        }
        let sql = render_sql(op, ctx).map_err(render_err)?;
        let (routing, nodes) = route(topology, op);
        if nodes.is_empty() {
            return Err(Error::NoHost {
                migration: migration.name.clone(),
                op: i + 1,
                roles: op.node_roles.join(", "),
            });
        }
        steps.push(Step {
            migration: migration.name.clone(),
            op: i + 1,
            routing,
            nodes: nodes.iter().map(|n| n.name.clone()).collect(),
            sql,
        });
    }
    Ok(steps)
}

/// Plans every migration (sorted by name) for the topology.
pub fn plan(topology: &Topology, migrations: &[Migration]) -> Result<Plan> {
    let ctx = topology.render_context();
    let mut sorted: Vec<&Migration> = migrations.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    let mut steps = Vec::new();
    for migration in sorted {
        steps.extend(plan_migration(topology, migration, &ctx)?);
    }
    Ok(Plan { steps })
}
