//! Reports of a run: the terminal summary table, JUnit XML for CI, and a self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::{Outcome, RunResult};

/// Per-suite counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SuiteSummary {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed (including known gaps that passed unexpectedly).
    pub failed: usize,
    /// Cases that failed as listed.
    pub known_gaps: usize,
    /// Cases the target could not run.
    pub skipped: usize,
    /// Summed case time.
    pub time: Duration,
}

/// Counts per suite, in first-seen order.
pub fn summarise(run: &RunResult) -> Vec<(String, SuiteSummary)> {
    let mut order: Vec<String> = Vec::new();
    let mut map: BTreeMap<String, SuiteSummary> = BTreeMap::new();
    for r in &run.results {
        let name = r.case.suite.to_string();
        if !map.contains_key(&name) {
            order.push(name.clone());
        }
        let s = map.entry(name).or_default();
        s.time += r.elapsed;
        match &r.outcome {
            Outcome::Passed => s.passed += 1,
            Outcome::Failed(_) | Outcome::UnexpectedPass(_) => s.failed += 1,
            Outcome::KnownGap(_) => s.known_gaps += 1,
            Outcome::Skipped(_) => s.skipped += 1,
        }
    }
    order
        .into_iter()
        .map(|n| {
            let s = map.remove(&n).unwrap_or_default();
            (n, s)
        })
        .collect()
}

/// The terminal summary: failures first (each with its case path), then a table per suite.
pub fn terminal(run: &RunResult, target: &str) -> String {
    let mut out = String::new();
    let failures: Vec<_> = run
        .results
        .iter()
        .filter(|r| r.outcome.is_failure())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nfailures:");
        for r in &failures {
            let detail = match &r.outcome {
                Outcome::Failed(d) | Outcome::UnexpectedPass(d) => d.as_str(),
                _ => "",
            };
            let _ = writeln!(out, "  {} {}\n      {}", r.case.suite, r.case.id, detail);
        }
    }
    let _ = writeln!(out, "\nconformance of {target}");
    let _ = writeln!(
        out,
        "  {:<14} {:>7} {:>7} {:>11} {:>8} {:>9}",
        "suite", "passed", "failed", "known gaps", "skipped", "time"
    );
    for (name, s) in summarise(run) {
        let _ = writeln!(
            out,
            "  {:<14} {:>7} {:>7} {:>11} {:>8} {:>8.1}s",
            name,
            s.passed,
            s.failed,
            s.known_gaps,
            s.skipped,
            s.time.as_secs_f64()
        );
    }
    for (name, reason) in &run.unavailable_suites {
        let _ = writeln!(out, "  {name:<14} not run: {reason}");
    }
    let total_failed = failures.len();
    let verdict = if run.is_success() { "PASSED" } else { "FAILED" };
    let _ = writeln!(
        out,
        "\n{verdict}: {} cases, {total_failed} failed, in {:.1}s",
        run.results.len(),
        run.elapsed.as_secs_f64()
    );
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one `<testsuite>` per suite, one `<testcase>` per case; known gaps and skips are `<skipped>`.
pub fn junit(run: &RunResult) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failed = run
        .results
        .iter()
        .filter(|r| r.outcome.is_failure())
        .count();
    let _ = writeln!(
        out,
        "<testsuites name=\"hogref-conformance\" tests=\"{}\" failures=\"{failed}\" time=\"{:.3}\">",
        run.results.len(),
        run.elapsed.as_secs_f64()
    );
    for (name, s) in summarise(run) {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml_escape(&name),
            s.passed + s.failed + s.known_gaps + s.skipped,
            s.failed,
            s.known_gaps + s.skipped,
            s.time.as_secs_f64()
        );
        for r in run.results.iter().filter(|r| r.case.suite == name) {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&name),
                xml_escape(&r.case.id),
                r.elapsed.as_secs_f64()
            );
            match &r.outcome {
                Outcome::Passed => out.push_str("/>\n"),
                Outcome::Failed(d) | Outcome::UnexpectedPass(d) => {
                    let _ = writeln!(out, "><failure message=\"{}\"/></testcase>", xml_escape(d));
                }
                Outcome::KnownGap(d) | Outcome::Skipped(d) => {
                    let _ = writeln!(out, "><skipped message=\"{}\"/></testcase>", xml_escape(d));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A self-contained HTML report (inline CSS, no scripts, no external resources).
pub fn html(run: &RunResult, target: &str) -> String {
    let mut out = String::new();
    let verdict = if run.is_success() { "passed" } else { "failed" };
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Hogref conformance: {verdict}</title>\
<style>body{{font:14px system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}th{{background:#f3f3f3}}.passed{{color:#176b28}}\
.failed{{color:#b00020;font-weight:bold}}.gap{{color:#8a6d00}}.skipped{{color:#666}}code,pre{{font:12px ui-monospace,monospace}}\
pre{{white-space:pre-wrap;margin:0}}</style></head><body>"
    );
    let _ = write!(
        out,
        "<h1>Hogref conformance: <span class=\"{verdict}\">{verdict}</span></h1><p>Target: <code>{}</code>. \
{} cases in {:.1}s.</p>",
        xml_escape(target),
        run.results.len(),
        run.elapsed.as_secs_f64()
    );
    out.push_str("<table><tr><th>suite</th><th>passed</th><th>failed</th><th>known gaps</th><th>skipped</th><th>time</th></tr>");
    for (name, s) in summarise(run) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"passed\">{}</td><td class=\"{}\">{}</td><td class=\"gap\">{}</td><td>{}</td><td>{:.1}s</td></tr>",
            xml_escape(&name),
            s.passed,
            if s.failed > 0 { "failed" } else { "" },
            s.failed,
            s.known_gaps,
            s.skipped,
            s.time.as_secs_f64()
        );
    }
    for (name, reason) in &run.unavailable_suites {
        let _ = write!(
            out,
            "<tr><td>{}</td><td colspan=\"5\" class=\"skipped\">not run: {}</td></tr>",
            xml_escape(name),
            xml_escape(reason)
        );
    }
    out.push_str("</table>");
    for (name, _) in summarise(run) {
        let _ = write!(
            out,
            "<h2>{}</h2><table><tr><th>case</th><th>outcome</th><th>detail</th></tr>",
            xml_escape(&name)
        );
        for r in run.results.iter().filter(|r| r.case.suite == name) {
            let (class, label, detail) = match &r.outcome {
                Outcome::Passed => ("passed", "passed", ""),
                Outcome::Failed(d) => ("failed", "failed", d.as_str()),
                Outcome::UnexpectedPass(d) => ("failed", "unexpected pass", d.as_str()),
                Outcome::KnownGap(d) => ("gap", "known gap", d.as_str()),
                Outcome::Skipped(d) => ("skipped", "skipped", d.as_str()),
            };
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td class=\"{class}\">{label}</td><td><pre>{}</pre></td></tr>",
                xml_escape(&r.case.id),
                xml_escape(detail)
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Case, CaseResult};

    fn run() -> RunResult {
        let case = |id: &str| Case {
            suite: "s",
            id: id.into(),
            path: id.into(),
        };
        RunResult {
            results: vec![
                CaseResult {
                    case: case("a"),
                    outcome: Outcome::Passed,
                    elapsed: Duration::from_millis(1),
                },
                CaseResult {
                    case: case("b<&>"),
                    outcome: Outcome::Failed("x \"y\"".into()),
                    elapsed: Duration::from_millis(2),
                },
                CaseResult {
                    case: case("c"),
                    outcome: Outcome::KnownGap("r".into()),
                    elapsed: Duration::from_millis(3),
                },
            ],
            unavailable_suites: vec![("capture".into(), "not written yet".into())],
            elapsed: Duration::from_millis(10),
        }
    }

    #[test]
    fn summary_counts_each_outcome() {
        let s = &summarise(&run())[0].1;
        assert_eq!((s.passed, s.failed, s.known_gaps, s.skipped), (1, 1, 1, 0));
        assert!(!run().is_success());
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = junit(&run());
        assert!(xml.contains("<testsuite name=\"s\" tests=\"3\" failures=\"1\" skipped=\"1\""));
        assert!(xml.contains("name=\"b&lt;&amp;&gt;\""));
        assert!(xml.contains("<failure message=\"x &quot;y&quot;\"/>"));
    }

    #[test]
    fn terminal_lists_failures_and_unrun_suites() {
        let text = terminal(&run(), "t");
        assert!(text.contains("s b<&>\n      x \"y\""));
        assert!(text.contains("capture        not run: not written yet"));
        assert!(text.contains("FAILED: 3 cases, 1 failed"));
    }

    #[test]
    fn html_is_self_contained() {
        let page = html(&run(), "t");
        assert!(!page.contains("<script") && !page.contains("http"));
        assert!(page.contains("known gap"));
    }
}
