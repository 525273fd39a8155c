//! Fuzz target: any input as a Hog program; never panics, and what parses prints back to the same
//! tree (spans aside).
#![no_main]

use hogql_parser::{EntryPoint, parse_json, parse_program, print_program};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_json(EntryPoint::Program, src, true);
    if let Ok(tree) = parse_program(src) {
        let printed = print_program(&tree);
        let again = parse_program(&printed)
            .unwrap_or_else(|e| panic!("printed program does not parse ({e}):\n{src}\n---\n{printed}"));
        assert!(
            again.without_spans() == tree.without_spans(),
            "printed program parses differently:\n{src}\n---\n{printed}"
        );
    }
});
