//! One trial per printer fixture under `fixtures/hogql/print/{ok,err}/NNNN_name.hogql`.
//!
//! A case is HogQL text after header lines, read by the one case reader
//! `conformance::print_case` (which the conformance suites and the execution scenario use too):
//! `-- config: {json}` (team 420, UTC, no modifiers, the default limit context and no SETTINGS
//! suffix unless it says otherwise, like PostHog's printer tests; `"materialized"` adds
//! materialized event properties; an unknown key fails with the file and line), `-- expect: <sql>`
//! (the exact SQL, from the spec or PostHog's tests), `-- expect-contains: <sql>` (repeatable) and
//! `-- expect-error: <text>` (for `err/` cases, a piece of the message). Where a case's
//! expectation comes from is noted in `fixtures/hogql/print/SOURCES.md`.
//!
//! `-- expect-hogql: <hogql>` / `-- expect-hogql-pretty: <hogql>` (`\n` for a line break) give, for the
//! HogQL dialect cases under `fixtures/hogql/dialect/`, the query as PostHog's
//! `print_ast(..., dialect="hogql")` prints it, compact or pretty (`-- source:` names the test).
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

use conformance::print_case::{self, PrintCase};
use hogql_compiler::compile::{compile_here, print_hogql_dialect};
use hogql_compiler::context::ParamValue;
use hogql_compiler::schema::PropertySource;
use hogql_compiler::{Context, LimitContext, Modifiers, compile};
use libtest_mimic::{Arguments, Failed, Trial};

/// The compiler context a case's config asks for; a modifier or limit context the compiler does
/// not read fails with the case's file and config line.
fn context(path: &Path, case: &PrintCase) -> Result<Context, Failed> {
    let at = || format!("{}:{}", path.display(), case.config_line.unwrap_or(1));
    let config = &case.config;
    let mut ctx = Context::new(config.team_id);
    ctx.timezone = config.timezone.clone();
    if let Some(modifiers) = &config.modifiers {
        ctx.modifiers = serde_json::from_value::<Modifiers>(modifiers.clone())
            .map_err(|e| format!("{}: bad modifiers: {e}", at()))?;
    }
    if let Some(limit_context) = &config.limit_context {
        ctx.limit_context = serde_json::from_value::<LimitContext>(limit_context.as_str().into())
            .map_err(|e| format!("{}: bad limit_context: {e}", at()))?;
    }
    ctx.global_settings = config.settings;
    for m in &config.materialized {
        ctx.materialized
            .materialize(PropertySource::Event, &m.property, m.nullable);
    }
    Ok(ctx)
}

fn repo_root() -> PathBuf {
    conformance::paths::workspace_root()
}

fn snapshot_dir() -> PathBuf {
    conformance::paths::workspace_root().join("reference/hogql-compiler/tests/snapshots")
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

/// A HogQL dialect case: the query compiles, and prints in the HogQL dialect as expected
/// (compact and/or pretty; at least one expectation).
fn run_dialect_case(path: &Path) -> Result<(), Failed> {
    let case = print_case::read(path).map_err(|e| Failed::from(e.to_string()))?;
    if case.expect_hogql.is_none() && case.expect_hogql_pretty.is_none() {
        return Err("a dialect case needs `-- expect-hogql:` or `-- expect-hogql-pretty:`".into());
    }
    for (pretty, expected) in [
        (false, &case.expect_hogql),
        (true, &case.expect_hogql_pretty),
    ] {
        let Some(expected) = expected else { continue };
        let ctx = context(path, &case)?;
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
        let mut ctx = context(path, &case)?;
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
    let case = print_case::read(path).map_err(|e| Failed::from(e.to_string()))?;
    if case.gap.is_none() {
        return Err("a print-gaps case needs a `-- gap: <reason>` line".into());
    }
    if case.expect.is_none() && case.expect_contains.is_empty() && case.expect_error.is_none() {
        return Err("a print-gaps case needs PostHog's expectation".into());
    }
    let mut ctx = context(path, &case)?;
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
    let case = print_case::read(path).map_err(|e| Failed::from(e.to_string()))?;
    let mut ctx = context(path, &case)?;
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
    let mut trials = Vec::new();
    let mut expected = Vec::new();
    let mut problems = Vec::new();
    for kind in print_case::KINDS {
        let cases = print_case::cases(&repo_root(), kind);
        if cases.is_empty() {
            problems.push(format!("fixtures/hogql/print/{kind}/ has no case"));
        }
        for path in cases {
            let file = print_case::name(&path);
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
    problems.extend(print_case::duplicate_numbers(&repo_root()));
    trials.push(Trial::test(
        "fixtures/hogql/print: every kind present, numbers unique per folder, every snapshot has a case",
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
