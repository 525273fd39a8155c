//! Fuzz target: any bytes as Hog bytecode; the VM never panics and stops within its operation budget.
//!
//! Input that is JSON runs as it is; other input is read as a program (one byte an instruction or
//! operand, a few bytes naming standard-library functions), so that the fuzzer reaches deep into the
//! interpreter instead of the JSON parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

const NAMES: &[&str] = &[
    "print", "concat", "arrayMap", "arrayFilter", "jsonParse", "jsonStringify", "keys", "values", "range",
    "splitByString", "replaceAll", "Error", "HogError", "sleep", "fetch", "toDateTime", "formatDateTime",
    "sortableSemver", "md5Hex", "trim", "substring", "tuple", "length", "arrayReduce", "import",
];

fn program(data: &[u8]) -> Value {
    let mut items = vec![json!("_H"), json!(1)];
    let mut it = data.iter();
    while let Some(&b) = it.next() {
        match b {
            0..=59 => items.push(json!(b)),
            60..=99 => items.push(json!(i64::from(b) - 80)),
            100..=149 => items.push(json!(NAMES[usize::from(b - 100) % NAMES.len()])),
            150..=169 => items.push(json!(f64::from(b) / 7.0)),
            170..=189 => items.push(json!(["a", "", "%", "(?i)x", "1.2.3", "{\"a\":[1]}"][usize::from(b - 170) % 6])),
            190..=199 => items.push(Value::Null),
            200..=209 => items.push(json!(true)),
            _ => items.push(json!(i64::from(b) * 1000)),
        }
    }
    Value::Array(items)
}

fuzz_target!(|data: &[u8]| {
    let json = std::str::from_utf8(data)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .unwrap_or_else(|| program(data));
    let Ok(program) = hogvm::Program::from_json(&json) else { return };
    let mut options = hogvm::Options { max_ops: Some(200_000), memory_limit: 8 << 20, ..hogvm::Options::default() };
    options.async_functions = vec!["fetch".into()];
    let run = hogvm::run(&program, options).expect("a run always reports");
    assert!(run.ops <= 200_000 + 1, "ran past the operation budget");
    // A host done with a returned value releases it: one holding a reference cycle would leak if dropped.
    if let Ok(v) = run.result {
        hogvm::gc::release(v);
    }
});
