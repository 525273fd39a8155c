//! One trial per Hog program fixture: `fixtures/hog/programs/*.hog` and `fixtures/hog/parse/ok/*.hog`
//! must parse with the `program` entry point, `fixtures/hog/parse/err/*.hog` must fail with an error
//! inside the input; plus the program parser's linear-work checks on nested statement shapes.
//!
//! The ASTs themselves are compared with PostHog's parser by `cargo xtask parity --filter program`.

use std::path::{Path, PathBuf};

use hogql_parser::{EntryPoint, parse_cost, parse_program};
use libtest_mimic::{Arguments, Failed, Trial};

fn hog_dir() -> PathBuf {
    conformance::paths::fixtures_dir().join("hog")
}

fn check(path: &Path, expect_ok: bool) -> Result<(), Failed> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match (parse_program(&src), expect_ok) {
        (Ok(node), true) if node.kind == "Program" => Ok(()),
        (Ok(node), true) => Err(format!("parsed to a {} instead of a Program", node.kind).into()),
        (Ok(_), false) => Err(format!("parsed, but the oracle rejects it:\n{src}").into()),
        (Err(e), true) => Err(format!("does not parse: {e} at {:?}\n{src}", e.offsets()).into()),
        (Err(e), false) => {
            let (start, end) = e.offsets();
            let n = src.chars().count();
            if start <= end && end <= n {
                Ok(())
            } else {
                Err(format!("error span {start}..{end} outside the input ({n} chars)").into())
            }
        }
    }
}

/// Nested statement shapes, parametrised by a size `n`: doubling `n` must at most double the work
/// (with slack for constant overheads), whether they parse or not.
type Family = (&'static str, fn(usize) -> String);

const LINEAR: &[Family] = &[
    ("nested blocks", |n| {
        format!("{}x{}", "{ ".repeat(n), " }".repeat(n))
    }),
    ("unclosed blocks", |n| "{ ".repeat(n)),
    ("nested ifs", |n| format!("{}x", "if (a) ".repeat(n))),
    ("nested ifs, bad body", |n| {
        format!("{}:", "if (a) ".repeat(n))
    }),
    ("nested lambdas, unclosed", |n| {
        format!("let f := {}return 1", "x -> { ".repeat(n))
    }),
    ("nested for loops", |n| {
        format!("{}x", "for (let i := 0; i < 1; i := i + 1) ".repeat(n))
    }),
    ("blocks that are dicts", |n| {
        format!("{}1: 2{}", "{ ".repeat(n), " }".repeat(n))
    }),
    ("a long program", |n| "let a := 1; a := a + 1\n".repeat(n)),
];

fn linear(f: fn(usize) -> String) -> Result<(), Failed> {
    let costs: Vec<u64> = [25, 50, 100, 200]
        .iter()
        .map(|&n| parse_cost(EntryPoint::Program, &f(n)))
        .collect();
    for w in costs.windows(2) {
        if w[1] as f64 > 2.3 * w[0] as f64 + 64.0 {
            return Err(format!("work grows super-linearly: {costs:?}").into());
        }
    }
    Ok(())
}

/// Nested lambdas whose block bodies first read as expressions are parsed once per level: the
/// work stays within size times depth, the bound the SELECT parser has for nested attempts.
fn nested_lambda_blocks() -> Result<(), Failed> {
    for n in [25usize, 50, 100, 200] {
        let src = format!(
            "let f := {}return 1{}",
            "x -> { ".repeat(n),
            "; }".repeat(n)
        );
        let cost = parse_cost(EntryPoint::Program, &src);
        let bound = 4 * (src.len() as u64) * (n as u64 + 1);
        if cost > bound {
            return Err(format!("n = {n}: work {cost} above {bound}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    for (folder, ok) in [("programs", true), ("parse/ok", true), ("parse/err", false)] {
        let dir = hog_dir().join(folder);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|x| x == "hog"));
        files.sort();
        if files.is_empty() {
            trials.push(Trial::test(format!("{folder}: no cases"), move || {
                Err(format!("{} holds no .hog case", dir.display()).into())
            }));
        }
        for path in files {
            let name = format!(
                "{folder}/{}",
                path.file_name().unwrap_or_default().to_string_lossy()
            );
            trials.push(Trial::test(name, move || check(&path, ok)));
        }
    }
    for &(name, f) in LINEAR {
        trials.push(Trial::test(format!("linear: {name}"), move || linear(f)));
    }
    trials.push(Trial::test(
        "linear: nested lambdas with blocks",
        nested_lambda_blocks,
    ));
    libtest_mimic::run(&args, trials).exit();
}
