//! `capture`: the capture corpus (`fixtures/capture/**/*.json`) sent over HTTP to the target's capture
//! API; the status, the body and the listed response headers must match. (What reaches Kafka is checked
//! by capture-server's own corpus tests; through HTTP only the answer is visible.)

use std::path::Path;

use serde_json::Value;

use crate::http::{corpus_request, send, subset_mismatch};
use crate::target::Target;
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, relative};

/// The suite.
#[derive(Debug)]
pub(super) struct Capture;

impl Suite for Capture {
    fn name(&self) -> &'static str {
        "capture"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (target.http().is_none() || !target.supports("capture"))
            .then(|| "the target exposes no capture HTTP API".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(files_with_suffix(&root.join("fixtures/capture"), ".json")
            .into_iter()
            .map(|path| Case {
                suite: "capture",
                id: relative(root, &path),
                path,
            })
            .collect())
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some(http) = target.http() else {
            return Outcome::Skipped("no HTTP API".into());
        };
        let fixture: Value = match std::fs::read_to_string(&case.path)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(serde_json::from_str(&t)?))
        {
            Ok(v) => v,
            Err(e) => return Outcome::Failed(format!("unreadable case: {e:#}")),
        };
        let request = match corpus_request(&fixture["request"]) {
            Ok(r) => r,
            Err(e) => return Outcome::Skipped(format!("{e:#}")),
        };
        let response = match send(
            &http.capture_url,
            &request.method,
            &request.uri,
            &request.headers,
            &request.body,
        ) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("request failed: {e:#}")),
        };
        let expected = &fixture["response"];
        let mut problems = Vec::new();
        if let Some(status) = expected["status"].as_u64()
            && u64::from(response.status) != status
        {
            problems.push(format!(
                "status: expected {status}, got {}",
                response.status
            ));
        }
        match &expected["body"] {
            Value::Null => {
                if !response.body.is_empty() {
                    problems.push(format!("body: expected none, got {:?}", response.text()));
                }
            }
            Value::String(text) => {
                if response.text() != *text {
                    problems.push(format!(
                        "body: expected {text:?}, got {:?}",
                        response.text()
                    ));
                }
            }
            body => match response.json() {
                Some(actual) if actual == *body => {}
                Some(actual) => problems.push(
                    subset_mismatch(body, &actual, "body")
                        .unwrap_or_else(|| format!("body: expected {body}, got {actual}")),
                ),
                None => problems.push(format!(
                    "body: expected JSON {body}, got {:?}",
                    response.text()
                )),
            },
        }
        for (name, value) in expected["headers"].as_object().into_iter().flatten() {
            let want = value.as_str().unwrap_or_default();
            match response.header(name) {
                Some(got) if got == want => {}
                got => problems.push(format!("header {name}: expected {want:?}, got {got:?}")),
            }
        }
        if problems.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(problems.join("; "))
        }
    }
}
