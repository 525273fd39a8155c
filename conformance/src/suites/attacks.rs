//! `attacks`: requests an attacker holding only team a's key would send to the query API, one case
//! per file under `fixtures/attacks/<family>/NAME.json`, and after them every step of every case at
//! once (`fixtures/attacks/~all_at_once`), after which the server must still answer.
//!
//! Before the first case the suite captures a small dataset through the target's capture API, for two
//! teams of its own, in one request each right after the other (so their rows share parts): team a's
//! strings are plain; every string of team b (event, distinct_id, properties, person, group) is the
//! secret `{secret_b}`. It waits (60 s at most) until both teams' events are visible.
//!
//! A case is `{"description", "source", "steps": [...]}`; a step is
//! `{"team": "a"|"b", "key": "a"|"b"|"none", "query": "…" | "generate": {…} | "body": {...} |
//! "body_text": "…", "status": [N, …], "expect": {...}}`. `generate` builds large inputs from a small
//! file: `prefix + repeat × times + middle + close × times + suffix`. `query` and `generate` build
//! `{"query": {"kind": "HogQLQuery", "query": …}, "refresh": true}`; with `"raw": true` the generated
//! text is the whole body.
//! `{team_a}`, `{team_b}`, `{nonce}` and `{secret_b}` are substituted. Every answer is checked:
//!
//! - it arrives (a dropped connection or no answer is a failure: the server died or hung);
//! - its status is one of `status` (default `[200, 400]`);
//! - `expect`, if given, is a subset of its JSON body;
//! - it is JSON and holds neither team b's secret (in any case) nor ClickHouse's raw error text
//!   (`DB::Exception`, `Stack trace`);
//! - afterwards `select 1` still answers 200 (the case did not take the server down).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http::{send, subset_mismatch};
use crate::target::{HttpTarget, Target, Team};
use crate::{Case, Outcome};

use super::{Suite, files_with_suffix, relative};

/// How long the dataset may take to become visible.
const WAIT: Duration = Duration::from_secs(60);
/// The id of the case that sends every step at once.
const ALL_AT_ONCE: &str = "fixtures/attacks/~all_at_once";
/// Text that only ClickHouse's own error messages contain.
const RAW_ERROR_MARKS: [&str; 3] = ["DB::Exception", "Stack trace", "(version "];

/// The suite; the dataset is made once, by the first case that needs it.
#[derive(Debug, Default)]
pub(super) struct Attacks {
    ready: Mutex<Option<Result<Dataset, String>>>,
}

/// The two teams and the strings their rows hold.
#[derive(Debug, Clone)]
struct Dataset {
    a: Team,
    b: Team,
    nonce: String,
    secret_b: String,
}

impl Suite for Attacks {
    fn name(&self) -> &'static str {
        "attacks"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (target.http().is_none() || !target.supports("ingestion"))
            .then(|| "the target exposes no capture and query HTTP APIs".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        let dir = root.join("fixtures/attacks");
        let mut cases: Vec<Case> = files_with_suffix(&dir, ".json")
            .into_iter()
            .map(|path| Case {
                suite: "attacks",
                id: relative(root, &path),
                path,
            })
            .collect();
        if !cases.is_empty() {
            cases.push(Case {
                suite: "attacks",
                id: ALL_AT_ONCE.to_owned(),
                path: dir,
            });
        }
        Ok(cases)
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some(http) = target.http() else {
            return Outcome::Skipped("the target has no HTTP API".into());
        };
        let dataset = match self.dataset(http) {
            Ok(d) => d,
            Err(e) => return Outcome::Failed(format!("making the dataset: {e}")),
        };
        let result = if case.id == ALL_AT_ONCE {
            all_at_once(http, &dataset, &case.path)
        } else {
            run_case(http, &dataset, &case.path)
        };
        match result {
            Ok(None) => Outcome::Passed,
            Ok(Some(problem)) => Outcome::Failed(problem),
            Err(e) => Outcome::Failed(format!("{e:#}")),
        }
    }
}

impl Attacks {
    fn dataset(&self, http: &HttpTarget) -> Result<Dataset, String> {
        let mut ready = self
            .ready
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if ready.is_none() {
            *ready = Some(make_dataset(http).map_err(|e| format!("{e:#}")));
        }
        ready.clone().unwrap_or_else(|| Err("no dataset".into()))
    }
}

fn make_dataset(http: &HttpTarget) -> anyhow::Result<Dataset> {
    let (a, b) = http.two_teams("conformance-attacks")?;
    let nonce = format!(
        "n{}x{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros())
            .unwrap_or(0)
    );
    // Unbalanced for regular expressions and unparseable as any number, date or uuid.
    let secret_b = format!("sEcReTb-{nonce}-(x");
    let event = |name: &str, id: &str, email: &str| {
        json!({"event": name, "distinct_id": id, "properties": {
            "email": email, "n": email, "$set": {"email": email, "name": email},
            "$groups": {"company": email}}})
    };
    let group = |email: &str| {
        json!({"event": "$groupidentify", "distinct_id": email, "properties": {
            "$group_type": "company", "$group_key": email, "$group_set": {"name": email}}})
    };
    let a_id = format!("a-{nonce}");
    let a_email = format!("a-{nonce}@a.test");
    let batches = [
        (
            &a.api_token,
            vec![
                event("a_pageview", &a_id, &a_email),
                event("a_signup", &a_id, &a_email),
                group(&a_email),
            ],
        ),
        (
            &b.api_token,
            vec![
                event(&secret_b, &secret_b, &secret_b),
                event(&secret_b, &secret_b, &secret_b),
                group(&secret_b),
            ],
        ),
    ];
    for (token, batch) in batches {
        let body = serde_json::to_vec(&json!({"api_key": token, "batch": batch}))?;
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let response = send(&http.capture_url, "POST", "/batch/", &headers, &body)?;
        anyhow::ensure!(
            response.status == 200,
            "capture answered {}: {}",
            response.status,
            response.text()
        );
    }
    let dataset = Dataset {
        a,
        b,
        nonce,
        secret_b,
    };
    for (team, id) in [(&dataset.a, &a_id), (&dataset.b, &dataset.secret_b)] {
        let hogql = format!("select count() from events where distinct_id = '{id}'");
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, answer) = query(http, team, &hogql_body(&hogql))?;
            if status == 200 && answer["results"][0][0].as_u64().is_some_and(|n| n >= 2) {
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "team {}'s events were not visible within {} s (last answer {status}: {answer})",
                team.id,
                WAIT.as_secs()
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    Ok(dataset)
}

fn hogql_body(query: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"query": {"kind": "HogQLQuery", "query": query}, "refresh": true}))
        .unwrap_or_default()
}

/// Sends a query body as `team` with its own key.
fn query(http: &HttpTarget, team: &Team, body: &[u8]) -> anyhow::Result<(u16, Value)> {
    let (status, _, json) = post(http, team.id, Some(&team.personal_api_key), body)?;
    Ok((status, json))
}

/// `(status, raw text, JSON or null)` of one query request.
fn post(
    http: &HttpTarget,
    team_id: i64,
    key: Option<&str>,
    body: &[u8],
) -> anyhow::Result<(u16, String, Value)> {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(key) = key {
        headers.push(("authorization".to_owned(), format!("Bearer {key}")));
    }
    let response = send(
        &http.query_url,
        "POST",
        &format!("/api/projects/{team_id}/query"),
        &headers,
        body,
    )?;
    let json = response.json().unwrap_or(Value::Null);
    Ok((response.status, response.text(), json))
}

/// One step, ready to send.
#[derive(Debug, Clone)]
struct Step {
    label: String,
    team_id: i64,
    key: Option<String>,
    body: Vec<u8>,
    status: Vec<u16>,
    expect: Option<Value>,
}

fn substitute(text: &str, d: &Dataset) -> String {
    text.replace("{team_a}", &d.a.id.to_string())
        .replace("{team_b}", &d.b.id.to_string())
        .replace("{nonce}", &d.nonce)
        .replace("{secret_b}", &d.secret_b)
}

fn steps(path: &Path, d: &Dataset) -> anyhow::Result<Vec<Step>> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    for (i, step) in fixture["steps"]
        .as_array()
        .ok_or_else(|| anyhow::anyhow!("{name}: the case has no `steps` array"))?
        .iter()
        .enumerate()
    {
        let team = match step["team"].as_str().unwrap_or("a") {
            "a" => &d.a,
            "b" => &d.b,
            other => anyhow::bail!("{name} step {i}: unknown team {other:?}"),
        };
        let key = match step["key"].as_str().unwrap_or("a") {
            "a" => Some(d.a.personal_api_key.clone()),
            "b" => Some(d.b.personal_api_key.clone()),
            "none" => None,
            other => anyhow::bail!("{name} step {i}: unknown key {other:?}"),
        };
        let text = |field: &str| step[field].as_str().map(|s| substitute(s, d));
        let body = if let Some(query) = text("query") {
            hogql_body(&query)
        } else if step["generate"].is_object() {
            let g = &step["generate"];
            let part = |f: &str| g[f].as_str().map(|s| substitute(s, d)).unwrap_or_default();
            let times = usize::try_from(g["times"].as_u64().unwrap_or(0)).unwrap_or(0);
            let mut text = part("prefix");
            text.push_str(&part("repeat").repeat(times));
            text.push_str(&part("middle"));
            text.push_str(&part("close").repeat(times));
            text.push_str(&part("suffix"));
            if g["raw"].as_bool().unwrap_or(false) {
                text.into_bytes()
            } else {
                hogql_body(&text)
            }
        } else if let Some(raw) = text("body_text") {
            raw.into_bytes()
        } else if !step["body"].is_null() {
            substitute(&step["body"].to_string(), d).into_bytes()
        } else {
            anyhow::bail!("{name} step {i}: no `query`, `generate`, `body` or `body_text`");
        };
        let status = match &step["status"] {
            Value::Null => vec![200, 400],
            Value::Number(n) => vec![u16::try_from(n.as_u64().unwrap_or(0)).unwrap_or(0)],
            Value::Array(list) => list
                .iter()
                .filter_map(|v| v.as_u64().and_then(|n| u16::try_from(n).ok()))
                .collect(),
            other => anyhow::bail!("{name} step {i}: bad `status` {other}"),
        };
        let expect = step
            .get("expect")
            .map(|e| serde_json::from_str(&substitute(&e.to_string(), d)))
            .transpose()?;
        out.push(Step {
            label: format!("{name} step {i}"),
            team_id: team.id,
            key,
            body,
            status,
            expect,
        });
    }
    Ok(out)
}

/// What is wrong with one answer (status allowed by `extra` too), if anything.
fn judge(step: &Step, d: &Dataset, answer: (u16, String, Value), extra: &[u16]) -> Option<String> {
    let (status, text, json) = answer;
    let lower = text.to_lowercase();
    if lower.contains(&d.secret_b.to_lowercase()) {
        return Some(format!(
            "{}: the answer holds team b's secret: {}",
            step.label,
            short(&text)
        ));
    }
    if let Some(mark) = RAW_ERROR_MARKS.iter().find(|m| text.contains(*m)) {
        return Some(format!(
            "{}: the answer holds ClickHouse's raw error text ({mark:?}): {}",
            step.label,
            short(&text)
        ));
    }
    if !step.status.contains(&status) && !extra.contains(&status) {
        return Some(format!(
            "{}: status {status}, expected one of {:?}: {}",
            step.label,
            step.status,
            short(&text)
        ));
    }
    if json.is_null() {
        return Some(format!(
            "{}: status {status} with a body that is not JSON: {}",
            step.label,
            short(&text)
        ));
    }
    if let Some(expect) = &step.expect
        && extra.is_empty()
    {
        return subset_mismatch(expect, &json, "answer").map(|p| format!("{}: {p}", step.label));
    }
    None
}

fn send_step(http: &HttpTarget, step: &Step) -> anyhow::Result<(u16, String, Value)> {
    post(http, step.team_id, step.key.as_deref(), &step.body)
}

/// `select 1` as team a answers 200 (retried while the team is throttled, 30 s at most).
fn still_alive(http: &HttpTarget, d: &Dataset) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match query(http, &d.a, &hogql_body("select 1")) {
            Ok((200, _)) => return None,
            Ok((429 | 503, _)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Ok((status, answer)) => {
                return Some(format!(
                    "after the attack `select 1` answers {status}: {}",
                    short(&answer.to_string())
                ));
            }
            Err(e) => {
                return Some(format!(
                    "after the attack the server does not answer: {e:#}"
                ));
            }
        }
    }
}

fn run_case(http: &HttpTarget, d: &Dataset, path: &Path) -> anyhow::Result<Option<String>> {
    for step in steps(path, d)? {
        let answer = match send_step(http, &step) {
            Ok(answer) => answer,
            Err(e) => {
                return Ok(Some(format!(
                    "{}: no answer (the server died or hung): {e:#}",
                    step.label
                )));
            }
        };
        if let Some(problem) = judge(&step, d, answer, &[]) {
            return Ok(Some(problem));
        }
    }
    Ok(still_alive(http, d))
}

/// Every step of every case at once, one thread each; 429 (throttled) is then a fine answer too.
fn all_at_once(http: &HttpTarget, d: &Dataset, dir: &Path) -> anyhow::Result<Option<String>> {
    let mut all = Vec::new();
    for path in files_with_suffix(dir, ".json") {
        all.extend(steps(&path, d)?);
    }
    let problems: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .iter()
            .map(|step| {
                scope.spawn(move || match send_step(http, step) {
                    Ok(answer) => judge(step, d, answer, &[429, 503]),
                    Err(e) => Some(format!(
                        "{}: no answer (the server died or hung): {e:#}",
                        step.label
                    )),
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Some("a sender panicked".into()))
            })
            .collect()
    });
    if let Some(dead) = still_alive(http, d) {
        return Ok(Some(dead));
    }
    Ok((!problems.is_empty()).then(|| {
        format!(
            "{} of {} requests: {}",
            problems.len(),
            all.len(),
            problems.join("; ")
        )
    }))
}

fn short(text: &str) -> String {
    if text.chars().count() > 400 {
        format!("{}…", text.chars().take(400).collect::<String>())
    } else {
        text.to_owned()
    }
}
