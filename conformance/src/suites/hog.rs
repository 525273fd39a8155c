//! `hog`: the target runs every Hog fixture program through its tool interface (`hog run --result
//! FILE`) and must print what PostHog's VM printed.
//!
//! Cases are `fixtures/hog/programs/NAME.hog`. The expectation is `fixtures/hog/expected/program_NAME.json`,
//! recorded from PostHog's own VM (`@posthog/hogvm`) by HogVM's oracle test: `stdout` (lines), `result`
//! (the return value as `print` shows it) and `error` (`{name, message}` or null). A run that should
//! finish must exit 0 and print the lines, then the result when it is not `null`; a run that should fail
//! must print the lines, exit 1 and describe the error on stderr (`{"error": true, "type": NAME,
//! "errors": [{"code", "message"}]}`) with PostHog's error class and message (for JavaScript engine
//! errors, whose messages are V8's, only the class). HogVM's checked divergence list
//! (`fixtures/hog/expected/divergences.toml`) is read as known gaps (see `known_gaps`).

use std::path::Path;

use serde_json::Value;

use crate::target::Target;
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, relative};

/// The suite.
#[derive(Debug)]
pub(super) struct Hog;

/// The recorded outcome of a program.
fn expectation_path(root_of_case: &Path) -> Option<std::path::PathBuf> {
    let name = root_of_case.file_stem()?.to_str()?;
    let hog = root_of_case.parent()?.parent()?;
    Some(hog.join(format!("expected/program_{name}.json")))
}

/// JavaScript's own errors: their messages are the engine's, so only the class is compared.
fn engine_error(name: &str) -> bool {
    matches!(
        name,
        "TypeError" | "RangeError" | "SyntaxError" | "URIError"
    )
}

fn judge(expected: &Value, run: &crate::target::HogRun) -> Result<(), String> {
    let mut lines: Vec<String> = expected["stdout"]
        .as_array()
        .ok_or("the expectation has no stdout lines")?
        .iter()
        .map(|l| l.as_str().unwrap_or_default().to_owned())
        .collect();
    let error = &expected["error"];
    if error.is_null()
        && let Some(result) = expected["result"].as_str()
        && result != "null"
    {
        lines.push(result.to_owned());
    }
    let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if run.stdout != want {
        return Err(format!(
            "stdout differs\n  expected: {want:?}\n  actual:   {:?}",
            run.stdout
        ));
    }
    if error.is_null() {
        return if run.status == Some(0) {
            Ok(())
        } else {
            Err(format!(
                "expected the program to finish, it exited {:?}: {}",
                run.status,
                run.stderr.trim()
            ))
        };
    }
    if run.status != Some(1) {
        return Err(format!(
            "expected exit status 1 with {error}, got {:?}",
            run.status
        ));
    }
    let envelope: Value = serde_json::from_str(run.stderr.trim()).map_err(|e| {
        format!(
            "stderr is not the error envelope ({e}): {}",
            run.stderr.trim()
        )
    })?;
    let (name, message) = (
        error["name"].as_str().unwrap_or_default(),
        error["message"].as_str().unwrap_or_default(),
    );
    let (got_name, got_message) = (
        envelope["type"].as_str().unwrap_or_default(),
        envelope["errors"][0]["message"]
            .as_str()
            .unwrap_or_default(),
    );
    let same = if engine_error(name) {
        got_name == "TypeError"
    } else {
        got_name == name && got_message == message
    };
    if same && envelope["error"] == true && envelope["errors"][0]["code"].is_string() {
        Ok(())
    } else {
        Err(format!("expected the error {error}, got {envelope}"))
    }
}

impl Suite for Hog {
    fn name(&self) -> &'static str {
        "hog"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (!target.supports("hog-run"))
            .then(|| "the target exposes no Hog runner (`hog run`)".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        let cases: Vec<Case> = files_with_suffix(&root.join("fixtures/hog/programs"), ".hog")
            .into_iter()
            .map(|path| Case {
                suite: "hog",
                id: relative(root, &path),
                path,
            })
            .collect();
        anyhow::ensure!(!cases.is_empty(), "no programs under fixtures/hog/programs");
        Ok(cases)
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some(expectation) = expectation_path(&case.path) else {
            return Outcome::Failed("not a fixtures/hog/programs/NAME.hog file".into());
        };
        let expected: Value = match std::fs::read_to_string(&expectation) {
            Ok(text) => match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(e) => {
                    return Outcome::Failed(format!("{}: not JSON: {e}", expectation.display()));
                }
            },
            Err(_) => {
                return Outcome::Failed(format!(
                    "no recorded outcome {}: record it with HOGREF_BLESS=1 cargo xtask test -- -p hogvm --test oracle",
                    expectation.display()
                ));
            }
        };
        let run = match target.run_hog(&case.path) {
            Ok(run) => run,
            Err(e) => return Outcome::Failed(format!("target error: {e:#}")),
        };
        match judge(&expected, &run) {
            Ok(()) => Outcome::Passed,
            Err(diff) => Outcome::Failed(diff),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::HogRun;
    use serde_json::json;

    fn run(status: i32, stdout: &str, stderr: &str) -> HogRun {
        HogRun {
            status: Some(status),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn output_and_result_must_match() {
        let expected = json!({"stdout": ["a", "b"], "result": "[1]", "error": null});
        assert!(judge(&expected, &run(0, "a\nb\n[1]\n", "")).is_ok());
        assert!(judge(&expected, &run(0, "a\nb\n", "")).is_err());
        assert!(judge(&expected, &run(1, "a\nb\n[1]\n", "")).is_err());
        let null = json!({"stdout": ["a"], "result": "null", "error": null});
        assert!(judge(&null, &run(0, "a\n", "")).is_ok());
    }

    #[test]
    fn errors_must_match_class_and_message() {
        let expected = json!({"stdout": ["a"], "result": null,
            "error": {"name": "HogVMException", "message": "Global variable not found: x"}});
        let env = r#"{"error":true,"type":"HogVMException","errors":[{"code":"hogvm.global_not_found","message":"Global variable not found: x"}]}"#;
        assert!(judge(&expected, &run(1, "a\n", env)).is_ok());
        assert!(judge(&expected, &run(0, "a\n", "")).is_err());
        let other = env.replace("x\"", "y\"");
        assert!(judge(&expected, &run(1, "a\n", &other)).is_err());
        let engine = json!({"stdout": [], "result": null, "error": {"name": "TypeError", "message": "V8 says"}});
        let env = r#"{"error":true,"type":"TypeError","errors":[{"code":"hogvm.type","message":"ours"}]}"#;
        assert!(judge(&engine, &run(1, "", env)).is_ok());
    }
}
