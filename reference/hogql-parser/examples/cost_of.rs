//! Prints the parse work (`parse_cost`) of each file given, per entry point, and its time.
fn main() {
    for path in std::env::args().skip(1) {
        let src = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
        for entry in [
            hogql_parser::EntryPoint::Select,
            hogql_parser::EntryPoint::Expr,
            hogql_parser::EntryPoint::OrderExpr,
        ] {
            let t = std::time::Instant::now();
            let cost = hogql_parser::parse_cost(entry, &src);
            println!(
                "{path} {entry:?}: {} bytes, cost {cost}, {:?}",
                src.len(),
                t.elapsed()
            );
        }
    }
}
