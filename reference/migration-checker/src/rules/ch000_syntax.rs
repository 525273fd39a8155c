//! CH000 `syntax`: SQL (or a `${…}` template) the DDL parser cannot read.
//!
//! Bad: `CREATE TABEL IF NOT EXISTS t (a UInt8) ENGINE = ${engine}` (typo), or two statements in one operation.
//!
//! Good: `CREATE TABLE IF NOT EXISTS t (a UInt8) ENGINE = ${engine} ORDER BY a`, one statement per operation.

use super::{Rule, RuleContext, Sink};

pub(crate) const RULE: Rule = Rule {
    code: "CH000",
    name: "syntax",
    summary: "SQL or template that does not parse",
    check,
};

fn check(ctx: &RuleContext<'_>, sink: &mut Sink) {
    for (m, op) in ctx.ops() {
        for problem in &op.problems {
            sink.sql(m, op, &problem.span, problem.message.clone(), "write one statement per operation: CREATE, ALTER, DROP, RENAME, EXCHANGE or TRUNCATE");
        }
    }
}
