//! One trial per parse fixture under `fixtures/hogql/parse/{ok,err}/{select,expr,order_expr}/*.hogql`.
//!
//! The file's content, verbatim, is the input; its folder names the entry point. A case in `ok/` must
//! parse, and the HogQL printer's output for it must parse back to the same tree (spans aside); a
//! case in `err/` must fail. Both are checked before the snapshot: the AST JSON without positions for
//! `ok`, the error envelope with positions for `err` (`tests/snapshots/<kind>__<entry>__<case>.snap`).
//! A folder with no case fails, and so does a snapshot without a case.
//!
//! Cases listed in `fixtures/hogql/parse/divergences.toml` (the checked list of known differences
//! from PostHog's parser, maintained with `cargo xtask parity`) may have the other outcome; whatever
//! Hogref does with them is still pinned by the snapshot.

use std::path::{Path, PathBuf};

use hogql_parser::{EntryPoint, parse, parse_json, printer};
use libtest_mimic::{Arguments, Failed, Trial};

fn repo_root() -> PathBuf {
    conformance::paths::workspace_root()
}

fn entry_of(folder: &str) -> EntryPoint {
    match folder {
        "expr" => EntryPoint::Expr,
        "order_expr" => EntryPoint::OrderExpr,
        _ => EntryPoint::Select,
    }
}

fn snapshot_name(kind: &str, entry: &str, path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{kind}__{entry}__{stem}")
}

/// Case paths (relative to `fixtures/hogql/parse`) listed as known divergences.
fn known_divergences(base: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(base.join("divergences.toml")).unwrap_or_default();
    let value: toml::Value =
        toml::from_str(&text).unwrap_or(toml::Value::Table(toml::map::Map::new()));
    value
        .get("divergence")
        .and_then(toml::Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|d| {
                    d.get("case")
                        .and_then(toml::Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn run_case(
    kind: &str,
    folder: &str,
    path: &Path,
    snapshot: &str,
    diverges: bool,
) -> Result<(), Failed> {
    let src = std::fs::read_to_string(path)
        .map_err(|e| Failed::from(format!("{}: {e}", path.display())))?;
    let entry = entry_of(folder);
    let parsed = parse(entry, &src);
    let rendered = match (kind, parsed) {
        ("ok", Ok(node)) => {
            let printed = printer::print(&node);
            match parse(entry, &printed) {
                Ok(again) if again.without_spans() == node.without_spans() => {}
                Ok(_) => return Err(format!("printed HogQL parses to a different tree:\n  input:   {src}\n  printed: {printed}").into()),
                Err(e) => return Err(format!("printed HogQL does not parse ({e}):\n  input:   {src}\n  printed: {printed}").into()),
            }
            serde_json::to_string_pretty(&parse_json(entry, &src, false))
                .map_err(|e| Failed::from(e.to_string()))?
        }
        (_, Err(_)) if diverges => serde_json::to_string_pretty(&parse_json(entry, &src, true))
            .map_err(|e| Failed::from(e.to_string()))?,
        (_, Ok(_)) if diverges => serde_json::to_string_pretty(&parse_json(entry, &src, false))
            .map_err(|e| Failed::from(e.to_string()))?,
        ("ok", Err(e)) => {
            return Err(format!(
                "ok case failed to parse: {e} at {:?}\n  input: {src}",
                e.offsets()
            )
            .into());
        }
        (_, Ok(_)) => return Err(format!("err case parsed without error\n  input: {src}").into()),
        (_, Err(_)) => serde_json::to_string_pretty(&parse_json(entry, &src, true))
            .map_err(|e| Failed::from(e.to_string()))?,
    };
    let snapshot_dir =
        conformance::paths::workspace_root().join("reference/hogql-parser/tests/snapshots");
    let result = std::panic::catch_unwind(|| {
        insta::with_settings!({ snapshot_path => snapshot_dir, prepend_module_to_snapshot => false, omit_expression => true, input_file => path }, {
            insta::assert_snapshot!(snapshot.to_string(), rendered);
        });
    });
    result.map_err(|_| {
        Failed::from(format!(
            "snapshot `{snapshot}` differs (run `cargo insta review`)"
        ))
    })
}

fn main() {
    let args = Arguments::from_args();
    let base = repo_root().join("fixtures/hogql/parse");
    let mut trials = Vec::new();
    let mut problems = Vec::new();
    let mut expected = std::collections::BTreeSet::new();
    let divergences = known_divergences(&base);
    for kind in ["ok", "err"] {
        for folder in ["select", "expr", "order_expr"] {
            let dir = base.join(kind).join(folder);
            let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map(|rd| {
                    rd.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
                        .collect()
                })
                .unwrap_or_default();
            cases.sort();
            if cases.is_empty() {
                problems.push(format!("no *.hogql case in {}", dir.display()));
            }
            for path in cases {
                let snapshot = snapshot_name(kind, folder, &path);
                expected.insert(format!("{snapshot}.snap"));
                let name = format!(
                    "{kind}/{folder}/{}",
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                );
                let diverges = divergences.contains(&name);
                trials.push(Trial::test(name, move || {
                    run_case(kind, folder, &path, &snapshot, diverges)
                }));
            }
        }
    }
    let snap_dir =
        conformance::paths::workspace_root().join("reference/hogql-parser/tests/snapshots");
    if let Ok(rd) = std::fs::read_dir(&snap_dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".snap") && !expected.contains(&name) {
                problems.push(format!("snapshot without a case: tests/snapshots/{name}"));
            }
        }
    }
    trials.push(Trial::test("fixture tree is complete", move || {
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n").into())
        }
    }));
    libtest_mimic::run(&args, trials).exit();
}
