//! `cargo xtask bench insights`: end-to-end latency of two insights through the query API over
//! generated events, and the compile time of the HogQL they generate, per event count.
//!
//! It builds `hogref` (debug, or `--release`), brings a private local stack up
//! (`bench-insights-<pid>`), starts `hogref serve --query-only` on a free port against it (which
//! applies the ClickHouse migrations to database `bench_insights`), then for each size of `--events`
//! (default `100000,1000000`; 10M is `--events 100000,1000000,10000000`):
//!
//! - empties `sharded_events`, creates a team (`hogref team create`) and fills it with N events by
//!   `INSERT ... SELECT FROM numbers(...)` in chunks of 1M rows: `--persons` distinct ids (default 1,000; one person each,
//!   with `person` and `person_distinct_id2` rows), five event names in funnel order, a `$browser`
//!   property among four values, spread evenly over the last 30 days;
//! - times, through `POST /api/projects/:team/query`, a TrendsQuery with a `$browser` breakdown and a
//!   5-step FunnelsQuery: cold (`refresh: "force_blocking"`, the median of `--runs`) and cached
//!   (`refresh: "blocking"` afterwards; the answer must say `is_cached: true`);
//! - times, in this process, `insights::plan` plus `hogql_compiler::compile_bound` of each query (the
//!   median over at least 20 runs; this process's build profile is printed beside it), and reads the
//!   server's own parse + compile + bind time from the cold answer's `timings`.
//!
//! Then it prints one table row per size and the growth ratio of every figure between consecutive
//! sizes, beside the ratio of the event counts. Every wait has a deadline naming what it waited for.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::paths::{cargo_target_dir, workspace_root};
use crate::stack_cmd::{self, StackTarget};

#[derive(Debug, Args)]
pub(crate) struct InsightsArgs {
    /// Insights: event counts, comma-separated, one table row each (10M takes several minutes to load).
    #[arg(long, default_value = "100000,1000000")]
    events: String,
    /// Insights: cold runs per query and size (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Insights: distinct ids (one person each) per team; events per person grow with the count.
    #[arg(long, default_value_t = 1000)]
    persons: u64,
    /// Insights: serve from a release build of `hogref` (default: the debug build).
    #[arg(long)]
    release: bool,
    /// Insights: who provides the services (default local); `external` uses those named by
    /// CLICKHOUSE_URL, KAFKA_HOSTS, DATABASE_URL and REDIS_URL (e.g. while tansu is not installed):
    /// the server then starts with `--no-migrate` (it would create Kafka topics first), so database
    /// `bench_insights` must already carry the migrations (`hogref migrations apply`).
    #[arg(long, value_enum)]
    provider: Option<stack_cmd::ProviderArg>,
}

/// Deadline for building `hogref`.
const BUILD_LIMIT: Duration = Duration::from_secs(3600);
/// Deadline for `hogref serve` to answer `/_readiness` (it applies the migrations first).
const READY_LIMIT: Duration = Duration::from_secs(300);
/// Deadline for `hogref team create`.
const TEAM_LIMIT: Duration = Duration::from_secs(120);
/// Rows per INSERT: each statement stays well inside the HTTP client's 120 s read deadline.
const CHUNK: u64 = 1_000_000;
/// The ClickHouse database the server and the generator use.
const DATABASE: &str = "bench_insights";
/// The five event names, in funnel order.
const EVENTS: [&str; 5] = [
    "$pageview",
    "signed up",
    "insight viewed",
    "invite sent",
    "paid",
];

/// The figures of one size.
struct Row {
    events: u64,
    load_s: f64,
    trends_cold_ms: f64,
    trends_cached_ms: f64,
    funnel_cold_ms: f64,
    funnel_cached_ms: f64,
    trends_compile_us: f64,
    funnel_compile_us: f64,
    trends_server_compile_us: f64,
    funnel_server_compile_us: f64,
    /// Queries that failed (their cells are NaN, printed as `-`).
    failures: Vec<String>,
}

/// `hogref serve` and the stack, stopped when dropped.
struct Services {
    server: Option<Child>,
    stack: Option<stack::Stack>,
}

impl Drop for Services {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            crate::conformance::stop_server(&mut server, "bench insights");
        }
        if let Some(s) = self.stack.take() {
            eprintln!("bench insights: bringing the stack down");
            if let Err(e) = s.stop() {
                eprintln!("bench insights: stopping the stack failed: {e}");
            }
        }
    }
}

/// Parses `--events`: positive counts, ascending order kept as given.
fn sizes(text: &str) -> anyhow::Result<Vec<u64>> {
    let sizes: Vec<u64> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.replace('_', "")
                .parse::<u64>()
                .with_context(|| format!("--events: `{s}` is not a count"))
        })
        .collect::<anyhow::Result<_>>()?;
    if sizes.is_empty() || sizes.contains(&0) {
        bail!("--events needs positive counts, e.g. 100000,1000000");
    }
    Ok(sizes)
}

pub(crate) fn run(args: &InsightsArgs) -> anyhow::Result<()> {
    let sizes = sizes(&args.events)?;
    let root = workspace_root();
    let target = cargo_target_dir();
    let profile = if args.release { "release" } else { "debug" };
    eprintln!("bench insights: building hogref ({profile}, --locked)");
    let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    build
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--locked", "-p", "hogref"]);
    if args.release {
        build.arg("--release");
    }
    let status = stack::status_with_deadline(
        "bench insights: cargo build -p hogref",
        &mut build,
        BUILD_LIMIT,
    )
    .map_err(anyhow::Error::msg)?;
    if !status.success() {
        bail!("building hogref failed");
    }
    let bin = target.join(profile).join("hogref");

    let name = format!("bench-insights-{}", std::process::id());
    eprintln!("bench insights: bringing stack `{name}` up");
    crate::test_cmd::install_ctrlc(&name);
    let stack = stack_cmd::up(&StackTarget {
        provider: args.provider,
        name,
    })?;
    let mut env: Vec<(String, String)> = stack.state().env_vars();
    env.push(("CLICKHOUSE_DATABASE".into(), DATABASE.into()));
    let mut services = Services {
        server: None,
        stack: Some(stack),
    };
    let clickhouse = env
        .iter()
        .find(|(k, _)| k == "CLICKHOUSE_URL")
        .map(|(_, v)| v.clone())
        .context("the stack names no CLICKHOUSE_URL")?;
    sql(
        &clickhouse,
        None,
        &format!("CREATE DATABASE IF NOT EXISTS {DATABASE}"),
    )?;

    let migrate = !matches!(args.provider, Some(stack_cmd::ProviderArg::External));
    let base = start_server(&root, &bin, &env, &target, migrate, &mut services)?;
    let mut rows = Vec::new();
    for &n in &sizes {
        rows.push(measure(
            &bin,
            &env,
            &clickhouse,
            &base,
            n,
            args.runs.max(1),
            args.persons.max(1),
        )?);
    }
    drop(services);
    print!("{}", render(&rows, profile));
    let failed = rows.iter().map(|r| r.failures.len()).sum::<usize>();
    if failed > 0 {
        bail!("{failed} insight queries failed (listed under the table)");
    }
    Ok(())
}

/// Starts `hogref serve --query-only` on a free port and waits until it answers `/_readiness`.
fn start_server(
    root: &Path,
    bin: &Path,
    env: &[(String, String)],
    target: &Path,
    migrate: bool,
    services: &mut Services,
) -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let dir = target.join("hogref-bench");
    std::fs::create_dir_all(&dir)?;
    let log_path = dir.join("insights-server.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("creating {}", log_path.display()))?;
    eprintln!(
        "bench insights: starting hogref serve --query-only on {base} (log {})",
        log_path.display()
    );
    let migrations = root.join("migrations").join("clickhouse");
    let mut server = Command::new(bin);
    server
        .current_dir(root)
        .args(["serve", "--query-only", "--host", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .arg("--migrations")
        .arg(&migrations);
    if !migrate {
        server.arg("--no-migrate");
    }
    let server = server
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("HOGREF_LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    services.server = Some(server);
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        if let Ok(r) = conformance::http::send(&base, "GET", "/_readiness", &[], &[])
            && r.status == 200
        {
            return Ok(base);
        }
        if let Some(server) = services.server.as_mut()
            && let Ok(Some(status)) = server.try_wait()
        {
            bail!(
                "hogref serve exited ({status}) before answering /_readiness (log {})",
                log_path.display()
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "waited {}s for hogref serve to answer {base}/_readiness (log {})",
                READY_LIMIT.as_secs(),
                log_path.display()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs one statement over ClickHouse's HTTP interface and returns its body.
fn sql(clickhouse: &str, database: Option<&str>, statement: &str) -> anyhow::Result<String> {
    let uri = match database {
        Some(db) => format!("/?database={db}"),
        None => "/".to_owned(),
    };
    let r = conformance::http::send(clickhouse, "POST", &uri, &[], statement.as_bytes())
        .with_context(|| format!("ClickHouse at {clickhouse}"))?;
    if r.status != 200 {
        let head: String = statement.chars().take(120).collect();
        bail!(
            "ClickHouse answered {} to `{head}...`: {}",
            r.status,
            r.text()
        );
    }
    Ok(r.text())
}

/// Creates a team and returns its id and query API key.
fn create_team(bin: &Path, env: &[(String, String)], name: &str) -> anyhow::Result<(i64, String)> {
    let mut cmd = Command::new(bin);
    cmd.args(["team", "create", "--name", name])
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = stack::output_with_deadline(cmd, TEAM_LIMIT)
        .map_err(|e| anyhow::anyhow!("bench insights: hogref team create: {e}"))?;
    if !out.status.success() {
        bail!(
            "hogref team create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let team: Value = serde_json::from_slice(&out.stdout).context("hogref team create's JSON")?;
    let id = team["id"].as_i64().context("team id")?;
    let key = team["personal_api_key"]
        .as_str()
        .context("personal_api_key")?
        .to_owned();
    Ok((id, key))
}

/// Fills `team` with `n` generated events (see the module doc), in chunks of [`CHUNK`] rows.
fn load(clickhouse: &str, team: i64, n: u64, persons: u64) -> anyhow::Result<()> {
    let db = Some(DATABASE);
    sql(clickhouse, db, "TRUNCATE TABLE IF EXISTS sharded_events")?;
    // The person of distinct id `d`: a UUID whose last group is `d` (12 digits).
    let person = |d: &str| {
        format!(
            "toUUID(concat('{team:08x}-0000-4000-a000-', substring(toString(1000000000000 + {d}), 2)))"
        )
    };
    sql(
        clickhouse,
        db,
        &format!(
            "INSERT INTO person (id, created_at, team_id, properties, is_identified, is_deleted, version) \
             SELECT {}, now() - toIntervalDay(40), {team}, '{{}}', 0, 0, 0 FROM numbers({persons})",
            person("number")
        ),
    )?;
    sql(
        clickhouse,
        db,
        &format!(
            "INSERT INTO person_distinct_id2 (team_id, distinct_id, person_id, is_deleted, version) \
             SELECT {team}, concat('user-', toString(number)), {}, 0, 0 FROM numbers({persons})",
            person("number")
        ),
    )?;
    let names = EVENTS
        .iter()
        .map(|e| format!("'{e}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut offset = 0;
    while offset < n {
        let len = CHUNK.min(n - offset);
        // Five consecutive numbers are one user's funnel: the highest number is the earliest.
        let did = format!("intDiv(number, 5) % {persons}");
        sql(
            clickhouse,
            db,
            &format!(
                "INSERT INTO sharded_events (uuid, event, properties, timestamp, team_id, distinct_id, \
                 created_at, person_id, person_properties, _timestamp) \
                 SELECT generateUUIDv4(number), [{names}][5 - number % 5], \
                 concat('{{\"$browser\": \"', ['Chrome', 'Firefox', 'Safari', 'Edge'][intDiv(number, 5) % 4 + 1], '\"}}'), \
                 toDateTime64(now() - toIntervalSecond(intDiv(number * 2592000, {n})), 6, 'UTC') AS ts, \
                 {team}, concat('user-', toString({did})), ts, {}, '{{}}', now() \
                 FROM numbers({offset}, {len})",
                person(&did)
            ),
        )?;
        offset += len;
    }
    let count = sql(
        clickhouse,
        db,
        &format!("SELECT count() FROM events WHERE team_id = {team} FORMAT TSV"),
    )?;
    if count.trim() != n.to_string() {
        bail!(
            "ClickHouse shows {} events for team {team}, expected {n}",
            count.trim()
        );
    }
    Ok(())
}

fn trends_query() -> Value {
    json!({
        "kind": "TrendsQuery",
        "dateRange": {"date_from": "-30d"},
        "interval": "day",
        "series": [{"kind": "EventsNode", "event": "$pageview", "math": "total"}],
        "breakdownFilter": {"breakdown_type": "event", "breakdown": "$browser"},
    })
}

fn funnel_query() -> Value {
    json!({
        "kind": "FunnelsQuery",
        "dateRange": {"date_from": "-30d"},
        "series": EVENTS.iter().map(|e| json!({"kind": "EventsNode", "event": e})).collect::<Vec<_>>(),
        "funnelsFilter": {"funnelWindowInterval": 14, "funnelWindowIntervalUnit": "day"},
    })
}

/// POSTs `query` to the query API; returns the answer and the wall time in milliseconds.
fn post(
    base: &str,
    team: i64,
    key: &str,
    query: &Value,
    refresh: &str,
) -> anyhow::Result<(Value, f64)> {
    let body = json!({"query": query, "refresh": refresh}).to_string();
    let headers = [
        ("content-type".to_owned(), "application/json".to_owned()),
        ("authorization".to_owned(), format!("Bearer {key}")),
    ];
    let started = Instant::now();
    let r = conformance::http::send(
        base,
        "POST",
        &format!("/api/projects/{team}/query"),
        &headers,
        body.as_bytes(),
    )?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if r.status != 200 {
        bail!(
            "{} answered {}: {}",
            query["kind"],
            r.status,
            r.text().chars().take(600).collect::<String>()
        );
    }
    let answer = r.json().context("the query API's answer is not JSON")?;
    Ok((answer, ms))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Cold (median of `runs`) and cached latency of `query`, in milliseconds; also checks the answer.
fn latency(
    base: &str,
    team: i64,
    key: &str,
    query: &Value,
    runs: usize,
) -> anyhow::Result<(f64, f64, Value)> {
    let mut cold = Vec::new();
    let mut last = Value::Null;
    for _ in 0..runs {
        let (answer, ms) = post(base, team, key, query, "force_blocking")?;
        if answer["is_cached"] != json!(false) {
            bail!(
                "{}: a forced refresh answered from the cache",
                query["kind"]
            );
        }
        cold.push(ms);
        last = answer;
    }
    let (answer, cached) = post(base, team, key, query, "blocking")?;
    if answer["is_cached"] != json!(true) {
        bail!(
            "{}: the second call was not served from the cache",
            query["kind"]
        );
    }
    Ok((median(cold), cached, last))
}

/// Median microseconds of planning and compiling `query` for `team`, in this process.
fn compile_us(query: &Value, team: i64) -> anyhow::Result<f64> {
    let ctx = insights::Context {
        timezone: "UTC".into(),
        now: chrono_now(),
        earliest_event: None,
    };
    let once = || -> anyhow::Result<f64> {
        let started = Instant::now();
        let plan = insights::plan(query, &ctx).map_err(|e| anyhow::anyhow!("plan: {e}"))?;
        let mut c = hogql_compiler::Context::new(team);
        c.timezone = "UTC".into();
        c.limit_context = hogql_compiler::LimitContext::Api;
        hogql_compiler::compile_bound(&plan.hogql, &mut c, &[])
            .map_err(|e| anyhow::anyhow!("compile: {e}"))?;
        Ok(started.elapsed().as_secs_f64() * 1e6)
    };
    once()?;
    let budget = Instant::now() + Duration::from_millis(500);
    let mut times = Vec::new();
    while times.len() < 20 || Instant::now() < budget {
        times.push(once()?);
        if times.len() >= 10_000 {
            break;
        }
    }
    Ok(median(times))
}

/// Now, as naive UTC wall-clock time (the plan's `now`; the compile time does not depend on it).
fn chrono_now() -> chrono::NaiveDateTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
        .unwrap_or_default()
        .naive_utc()
}

/// The server's own parse + compile + bind time of a cold answer (its `timings` other than the
/// ClickHouse execution and the total), in microseconds.
fn server_compile_us(answer: &Value) -> f64 {
    answer["timings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| !matches!(t["k"].as_str(), Some("." | "./clickhouse_execute")))
        .filter_map(|t| t["t"].as_f64())
        .sum::<f64>()
        * 1e6
}

/// Cold and cached latency and the server's compile time of `query`, after `check` of its answer;
/// NaN for each (and a line in `failures`) when the query fails, so one failure does not lose the run.
fn timed(
    base: &str,
    team: i64,
    key: &str,
    query: &Value,
    runs: usize,
    failures: &mut Vec<String>,
    check: impl Fn(&Value) -> anyhow::Result<()>,
) -> (f64, f64, f64) {
    let result = latency(base, team, key, query, runs)
        .and_then(|(cold, cached, answer)| check(&answer).map(|()| (cold, cached, answer)));
    match result {
        Ok((cold, cached, answer)) => (cold, cached, server_compile_us(&answer)),
        Err(e) => {
            let line = format!("{}: {e:#}", query["kind"].as_str().unwrap_or("query"));
            eprintln!("bench insights: {line}");
            failures.push(line);
            (f64::NAN, f64::NAN, f64::NAN)
        }
    }
}

fn measure(
    bin: &Path,
    env: &[(String, String)],
    clickhouse: &str,
    base: &str,
    n: u64,
    runs: usize,
    persons: u64,
) -> anyhow::Result<Row> {
    let (team, key) = create_team(bin, env, &format!("bench {n}"))?;
    eprintln!("bench insights: {n} events for team {team}: loading");
    let started = Instant::now();
    load(clickhouse, team, n, persons)?;
    let load_s = started.elapsed().as_secs_f64();
    eprintln!("bench insights: {n} events loaded in {load_s:.1}s; querying");
    let mut failures = Vec::new();
    let (trends_cold_ms, trends_cached_ms, trends_server_compile_us) = timed(
        base,
        team,
        &key,
        &trends_query(),
        runs,
        &mut failures,
        |answer| {
            let breakdowns = answer["results"].as_array().map_or(0, Vec::len);
            if breakdowns != 4 {
                bail!("expected 4 $browser breakdown series, got {breakdowns}");
            }
            Ok(())
        },
    );
    let (funnel_cold_ms, funnel_cached_ms, funnel_server_compile_us) = timed(
        base,
        team,
        &key,
        &funnel_query(),
        runs,
        &mut failures,
        |answer| {
            let counts: Vec<i64> = answer["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["count"].as_i64())
                .collect();
            eprintln!("bench insights: funnel step counts {counts:?}");
            if counts.len() != 5 || counts[0] == 0 {
                bail!("expected 5 steps with people in the first, got {counts:?}");
            }
            Ok(())
        },
    );
    for f in &mut failures {
        *f = format!("{n} events: {f}");
    }
    Ok(Row {
        events: n,
        load_s,
        trends_cold_ms,
        trends_cached_ms,
        funnel_cold_ms,
        funnel_cached_ms,
        trends_compile_us: compile_us(&trends_query(), team)?,
        funnel_compile_us: compile_us(&funnel_query(), team)?,
        trends_server_compile_us,
        funnel_server_compile_us,
        failures,
    })
}

fn figures(r: &Row) -> [f64; 9] {
    [
        r.load_s,
        r.trends_cold_ms,
        r.trends_cached_ms,
        r.funnel_cold_ms,
        r.funnel_cached_ms,
        r.trends_compile_us,
        r.funnel_compile_us,
        r.trends_server_compile_us,
        r.funnel_server_compile_us,
    ]
}

const HEADERS: [&str; 9] = [
    "load s",
    "trends cold ms",
    "trends cached ms",
    "funnel cold ms",
    "funnel cached ms",
    "trends compile µs",
    "funnel compile µs",
    "trends srv comp µs",
    "funnel srv comp µs",
];

/// The table and the growth ratios between consecutive sizes.
fn render(rows: &[Row], server_profile: &str) -> String {
    let mut out = format!(
        "\n== bench insights (server: {server_profile} hogref; `compile`: plan + compile in this xtask, \
         {} build; `srv comp`: the server's parse + compile + bind of the last cold answer) ==\n",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    out.push_str(&format!("{:>10}", "events"));
    for h in HEADERS {
        out.push_str(&format!(" {h:>18}"));
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!("{:>10}", r.events));
        for f in figures(r) {
            let cell = if f.is_nan() {
                "-".to_owned()
            } else {
                format!("{f:.2}")
            };
            out.push_str(&format!(" {cell:>18}"));
        }
        out.push('\n');
    }
    if rows.len() > 1 {
        out.push_str("growth per step (ratio of each figure to the previous size's):\n");
        for pair in rows.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            out.push_str(&format!(
                "{:>10}",
                format!("x{:.1}", b.events as f64 / a.events as f64)
            ));
            for (fa, fb) in figures(a).iter().zip(figures(b)) {
                let ratio = fb / fa;
                let cell = if ratio.is_finite() {
                    format!("x{ratio:.2}")
                } else {
                    "-".to_owned()
                };
                out.push_str(&format!(" {cell:>18}"));
            }
            out.push('\n');
        }
    }
    for f in rows.iter().flat_map(|r| &r.failures) {
        out.push_str(&format!("failed: {f}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_parsed_and_checked() {
        assert_eq!(
            sizes("100000, 1_000_000").unwrap(),
            vec![100_000, 1_000_000]
        );
        assert!(sizes("0").is_err());
        assert!(sizes("ten").is_err());
        assert!(sizes("").is_err());
    }

    #[test]
    fn both_queries_plan_and_compile() {
        for q in [trends_query(), funnel_query()] {
            assert!(compile_us(&q, 1).unwrap() > 0.0);
        }
    }

    #[test]
    fn table_shows_growth_ratios() {
        let row = |events, k: f64| Row {
            events,
            load_s: k,
            trends_cold_ms: k,
            trends_cached_ms: k,
            funnel_cold_ms: k,
            funnel_cached_ms: k,
            trends_compile_us: k,
            funnel_compile_us: k,
            trends_server_compile_us: k,
            funnel_server_compile_us: k,
            failures: Vec::new(),
        };
        let mut failed = row(10_000, f64::NAN);
        failed
            .failures
            .push("10000 events: FunnelsQuery: 504".into());
        let text = render(&[row(100, 1.0), row(1000, 3.0), failed], "debug");
        assert!(text.contains("x10.0"), "{text}");
        assert!(text.contains("x3.00"), "{text}");
        assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        assert!(
            text.contains("failed: 10000 events: FunnelsQuery: 504"),
            "{text}"
        );
    }
}
