//! `hogref migrations …`: check migration files, print a per-node plan, apply pending migrations.
//!
//! - `hogref migrations check [--dialect hogref|posthog-2026] [--config FILE] [--format text|json] PATH...`
//!   exits 1 on any diagnostic (a PATH is a migration file or a directory checked as a set).
//! - `hogref migrations plan [--topology FILE] [PATH]` prints which statement runs on which node.
//! - `hogref migrations apply [--topology FILE] [PATH]` applies pending migrations; without a topology,
//!   the single node at `CLICKHOUSE_URL` plays every role. PATH defaults to `migrations/clickhouse`.

use anyhow::Context as _;
use clap::{Args, Subcommand, ValueEnum};
use migration_checker::{Config, Migration, SourceSet};
use migration_runner::Topology;
use migration_runner::topology::Env;

#[derive(Debug, Args)]
pub(crate) struct MigrationsArgs {
    #[command(subcommand)]
    command: MigrationsCommand,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum MigrationsCommand {
    /// Check migration files or directories against the rules; exit 1 on any diagnostic.
    Check {
        /// Migration files or directories.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Built-in dialect (`hogref` or `posthog-2026`).
        #[arg(long, default_value = "hogref")]
        dialect: String,
        /// Checker configuration file (overrides --dialect).
        #[arg(long)]
        config: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: OutputFormat,
    },
    /// List the rules.
    Rules,
    /// Print which statement runs on which node.
    Plan {
        /// Topology file; without it, one node at CLICKHOUSE_URL plays every role.
        #[arg(long)]
        topology: Option<String>,
        /// Database (overrides the topology's; default: env CLICKHOUSE_DATABASE, else `default`).
        #[arg(long)]
        database: Option<String>,
        /// Migration directory.
        #[arg(default_value = "migrations/clickhouse")]
        path: String,
    },
    /// Apply pending migrations in order, recording each after all its operations succeeded.
    Apply {
        /// Topology file; without it, one node at CLICKHOUSE_URL plays every role.
        #[arg(long)]
        topology: Option<String>,
        /// Database (overrides the topology's; default: env CLICKHOUSE_DATABASE, else `default`).
        #[arg(long)]
        database: Option<String>,
        /// Built-in dialect the migrations are checked with before applying.
        #[arg(long, default_value = "hogref")]
        dialect: String,
        /// Migration directory.
        #[arg(default_value = "migrations/clickhouse")]
        path: String,
    },
}

/// Largest file `migrations` reads (a migration, a topology, a rule config), in bytes: a path such
/// as `/dev/zero` would otherwise be read until memory runs out.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// The text of `path`, refused past [`MAX_FILE_BYTES`] (reads at most one byte more).
fn read_capped(path: &str) -> anyhow::Result<String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).with_context(|| format!("reading {path}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {path}"))?;
    anyhow::ensure!(
        bytes.len() as u64 <= MAX_FILE_BYTES,
        "{path}: file is larger than {MAX_FILE_BYTES} bytes"
    );
    String::from_utf8(bytes).with_context(|| format!("{path}: not UTF-8"))
}

/// A migration file or directory, with every file it reads capped by [`read_capped`].
fn read_sources(path: &str) -> anyhow::Result<SourceSet> {
    if !std::path::Path::new(path).is_dir() {
        return Ok(SourceSet::File {
            path: path.to_string(),
            text: read_capped(path)?,
        });
    }
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {path}"))? {
        let entry = entry.with_context(|| format!("reading {path}"))?;
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        anyhow::ensure!(
            len <= MAX_FILE_BYTES,
            "{}: file is larger than {MAX_FILE_BYTES} bytes",
            entry.path().display()
        );
    }
    Ok(SourceSet::read(path)?)
}

fn load(path: &str) -> anyhow::Result<Vec<Migration>> {
    let set = read_sources(path)?;
    let (migrations, diagnostics) = set.migrations();
    if let Some(first) = diagnostics.first() {
        anyhow::bail!(
            "{}:{}:{}: {}",
            first.file,
            first.line,
            first.column,
            first.message
        );
    }
    Ok(migrations)
}

/// The topology from `--topology`, else one node at `CLICKHOUSE_URL` (for `plan`, a placeholder URL
/// is enough: nothing is contacted).
fn topology(
    path: Option<&str>,
    database: Option<String>,
    need_url: bool,
) -> anyhow::Result<Topology> {
    let env = Env::from_process();
    match path {
        Some(path) => {
            let text = read_capped(path)?;
            let mut topology = Topology::from_toml(path, &text, &env)?;
            if let Some(database) = database {
                topology.database = database;
            }
            Ok(topology)
        }
        None => {
            let url = match std::env::var("CLICKHOUSE_URL") {
                Ok(url) => url,
                Err(_) if !need_url => "$CLICKHOUSE_URL".to_string(),
                Err(_) => anyhow::bail!("no --topology given and CLICKHOUSE_URL is not set"),
            };
            let database = database
                .or_else(|| {
                    std::env::var("CLICKHOUSE_DATABASE")
                        .ok()
                        .filter(|d| !d.is_empty())
                })
                .unwrap_or_else(|| "default".to_string());
            Ok(Topology::single_node(&url, &database, &env))
        }
    }
}

pub(crate) fn run(args: MigrationsArgs) -> anyhow::Result<i32> {
    match args.command {
        MigrationsCommand::Check {
            paths,
            dialect,
            config,
            format,
        } => {
            let config = match config {
                Some(path) => {
                    let text = read_capped(&path)?;
                    Config::from_toml(&path, &text)?
                }
                None => Config::built_in(&dialect)?,
            };
            let sets = paths
                .iter()
                .map(|p| read_sources(p))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let report = migration_checker::check(&sets, &config);
            match format {
                OutputFormat::Text => print!("{}", report.render_text()),
                OutputFormat::Json => println!("{}", report.render_json()),
            }
            Ok(i32::from(!report.diagnostics.is_empty()))
        }
        MigrationsCommand::Rules => {
            for (code, name, summary) in migration_checker::rules::list() {
                println!("{code}  {name:<24}{summary}");
            }
            Ok(0)
        }
        MigrationsCommand::Plan {
            topology: topo,
            database,
            path,
        } => {
            let topology = topology(topo.as_deref(), database, false)?;
            let plan = migration_runner::plan(&topology, &load(&path)?)?;
            print!("{}", plan.render());
            Ok(0)
        }
        MigrationsCommand::Apply {
            topology: topo,
            database,
            dialect,
            path,
        } => {
            let migrations = load(&path)?;
            let config = Config::built_in(&dialect)?;
            let report = migration_checker::check(&[read_sources(&path)?], &config);
            if !report.diagnostics.is_empty() {
                eprint!("{}", report.render_text());
                anyhow::bail!("refusing to apply: the checker found problems");
            }
            let topology = topology(topo.as_deref(), database, true)?;
            let result = migration_runner::apply(&topology, &migrations)?;
            for name in &result.applied {
                println!("applied {name}");
            }
            println!(
                "{} applied, {} already applied",
                result.applied.len(),
                result.already_applied.len()
            );
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_files_are_refused_not_read_into_memory() {
        for path in ["/dev/zero", "/dev/urandom"] {
            let error = read_sources(path).expect_err(path).to_string();
            assert!(error.contains("larger than"), "{path}: {error}");
        }
        let sources = read_sources(
            &conformance::paths::workspace_root()
                .join("migrations/clickhouse")
                .to_string_lossy(),
        );
        assert!(sources.is_ok(), "{sources:?}");
    }
}
