//! `query-api`: scripted requests to the target's query API (`POST /api/projects/:id/query`), one case
//! per file under `fixtures/query-api/`: authentication, HogQL errors (400 with `start`/`end`),
//! response shape, placeholders, caching and refresh modes, team isolation of keys.
//!
//! A case is `{"description", "steps": [...]}`; each step is
//! `{"team": "a"|"b", "key": "a"|"b"|"none"|"invalid"|"basic", "body": {...} | "body_text": "...",
//! "status": N, "expect": {...}}`. Every case gets two teams of its own (`a`, `b`); `team` picks the
//! id in the path (default `a`), `key` the `Authorization` header (default the team's own key).
//! `expect` is matched as a subset of the JSON answer (objects may have more keys; arrays are exact).
//! `{nonce}` in the file becomes a string unique to the run (the cache cases send it as a value, so
//! their cache entries are new even on shared, pre-made teams).

use std::path::Path;

use serde_json::Value;

use crate::http::{send, subset_mismatch};
use crate::target::{Target, Team};
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, relative};

/// The suite.
#[derive(Debug)]
pub(super) struct QueryApi;

impl Suite for QueryApi {
    fn name(&self) -> &'static str {
        "query-api"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (target.http().is_none() || !target.supports("query-api"))
            .then(|| "the target exposes no query HTTP API".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        Ok(files_with_suffix(&root.join("fixtures/query-api"), ".json")
            .into_iter()
            .map(|path| Case {
                suite: "query-api",
                id: relative(root, &path),
                path,
            })
            .collect())
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        match run_case(target, case) {
            Ok(None) => Outcome::Passed,
            Ok(Some(problem)) => Outcome::Failed(problem),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        }
    }
}

/// Sends one query request; returns status and JSON body (`null` when the body is not JSON).
pub(super) fn query(
    base: &str,
    team_id: i64,
    authorization: Option<&str>,
    body: &[u8],
) -> anyhow::Result<(u16, Value)> {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(auth) = authorization {
        headers.push(("authorization".to_owned(), auth.to_owned()));
    }
    let response = send(
        base,
        "POST",
        &format!("/api/projects/{team_id}/query"),
        &headers,
        body,
    )?;
    Ok((response.status, response.json().unwrap_or(Value::Null)))
}

fn run_case(target: &dyn Target, case: &Case) -> anyhow::Result<Option<String>> {
    let http = target
        .http()
        .ok_or_else(|| anyhow::anyhow!("the target has no HTTP API"))?;
    let nonce = format!(
        "n{}x{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    );
    let text = std::fs::read_to_string(&case.path)?.replace("{nonce}", &nonce);
    let fixture: Value = serde_json::from_str(&text)?;
    let name = case
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (a, b) = http.two_teams(&format!("conformance-query-api-{name}"))?;
    let pick = |which: &str| -> Option<&Team> {
        match which {
            "a" => Some(&a),
            "b" => Some(&b),
            _ => None,
        }
    };
    let steps = fixture["steps"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("the case has no `steps` array"))?;
    for (i, step) in steps.iter().enumerate() {
        let team = pick(step["team"].as_str().unwrap_or("a"))
            .ok_or_else(|| anyhow::anyhow!("step {i}: `team` must be \"a\" or \"b\""))?;
        let key_name = step["key"]
            .as_str()
            .unwrap_or(step["team"].as_str().unwrap_or("a"));
        let authorization = match key_name {
            "none" => None,
            "invalid" => Some("Bearer phx_this_key_does_not_exist_0000000000000000".to_owned()),
            "basic" => Some(format!(
                "Basic {}",
                pick("a").map_or("", |t| &t.personal_api_key)
            )),
            other => Some(format!(
                "Bearer {}",
                pick(other)
                    .ok_or_else(|| anyhow::anyhow!("step {i}: unknown key {other:?}"))?
                    .personal_api_key
            )),
        };
        let body = match (&step["body"], step["body_text"].as_str()) {
            (_, Some(text)) => text.as_bytes().to_vec(),
            (Value::Null, None) => anyhow::bail!("step {i}: no `body` or `body_text`"),
            (body, None) => serde_json::to_vec(body)?,
        };
        let (status, answer) = query(&http.query_url, team.id, authorization.as_deref(), &body)?;
        if let Some(want) = step["status"].as_u64()
            && u64::from(status) != want
        {
            return Ok(Some(format!(
                "step {i}: status {status}, expected {want}: {}",
                short(&answer)
            )));
        }
        if let Some(expect) = step.get("expect")
            && let Some(problem) = subset_mismatch(expect, &answer, "answer")
        {
            return Ok(Some(format!("step {i}: {problem}")));
        }
    }
    Ok(None)
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text
    }
}
