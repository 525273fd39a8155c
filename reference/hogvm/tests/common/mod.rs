//! What the fixture and oracle tests share: the cases (bytecode fixtures, and the Hog fixture programs
//! compiled by hog-compiler), running a case on Hogref's VM in the oracle driver's shape
//! (`{stdout, result, error}`), comparing two such outcomes, and the checked list of divergences.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hogvm::{Error, Options, Program};
use serde_json::{Value as Json, json};

/// The host async functions the oracle driver knows (`xtask/hogvm-oracle/driver.js`).
pub const ASYNC_FUNCTIONS: &[&str] = &["fetch", "postHogCapture", "asyncEcho"];

pub fn root() -> PathBuf {
    conformance::paths::workspace_root()
}

pub fn bytecode_dir() -> PathBuf {
    root().join("fixtures/hog/bytecode")
}

pub fn expected_dir() -> PathBuf {
    root().join("fixtures/hog/expected")
}

pub fn programs_dir() -> PathBuf {
    root().join("fixtures/hog/programs")
}

/// The files under `dir` whose name ends with `suffix`, as (stem, path), sorted.
fn files(dir: &Path, suffix: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if let Some(stem) = name.strip_suffix(suffix)
            && !stem.contains('.')
        {
            out.push((stem.to_string(), path));
        }
    }
    out.sort();
    Ok(out)
}

/// Every case: (name, case JSON), sorted by name. A case is `{bytecode, globals?, timeout_ms?, source}`,
/// `source` naming its file: the bytecode cases of `fixtures/hog/bytecode/NAME.json`, and every Hog
/// program `fixtures/hog/programs/NAME.hog` compiled by hog-compiler, as case `program_NAME`.
pub fn cases() -> anyhow::Result<Vec<(String, Json)>> {
    let mut out = Vec::new();
    for (name, path) in files(&bytecode_dir(), ".json")? {
        let text = std::fs::read_to_string(&path)?;
        let mut case: Json = serde_json::from_str(&text)?;
        case["source"] = json!(format!("fixtures/hog/bytecode/{name}.json"));
        out.push((name, case));
    }
    let programs = files(&programs_dir(), ".hog")?;
    anyhow::ensure!(
        !programs.is_empty(),
        "no programs under {}",
        programs_dir().display()
    );
    for (name, path) in programs {
        let src = std::fs::read_to_string(&path)?;
        let bytecode = hog_compiler::compile_program(&src, &hog_compiler::Options::default())
            .map_err(|e| {
                anyhow::anyhow!("fixtures/hog/programs/{name}.hog does not compile: {e}")
            })?;
        let program = format!("program_{name}");
        anyhow::ensure!(
            !out.iter().any(|(n, _)| *n == program),
            "fixtures/hog/bytecode/{program}.json repeats fixtures/hog/programs/{name}.hog: remove it"
        );
        out.push((
            program,
            json!({ "bytecode": bytecode, "source": format!("fixtures/hog/programs/{name}.hog") }),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The file a case comes from, for messages.
pub fn source(case: &Json) -> &str {
    case["source"].as_str().unwrap_or("?")
}

fn error_json(e: &Error) -> Json {
    let mut o = json!({ "name": e.js_name(), "message": e.message() });
    if let Error::Uncaught { kind, .. } = e {
        o["type"] = json!(kind);
    }
    o
}

/// Runs a case (`{bytecode, globals?, timeout_ms?}`) on Hogref's VM.
pub fn run_hogref(case: &Json) -> Json {
    let program = match Program::from_json(&case["bytecode"]) {
        Ok(p) => p,
        Err(e) => return json!({ "stdout": [], "result": null, "error": error_json(&e) }),
    };
    let mut options =
        Options::default().with_globals_json(case.get("globals").unwrap_or(&json!({})));
    options.async_functions = ASYNC_FUNCTIONS.iter().map(|s| (*s).to_string()).collect();
    if let Some(t) = case.get("timeout_ms").and_then(Json::as_f64) {
        options.timeout_ms = t;
    }
    match hogvm::run(&program, options) {
        Ok(run) => match run.result {
            Ok(v) => {
                json!({ "stdout": run.stdout, "result": hogvm::print_value(&v), "error": null })
            }
            Err(e) => json!({ "stdout": run.stdout, "result": null, "error": error_json(&e) }),
        },
        Err(e) => json!({ "stdout": [], "result": null, "error": error_json(&e) }),
    }
}

/// Errors JavaScript raises itself (their messages are V8's, not PostHog's): only the class is compared.
fn engine_error(name: &str) -> bool {
    matches!(
        name,
        "TypeError" | "RangeError" | "SyntaxError" | "URIError"
    )
}

fn is_timeout(message: &str) -> bool {
    message.starts_with("Execution timed out after")
        || message.starts_with("Execution exceeded the budget")
}

/// `Ok` when Hogref's outcome matches the oracle's: same stdout, same printed result, and the same error
/// (name and message; for JavaScript engine errors only that one happened; for timeouts only that).
pub fn compare(oracle: &Json, hogref: &Json) -> Result<(), String> {
    let mut diffs = Vec::new();
    if oracle["stdout"] != hogref["stdout"] {
        diffs.push(format!(
            "stdout\n  oracle: {}\n  hogref: {}",
            oracle["stdout"], hogref["stdout"]
        ));
    }
    if oracle["result"] != hogref["result"] {
        diffs.push(format!(
            "result\n  oracle: {}\n  hogref: {}",
            oracle["result"], hogref["result"]
        ));
    }
    let (oe, he) = (&oracle["error"], &hogref["error"]);
    let same_error = match (oe.is_null(), he.is_null()) {
        (true, true) => true,
        (false, false) => {
            let (on, hn) = (
                oe["name"].as_str().unwrap_or(""),
                he["name"].as_str().unwrap_or(""),
            );
            let (om, hm) = (
                oe["message"].as_str().unwrap_or(""),
                he["message"].as_str().unwrap_or(""),
            );
            if engine_error(on) {
                hn == "TypeError"
            } else if is_timeout(om) {
                is_timeout(hm)
            } else {
                on == hn && om == hm && oe.get("type") == he.get("type")
            }
        }
        _ => false,
    };
    if !same_error {
        diffs.push(format!("error\n  oracle: {oe}\n  hogref: {he}"));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join("\n"))
    }
}

/// The checked list of divergences: case name → (reason, the oracle's verdict).
pub fn divergences() -> anyhow::Result<BTreeMap<String, String>> {
    let path = expected_dir().join("divergences.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let table: toml::Table = toml::from_str(&text)?;
    let mut out = BTreeMap::new();
    for (name, v) in table {
        let reason = v
            .get("reason")
            .and_then(toml::Value::as_str)
            .unwrap_or("")
            .to_string();
        anyhow::ensure!(!reason.is_empty(), "divergence {name} needs a reason");
        out.insert(name, reason);
    }
    Ok(out)
}
