//! `cargo xtask parity`: Hogref's HogQL parser against PostHog's `hogql-parser-rs`, AST for AST.
//!
//! Two corpora: the fixture cases under `fixtures/hogql/parse/{ok,err}/{select,expr,order_expr}/*.hogql` and
//! the Hog programs under `fixtures/hog/{programs,parse/ok,parse/err}/*.hog` (gated: an unlisted mismatch fails
//! the run), and a few thousand seeded generated queries and programs (reported, not gated). Known divergences
//! live in `fixtures/hogql/parse/divergences.toml` and `fixtures/hog/parse/divergences.toml`, checked lists: a
//! listed case that now agrees fails the run too. Every mismatch is shown minimised (delta debugging) with a short JSON diff.

mod generate;
mod generate_program;
mod minimise;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use hogql_parser::EntryPoint;
use serde::Deserialize;
use serde_json::Value;

use crate::oracle::{self, Backend, Oracle, entry_name, is_error, normalise};
use crate::paths::workspace_root;

#[derive(Debug, Args)]
pub(crate) struct ParityArgs {
    /// Seed of the generated-query corpus.
    #[arg(long, default_value_t = 20_251_125)]
    seed: u64,
    /// How many generated queries to compare (0 for fixtures only).
    #[arg(long, default_value_t = 3000)]
    count: usize,
    /// Only cases whose fixture path (or generated input) contains this text, or whose entry point it names
    /// (`select`, `expr`, `order_expr`, `program`).
    #[arg(long)]
    filter: Option<String>,
    /// Also compare `start`/`end` positions.
    #[arg(long)]
    positions: bool,
    /// For every mismatch, also ask the C++ ANTLR parser (`hogql-parser`, ~8 ms a query) which side it takes.
    #[arg(long)]
    arbiter: bool,
    /// Most generated-query mismatches to show (distinct after minimising); the rest are counted.
    #[arg(long, default_value_t = 25)]
    show: usize,
    /// Write each fixture's normalised oracle result to `NAME.oracle.json` beside it: the expectations the
    /// `hogql-parse` conformance suite compares any implementation with (no Python needed there).
    #[arg(long)]
    bless: bool,
}

/// Where the parse fixtures live, relative to the workspace root.
pub(crate) const FIXTURE_DIR: &str = "fixtures/hogql/parse";
const ENTRIES: &[(&str, EntryPoint)] = &[
    ("select", EntryPoint::Select),
    ("expr", EntryPoint::Expr),
    ("order_expr", EntryPoint::OrderExpr),
    ("program", EntryPoint::Program),
];
/// Where the Hog program cases live, relative to the workspace root: the feature programs
/// (`programs/NAME.hog`, which the oracle must accept) and the parser's own edge cases
/// (`parse/{ok,err}/NAME.hog`), with their checked list `parse/divergences.toml`.
pub(crate) const HOG_DIR: &str = "fixtures/hog";

pub(crate) fn run(args: ParityArgs) -> anyhow::Result<()> {
    let root = workspace_root();
    if !oracle::is_installed() {
        eprintln!("parity: the oracle venv is missing or stale; installing it (first run only)");
    }
    let mut oracle = Oracle::start(args.arbiter)?;
    let versions = oracle.versions()?;
    eprintln!("parity: oracle {versions}");
    let opts = Options {
        positions: args.positions,
        filter: args.filter.clone(),
        arbiter: args.arbiter,
    };
    if args.bless {
        let written = bless(&root, &mut oracle)?;
        println!("parity: wrote {written} oracle expectation(s) under {FIXTURE_DIR}");
        return Ok(());
    }
    let report = fixture_parity(&root, &mut oracle, &opts)?;
    print!("{}", report.render());

    if args.count > 0 {
        let generated = generated_parity(&mut oracle, &args)?;
        print!("{generated}");
    }

    if report.failures.is_empty() {
        println!("parity: fixtures OK (every mismatch is a listed divergence)");
        Ok(())
    } else {
        bail!(
            "parity failed: {} problem(s) in the fixture corpus (see above)",
            report.failures.len()
        )
    }
}

/// Writes `NAME.oracle.json` (normalised, without positions) beside every fixture; returns how many changed.
fn bless(root: &Path, oracle: &mut Oracle) -> anyhow::Result<usize> {
    let mut changed = 0;
    for (id, entry, src) in fixture_cases(root)? {
        let expected = normalise(&oracle.parse(Backend::Rs, entry, &src)?, false);
        let path = root
            .join(FIXTURE_DIR)
            .join(&id)
            .with_extension("oracle.json");
        let text = format!("{}\n", serde_json::to_string_pretty(&expected)?);
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// Comparison options shared by the CLI and the test.
#[derive(Debug, Default)]
pub(crate) struct Options {
    pub(crate) positions: bool,
    pub(crate) filter: Option<String>,
    pub(crate) arbiter: bool,
}

/// One input to compare.
#[derive(Debug, Clone)]
struct Case {
    /// `ok/select/0001_x.hogql`, or `divergences.toml: <input>` for an input-only divergence.
    id: String,
    entry: EntryPoint,
    src: String,
    /// `Some(true)` for `ok/`, `Some(false)` for `err/`: what the oracle must say.
    expect_ok: Option<bool>,
}

/// The fixture cases, sorted by path.
pub(crate) fn fixture_cases(root: &Path) -> anyhow::Result<Vec<(String, EntryPoint, String)>> {
    let mut out = Vec::new();
    for kind in ["ok", "err"] {
        for (name, entry) in ENTRIES {
            let dir = root.join(FIXTURE_DIR).join(kind).join(name);
            let Ok(read) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = read
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "hogql"))
                .collect();
            files.sort();
            for file in files {
                let src = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                let id = format!(
                    "{kind}/{name}/{}",
                    file.file_name().unwrap_or_default().to_string_lossy()
                );
                out.push((id, *entry, src));
            }
        }
    }
    Ok(out)
}

/// One entry of `divergences.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Divergence {
    /// A fixture path relative to `fixtures/hogql/parse`.
    case: Option<String>,
    /// Or an exact input (compared as its own case).
    input: Option<String>,
    /// The entry point of `input` (`select`, `expr`, `order_expr`); `select` when absent.
    entry: Option<String>,
    /// Only a divergence when positions are compared.
    #[serde(default)]
    positions_only: bool,
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DivergenceFile {
    #[serde(default)]
    divergence: Vec<Divergence>,
}

/// The Hog program cases: `hog/programs/NAME.hog` and `hog/parse/{ok,err}/NAME.hog`, sorted by path.
pub(crate) fn program_cases(root: &Path) -> anyhow::Result<Vec<(String, EntryPoint, String)>> {
    let mut out = Vec::new();
    for folder in ["programs", "parse/ok", "parse/err"] {
        let dir = root.join(HOG_DIR).join(folder);
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = read
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "hog"))
            .collect();
        files.sort();
        for file in files {
            let src = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let id = format!(
                "hog/{folder}/{}",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            out.push((id, EntryPoint::Program, src));
        }
    }
    Ok(out)
}

/// The divergences listed in `dir/divergences.toml` (none when it is absent).
fn load_divergences(dir: &Path) -> anyhow::Result<Vec<Divergence>> {
    let path = dir.join("divergences.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(Vec::new());
    };
    let file: DivergenceFile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for d in &file.divergence {
        if d.case.is_some() == d.input.is_some() {
            bail!(
                "{}: each divergence names exactly one of `case` or `input` (reason: {})",
                path.display(),
                d.reason
            );
        }
        if d.reason.trim().is_empty() {
            bail!("{}: a divergence without a reason", path.display());
        }
    }
    Ok(file.divergence)
}

fn entry_from_name(name: &str) -> Option<EntryPoint> {
    ENTRIES.iter().find(|(n, _)| *n == name).map(|(_, e)| *e)
}

/// The result of comparing the fixture corpus.
#[derive(Debug, Default)]
pub(crate) struct FixtureReport {
    pub(crate) total: usize,
    pub(crate) agree: usize,
    /// Mismatches that are listed divergences: (case id, reason).
    pub(crate) known: Vec<(String, String)>,
    /// Everything that fails the run, one rendered block each.
    pub(crate) failures: Vec<String>,
    /// Cases per construct group (the word after the number in the file name).
    pub(crate) groups: BTreeMap<String, usize>,
}

impl FixtureReport {
    fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== fixtures ({FIXTURE_DIR}) ==");
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|(g, n)| format!("{g} {n}"))
            .collect();
        let _ = writeln!(s, "cases per group: {}", groups.join(", "));
        for f in &self.failures {
            let _ = writeln!(s, "{f}");
        }
        if !self.known.is_empty() {
            let _ = writeln!(s, "known divergences ({}):", self.known.len());
            for (id, reason) in &self.known {
                let _ = writeln!(s, "  {id}: {reason}");
            }
        }
        let _ = writeln!(
            s,
            "fixture parity: {}/{} agree ({:.1}%), {} known divergence(s), {} failure(s)",
            self.agree,
            self.total,
            percent(self.agree, self.total),
            self.known.len(),
            self.failures.len()
        );
        s
    }
}

fn percent(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

/// Compares every fixture (and every input-only divergence) with the oracle. `failures` is empty when the
/// corpus is in parity up to the listed divergences. A test can call this when the oracle venv exists.
pub(crate) fn fixture_parity(
    root: &Path,
    oracle: &mut Oracle,
    opts: &Options,
) -> anyhow::Result<FixtureReport> {
    let mut divergences = load_divergences(&root.join(FIXTURE_DIR))?;
    divergences.extend(load_divergences(&root.join(HOG_DIR).join("parse"))?);
    let mut cases: Vec<Case> = fixture_cases(root)?
        .into_iter()
        .chain(program_cases(root)?)
        .map(|(id, entry, src)| Case {
            expect_ok: Some(
                id.starts_with("ok/")
                    || id.starts_with("hog/programs/")
                    || id.starts_with("hog/parse/ok/"),
            ),
            id,
            entry,
            src,
        })
        .collect();
    let mut report = FixtureReport::default();
    let known_ids: BTreeSet<String> = cases.iter().map(|c| c.id.clone()).collect();
    let mut listed: BTreeMap<String, &Divergence> = BTreeMap::new();
    for d in &divergences {
        if d.positions_only && !opts.positions {
            continue;
        }
        if let Some(case) = &d.case {
            if !known_ids.contains(case) {
                report.failures.push(format!(
                    "STALE divergences.toml names a case that does not exist: {case}"
                ));
            }
            listed.insert(case.clone(), d);
        } else if let Some(input) = &d.input {
            let entry_name = d.entry.as_deref().unwrap_or("select");
            let Some(entry) = entry_from_name(entry_name) else {
                bail!("divergences.toml: unknown entry `{entry_name}`");
            };
            let id = format!("divergences.toml [{entry_name}] {input:?}");
            listed.insert(id.clone(), d);
            cases.push(Case {
                id,
                entry,
                src: input.clone(),
                expect_ok: None,
            });
        }
    }
    // Input-only divergences also cover a fixture with the same input and entry.
    let by_input: BTreeMap<(&'static str, String), String> = cases
        .iter()
        .filter(|c| c.id.starts_with("divergences.toml"))
        .map(|c| ((entry_name(c.entry), c.src.clone()), c.id.clone()))
        .collect();

    for case in &cases {
        if let Some(f) = &opts.filter
            && !case.id.contains(f.as_str())
            && !case.src.contains(f.as_str())
            && entry_name(case.entry) != f
        {
            continue;
        }
        if case.expect_ok.is_some() {
            report.total += 1;
            *report.groups.entry(group_of(&case.id)).or_default() += 1;
        }
        let theirs = oracle.parse(Backend::Rs, case.entry, &case.src)?;
        if let Some(expect_ok) = case.expect_ok
            && expect_ok == is_error(&theirs)
        {
            report.failures.push(format!(
                "MISFILED {}: the oracle {} it ({}); ok/ holds exactly the inputs the oracle accepts",
                case.id,
                if expect_ok { "rejects" } else { "accepts" },
                short(&theirs, 160)
            ));
        }
        let ours = hogref_parse(&case.id, case.entry, &case.src, opts.positions);
        let agree = normalise(&ours, opts.positions) == normalise(&theirs, opts.positions);
        let listed_as = listed.get(&case.id).copied().or_else(|| {
            by_input
                .get(&(entry_name(case.entry), case.src.clone()))
                .and_then(|id| listed.get(id).copied())
        });
        match (agree, listed_as) {
            (true, None) => {
                if case.expect_ok.is_some() {
                    report.agree += 1;
                }
            }
            (true, Some(d)) => {
                if case.expect_ok.is_some() {
                    report.agree += 1;
                }
                report.failures.push(format!(
                    "STALE {}: listed as a divergence ({}) but now agrees with the oracle; remove it from divergences.toml",
                    case.id, d.reason
                ));
            }
            (false, Some(d)) => report.known.push((case.id.clone(), d.reason.clone())),
            (false, None) => {
                let block = explain(oracle, case, &ours, &theirs, opts)?;
                report.failures.push(format!("MISMATCH {block}"));
            }
        }
    }
    Ok(report)
}

/// The construct group of a fixture: `ok/select/0012_join_left.hogql` → `join`.
fn group_of(id: &str) -> String {
    let file = id.rsplit('/').next().unwrap_or(id);
    file.split('_').nth(1).unwrap_or("?").to_string()
}

/// How long one parse by Hogref may take before it is reported as a `Timeout` (debug builds are slow; a parse that
/// takes this long is a performance bug either way).
const PARSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Hogref's parse, on its own thread named after the case (a stack overflow, which aborts the process, then names
/// the input that caused it). A panic becomes an error envelope of type `Panic`, and a parse that outlives
/// [`PARSE_TIMEOUT`] one of type `Timeout` (its thread is left to finish on its own): bugs either way.
fn hogref_parse(label: &str, entry: EntryPoint, src: &str, positions: bool) -> Value {
    let (tx, rx) = std::sync::mpsc::channel();
    let owned = src.to_string();
    let spawned = std::thread::Builder::new()
        .name(format!("hogref parse of {}", short_str(label, 120)))
        .stack_size(8 << 20)
        .spawn(move || {
            let _quiet = QuietPanics::install();
            let result =
                std::panic::catch_unwind(|| hogql_parser::parse_json(entry, &owned, positions));
            let _ = tx.send(result.map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "non-string panic".to_string())
            }));
        });
    if let Err(e) = spawned {
        return serde_json::json!({"error": true, "type": "HarnessError", "message": e.to_string()});
    }
    match rx.recv_timeout(PARSE_TIMEOUT) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => serde_json::json!({"error": true, "type": "Panic", "message": msg}),
        Err(_) => serde_json::json!({
            "error": true,
            "type": "Timeout",
            "message": format!("no result after {} s", PARSE_TIMEOUT.as_secs()),
        }),
    }
}

thread_local! {
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Silences panic messages on this thread while Hogref's parser runs on thousands of inputs (a panic is reported
/// as a result instead); other threads (e.g. other tests) keep the usual hook.
struct QuietPanics;

impl QuietPanics {
    fn install() -> QuietPanics {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(std::cell::Cell::get) {
                    previous(info);
                }
            }));
        });
        QUIET.with(|q| q.set(true));
        QuietPanics
    }
}

impl Drop for QuietPanics {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(false));
    }
}

fn is_timeout(v: &Value) -> bool {
    is_error(v) && v.get("type").and_then(Value::as_str) == Some("Timeout")
}

/// What kind of mismatch: which sides accept, and the error types. Shrinking keeps this fixed.
fn mismatch_kind(ours: &Value, theirs: &Value) -> String {
    let side = |v: &Value| {
        if is_error(v) {
            format!(
                "rejects ({})",
                v.get("type").and_then(Value::as_str).unwrap_or("?")
            )
        } else {
            "accepts".to_string()
        }
    };
    format!("hogref {}, oracle {}", side(ours), side(theirs))
}

/// The rendered explanation of one mismatch: the kind, the minimised input, a short diff, and the arbiter's
/// verdict when asked.
fn explain(
    oracle: &mut Oracle,
    case: &Case,
    ours: &Value,
    theirs: &Value,
    opts: &Options,
) -> anyhow::Result<String> {
    let kind = mismatch_kind(ours, theirs);
    let (min_src, min_ours, min_theirs) = if is_timeout(ours) {
        (case.src.clone(), ours.clone(), theirs.clone())
    } else {
        shrink(oracle, case.entry, &case.src, &kind, opts.positions)?
    };
    let mut s = String::new();
    let _ = writeln!(s, "{} [{}]: {kind}", case.id, entry_name(case.entry));
    let _ = writeln!(s, "    input:     {}", short_str(&case.src, 200));
    if min_src != case.src {
        let _ = writeln!(s, "    minimised: {min_src:?}");
    }
    for line in diff(
        &normalise(&min_ours, opts.positions),
        &normalise(&min_theirs, opts.positions),
        6,
    ) {
        let _ = writeln!(s, "    {line}");
    }
    if is_error(&min_ours) {
        let _ = writeln!(s, "    hogref says: {}", short(&min_ours, 200));
    }
    if is_error(&min_theirs) {
        let _ = writeln!(s, "    oracle says: {}", short(&min_theirs, 200));
    }
    if opts.arbiter {
        let cpp = oracle.parse(Backend::Cpp, case.entry, &case.src)?;
        let cpp_n = normalise(&cpp, opts.positions);
        let verdict = if cpp_n == normalise(ours, opts.positions) {
            "C++ agrees with hogref"
        } else if cpp_n == normalise(theirs, opts.positions) {
            "C++ agrees with hogql-parser-rs"
        } else {
            "C++ agrees with neither"
        };
        let _ = writeln!(s, "    arbiter: {verdict}");
    }
    Ok(s.trim_end().to_string())
}

/// Delta-debugs `src` while the mismatch keeps its kind; returns the small input and both results for it.
fn shrink(
    oracle: &mut Oracle,
    entry: EntryPoint,
    src: &str,
    kind: &str,
    positions: bool,
) -> anyhow::Result<(String, Value, Value)> {
    let mut failure: Option<anyhow::Error> = None;
    let small = minimise::minimise(src, 4000, |candidate| {
        if failure.is_some() {
            return false;
        }
        let theirs = match oracle.parse(Backend::Rs, entry, candidate) {
            Ok(v) => v,
            Err(e) => {
                failure = Some(e);
                return false;
            }
        };
        let ours = hogref_parse(candidate, entry, candidate, positions);
        if is_timeout(&ours) {
            // Every further try could cost a timeout too: stop shrinking here.
            failure = Some(anyhow::anyhow!(
                "hogref timed out while minimising {candidate:?}"
            ));
            return false;
        }
        normalise(&ours, positions) != normalise(&theirs, positions)
            && mismatch_kind(&ours, &theirs) == kind
    });
    if let Some(e) = failure {
        if !e.to_string().starts_with("hogref timed out") {
            return Err(e);
        }
        eprintln!("parity: {e}; showing the unminimised input");
        let theirs = oracle.parse(Backend::Rs, entry, src)?;
        let ours = hogref_parse(src, entry, src, positions);
        return Ok((src.to_string(), ours, theirs));
    }
    let theirs = oracle.parse(Backend::Rs, entry, &small)?;
    let ours = hogref_parse(&small, entry, &small, positions);
    Ok((small, ours, theirs))
}

/// Up to `max` lines `path: hogref … | oracle …` where the two normalised values differ.
fn diff(ours: &Value, theirs: &Value, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    diff_into("$", ours, theirs, &mut out);
    let extra = out.len().saturating_sub(max);
    out.truncate(max);
    if extra > 0 {
        out.push(format!("… and {extra} more difference(s)"));
    }
    out
}

fn diff_into(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if a == b {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.get("node") == y.get("node") => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let null = Value::Null;
                diff_into(
                    &format!("{path}.{k}"),
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_into(&format!("{path}[{i}]"), p, q, out);
            }
        }
        _ => out.push(format!(
            "{path}: hogref {} | oracle {}",
            short(a, 100),
            short(b, 100)
        )),
    }
}

fn short(v: &Value, max: usize) -> String {
    if v.is_null() {
        return "(absent)".to_string();
    }
    short_str(&v.to_string(), max)
}

fn short_str(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}… ({} chars)", s.chars().count())
    }
}

/// Compares the generated corpus; returns the rendered report (never fails the run).
fn generated_parity(oracle: &mut Oracle, args: &ParityArgs) -> anyhow::Result<String> {
    let mut cases = generate::generate(args.seed, args.count);
    cases.extend(generate_program::generate(args.seed, args.count / 5));
    let mut total = 0usize;
    let mut agree = 0usize;
    let mut both_ok = 0usize;
    let mut both_err = 0usize;
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    let mut not_shown = 0usize;
    for (i, g) in cases.iter().enumerate() {
        if let Some(f) = &args.filter
            && !g.src.contains(f.as_str())
            && entry_name(g.entry) != f
        {
            continue;
        }
        total += 1;
        let theirs = oracle.parse(Backend::Rs, g.entry, &g.src)?;
        let ours = hogref_parse(&format!("generated #{i}"), g.entry, &g.src, args.positions);
        if normalise(&ours, args.positions) == normalise(&theirs, args.positions) {
            agree += 1;
            if is_error(&theirs) {
                both_err += 1;
            } else {
                both_ok += 1;
            }
            continue;
        }
        let kind = mismatch_kind(&ours, &theirs);
        *kinds.entry(kind.clone()).or_default() += 1;
        if shown.len() >= args.show {
            not_shown += 1;
            continue;
        }
        let (min_src, min_ours, min_theirs) = if is_timeout(&ours) {
            (g.src.clone(), ours.clone(), theirs.clone())
        } else {
            shrink(oracle, g.entry, &g.src, &kind, args.positions)?
        };
        let key = format!("{}\u{0}{min_src}", entry_name(g.entry));
        if shown.contains_key(&key) {
            continue;
        }
        let mut s = String::new();
        let _ = writeln!(
            s,
            "  #{i} [{}{}]: {kind}\n    minimised: {min_src:?}",
            entry_name(g.entry),
            if g.mutated { ", mutated" } else { "" }
        );
        for line in diff(
            &normalise(&min_ours, args.positions),
            &normalise(&min_theirs, args.positions),
            4,
        ) {
            let _ = writeln!(s, "    {line}");
        }
        shown.insert(key, s);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "== generated queries (seed {}, count {}) ==",
        args.seed, args.count
    );
    if !shown.is_empty() {
        let _ = writeln!(
            s,
            "distinct minimised mismatches (up to --show {}):",
            args.show
        );
        for block in shown.values() {
            s.push_str(block);
        }
        if not_shown > 0 {
            let _ = writeln!(s, "  … and {not_shown} more mismatch(es) not minimised");
        }
    }
    for (kind, n) in &kinds {
        let _ = writeln!(s, "  mismatch kind: {kind}: {n}");
    }
    let _ = writeln!(
        s,
        "generated parity: {agree}/{total} agree ({:.1}%; both accept and equal {both_ok}, both reject {both_err}) [reported, not gated]",
        percent(agree, total)
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_is_the_word_after_the_number() {
        assert_eq!(group_of("ok/select/0012_join_left.hogql"), "join");
        assert_eq!(group_of("err/expr/0001_err_empty.hogql"), "err");
    }

    #[test]
    fn diff_points_at_the_differing_leaf() {
        let a = serde_json::json!({"node": "Constant", "value": 1});
        let b = serde_json::json!({"node": "Constant", "value": 2});
        assert_eq!(diff(&a, &b, 5), vec!["$.value: hogref 1 | oracle 2"]);
    }

    #[test]
    fn every_fixture_sits_in_a_known_folder_and_divergences_parse() {
        let root = workspace_root();
        let cases = fixture_cases(&root).unwrap();
        assert!(cases.len() >= 250, "only {} parse fixtures", cases.len());
        load_divergences(&root.join(FIXTURE_DIR)).unwrap();
        let programs = program_cases(&root).unwrap();
        assert!(programs.len() >= 20, "only {} Hog programs", programs.len());
        load_divergences(&root.join(HOG_DIR).join("parse")).unwrap();
    }

    /// The gate `cargo xtask parity` applies to the fixtures, as a test. `cargo xtask test` installs the oracle
    /// and sets `HOGREF_REQUIRE_ORACLE`, so there a missing oracle fails; a plain `cargo test` without the venv
    /// says why it did nothing.
    #[test]
    fn fixtures_agree_with_the_oracle_up_to_listed_divergences() {
        assert!(
            oracle::is_installed() || std::env::var_os("HOGREF_REQUIRE_ORACLE").is_none(),
            "HOGREF_REQUIRE_ORACLE is set but the oracle venv {} is missing",
            oracle::venv_dir().display()
        );
        if !oracle::is_installed() {
            eprintln!(
                "oracle venv {} missing: run `cargo xtask parity` once to install it",
                oracle::venv_dir().display()
            );
            return;
        }
        let mut oracle = Oracle::start(false).unwrap();
        let report = fixture_parity(&workspace_root(), &mut oracle, &Options::default()).unwrap();
        assert!(report.failures.is_empty(), "{}", report.render());
    }
}
