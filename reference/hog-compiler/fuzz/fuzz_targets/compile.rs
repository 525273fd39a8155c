//! Fuzz target: any text as a Hog program (or, after a leading `=`, a HogQL filter expression) to
//! bytecode; the compiler never panics, and what it compiles loads in HogVM and runs to an outcome within
//! the operation budget without a panic.
//!
//! The budgets are small (100,000 operations, 1 MB of stack, so 16 MB allocated over the run): a native
//! call is one operation however much it copies, so a loop growing an array with `arrayPushBack` does
//! quadratic work that only the allocation budget bounds (the first run's timeout, under the sanitizer,
//! with 8 MB: `for (let i := 0; i < 5; i := i + 0) { acc := arrayPushBack(acc, i * i) }`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let options = hog_compiler::Options::default();
    let compiled = match src.strip_prefix('=') {
        Some(expr) => hog_compiler::compile_expr(expr, &options),
        None => hog_compiler::compile_program(src, &options),
    };
    let Ok(bytecode) = compiled else { return };
    let json = serde_json::Value::Array(bytecode);
    let program = hogvm::Program::from_json(&json).expect("compiled bytecode loads in HogVM");
    let options = hogvm::Options {
        max_ops: Some(100_000),
        memory_limit: 1 << 20,
        ..hogvm::Options::default()
    };
    let run = hogvm::run(&program, options).expect("a run always reports");
    assert!(run.ops <= 100_000 + 1, "ran past the operation budget");
    // A host done with a returned value releases it: one holding a reference cycle would leak if dropped.
    if let Ok(v) = run.result {
        hogvm::gc::release(v);
    }
});
