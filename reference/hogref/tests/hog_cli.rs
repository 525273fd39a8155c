//! `hogref hog parse|compile|run FILE` on the fixture programs: the bytecode printed is the fixture's
//! expected bytecode, the AST is a Program, `run` prints what PostHog's VM printed, and errors exit
//! with status 1 and a JSON envelope with stable codes.

use std::path::PathBuf;
use std::process::Command;

fn hog_dir() -> PathBuf {
    conformance::paths::fixtures_dir().join("hog")
}

fn hogref(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hogref"))
        .args(args)
        .output()
        .expect("running hogref");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn compile_prints_the_fixture_bytecode() {
    let program = hog_dir().join("programs/closures.hog");
    let expected = std::fs::read_to_string(hog_dir().join("programs/closures.bytecode.json"))
        .expect("expected bytecode");
    let (code, out) = hogref(&["hog", "compile", program.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0);
    assert_eq!(out, expected);
}

#[test]
fn parse_prints_a_program() {
    let program = hog_dir().join("programs/for_in.hog");
    let (code, out) = hogref(&["hog", "parse", program.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0);
    let ast: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(ast["node"], "Program");
}

#[test]
fn compile_errors_are_a_json_envelope_with_codes() {
    let program = hog_dir().join("compile/err/unknown_function.hog");
    let (code, out) = hogref(&["hog", "compile", program.to_str().expect("utf-8 path")]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["error"], true);
    assert_eq!(v["errors"][0]["code"], "unknown-function");
}

#[test]
fn filter_expressions_compile_to_global_chains() {
    let dir = std::env::temp_dir().join(format!("hogref-hog-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("filter.hogql");
    std::fs::write(&file, "event = '$pageview'").expect("write");
    let (code, out) = hogref(&[
        "hog",
        "compile",
        "--expr",
        file.to_str().expect("utf-8 path"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), r#"["_H",1,32,"$pageview",32,"event",1,1,11]"#);
}

/// `hogref hog run ARGS` with `stdin`: (exit status, stdout, stderr).
fn hogref_run(args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_hogref"))
        .args(["hog", "run"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running hogref");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("writing stdin");
    let out = child.wait_with_output().expect("waiting for hogref");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines PostHog's VM printed for a fixture program (`fixtures/hog/expected/program_NAME.json`).
fn expected_stdout(name: &str) -> String {
    let text = std::fs::read_to_string(hog_dir().join(format!("expected/program_{name}.json")))
        .expect("expected outcome");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["stdout"]
        .as_array()
        .expect("stdout lines")
        .iter()
        .map(|l| format!("{}\n", l.as_str().expect("a line")))
        .collect()
}

#[test]
fn run_prints_what_posthogs_vm_prints() {
    for name in ["arrays", "closures", "try_catch", "strings"] {
        let program = hog_dir().join(format!("programs/{name}.hog"));
        let (code, out) = hogref(&["hog", "run", program.to_str().expect("utf-8 path")]);
        assert_eq!(code, 0, "{name}");
        assert_eq!(out, expected_stdout(name), "{name}");
    }
}

#[test]
fn run_takes_bytecode_json_as_it_is() {
    let bytecode = hog_dir().join("programs/closures.bytecode.json");
    let (code, out) = hogref(&["hog", "run", bytecode.to_str().expect("utf-8 path")]);
    assert_eq!(code, 0);
    assert_eq!(out, expected_stdout("closures"));
}

#[test]
fn run_reads_globals_and_answers_sleep_with_null() {
    let (code, out, err) = hogref_run(
        &[
            "--globals",
            r#"{"event": {"name": "$pageview"}}"#,
            "--result",
            "-",
        ],
        "let x := sleep(5)\nprint(event.name, x)\nreturn [1, 'a']",
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "$pageview null\n[1, 'a']\n");
}

#[test]
fn run_reports_compile_errors_with_codes() {
    let (code, out, err) = hogref_run(&["-"], "print(1)\nprint(nope(1))");
    assert_eq!(code, 1);
    assert_eq!(out, "", "nothing runs when the program does not compile");
    let v: serde_json::Value = serde_json::from_str(err.trim()).expect("JSON on stderr");
    assert_eq!(v["error"], true);
    assert_eq!(v["type"], "CompileError");
    assert_eq!(v["errors"][0]["code"], "unknown-function");
    assert_eq!(v["errors"][0]["start"], 15);
}

#[test]
fn run_reports_runtime_errors_after_the_output() {
    let (code, out, err) = hogref_run(
        &["-"],
        "print('before')\nthrow Error('boom')\nprint('after')",
    );
    assert_eq!(code, 1);
    assert_eq!(out, "before\n");
    let v: serde_json::Value = serde_json::from_str(err.trim()).expect("JSON on stderr");
    assert_eq!(v["type"], "UncaughtHogVMException");
    assert_eq!(v["errors"][0]["code"], "hogvm.uncaught");
    assert_eq!(v["errors"][0]["kind"], "Error");
    assert_eq!(v["errors"][0]["message"], "boom");
}

#[test]
fn run_stops_endless_loops_at_the_time_budget() {
    let (code, out, err) = hogref_run(&["-"], "print('start')\nwhile (true) {}");
    assert_eq!(code, 1);
    assert_eq!(out, "start\n");
    let v: serde_json::Value = serde_json::from_str(err.trim()).expect("JSON on stderr");
    assert_eq!(v["errors"][0]["code"], "hogvm.timeout");
}

#[test]
fn run_refuses_bad_bytecode_and_bad_globals() {
    let (code, _, err) = hogref_run(&["-"], r#"["_X", 1]"#);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(err.trim()).expect("JSON on stderr");
    assert_eq!(v["errors"][0]["code"], "hogvm.invalid_bytecode");
    let (code, out, _) = hogref_run(&["--globals", "[1]", "-"], "print(1)");
    assert_ne!(code, 0);
    assert_eq!(out, "");
}
