//! Every node kind of the parser's table (`hogql_parser::NODE_KINDS`) is handled by the printers and
//! by this crate's lowering: each kind's sample is parsed, printed, parsed back to the same tree,
//! and (for HogQL kinds) lowered to the IR. A failure names the kind.

use hogql_compiler::lower;
use hogql_parser::{EntryPoint, NODE_KINDS, NodeKind, parse, print_program, printer};

/// Kinds the lowering rejects, with why. A kind listed here that starts lowering fails the test, so
/// that the list stays true.
const NOT_LOWERED: &[(&str, &str)] = &[(
    "Block",
    "a lambda with a `{ ... }` body is a Hog construct: SQL has nothing to lower it to",
)];

/// Printed with the printer for its grammar and parsed back: the same tree, spans aside.
fn print_round_trip(k: &NodeKind) -> Result<(), String> {
    let tree = parse(k.entry, k.sample).map_err(|e| format!("the sample does not parse: {e}"))?;
    let printed = match k.entry {
        EntryPoint::Program => print_program(&tree),
        _ => printer::print(&tree),
    };
    let back = parse(k.entry, &printed)
        .map_err(|e| format!("its printed form {printed:?} does not parse: {e}"))?;
    if back.without_spans() != tree.without_spans() {
        return Err(format!(
            "its printed form {printed:?} parses to another tree:\n{back:?}\ninstead of\n{tree:?}"
        ));
    }
    Ok(())
}

/// Lowered to the IR, as a query (SELECT samples) or an expression.
fn lowers(k: &NodeKind) -> Result<(), String> {
    let tree = parse(k.entry, k.sample).map_err(|e| format!("the sample does not parse: {e}"))?;
    let lowered = match k.entry {
        EntryPoint::Select => lower::query(&tree).map(drop),
        _ => lower::expr(&tree).map(drop),
    };
    lowered.map_err(|e| format!("lowering fails: {e:?}"))
}

#[test]
fn every_kind_is_printed_and_lowered() {
    let mut problems = Vec::new();
    for k in NODE_KINDS {
        if let Err(e) = print_round_trip(k) {
            problems.push(format!("{} (sample {:?}): printing: {e}", k.name, k.sample));
        }
        // Hog statements compile to bytecode (`hog-compiler`), not to SQL
        if k.entry == EntryPoint::Program {
            continue;
        }
        let gap = NOT_LOWERED.iter().find(|(name, _)| *name == k.name);
        match (lowers(k), gap) {
            (Ok(()), None) | (Err(_), Some(_)) => {}
            (Err(e), None) => {
                problems.push(format!("{} (sample {:?}): {e}", k.name, k.sample));
            }
            (Ok(()), Some(_)) => {
                problems.push(format!("{} now lowers: take it out of NOT_LOWERED", k.name))
            }
        }
    }
    for (name, _) in NOT_LOWERED {
        if hogql_parser::node_kind(name).is_none() {
            problems.push(format!(
                "NOT_LOWERED names {name}, which is not in NODE_KINDS"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
