//! Checker configuration: the role set, placement per object type and the rule selection, as data.
//!
//! Two dialects are built in (`hogref`, the default, and `posthog-2026`); any other is a TOML file of
//! the same shape, parsed with `deny_unknown_fields`.

use serde::Deserialize;

use crate::analysis::ObjectKind;
use crate::{Error, Result};

const HOGREF: &str = include_str!("../dialects/hogref.toml");
const POSTHOG_2026: &str = include_str!("../dialects/posthog-2026.toml");

/// Names of the built-in dialects.
pub const BUILT_IN: &[&str] = &["hogref", "posthog-2026"];

/// A checker configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Dialect name, for messages.
    pub name: String,
    /// Every valid role name.
    pub roles: Vec<String>,
    /// Roles that hold data (valid targets of a replicated ALTER).
    pub data_roles: Vec<String>,
    /// Selected rule codes (`ALL` for every rule).
    pub select: Vec<String>,
    /// Codes removed from the selection.
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Accepted role sets per object type.
    pub placement: Placement,
}

/// Accepted `node_roles` sets per object type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Sharded data tables (`sharded_X`).
    pub sharded_data: Vec<Vec<String>>,
    /// Non-sharded replicated tables.
    pub replicated_data: Vec<Vec<String>>,
    /// Non-replicated MergeTree tables.
    pub local_data: Vec<Vec<String>>,
    /// Read Distributed tables.
    pub distributed_read: Vec<Vec<String>>,
    /// Writable Distributed tables (`writable_X`).
    pub distributed_writable: Vec<Vec<String>>,
    /// Kafka engine tables.
    pub kafka: Vec<Vec<String>>,
    /// Materialized views.
    pub materialized_view: Vec<Vec<String>>,
    /// Plain views.
    pub view: Vec<Vec<String>>,
    /// Dictionaries.
    pub dictionary: Vec<Vec<String>>,
}

impl Placement {
    /// The accepted role sets for an object kind, if the kind is placed by role.
    pub fn for_kind(&self, kind: ObjectKind) -> Option<&[Vec<String>]> {
        Some(match kind {
            ObjectKind::ShardedData => &self.sharded_data,
            ObjectKind::ReplicatedData => &self.replicated_data,
            ObjectKind::LocalData => &self.local_data,
            ObjectKind::DistributedRead => &self.distributed_read,
            ObjectKind::DistributedWritable => &self.distributed_writable,
            ObjectKind::Kafka => &self.kafka,
            ObjectKind::MaterializedView => &self.materialized_view,
            ObjectKind::View => &self.view,
            ObjectKind::Dictionary => &self.dictionary,
            ObjectKind::Other | ObjectKind::Database => return None,
        })
    }
}

impl Config {
    /// A built-in dialect by name.
    pub fn built_in(name: &str) -> Result<Self> {
        match name {
            "hogref" => Self::from_toml("dialects/hogref.toml", HOGREF),
            "posthog-2026" => Self::from_toml("dialects/posthog-2026.toml", POSTHOG_2026),
            other => Err(Error::Config {
                path: other.to_string(),
                message: format!(
                    "unknown dialect `{other}` (built in: {})",
                    BUILT_IN.join(", ")
                ),
            }),
        }
    }

    /// Parses a configuration file's text.
    pub fn from_toml(path: &str, text: &str) -> Result<Self> {
        let config: Config = toml::from_str(text).map_err(|err| Error::Config {
            path: path.to_string(),
            message: err.message().trim().to_string(),
        })?;
        let known = crate::rules::codes();
        for code in config.select.iter().chain(&config.ignore) {
            if code != "ALL" && !known.contains(&code.as_str()) {
                return Err(Error::Config {
                    path: path.to_string(),
                    message: format!("unknown rule code `{code}`"),
                });
            }
        }
        Ok(config)
    }

    /// Whether the rule with `code` runs.
    pub fn enabled(&self, code: &str) -> bool {
        (self.select.iter().any(|c| c == "ALL" || c == code))
            && !self.ignore.iter().any(|c| c == code)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::built_in("hogref")
            .unwrap_or_else(|err| unreachable!("built-in dialect is valid: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_dialects_parse() {
        for name in BUILT_IN {
            Config::built_in(name).unwrap();
        }
        assert!(
            !Config::built_in("posthog-2026")
                .unwrap()
                .roles
                .contains(&"COORDINATOR".to_string())
        );
    }
}
