//! One trial per printer fixture under `fixtures/hogql/print/{ok,err}/NNNN_name.hogql`.
//!
//! A case is HogQL text after optional header lines:
//!
//! * `-- config: {"team_id": 420, "timezone": "UTC", "modifiers": {…}, "limit_context": "api",
//!   "settings": true}` (JSON, `deny_unknown_fields`; defaults: team 420, UTC, no modifiers,
//!   the default limit context, no SETTINGS suffix, like PostHog's printer tests;
//!   `"materialized": [{"property": "x", "nullable": false}]` adds materialized event properties);
//! * `-- expect: <sql>`: the exact ClickHouse SQL (taken from the spec / PostHog's tests); the
//!   printed SQL must equal it;
//! * `-- expect-contains: <sql>` (repeatable): a piece of SQL the output must contain, for the
//!   spec's expression-level strings;
//! * `-- expect-error: <text>`: for `err/` cases, a substring the error message must contain;
//! * `-- expect-hogql: <hogql>` / `-- expect-hogql-pretty: <hogql>` (`\n` for a line break):
//!   for the HogQL dialect cases under `fixtures/hogql/dialect/`, the query as PostHog's
//!   `print_ast(..., dialect="hogql")` prints it, compact or pretty (the source test is named in
//!   a `-- source:` line).
//!
//! Headers come first: the first other line starts the query, and a header line after it fails
//! the case (it would be read as a HogQL comment and its expectation skipped). Where a case's
//! expectation comes from is noted in `fixtures/hogql/print/SOURCES.md`.
//!
//! `fixtures/hogql/print-gaps/NNNN_name.hogql` are PostHog expectations (same headers, plus
//! `-- source:` and `-- gap: <reason>`) this compiler does not meet yet: each must still miss its
//! expectation, and fails (to be moved to `ok/` or `err/`) once it meets it.
//!
//! `gap/` cases are the checked list of known gaps: queries PostHog compiles that this compiler
//! does not yet; each must fail with code `not_supported`, so a case fails (and must move to
//! `ok/`) as soon as it starts compiling.
//!
//! `ok/` cases must compile; their snapshot is the SQL plus the values map as JSON. `err/` cases
//! must fail; their snapshot is the error code, message and character span. Snapshots live in
//! `tests/snapshots/print__<case>.snap`; a snapshot without a fixture fails the run.

use std::path::{Path, PathBuf};

use hogql_compiler::compile::{compile_here, print_hogql_dialect};
use hogql_compiler::context::ParamValue;
use hogql_compiler::schema::PropertySource;
use hogql_compiler::{Context, LimitContext, Modifiers, compile};
use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_team")]
    team_id: i64,
    #[serde(default = "default_tz")]
    timezone: String,
    #[serde(default)]
    modifiers: Modifiers,
    #[serde(default)]
    limit_context: LimitContext,
    #[serde(default)]
    settings: bool,
    /// Materialized event properties.
    #[serde(default)]
    materialized: Vec<Materialized>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Materialized {
    property: String,
    #[serde(default)]
    nullable: bool,
}

fn default_team() -> i64 {
    420
}

fn default_tz() -> String {
    "UTC".into()
}

struct Case {
    config: Config,
    expect: Option<String>,
    expect_error: Option<String>,
    expect_contains: Vec<String>,
    expect_hogql: Option<String>,
    expect_hogql_pretty: Option<String>,
    gap: Option<String>,
    query: String,
}

fn parse_case(text: &str) -> Result<Case, Failed> {
    let mut config = None;
    let mut expect = None;
    let mut expect_error = None;
    let mut expect_contains = Vec::new();
    let mut expect_hogql = None;
    let mut expect_hogql_pretty = None;
    let mut gap = None;
    let mut body = Vec::new();
    let mut in_header = true;
    for line in text.lines() {
        if in_header {
            if let Some(rest) = line.strip_prefix("-- config:") {
                config = Some(
                    serde_json::from_str::<Config>(rest.trim())
                        .map_err(|e| Failed::from(format!("bad config header: {e}")))?,
                );
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- expect:") {
                expect = Some(rest.trim().to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- expect-contains:") {
                expect_contains.push(rest.trim().to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- expect-error:") {
                expect_error = Some(rest.trim().to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- expect-hogql:") {
                expect_hogql = Some(rest.trim().to_owned());
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- expect-hogql-pretty:") {
                expect_hogql_pretty = Some(rest.trim().replace("\\n", "\n"));
                continue;
            }
            if line.starts_with("-- source:") {
                continue;
            }
            if let Some(rest) = line.strip_prefix("-- gap:") {
                gap = Some(rest.trim().to_owned());
                continue;
            }
            in_header = false;
        }
        // A header line after the query started would be read as HogQL (a comment) and its
        // expectation silently skipped.
        if ["-- config:", "-- expect"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            return Err(Failed::from(format!(
                "header line after the query starts (headers come first, before any other line): {line}"
            )));
        }
        body.push(line);
    }
    let config = match config {
        Some(c) => c,
        None => serde_json::from_str("{}").map_err(|e| Failed::from(e.to_string()))?,
    };
    Ok(Case {
        config,
        expect,
        expect_error,
        expect_contains,
        expect_hogql,
        expect_hogql_pretty,
        gap,
        query: body.join("\n").trim().to_owned(),
    })
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn snapshot(name: &str, text: String) -> Result<(), Failed> {
    let dir = snapshot_dir();
    std::panic::catch_unwind(|| {
        insta::with_settings!({ snapshot_path => dir, prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(name.to_string(), text);
        });
    })
    .map_err(|_| Failed::from(format!("snapshot `{name}` differs (run `cargo insta review`)")))
}

fn context(case: &Case) -> Context {
    let mut ctx = Context::new(case.config.team_id);
    ctx.timezone = case.config.timezone.clone();
    ctx.modifiers = case.config.modifiers.clone();
    ctx.limit_context = case.config.limit_context;
    ctx.global_settings = case.config.settings;
    for m in &case.config.materialized {
        ctx.materialized
            .materialize(PropertySource::Event, &m.property, m.nullable);
    }
    ctx
}

/// A HogQL dialect case: the query compiles, and prints in the HogQL dialect as expected
/// (compact and/or pretty; at least one expectation).
fn run_dialect_case(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| Failed::from(e.to_string()))?;
    let case = parse_case(&text)?;
    if case.expect_hogql.is_none() && case.expect_hogql_pretty.is_none() {
        return Err("a dialect case needs `-- expect-hogql:` or `-- expect-hogql-pretty:`".into());
    }
    for (pretty, expected) in [
        (false, &case.expect_hogql),
        (true, &case.expect_hogql_pretty),
    ] {
        let Some(expected) = expected else { continue };
        let ctx = context(&case);
        let printed = print_hogql_dialect(&case.query, &ctx, pretty)
            .map_err(|e| format!("expected success, got [{}] {e}", e.code()))?;
        if &printed != expected {
            return Err(format!(
                "HogQL dialect output differs (pretty: {pretty})\n  expected: {expected:?}\n  printed:  {printed:?}"
            )
            .into());
        }
    }
    // The compiler's own answer carries the pretty form (when the query also compiles to
    // ClickHouse: some dialect cases are HogQL-only).
    if let Some(expected) = &case.expect_hogql_pretty {
        let mut ctx = context(&case);
        if let Ok(compiled) = compile(&case.query, &mut ctx)
            && compiled.hogql.as_ref() != Some(expected)
        {
            return Err(format!("compile()'s hogql differs: {:?}", compiled.hogql).into());
        }
    }
    Ok(())
}

/// A known divergence from PostHog (`fixtures/hogql/print-gaps/`): PostHog's expectation that
/// this compiler does not meet yet, with the reason (`-- gap:`). The case fails as soon as the
/// expectation is met, so the list only shrinks.
fn run_known_gap(path: &Path) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| Failed::from(e.to_string()))?;
    let case = parse_case(&text)?;
    if case.gap.is_none() {
        return Err("a print-gaps case needs a `-- gap: <reason>` line".into());
    }
    if case.expect.is_none() && case.expect_contains.is_empty() && case.expect_error.is_none() {
        return Err("a print-gaps case needs PostHog's expectation".into());
    }
    let mut ctx = context(&case);
    let met = match (compile(&case.query, &mut ctx), &case.expect_error) {
        (Err(e), Some(expected)) => e.to_string().contains(expected.as_str()),
        (Ok(_), Some(_)) | (Err(_), None) => false,
        (Ok(out), None) => {
            case.expect.as_ref().is_none_or(|e| e == &out.clickhouse)
                && case
                    .expect_contains
                    .iter()
                    .all(|p| out.clickhouse.contains(p.as_str()))
        }
    };
    if met {
        return Err(
            "known gap now meets PostHog's expectation: move it to fixtures/hogql/print/ok or err"
                .into(),
        );
    }
    Ok(())
}

fn run_case(kind: &str, path: &Path, name: &str) -> Result<(), Failed> {
    let text = std::fs::read_to_string(path).map_err(|e| Failed::from(e.to_string()))?;
    let case = parse_case(&text)?;
    let mut ctx = Context::new(case.config.team_id);
    ctx.timezone = case.config.timezone.clone();
    ctx.modifiers = case.config.modifiers.clone();
    ctx.limit_context = case.config.limit_context;
    ctx.global_settings = case.config.settings;
    for m in &case.config.materialized {
        ctx.materialized
            .materialize(PropertySource::Event, &m.property, m.nullable);
    }
    let result = compile(&case.query, &mut ctx);
    match (kind, result) {
        ("ok", Ok(compiled)) => {
            if let Some(expect) = &case.expect
                && &compiled.clickhouse != expect
            {
                return Err(format!(
                    "printed SQL differs from the expected string\n  expected: {expect}\n  printed:  {}",
                    compiled.clickhouse
                )
                .into());
            }
            // Every placeholder the SQL uses has a value, and values are numbered densely.
            for (i, (key, _)) in compiled.values.iter().enumerate() {
                if key != &format!("hogql_val_{i}") {
                    return Err(format!("value {i} is named {key}").into());
                }
            }
            // Every placeholder has a value and no other `%` is left: binding succeeds.
            let bound = hogql_compiler::bind_values(&compiled.clickhouse, &compiled.values)
                .map_err(|e| format!("binding values: [{}] {e}", e.code()))?;
            if bound.contains("%(") {
                return Err(format!("placeholder left after binding: {bound}").into());
            }
            for piece in &case.expect_contains {
                if !compiled.clickhouse.contains(piece.as_str()) {
                    return Err(format!(
                        "printed SQL lacks the expected piece\n  expected piece: {piece}\n  printed: {}",
                        compiled.clickhouse
                    )
                    .into());
                }
            }
            let values: serde_json::Map<String, serde_json::Value> = compiled
                .values
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        ParamValue::Str(s) => serde_json::Value::String(s.clone()),
                        ParamValue::Int(i) => serde_json::Value::from(*i),
                    };
                    (k.clone(), v)
                })
                .collect();
            let values = serde_json::to_string_pretty(&values).map_err(|e| e.to_string())?;
            snapshot(name, format!("{}\n\n{values}\n", compiled.clickhouse))
        }
        ("ok", Err(e)) => Err(format!("expected success, got [{}] {e}", e.code()).into()),
        ("gap", Ok(compiled)) => Err(format!(
            "known gap now compiles; move it to ok/ with its expected SQL: {}",
            compiled.clickhouse
        )
        .into()),
        ("gap", Err(e)) if e.code() != "not_supported" => Err(format!(
            "known gap fails with [{}] {e} instead of not_supported",
            e.code()
        )
        .into()),
        (_, Ok(compiled)) => {
            Err(format!("expected an error, printed {}", compiled.clickhouse).into())
        }
        (_, Err(e)) => {
            if let Some(expected) = &case.expect_error
                && !e.to_string().contains(expected.as_str())
            {
                return Err(format!("error `{e}` does not contain `{expected}`").into());
            }
            let span = match e.char_offsets(&case.query) {
                Some((s, end)) => {
                    let excerpt: String = case.query.chars().skip(s).take(end - s).collect();
                    format!("{s}..{end} `{excerpt}`")
                }
                None => "none".into(),
            };
            snapshot(
                name,
                format!("code: {}\nmessage: {e}\nspan: {span}\n", e.code()),
            )
        }
    }
}

fn hogql_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in sorted_entries(dir) {
        if entry.is_dir() {
            hogql_files(&entry, out);
        } else if entry.extension().is_some_and(|e| e == "hogql") {
            out.push(entry);
        }
    }
}

/// The parser's corpus (valid and invalid HogQL, as selects and as bare expressions) through
/// `compile`: every case must come back as SQL or as an error; a panic fails the trial.
fn no_panic_on_parse_corpus() -> Result<(), Failed> {
    let mut files = Vec::new();
    hogql_files(&repo_root().join("fixtures/hogql/parse"), &mut files);
    if files.is_empty() {
        return Err("fixtures/hogql/parse has no case".into());
    }
    let mut panics = Vec::new();
    let (mut ok, mut err) = (0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|e| Failed::from(e.to_string()))?;
        // The parser's deep-nesting cases (thousands of parentheses) take the debug-build parser
        // seconds to reject (its cost grows quadratically with the depth); they test the parser,
        // not the compiler, so they are left to the parser's own suite.
        if text.len() > 2000 {
            continue;
        }
        // Expression cases are also tried as a select column over events.
        for src in [text.clone(), format!("select {} from events", text.trim())] {
            if std::env::var_os("HOGREF_TRACE").is_some() {
                eprintln!("{}: {src}", path.display());
            }
            // `compile` turns a panic into an error, so call the
            // same-thread entry point on a big-stack thread to see panics as panics.
            let outcome = std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn(move || {
                    let mut ctx = Context::new(420);
                    compile_here(&src, &mut ctx).is_ok()
                })
                .map_err(|e| Failed::from(e.to_string()))?
                .join();
            match outcome {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => panics.push(path.display().to_string()),
            }
        }
    }
    if panics.is_empty() && ok > 0 && err > 0 {
        Ok(())
    } else {
        Err(format!("ok={ok} err={err} panicked on:\n{}", panics.join("\n")).into())
    }
}

fn main() {
    let args = Arguments::from_args();
    let base = repo_root().join("fixtures/hogql/print");
    let mut trials = Vec::new();
    let mut expected = Vec::new();
    let mut problems = Vec::new();
    for kind in ["ok", "err", "gap"] {
        let cases: Vec<PathBuf> = sorted_entries(&base.join(kind))
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
            .collect();
        if cases.is_empty() {
            problems.push(format!("fixtures/hogql/print/{kind}/ has no case"));
        }
        for path in cases {
            let file = path
                .file_stem()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            let name = format!("print__{kind}__{file}");
            expected.push(format!("{name}.snap"));
            let kind = kind.to_owned();
            trials.push(Trial::test(
                format!("fixtures/hogql/print/{kind}/{file}.hogql"),
                move || run_case(&kind, &path, &name),
            ));
        }
    }
    for entry in sorted_entries(&snapshot_dir()) {
        let name = entry
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        if name.starts_with("print__") && name.ends_with(".snap") && !expected.contains(&name) {
            problems.push(format!("tests/snapshots/{name} has no fixture case"));
        }
    }
    let dialect_cases: Vec<PathBuf> = sorted_entries(&repo_root().join("fixtures/hogql/dialect"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
        .collect();
    if dialect_cases.is_empty() {
        problems.push("fixtures/hogql/dialect/ has no case".into());
    }
    for path in dialect_cases {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        trials.push(Trial::test(
            format!("fixtures/hogql/dialect/{file}"),
            move || run_dialect_case(&path),
        ));
    }
    let known_gaps: Vec<PathBuf> = sorted_entries(&repo_root().join("fixtures/hogql/print-gaps"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "hogql"))
        .collect();
    if known_gaps.is_empty() {
        problems.push("fixtures/hogql/print-gaps/ has no case".into());
    }
    for path in known_gaps {
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        trials.push(Trial::test(
            format!("fixtures/hogql/print-gaps/{file}"),
            move || run_known_gap(&path),
        ));
    }
    trials.push(Trial::test(
        "fixtures/hogql/parse: every parse case compiles or fails with an error, never a panic",
        no_panic_on_parse_corpus,
    ));
    trials.push(Trial::test(
        "fixtures/hogql/print: both kinds present, every snapshot has a case",
        move || {
            if problems.is_empty() {
                Ok(())
            } else {
                Err(problems.join("\n").into())
            }
        },
    ));
    libtest_mimic::run(&args, trials).exit();
}
