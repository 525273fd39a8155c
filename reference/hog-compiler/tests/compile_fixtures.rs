//! One trial per compile fixture:
//! - `fixtures/hog/programs/NAME.hog` compiles; its bytecode equals `NAME.bytecode.json` beside it
//!   (written with `HOGREF_BLESS=1`; Hogref's own output, reviewed as a diff, and run by the VM
//!   engineer's differential harness against PostHog's VM);
//! - `fixtures/hog/compile/err/NAME.hog` fails with the codes its `// code: a, b` header lists;
//! - every case of `fixtures/hog/compile/posthog_test_bytecode.json` (expectations transcribed from
//!   PostHog's compiler tests) compiles to exactly the bytecode PostHog's test expects.

use std::path::{Path, PathBuf};

use hog_compiler::{Error, Options, compile_expr, compile_program, to_json};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn hog_dir() -> PathBuf {
    conformance::paths::fixtures_dir().join("hog")
}

fn hog_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "hog"));
    files.sort();
    files
}

fn program_case(path: &Path) -> Result<(), Failed> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let bytecode =
        compile_program(&src, &Options::default()).map_err(|e| format!("does not compile: {e}"))?;
    let expected_path = path.with_extension("bytecode.json");
    let text = format!("{}\n", to_json(&bytecode));
    if std::env::var_os("HOGREF_BLESS").is_some() {
        std::fs::write(&expected_path, &text).map_err(|e| e.to_string())?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "{}: {e} (run with HOGREF_BLESS=1 to write it)",
            expected_path.display()
        )
    })?;
    if expected != text {
        return Err(format!("bytecode differs:\n  expected {expected}  actual   {text}").into());
    }
    Ok(())
}

fn error_case(path: &Path) -> Result<(), Failed> {
    let src = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let header = src.lines().next().unwrap_or_default();
    let Some(codes) = header.strip_prefix("// code: ") else {
        return Err("the first line must be `// code: CODE[, CODE...]`".into());
    };
    let expected: Vec<&str> = codes.split(',').map(str::trim).collect();
    match compile_program(&src, &Options::default()) {
        Ok(b) => Err(format!("compiled, expected {expected:?}: {}", to_json(&b)).into()),
        Err(Error::Parse(e)) => Err(format!("does not parse: {e}").into()),
        Err(Error::Compile(diags)) => {
            let got: Vec<&str> = diags.iter().map(|d| d.code).collect();
            if got != expected {
                return Err(format!("codes {got:?}, expected {expected:?}").into());
            }
            let n = src.chars().count();
            for d in &diags {
                if d.start > d.end || d.end > n || d.end == 0 {
                    return Err(format!("diagnostic without a position in the input: {d}").into());
                }
            }
            Ok(())
        }
    }
}

fn compile_case(case: &Value) -> Result<Vec<Value>, Error> {
    let options = Options::default();
    match (case.get("expr"), case.get("program")) {
        (Some(Value::String(e)), _) => compile_expr(e, &options),
        (_, Some(Value::String(p))) => compile_program(p, &options),
        _ => Ok(Vec::new()),
    }
}

fn posthog_case(case: Value) -> Result<(), Failed> {
    let expected = case.get("bytecode").cloned().unwrap_or(Value::Null);
    let got = compile_case(&case).map_err(|e| format!("does not compile: {e}"))?;
    if Value::Array(got.clone()) != expected {
        return Err(format!("\n  expected {expected}\n  actual   {}", to_json(&got)).into());
    }
    Ok(())
}

fn posthog_error(case: Value) -> Result<(), Failed> {
    let code = case.get("code").and_then(Value::as_str).unwrap_or_default();
    match compile_case(&case) {
        Ok(b) => Err(format!("compiled: {}", to_json(&b)).into()),
        Err(e) => {
            let d = e.diagnostics();
            let Some(first) = d.first() else {
                return Err(format!("not a compile error: {e}").into());
            };
            if first.code != code {
                return Err(format!("code {}, expected {code}", first.code).into());
            }
            if let Some(m) = case.get("message").and_then(Value::as_str)
                && first.message != m
            {
                return Err(format!("message {:?}, expected {m:?}", first.message).into());
            }
            if let Some(m) = case.get("message_contains").and_then(Value::as_str)
                && !first.message.contains(m)
            {
                return Err(format!("message {:?} lacks {m:?}", first.message).into());
            }
            Ok(())
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let programs = hog_files(&hog_dir().join("programs"));
    let errors = hog_files(&hog_dir().join("compile/err"));
    assert!(
        !programs.is_empty() && !errors.is_empty(),
        "no Hog fixtures"
    );
    for path in programs {
        let name = format!(
            "programs/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        trials.push(Trial::test(name, move || program_case(&path)));
    }
    for path in errors {
        let name = format!(
            "compile/err/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        trials.push(Trial::test(name, move || error_case(&path)));
    }
    let posthog_path = hog_dir().join("compile/posthog_test_bytecode.json");
    let text = std::fs::read_to_string(&posthog_path).unwrap_or_default();
    let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let cases = doc
        .get("cases")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    assert!(
        !cases.is_empty(),
        "{} holds no cases",
        posthog_path.display()
    );
    for (i, case) in cases.into_iter().enumerate() {
        let label = case
            .get("expr")
            .or(case.get("program"))
            .cloned()
            .unwrap_or(Value::Null);
        trials.push(Trial::test(format!("posthog #{i} {label}"), move || {
            posthog_case(case)
        }));
    }
    let errs = doc
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, case) in errs.into_iter().enumerate() {
        let label = case
            .get("expr")
            .or(case.get("program"))
            .cloned()
            .unwrap_or(Value::Null);
        trials.push(Trial::test(
            format!("posthog error #{i} {label}"),
            move || posthog_error(case),
        ));
    }
    libtest_mimic::run(&args, trials).exit();
}
