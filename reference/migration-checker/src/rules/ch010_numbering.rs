//! CH010 `numbering`: migration file names are `NNNN_name.toml` (four digits, lowercase snake case);
//! numbers are unique; `max_migration.txt` exists, holds exactly one line, and names the highest-numbered
//! migration, which exists. The file makes two branches that take the same number conflict in git.
//!
//! Bad: `7_events.toml`; `0002_a.toml` next to `0002_b.toml`; `max_migration.txt` saying `0001_x` when
//! `0002_y.toml` exists.
//!
//! Good: `0001_events.toml`, `0002_person.toml`, and `max_migration.txt` containing `0002_person`.

use std::collections::BTreeMap;

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH010",
    name: "numbering",
    summary: "file names, duplicate numbers, `max_migration.txt`",
    check,
};

/// Whether a file name is `NNNN_name.toml`.
pub(crate) fn valid_name(file: &str) -> bool {
    let Some(stem) = file.strip_suffix(".toml") else {
        return false;
    };
    let bytes = stem.as_bytes();
    bytes.len() > 5
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'_'
        && bytes[5..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

const HINT: &str = "name migrations `NNNN_name.toml` with a unique number and keep `max_migration.txt` equal to the highest";

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    let Some(dir) = ctx.dir else {
        for m in ctx.migrations {
            let file = std::path::Path::new(&m.migration.path)
                .file_name()
                .and_then(|f| f.to_str())
                .unwrap_or("");
            if !valid_name(file) {
                sink.file(
                    &m.migration.path,
                    "",
                    0,
                    0,
                    format!("`{file}` is not named `NNNN_name.toml`"),
                    HINT,
                );
            }
        }
        return;
    };
    let join = |file: &str| format!("{}/{file}", dir.path.trim_end_matches('/'));
    let mut by_number: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for file in &dir.files {
        if valid_name(file) {
            by_number.entry(&file[..4]).or_default().push(file);
        } else {
            sink.file(
                &join(file),
                "",
                0,
                0,
                format!("`{file}` is not named `NNNN_name.toml`"),
                HINT,
            );
        }
    }
    for (number, files) in &by_number {
        for file in files.iter().skip(1) {
            sink.file(
                &join(file),
                "",
                0,
                0,
                format!("number {number} is also used by `{}`", files[0]),
                HINT,
            );
        }
    }
    let highest = by_number
        .values()
        .last()
        .and_then(|f| f.last())
        .map(|f| f.trim_end_matches(".toml"));
    let max_path = join("max_migration.txt");
    match (&dir.max_migration, highest) {
        (None, Some(highest)) => sink.file(
            &max_path,
            "",
            0,
            0,
            "`max_migration.txt` is missing".to_string(),
            &format!("create it containing `{highest}`"),
        ),
        (None, None) => {}
        (Some(text), _) => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            if lines.len() != 1 {
                sink.file(
                    &max_path,
                    text,
                    0,
                    0,
                    format!(
                        "`max_migration.txt` must hold exactly one line, found {}",
                        lines.len()
                    ),
                    HINT,
                );
                return;
            }
            let named = lines[0].trim();
            let exists = dir
                .files
                .iter()
                .any(|f| f.trim_end_matches(".toml") == named);
            if !exists {
                sink.file(
                    &max_path,
                    text,
                    0,
                    named.len(),
                    format!("`max_migration.txt` names `{named}`, which does not exist"),
                    HINT,
                );
            } else if Some(named) != highest {
                sink.file(
                    &max_path,
                    text,
                    0,
                    named.len(),
                    format!(
                        "`max_migration.txt` names `{named}` but the highest migration is `{}`",
                        highest.unwrap_or("")
                    ),
                    HINT,
                );
            }
        }
    }
}
