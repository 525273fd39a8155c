//! The differential harness against PostHog's own VM (`@posthog/hogvm` from npm, installed by
//! `cargo xtask test` into `$HOGREF_CACHE/hogvm-oracle`, driven by `xtask/hogvm-oracle/driver.js`).
//!
//! 1. Every case under `fixtures/hog/bytecode/`, and every program under `fixtures/hog/programs/` compiled
//!    by hog-compiler (so PostHog's VM runs Hogref's compiler output), runs on the oracle; its outcome must equal the recorded
//!    `fixtures/hog/expected/NAME.json` (`HOGREF_BLESS=1` rewrites them), so the hermetic fixture test
//!    checks Hogref against what PostHog's VM really does.
//! 2. Generated programs (well-formed, stack-balanced) run on both VMs, batched through one Node process;
//!    printed output, result and error must agree.
//!
//! Without the oracle the test says so and passes, unless `HOGREF_REQUIRE_ORACLE=1` (set by
//! `cargo xtask test`), where it fails.

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value as Json, json};

struct Oracle {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    fn start() -> Option<Self> {
        let cache = std::env::var_os("HOGREF_CACHE")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hogref")))?;
        let modules = cache.join("hogvm-oracle/node_modules");
        if !modules.join("@posthog/hogvm/package.json").is_file() {
            return None;
        }
        let driver = common::root().join("xtask/hogvm-oracle/driver.js");
        let mut child = Command::new("node")
            .arg(driver)
            .env("NODE_PATH", &modules)
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let stdin = child.stdin.take()?;
        let stdout = BufReader::new(child.stdout.take()?);
        Some(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// Runs cases in one batch (all lines written, then all answers read).
    fn run_batch(&mut self, cases: &[Json]) -> anyhow::Result<Vec<Json>> {
        let mut input = String::new();
        for c in cases {
            input.push_str(&serde_json::to_string(c)?);
            input.push('\n');
        }
        // Write from a thread: the driver answers while we write, and both pipes have finite buffers.
        let mut stdin = self.stdin.try_clone_for_thread()?;
        let writer = std::thread::spawn(move || {
            stdin
                .write_all(input.as_bytes())
                .and_then(|()| stdin.flush())
        });
        let mut out = Vec::with_capacity(cases.len());
        for _ in cases {
            let mut line = String::new();
            anyhow::ensure!(
                self.stdout.read_line(&mut line)? > 0,
                "the oracle driver stopped answering"
            );
            out.push(serde_json::from_str(&line)?);
        }
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer thread panicked"))??;
        Ok(out)
    }
}

trait CloneForThread {
    fn try_clone_for_thread(&mut self) -> anyhow::Result<std::fs::File>;
}

impl CloneForThread for ChildStdin {
    fn try_clone_for_thread(&mut self) -> anyhow::Result<std::fs::File> {
        use std::os::fd::AsFd as _;
        Ok(std::fs::File::from(self.as_fd().try_clone_to_owned()?))
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oracle_or_skip() -> Option<Oracle> {
    match Oracle::start() {
        Some(o) => Some(o),
        None => {
            assert!(
                std::env::var("HOGREF_REQUIRE_ORACLE").as_deref() != Ok("1"),
                "the HogVM oracle (@posthog/hogvm) is not installed; `cargo xtask test` installs it"
            );
            eprintln!(
                "hogvm oracle: not installed (run through `cargo xtask test`); skipping the differential test"
            );
            None
        }
    }
}

#[test]
fn recorded_outcomes_are_posthogs() -> anyhow::Result<()> {
    let Some(mut oracle) = oracle_or_skip() else {
        return Ok(());
    };
    let cases = common::cases()?;
    let inputs: Vec<Json> = cases.iter().map(|(_, c)| c.clone()).collect();
    let answers = oracle.run_batch(&inputs)?;
    let bless = std::env::var("HOGREF_BLESS").as_deref() == Ok("1");
    let divergences = common::divergences()?;
    let mut failures = Vec::new();
    for ((name, case), answer) in cases.iter().zip(&answers) {
        let answer = &normalise(answer.clone());
        let path = common::expected_dir().join(format!("{name}.json"));
        let text = serde_json::to_string_pretty(answer)? + "\n";
        if bless {
            std::fs::write(&path, &text)?;
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            failures.push(format!(
                "{}: recorded outcome is not the oracle's; got {answer}",
                path.display()
            ));
        }
        let listed = divergences.contains_key(name);
        match (common::compare(answer, &common::run_hogref(case)), listed) {
            (Err(diff), false) => failures.push(format!("{}:\n{diff}", common::source(case))),
            (Ok(()), true) => failures.push(format!(
                "{} matches now: unlist {name}",
                common::source(case)
            )),
            _ => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    Ok(())
}

/// The recorded outcome keeps nothing that changes from run to run: a timeout's operation count goes.
fn normalise(mut answer: Json) -> Json {
    if let Some(m) = answer["error"]["message"].as_str()
        && m.starts_with("Execution timed out after")
        && let Some(i) = m.find(" Performed ")
    {
        answer["error"]["message"] = json!(format!("{} Performed <n> ops.", &m[..i]));
    }
    answer
}

/// A generated program: a sequence of statements over a few locals that keeps the stack balanced.
#[derive(Clone, Debug)]
enum Expr {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
    Local(i64),
    Bin(i64, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Array(Vec<Expr>),
    Tuple(Vec<Expr>),
    Dict(Vec<(Expr, Expr)>),
    Get(Box<Expr>, Box<Expr>),
    Call(&'static str, Vec<Expr>),
}

const LOCALS: i64 = 3;

const FUNCTIONS: &[(&str, usize)] = &[
    ("toString", 1),
    ("typeof", 1),
    ("concat", 2),
    ("empty", 1),
    ("jsonStringify", 1),
    ("keys", 1),
    ("values", 1),
    ("has", 2),
    ("indexOf", 2),
    ("arrayPushBack", 2),
    ("arraySort", 1),
    ("arrayReverse", 1),
    ("toInt", 1),
    ("toFloat", 1),
    ("ifNull", 2),
    ("coalesce", 2),
    ("floor", 1),
    ("round", 1),
    ("plus", 2),
    ("min2", 2),
    ("equals", 2),
    ("greater", 2),
    ("tuple", 2),
    ("lower", 1),
    ("substring", 3),
    ("position", 2),
    ("replaceAll", 3),
    ("splitByString", 2),
    ("trim", 1),
    ("arrayStringConcat", 2),
    ("md5Hex", 1),
    ("sha256Hex", 1),
    ("base64Encode", 1),
    ("encodeURLComponent", 1),
    ("notEmpty", 1),
];

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        (-20i64..20).prop_map(Expr::Int),
        prop_oneof![Just(0.5), Just(-1.25), Just(1e21), Just(3.0), Just(0.1)].prop_map(Expr::Float),
        prop_oneof![
            Just(""),
            Just("a"),
            Just("hello"),
            Just("12"),
            Just("x,y"),
            Just("it's"),
            Just("Ünï")
        ]
        .prop_map(|s| Expr::Str(s.to_string())),
        any::<bool>().prop_map(Expr::Bool),
        Just(Expr::Null),
        (0..LOCALS).prop_map(Expr::Local),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![(6i64..=16), Just(21), Just(22)],
                inner.clone(),
                inner.clone()
            )
                .prop_map(|(op, a, b)| Expr::Bin(op, Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Expr::Not(Box::new(a))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Expr::Array),
            prop::collection::vec(inner.clone(), 0..3).prop_map(Expr::Tuple),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Expr::Dict),
            (
                inner.clone(),
                prop_oneof![(-3i64..4).prop_map(Expr::Int), Just(Expr::Str("a".into()))]
            )
                .prop_map(|(a, k)| Expr::Get(Box::new(a), Box::new(k))),
            (
                prop::sample::select(FUNCTIONS),
                prop::collection::vec(inner, 3)
            )
                .prop_map(|((name, n), args)| Expr::Call(name, args.into_iter().take(n).collect())),
        ]
    })
}

fn emit(e: &Expr, out: &mut Vec<Json>) {
    match e {
        Expr::Int(i) => out.extend([json!(33), json!(i)]),
        Expr::Float(f) => out.extend([json!(34), json!(f)]),
        Expr::Str(s) => out.extend([json!(32), json!(s)]),
        Expr::Bool(b) => out.push(json!(if *b { 29 } else { 30 })),
        Expr::Null => out.push(json!(31)),
        Expr::Local(i) => out.extend([json!(36), json!(i)]),
        Expr::Bin(op, a, b) => {
            emit(b, out);
            emit(a, out);
            out.push(json!(op));
        }
        Expr::Not(a) => {
            emit(a, out);
            out.push(json!(5));
        }
        Expr::Array(items) | Expr::Tuple(items) => {
            for i in items {
                emit(i, out);
            }
            out.extend([
                json!(if matches!(e, Expr::Array(_)) { 43 } else { 44 }),
                json!(items.len()),
            ]);
        }
        Expr::Dict(pairs) => {
            for (k, v) in pairs {
                emit(k, out);
                emit(v, out);
            }
            out.extend([json!(42), json!(pairs.len())]);
        }
        Expr::Get(a, k) => {
            emit(a, out);
            emit(k, out);
            out.push(json!(48));
        }
        Expr::Call(name, args) => {
            for a in args {
                emit(a, out);
            }
            out.extend([json!(2), json!(name), json!(args.len())]);
        }
    }
}

/// Statements: `local[i] = expr` or `print(expr)`; then return a local.
fn program() -> impl Strategy<Value = Vec<Json>> {
    let stmt = (0..=LOCALS, expr());
    prop::collection::vec(stmt, 1..6).prop_map(|stmts| {
        let mut out = vec![json!("_H"), json!(1)];
        for i in 0..LOCALS {
            out.extend([json!(33), json!(i)]);
        }
        for (target, e) in &stmts {
            emit(e, &mut out);
            if *target == LOCALS {
                out.extend([json!(2), json!("print"), json!(1), json!(35)]);
            } else {
                out.extend([json!(37), json!(target)]);
            }
        }
        out.extend([json!(36), json!(0), json!(38)]);
        out
    })
}

#[test]
fn generated_programs_agree_with_posthogs_vm() -> anyhow::Result<()> {
    let Some(mut oracle) = oracle_or_skip() else {
        return Ok(());
    };
    let cases: u32 = std::env::var("HOGVM_ORACLE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = program();
    let mut programs = Vec::new();
    for _ in 0..cases {
        let tree = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        programs.push(json!({ "bytecode": proptest::strategy::ValueTree::current(&tree) }));
    }
    let answers = oracle.run_batch(&programs)?;
    let errors = answers.iter().filter(|a| !a["error"].is_null()).count();
    let printed: usize = answers
        .iter()
        .map(|a| a["stdout"].as_array().map_or(0, Vec::len))
        .sum();
    eprintln!(
        "hogvm oracle: {} generated programs, {errors} ended in an error, {printed} lines printed",
        programs.len()
    );
    if let Some(a) = answers
        .iter()
        .find(|a| a["error"].is_null() && a["stdout"].as_array().is_some_and(|l| !l.is_empty()))
    {
        eprintln!("hogvm oracle: e.g. {a}");
    }
    let mut failures = Vec::new();
    for (case, answer) in programs.iter().zip(&answers) {
        if let Err(diff) = common::compare(answer, &common::run_hogref(case)) {
            failures.push(format!("{}\n{diff}", case["bytecode"]));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} generated programs differ from PostHog's VM; the first ones:\n{}",
        failures.len(),
        programs.len(),
        failures
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    Ok(())
}
