//! The node kind table (`hogql_parser::NODE_KINDS`) against the parser: every kind the parser
//! builds is in it, every field the parser sets is listed for its kind, and every sample holds
//! its kind. (That the printers and the lowering handle every kind is checked in
//! `hogql-compiler/tests/node_kinds.rs`.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hogql_parser::{EntryPoint, NODE_KINDS, Node, Value, node_kind, parse};

/// `Node::new(...)` calls of the parser whose kind is computed rather than written as a literal,
/// with every kind each can build (`And`/`Or`, `TypeCast`/`TryCast`). When one is added, list its
/// kinds here.
const COMPUTED_KINDS: &[&str] = &["And", "Or", "TypeCast", "TryCast"];
const COMPUTED_SITES: usize = 2;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The parser's sources: every file of `src/parser/`.
fn parser_sources() -> Vec<(String, String)> {
    let dir = crate_dir().join("src/parser");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("reading src/parser") {
        let path = entry.expect("listing src/parser").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).expect("reading a parser source");
            out.push((path.display().to_string(), text));
        }
    }
    out
}

#[test]
fn every_kind_the_parser_builds_is_in_the_table() {
    let mut built = BTreeSet::new();
    let mut computed = 0;
    for (path, text) in parser_sources() {
        for (at, _) in text.match_indices("Node::new(") {
            let rest = &text[at + "Node::new(".len()..];
            match rest.strip_prefix('"').and_then(|r| r.split_once('"')) {
                Some((kind, _)) => {
                    built.insert(kind.to_string());
                }
                None => {
                    computed += 1;
                    let line = text[..at].lines().count();
                    eprintln!("computed kind at {path}:{line}");
                }
            }
        }
    }
    assert_eq!(
        computed, COMPUTED_SITES,
        "the parser builds nodes of computed kinds at {computed} places (listed above), not \
         {COMPUTED_SITES}: list the kinds a new one builds in COMPUTED_KINDS"
    );
    built.extend(COMPUTED_KINDS.iter().map(|k| k.to_string()));
    let missing: Vec<_> = built.iter().filter(|k| node_kind(k).is_none()).collect();
    assert!(missing.is_empty(), "not in NODE_KINDS: {missing:?}");
    let unbuilt: Vec<_> = NODE_KINDS
        .iter()
        .filter(|k| !built.contains(k.name))
        .map(|k| k.name)
        .collect();
    assert!(
        unbuilt.is_empty(),
        "in NODE_KINDS but never built: {unbuilt:?}"
    );
    let mut names: Vec<_> = NODE_KINDS.iter().map(|k| k.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), NODE_KINDS.len(), "a kind is listed twice");
}

/// Every node of `tree`, itself included (iteratively: fixtures may nest deeply).
fn nodes(tree: &Node) -> Vec<&Node> {
    let mut out = vec![tree];
    let mut todo: Vec<&Value> = tree.fields.iter().map(|(_, v)| v).collect();
    while let Some(v) = todo.pop() {
        match v {
            Value::Node(n) => {
                out.push(n);
                todo.extend(n.fields.iter().map(|(_, v)| v));
            }
            Value::List(items) => todo.extend(items.iter()),
            Value::Map(items) => todo.extend(items.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    out
}

/// Every node of `tree` must be of a kind in the table, with its fields listed there.
fn check_tree(tree: &Node, origin: &str, problems: &mut BTreeSet<String>) {
    for n in nodes(tree) {
        let Some(k) = node_kind(n.kind) else {
            problems.insert(format!("{origin}: kind {} is not in NODE_KINDS", n.kind));
            continue;
        };
        for (field, _) in &n.fields {
            if !k.fields.contains(field) {
                problems.insert(format!(
                    "{origin}: field `{field}` of {} is not in NODE_KINDS",
                    n.kind
                ));
            }
        }
    }
}

fn holds_kind(tree: &Node, kind: &str) -> bool {
    nodes(tree).iter().any(|n| n.kind == kind)
}

/// Sources that parse: the `ok` parse fixtures of HogQL (by entry point) and of Hog programs, and
/// the Hog programs of `fixtures/hog/programs`.
fn corpus() -> Vec<(EntryPoint, PathBuf)> {
    let root = crate_dir().join("../../fixtures");
    let mut out = Vec::new();
    let mut add = |dir: &Path, ext: &str, entry: EntryPoint| {
        let Ok(entries) = std::fs::read_dir(dir) else {
            panic!("reading {}", dir.display());
        };
        for e in entries {
            let path = e.expect("listing fixtures").path();
            if path.extension().is_some_and(|x| x == ext) {
                out.push((entry, path));
            }
        }
    };
    let ok = root.join("hogql/parse/ok");
    add(&ok.join("select"), "hogql", EntryPoint::Select);
    add(&ok.join("expr"), "hogql", EntryPoint::Expr);
    add(&ok.join("order_expr"), "hogql", EntryPoint::OrderExpr);
    add(&root.join("hog/parse/ok"), "hog", EntryPoint::Program);
    add(&root.join("hog/programs"), "hog", EntryPoint::Program);
    out
}

#[test]
fn every_parsed_node_and_field_is_in_the_table() {
    let mut problems = BTreeSet::new();
    let mut parsed = 0;
    for (entry, path) in corpus() {
        let src = std::fs::read_to_string(&path).expect("reading a fixture");
        // some `ok` fixtures are ok only for the oracle (listed divergences): skip what fails here
        if let Ok(tree) = parse(entry, &src) {
            parsed += 1;
            check_tree(&tree, &path.display().to_string(), &mut problems);
        }
    }
    assert!(parsed > 500, "only {parsed} fixtures parsed");
    for k in NODE_KINDS {
        match parse(k.entry, k.sample) {
            Ok(tree) => {
                check_tree(&tree, &format!("sample of {}", k.name), &mut problems);
                if !holds_kind(&tree, k.name) {
                    problems.insert(format!("the sample of {} holds no {}", k.name, k.name));
                }
            }
            Err(e) => {
                problems.insert(format!("the sample of {} does not parse: {e}", k.name));
            }
        }
    }
    let problems: Vec<_> = problems.into_iter().collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
