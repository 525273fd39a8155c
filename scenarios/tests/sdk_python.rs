//! The official posthog-python SDK (PyPI `posthog==7.91.1`, in the venv `cargo xtask test` creates under the
//! cache) sends an identify, captures with properties, a capture with groups, a group identify and an alias to
//! Hogref's capture; capture → Kafka → ingestion worker → Kafka → ClickHouse runs for real, and every field
//! the calls became is checked in ClickHouse (uuid, event, properties, timestamp, team_id, distinct_id,
//! person_id, person properties, distinct ids, the group). Failing checks that are known gaps are listed
//! under `[python]` in `fixtures/sdk/known-gaps.toml`; a listed check that passes fails the test.
#![cfg(feature = "services")]

mod sdk_common;

use std::process::Command;

use sdk_common::{Checks, Pipeline, check_sdk_run, now_us, run_driver, sdk_python, workspace_root};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn posthog_python_calls_land_in_clickhouse() -> anyhow::Result<()> {
    let python = sdk_python()?;
    let p = Pipeline::start("sdk_python").await?;
    let started = now_us();
    let mut cmd = Command::new(python);
    cmd.arg(workspace_root().join("fixtures/sdk/python/driver.py"))
        .arg(p.driver_config());
    let driver = run_driver(cmd)?;
    let ended = now_us();
    assert_eq!(driver["version"], "7.91.1", "{driver}");
    let mut checks = Checks::default();
    check_sdk_run(&p, &mut checks, &driver, "posthog-python", started, ended).await?;
    p.finish().await?;
    checks.finish("python")
}
