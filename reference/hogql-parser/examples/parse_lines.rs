//! Reads JSON lines `[entry, src]` on stdin and prints one JSON result per line (for oracle diffs).

use std::io::{BufRead, Write};

use hogql_parser::{EntryPoint, parse_json_string};

fn main() {
    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let positions = std::env::args().any(|a| a == "--positions");
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(serde_json::Value::Array(v)) = serde_json::from_str::<serde_json::Value>(&line)
        else {
            continue;
        };
        let entry = match v[0].as_str() {
            Some("e") => EntryPoint::Expr,
            Some("o") => EntryPoint::OrderExpr,
            Some("p") => EntryPoint::Program,
            _ => EntryPoint::Select,
        };
        let src = v[1].as_str().unwrap_or_default();
        let _ = writeln!(out, "{}", parse_json_string(entry, src, positions));
    }
}
