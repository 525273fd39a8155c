//! Reference cycles a Hog program builds (`arr[2] := arr`, a dict holding itself, a cycle through an
//! error's payload, ...) do not outlive the VM, while everything the caller still holds (the returned
//! value) stays intact.
//!
//! The program hands the containers it builds to the host through the async function `keep`; the host
//! keeps a `Weak` to each, and once the VM is gone every one must be dead.

use std::rc::{Rc, Weak};

use hogvm::value::Dict;
use hogvm::{Outcome, TestHost, Value, Vm};

enum Kept {
    List(Weak<std::cell::RefCell<Vec<Value>>>),
    Dict(Weak<std::cell::RefCell<Dict>>),
}

impl Kept {
    fn of(v: &Value) -> Self {
        match v {
            Value::Array(a) | Value::Tuple(a) => Kept::List(Rc::downgrade(a)),
            Value::Dict(d) => Kept::Dict(Rc::downgrade(d)),
            other => panic!("keep() takes containers, got {}", hogvm::print_value(other)),
        }
    }

    fn alive(&self) -> bool {
        match self {
            Kept::List(w) => w.strong_count() > 0,
            Kept::Dict(w) => w.strong_count() > 0,
        }
    }
}

/// Compiles and runs `src` (bytecode when it starts with `[`), answering `keep(x)` with `null` and
/// keeping a `Weak` to `x`; the VM is dropped before returning.
fn run(src: &str) -> (Result<Value, hogvm::Error>, Vec<String>, Vec<Kept>) {
    let program = if src.trim_start().starts_with('[') {
        hogvm::Program::from_json_str(src).expect("bytecode")
    } else {
        let bytecode = hog_compiler::compile_program(
            src,
            &hog_compiler::Options {
                functions: vec!["keep".into()],
            },
        )
        .unwrap_or_else(|e| panic!("does not compile: {e:?}"));
        hogvm::Program::from_json(&serde_json::Value::Array(bytecode)).expect("bytecode")
    };
    let options = hogvm::Options {
        async_functions: vec!["keep".into()],
        max_async_steps: 10_000,
        ..hogvm::Options::default()
    };
    let mut host = TestHost::default();
    let mut kept = Vec::new();
    let mut vm = Vm::new(&program, options);
    let mut step = vm.run(&mut host);
    let result = loop {
        match step {
            Ok(Outcome::Suspended { name, args }) => {
                assert_eq!(name, "keep");
                kept.extend(args.iter().map(Kept::of));
                drop(args);
                step = vm.resume(Value::Null, &mut host);
            }
            Ok(Outcome::Finished(v)) => break Ok(v),
            Err(e) => break Err(e),
        }
    };
    drop(vm);
    (result, host.stdout, kept)
}

fn alive(kept: &[Kept]) -> usize {
    kept.iter().filter(|k| k.alive()).count()
}

#[test]
fn cycles_built_in_a_loop_die_with_the_vm() {
    let (result, stdout, kept) = run(r"
        for (let i := 0; i < 50; i := i + 1) {
            let arr := [1];
            arr[2] := arr;
            let d := {'n': i};
            d['self'] := d;
            d[d] := arr;
            let a := [1];
            let b := [a];
            a[2] := b;
            let t := tuple(1, [2]);
            t[2][2] := t;
            let e := Error('boom', a);
            a[3] := e;
            let f := () -> arr;
            arr[3] := f;
            keep(arr, d, a, b, t, t[2]);
        }
        let last := [1];
        last[2] := last;
        print(last);
        return 'done'
    ");
    assert_eq!(
        result.map(|v| hogvm::print_value(&v)).ok(),
        Some("'done'".into())
    );
    // Printing a cyclic array is unchanged: the cycle prints as `null`.
    assert_eq!(stdout, ["[1, null]"]);
    assert_eq!(kept.len(), 300);
    assert_eq!(
        alive(&kept),
        0,
        "containers kept alive by cycles after the VM is gone"
    );
}

#[test]
fn cycles_die_when_the_run_fails() {
    let (result, _, kept) = run(r"
        let arr := [1];
        arr[2] := arr;
        keep(arr);
        throw Error('stop')
    ");
    assert!(result.is_err());
    assert_eq!(alive(&kept), 0);
}

#[test]
fn the_returned_value_stays_intact() {
    let (result, _, kept) = run(r"
        let shared := [1, 2];
        let garbage := [shared];
        garbage[2] := garbage;
        let ret := [1];
        ret[2] := ret;
        ret[3] := shared;
        let d := {'r': ret};
        d['d'] := d;
        keep(shared, garbage, ret, d);
        return d
    ");
    let result = result.expect("returns");
    assert_eq!(
        hogvm::print_value(&result),
        "{'r': [1, null, [1, 2]], 'd': null}"
    );
    let [shared, garbage, ret, d] = &kept[..] else {
        panic!("four kept")
    };
    assert!(
        !garbage.alive(),
        "the cycle nothing returned holds is freed"
    );
    assert!(shared.alive() && ret.alive() && d.alive());
    {
        let Value::Dict(dict) = &result else {
            panic!("a dict")
        };
        let r = dict.borrow().get(&hogvm::value::Key::from("r")).cloned();
        let Some(Value::Array(r)) = &r else {
            panic!("r is an array")
        };
        let r = r.borrow();
        assert!(matches!(&r[1], Value::Array(same) if same.borrow().len() == 3));
        assert!(matches!(&r[2], Value::Array(s) if s.borrow().len() == 2));
    }
    // A host done with a cyclic result releases it.
    hogvm::gc::release(result);
    assert_eq!(alive(&kept), 0);
}

#[test]
fn a_long_cycle_is_freed_without_deep_recursion() {
    // A cycle through 200 000 arrays: finding and freeing it must not recurse once per level.
    let (result, _, kept) = run(r"
        let head := [];
        let x := head;
        for (let i := 0; i < 200000; i := i + 1) {
            let n := [];
            x[1] := n;
            x := n;
        }
        x[1] := head;
        keep(head, x);
        return 1
    ");
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(alive(&kept), 0);
}

#[test]
fn a_cycle_the_host_still_holds_survives() {
    // Containers the host holds are never cleared, even when they are in a cycle.
    let program = hog_compiler::compile_program(
        "let a := [1]; a[2] := a; return a",
        &hog_compiler::Options::default(),
    )
    .expect("compiles");
    let program = hogvm::Program::from_json(&serde_json::Value::Array(program)).expect("bytecode");
    let run = hogvm::run(&program, hogvm::Options::default()).expect("runs");
    let a = run.result.expect("returns");
    let Value::Array(rc) = &a else {
        panic!("an array")
    };
    assert_eq!(rc.borrow().len(), 2);
    assert!(matches!(&rc.borrow()[1], Value::Array(same) if Rc::ptr_eq(same, rc)));
    assert_eq!(hogvm::print_value(&a), "[1, null]");
    let weak = Rc::downgrade(rc);
    hogvm::gc::release(a);
    assert_eq!(weak.strong_count(), 0);
}

/// Runs `bytecode` as the cargo-fuzz target does, releasing what it returns.
fn run_as_fuzzed(bytecode: &str) {
    let program = hogvm::Program::from_json_str(bytecode).expect("bytecode");
    let options = hogvm::Options {
        max_ops: Some(200_000),
        memory_limit: 8 << 20,
        async_functions: vec!["fetch".into()],
        ..hogvm::Options::default()
    };
    let run = hogvm::run(&program, options).expect("a run always reports");
    if let Ok(v) = run.result {
        hogvm::gc::release(v);
    }
}

#[test]
fn inputs_the_fuzzer_found_leaking_leave_nothing_alive() {
    let dir = conformance::paths::workspace_root().join("reference/hogvm/tests/leaks");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/leaks")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable");
        let (written, alive) = hogvm::gc::written_alive_after(|| run_as_fuzzed(&text));
        assert!(written > 0, "{} builds no cycle any more", path.display());
        assert_eq!(alive, 0, "{} leaks", path.display());
    }
}

#[test]
fn the_witness_sees_what_a_caller_still_holds() {
    // The check above is not vacuous: a cyclic result the caller keeps is counted alive.
    let bytecode = hog_compiler::compile_program(
        "let a := [1]; a[2] := a; return a",
        &hog_compiler::Options::default(),
    )
    .expect("compiles");
    let program = hogvm::Program::from_json(&serde_json::Value::Array(bytecode)).expect("bytecode");
    let mut kept = None;
    let (written, alive) = hogvm::gc::written_alive_after(|| {
        kept = hogvm::run(&program, hogvm::Options::default())
            .expect("runs")
            .result
            .ok();
    });
    assert_eq!((written, alive), (1, 1));
    hogvm::gc::release(kept.expect("returned"));
}
