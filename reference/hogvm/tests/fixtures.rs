//! Every bytecode case under `fixtures/hog/bytecode/`, and every program under `fixtures/hog/programs/`
//! compiled by hog-compiler (case `program_NAME`), runs on Hogref's VM and must give what PostHog's VM
//! gave (`fixtures/hog/expected/NAME.json`, recorded from the oracle by `tests/oracle.rs`), unless the case
//! is in the checked list `fixtures/hog/expected/divergences.toml`, where it must still differ.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};

fn check(name: &str, case: &serde_json::Value, listed: Option<&String>) -> Result<(), Failed> {
    let path = common::expected_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: no expected outcome ({e}); record it with HOGREF_BLESS=1 cargo xtask test -- -p hogvm --test oracle", path.display()))?;
    let expected: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let actual = common::run_hogref(case);
    match (common::compare(&expected, &actual), listed) {
        (Ok(()), None) | (Err(_), Some(_)) => Ok(()),
        (Err(diff), None) => Err(format!(
            "{} differs from PostHog's VM:\n{diff}",
            common::source(case)
        )
        .into()),
        (Ok(()), Some(reason)) => Err(format!(
            "{} now matches PostHog's VM: remove {name} from divergences.toml ({reason})",
            common::source(case)
        )
        .into()),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Arguments::from_args();
    let divergences = common::divergences()?;
    let cases = common::cases()?;
    for name in divergences.keys() {
        anyhow::ensure!(
            cases.iter().any(|(n, _)| n == name),
            "divergences.toml lists {name}, which is not a case"
        );
    }
    let trials = cases
        .into_iter()
        .map(|(name, case)| {
            let listed = divergences.get(&name).cloned();
            Trial::test(common::source(&case).to_string(), move || {
                check(&name, &case, listed.as_ref())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit()
}
