//! Faults under load, against the REAL stack (feature `services`): 50 000 events go through capture
//! (HTTP, in-process, Kafka sink) in batches of 100 from 4 concurrent senders that retry a failed
//! request with the same uuids, like the SDKs. Meanwhile the broker is restarted twice and the worker
//! is killed mid-batch and started again. Afterwards ClickHouse (`sharded_events FINAL`) holds every
//! event that got a 200 exactly once, and nothing that was never sent.
//!
//! The broker it restarts is its own (`stack::Stack::private_broker`, SQLite storage, named after
//! `HOGREF_STACK`), never the stack's shared one: if it dies, no other test is affected. Every wait
//! has a deadline; a stuck phase fails with one line naming it and the broker's health and log.
//!
//! tansu 0.6 under this load sometimes loses its storage task for good (its log then shows
//! `UnableToSend` on every request; see `stack::kafka_health`). A monitor probes the broker every few
//! seconds and restarts a broker that failed two probes in a row (at most [`MAX_HEALS`] times): that
//! is one more broker restart, which the guarantee under test must survive anyway, and the report
//! lists each one with the storage errors that caused it.
#![cfg(feature = "services")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use pipeline_kit::{Harness, deadline, post};
use serde_json::json;

/// Events sent; `HOGREF_FAULT_EVENTS` overrides it (a multiple of `BATCH`).
const EVENTS_DEFAULT: usize = 50_000;
const BATCH: usize = 100;
const SENDERS: usize = 4;
const ATTEMPTS: u32 = 8;

fn uuid_of(run: u64, i: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128((u128::from(run) << 64) | i as u128)
}

/// The body of batch `b`: events `b*BATCH ..`, each with a fixed uuid and timestamp, so a retried
/// request carries exactly the same events.
fn batch_body(token: &str, run: u64, b: usize) -> String {
    let events: Vec<_> = (b * BATCH..(b + 1) * BATCH)
        .map(|i| {
            let ms = i % 86_400_000;
            json!({
                "event": "fault_load",
                "distinct_id": format!("user-{}", i % 500),
                "uuid": uuid_of(run, i).to_string(),
                "timestamp": format!("2026-03-01T{:02}:{:02}:{:02}.{:03}Z",
                    ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000),
                "properties": {"i": i, "$lib": "fault-test"},
            })
        })
        .collect();
    json!({"api_key": token, "batch": events}).to_string()
}

/// Most restarts of a broker whose storage died, before the test gives up on the broker.
const MAX_HEALS: usize = 5;

/// The test's private broker, shared by the fault schedule and the health monitor.
type Broker = Arc<Mutex<stack::Stack>>;

/// Longest wait for the load to reach one of its fault points.
const PHASE_DEADLINE: Duration = Duration::from_secs(600);

/// Waits until `accepted` reaches `target` (or the senders are done); past [`PHASE_DEADLINE`], an
/// error naming the phase, the progress and the broker's health.
async fn reach(
    accepted: &AtomicUsize,
    done: &AtomicUsize,
    target: usize,
    phase: &str,
    broker: Option<&Broker>,
) -> anyhow::Result<()> {
    let start = Instant::now();
    while accepted.load(Ordering::Relaxed) < target && done.load(Ordering::Relaxed) < SENDERS {
        if start.elapsed() > PHASE_DEADLINE {
            anyhow::bail!(
                "fault test stuck before {phase}: {} of {target} events accepted after {}s; {}",
                accepted.load(Ordering::Relaxed),
                PHASE_DEADLINE.as_secs(),
                broker_report(broker)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// One line on the private broker: healthy, or why not with its log.
fn broker_report(broker: Option<&Broker>) -> String {
    let Some(broker) = broker else {
        return "the stack's shared broker (not restarted)".to_string();
    };
    let Ok(broker) = broker.lock() else {
        return "the broker's lock is poisoned".to_string();
    };
    match broker.kafka_health() {
        Ok(()) => format!("broker {} healthy", broker.endpoints().kafka_hosts),
        Err(why) => why,
    }
}

/// Probes the broker every 3 s until `stop`; after two failed probes in a row it restarts the broker
/// (at most [`MAX_HEALS`] times) and records why in `heals`.
fn monitor(broker: Broker, stop: Arc<AtomicBool>, heals: Arc<Mutex<Vec<String>>>) {
    let started = Instant::now();
    let mut failed_probes = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(3));
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(mut b) = broker.lock() else { break };
        match b.kafka_health() {
            Ok(()) => failed_probes = 0,
            Err(why) => {
                failed_probes += 1;
                let done = heals.lock().map(|h| h.len()).unwrap_or(MAX_HEALS);
                if failed_probes < 2 || done >= MAX_HEALS {
                    continue;
                }
                eprintln!("fault test: broker unhealthy twice in a row, restarting it: {why}");
                let outcome = match b.restart_kafka() {
                    Ok(secs) => format!("restarted, answered after {secs:.2}s"),
                    Err(e) => format!("restart failed: {e}"),
                };
                failed_probes = 0;
                if let Ok(mut h) = heals.lock() {
                    h.push(format!(
                        "at {:.0}s: {why}; {outcome}",
                        started.elapsed().as_secs_f64()
                    ));
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn accepted_events_survive_broker_and_worker_restarts_exactly_once() -> anyhow::Result<()> {
    let stack_name = std::env::var("HOGREF_STACK").context(
        "HOGREF_STACK is not set: this test restarts the broker of the stack that `cargo xtask test` started \
         (by hand: HOGREF_STACK=<name> after `cargo xtask stack up --name <name>`)",
    )?;
    let state = stack::StackState::load(&stack_name)?;
    // `HOGREF_FAULT_BROKER_RESTARTS=0` leaves the broker alone (to tell broker trouble from worker trouble).
    let local_broker = state.provider == stack::Provider::Local;
    let restart_broker =
        local_broker && std::env::var("HOGREF_FAULT_BROKER_RESTARTS").as_deref() != Ok("0");
    let events: usize = std::env::var("HOGREF_FAULT_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(EVENTS_DEFAULT)
        / BATCH
        * BATCH;
    let started = Instant::now();
    // The broker this test restarts is its own: a broker that dies here must not take the shared one
    // (and every later Kafka test) with it.
    let broker: Option<Broker> = if local_broker {
        let name = format!("{stack_name}-faults-{}", std::process::id());
        Some(Arc::new(Mutex::new(tokio::task::block_in_place(|| {
            stack::Stack::private_broker(&name, Some(stack::TansuStorage::Sqlite))
        })?)))
    } else {
        None
    };
    let h = match &broker {
        Some(b) => {
            let hosts = b
                .lock()
                .map_err(|_| anyhow::anyhow!("broker lock"))?
                .endpoints()
                .kafka_hosts
                .clone();
            Harness::with_kafka("faults", 3, &hosts).await?
        }
        None => Harness::new("faults", 3).await?,
    };
    let monitor_stop = Arc::new(AtomicBool::new(false));
    let heals = Arc::new(Mutex::new(Vec::<String>::new()));
    let monitor_thread = broker.clone().map(|b| {
        let (stop, heals) = (monitor_stop.clone(), heals.clone());
        std::thread::spawn(move || monitor(b, stop, heals))
    });
    let run = u64::from(std::process::id()) << 20 | (started.elapsed().as_nanos() as u64 & 0xfffff);

    let mut worker = h.start_worker().await?;
    let capture = h.start_capture().await?;
    let addr = capture.addr;

    // Senders: batch numbers are handed out in order; each batch is retried until it gets a 200
    // (or ATTEMPTS ran out: then its events are "not accepted" and may or may not be ingested).
    let accepted = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..SENDERS {
        let (accepted, done, next) = (accepted.clone(), done.clone(), next.clone());
        let token = h.team.api_token.clone();
        senders.push(tokio::spawn(async move {
            let mut outcome: Vec<(usize, bool, u32)> = Vec::new();
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= events / BATCH {
                    break;
                }
                let body = batch_body(&token, run, b);
                let mut ok = false;
                let mut attempts = 0;
                while attempts < ATTEMPTS && !ok {
                    attempts += 1;
                    match post(addr, "/batch/", &body).await {
                        Ok((200, _)) => ok = true,
                        Ok(_) | Err(_) => {
                            tokio::time::sleep(Duration::from_millis(100 << attempts.min(5))).await
                        }
                    }
                }
                if ok {
                    accepted.fetch_add(BATCH, Ordering::Relaxed);
                }
                outcome.push((b, ok, attempts));
            }
            done.fetch_add(1, Ordering::Relaxed);
            outcome
        }));
    }

    // Faults, at points of progress: broker restart, worker crash + restart, broker restart.
    let mut faults = Vec::new();
    reach(
        &accepted,
        &done,
        events * 24 / 100,
        "broker restart 1",
        broker.as_ref(),
    )
    .await?;
    let at_first = accepted.load(Ordering::Relaxed);
    if restart_broker && let Some(b) = &broker {
        faults.push(restart("broker restart 1", at_first, b)?);
    }
    eprintln!(
        "fault test: {:?} ({:.1}s)",
        faults.last(),
        started.elapsed().as_secs_f64()
    );
    reach(
        &accepted,
        &done,
        events / 2,
        "the worker crash",
        broker.as_ref(),
    )
    .await?;
    let before_crash = worker.stats.ingested.load(Ordering::Relaxed);
    let at_crash = accepted.load(Ordering::Relaxed);
    let first_stats = worker.stats.clone();
    worker.crash().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    worker = h.start_worker().await?;
    faults.push(format!(
        "worker killed at {at_crash} accepted (it had ingested {before_crash}; retried batches {}, failed commits {}), restarted",
        first_stats.retried_batches.load(Ordering::Relaxed),
        first_stats.failed_commits.load(Ordering::Relaxed),
    ));

    eprintln!(
        "fault test: {:?} ({:.1}s)",
        faults.last(),
        started.elapsed().as_secs_f64()
    );
    reach(
        &accepted,
        &done,
        events * 76 / 100,
        "broker restart 2",
        broker.as_ref(),
    )
    .await?;
    if restart_broker && let Some(b) = &broker {
        let at_second = accepted.load(Ordering::Relaxed);
        faults.push(restart("broker restart 2", at_second, b)?);
    }

    eprintln!(
        "fault test: {:?} ({:.1}s)",
        faults.last(),
        started.elapsed().as_secs_f64()
    );
    let mut outcomes = Vec::new();
    for s in senders {
        // A sender's worst case is bounded: ATTEMPTS requests of at most a minute each per batch.
        let outcome = deadline("a sender to finish its batches", PHASE_DEADLINE, s)
            .await
            .with_context(|| broker_report(broker.as_ref()))??;
        outcomes.extend(outcome);
    }
    let load_secs = started.elapsed().as_secs_f64();
    let accepted_batches: Vec<usize> = outcomes.iter().filter(|o| o.1).map(|o| o.0).collect();
    let retried_requests: u32 = outcomes.iter().map(|o| o.2 - 1).sum();
    let accepted_count = accepted_batches.len() * BATCH;
    assert_eq!(outcomes.len(), events / BATCH);
    // Capture must have accepted most of the load (only requests during an outage may fail).
    assert!(
        accepted_count >= events * 9 / 10,
        "capture accepted only {accepted_count} of {events} events"
    );

    // Everything accepted must arrive; give the worker and ClickHouse's Kafka engine time to catch up.
    let count_sql = "SELECT uniqExact(uuid) AS u, count() AS rows FROM sharded_events";
    h.wait_until(count_sql, Duration::from_secs(300), |r| {
        r.first()
            .and_then(|r| r["u"].as_u64())
            .is_some_and(|u| u as usize >= accepted_count)
    })
    .await
    .with_context(|| broker_report(broker.as_ref()))?;
    let raw = h.rows(count_sql)?;
    // FINAL collapses redelivered copies (same sorting key incl. the uuid): every uuid exactly once.
    let mut present: HashMap<String, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let missing = loop {
        present.clear();
        for row in h.rows(
            "SELECT toString(uuid) AS id, count() AS c FROM sharded_events FINAL GROUP BY uuid",
        )? {
            present.insert(
                row["id"].as_str().unwrap_or_default().to_string(),
                row["c"].as_u64().unwrap_or(0),
            );
        }
        let missing: Vec<usize> = accepted_batches
            .iter()
            .flat_map(|b| b * BATCH..(b + 1) * BATCH)
            .filter(|i| !present.contains_key(&uuid_of(run, *i).to_string()))
            .collect();
        if missing.is_empty() || Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    let total_secs = started.elapsed().as_secs_f64();
    let sent: std::collections::HashSet<String> =
        (0..events).map(|i| uuid_of(run, i).to_string()).collect();
    let strangers = present.keys().filter(|k| !sent.contains(*k)).count();
    let doubled = present.values().filter(|c| **c != 1).count();
    let stats = &worker.stats;
    eprintln!(
        "fault test: {events} events in {} requests of {BATCH} ({retried_requests} retried requests); \
         accepted {accepted_count}; load done after {load_secs:.1}s, all in ClickHouse after {total_secs:.1}s",
        events / BATCH
    );
    for f in &faults {
        eprintln!("  fault: {f}");
    }
    monitor_stop.store(true, Ordering::Relaxed);
    if let Some(t) = monitor_thread {
        let _ = tokio::task::block_in_place(|| t.join());
    }
    for heal in heals.lock().map(|h| h.clone()).unwrap_or_default() {
        eprintln!("  broker storage died, healed by a restart: {heal}");
    }
    eprintln!(
        "  clickhouse raw: {raw:?}; FINAL: {} uuids, {doubled} not exactly once, {} missing, {strangers} never sent; \
         second worker: ingested {}, retried batches {}, failed commits {}",
        present.len(),
        missing.len(),
        stats.ingested.load(Ordering::Relaxed),
        stats.retried_batches.load(Ordering::Relaxed),
        stats.failed_commits.load(Ordering::Relaxed),
    );
    assert!(
        missing.is_empty(),
        "{} accepted events are missing from ClickHouse, e.g. event numbers {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(doubled, 0, "some uuids are not exactly once after FINAL");
    assert_eq!(strangers, 0, "ClickHouse holds events that were never sent");

    capture.stop().await?;
    worker.stop().await?;
    h.cleanup().await?;
    if let Some(b) = broker
        && let Ok(b) = Arc::try_unwrap(b)
    {
        let b = b.into_inner().map_err(|_| anyhow::anyhow!("broker lock"))?;
        tokio::task::block_in_place(|| b.stop())?;
    }
    Ok(())
}

/// Restarts the private broker in place (bounded: a taken port is retried for 30 s, readiness waits
/// 30 s), then checks that it serves from its storage; returns a line for the report.
fn restart(label: &str, at: usize, broker: &Broker) -> anyhow::Result<String> {
    let call = Instant::now();
    let mut broker = broker
        .lock()
        .map_err(|_| anyhow::anyhow!("{label}: the broker's lock is poisoned"))?;
    let secs = tokio::task::block_in_place(|| broker.restart_kafka())
        .with_context(|| format!("{label}: restarting the test's broker"))?;
    broker
        .kafka_health()
        .map_err(|why| anyhow::anyhow!("{label}: the restarted broker is not healthy: {why}"))?;
    Ok(format!(
        "{label} at {at} accepted: broker answered again after {secs:.2}s (call took {:.2}s)",
        call.elapsed().as_secs_f64()
    ))
}
