//! Fuzz target: any input as a Hog program; never panics, and what parses prints back to the same
//! tree (spans aside), unless it calls a function named `select` or `with` (see below).
#![no_main]

use hogql_parser::ast::{Node, Value};
use hogql_parser::{EntryPoint, parse_json, parse_program, print_program};
use libfuzzer_sys::fuzz_target;

/// Whether the tree holds a call to a function named `select` or `with`: the printer puts an expression
/// statement in parentheses, where PostHog's grammar reads `(select(2))` as a subquery, so such a tree
/// has no printed spelling that parses back the same (the `parse` target makes the same exception).
/// Found by this target: `letuq$eryt select(2) erct(2) erz_` printed `(select(2));`.
fn has_keyword_call(root: &Node) -> bool {
    let mut todo: Vec<&Value> = root.fields.iter().map(|(_, v)| v).collect();
    while let Some(v) = todo.pop() {
        match v {
            Value::Node(n) => {
                if n.kind == "Call"
                    && n.str("name").is_some_and(|name| {
                        name.eq_ignore_ascii_case("select") || name.eq_ignore_ascii_case("with")
                    })
                {
                    return true;
                }
                todo.extend(n.fields.iter().map(|(_, v)| v));
            }
            Value::List(vs) => todo.extend(vs.iter()),
            Value::Map(kvs) => todo.extend(kvs.iter().map(|(_, v)| v)),
            _ => {}
        }
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_json(EntryPoint::Program, src, true);
    if let Ok(tree) = parse_program(src) {
        if has_keyword_call(&tree) {
            return;
        }
        let printed = print_program(&tree);
        let again = parse_program(&printed)
            .unwrap_or_else(|e| panic!("printed program does not parse ({e}):\n{src}\n---\n{printed}"));
        assert!(
            again.without_spans() == tree.without_spans(),
            "printed program parses differently:\n{src}\n---\n{printed}"
        );
    }
});
