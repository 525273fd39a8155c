//! The filters of a SELECT's WHERE that can also run inside a persons subquery, as PostHog's
//! `WhereClauseExtractor` derives them for `select_from_persons_table` (the `persons` lazy table
//! in FROM, and the persons join under `optimizeJoinedFilters`).
//!
//! The result only narrows the rows the subquery reads: the outer WHERE stays as it is, so
//! anything the extractor does not understand counts as TRUE, which is always safe. The rules:
//!
//! * a comparison whose operands are fields of the persons table (rewritten by the caller's
//!   `field` function to the subquery's terms), constants, tuples or arrays of those, or calls
//!   over those, is kept; one that reads anything else is dropped (PostHog's "tombstone");
//! * a comparison of two constants is TRUE;
//! * when the SELECT joins (`is_join`), a negative comparison (`!=`, `NOT IN`, `NOT LIKE`, …)
//!   and a NOT are TRUE: the outer join might compare other rows;
//! * an AND keeps the parts it understands; an OR with a dropped part is dropped as a whole;
//! * arithmetic is not reasoned about.
//!
//! Deviations from PostHog, all on the side of reading more rows: a subquery, lambda or
//! arithmetic operand drops its comparison (PostHog copies a subquery in and turns arithmetic
//! into a TRUE operand), and a NOT over something that folded to a constant is dropped.

use crate::compile::grow;
use crate::functions::{self, CompareOp as FnCompareOp};
use crate::ir::{ChainPart, CompareOp, Expr, ExprKind};

/// The filter for the persons subquery derived from `wheres` (the SELECT's WHERE and
/// PREWHERE), or `None`. `field` maps a field chain of the outer query to the chain the
/// subquery reads it by, or `None` when it is not a field of the persons table.
pub fn inner_where(
    wheres: &[&Expr],
    is_join: bool,
    field: &mut dyn FnMut(&[ChainPart]) -> Option<Vec<ChainPart>>,
) -> Option<Expr> {
    let mut x = Extractor { is_join, field };
    let out = match wheres {
        [] => return None,
        [one] => x.visit(one),
        many => x.and(many.iter().copied()),
    };
    match out {
        Out::Expr(e) => Some(e),
        Out::True | Out::False | Out::Dropped => None,
    }
}

/// What part of a condition becomes.
enum Out {
    True,
    False,
    /// Reads something other than the persons table: not known inside the subquery.
    Dropped,
    Expr(Expr),
}

struct Extractor<'f> {
    is_join: bool,
    field: &'f mut dyn FnMut(&[ChainPart]) -> Option<Vec<ChainPart>>,
}

const NEGATED: [CompareOp; 8] = [
    CompareOp::NotEq,
    CompareOp::NotLike,
    CompareOp::NotILike,
    CompareOp::NotIn,
    CompareOp::GlobalNotIn,
    CompareOp::NotInCohort,
    CompareOp::NotRegex,
    CompareOp::NotIRegex,
];

fn comparison(name: &str) -> Option<CompareOp> {
    functions::comparison_op(name).map(FnCompareOp::to_ir)
}

impl Extractor<'_> {
    fn visit(&mut self, e: &Expr) -> Out {
        grow(|| self.visit_inner(e))
    }

    fn visit_inner(&mut self, e: &Expr) -> Out {
        match &e.kind {
            ExprKind::And(items) => self.and(items),
            ExprKind::Or(items) => self.or(items),
            ExprKind::Not(inner) => self.not(inner),
            ExprKind::Compare {
                op,
                left,
                right,
                is_null_style,
            } => self.compare(*op, left, right, *is_null_style),
            ExprKind::Call(c) if c.params.is_none() && !c.distinct => match c.name.as_str() {
                "and" => self.and(&c.args),
                "or" => self.or(&c.args),
                "not" if self.is_join => Out::True,
                name => match (comparison(name), c.args.as_slice()) {
                    (Some(op), [left, right]) => self.compare(op, left, right, false),
                    _ => self.operand(e),
                },
            },
            ExprKind::Alias { expr, .. } => self.visit(expr),
            ExprKind::Arithmetic { .. } => Out::True,
            _ => self.operand(e),
        }
    }

    fn and<'e>(&mut self, items: impl IntoIterator<Item = &'e Expr>) -> Out {
        let mut kept = Vec::new();
        for item in items {
            match self.visit(item) {
                Out::False => return Out::False,
                Out::True | Out::Dropped => {}
                Out::Expr(Expr {
                    kind: ExprKind::And(inner),
                    ..
                }) => kept.extend(inner),
                Out::Expr(e) => kept.push(e),
            }
        }
        match kept.len() {
            0 => Out::True,
            1 => kept.pop().map_or(Out::True, Out::Expr),
            _ => Out::Expr(Expr::new(ExprKind::And(kept))),
        }
    }

    fn or(&mut self, items: &[Expr]) -> Out {
        let mut kept = Vec::new();
        for item in items {
            match self.visit(item) {
                Out::Dropped => return Out::Dropped,
                Out::True => return Out::True,
                Out::False => {}
                Out::Expr(Expr {
                    kind: ExprKind::Or(inner),
                    ..
                }) => kept.extend(inner),
                Out::Expr(e) => kept.push(e),
            }
        }
        match kept.len() {
            0 => Out::False,
            1 => kept.pop().map_or(Out::False, Out::Expr),
            _ => Out::Expr(Expr::new(ExprKind::Or(kept))),
        }
    }

    fn not(&mut self, inner: &Expr) -> Out {
        if self.is_join {
            return Out::True;
        }
        match self.visit(inner) {
            Out::Expr(e) => Out::Expr(Expr::new(ExprKind::Not(Box::new(e)))),
            _ => Out::Dropped,
        }
    }

    fn compare(&mut self, op: CompareOp, left: &Expr, right: &Expr, is_null_style: bool) -> Out {
        let constant = |e: &Expr| matches!(e.kind, ExprKind::Constant(_));
        if constant(left) && constant(right) {
            return Out::True;
        }
        if self.is_join && NEGATED.contains(&op) {
            return Out::True;
        }
        let (Out::Expr(left), Out::Expr(right)) = (self.operand(left), self.operand(right)) else {
            return Out::Dropped;
        };
        Out::Expr(Expr::new(ExprKind::Compare {
            op,
            left: Box::new(left),
            right: Box::new(right),
            is_null_style,
        }))
    }

    /// A value: a persons field, a constant, or a tuple, array or call over those.
    fn operand(&mut self, e: &Expr) -> Out {
        grow(|| self.operand_inner(e))
    }

    fn operand_inner(&mut self, e: &Expr) -> Out {
        let kind = match &e.kind {
            ExprKind::Constant(_) => e.kind.clone(),
            ExprKind::Field(chain) => match (self.field)(chain) {
                Some(chain) => ExprKind::Field(chain),
                None => return Out::Dropped,
            },
            ExprKind::Alias { expr, .. } => return self.operand(expr),
            ExprKind::ArrayAccess {
                array,
                property,
                nullish,
            } => match (self.operand(array), self.operand(property)) {
                (Out::Expr(array), Out::Expr(property)) => ExprKind::ArrayAccess {
                    array: Box::new(array),
                    property: Box::new(property),
                    nullish: *nullish,
                },
                _ => return Out::Dropped,
            },
            ExprKind::Tuple(items) | ExprKind::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    match self.operand(item) {
                        Out::Expr(e) => out.push(e),
                        _ => return Out::Dropped,
                    }
                }
                if matches!(e.kind, ExprKind::Tuple(_)) {
                    ExprKind::Tuple(out)
                } else {
                    ExprKind::Array(out)
                }
            }
            ExprKind::Call(c) if c.filter.is_none() && c.within_group.is_none() => {
                let mut args = Vec::with_capacity(c.args.len());
                for arg in &c.args {
                    match self.operand(arg) {
                        Out::Expr(e) => args.push(e),
                        _ => return Out::Dropped,
                    }
                }
                let mut call = c.clone();
                call.args = args;
                ExprKind::Call(call)
            }
            _ => return Out::Dropped,
        };
        Out::Expr(Expr::new(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The extracted filter of `where_` printed back as HogQL, with `person.<x>` mapped to
    /// `<x>` and every other field unknown.
    fn extract(where_: &str, is_join: bool) -> Option<String> {
        let node = hogql_parser::parse_expr(where_).expect("test input parses");
        let e = crate::lower::expr(&node).expect("test input lowers");
        let mut field = |chain: &[ChainPart]| match chain {
            [ChainPart::Name(head), rest @ ..] if head == "person" && !rest.is_empty() => {
                Some(rest.to_vec())
            }
            _ => None,
        };
        inner_where(&[&e], is_join, &mut field).map(|e| crate::print::hogql_text(&e))
    }

    #[test]
    fn keeps_person_comparisons_and_drops_the_rest_of_an_and() {
        assert_eq!(
            extract("person.properties.email = 'a' and event = 'x'", false).as_deref(),
            Some("equals(properties.email, 'a')")
        );
        assert_eq!(
            extract(
                "person.properties.a ilike '%b%' and person.id in (1, 2)",
                false
            )
            .as_deref(),
            Some("and(ilike(properties.a, '%b%'), in(id, tuple(1, 2)))")
        );
    }

    #[test]
    fn an_or_with_an_unknown_part_gives_nothing() {
        assert_eq!(
            extract("person.properties.a = 1 or event = 'x'", false),
            None
        );
        assert_eq!(
            extract("person.properties.a = 1 or person.properties.a = 2", false).as_deref(),
            Some("or(equals(properties.a, 1), equals(properties.a, 2))")
        );
    }

    #[test]
    fn negations_are_skipped_in_a_join() {
        assert_eq!(extract("person.properties.a != 1", true), None);
        assert_eq!(extract("not(person.properties.a = 1)", true), None);
        assert_eq!(
            extract("person.properties.a != 1", false).as_deref(),
            Some("notEquals(properties.a, 1)")
        );
    }

    #[test]
    fn constants_arithmetic_and_subqueries_give_nothing() {
        assert_eq!(extract("1 = 1", false), None);
        assert_eq!(extract("person.properties.a + 1 > 2", false), None);
        assert_eq!(
            extract("person.id in (select 1)", false),
            None,
            "a subquery operand is not copied in"
        );
        assert_eq!(
            extract("person.properties['a'] = 'x'", false).as_deref(),
            Some("equals(properties['a'], 'x')")
        );
        assert_eq!(
            extract("lower(person.properties.a) = 'x'", false).as_deref(),
            Some("equals(lower(properties.a), 'x')")
        );
    }
}
