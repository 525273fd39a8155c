//! Migration checker: the ClickHouse migration model, a DDL parser, the engine helper and the rules.
//! Pure: no network, no database, no async runtime. Reading files is left to the caller, except for the
//! small [`SourceSet::read`] convenience that uses `std::fs`.
//!
//! A migration is a TOML file (`NNNN_name.toml`, see [`model`]); a directory of them plus
//! `max_migration.txt` is a migration set. [`check`] returns every diagnostic, sorted, never stopping at
//! the first. The rule set and role placement are [`Config`] data (dialects `hogref` and `posthog-2026`).

pub mod analysis;
pub mod ast;
pub mod config;
pub mod diagnostic;
pub mod engine;
pub mod lexer;
pub mod model;
pub mod parser;
pub mod rules;

use std::collections::BTreeMap;
use std::path::Path;

pub use config::Config;
pub use diagnostic::Diagnostic;
pub use engine::{EngineSpec, Layout, RenderContext};
pub use model::{Migration, Operation, parse_migration};
pub use rules::DirInfo;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A migration file is not valid TOML or does not match the format.
    #[error("{path}: byte {offset}: {message}")]
    Format {
        /// File.
        path: String,
        /// Byte offset of the problem.
        offset: usize,
        /// What is wrong.
        message: String,
    },
    /// A checker configuration is invalid.
    #[error("{path}: {message}")]
    Config {
        /// File or dialect name.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A file or directory could not be read.
    #[error("{path}: {message}")]
    Io {
        /// Path.
        path: String,
        /// OS error text.
        message: String,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What to check: one migration file, or a directory of migrations (checked as a set, in name order).
#[derive(Debug, Clone)]
pub enum SourceSet {
    /// A single migration file.
    File {
        /// Path as given.
        path: String,
        /// Its text.
        text: String,
    },
    /// A migration directory.
    Dir {
        /// Directory path as given.
        path: String,
        /// `(file name, text)` of every `*.toml` entry, sorted by name.
        files: Vec<(String, String)>,
        /// Content of `max_migration.txt`, if any.
        max_migration: Option<String>,
    },
}

impl SourceSet {
    /// Reads a file or directory from disk.
    pub fn read(path: &str) -> Result<Self> {
        let io = |e: std::io::Error| Error::Io {
            path: path.to_string(),
            message: e.to_string().to_lowercase(),
        };
        let p = Path::new(path);
        if p.is_dir() {
            let mut files = Vec::new();
            for entry in std::fs::read_dir(p).map_err(io)? {
                let entry = entry.map_err(io)?;
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".toml") && entry.path().is_file() {
                    files.push((name, std::fs::read_to_string(entry.path()).map_err(io)?));
                }
            }
            files.sort();
            let max_migration = std::fs::read_to_string(p.join("max_migration.txt")).ok();
            Ok(SourceSet::Dir {
                path: path.trim_end_matches('/').to_string(),
                files,
                max_migration,
            })
        } else {
            Ok(SourceSet::File {
                path: path.to_string(),
                text: std::fs::read_to_string(p).map_err(io)?,
            })
        }
    }

    /// Parses the migrations; files that do not parse become CH000 diagnostics.
    pub fn migrations(&self) -> (Vec<Migration>, Vec<Diagnostic>) {
        let mut migrations = Vec::new();
        let mut diagnostics = Vec::new();
        let entries: Vec<(String, &str)> = match self {
            SourceSet::File { path, text } => vec![(path.clone(), text.as_str())],
            SourceSet::Dir { path, files, .. } => files
                .iter()
                .map(|(name, text)| (format!("{path}/{name}"), text.as_str()))
                .collect(),
        };
        for (path, text) in entries {
            match parse_migration(&path, text) {
                Ok(m) => migrations.push(m),
                Err(Error::Format {
                    offset, message, ..
                }) => diagnostics.push(Diagnostic::at(
                    &path,
                    text,
                    offset,
                    offset + 1,
                    ("CH000", "syntax"),
                    format!("invalid migration file: {message}"),
                    Some("see the migration file format in the migration-checker docs".to_string()),
                )),
                Err(other) => diagnostics.push(Diagnostic::at(
                    &path,
                    text,
                    0,
                    0,
                    ("CH000", "syntax"),
                    other.to_string(),
                    None,
                )),
            }
        }
        (migrations, diagnostics)
    }
}

/// The result of a check: sorted diagnostics plus the sources they point into (for code frames).
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every diagnostic, sorted by file, line, column, code.
    pub diagnostics: Vec<Diagnostic>,
    /// File path → text.
    pub sources: BTreeMap<String, String>,
}

impl Report {
    /// All diagnostics as code frames, followed by a summary line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&d.render(self.sources.get(&d.file).map_or("", String::as_str)));
            out.push('\n');
        }
        out.push_str(&format!("{} problem(s)\n", self.diagnostics.len()));
        out
    }

    /// All diagnostics as a JSON array.
    pub fn render_json(&self) -> String {
        diagnostic::to_json(&self.diagnostics)
    }
}

/// Checks each source set with `config` and returns every diagnostic, sorted and deduplicated.
pub fn check(sets: &[SourceSet], config: &Config) -> Report {
    let mut report = Report::default();
    for set in sets {
        let (migrations, parse_diagnostics) = set.migrations();
        if config.enabled("CH000") {
            report.diagnostics.extend(parse_diagnostics);
        }
        let dir = match set {
            SourceSet::Dir {
                path,
                files,
                max_migration,
            } => Some(DirInfo {
                path: path.clone(),
                files: files.iter().map(|(n, _)| n.clone()).collect(),
                max_migration: max_migration.clone(),
            }),
            SourceSet::File { .. } => None,
        };
        match set {
            SourceSet::File { path, text } => {
                report.sources.insert(path.clone(), text.clone());
            }
            SourceSet::Dir {
                path,
                files,
                max_migration,
            } => {
                for (name, text) in files {
                    report
                        .sources
                        .insert(format!("{path}/{name}"), text.clone());
                }
                if let Some(text) = max_migration {
                    report
                        .sources
                        .insert(format!("{path}/max_migration.txt"), text.clone());
                }
            }
        }
        report
            .diagnostics
            .extend(check_migrations(&migrations, dir.as_ref(), config));
    }
    report.diagnostics.sort();
    report.diagnostics.dedup();
    report
}

/// Runs the enabled rules over already parsed migrations (in the given order).
pub fn check_migrations(
    migrations: &[Migration],
    dir: Option<&DirInfo>,
    config: &Config,
) -> Vec<Diagnostic> {
    let refs: Vec<&Migration> = migrations.iter().collect();
    let analyzed = analysis::analyze(&refs, &RenderContext::lint());
    let ctx = rules::RuleContext {
        config,
        migrations: &analyzed,
        dir,
    };
    let mut out = Vec::new();
    for rule in rules::RULES {
        if config.enabled(rule.code) {
            let mut sink = rules::Sink {
                rule: (rule.code, rule.name),
                out: Vec::new(),
            };
            (rule.check)(&ctx, &mut sink);
            out.extend(sink.out);
        }
    }
    out.sort();
    out
}
