//! Benchmarks (criterion) for every stage, compared with their references in `cargo xtask bench`.
//!
//! This library holds the shared corpora: the HogQL parse corpus (realistic queries from the parse fixtures),
//! the linearity series (one query shape repeated ×1, ×10, ×100) and the compile corpus (the parse corpus
//! queries the compiler accepts); and the criterion timing every bench reads from the environment.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One benchmark input.
#[derive(Debug, Clone)]
pub struct Query {
    /// A short stable name (the fixture's file stem, or `shape×n`).
    pub name: String,
    /// The HogQL text.
    pub src: String,
}

/// The workspace root, found at run time (`conformance::paths`).
pub fn workspace_root() -> PathBuf {
    conformance::paths::workspace_root()
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

/// The team every compile bench compiles for (the printer fixtures' team).
pub const COMPILE_TEAM_ID: i64 = 420;

/// Hogref's compile of one query with a fresh context for [`COMPILE_TEAM_ID`] (defaults otherwise: UTC, no
/// modifiers, the SETTINGS list): `hogql_compiler::compile`, on the caller's thread (stack grown on demand), with
/// panics caught.
pub fn compile(src: &str) -> Result<hogql_compiler::Compiled, hogql_compiler::CompileError> {
    let mut ctx = hogql_compiler::Context::new(COMPILE_TEAM_ID);
    hogql_compiler::compile(src, &mut ctx)
}

/// The same work as [`compile`] without catching panics (`compile_here`): parse, lower, resolve, print.
pub fn compile_here(src: &str) -> Result<hogql_compiler::Compiled, hogql_compiler::CompileError> {
    let mut ctx = hogql_compiler::Context::new(COMPILE_TEAM_ID);
    hogql_compiler::compile::compile_here(src, &mut ctx)
}

/// Queries left out of a corpus, with the reason (`code: message`).
pub type Skipped = Vec<(String, String)>;

/// The compile corpus: the parse corpus queries that compile, and for the others the error code (so a
/// query joins the bench the day the compiler supports it, and the report says why one is left out).
pub fn compile_corpus(root: &Path) -> std::io::Result<(Vec<Query>, Skipped)> {
    let mut ok = Vec::new();
    let mut skipped = Vec::new();
    for q in parse_corpus(root)? {
        match compile(&q.src) {
            Ok(_) => ok.push(q),
            Err(e) => skipped.push((q.name, format!("{}: {}", e.code(), e))),
        }
    }
    Ok((ok, skipped))
}

/// Criterion timing for every bench, from the environment (`cargo xtask bench` sets these):
/// `HOGREF_BENCH_WARMUP_MS` (default 300), `HOGREF_BENCH_MEASUREMENT_MS` (default 1000) and
/// `HOGREF_BENCH_SAMPLES` (default 20, at least 10).
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Warm-up time per bench.
    pub warm_up: Duration,
    /// Measurement time per bench.
    pub measurement: Duration,
    /// Samples per bench.
    pub samples: usize,
}

/// See [`Timing`].
pub fn timing() -> Timing {
    let var = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default)
    };
    Timing {
        warm_up: Duration::from_millis(var("HOGREF_BENCH_WARMUP_MS", 300)),
        measurement: Duration::from_millis(var("HOGREF_BENCH_MEASUREMENT_MS", 1000)),
        samples: var("HOGREF_BENCH_SAMPLES", 20).max(10) as usize,
    }
}

/// A deliberate slowdown, for demonstrating that `cargo xtask bench --baseline` catches a regression:
/// `HOGREF_BENCH_SPIN_NS=N` makes every timed iteration of every criterion bench busy-wait N nanoseconds
/// (read once; 0, the default, costs one branch). Never set it for real measurements.
pub fn spin_ns() -> u64 {
    static SPIN: OnceLock<u64> = OnceLock::new();
    *SPIN.get_or_init(|| {
        std::env::var("HOGREF_BENCH_SPIN_NS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    })
}

/// Busy-waits `ns` nanoseconds (see [`spin_ns`]).
#[inline]
pub fn spin(ns: u64) {
    if ns == 0 {
        return;
    }
    let start = Instant::now();
    while start.elapsed().as_nanos() < u128::from(ns) {
        std::hint::spin_loop();
    }
}

/// Hogref's parse of a SELECT to a JSON string: the unit both benches time.
pub fn parse_select_to_string(src: &str, with_positions: bool) -> String {
    // The JSON string straight from the parser, as the oracle's `parse_select_json` returns one: no detour
    // through a `serde_json::Value`.
    hogql_parser::parse_json_string(hogql_parser::EntryPoint::Select, src, with_positions)
}

/// The HogVM bench programs: every `fixtures/hog/bytecode/bench_*.json`, as (name, bytecode), sorted.
pub fn hog_bench_cases(root: &Path) -> std::io::Result<Vec<(String, serde_json::Value)>> {
    let dir = root.join("fixtures/hog/bytecode");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if name.starts_with("bench_") && path.extension().is_some_and(|e| e == "json") {
            let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            out.push((name, case["bytecode"].clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
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
    fn most_of_the_parse_corpus_compiles() {
        let (ok, skipped) = compile_corpus(&workspace_root()).unwrap();
        assert!(
            ok.len() >= 10,
            "only {} compile; skipped {skipped:?}",
            ok.len()
        );
        for q in &ok {
            let out = compile_here(&q.src).unwrap();
            assert!(out.clickhouse.contains("SELECT"), "{}", q.name);
        }
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
