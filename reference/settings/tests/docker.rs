//! Keeps `docker/` honest without a Docker engine: the compose files parse, every `${VAR}` they use
//! is defined in `docker/.env.example`, every variable there is used, the example validates, the
//! ClickHouse XML is well formed and gets every `from_env` variable it names, and the cluster
//! topology in XML matches the compose services.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use settings::{DotEnvEntry, Settings, VARIABLES, parse_dotenv};
use url::Url;
use yaml_rust2::{Yaml, YamlLoader};

fn docker_dir() -> PathBuf {
    conformance::paths::workspace_root().join("docker")
}

#[track_caller]
fn read(relative: &str) -> String {
    let path = docker_dir().join(relative);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn env_entries() -> Vec<DotEnvEntry> {
    parse_dotenv(&read(".env.example")).unwrap_or_else(|e| panic!("docker/.env.example: {e}"))
}

fn env_example() -> BTreeMap<String, String> {
    env_entries()
        .into_iter()
        .map(|e| (e.key, e.value))
        .collect()
}

/// Every compose file directly under `docker/`, parsed.
fn compose_files() -> BTreeMap<String, Yaml> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(docker_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let is_compose = (name.starts_with("docker-compose") || name.starts_with("compose"))
            && (name.ends_with(".yml") || name.ends_with(".yaml"));
        if is_compose {
            let mut docs = YamlLoader::load_from_str(&read(&name))
                .unwrap_or_else(|e| panic!("docker/{name} is not YAML: {e}"));
            assert_eq!(docs.len(), 1, "docker/{name}: expected one YAML document");
            files.insert(name, docs.remove(0));
        }
    }
    assert!(
        files.contains_key("docker-compose.yml")
            && files.contains_key("docker-compose.multinode.yml"),
        "compose files found: {:?}",
        files.keys()
    );
    files
}

/// Applies YAML merge keys (`<<: *anchor`), which the loader leaves as ordinary keys.
fn merged(yaml: &Yaml) -> Yaml {
    match yaml {
        Yaml::Hash(hash) => {
            let mut out = yaml_rust2::yaml::Hash::new();
            if let Some(base) = hash.get(&Yaml::from_str("<<")) {
                let bases = match base {
                    Yaml::Array(list) => list.clone(),
                    single => vec![single.clone()],
                };
                for base in bases {
                    if let Yaml::Hash(base) = merged(&base) {
                        out.extend(base);
                    }
                }
            }
            for (k, v) in hash {
                if k.as_str() != Some("<<") {
                    out.insert(k.clone(), merged(v));
                }
            }
            Yaml::Hash(out)
        }
        Yaml::Array(list) => Yaml::Array(list.iter().map(merged).collect()),
        other => other.clone(),
    }
}

/// A service with merge keys and `extends` applied (environment maps are combined key by key).
fn service(files: &BTreeMap<String, Yaml>, file: &str, name: &str) -> Yaml {
    let own = merged(&files[file]["services"][name]);
    assert!(!own.is_badvalue(), "docker/{file}: no service {name}");
    let extends = &own["extends"];
    if extends.is_badvalue() {
        return own;
    }
    let base_file = extends["file"].as_str().unwrap_or(file);
    let base = service(files, base_file, extends["service"].as_str().unwrap());
    let (Yaml::Hash(mut out), Yaml::Hash(own)) = (base, own) else {
        panic!("docker/{file}: service {name} is not a mapping");
    };
    for (k, v) in own {
        if k.as_str() == Some("extends") {
            continue;
        }
        match (out.get_mut(&k), &v) {
            (Some(Yaml::Hash(base_env)), Yaml::Hash(env)) if k.as_str() == Some("environment") => {
                base_env.extend(env.clone());
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Yaml::Hash(out)
}

fn service_names(files: &BTreeMap<String, Yaml>, file: &str) -> Vec<String> {
    files[file]["services"]
        .as_hash()
        .unwrap_or_else(|| panic!("docker/{file}: no services"))
        .keys()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect()
}

/// The `environment:` mapping of a resolved service, values rendered as strings.
fn environment(service: &Yaml) -> BTreeMap<String, String> {
    let Some(hash) = service["environment"].as_hash() else {
        return BTreeMap::new();
    };
    hash.iter()
        .map(|(k, v)| {
            let value = match v {
                Yaml::String(s) => s.clone(),
                Yaml::Integer(i) => i.to_string(),
                Yaml::Boolean(b) => b.to_string(),
                other => format!("{other:?}"),
            };
            (k.as_str().unwrap().to_owned(), value)
        })
        .collect()
}

/// Every string (keys included) in a YAML tree.
fn strings<'a>(yaml: &'a Yaml, out: &mut Vec<&'a str>) {
    match yaml {
        Yaml::String(s) => out.push(s),
        Yaml::Array(list) => list.iter().for_each(|y| strings(y, out)),
        Yaml::Hash(hash) => {
            for (k, v) in hash {
                strings(k, out);
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// The variables compose would interpolate in `text`: `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
/// `${VAR?err}`, `${VAR:?err}`, `${VAR:+alt}` (defaults scanned too); `$$` is a literal `$`.
/// Unbraced `$VAR` and a lone `$` are errors: we always brace.
fn interpolated(text: &str) -> Result<Vec<String>, String> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'$') => i += 2,
            Some(b'{') => {
                let start = i + 2;
                let mut depth = 1;
                let mut end = start;
                while end < bytes.len() && depth > 0 {
                    match bytes[end] {
                        b'{' => depth += 1,
                        b'}' => depth -= 1,
                        _ => {}
                    }
                    end += 1;
                }
                if depth != 0 {
                    return Err(format!("unclosed `${{` in {text:?}"));
                }
                let inner = &text[start..end - 1];
                let name_len = inner
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(inner.len());
                let (name, modifier) = inner.split_at(name_len);
                let modifier_ok = modifier.is_empty()
                    || [":-", "-", ":?", "?", ":+", "+"]
                        .iter()
                        .any(|m| modifier.starts_with(m));
                if name.is_empty() || name.as_bytes()[0].is_ascii_digit() || !modifier_ok {
                    return Err(format!("bad interpolation `${{{inner}}}` in {text:?}"));
                }
                names.push(name.to_owned());
                names.extend(interpolated(modifier)?);
                i = end;
            }
            _ => {
                return Err(format!(
                    "unbraced or lone `$` in {text:?} (write `${{VAR}}` or `$$`)"
                ));
            }
        }
    }
    Ok(names)
}

/// Every variable each compose file interpolates.
fn compose_variables(files: &BTreeMap<String, Yaml>) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (file, yaml) in files {
        let mut texts = Vec::new();
        strings(yaml, &mut texts);
        let vars: &mut BTreeSet<String> = out.entry(file.clone()).or_default();
        for text in texts {
            match interpolated(text) {
                Ok(names) => vars.extend(names),
                Err(e) => errors.push(format!("docker/{file}: {e}")),
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    out
}

fn xml_files() -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "xml") {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(&docker_dir(), &docker_dir(), &mut out);
    out.sort();
    out
}

/// `from_env` attribute values in one XML file.
fn from_env_names(xml: &str) -> BTreeSet<String> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter_map(|n| n.attribute("from_env"))
        .map(str::to_owned)
        .collect()
}

/// The `./relative` XML files a service mounts.
fn mounted_xml(service: &Yaml) -> Vec<String> {
    service["volumes"]
        .as_vec()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|v| v.as_str())
        .filter_map(|v| v.split(':').next())
        .filter(|source| source.starts_with("./") && source.ends_with(".xml"))
        .map(|source| source.trim_start_matches("./").to_owned())
        .collect()
}

#[test]
fn env_example_parses_and_validates() {
    let entries = env_entries();
    let settings = Settings::from_env(entries.iter().map(|e| (e.key.as_str(), e.value.as_str())))
        .unwrap_or_else(|e| panic!("docker/.env.example does not validate: {e}"));
    assert_eq!(
        settings.server.capture_port.to_string(),
        env_example()["HOGREF_CAPTURE_PORT"]
    );
    assert_eq!(
        settings.encryption.salt_keys.len(),
        2,
        "the example shows key rotation"
    );
    // The example documents every variable the settings crate reads.
    let example = env_example();
    let undocumented: Vec<_> = VARIABLES
        .iter()
        .filter(|v| !example.contains_key(**v))
        .collect();
    assert!(
        undocumented.is_empty(),
        "missing from docker/.env.example: {undocumented:?}"
    );
}

#[test]
fn compose_files_have_healthchecks_and_pinned_images() {
    let files = compose_files();
    let mut problems = Vec::new();
    for file in files.keys() {
        for name in service_names(&files, file) {
            let svc = service(&files, file, &name);
            if svc["healthcheck"]["test"].is_badvalue() {
                problems.push(format!("docker/{file}: service {name} has no healthcheck"));
            }
            if !svc["build"].is_badvalue() {
                continue; // built here, from the workspace
            }
            let image = svc["image"].as_str().unwrap_or("");
            let tag = image.rsplit_once(':');
            let pinned = tag.is_some_and(|(repo, tag)| {
                !repo.is_empty()
                    && tag != "latest"
                    && tag.contains(|c: char| c.is_ascii_digit())
                    && !tag.contains('$')
            });
            if !pinned {
                problems.push(format!(
                    "docker/{file}: service {name} image `{image}` is not pinned to a version tag"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_compose_variable_is_defined_in_env_example() {
    let files = compose_files();
    let example = env_example();
    let mut missing = Vec::new();
    for (file, vars) in compose_variables(&files) {
        for var in vars {
            if !example.contains_key(&var) {
                missing.push(format!("docker/{file} uses ${{{var}}}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not defined in docker/.env.example:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_env_example_variable_is_used() {
    let files = compose_files();
    let used: BTreeSet<String> = compose_variables(&files)
        .into_values()
        .flatten()
        .chain(VARIABLES.iter().map(|v| (*v).to_owned()))
        .collect();
    let unused: Vec<_> = env_example()
        .into_keys()
        .filter(|k| !used.contains(k))
        .collect();
    assert!(
        unused.is_empty(),
        "docker/.env.example defines variables no compose file and no setting uses: {unused:?}"
    );
}

#[test]
fn hogref_service_passes_exactly_the_settings_variables() {
    let files = compose_files();
    let env = environment(&service(&files, "docker-compose.yml", "hogref"));
    let keys: BTreeSet<&str> = env.keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = VARIABLES.iter().copied().collect();
    assert_eq!(keys, expected);
    for (key, value) in &env {
        assert_eq!(
            interpolated(value).unwrap(),
            [key.as_str()],
            "hogref's {key} must be passed through unchanged, got `{value}`"
        );
    }
    assert_eq!(
        files["docker-compose.yml"]["services"]["hogref"]["command"][0].as_str(),
        Some("serve")
    );
}

#[test]
fn connection_urls_point_at_compose_services() {
    let files = compose_files();
    let services = service_names(&files, "docker-compose.yml");
    let env = env_example();
    let host_of = |var: &str| {
        Url::parse(&env[var])
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned()
    };
    for (var, service) in [
        ("DATABASE_URL", "db"),
        ("CLICKHOUSE_URL", "clickhouse"),
        ("REDIS_URL", "redis"),
    ] {
        assert_eq!(host_of(var), service, "{var}");
        assert!(services.contains(&service.to_owned()), "{service}");
    }
    assert_eq!(env["KAFKA_HOSTS"], "kafka:9092");
    // DATABASE_URL repeats the POSTGRES_* values the db container is created with.
    let db = Url::parse(&env["DATABASE_URL"]).unwrap();
    assert_eq!(db.username(), env["POSTGRES_USER"]);
    assert_eq!(db.password(), Some(env["POSTGRES_PASSWORD"].as_str()));
    assert_eq!(db.path(), format!("/{}", env["POSTGRES_DB"]));
    assert_eq!(db.port(), Some(5432));
}

#[test]
fn clickhouse_xml_is_well_formed() {
    let files = xml_files();
    assert!(files.len() >= 5, "{files:?}");
    for file in files {
        let text = read(&file);
        let doc =
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("docker/{file}: {e}"));
        assert_eq!(
            doc.root_element().tag_name().name(),
            "clickhouse",
            "docker/{file}"
        );
    }
}

#[test]
fn containers_get_every_from_env_variable_they_mount() {
    let files = compose_files();
    let mut problems = Vec::new();
    let mut mounts = 0;
    for file in files.keys() {
        for name in service_names(&files, file) {
            let svc = service(&files, file, &name);
            let env = environment(&svc);
            for xml in mounted_xml(&svc) {
                mounts += 1;
                for var in from_env_names(&read(&xml)) {
                    if !env.contains_key(&var) {
                        problems.push(format!(
                            "docker/{file}: {name} mounts {xml}, which reads {var}"
                        ));
                    }
                }
            }
        }
    }
    assert!(
        mounts >= 9,
        "expected the ClickHouse and Keeper mounts, found {mounts}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn cluster_files_match_their_topologies() {
    let files = compose_files();
    let env = env_example();
    for (compose, clusters) in [
        ("docker-compose.yml", "clickhouse/clusters/single.xml"),
        (
            "docker-compose.multinode.yml",
            "clickhouse/clusters/multinode.xml",
        ),
    ] {
        let text = read(clusters);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let remote = doc
            .descendants()
            .find(|n| n.has_tag_name("remote_servers"))
            .unwrap();
        let names: BTreeSet<&str> = remote
            .children()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        for var in [
            "CLICKHOUSE_CLUSTER",
            "CLICKHOUSE_MIGRATIONS_CLUSTER",
            "CLICKHOUSE_SINGLE_SHARD_CLUSTER",
        ] {
            assert!(
                names.contains(env[var].as_str()),
                "{clusters}: no cluster {} ({var})",
                env[var]
            );
        }
        // Every replica host is a ClickHouse service of the compose file that mounts this file.
        let mounting: BTreeSet<String> = service_names(&files, compose)
            .into_iter()
            .filter(|s| {
                mounted_xml(&service(&files, compose, s))
                    .iter()
                    .any(|x| x == clusters)
            })
            .collect();
        let hosts: BTreeSet<String> = doc
            .descendants()
            .filter(|n| n.has_tag_name("host"))
            .filter_map(|n| n.text())
            .map(str::to_owned)
            .collect();
        assert_eq!(hosts, mounting, "{clusters} vs docker/{compose}");
    }
}

#[test]
fn multinode_nodes_show_their_roles() {
    let files = compose_files();
    let file = "docker-compose.multinode.yml";
    let mut nodes = Vec::new();
    for name in service_names(&files, file) {
        let svc = service(&files, file, &name);
        let env = environment(&svc);
        let Some(role) = env.get("CH_MACRO_HOST_CLUSTER_ROLE") else {
            continue;
        };
        assert_eq!(
            svc["hostname"].as_str(),
            Some(name.as_str()),
            "{name}: hostname"
        );
        assert_eq!(env["CH_MACRO_REPLICA"], name, "{name}: replica macro");
        assert!(
            name.contains(&role.replace('_', "-")),
            "{name}: role {role} not visible in the name"
        );
        nodes.push((name, role.clone(), env["CH_MACRO_SHARD"].clone()));
    }
    assert_eq!(
        nodes,
        [
            ("ch-data-s1".into(), "data".into(), "01".into()),
            ("ch-data-s2".into(), "data".into(), "02".into()),
            ("ch-ingestion-small".into(), "small".into(), "01".into()),
        ]
    );
    // The main cluster has the two data shards, in shard order.
    let text = read("clickhouse/clusters/multinode.xml");
    let doc = roxmltree::Document::parse(&text).unwrap();
    let posthog = doc
        .descendants()
        .find(|n| n.has_tag_name("posthog"))
        .unwrap();
    let shards: Vec<&str> = posthog
        .descendants()
        .filter(|n| n.has_tag_name("host"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(shards, ["ch-data-s1", "ch-data-s2"]);
}

#[test]
fn interpolation_scanner() {
    assert_eq!(
        interpolated("a ${X} b ${Y:-d} ${Z?err} $$HOME").unwrap(),
        ["X", "Y", "Z"]
    );
    assert_eq!(interpolated("${A:-${B}}").unwrap(), ["A", "B"]);
    assert!(interpolated("$HOME").is_err());
    assert!(interpolated("${1X}").is_err());
    assert!(interpolated("${X").is_err());
}
