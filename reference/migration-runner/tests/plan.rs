//! Plan tests (no services): Hogref's migrations routed over the docker 2-shard topology, and the
//! routing branches on a hand-made topology.

use migration_checker::{Migration, SourceSet, parse_migration};
use migration_runner::plan::{Routing, route};
use migration_runner::topology::Env;
use migration_runner::{Topology, plan};

fn repo(path: &str) -> String {
    conformance::paths::workspace_root()
        .join(path)
        .to_string_lossy()
        .into_owned()
}

fn env() -> Env {
    let vars = [("CLICKHOUSE_PASSWORD".to_string(), "secret".to_string())]
        .into_iter()
        .collect();
    Env {
        kafka_hosts: Some("kafka:9092".into()),
        vars,
        ..Env::default()
    }
}

fn docker_topology() -> Topology {
    let path = repo("migrations/topologies/docker-multinode.toml");
    Topology::from_toml(
        "migrations/topologies/docker-multinode.toml",
        &std::fs::read_to_string(path).unwrap(),
        &env(),
    )
    .unwrap()
}

fn hogref_migrations() -> Vec<Migration> {
    let (migrations, problems) = SourceSet::read(&repo("migrations/clickhouse"))
        .unwrap()
        .migrations();
    assert!(problems.is_empty(), "{problems:?}");
    migrations
}

#[test]
fn hogref_schema_plan_over_two_shards_and_an_ingestion_node() {
    let plan = plan(&docker_topology(), &hogref_migrations()).unwrap();
    insta::assert_snapshot!("docker_2shard_plan", plan.render());
}

#[test]
fn docker_topology_reads_the_password_from_the_named_variable() {
    let topology = docker_topology();
    let auth = topology.auth.as_ref().unwrap();
    assert_eq!(
        (auth.user.as_str(), auth.password.as_str()),
        ("default", "secret")
    );
    let path = repo("migrations/topologies/docker-multinode.toml");
    let no_password = Env {
        kafka_hosts: Some("kafka:9092".into()),
        ..Env::default()
    };
    let err = Topology::from_toml(
        "t.toml",
        &std::fs::read_to_string(path).unwrap(),
        &no_password,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml: the password variable `CLICKHOUSE_PASSWORD` named by [auth] is not set"
    );
}

#[test]
fn hogref_schema_plan_on_a_single_node() {
    let topology = Topology::single_node("http://127.0.0.1:8123", "posthog", &env());
    let plan = plan(&topology, &hogref_migrations()).unwrap();
    assert!(plan.steps.iter().all(|s| s.nodes == ["local"]));
    insta::assert_snapshot!("single_node_plan", plan.render());
}

fn op(roles: &str, sharded: bool, alter: bool) -> Migration {
    let text = format!(
        "[[operations]]\nnode_roles = [{roles}]\nsharded = {sharded}\nis_alter_on_replicated_table = {alter}\nsql = 'ALTER TABLE sharded_x ADD COLUMN IF NOT EXISTS c UInt8'\n"
    );
    parse_migration("0001_x.toml", &text).unwrap()
}

#[test]
fn routing_branches() {
    let text = r#"
layout = "cluster"
database = "posthog"
[[nodes]]
name = "d11"
host = "http://d11:8123"
role = "DATA"
shard = 1
replica = 1
[[nodes]]
name = "d12"
host = "http://d12:8123"
role = "DATA"
shard = 1
replica = 2
[[nodes]]
name = "d21"
host = "http://d21:8123"
role = "DATA"
shard = 2
replica = 1
[[nodes]]
name = "small"
host = "http://small:8123"
role = "INGESTION_SMALL"
"#;
    let topology = Topology::from_toml("t.toml", text, &env()).unwrap();
    let names = |m: &Migration| {
        let (routing, nodes) = route(&topology, &m.operations[0]);
        (
            routing,
            nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )
    };
    assert_eq!(
        names(&op("\"DATA\"", true, true)),
        (Routing::OneHostPerShard, "d11,d21".to_string())
    );
    assert_eq!(
        names(&op("\"DATA\"", false, true)),
        (Routing::OneHost, "d11".to_string())
    );
    assert_eq!(
        names(&op("\"DATA\"", true, false)),
        (Routing::EveryHost, "d11,d12,d21".to_string())
    );
    assert_eq!(
        names(&op("\"INGESTION_SMALL\"", false, false)),
        (Routing::EveryHost, "small".to_string())
    );
    assert_eq!(
        names(&op("\"INGESTION_MEDIUM\"", false, false)),
        (Routing::EveryHost, String::new())
    );
    let err = plan(&topology, &[op("\"INGESTION_MEDIUM\"", false, false)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0001_x operation 1: no node has a role in [INGESTION_MEDIUM]"
    );
}

#[test]
fn topology_errors_are_clear() {
    let err = Topology::from_toml(
        "t.toml",
        "layout = \"cluster\"\ndatabase = \"x\"\nnodes = []\nbogus = 1\n",
        &env(),
    )
    .unwrap_err();
    assert!(
        err.to_string().starts_with("t.toml: unknown field `bogus`"),
        "{err}"
    );
    let err = Topology::from_toml(
        "t.toml",
        "layout = \"cluster\"\ndatabase = \"x\"\n[[nodes]]\nname = \"a\"\nhost = \"h\"\nrole = \"DATA\"\n[clusters]\nposthog = [[\"b\"]]\n",
        &env(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.toml: cluster `posthog` names unknown node `b`"
    );
}

#[test]
fn kafka_tables_need_the_broker_list_from_the_environment() {
    let topology = Topology::single_node("http://127.0.0.1:8123", "posthog", &Env::default());
    let err = plan(&topology, &hogref_migrations()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "0001_events operation 4: a Kafka table needs the broker list: set KAFKA_HOSTS"
    );
}
