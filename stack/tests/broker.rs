//! The broker's failure modes, reproduced on a private broker (never the shared one): a restart whose
//! port someone else took fails with a clear error within its deadline instead of hanging, and a broker
//! whose storage broke is reported by the health probe (the two halves of the hang in issue 16).
#![cfg(feature = "services")]

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use stack::{Stack, TansuStorage};

/// A name for a private broker under the running test stack (so `cargo xtask test` reaps it if this
/// binary is killed).
fn private_name(tag: &str) -> String {
    let main = std::env::var("HOGREF_STACK").unwrap_or_else(|_| "stacktest".into());
    format!("{main}-{tag}-{}", std::process::id())
}

#[test]
fn a_restart_whose_port_is_taken_fails_clearly_and_a_free_port_recovers() {
    let mut broker = Stack::private_broker(&private_name("port"), Some(TansuStorage::Sqlite))
        .expect("a private broker starts");
    broker.kafka_health().expect("a fresh broker is healthy");
    let port = broker.state().components[0].port;

    // Someone takes the broker's port while it restarts: the restart retries for its deadline (here
    // 2 s), then fails naming the port and its holder; it does not hang and does not report success.
    let mut squatter = None;
    let err = broker
        .restart_kafka_with(Duration::from_secs(2), || {
            squatter = Some(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("take the port"));
        })
        .expect_err("the port is taken");
    let err = err.to_string();
    assert!(
        err.starts_with(&format!(
            "kafka: cannot start the broker on 127.0.0.1:{port}: the port is held by pid {}",
            std::process::id()
        )),
        "{err}"
    );
    assert!(err.contains("stayed taken for 2s"), "{err}");

    // Once the port is free again, a restart brings the broker back with its storage.
    drop(squatter);
    broker
        .restart_kafka()
        .expect("the broker restarts on its freed port");
    broker
        .kafka_health()
        .expect("the restarted broker is healthy");
    broker.stop().expect("the private broker stops");
}

#[test]
fn a_broker_whose_storage_broke_is_reported_by_the_health_probe() {
    let broker = Stack::private_broker(&private_name("storage"), Some(TansuStorage::Sqlite))
        .expect("a private broker starts");
    broker.kafka_health().expect("a fresh broker is healthy");
    let dir = broker.state().components[0].dir.clone();

    // Break the storage under the running broker: the SQLite file and its WAL become garbage.
    let mut broken = 0;
    for entry in std::fs::read_dir(&dir)
        .expect("the broker's directory")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("tansu.db") {
            let len = entry.metadata().map(|m| m.len()).unwrap_or(0).max(4096);
            std::fs::write(entry.path(), vec![0xde; len as usize]).expect("overwrite");
            broken += 1;
        }
    }
    assert!(broken >= 1, "no tansu.db* file in {}", dir.display());

    // The port still accepts connections, but the probe (a Metadata request, served from storage)
    // reports the broker, and the storage error tansu logged.
    let err = broker
        .kafka_health()
        .expect_err("a broker with broken storage is not healthy");
    let address = &broker.state().components[0].address;
    assert!(
        err.starts_with(&format!(
            "kafka: broker at {address} does not serve from its storage ("
        )),
        "{err}"
    );
    assert!(err.contains("file is not a database"), "{err}");
    broker.stop().expect("the private broker stops");
}

#[test]
fn a_sqlite_broker_has_its_header_index_and_no_lock_errors() {
    let broker = Stack::private_broker(&private_name("index"), Some(TansuStorage::Sqlite))
        .expect("a private broker starts");
    let kafka = &broker.state().components[0];
    assert_eq!(
        kafka.what,
        "tansu broker, storage sqlite://tansu.db (durable)"
    );
    // The index was added before the broker served (by a schema-creating run that was stopped), so
    // no second process wrote to the file while this broker ran.
    let out = std::process::Command::new("python3")
        .current_dir(&kafka.dir)
        .args([
            "-c",
            "import sqlite3; c = sqlite3.connect('file:tansu.db?mode=ro', uri=True);              print(c.execute(\"select sql from sqlite_master where name = 'hogref_header_topition_offset_id'\").fetchone()[0])",
        ])
        .output()
        .expect("python3 runs");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "CREATE INDEX hogref_header_topition_offset_id ON header (topition, offset_id)",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&kafka.log).expect("the broker's log");
    assert!(
        !log.contains("database is locked"),
        "the broker hit a lock on its storage:\n{log}"
    );
    broker.stop().expect("the private broker stops");
}

#[test]
fn memory_storage_is_chosen_by_name_and_says_it_is_not_durable() {
    let broker = Stack::private_broker(&private_name("memory"), Some(TansuStorage::Memory))
        .expect("a private broker with memory storage starts");
    broker.kafka_health().expect("it is healthy");
    let kafka = &broker.state().components[0];
    assert_eq!(
        kafka.what,
        "tansu broker, storage memory://tansu/ (lost on restart)"
    );
    assert!(
        !kafka.dir.join("tansu.db").exists(),
        "memory storage writes no SQLite file"
    );
    broker.stop().expect("the private broker stops");
}
