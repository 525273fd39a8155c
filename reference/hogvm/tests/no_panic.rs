//! Arbitrary bytecode never makes the VM panic, and every run stops within its operation budget (the same
//! property the cargo-fuzz target `fuzz/fuzz_targets/run.rs` checks without end).

use proptest::prelude::*;
use serde_json::{Value, json};

const NAMES: &[&str] = &[
    "print",
    "concat",
    "arrayMap",
    "arrayFilter",
    "jsonParse",
    "jsonStringify",
    "keys",
    "values",
    "range",
    "splitByString",
    "replaceAll",
    "Error",
    "HogError",
    "sleep",
    "fetch",
    "toDateTime",
    "formatDateTime",
    "sortableSemver",
    "md5Hex",
    "trim",
    "substring",
    "tuple",
    "length",
    "arrayReduce",
    "import",
];

/// One byte an instruction or operand (mostly valid opcodes, small jumps, STL names, constants).
fn program(data: &[u8]) -> Value {
    let mut items = vec![json!("_H"), json!(1)];
    for &b in data {
        items.push(match b {
            0..=59 => json!(b),
            60..=99 => json!(i64::from(b) - 80),
            100..=149 => json!(NAMES[usize::from(b - 100) % NAMES.len()]),
            150..=169 => json!(f64::from(b) / 7.0),
            170..=189 => {
                json!(["a", "", "%", "(?i)x", "1.2.3", "{\"a\":[1]}"][usize::from(b - 170) % 6])
            }
            190..=199 => Value::Null,
            200..=209 => json!(true),
            _ => json!(i64::from(b) * 1000),
        });
    }
    Value::Array(items)
}

const BUDGET: u64 = 20_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytecode_never_panics(data in prop::collection::vec(any::<u8>(), 0..160)) {
        let program = hogvm::Program::from_json(&program(&data)).expect("has a header");
        let options = hogvm::Options {
            max_ops: Some(BUDGET),
            memory_limit: 4 << 20,
            async_functions: vec!["fetch".into()],
            ..hogvm::Options::default()
        };
        let run = hogvm::run(&program, options).expect("a run always reports");
        prop_assert!(run.ops <= BUDGET + 1, "ran {} ops past a budget of {BUDGET}", run.ops);
    }
}

/// Deep nesting (a loop wrapping an array in an array) stringifies (cut at `MAX_DEPTH`), compares and drops without recursing once
/// per level on the native stack.
#[test]
fn deeply_nested_values_do_not_overflow_the_stack() {
    // a := []; repeat 200000 times: a := [a]; then print(typeof(a)) and return length(a)
    let bytecode = json!([
        "_H",
        1,
        43,
        0,
        33,
        0,
        33,
        200_000,
        36,
        1,
        15,
        40,
        15,
        36,
        0,
        43,
        1,
        37,
        0,
        33,
        1,
        36,
        1,
        6,
        37,
        1,
        39,
        -22,
        36,
        0,
        2,
        "typeof",
        1,
        2,
        "print",
        1,
        35,
        36,
        0,
        2,
        "jsonStringify",
        1,
        2,
        "length",
        1,
        2,
        "print",
        1,
        35,
        36,
        0,
        36,
        0,
        11,
        2,
        "print",
        1,
        35,
        36,
        0,
        2,
        "length",
        1,
        38
    ]);
    let program = hogvm::Program::from_json(&bytecode).expect("valid");
    let run = hogvm::run(&program, hogvm::Options::default()).expect("runs");
    assert_eq!(run.stdout, ["array", "20004", "true"], "{:?}", run.result);
    assert_eq!(hogvm::print_value(&run.result.expect("returns")), "1");
}
