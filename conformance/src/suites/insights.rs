//! `insights`: PostHog's insight queries through the target's capture and query APIs, one case per
//! file under `fixtures/insights/<kind>/` (a dataset from `fixtures/insights/datasets/`, a query,
//! PostHog's numbers and the PostHog test they come from).
//!
//! Each case gets a fresh team; the dataset's events are sent to `/batch/` with the team's token (a
//! person's properties ride on its first event as `$set`), the suite waits (60 s at most) until the
//! query API shows every event and person, then sends the insight query with `refresh` and compares
//! every key of the expected results with the answer (numbers within 1e-6, relative).
//! `fixtures/insights/known-gaps.toml` lists the cases expected to fail; a listed case that passes
//! fails the run. Cases whose dataset capture alone cannot express (a person with several distinct
//! ids, a person without events, an event of an unlisted person, groups), cases in a project
//! timezone other than UTC or at a frozen time (`now`) are skipped, and so are lifecycle
//! cases: their "new" status depends on each person's
//! `created_at`, which ingestion sets to the time the event arrives, not the test's frozen time
//! (`scenarios/tests/insights.rs` loads them directly). With pre-made teams (`--teams`), which keep
//! earlier runs' events, every case is skipped.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use crate::http::send;
use crate::target::{Target, TeamSource};
use crate::{Case, Outcome};

use super::query_api::query;
use super::{Suite, files_with_suffix, relative};

/// How long the events may take to show up in the query API.
const WAIT: Duration = Duration::from_secs(60);

/// The suite.
#[derive(Debug)]
pub(super) struct Insights;

impl Suite for Insights {
    fn name(&self) -> &'static str {
        "insights"
    }

    fn unavailable(&self, target: &dyn Target) -> Option<String> {
        (target.http().is_none() || !target.supports("ingestion"))
            .then(|| "the target exposes no capture and query HTTP APIs".to_string())
    }

    fn cases(&self, root: &Path) -> anyhow::Result<Vec<Case>> {
        let mut cases = Vec::new();
        for kind in ["trends", "stickiness", "lifecycle", "retention", "funnels"] {
            for path in files_with_suffix(&root.join("fixtures/insights").join(kind), ".json") {
                cases.push(Case {
                    suite: "insights",
                    id: relative(root, &path),
                    path,
                });
            }
        }
        Ok(cases)
    }

    fn run(&self, target: &dyn Target, case: &Case) -> Outcome {
        let Some(http) = target.http() else {
            return Outcome::Skipped("the target has no HTTP API".into());
        };
        if matches!(http.teams, TeamSource::Fixed(_)) {
            return Outcome::Skipped(
                "insight cases need a fresh team each (pre-made teams keep other runs' events)"
                    .into(),
            );
        }
        if case.id.contains("/lifecycle/") {
            return Outcome::Skipped(
                "lifecycle depends on persons' created_at, which ingestion sets to the arrival time".into(),
            );
        }
        match capture_cannot_express(case) {
            Ok(Some(why)) => return Outcome::Skipped(why),
            Ok(None) => {}
            Err(e) => return Outcome::Failed(format!("{e:#}")),
        }
        let gap = match known_gap(case) {
            Ok(gap) => gap,
            Err(e) => return Outcome::Failed(format!("{e:#}")),
        };
        let outcome = run_case(target, case);
        match (outcome, gap) {
            (Ok(None), None) => Outcome::Passed,
            (Ok(None), Some(reason)) => Outcome::UnexpectedPass(format!(
                "listed in fixtures/insights/known-gaps.toml ({reason}) but passes"
            )),
            (Ok(Some(_)) | Err(_), Some(reason)) => Outcome::KnownGap(reason),
            (Ok(Some(problem)), None) => Outcome::Failed(problem),
            (Err(e), None) => Outcome::Failed(format!("{e:#}")),
        }
    }
}

/// Why a case's dataset cannot be sent through capture as it stands, if it cannot: the suite sends
/// only the dataset's events, so every person must have exactly one distinct id and at least one event,
/// and every event must belong to a listed person. A person with several ids would need an `$identify`
/// event (which the expected numbers do not count), and an event of an unlisted person makes a person
/// the test never had; either way the case could only time out waiting for its persons.
/// `scenarios/tests/insights.rs` loads such datasets directly.
fn capture_cannot_express(case: &Case) -> anyhow::Result<Option<String>> {
    let (fixture, data) = load(case)?;
    if fixture["timezone"] != "UTC" {
        return Ok(Some(format!(
            "the case's project timezone is {}; teams made through the target are in UTC",
            fixture["timezone"]
        )));
    }
    if let Some(now) = fixture["now"].as_str() {
        return Ok(Some(format!(
            "the case freezes time at {now}; the target's clock is the real one"
        )));
    }
    if data["groups"].as_array().is_some_and(|g| !g.is_empty()) {
        return Ok(Some(
            "the dataset has groups with properties; capture alone sends none".into(),
        ));
    }
    let mut ids = std::collections::BTreeMap::new();
    for person in data["persons"].as_array().into_iter().flatten() {
        let dids = person["distinct_ids"].as_array().map_or(0, Vec::len);
        if dids != 1 {
            return Ok(Some(format!(
                "a person of the dataset has {dids} distinct ids; capture alone cannot merge them without an extra event"
            )));
        }
        if let Some(did) = person["distinct_ids"][0].as_str() {
            ids.insert(did.to_owned(), false);
        }
    }
    for event in data["events"].as_array().into_iter().flatten() {
        let did = event["distinct_id"].as_str().unwrap_or_default();
        match ids.get_mut(did) {
            Some(seen) => *seen = true,
            None => {
                return Ok(Some(format!(
                    "an event of distinct id {did:?}, which no person of the dataset has; capture would make a person the test never had"
                )));
            }
        }
    }
    if let Some((did, _)) = ids.iter().find(|(_, seen)| !**seen) {
        return Ok(Some(format!(
            "the person {did:?} has no event; capture makes persons from events only"
        )));
    }
    Ok(None)
}

/// A case's fixture and its dataset.
fn load(case: &Case) -> anyhow::Result<(Value, Value)> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&case.path)?)?;
    let dataset = fixture["dataset"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the case names no `dataset`"))?;
    let dataset_path = case
        .path
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("datasets").join(format!("{dataset}.json")))
        .ok_or_else(|| anyhow::anyhow!("no datasets folder beside the case"))?;
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&dataset_path)?)?;
    Ok((fixture, data))
}

/// The reason a case is listed in `fixtures/insights/known-gaps.toml`, if it is.
fn known_gap(case: &Case) -> anyhow::Result<Option<String>> {
    let Some(root) = case
        .path
        .ancestors()
        .find(|p| p.ends_with("fixtures/insights"))
    else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(root.join("known-gaps.toml"))?;
    let table: toml::Table = toml::from_str(&text)?;
    let name = case
        .path
        .strip_prefix(root)
        .unwrap_or(&case.path)
        .with_extension("")
        .to_string_lossy()
        .into_owned();
    Ok(table
        .get("gap")
        .and_then(|g| g.as_array())
        .into_iter()
        .flatten()
        .find(|g| g.get("case").and_then(|c| c.as_str()) == Some(name.as_str()))
        .map(|g| {
            g.get("reason")
                .and_then(|r| r.as_str())
                .unwrap_or("")
                .to_owned()
        }))
}

fn run_case(target: &dyn Target, case: &Case) -> anyhow::Result<Option<String>> {
    let http = target
        .http()
        .ok_or_else(|| anyhow::anyhow!("the target has no HTTP API"))?;
    let (fixture, data) = load(case)?;
    let name = case
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let team = http.new_team(&format!("conformance-insights-{name}"))?;

    // Person properties ride on each person's first event as `$set`.
    let mut person_props: Map<String, Value> = Map::new();
    for person in data["persons"].as_array().into_iter().flatten() {
        for did in person["distinct_ids"].as_array().into_iter().flatten() {
            if let Some(did) = did.as_str() {
                person_props.insert(did.to_owned(), person["properties"].clone());
            }
        }
    }
    let mut batch = Vec::new();
    for event in data["events"].as_array().into_iter().flatten() {
        let mut properties = event["properties"].as_object().cloned().unwrap_or_default();
        if let Some(props) = event["distinct_id"]
            .as_str()
            .and_then(|d| person_props.remove(d))
            && props.as_object().is_some_and(|p| !p.is_empty())
        {
            properties.insert("$set".into(), props);
        }
        batch.push(json!({
            "event": event["event"],
            "distinct_id": event["distinct_id"],
            "timestamp": event["timestamp"],
            "properties": properties,
        }));
    }
    let n_events = batch.len();
    // A dataset without events (a query over nothing) sends nothing: capture refuses empty batches.
    if n_events > 0 {
        let body = serde_json::to_vec(&json!({"api_key": team.api_token, "batch": batch}))?;
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let response = send(&http.capture_url, "POST", "/batch/", &headers, &body)?;
        if response.status != 200 {
            return Ok(Some(format!(
                "capture: status {}, body {}",
                response.status,
                response.text()
            )));
        }
    }

    let authorization = format!("Bearer {}", team.personal_api_key);
    // Every event, every person and every distinct id must be visible before the insight runs.
    let n_persons = data["persons"].as_array().map_or(0, Vec::len);
    let n_distinct_ids: usize = data["persons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["distinct_ids"].as_array().map_or(0, Vec::len))
        .sum();
    let count = serde_json::to_vec(&json!({
        "query": {"kind": "HogQLQuery", "query": "select (select count() from events), (select count() from persons), (select count() from person_distinct_ids)"},
        "refresh": true,
    }))?;
    let want = json!([n_events, n_persons, n_distinct_ids]);
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, answer) = query(&http.query_url, team.id, Some(&authorization), &count)?;
        let seen = &answer["results"][0];
        if status == 200 && *seen == want {
            break;
        }
        if Instant::now() >= deadline {
            return Ok(Some(format!(
                "waited {}s for the query API to show the captured events, persons and distinct ids {want} (status {status}, seen {seen})",
                WAIT.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(300));
    }

    let body =
        serde_json::to_vec(&json!({"query": fixture["query"], "refresh": "force_blocking"}))?;
    let (status, answer) = query(&http.query_url, team.id, Some(&authorization), &body)?;
    if status != 200 {
        return Ok(Some(format!("status {status}: {answer}")));
    }
    let problems = compare_results(&fixture["expect"], &answer["results"]);
    Ok((!problems.is_empty()).then(|| {
        format!(
            "{} ({}):\n  {}",
            case.id,
            fixture["source"],
            problems.join("\n  ")
        )
    }))
}

/// What keeps `results` (an insight answer's `results`) from meeting a case's `expect`: its `length`,
/// and each of its `results` matched by [`matches`], in order, or with `"results_order": "any"` as a
/// set (e.g. funnel breakdowns, whose order is ClickHouse's GROUP BY order in PostHog: each expected
/// item matches a distinct result). Empty: it meets them. The scenario that runs the same cases on
/// directly inserted rows (`scenarios/tests/insights.rs`) compares through this too.
pub fn compare_results(expect: &Value, results_value: &Value) -> Vec<String> {
    let results: &[Value] = results_value.as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut problems = Vec::new();
    if let Some(n) = expect["length"].as_u64()
        && results.len() as u64 != n
    {
        problems.push(format!("expected {n} results, got {}", results.len()));
    }
    // `"results_order": "any"`: the results are a set (e.g. funnel breakdowns, whose order is
    // ClickHouse's GROUP BY order in PostHog); each expected item matches a distinct result.
    // An object (a funnel's time to convert: `bins`, `average_conversion_time`) is matched whole.
    if expect["results"].is_object() {
        matches(&expect["results"], results_value, "results", &mut problems);
    }
    let any_order = expect["results_order"] == "any";
    let mut used = vec![false; results.len()];
    for (i, e) in expect["results"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if any_order {
            let found = (0..results.len()).find(|&j| {
                let mut p = Vec::new();
                matches(e, &results[j], "", &mut p);
                !used[j] && p.is_empty()
            });
            match found {
                Some(j) => used[j] = true,
                None => problems.push(format!("results: no result matches expected item {i}: {e}")),
            }
            continue;
        }
        matches(
            e,
            results.get(i).unwrap_or(&Value::Null),
            &format!("results[{i}]"),
            &mut problems,
        );
    }
    problems
}

/// Every key of `expected` equals the same key of `actual` (numbers within 1e-6, relative).
fn matches(expected: &Value, actual: &Value, path: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Number(e), Value::Number(a)) => {
            let (e, a) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if (e - a).abs() > 1e-6 * e.abs().max(1.0) {
                problems.push(format!("{path}: expected {e}, got {a}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            // A trailing `"..."`: PostHog's test checks only the items before it.
            let (e, prefix) = match e.split_last() {
                Some((Value::String(dots), head)) if dots == "..." => (head, true),
                _ => (e.as_slice(), false),
            };
            if (prefix && a.len() < e.len()) || (!prefix && e.len() != a.len()) {
                problems.push(format!(
                    "{path}: expected {}{} items, got {}: {actual}",
                    if prefix { "at least " } else { "" },
                    e.len(),
                    a.len()
                ));
                return;
            }
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                matches(e, a, &format!("{path}[{i}]"), problems);
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, e) in e {
                matches(
                    e,
                    a.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    problems,
                );
            }
        }
        (e, a) if e == a => {}
        (e, a) => problems.push(format!("{path}: expected {e}, got {a}")),
    }
}
