//! `ingest_bench`: capture throughput and capture-to-ClickHouse latency on a real stack, for
//! `cargo xtask bench ingest` (feature `services`; reads `CLICKHOUSE_URL`, `KAFKA_HOSTS`, `DATABASE_URL`).
//!
//! Everything runs in this one process, each part on its own tokio runtime whose threads carry its name
//! (`capture`, `worker`, `loadgen`), so a `perf record` of the process splits the time by part
//! (`perf report --sort comm`). The load generator is a minimal keep-alive HTTP/1.1 client on loopback.
//!
//! 1. **capture**: for each `--batch` size and each of the `--connections` concurrencies, first the
//!    broker's ceiling: as many senders hand the messages capture builds for one request to capture's own
//!    `KafkaSink` (same settings, topic, keys, values and headers, no HTTP, no decoding) and wait for the
//!    acknowledgements, back to back for `--seconds`; then capture: as many connections send that request
//!    back to back (closed loop) for `--seconds`; capture answers 200 only after the broker acknowledged
//!    every event of the request, so acknowledged events/s = 200-requests × batch / elapsed. The two runs
//!    follow each other so both meet the broker in the same state. In a closed loop, throughput is
//!    concurrency over latency until something saturates, and capture's HTTP round trip adds latency, so
//!    the ratio compares the best of each over the concurrencies (with too few connections both measure
//!    latency, not the broker). The load generator runs in this process on the same cores, and the CPU
//!    line of each run shows what it took beside capture, the producer, the broker and the machine as a
//!    whole. The worker does not run in this phase (its topics get their own prefix).
//! 2. **end to end**: capture and the ingestion worker, Hogref's ClickHouse schema in a fresh database; an
//!    open-loop generator sends `--rate` events/s in requests of `--e2e-batch` events for `--e2e-seconds`. Each
//!    event carries its scheduled send time (`bench_sent_us`); once every event is in ClickHouse, the latency of
//!    each is `inserted_at` (set when the row lands in `sharded_events`, where it is queryable) minus its
//!    scheduled send time, so a late request counts against the latency (no coordinated omission).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use ingest_worker::create_topics;
use pipeline_kit::{Harness, Options};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, Clone)]
struct Args {
    phase: String,
    seconds: f64,
    /// Concurrencies of the capture phase (each batch size runs at each); the end-to-end phase uses the first.
    connections: Vec<usize>,
    batches: Vec<usize>,
    rates: Vec<f64>,
    e2e_seconds: f64,
    e2e_batch: usize,
    partitions: i32,
    distinct_ids: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut a = Args {
        phase: "all".into(),
        seconds: 10.0,
        connections: vec![32, 256],
        batches: vec![1, 100],
        rates: vec![1_000.0, 10_000.0],
        e2e_seconds: 20.0,
        e2e_batch: 50,
        partitions: 3,
        distinct_ids: 1000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--phase" => a.phase = value()?,
            "--seconds" => a.seconds = value()?.parse()?,
            "--connections" => {
                a.connections = value()?
                    .split(',')
                    .map(|c| c.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?
            }
            "--batch" => {
                a.batches = value()?
                    .split(',')
                    .map(|b| b.trim().parse::<usize>())
                    .collect::<Result<_, _>>()?
            }
            "--rate" => {
                a.rates = value()?
                    .split(',')
                    .map(|r| r.trim().parse::<f64>())
                    .collect::<Result<_, _>>()?
            }
            "--e2e-seconds" => a.e2e_seconds = value()?.parse()?,
            "--e2e-batch" => a.e2e_batch = value()?.parse()?,
            "--partitions" => a.partitions = value()?.parse()?,
            "--distinct-ids" => a.distinct_ids = value()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(
        matches!(a.phase.as_str(), "all" | "capture" | "e2e"),
        "--phase is all, capture or e2e"
    );
    anyhow::ensure!(
        !a.connections.is_empty()
            && a.connections.iter().all(|c| *c > 0)
            && a.e2e_batch > 0
            && a.batches.iter().all(|b| *b > 0)
            && a.rates.iter().all(|r| *r > 0.0),
        "connections, batch sizes and rates must be positive"
    );
    Ok(a)
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

fn runtime(name: &str, threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()?)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ingest_bench: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = parse_args()?;
    let stack = pipeline_kit::stack_settings()?;
    let kafka_hosts = stack.kafka.bootstrap_servers();
    let name = format!(
        "bench_ingest_{}_{}",
        std::process::id(),
        unix_micros() / 1000 % 100_000_000
    );
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let capture_rt = runtime("capture", cores)?;
    let loadgen_rt = runtime("loadgen", cores)?;
    println!(
        "ingest bench: {cores} cores, load average {}, run {name}, tansu storage {}",
        load_average(),
        std::env::var("HOGREF_TANSU_STORAGE").unwrap_or_else(|_| "(the stack's default)".into())
    );
    if matches!(args.phase.as_str(), "all" | "capture") {
        capture_phase(&args, &name, &kafka_hosts, &capture_rt, &loadgen_rt)?;
    }
    if matches!(args.phase.as_str(), "all" | "e2e") {
        for (i, rate) in args.rates.iter().enumerate() {
            end_to_end(
                &args,
                *rate,
                &stack,
                &format!("{name}_{i}"),
                &capture_rt,
                &loadgen_rt,
            )?;
        }
    }
    // The runtimes hold producers and the worker; drop them without waiting on idle tasks.
    capture_rt.shutdown_timeout(Duration::from_secs(2));
    loadgen_rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// A keep-alive HTTP/1.1 connection that POSTs JSON and reads `content-length` answers.
struct Conn {
    stream: BufReader<TcpStream>,
    host: String,
    line: String,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(stream),
            host: addr.to_string(),
            line: String::new(),
        })
    }

    /// Sends one POST and returns the status and body.
    async fn post(&mut self, path: &str, body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            self.host,
            body.len()
        );
        let mut request = Vec::with_capacity(head.len() + body.len());
        request.extend_from_slice(head.as_bytes());
        request.extend_from_slice(body);
        self.stream.get_mut().write_all(&request).await?;
        self.line.clear();
        self.stream.read_line(&mut self.line).await?;
        let status: u16 = self
            .line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("bad status line {:?}", self.line))?;
        let mut length = 0usize;
        loop {
            self.line.clear();
            if self.stream.read_line(&mut self.line).await? == 0 {
                bail!("connection closed in the headers");
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse()?;
            }
        }
        let mut out = vec![0; length];
        self.stream.read_exact(&mut out).await?;
        Ok((status, out))
    }
}

/// A request body of `batch` events for `token`, with `props` (a JSON object's inside, no braces) in each.
fn body(token: &str, batch: usize, seq: u64, distinct_ids: usize, props: &str) -> (String, String) {
    let event = |i: u64| {
        format!(
            r#"{{"event":"bench_event","distinct_id":"user-{}","properties":{{"seq":{i},"$current_url":"https://example.com/bench","$browser":"Chrome"{}}}}}"#,
            i % distinct_ids.max(1) as u64,
            props
        )
    };
    if batch == 1 {
        let e = event(seq);
        // Single-event form: the token sits beside the event's own keys.
        (
            "/e/".into(),
            format!(r#"{{"api_key":"{token}",{}"#, &e[1..]),
        )
    } else {
        let events: Vec<String> = (0..batch as u64).map(|i| event(seq + i)).collect();
        (
            "/batch/".into(),
            format!(r#"{{"api_key":"{token}","batch":[{}]}}"#, events.join(",")),
        )
    }
}

#[derive(Debug, Default)]
struct LoadResult {
    ok: u64,
    failed: u64,
    first_failure: String,
    /// Request latencies, microseconds.
    latencies_us: Vec<u64>,
    elapsed: Duration,
}

impl LoadResult {
    /// The `q` quantile of request latency, milliseconds.
    fn quantile(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }

    fn merge(&mut self, other: LoadResult) {
        self.ok += other.ok;
        self.failed += other.failed;
        if self.first_failure.is_empty() {
            self.first_failure = other.first_failure;
        }
        self.latencies_us.extend(other.latencies_us);
    }

    /// Counts one answer: a 200, or a failure (the first one kept with its body).
    fn record(&mut self, status: u16, answer: &[u8]) {
        if status == 200 {
            self.ok += 1;
        } else {
            self.failed += 1;
            if self.first_failure.is_empty() {
                self.first_failure = format!("{status} {}", String::from_utf8_lossy(answer));
            }
        }
    }

    /// The load tasks' results merged, timed from `start`.
    async fn join(
        tasks: Vec<tokio::task::JoinHandle<anyhow::Result<LoadResult>>>,
        start: Instant,
    ) -> anyhow::Result<LoadResult> {
        let mut total = LoadResult::default();
        for t in tasks {
            total.merge(t.await??);
        }
        total.elapsed = start.elapsed();
        Ok(total)
    }
}

fn quantile_ms(sorted_or_not: &[u64], q: f64) -> f64 {
    if sorted_or_not.is_empty() {
        return f64::NAN;
    }
    let mut v = sorted_or_not.to_vec();
    v.sort_unstable();
    let idx = ((v.len() - 1) as f64 * q).round() as usize;
    v[idx.min(v.len() - 1)] as f64 / 1000.0
}

/// `connections` connections, each sending the same request back to back until `duration` is over.
async fn closed_loop(
    addr: std::net::SocketAddr,
    token: &str,
    connections: usize,
    batch: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let (path, payload) = body(token, batch, 0, 1000, "");
    let payload = Arc::new(payload.into_bytes());
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let payload = payload.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = LoadResult::default();
            let mut conn = Conn::open(addr).await?;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                let (status, answer) = conn.post(&path, &payload).await?;
                out.latencies_us.push(t0.elapsed().as_micros() as u64);
                out.record(status, &answer);
            }
            anyhow::Ok(out)
        }));
    }
    LoadResult::join(tasks, start).await
}

/// The messages capture builds from the closed loop's request body of `batch` events (capture's own
/// core, so topic, key, value and headers are exactly capture's).
fn capture_messages(batch: usize) -> anyhow::Result<Arc<Vec<event_model::OutgoingMessage>>> {
    let (path, payload) = body(CAPTURE_TOKEN, batch, 0, 1000, "");
    let request = event_model::HttpRequest {
        endpoint: if path == "/e/" {
            event_model::Endpoint::E
        } else {
            event_model::Endpoint::Batch
        },
        query: "",
        content_type: Some("application/json"),
        content_encoding: None,
        body: payload.as_bytes(),
    };
    let context = event_model::CaptureContext {
        now: chrono::Utc::now(),
        client_ip: "127.0.0.1",
    };
    let mut counter = 0u64;
    let mut random = || {
        counter += 1;
        let mut r = [0u8; 10];
        r[..8].copy_from_slice(&counter.to_le_bytes());
        r
    };
    let captured = event_model::capture(
        &request,
        &event_model::Limits::default(),
        &context,
        &mut random,
    )
    .map_err(|e| anyhow::anyhow!("capture's core rejected the bench body: {e}"))?;
    Ok(Arc::new(captured.messages))
}

/// The producer of the ceiling runs: capture's `KafkaSink`, so settings and the per-message send path
/// (headers, record, queue-full retry, acknowledgement) are capture's own, not a copy that may drift.
fn ceiling_producer(
    kafka_hosts: &str,
    prefix: &str,
) -> anyhow::Result<Arc<capture_server::KafkaSink>> {
    Ok(Arc::new(capture_server::KafkaSink::new(
        kafka_hosts,
        prefix,
    )?))
}

/// The broker's ceiling for capture's traffic: `senders` tasks each hand the `batch` messages capture
/// builds for one request to a producer configured as capture's and wait for every acknowledgement,
/// back to back for `duration`: capture without HTTP and without decoding. `ok` counts acknowledged
/// events.
async fn broker_ceiling(
    sink: Arc<capture_server::KafkaSink>,
    messages: Arc<Vec<event_model::OutgoingMessage>>,
    senders: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    use capture_server::Sink as _;
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..senders {
        let sink = sink.clone();
        let messages = messages.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = LoadResult::default();
            while Instant::now() < deadline {
                let t0 = Instant::now();
                // The sink takes the messages by value, as capture hands over a request's.
                let sent = sink.send(messages.as_ref().clone()).await;
                out.latencies_us.push(t0.elapsed().as_micros() as u64);
                match sent {
                    Ok(()) => out.ok += messages.len() as u64,
                    Err(e) => {
                        out.failed += 1;
                        if out.first_failure.is_empty() {
                            out.first_failure = e.to_string();
                        }
                    }
                }
            }
            anyhow::Ok(out)
        }));
    }
    LoadResult::join(tasks, start).await
}

/// The token of the capture phase's requests.
const CAPTURE_TOKEN: &str = "phc_bench_capture_token";

/// The capture phase: per batch size and per concurrency, the broker's ceiling (a plain producer)
/// and then capture, back to back, so both meet the broker in the same state; the CPU each part used
/// during each run; and per batch size the best of each over the concurrencies, with their ratio.
fn capture_phase(
    args: &Args,
    name: &str,
    kafka_hosts: &str,
    capture_rt: &tokio::runtime::Runtime,
    loadgen_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let prefix = format!("{name}_cap_");
    loadgen_rt.block_on(create_topics(
        kafka_hosts,
        &[format!("{prefix}events_plugin_ingestion")],
        args.partitions,
    ))?;
    let capture = capture_rt.block_on(pipeline_kit::start_capture(kafka_hosts, &prefix))?;
    let addr = capture.addr;
    let sink = ceiling_producer(kafka_hosts, &prefix)?;
    // A short warm-up of both: connections, producer metadata, allocator.
    let warm = Duration::from_secs(1);
    loadgen_rt.block_on(closed_loop(addr, "phc_warmup", 4, 1, warm))?;
    loadgen_rt.block_on(broker_ceiling(sink.clone(), capture_messages(1)?, 4, warm))?;
    let seconds = Duration::from_secs_f64(args.seconds);
    println!(
        "\n== capture against the broker's ceiling: per batch size and concurrency, {} s of a plain producer \
         (capture's KafkaSink, settings and messages, no HTTP) then {} s of capture (closed loop over HTTP), \
         every event acknowledged by the broker ==",
        args.seconds, args.seconds
    );
    println!(
        "{:>6} {:>6} {:>12} {:>9} {:>12} {:>9} {:>9} {:>8} {:>7}",
        "batch",
        "conns",
        "ceiling ev/s",
        "p50 ms",
        "capture ev/s",
        "p50 ms",
        "p99 ms",
        "non-200",
        "ratio"
    );
    let mut summaries = Vec::new();
    for &batch in &args.batches {
        let messages = capture_messages(batch)?;
        let mut best_ceiling = (0.0f64, 0usize, String::new());
        let mut best_capture = (0.0f64, 0usize, String::new());
        for &conns in &args.connections {
            let c0 = Cpu::now();
            let ceiling = loadgen_rt.block_on(broker_ceiling(
                sink.clone(),
                messages.clone(),
                conns,
                seconds,
            ))?;
            let c1 = Cpu::now();
            let capture =
                loadgen_rt.block_on(closed_loop(addr, CAPTURE_TOKEN, conns, batch, seconds))?;
            let c2 = Cpu::now();
            let ceiling_rate = ceiling.ok as f64 / ceiling.elapsed.as_secs_f64();
            let capture_rate = (capture.ok * batch as u64) as f64 / capture.elapsed.as_secs_f64();
            println!(
                "{:>6} {:>6} {:>12.0} {:>9.2} {:>12.0} {:>9.2} {:>9.2} {:>8} {:>7.2}",
                batch,
                conns,
                ceiling_rate,
                ceiling.quantile(0.50),
                capture_rate,
                capture.quantile(0.50),
                capture.quantile(0.99),
                capture.failed,
                capture_rate / ceiling_rate
            );
            let ceiling_cpu = c1.brief(&c0);
            let capture_cpu = c2.brief(&c1);
            println!("         CPU ceiling: {ceiling_cpu}");
            println!("         CPU capture: {capture_cpu}");
            for (what, r) in [("ceiling", &ceiling), ("capture", &capture)] {
                if r.failed > 0 {
                    println!(
                        "         {what}: {} failed; first: {}",
                        r.failed, r.first_failure
                    );
                }
            }
            if ceiling_rate > best_ceiling.0 {
                best_ceiling = (ceiling_rate, conns, ceiling_cpu);
            }
            if capture_rate > best_capture.0 {
                best_capture = (capture_rate, conns, capture_cpu);
            }
        }
        summaries.push(format!(
            "summary: capture batch={batch:<4} broker ceiling {:>9.0} ev/s ({} conns)  capture {:>9.0} ev/s ({} conns)  ratio {:.2}",
            best_ceiling.0,
            best_ceiling.1,
            best_capture.0,
            best_capture.1,
            best_capture.0 / best_ceiling.0
        ));
        summaries.push(format!(
            "summary:   CPU at the best ceiling: {}; at capture's best: {}",
            best_ceiling.2, best_capture.2
        ));
    }
    println!("(load average {})", load_average());
    for line in summaries {
        println!("{line}");
    }
    Ok(())
}

fn end_to_end(
    args: &Args,
    rate: f64,
    stack: &settings::Settings,
    tag: &str,
    capture_rt: &tokio::runtime::Runtime,
    loadgen_rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let setup = Instant::now();
    // The pipeline kit's namespace: topics under their own prefix, Hogref's schema in a fresh
    // ClickHouse database reading them, the worker's schema in a PostgreSQL schema of its own, a team.
    let mut options = Options {
        input_partitions: args.partitions,
        output_partitions: args.partitions,
        connections: 8,
        ..Options::default()
    };
    if let Ok(v) = std::env::var("HOGREF_BENCH_WORKER_BATCH")
        && let Ok(n) = v.parse()
    {
        options.batch_size = n;
    }
    let worker_rt = runtime("worker", 2)?;
    let h = worker_rt.block_on(Harness::create(stack, tag, &options))?;
    let config = h.worker_config();
    // The worker and its consumer run on the worker runtime, capture on its own.
    let worker = worker_rt.block_on(h.start_worker_with(config.clone()))?;
    let stats = worker.stats.clone();
    let capture = capture_rt.block_on(h.start_capture())?;
    let addr = capture.addr;
    println!(
        "\n== end to end: capture → Kafka → worker (PostgreSQL persons) → Kafka → ClickHouse (set up in {:.1}s) ==",
        setup.elapsed().as_secs_f64()
    );
    println!(
        "open loop: {} events/s in requests of {} events for {} s, {} distinct ids, {} partitions, worker batch {}",
        rate,
        args.e2e_batch,
        args.e2e_seconds,
        args.distinct_ids,
        args.partitions,
        config.batch_size
    );

    let cpu_before = Cpu::now();
    let sent = loadgen_rt.block_on(open_loop(addr, &h.team.api_token, rate, args))?;
    let expected = sent.ok * args.e2e_batch as u64;
    println!(
        "sent {} requests ({} events acknowledged, {} non-200) in {:.1}s; request latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; late sends (request started > 10 ms after its slot): {}",
        sent.ok + sent.failed,
        expected,
        sent.failed,
        sent.elapsed.as_secs_f64(),
        sent.quantile(0.5),
        sent.quantile(0.99),
        sent.quantile(1.0),
        LATE.load(Ordering::Relaxed)
    );
    if sent.failed > 0 {
        println!("first failure: {}", sent.first_failure);
    }

    // Wait until every acknowledged event is in ClickHouse.
    let query = |sql: &str| h.rows(sql);
    let wait_start = Instant::now();
    let count_sql = format!(
        "SELECT count() AS n, uniqExact(uuid) AS u FROM sharded_events WHERE team_id = {}",
        h.team.id
    );
    let (rows, unique) = loop {
        let r = query(&count_sql)?;
        let n = r[0]["n"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or(r[0]["n"].as_u64())
            .unwrap_or(0);
        let u = r[0]["u"]
            .as_str()
            .and_then(|s| s.parse::<u64>().ok())
            .or(r[0]["u"].as_u64())
            .unwrap_or(0);
        if u >= expected || wait_start.elapsed() > Duration::from_secs(180) {
            break (n, u);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let drained = wait_start.elapsed().as_secs_f64();
    println!(
        "ClickHouse holds {unique} distinct of {expected} acknowledged events ({rows} rows) {drained:.1}s after the last send; worker ingested {}, dropped {}",
        stats.ingested.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed)
    );
    let ingested = stats.ingested.load(Ordering::Relaxed).max(1);
    println!(
        "worker: {} PostgreSQL transactions, {} statements ({:.3} per event), {} committed batches ({:.0} events per batch)",
        stats.postgres_transactions.load(Ordering::Relaxed),
        stats.postgres_statements.load(Ordering::Relaxed),
        stats.postgres_statements.load(Ordering::Relaxed) as f64 / ingested as f64,
        stats.committed_batches.load(Ordering::Relaxed),
        ingested as f64 / stats.committed_batches.load(Ordering::Relaxed).max(1) as f64
    );
    Cpu::now().report(
        &cpu_before,
        "the end-to-end run, from the first send until ClickHouse held every event",
    );
    let lat = query(&format!(
        "SELECT quantilesExact(0.5, 0.95, 0.99, 1)(toUnixTimestamp64Micro(inserted_at) - JSONExtractUInt(properties, 'bench_sent_us')) AS queryable, \
                quantilesExact(0.5, 0.95, 0.99, 1)(toUnixTimestamp64Micro(assumeNotNull(captured_at)) - JSONExtractUInt(properties, 'bench_sent_us')) AS captured, \
                quantilesExact(0.5, 0.95, 0.99, 1)(toUnixTimestamp64Micro(created_at) - JSONExtractUInt(properties, 'bench_sent_us')) AS emitted, \
                quantilesExact(0.5, 0.95, 0.99, 1)(toUnixTimestamp64Micro(created_at) - toUnixTimestamp64Micro(assumeNotNull(captured_at))) AS capture_to_emit, \
                quantilesExact(0.5, 0.95, 0.99, 1)(toUnixTimestamp64Micro(inserted_at) - toUnixTimestamp64Micro(created_at)) AS emit_to_queryable \
         FROM (SELECT * FROM sharded_events FINAL WHERE team_id = {})",
        h.team.id
    ))?;
    let q = |key: &str, i: usize| -> f64 {
        let v = &lat[0][key][i];
        v.as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(f64::NAN)
            / 1000.0
    };
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>10}",
        "latency from scheduled send, ms", "p50", "p95", "p99", "max"
    );
    for (label, key) in [
        ("to capture's receive time (captured_at)", "captured"),
        ("to the worker's emit of the row (created_at)", "emitted"),
        ("to queryable in sharded_events (inserted_at)", "queryable"),
        (
            "stage: capture's receive to the worker's emit",
            "capture_to_emit",
        ),
        ("stage: the worker's emit to queryable", "emit_to_queryable"),
    ] {
        println!(
            "{:<44} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            label,
            q(key, 0),
            q(key, 1),
            q(key, 2),
            q(key, 3)
        );
    }
    println!("(load average {})", load_average());
    println!(
        "summary: e2e {rate:>6.0} ev/s  queryable p50 {:>7.1} ms  p95 {:>7.1} ms  (stages p95: to capture {:.1} ms, capture to worker emit {:.1} ms, emit to queryable {:.1} ms; {}/{} events, all queryable {drained:.1} s after the last send; {:.2} PostgreSQL statements per event)",
        q("queryable", 0),
        q("queryable", 1),
        q("captured", 1),
        q("capture_to_emit", 1),
        q("emit_to_queryable", 1),
        unique,
        expected,
        stats.postgres_statements.load(Ordering::Relaxed) as f64 / ingested as f64
    );

    // Stop capture and the worker, drop the database and schema; a failure here is not the bench's.
    let _ = capture_rt.block_on(capture.stop());
    let _ = worker_rt.block_on(worker.stop());
    let _ = worker_rt.block_on(h.cleanup());
    worker_rt.shutdown_timeout(Duration::from_secs(2));
    Ok(())
}

/// Requests that started more than 10 ms after their scheduled slot (the generator fell behind).
static LATE: AtomicU64 = AtomicU64::new(0);

/// Sends `rate` events/s in requests of `e2e_batch` events for `e2e_seconds`, over `connections`
/// connections, each event stamped with its request's scheduled send time.
async fn open_loop(
    addr: std::net::SocketAddr,
    token: &str,
    rate: f64,
    args: &Args,
) -> anyhow::Result<LoadResult> {
    let requests = ((rate * args.e2e_seconds) / args.e2e_batch as f64).round() as u64;
    let interval = Duration::from_secs_f64(args.e2e_batch as f64 / rate);
    let start = Instant::now();
    let start_unix = unix_micros();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.connections[0].min(requests.max(1) as usize) {
        let next = next.clone();
        let token = token.to_string();
        let args = args.clone();
        tasks.push(tokio::spawn(async move {
            let mut out = LoadResult::default();
            let mut conn = Conn::open(addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let slot = interval * i as u32;
                let due = start + slot;
                tokio::time::sleep_until(due.into()).await;
                if Instant::now() > due + Duration::from_millis(10) {
                    LATE.fetch_add(1, Ordering::Relaxed);
                }
                let sent_us = start_unix + slot.as_micros() as u64;
                let (path, payload) = body(
                    &token,
                    args.e2e_batch,
                    i * args.e2e_batch as u64,
                    args.distinct_ids,
                    &format!(r#","bench_sent_us":{sent_us}"#),
                );
                let (status, answer) = conn.post(&path, payload.as_bytes()).await?;
                // Latency from the scheduled slot, so a late start counts.
                out.latencies_us.push(due.elapsed().as_micros() as u64);
                out.record(status, &answer);
            }
            anyhow::Ok(out)
        }));
    }
    LoadResult::join(tasks, start).await
}

/// CPU time (utime + stime, in clock ticks of 10 ms) of this process's threads by thread name, and of each
/// stack service named in `HOGREF_BENCH_PIDS` (`name=pid,...`; a service counts with all its descendants,
/// e.g. PostgreSQL's backends).
#[derive(Debug, Clone, Default)]
struct Cpu {
    ticks: std::collections::BTreeMap<String, u64>,
    /// The whole machine's busy and total ticks (`/proc/stat`, every core), other builds included.
    machine: Option<(u64, u64)>,
    at: Option<Instant>,
}

/// `(busy, total)` ticks of every core from `/proc/stat` (busy leaves out idle and iowait).
fn machine_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    let idle = f.get(3)? + f.get(4)?;
    Some((total - idle, total))
}

/// `(ppid, utime + stime)` from a `/proc/.../stat` line.
fn stat_fields(text: &str) -> Option<(u32, u64)> {
    let rest = &text[text.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f.get(1)?.parse().ok()?,
        f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
    ))
}

impl Cpu {
    fn now() -> Cpu {
        let mut ticks = std::collections::BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for t in tasks.flatten() {
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                let name = comm.trim();
                // tokio names every worker thread of a runtime alike; others (main, librdkafka, sqlx) as they are.
                let name = match name {
                    "capture" | "worker" | "loadgen" => format!("bench process: {name} runtime"),
                    n if n.starts_with("rdk:") => "bench process: librdkafka threads".to_string(),
                    _ => "bench process: other threads".to_string(),
                };
                if let Some((_, t)) = std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|s| stat_fields(&s))
                {
                    *ticks.entry(name).or_insert(0) += t;
                }
            }
        }
        let services = std::env::var("HOGREF_BENCH_PIDS").unwrap_or_default();
        if !services.is_empty() {
            // Every process: (pid, ppid, ticks).
            let mut all = Vec::new();
            if let Ok(procs) = std::fs::read_dir("/proc") {
                for p in procs.flatten() {
                    let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
                        continue;
                    };
                    if let Some((ppid, t)) = std::fs::read_to_string(p.path().join("stat"))
                        .ok()
                        .and_then(|s| stat_fields(&s))
                    {
                        all.push((pid, ppid, t));
                    }
                }
            }
            for pair in services.split(',') {
                let Some((name, pid)) = pair.split_once('=') else {
                    continue;
                };
                let Ok(root) = pid.parse::<u32>() else {
                    continue;
                };
                let mut tree = vec![root];
                let mut i = 0;
                while i < tree.len() {
                    let parent = tree[i];
                    tree.extend(all.iter().filter(|p| p.1 == parent).map(|p| p.0));
                    i += 1;
                }
                let sum: u64 = all
                    .iter()
                    .filter(|p| tree.contains(&p.0))
                    .map(|p| p.2)
                    .sum();
                ticks.insert(format!("service: {name}"), sum);
            }
        }
        Cpu {
            ticks,
            machine: machine_ticks(),
            at: Some(Instant::now()),
        }
    }

    /// One line: the cores the whole machine was busy since `before` (of how many), then each part's
    /// cores, busiest first (parts under 0.01 cores left out).
    fn brief(&self, before: &Cpu) -> String {
        let wall = match (before.at, self.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => return String::new(),
        };
        let mut out = match (before.machine, self.machine) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                format!(
                    "machine busy {:.2} of {cores} cores",
                    (b1 - b0) as f64 / (t1 - t0) as f64 * cores as f64
                )
            }
            _ => "machine ?".to_string(),
        };
        let mut rows: Vec<(String, f64)> = self
            .ticks
            .iter()
            .map(|(k, v)| {
                let used = v.saturating_sub(before.ticks.get(k).copied().unwrap_or(0));
                let short = k
                    .trim_start_matches("bench process: ")
                    .trim_start_matches("service: ")
                    .trim_end_matches(" runtime")
                    .trim_end_matches(" threads");
                (short.to_string(), used as f64 / 100.0 / wall)
            })
            .filter(|(_, cores)| *cores >= 0.01)
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (k, cores) in rows {
            out.push_str(&format!(", {k} {cores:.2}"));
        }
        out
    }

    /// Prints the CPU seconds each part used since `before`, and its share of the wall time in cores.
    fn report(&self, before: &Cpu, title: &str) {
        let wall = match (before.at, self.at) {
            (Some(a), Some(b)) => b.duration_since(a).as_secs_f64(),
            _ => return,
        };
        println!("CPU during {title} ({wall:.1} s wall; 1.00 = one core busy all the time):");
        let mut rows: Vec<(String, f64)> = self
            .ticks
            .iter()
            .map(|(k, v)| {
                let used = v.saturating_sub(before.ticks.get(k).copied().unwrap_or(0));
                (k.clone(), used as f64 / 100.0)
            })
            .collect();
        rows.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (k, secs) in rows {
            println!("  {k:<40} {secs:>7.2} s CPU  {:>5.2} cores", secs / wall);
        }
    }
}

/// The 1-minute load average, or `?`.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".to_string())
}
