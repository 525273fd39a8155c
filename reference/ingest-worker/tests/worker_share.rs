//! Two workers split the partitions of `events_plugin_ingestion` (static share: partition `p` belongs
//! to worker `p % 2`), against the REAL stack (feature `services`). One is killed mid-stream (its task
//! aborted wherever it is, like a crash) and a replacement with the same index finishes its
//! partitions from the offsets the killed one committed: nothing is lost, and nothing doubles once
//! ClickHouse collapses redeliveries (`FINAL`) and PostgreSQL holds one person per distinct id.
#![cfg(feature = "services")]

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ingest_worker::Worker;
use pipeline_kit::{Harness, RunningWorker, post, run_worker};
use serde_json::{Value, json};

fn as_u64(v: &Value) -> u64 {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(u64::MAX)
}

/// Starts worker `index` of `count` and waits until it holds its partitions.
async fn start_share(h: &Harness, index: u32, count: u32) -> anyhow::Result<RunningWorker> {
    let worker =
        Worker::new(h.worker_config(), h.pool.clone())?.with_partition_share(index, count)?;
    run_worker(worker, &format!("worker {index} of {count}")).await
}

/// Sends events `from..to` (distinct ids `user-0..40`, so every partition gets some) in requests of 50.
async fn send(h: &Harness, addr: std::net::SocketAddr, from: u32, to: u32) -> anyhow::Result<()> {
    let events: Vec<Value> = (from..to)
        .map(|i| {
            json!({"event": "tick", "distinct_id": format!("user-{}", i % 40),
                "uuid": format!("0191d000-0000-7000-8000-{i:012}"),
                "timestamp": "2026-03-01T10:00:00Z", "properties": {"$set": {"last": i}, "i": i}})
        })
        .collect();
    for chunk in events.chunks(50) {
        let body = json!({"api_key": h.team.api_token, "batch": chunk});
        let (status, text) = post(addr, "/batch/", &body.to_string()).await?;
        anyhow::ensure!(status == 200, "capture answered {status}: {text}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_partitions_and_a_killed_one_is_replaced() -> anyhow::Result<()> {
    let h = Harness::new("ingest_share", 4).await?;
    // An index outside the count is refused before anything runs.
    assert!(
        Worker::new(h.worker_config(), h.pool.clone())?
            .with_partition_share(2, 2)
            .is_err()
    );
    let first = start_share(&h, 0, 2).await?;
    let second = start_share(&h, 1, 2).await?;
    let capture = h.start_capture().await?;

    send(&h, capture.addr, 0, 400).await?;
    // Both workers take part: each ingests events of its own partitions.
    let count_sql = "SELECT count() AS n, uniqExact(uuid) AS u FROM sharded_events FINAL";
    h.wait_until(count_sql, Duration::from_secs(60), |rows| {
        rows.first().is_some_and(|r| as_u64(&r["u"]) >= 400)
    })
    .await?;
    let by_first = first.stats.ingested.load(Ordering::Relaxed);
    let by_second = second.stats.ingested.load(Ordering::Relaxed);
    assert!(
        by_first > 0 && by_second > 0 && by_first + by_second == 400,
        "worker 0 ingested {by_first}, worker 1 {by_second}"
    );

    // Worker 1 crashes while events keep coming; worker 0 goes on with its partitions only.
    let sending = {
        let addr = capture.addr;
        let token = h.team.api_token.clone();
        tokio::spawn(async move {
            let events: Vec<Value> = (400..800u32)
                .map(|i| {
                    json!({"event": "tick", "distinct_id": format!("user-{}", i % 40),
                        "uuid": format!("0191d000-0000-7000-8000-{i:012}"),
                        "timestamp": "2026-03-01T10:00:00Z", "properties": {"$set": {"last": i}, "i": i}})
                })
                .collect();
            for chunk in events.chunks(50) {
                let body = json!({"api_key": token, "batch": chunk});
                let (status, text) = post(addr, "/batch/", &body.to_string()).await?;
                anyhow::ensure!(status == 200, "capture answered {status}: {text}");
            }
            anyhow::Ok(())
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    second.crash().await;
    sending.await??;
    // Without a worker for index 1 its partitions wait; a replacement resumes them.
    let replacement = start_share(&h, 1, 2).await?;
    let got = h
        .wait_until(count_sql, Duration::from_secs(90), |rows| {
            rows.first().is_some_and(|r| as_u64(&r["u"]) >= 800)
        })
        .await?;
    assert_eq!(as_u64(&got[0]["n"]), 800, "nothing doubled: {got:?}");
    let uuids: BTreeSet<String> = h
        .rows("SELECT toString(uuid) AS u FROM sharded_events FINAL")?
        .iter()
        .filter_map(|r| r["u"].as_str().map(str::to_string))
        .collect();
    let expected: BTreeSet<String> = (0..800u32)
        .map(|i| format!("0191d000-0000-7000-8000-{i:012}"))
        .collect();
    assert_eq!(uuids, expected, "nothing lost");
    let (persons, ids): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM person_distinct_id)",
    )
    .fetch_one(&h.pool)
    .await?;
    assert_eq!((persons, ids), (40, 40), "one person per distinct id");

    replacement.stop().await?;
    first.stop().await?;
    capture.stop().await?;
    h.cleanup().await
}
