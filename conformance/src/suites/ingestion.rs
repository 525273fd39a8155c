//! `ingestion`: events sent through the target's capture API must come back through its query API.
//! One case per file under `fixtures/conformance/ingestion/`:
//!
//! ```json
//! { "description": "…",
//!   "capture": [ { "path": "/batch/", "body": { "api_key": "{token}", "batch": [ … ] } } ],
//!   "queries": [ { "team": "a", "query": "select … where distinct_id like '{nonce}%'",
//!                  "expect": { "results": [[…]] }, "wait": true } ] }
//! ```
//!
//! Each case gets two teams of its own (`a`, `b`); `{token}` / `{token_b}` become their project tokens
//! and `{nonce}` a string unique to the run, so cases also work against shared, pre-made teams.
//! A query with `wait` is repeated (with `refresh: true`) until it matches or 60 s pass, since
//! ingestion is asynchronous; the others run once, after the waited ones.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http::{send, subset_mismatch};
use crate::target::Target;
use crate::{Case, Outcome};

use super::query_api::query;
use super::{Suite, files_with_suffix, relative};

/// How long an awaited query may take to show the events.
const WAIT: Duration = Duration::from_secs(60);

/// The suite.
#[derive(Debug)]
pub(super) struct Ingestion;

impl Suite for Ingestion {
    fn name(&self) -> &'static str {
        "ingestion"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (target.http().is_none() || !target.supports("ingestion"))
            .then(|| "the target exposes no capture and query HTTP APIs".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(
            files_with_suffix(&root.join("fixtures/conformance/ingestion"), ".json")
                .into_iter()
                .map(|path| Case {
                    suite: "ingestion",
                    id: relative(root, &path),
                    path,
                })
                .collect(),
        )
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        match run_case(target, case) {
            Ok(None) => Outcome::Passed,
            Ok(Some(problem)) => Outcome::Failed(problem),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        }
    }
}

fn run_case(target: &dyn Target, case: &Case) -> anyhow::Result<Option<String>> {
    let http = target
        .http()
        .ok_or_else(|| anyhow::anyhow!("the target has no HTTP API"))?;
    let name = case
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (a, b) = http.two_teams(&format!("conformance-ingestion-{name}"))?;
    let nonce = format!(
        "n{}x{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    );
    let text = std::fs::read_to_string(&case.path)?
        .replace("{token_b}", &b.api_token)
        .replace("{token}", &a.api_token)
        .replace("{nonce}", &nonce);
    let fixture: Value = serde_json::from_str(&text)?;

    for (i, request) in fixture["capture"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let path = request["path"].as_str().unwrap_or("/batch/");
        let body = serde_json::to_vec(&request["body"])?;
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let response = send(&http.capture_url, "POST", path, &headers, &body)?;
        if response.status != 200 {
            return Ok(Some(format!(
                "capture request {i}: status {}, body {}",
                response.status,
                response.text()
            )));
        }
    }

    let queries = fixture["queries"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the case has no `queries` array"))?;
    let mut ordered: Vec<(usize, &Value)> = queries.iter().enumerate().collect();
    // Awaited queries first: the others (e.g. "team b sees nothing") only mean something after them.
    ordered.sort_by_key(|(_, q)| !q["wait"].as_bool().unwrap_or(false));
    for (i, q) in ordered {
        let team = match q["team"].as_str().unwrap_or("a") {
            "b" => &b,
            _ => &a,
        };
        let hogql = q["query"]
            .as_str()
            .ok_or_else(|| anyhow::anyhow!("query {i} has no `query` text"))?;
        let body = serde_json::to_vec(&json!({
            "query": {"kind": "HogQLQuery", "query": hogql},
            "refresh": true,
        }))?;
        let authorization = format!("Bearer {}", team.personal_api_key);
        let expect = &q["expect"];
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, answer) = query(&http.query_url, team.id, Some(&authorization), &body)?;
            let problem = if status != 200 {
                Some(format!("status {status}: {answer}"))
            } else {
                subset_mismatch(expect, &answer, "answer")
            };
            match problem {
                None => break,
                Some(problem) if !q["wait"].as_bool().unwrap_or(false) => {
                    return Ok(Some(format!("query {i}: {problem}")));
                }
                Some(problem) if Instant::now() >= deadline => {
                    return Ok(Some(format!(
                        "query {i}: still no match after {}s: {problem}",
                        WAIT.as_secs()
                    )));
                }
                Some(_) => std::thread::sleep(Duration::from_millis(300)),
            }
        }
    }
    Ok(None)
}
