//! What the SDK tests share: a private pipeline (`pipeline-kit`: capture on a free port, the ingestion
//! worker, Hogref's ClickHouse schema in a fresh database, the worker's PostgreSQL schema in a schema of its
//! own, topics with their own prefix), the driver run, and the checks of what the SDK's calls became in ClickHouse, with the
//! checked list of known gaps in `fixtures/sdk/known-gaps.toml`.
//!
//! The SDK installs live in the cache, outside the clone, and `cargo xtask test` creates them
//! (`xtask/src/sdk.rs`): the Python venv `venvs/sdk-python` and `sdk-node/node_modules`.
//!
//! Every wait has a deadline naming what it waited for (the driver run, topic creation, PostgreSQL
//! setup, stopping capture and the worker).

// Each SDK test uses its own installer check (`sdk_python` or `sdk_node_modules`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use ingest_worker::person_id::person_uuid;
pub(crate) use pipeline_kit::workspace_root;
use serde_json::{Map, Value, json};

/// The first event's timestamp every driver stamps (`base_ts`); call i is stamped `BASE_TS + i` seconds.
pub(crate) const BASE_TS: &str = "2026-03-01T10:00:00Z";
/// [`BASE_TS`] in Unix microseconds.
pub(crate) const BASE_US: i64 = 1_772_359_200_000_000;

/// The Python of the pinned posthog-python venv (created by `cargo xtask test`).
pub(crate) fn sdk_python() -> anyhow::Result<PathBuf> {
    let python = stack::cache_dir().join("venvs/sdk-python/bin/python");
    anyhow::ensure!(
        python.is_file(),
        "the posthog-python venv is missing at {} (cargo xtask test installs it)",
        python.display()
    );
    Ok(python)
}

/// The `node_modules` of the pinned posthog-node install (created by `cargo xtask test`).
pub(crate) fn sdk_node_modules() -> anyhow::Result<PathBuf> {
    let dir = stack::cache_dir().join("sdk-node/node_modules");
    anyhow::ensure!(
        dir.join("posthog-node/package.json").is_file(),
        "posthog-node is missing under {} (cargo xtask test installs it)",
        dir.display()
    );
    Ok(dir)
}

/// A private pipeline for one test (the pipeline kit's: topics with one partition, so the order of a
/// batch is the order of ingestion; worker batches of at most 100 events).
pub(crate) struct Pipeline(pipeline_kit::Pipeline);

impl Pipeline {
    /// Topics, schema, team, worker and capture, ready for traffic.
    pub(crate) async fn start(tag: &str) -> anyhow::Result<Pipeline> {
        let options = pipeline_kit::Options {
            batch_size: 100,
            ..pipeline_kit::Options::default()
        };
        Ok(Pipeline(
            pipeline_kit::Pipeline::start(tag, &options).await?,
        ))
    }

    /// The driver's configuration: capture's URL, the team's token, a run suffix and the base timestamp.
    pub(crate) fn driver_config(&self) -> String {
        json!({
            "host": format!("http://{}", self.0.addr),
            "api_key": self.0.team.api_token,
            "run": self.0.name,
            "base_ts": BASE_TS,
        })
        .to_string()
    }

    /// Polls `sql` until `done` holds for its rows (60 s at most); returns the last rows either way.
    pub(crate) async fn wait_rows(
        &self,
        sql: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        self.0.poll_rows(sql, Duration::from_secs(60), done).await
    }

    /// Stops capture and the worker, drops the database and the schema.
    pub(crate) async fn finish(self) -> anyhow::Result<()> {
        self.0.finish().await
    }
}

impl std::ops::Deref for Pipeline {
    type Target = pipeline_kit::Pipeline;

    fn deref(&self) -> &pipeline_kit::Pipeline {
        &self.0
    }
}

/// Longest run of an SDK driver (it sends a few dozen events and flushes).
const DRIVER_DEADLINE: Duration = Duration::from_secs(180);

/// Runs a driver program (its stdout is one JSON object) and returns that object. A driver that runs
/// longer than [`DRIVER_DEADLINE`] is killed (its whole process group) and reported with its output.
pub(crate) fn run_driver(mut cmd: Command) -> anyhow::Result<Value> {
    use std::os::unix::process::CommandExt as _;
    let program = format!("{:?}", cmd.get_program());
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let out = tokio::task::block_in_place(|| -> anyhow::Result<std::process::Output> {
        let mut child = cmd.spawn().context("starting the SDK driver")?;
        let pid = child.id();
        // Drain both pipes while waiting, so a chatty driver cannot block on a full pipe.
        let mut stdout = child.stdout.take().context("the driver's stdout")?;
        let mut stderr = child.stderr.take().context("the driver's stderr")?;
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            buf
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if start.elapsed() > DRIVER_DEADLINE {
                // The driver and anything it started (node workers) share its process group.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        match status {
            Some(status) => Ok(std::process::Output {
                status,
                stdout,
                stderr,
            }),
            None => anyhow::bail!(
                "the SDK driver {program} ran longer than {}s and was killed:\nstdout: {}\nstderr: {}",
                DRIVER_DEADLINE.as_secs(),
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr)
            ),
        }
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "the SDK driver failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("the SDK driver printed no JSON: {stdout}\n{stderr}"))?;
    serde_json::from_str(line).context("the SDK driver's JSON")
}

/// Named checks, compared at the end with the SDK's known gaps.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    results: Vec<(String, Result<(), String>)>,
}

impl Checks {
    /// Records check `name`: passed when `ok`, else failed with `detail`.
    pub(crate) fn check(
        &mut self,
        name: impl Into<String>,
        ok: bool,
        detail: impl FnOnce() -> String,
    ) {
        let result = if ok { Ok(()) } else { Err(detail()) };
        self.results.push((name.into(), result));
    }

    /// Records `name` as equal-or-not, with both sides in the detail.
    pub(crate) fn eq(&mut self, name: impl Into<String>, got: &Value, want: &Value) {
        self.check(name, got == want, || format!("got {got}, want {want}"));
    }

    /// Fails (with every problem listed) unless exactly the checks of `sdk`'s known-gap list failed.
    pub(crate) fn finish(self, sdk: &str) -> anyhow::Result<()> {
        let path = workspace_root().join("fixtures/sdk/known-gaps.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let doc: toml::Table = toml::from_str(&text)?;
        let gaps: Vec<String> = doc
            .get(sdk)
            .and_then(|t| t.get("gaps"))
            .and_then(|g| g.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut problems = Vec::new();
        for gap in &gaps {
            match self.results.iter().find(|(n, _)| n == gap) {
                None => problems.push(format!(
                    "known gap {gap:?} names no check of this test (fix {})",
                    path.display()
                )),
                Some((_, Ok(()))) => problems.push(format!(
                    "known gap {gap:?} now passes: remove it from [{sdk}] in {}",
                    path.display()
                )),
                Some((_, Err(_))) => {}
            }
        }
        for (name, result) in &self.results {
            if let Err(detail) = result
                && !gaps.contains(name)
            {
                problems.push(format!("{name}: {detail}"));
            }
        }
        let passed = self.results.iter().filter(|(_, r)| r.is_ok()).count();
        eprintln!(
            "{sdk}: {passed} of {} checks passed, {} known gaps",
            self.results.len(),
            gaps.len()
        );
        anyhow::ensure!(
            problems.is_empty(),
            "{} problems:\n{}",
            problems.len(),
            problems.join("\n")
        );
        Ok(())
    }
}

fn parse_json(v: &Value) -> Value {
    v.as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// The ClickHouse rows of every event the team has, once `count` of them arrived (FINAL: one per uuid).
pub(crate) async fn events(p: &Pipeline, count: usize) -> anyhow::Result<Vec<Value>> {
    let sql = format!(
        "SELECT toString(uuid) AS uuid, event, properties, toUnixTimestamp64Micro(timestamp) AS ts_us, \
         team_id, distinct_id, toString(person_id) AS person_id, person_properties, \
         toString(person_mode) AS person_mode FROM sharded_events FINAL WHERE team_id = {} ORDER BY _offset",
        p.team.id
    );
    p.wait_rows(&sql, |rows| rows.len() >= count).await
}

/// Checks what one SDK's calls became in ClickHouse. `sent` is the driver's list; `lib` the SDK's `$lib`;
/// `started_us`..`ended_us` the wall-clock window of the driver run (for timestamps the SDK chose).
pub(crate) async fn check_sdk_run(
    p: &Pipeline,
    checks: &mut Checks,
    driver: &Value,
    lib: &str,
    started_us: i64,
    ended_us: i64,
) -> anyhow::Result<()> {
    let sent = driver["sent"]
        .as_array()
        .context("driver output has no `sent`")?;
    let version = driver["version"].clone();
    let run = &p.name;
    let (anon, user, alias, company) = (
        format!("anon-{run}"),
        format!("user-{run}"),
        format!("alias-{run}"),
        format!("acme-{run}"),
    );
    let person = person_uuid(p.team.id, &anon).to_string();
    let url = sent[0]["properties"]["$current_url"].clone();
    let events = events(p, sent.len()).await?;
    checks.eq(
        "events: one row per call",
        &json!(events.len()),
        &json!(sent.len()),
    );

    // The person as PostHog leaves it: the identify's $set and $set_once, plus the person-ish keys of the
    // first event lifted into $set and, as $initial_*, into $set_once (ingestion spec 3.4).
    let identify = &sent[1]["properties"];
    let mut own = Map::new();
    for (k, v) in identify["$set_once"].as_object().into_iter().flatten() {
        own.insert(k.clone(), v.clone());
    }
    for (k, v) in identify["$set"].as_object().into_iter().flatten() {
        own.insert(k.clone(), v.clone());
    }
    let lifted = json!({"$current_url": url, "$initial_current_url": url});
    let split = |props: &Value| -> (Value, Value) {
        let mut mine = Map::new();
        let mut rest = Map::new();
        for (k, v) in props.as_object().into_iter().flatten() {
            if own.contains_key(k) {
                mine.insert(k.clone(), v.clone());
            } else {
                rest.insert(k.clone(), v.clone());
            }
        }
        (Value::Object(mine), Value::Object(rest))
    };

    for (i, s) in sent.iter().enumerate() {
        let call = format!(
            "{} #{i} ({})",
            s["call"].as_str().unwrap_or("?"),
            s["event"]
        );
        let uuid = s["uuid"].as_str();
        let row = match uuid {
            Some(u) => events.iter().find(|r| r["uuid"] == u),
            None => {
                let same: Vec<&Value> = events
                    .iter()
                    .filter(|r| r["event"] == s["event"] && r["distinct_id"] == s["distinct_id"])
                    .collect();
                (same.len() == 1).then(|| same[0])
            }
        };
        let Some(row) = row else {
            checks.check(format!("{call}: row in events"), false, || {
                format!("no single row for {s} among {events:?}")
            });
            continue;
        };
        checks.check(format!("{call}: row in events"), true, String::new);
        match uuid {
            Some(u) => checks.eq(format!("{call}: uuid"), &row["uuid"], &json!(u)),
            None => {
                let u = row["uuid"].as_str().unwrap_or_default();
                let valid = u.len() == 36
                    && u != "00000000-0000-0000-0000-000000000000"
                    && u.chars().filter(|c| *c == '-').count() == 4;
                checks.check(format!("{call}: uuid"), valid, || {
                    format!("SDK-made uuid {u:?} is not a valid UUID")
                });
            }
        }
        checks.eq(format!("{call}: event"), &row["event"], &s["event"]);
        checks.eq(
            format!("{call}: distinct_id"),
            &row["distinct_id"],
            &s["distinct_id"],
        );
        checks.eq(
            format!("{call}: team_id"),
            &json!(as_i64(&row["team_id"])),
            &json!(p.team.id),
        );
        let ts = as_i64(&row["ts_us"]).unwrap_or(-1);
        match s["timestamp"].as_str() {
            // Capture corrects the SDK's clock by `now - sent_at` (same machine: milliseconds).
            Some(_) => {
                let want = BASE_US + 1_000_000 * i as i64;
                checks.check(
                    format!("{call}: timestamp"),
                    (ts - want).abs() < 5_000_000,
                    || format!("{ts} µs is not within 5 s of the SDK's {want} µs"),
                )
            }
            None => checks.check(
                format!("{call}: timestamp"),
                ts >= started_us - 5_000_000 && ts <= ended_us + 5_000_000,
                || format!("{ts} µs is outside the driver's run {started_us}..{ended_us}"),
            ),
        }
        checks.eq(
            format!("{call}: person_id"),
            &row["person_id"],
            &json!(person),
        );
        checks.eq(
            format!("{call}: person_mode"),
            &row["person_mode"],
            &json!("full"),
        );

        let props = parse_json(&row["properties"]);
        checks.eq(format!("{call}: $lib"), &props["$lib"], &json!(lib));
        checks.eq(
            format!("{call}: $lib_version"),
            &props["$lib_version"],
            &version,
        );
        for (k, v) in s["properties"].as_object().into_iter().flatten() {
            checks.eq(format!("{call}: properties.{k}"), &props[k], v);
        }
        if let Some(groups) = s.get("groups") {
            checks.eq(
                format!("{call}: properties.$groups"),
                &props["$groups"],
                groups,
            );
            checks.eq(
                format!("{call}: properties.$group_0 (groups)"),
                &props["$group_0"],
                &json!(company),
            );
        }
        if s["event"] == "$groupidentify" {
            checks.eq(
                format!("{call}: properties.$group_type"),
                &props["$group_type"],
                &s["group_type"],
            );
            checks.eq(
                format!("{call}: properties.$group_key"),
                &props["$group_key"],
                &s["group_key"],
            );
            checks.eq(
                format!("{call}: properties.$group_set"),
                &props["$group_set"],
                &s["group_set"],
            );
        }
        if s["event"] == "$create_alias" {
            checks.eq(
                format!("{call}: properties.alias"),
                &props["alias"],
                &json!(alias),
            );
            checks.eq(
                format!("{call}: properties.distinct_id"),
                &props["distinct_id"],
                &json!(user),
            );
        }

        // The person as this event saw it: nothing of the identify before it, all of it from then on.
        let (mine, rest) = split(&parse_json(&row["person_properties"]));
        let want_mine = if i == 0 {
            json!({})
        } else {
            Value::Object(own.clone())
        };
        checks.eq(format!("{call}: person_properties"), &mine, &want_mine);
        checks.eq(
            format!("{call}: person_properties lifted $current_url (ingestion spec 3.4)"),
            &rest,
            &lifted,
        );
    }

    // The person and its distinct ids.
    let person_rows = p
        .wait_rows(
            "SELECT toString(id) AS id, properties, is_identified FROM person FINAL WHERE is_deleted = 0",
            |rows| rows.iter().any(|r| !split(&parse_json(&r["properties"])).0.as_object().is_none_or(|m| m.is_empty())),
        )
        .await?;
    checks.eq(
        "person: one row",
        &json!(
            person_rows
                .iter()
                .map(|r| r["id"].clone())
                .collect::<Vec<_>>()
        ),
        &json!([person]),
    );
    if let Some(row) = person_rows.first() {
        let (mine, rest) = split(&parse_json(&row["properties"]));
        checks.eq("person: properties", &mine, &Value::Object(own.clone()));
        checks.eq(
            "person: lifted $current_url and $initial_current_url (ingestion spec 3.4)",
            &rest,
            &lifted,
        );
        checks.eq(
            "person: is_identified",
            &json!(as_i64(&row["is_identified"])),
            &json!(1),
        );
    }
    let pdi = p
        .wait_rows(
            "SELECT distinct_id, toString(argMax(person_id, version)) AS person_id FROM person_distinct_id2 \
             GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0 ORDER BY distinct_id",
            |rows| rows.len() >= 3,
        )
        .await?;
    let mut want_pdi = vec![
        json!({"distinct_id": alias, "person_id": person}),
        json!({"distinct_id": anon, "person_id": person}),
        json!({"distinct_id": user, "person_id": person}),
    ];
    want_pdi.sort_by_key(|v| v["distinct_id"].as_str().unwrap_or_default().to_string());
    checks.eq(
        "person_distinct_id2: anon, user and alias",
        &json!(pdi),
        &json!(want_pdi),
    );

    // The group.
    let groups = p
        .wait_rows(
            &format!(
                "SELECT group_type_index, group_key, group_properties, team_id FROM groups FINAL WHERE team_id = {}",
                p.team.id
            ),
            |rows| !rows.is_empty(),
        )
        .await?;
    let group_set = sent
        .iter()
        .find(|s| s["event"] == "$groupidentify")
        .map(|s| s["group_set"].clone())
        .unwrap_or(Value::Null);
    checks.eq(
        "groups: one row (type 0, key, $group_set)",
        &json!(
            groups
                .iter()
                .map(|g| json!([
                    as_i64(&g["group_type_index"]),
                    g["group_key"],
                    parse_json(&g["group_properties"])
                ]))
                .collect::<Vec<_>>()
        ),
        &json!([[0, company, group_set]]),
    );
    Ok(())
}

/// Wall-clock Unix microseconds.
pub(crate) fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}
