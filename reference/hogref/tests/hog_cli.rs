//! `hogref hog parse|compile FILE` on the fixture programs: the bytecode printed is the fixture's
//! expected bytecode, the AST is a Program, and errors exit with status 1 and a JSON envelope.

use std::path::{Path, PathBuf};
use std::process::Command;

fn hog_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hog")
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
