//! Benchmarks (criterion) for every stage, compared with their references in `cargo xtask bench`.
//!
//! This library holds the shared corpora: the HogQL parse corpus (realistic queries from the parse fixtures) and
//! the linearity series (one query shape repeated ×1, ×10, ×100).

use std::path::{Path, PathBuf};

/// One benchmark input.
#[derive(Debug, Clone)]
pub struct Query {
    /// A short stable name (the fixture's file stem, or `shape×n`).
    pub name: String,
    /// The HogQL text.
    pub src: String,
}

/// The workspace root (the parent of `benches/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The parse corpus: every `ok/select` fixture whose name has the `realistic` group, sorted by length
/// (8 to 800+ characters).
pub fn parse_corpus(root: &Path) -> std::io::Result<Vec<Query>> {
    let dir = root.join("fixtures/hogql/parse/ok/select");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let is_hogql = path.extension().is_some_and(|e| e == "hogql");
        if is_hogql && stem.split('_').nth(1) == Some("realistic") {
            out.push(Query {
                name: stem.to_string(),
                src: std::fs::read_to_string(&path)?,
            });
        }
    }
    out.sort_by(|a, b| a.src.len().cmp(&b.src.len()).then(a.name.cmp(&b.name)));
    Ok(out)
}

/// The linearity series: three query shapes, each with its repeated part ×1, ×10 and ×100.
/// `columns`: `select c0 + 1 as a0, c1 + 1 as a1, … from t`; `and_chain`: `select 1 from t where x0 = 0 and x1 = 1 …`;
/// `nested_parens`: `select ((…(1)…)) from t`.
pub fn linearity_series() -> Vec<Query> {
    let mut out = Vec::new();
    for n in [1usize, 10, 100] {
        let cols: Vec<String> = (0..n).map(|i| format!("c{i} + 1 as a{i}")).collect();
        out.push(Query {
            name: format!("columns×{n}"),
            src: format!("select {} from t", cols.join(", ")),
        });
    }
    for n in [1usize, 10, 100] {
        let terms: Vec<String> = (0..n).map(|i| format!("x{i} = {i}")).collect();
        out.push(Query {
            name: format!("and_chain×{n}"),
            src: format!("select 1 from t where {}", terms.join(" and ")),
        });
    }
    for n in [1usize, 10, 100] {
        out.push(Query {
            name: format!("nested_parens×{n}"),
            src: format!("select {}1{} from t", "(".repeat(n), ")".repeat(n)),
        });
    }
    out
}

/// Hogref's parse of a SELECT to a JSON string: the unit both benches time.
pub fn parse_select_to_string(src: &str, with_positions: bool) -> String {
    // The JSON string straight from the parser, as the oracle's `parse_select_json` returns one: no detour
    // through a `serde_json::Value`.
    hogql_parser::parse_json_string(hogql_parser::EntryPoint::Select, src, with_positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corpus_spans_short_to_long_queries_that_parse() {
        let corpus = parse_corpus(&workspace_root()).unwrap();
        assert!(corpus.len() >= 10, "only {} corpus queries", corpus.len());
        assert!(corpus.first().unwrap().src.len() <= 10);
        assert!(corpus.last().unwrap().src.len() >= 500);
    }

    #[test]
    fn linearity_series_grows_tenfold() {
        let series = linearity_series();
        assert_eq!(series.len(), 9);
        let len = |name: &str| series.iter().find(|q| q.name == name).unwrap().src.len();
        assert!(len("columns×100") > 9 * len("columns×10"));
        assert!(len("and_chain×100") > 9 * len("and_chain×10"));
    }
}
