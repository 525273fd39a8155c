//! The `min_timestamp` pre-filter of the sessions v1 subquery, as PostHog's
//! `SessionMinTimestampWhereClauseExtractorV1` derives it from the WHERE of the SELECT that reads
//! `sessions` (or `events.session`); for sessions v2 the same bounds apply to the session's
//! start read from its UUIDv7 key ([`bound_target`], PostHog's `…ExtractorV2`).
//!
//! `raw_sessions` keeps several rows of aggregate states per session (one per day at least), so
//! the subquery must see every row of a session; a timestamp condition of the outer query still
//! narrows it, widened by [`SESSION_BUFFER_DAYS`] on each side:
//!
//! * `ts > c`, `ts >= c` → `raw_sessions.min_timestamp >= (c - toIntervalDay(3))`;
//! * `ts < c`, `ts <= c` → `raw_sessions.min_timestamp <= (c + toIntervalDay(3))`;
//! * `ts = c` → both; `c op ts` is flipped first; `less(ts, c)` and the other comparison calls
//!   count like the operators.
//!
//! `ts` is a timestamp field (`timestamp`, `min_timestamp`, `$start_timestamp`), possibly under
//! `toTimeZone`, `toDateTime`, `toStartOf…`, `assumeNotNull` or `parseDateTime64BestEffortOrNull`
//! or shifted by a constant; `c` is a constant (literals, `now()`, `today()`, the same wrappers
//! and interval arithmetic over constants). Anything else counts as TRUE, which is always safe
//! (it only reads more rows): an AND keeps the parts it understands, an OR with an unknown part
//! gives no filter at all.

use crate::compile::grow;
use crate::ir::{ArithOp, Call, ChainPart, CompareOp, Constant, Expr, ExprKind};

/// The buffer, in days, on each side of a timestamp bound.
pub const SESSION_BUFFER_DAYS: i64 = 3;

/// Functions whose result is constant (or a timestamp field expression) when their first
/// argument is.
const FIRST_ARG_PRESERVING: &[&str] = &[
    "parseDateTime64BestEffortOrNull",
    "toDateTime",
    "toTimeZone",
    "assumeNotNull",
    "toStartOfDay",
    "toStartOfWeek",
    "toStartOfMonth",
    "toStartOfQuarter",
    "toStartOfYear",
];

const INTERVALS: &[&str] = &[
    "toIntervalYear",
    "toIntervalMonth",
    "toIntervalWeek",
    "toIntervalDay",
    "toIntervalHour",
    "toIntervalMinute",
    "toIntervalSecond",
];

const TIMESTAMP_FIELDS: &[&str] = &["timestamp", "min_timestamp", "$start_timestamp"];

/// The pre-filter over `target` (a [`bound_target`]) for a SELECT whose WHERE is `where_`, or
/// `None` when nothing can be pushed down.
pub fn inner_where(where_: Option<&Expr>, target: &Expr) -> Option<Expr> {
    match visit(where_?, target) {
        Tri::Expr(e) => Some(e),
        Tri::True | Tri::False => None,
    }
}

/// What the bounds of a sessions subquery over `raw_table` compare: sessions v1 rows carry
/// `min_timestamp`; sessions v2 rows are keyed by `session_id_v7`, a UUIDv7 whose top 48 bits
/// are the session's start in milliseconds, so PostHog's `SessionMinTimestampWhereClauseExtractorV2`
/// bounds `fromUnixTimestamp(intDiv(_toUInt64(bitShiftRight(session_id_v7, 80)), 1000))`, which
/// the table is ordered by.
pub fn bound_target(raw_table: &str, group_by: &[&str]) -> Expr {
    let field = |name: &str| {
        Expr::new(ExprKind::Field(vec![
            ChainPart::Name(raw_table.to_owned()),
            ChainPart::Name(name.to_owned()),
        ]))
    };
    if group_by != ["session_id_v7"] {
        return field("min_timestamp");
    }
    let int = |n: i64| Expr::new(ExprKind::Constant(Constant::Int(n)));
    let shifted = Expr::call("bitShiftRight", vec![field("session_id_v7"), int(80)]);
    let millis = Expr::call("_toUInt64", vec![shifted]);
    Expr::call(
        "fromUnixTimestamp",
        vec![Expr::call("intDiv", vec![millis, int(1000)])],
    )
}

/// A condition, or one of the two constants it folds to.
enum Tri {
    True,
    False,
    Expr(Expr),
}

fn visit(e: &Expr, target: &Expr) -> Tri {
    grow(|| visit_inner(e, target))
}

fn visit_inner(e: &Expr, target: &Expr) -> Tri {
    match &e.kind {
        ExprKind::Compare {
            op, left, right, ..
        } => compare(*op, left, right, target),
        ExprKind::And(items) => and(items.iter().map(|i| visit(i, target)).collect()),
        ExprKind::Or(items) => or(items.iter().map(|i| visit(i, target)).collect()),
        ExprKind::Call(c) if c.name == "and" && c.params.is_none() => {
            and(c.args.iter().map(|i| visit(i, target)).collect())
        }
        ExprKind::Call(c) if c.name == "or" && c.params.is_none() => {
            or(c.args.iter().map(|i| visit(i, target)).collect())
        }
        ExprKind::Call(c) if c.params.is_none() && c.args.len() == 2 => {
            let op = match c.name.as_str() {
                "equals" => CompareOp::Eq,
                "less" => CompareOp::Lt,
                "lessOrEquals" => CompareOp::LtEq,
                "greater" => CompareOp::Gt,
                "greaterOrEquals" => CompareOp::GtEq,
                _ => return Tri::True,
            };
            compare(op, &c.args[0], &c.args[1], target)
        }
        ExprKind::Alias { expr, .. } => visit(expr, target),
        _ => Tri::True,
    }
}

fn and(parts: Vec<Tri>) -> Tri {
    let mut kept = Vec::new();
    for part in parts {
        match part {
            Tri::False => return Tri::False,
            Tri::True => {}
            Tri::Expr(Expr {
                kind: ExprKind::And(inner),
                ..
            }) => kept.extend(inner),
            Tri::Expr(e) => kept.push(e),
        }
    }
    match kept.len() {
        0 => Tri::True,
        1 => Tri::Expr(kept.remove(0)),
        _ => Tri::Expr(Expr::new(ExprKind::And(kept))),
    }
}

fn or(parts: Vec<Tri>) -> Tri {
    let mut kept = Vec::new();
    for part in parts {
        match part {
            Tri::True => return Tri::True,
            Tri::False => {}
            Tri::Expr(Expr {
                kind: ExprKind::Or(inner),
                ..
            }) => kept.extend(inner),
            Tri::Expr(e) => kept.push(e),
        }
    }
    match kept.len() {
        0 => Tri::False,
        1 => Tri::Expr(kept.remove(0)),
        _ => Tri::Expr(Expr::new(ExprKind::Or(kept))),
    }
}

fn compare(op: CompareOp, left: &Expr, right: &Expr, target: &Expr) -> Tri {
    let (left_const, right_const) = (is_constant(left), is_constant(right));
    if left_const && right_const {
        return Tri::True;
    }
    if is_timestamp(left) && right_const {
        let field = rewrite(left, target);
        let bound = |op: CompareOp, arith: ArithOp| {
            Expr::new(ExprKind::Compare {
                op,
                left: Box::new(field.clone()),
                right: Box::new(Expr::new(ExprKind::Arithmetic {
                    op: arith,
                    left: Box::new(right.clone()),
                    right: Box::new(days(SESSION_BUFFER_DAYS)),
                })),
                is_null_style: false,
            })
        };
        return match op {
            CompareOp::Eq => Tri::Expr(Expr::new(ExprKind::And(vec![
                bound(CompareOp::GtEq, ArithOp::Sub),
                bound(CompareOp::LtEq, ArithOp::Add),
            ]))),
            CompareOp::Gt | CompareOp::GtEq => Tri::Expr(bound(CompareOp::GtEq, ArithOp::Sub)),
            CompareOp::Lt | CompareOp::LtEq => Tri::Expr(bound(CompareOp::LtEq, ArithOp::Add)),
            _ => Tri::True,
        };
    }
    if is_timestamp(right) && left_const {
        let flipped = match op {
            CompareOp::Eq => CompareOp::Eq,
            CompareOp::Gt => CompareOp::Lt,
            CompareOp::GtEq => CompareOp::LtEq,
            CompareOp::Lt => CompareOp::Gt,
            CompareOp::LtEq => CompareOp::GtEq,
            _ => return Tri::True,
        };
        return compare(flipped, right, left, target);
    }
    Tri::True
}

fn days(n: i64) -> Expr {
    Expr::new(ExprKind::Call(Call {
        name: "toIntervalDay".into(),
        args: vec![Expr::new(ExprKind::Constant(Constant::Int(n)))],
        params: None,
        distinct: false,
        filter: None,
        within_group: None,
    }))
}

fn plain_call(e: &Expr) -> Option<&Call> {
    match &e.kind {
        ExprKind::Call(c) if c.params.is_none() && !c.distinct && c.filter.is_none() => Some(c),
        _ => None,
    }
}

/// A constant: literals, `now()`/`today()`, wrappers and interval arithmetic over constants.
fn is_constant(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Constant(_) => true,
        ExprKind::Arithmetic { left, right, .. } => is_constant(left) && is_constant(right),
        ExprKind::Alias { expr, .. } => is_constant(expr),
        ExprKind::Call(_) => {
            let Some(c) = plain_call(e) else {
                return false;
            };
            match c.name.as_str() {
                "today" | "now" => true,
                "minus" | "add" | "plus" => c.args.iter().all(is_constant),
                name if FIRST_ARG_PRESERVING.contains(&name) || INTERVALS.contains(&name) => {
                    c.args.first().is_some_and(is_constant)
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// A timestamp field, possibly wrapped or shifted by a constant.
fn is_timestamp(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Field(chain) => chain.last().is_some_and(
            |p| matches!(p, ChainPart::Name(n) if TIMESTAMP_FIELDS.contains(&n.as_str())),
        ),
        ExprKind::Arithmetic { left, right, .. } => {
            (is_timestamp(left) && is_constant(right)) || (is_timestamp(right) && is_constant(left))
        }
        ExprKind::Alias { expr, .. } => is_timestamp(expr),
        ExprKind::Call(_) => {
            let Some(c) = plain_call(e) else {
                return false;
            };
            match c.name.as_str() {
                "minus" | "add" | "plus" if c.args.len() == 2 => {
                    (is_timestamp(&c.args[0]) && is_constant(&c.args[1]))
                        || (is_timestamp(&c.args[1]) && is_constant(&c.args[0]))
                }
                name if FIRST_ARG_PRESERVING.contains(&name) => {
                    c.args.first().is_some_and(is_timestamp)
                }
                _ => false,
            }
        }
        _ => false,
    }
}

/// The expression with every timestamp field replaced by `target`.
fn rewrite(e: &Expr, target: &Expr) -> Expr {
    let mut out = e.clone();
    rewrite_in_place(&mut out, target);
    out
}

fn rewrite_in_place(e: &mut Expr, target: &Expr) {
    grow(|| rewrite_node(e, target));
}

fn rewrite_node(e: &mut Expr, target: &Expr) {
    e.span = None;
    match &mut e.kind {
        ExprKind::Field(chain)
            if chain.last().is_some_and(
                |p| matches!(p, ChainPart::Name(n) if TIMESTAMP_FIELDS.contains(&n.as_str())),
            ) =>
        {
            *e = target.clone();
        }
        ExprKind::Arithmetic { left, right, .. } => {
            rewrite_in_place(left, target);
            rewrite_in_place(right, target);
        }
        ExprKind::Alias { expr, .. } => rewrite_in_place(expr, target),
        ExprKind::Call(c) => {
            for a in &mut c.args {
                rewrite_in_place(a, target);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expr {
        crate::lower::expr(&hogql_parser::parse_expr(text).unwrap()).unwrap()
    }

    fn pushed(where_: &str) -> Option<Expr> {
        inner_where(
            Some(&parse(where_)),
            &bound_target("raw_sessions", &["session_id"]),
        )
        .map(strip)
    }

    #[test]
    fn bounds_get_the_buffer() {
        assert_eq!(
            pushed("$start_timestamp > '2021-01-01'"),
            Some(strip(parse(
                "raw_sessions.min_timestamp >= ('2021-01-01' - toIntervalDay(3))"
            )))
        );
        assert_eq!(
            pushed("'2021-01-01' = $start_timestamp"),
            Some(strip(parse(
                "raw_sessions.min_timestamp >= ('2021-01-01' - toIntervalDay(3)) and raw_sessions.min_timestamp <= ('2021-01-01' + toIntervalDay(3))"
            )))
        );
        assert_eq!(
            pushed("less(today(), timestamp)"),
            Some(strip(parse(
                "raw_sessions.min_timestamp >= (today() - toIntervalDay(3))"
            )))
        );
        assert_eq!(
            pushed("timestamp < today()"),
            Some(strip(parse(
                "raw_sessions.min_timestamp <= (today() + toIntervalDay(3))"
            )))
        );
    }

    #[test]
    fn and_keeps_what_it_understands_or_gives_up() {
        assert_eq!(
            pushed("event = 'x' and timestamp >= '2024-03-12'"),
            Some(strip(parse(
                "raw_sessions.min_timestamp >= ('2024-03-12' - toIntervalDay(3))"
            )))
        );
        assert_eq!(pushed("timestamp > '2021-01-03' or like(event, 'b')"), None);
        assert_eq!(pushed("like('a', 'b')"), None);
        assert_eq!(
            pushed(
                "toTimeZone(timestamp, 'US/Pacific') >= toDateTime('2024-03-12 00:00:00', 'US/Pacific')"
            ),
            Some(strip(parse(
                "toTimeZone(raw_sessions.min_timestamp, 'US/Pacific') >= (toDateTime('2024-03-12 00:00:00', 'US/Pacific') - toIntervalDay(3))"
            )))
        );
    }

    #[test]
    fn sessions_v2_bounds_the_uuid_v7_timestamp() {
        let pushed = inner_where(
            Some(&parse(
                "$start_timestamp >= '2021-01-01' and timestamp < today()",
            )),
            &bound_target("raw_sessions", &["session_id_v7"]),
        )
        .map(strip);
        let ts = "fromUnixTimestamp(intDiv(_toUInt64(bitShiftRight(raw_sessions.session_id_v7, 80)), 1000))";
        assert_eq!(
            pushed,
            Some(strip(parse(&format!(
                "{ts} >= ('2021-01-01' - toIntervalDay(3)) and {ts} <= (today() + toIntervalDay(3))"
            ))))
        );
    }

    /// The tree without spans (what `inner_where` builds).
    fn strip(mut e: Expr) -> Expr {
        clear(&mut e);
        e
    }

    fn clear(e: &mut Expr) {
        e.span = None;
        match &mut e.kind {
            ExprKind::Compare { left, right, .. } | ExprKind::Arithmetic { left, right, .. } => {
                clear(left);
                clear(right);
            }
            ExprKind::And(items) | ExprKind::Or(items) => items.iter_mut().for_each(clear),
            ExprKind::Call(c) => c.args.iter_mut().for_each(clear),
            _ => {}
        }
    }
}
