//! Fuzz target: any input, every entry point; never panics, and what parses prints back to itself.
#![no_main]

use hogql_parser::{EntryPoint, parse, parse_json, printer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    for entry in [EntryPoint::Expr, EntryPoint::Select, EntryPoint::OrderExpr] {
        let _ = parse_json(entry, src, true);
        if entry == EntryPoint::OrderExpr {
            continue;
        }
        if let Ok(node) = parse(entry, src) {
            let printed = printer::print(&node);
            match parse(entry, &printed) {
                Ok(again) => assert!(
                    again.without_spans() == node.without_spans(),
                    "printer round trip changed the tree\n  input:   {src:?}\n  printed: {printed:?}"
                ),
                Err(e) => panic!(
                    "printed HogQL does not parse: {e}\n  input:   {src:?}\n  printed: {printed:?}"
                ),
            }
        }
    }
});
