//! The official posthog-node SDK (npm `posthog-node@5.70.0`, locked by `fixtures/sdk/node/package-lock.json`
//! and installed by `cargo xtask test` under the cache) sends an identify, captures with properties, a capture
//! with groups, a group identify and an alias to Hogref's capture; capture → Kafka → ingestion worker → Kafka
//! → ClickHouse runs for real, and every field the calls became is checked in ClickHouse (uuid, event,
//! properties, timestamp, team_id, distinct_id, person_id, person properties, distinct ids, the group).
//! Failing checks that are known gaps are listed under `[node]` in `fixtures/sdk/known-gaps.toml`; a listed
//! check that passes fails the test.
#![cfg(feature = "services")]

mod sdk_common;

use std::process::Command;

use sdk_common::{
    Checks, Pipeline, check_sdk_run, now_us, run_driver, sdk_node_modules, workspace_root,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posthog_node_calls_land_in_clickhouse() -> anyhow::Result<()> {
    let modules = sdk_node_modules()?;
    let p = Pipeline::start("sdk_node").await?;
    let started = now_us();
    let mut cmd = Command::new("node");
    cmd.env("NODE_PATH", &modules)
        .arg(workspace_root().join("fixtures/sdk/node/driver.cjs"))
        .arg(p.driver_config());
    let driver = run_driver(cmd)?;
    let ended = now_us();
    assert_eq!(driver["version"], "5.70.0", "{driver}");
    let mut checks = Checks::default();
    check_sdk_run(&p, &mut checks, &driver, "posthog-node", started, ended).await?;
    p.finish().await?;
    checks.finish("node")
}
