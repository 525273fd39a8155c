//! The lazy-table pass: before anything is printed, finds in every SELECT which lazy joins
//! (`person.…`, `pdi.…`, `override.…`, `session.…`, `group_N.…`) and which lazy tables in FROM
//! (`persons`, `person_distinct_ids`, `groups`, `sessions`) it reads, and which of their fields,
//! as PostHog's `transforms/lazy_tables.py` collects them before its printer runs.
//!
//! The result is one [`LazyPlan`] per SELECT that uses any (keyed by the SELECT's address in the
//! IR, see [`select_key`]). The printer then prints each SELECT exactly once: the join
//! subqueries go into FROM from the plan (so their values come first, in PostHog's numbering)
//! and the field references print as `<join alias>.<field>`.
//!
//! **Invariants.** The pass visits every SELECT once, subqueries and CTEs included, and every
//! expression once, so its work is linear in the query (counted against the same
//! [`Limits::max_work`](crate::context::Limits) as printing). It resolves names with the
//! printer's own [`Scope::resolve`] and visits clauses and expressions in the printer's order,
//! so fields keep their first-use order. Where it cannot resolve something it moves on: the
//! printer reports that error with its position. The printer checks at the end of each SELECT
//! that every lazy join, lazy table and field it read was planned ([`check_planned`]); a miss
//! is an `internal compiler error`, never SQL that names a column its subquery lacks.
//!
//! Like PostHog's pass, operands the printer folds away are still visited, except after a
//! constant `0` in an AND or a constant `1` in an OR, which the printer never prints.

use std::collections::{HashMap, HashSet};

use crate::Error;
use crate::compile::{CompileError, grow};
use crate::escape::{Dialect, escape_identifier};
use crate::functions::{self, CallShape, CompareOp as FnCompareOp, Resolved, Target};
use crate::ir::*;
use crate::print::{access_chain, hogql_text};
use crate::resolve::{
    ColumnName, ColumnNameWinners, LazyField, LazyHop, LazyJoinUse, LazyPlan, Resolution, Scope,
    ScopeTable, Source, SubColumn, field_column_name, table_sql_name,
};
use crate::schema::{self, Database, TableKind, ValueType};

type Result<T> = std::result::Result<T, CompileError>;

/// The plans of a query's SELECTs, by [`select_key`].
pub type Plans<'db> = HashMap<usize, LazyPlan<'db>>;

/// The key of a SELECT in [`Plans`]: its address, stable while the IR is borrowed for printing.
pub fn select_key(q: &SelectQuery) -> usize {
    std::ptr::from_ref(q) as usize
}

/// Plans the lazy joins and lazy tables of every SELECT of `query`. `work` is the work already
/// spent; returns the plans and the work after the pass (past `max_work`, a
/// `compile_budget_exceeded` error).
pub fn plan<'db>(
    query: &Query,
    db: &'db Database,
    work: u64,
    max_work: u64,
) -> Result<(Plans<'db>, u64)> {
    let mut planner = Planner {
        db,
        scopes: Vec::new(),
        lambda_args: Vec::new(),
        ctes: Vec::new(),
        plans: HashMap::new(),
        work,
        max_work,
    };
    planner.query(query)?;
    Ok((planner.plans, planner.work))
}

/// Records that the current SELECT reads `field` through `hops` (every join of the path, each
/// providing the next one's key); returns the alias of the last join.
pub(crate) fn record_lazy_column<'db>(
    scope: &mut Scope<'db>,
    hops: &[LazyHop<'db>],
    field: &LazyField,
) -> String {
    let mut last_alias = String::new();
    for (i, hop) in hops.iter().enumerate() {
        let alias = hop.alias();
        let index = match scope.lazy_joins.iter().position(|u| u.alias() == alias) {
            Some(index) => index,
            None => {
                scope.lazy_joins.push(LazyJoinUse {
                    hop: hop.clone(),
                    fields: Vec::new(),
                });
                scope.lazy_joins.len() - 1
            }
        };
        // A nested join needs its key from this one.
        let needed = match hops.get(i + 1) {
            Some(next) => LazyField::plain(&next.join.from_field),
            None => field.clone(),
        };
        if scope
            .lazy_fields_seen
            .insert((false, alias.clone(), needed.clone()))
        {
            scope.lazy_joins[index].fields.push(needed);
        }
        last_alias = alias;
    }
    last_alias
}

/// Adds the lazy joins an expression field used (printed in a scope of its own) to `scope`.
pub(crate) fn merge_lazy_joins<'db>(scope: &mut Scope<'db>, used: Vec<LazyJoinUse<'db>>) {
    for used in used {
        let alias = used.alias();
        match scope.lazy_joins.iter().position(|u| u.alias() == alias) {
            Some(index) => {
                for f in used.fields {
                    if scope
                        .lazy_fields_seen
                        .insert((false, alias.clone(), f.clone()))
                    {
                        scope.lazy_joins[index].fields.push(f);
                    }
                }
            }
            None => {
                for f in &used.fields {
                    scope
                        .lazy_fields_seen
                        .insert((false, alias.clone(), f.clone()));
                }
                scope.lazy_joins.push(used);
            }
        }
    }
}

/// Records that the current SELECT reads `field` of the lazy table in FROM called `table_name`.
pub(crate) fn record_lazy_table_field(scope: &mut Scope<'_>, table_name: &str, field: LazyField) {
    let Some(index) = scope
        .lazy_tables
        .iter()
        .position(|(name, _, _)| name == table_name)
    else {
        return;
    };
    if scope
        .lazy_fields_seen
        .insert((true, table_name.to_owned(), field.clone()))
    {
        scope.lazy_tables[index].2.push(field);
    }
}

/// Whether everything `scope` (a printed SELECT) read from lazy joins and lazy tables is in its
/// plan; otherwise the first join or table that is not, as `alias.field`.
pub(crate) fn check_planned(scope: &Scope<'_>) -> std::result::Result<(), String> {
    let empty = LazyPlan::default();
    let plan = scope.plan.as_ref().unwrap_or(&empty);
    let planned: HashSet<(&str, &LazyField)> = plan
        .tables
        .iter()
        .flat_map(|(name, _, fields)| fields.iter().map(move |f| (name.as_str(), f)))
        .collect();
    for (name, _, fields) in &scope.lazy_tables {
        if let Some(f) = fields
            .iter()
            .find(|f| !planned.contains(&(name.as_str(), *f)))
        {
            return Err(format!("{name}.{}", f.name));
        }
    }
    let joins: HashMap<String, HashSet<&LazyField>> = plan
        .joins
        .iter()
        .map(|j| (j.alias(), j.fields.iter().collect()))
        .collect();
    for used in &scope.lazy_joins {
        let alias = used.alias();
        let Some(fields) = joins.get(&alias) else {
            return Err(alias);
        };
        if let Some(f) = used.fields.iter().find(|f| !fields.contains(f)) {
            return Err(format!("{alias}.{}", f.name));
        }
    }
    Ok(())
}

/// What an expression prints as, when that is a constant the AND/OR printer folds: `0` or `1`.
type Fold = Option<bool>;

#[derive(Debug)]
struct Planner<'db> {
    db: &'db Database,
    scopes: Vec<Scope<'db>>,
    lambda_args: Vec<String>,
    /// CTEs in scope (innermost last): name and columns.
    ctes: Vec<Vec<(String, Vec<SubColumn>)>>,
    plans: Plans<'db>,
    work: u64,
    max_work: u64,
}

fn ident(name: &str) -> Option<String> {
    escape_identifier(name, Dialect::ClickHouse).ok()
}

impl<'db> Planner<'db> {
    fn tick(&mut self, span: Option<Span>) -> Result<()> {
        self.work += 1;
        if self.work > self.max_work {
            return Err(CompileError::new(
                Error::CompileBudgetExceeded {
                    limit: self.max_work,
                },
                span,
            ));
        }
        Ok(())
    }

    fn scope(&mut self) -> &mut Scope<'db> {
        if self.scopes.is_empty() {
            self.scopes.push(Scope::default());
        }
        let last = self.scopes.len() - 1;
        &mut self.scopes[last]
    }

    fn resolve(&self, chain: &[ChainPart]) -> Option<Resolution<'db>> {
        self.scopes
            .last()?
            .resolve(chain, &self.lambda_args, self.db)
            .ok()
    }

    // ------------------------------------------------------------ queries

    /// Plans a query and returns the columns it shows an outer query.
    fn query(&mut self, query: &Query) -> Result<Vec<SubColumn>> {
        self.tick(None)?;
        grow(|| {
            // Lambdas do not reach into subqueries.
            let lambda_args = std::mem::take(&mut self.lambda_args);
            let result = match query {
                Query::Select(s) => self.select(s),
                Query::Set(set) => self.query(&set.initial).and_then(|columns| {
                    for node in &set.subsequent {
                        self.query(&node.query)?;
                    }
                    Ok(columns)
                }),
                Query::Placeholder(_) => Ok(Vec::new()),
            };
            self.lambda_args = lambda_args;
            result
        })
    }

    fn select(&mut self, q: &SelectQuery) -> Result<Vec<SubColumn>> {
        // CTEs: each sees the ones before it; all are visible to the SELECT and its subqueries.
        let mut frame = Vec::new();
        for cte in &q.ctes {
            let ExprKind::Query(inner) = &cte.expr.kind else {
                continue;
            };
            self.ctes.push(std::mem::take(&mut frame));
            let columns = self.query(inner);
            frame = self.ctes.pop().unwrap_or_default();
            frame.push((cte.name.clone(), columns?));
        }
        self.ctes.push(frame);
        self.scopes.push(Scope {
            windows: q.window_exprs.clone(),
            ..Scope::default()
        });
        let result = self.select_clauses(q);
        let scope = self.scopes.pop().unwrap_or_default();
        self.ctes.pop();
        let columns = result?;
        if !(scope.lazy_joins.is_empty() && scope.lazy_tables.is_empty()) {
            self.plans.insert(
                select_key(q),
                LazyPlan {
                    joins: scope.lazy_joins,
                    tables: scope.lazy_tables,
                },
            );
        }
        Ok(columns)
    }

    /// The clauses in the printer's order: FROM, SELECT, ARRAY JOIN, PREWHERE, WHERE, GROUP BY,
    /// HAVING, WINDOW, ORDER BY, LIMIT BY, LIMIT, OFFSET.
    fn select_clauses(&mut self, q: &SelectQuery) -> Result<Vec<SubColumn>> {
        if let Some(j) = &q.select_from {
            self.join_chain(j)?;
        }
        for (alias, _, _) in crate::resolve::defined_aliases(q) {
            self.scope().add_alias(alias);
        }
        let mut columns = Vec::new();
        for e in &q.select {
            self.select_column(e, &mut columns)?;
        }
        if let Some(aj) = &q.array_join {
            self.exprs(&aj.list)?;
        }
        for clause in [&q.prewhere, &q.where_].into_iter().flatten() {
            self.expr(clause)?;
        }
        self.exprs(&q.group_by)?;
        if let Some(h) = &q.having {
            self.expr(h)?;
        }
        for (_, we) in &q.window_exprs {
            self.window_spec(we)?;
        }
        self.order_list(&q.order_by)?;
        if let Some(lb) = &q.limit_by {
            self.expr(&lb.n)?;
            if let Some(o) = &lb.offset {
                self.expr(o)?;
            }
            self.exprs(&lb.exprs)?;
        }
        for clause in [&q.limit, &q.offset].into_iter().flatten() {
            self.expr(clause)?;
        }
        Ok(visible_columns(columns))
    }

    fn join_chain(&mut self, first: &JoinExpr) -> Result<()> {
        let mut node = Some(first);
        while let Some(j) = node {
            self.join_table(j)?;
            if let Some(sample) = &j.sample {
                for ratio in std::iter::once(&sample.sample_value).chain(&sample.offset_value) {
                    self.expr(&ratio.left)?;
                    if let Some(right) = &ratio.right {
                        self.expr(right)?;
                    }
                }
            }
            if let Some(c) = &j.constraint {
                self.expr(&c.expr)?;
            }
            node = j.next_join.as_deref();
        }
        Ok(())
    }

    /// One FROM entry into the scope, named and referred to as the printer does.
    fn join_table(&mut self, j: &JoinExpr) -> Result<()> {
        let entry = match &j.table {
            JoinTable::Table { chain, args, .. } => {
                let name = chain.join(".");
                if chain.len() == 1
                    && let Some(columns) = self.cte_columns(&name)
                {
                    let sql_ref = ident(j.alias.as_deref().unwrap_or(&name));
                    sql_ref.map(|sql_ref| ScopeTable {
                        name: j.alias.clone().unwrap_or(name),
                        sql_ref: Some(sql_ref),
                        source: Source::Subquery(columns),
                    })
                } else {
                    self.db_table(j, name, args.as_deref())?
                }
            }
            JoinTable::Query(q) => {
                let columns = self.query(q)?;
                match &j.alias {
                    Some(alias) => ident(alias).map(|a| ScopeTable {
                        name: alias.clone(),
                        sql_ref: Some(a),
                        source: Source::Subquery(columns),
                    }),
                    None => Some(ScopeTable {
                        name: String::new(),
                        sql_ref: None,
                        source: Source::Subquery(columns),
                    }),
                }
            }
            JoinTable::Placeholder(_) | JoinTable::Nested(_) | JoinTable::Other(_) => None,
        };
        if let Some(entry) = entry {
            self.scope().tables.push(entry);
        }
        Ok(())
    }

    fn db_table(
        &mut self,
        j: &JoinExpr,
        name: String,
        args: Option<&[Expr]>,
    ) -> Result<Option<ScopeTable<'db>>> {
        let Ok(table) = self.db.table(&name) else {
            return Ok(None);
        };
        match &table.kind {
            TableKind::Table if args.is_none() => {}
            TableKind::Function(_) => self.exprs(args.unwrap_or(&[]))?,
            TableKind::Lazy(_) if args.is_none() && crate::resolve::lazy_join_supported(table) => {
                let alias = j.alias.clone().unwrap_or(name);
                let Some(sql_ref) = ident(&alias) else {
                    return Ok(None);
                };
                self.scope()
                    .lazy_tables
                    .push((alias.clone(), table, Vec::new()));
                return Ok(Some(ScopeTable {
                    name: alias,
                    sql_ref: Some(sql_ref),
                    source: Source::LazyTable(table),
                }));
            }
            _ => return Ok(None),
        }
        let sql_ref = ident(table_sql_name(j.alias.as_deref(), table).0);
        Ok(sql_ref.map(|sql_ref| ScopeTable {
            name: j.alias.clone().unwrap_or(name),
            sql_ref: Some(sql_ref),
            source: Source::Table(table),
        }))
    }

    fn cte_columns(&self, name: &str) -> Option<Vec<SubColumn>> {
        crate::resolve::cte_columns(&self.ctes, name)
    }

    fn select_column(
        &mut self,
        e: &Expr,
        columns: &mut Vec<(Option<String>, ColumnName)>,
    ) -> Result<()> {
        match &e.kind {
            ExprKind::Alias { alias, expr, .. } => {
                self.scope().excluded_alias = Some(alias.clone());
                let inner = self.expr(expr);
                self.scope().excluded_alias = None;
                inner?;
                columns.push((Some(alias.clone()), ColumnName::Explicit));
            }
            ExprKind::Field(chain) => {
                let Some(res) = self.resolve(chain) else {
                    return Ok(());
                };
                if let Resolution::Asterisk(chains) = res {
                    for field in crate::resolve::asterisk_columns(chains, e.span) {
                        self.select_column(&field, columns)?;
                    }
                    return Ok(());
                }
                let (name, kind) = field_column_name(&res, chain);
                self.record(res)?;
                columns.push((name, kind));
            }
            ExprKind::Call(_) => {
                self.expr(e)?;
                columns.push((Some(hogql_text(e).replace('%', "")), ColumnName::Implicit));
            }
            _ => {
                self.expr(e)?;
                columns.push((None, ColumnName::Implicit));
            }
        }
        Ok(())
    }

    /// Notes the lazy joins and lazy-table fields a resolved field reads.
    fn record(&mut self, res: Resolution<'db>) -> Result<()> {
        match res {
            Resolution::ExpressionField {
                owner_name,
                owner_sql,
                table,
                expr,
                ..
            } => {
                let Some(lowered) = hogql_parser::parse_expr(expr)
                    .ok()
                    .and_then(|node| crate::lower::expr(&node).ok())
                else {
                    return Ok(());
                };
                // Against the owning table alone, as the printer prints it.
                self.scopes
                    .push(Scope::of_table(owner_name, owner_sql, table));
                let walked = self.expr(&lowered);
                let inner = self.scopes.pop().unwrap_or_default();
                walked?;
                merge_lazy_joins(self.scope(), inner.lazy_joins);
            }
            Resolution::LazyTableColumn {
                table_name, field, ..
            } => record_lazy_table_field(self.scope(), &table_name, field),
            Resolution::LazyColumn { hops, field, .. } => {
                // A join keyed on a computed field needs that field's own joins first.
                if let Some(key) = hops.first().and_then(|hop| self.computed_key(hop)) {
                    self.record(key)?;
                }
                record_lazy_column(self.scope(), &hops, &field);
            }
            _ => {}
        }
        Ok(())
    }

    /// The owner's join field, when the join hangs off a FROM table by a computed field.
    fn computed_key(&self, hop: &LazyHop<'db>) -> Option<Resolution<'db>> {
        if !self.scopes.last()?.joins_by_computed_field(hop) {
            return None;
        }
        self.resolve(&[
            ChainPart::Name(hop.owner_name.clone()),
            ChainPart::Name(hop.join.from_field.clone()),
        ])
    }

    // ------------------------------------------------------------ expressions

    fn exprs(&mut self, exprs: &[Expr]) -> Result<()> {
        for e in exprs {
            self.expr(e)?;
        }
        Ok(())
    }

    fn order_list(&mut self, items: &[OrderExpr]) -> Result<()> {
        for o in items {
            self.expr(&o.expr)?;
            if let Some(fill) = &o.with_fill {
                for e in [&fill.from, &fill.to, &fill.step, &fill.staleness]
                    .into_iter()
                    .flatten()
                {
                    self.expr(e)?;
                }
            }
        }
        Ok(())
    }

    fn window_spec(&mut self, we: &WindowExpr) -> Result<()> {
        self.exprs(&we.partition_by)?;
        self.order_list(&we.order_by)
    }

    fn expr(&mut self, e: &Expr) -> Result<Fold> {
        self.tick(e.span)?;
        grow(|| self.expr_inner(e))
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<Fold> {
        match &e.kind {
            ExprKind::Constant(c) => Ok(match c {
                Constant::Bool(b) => Some(*b),
                Constant::Int(0) => Some(false),
                Constant::Int(1) => Some(true),
                Constant::Number(t) if t == "0" => Some(false),
                Constant::Number(t) if t == "1" => Some(true),
                _ => None,
            }),
            ExprKind::Field(chain) => {
                if let Some(res) = self.resolve(chain) {
                    self.record(res)?;
                }
                Ok(None)
            }
            ExprKind::Alias { expr, .. } | ExprKind::Not(expr) => {
                self.expr(expr)?;
                Ok(None)
            }
            ExprKind::Compare {
                op, left, right, ..
            } => self.compare(
                matches!(op, CompareOp::Eq),
                matches!(op, CompareOp::NotEq),
                left,
                right,
            ),
            ExprKind::Arithmetic { left, right, .. } => {
                self.expr(left)?;
                self.expr(right)?;
                Ok(None)
            }
            // The printer stops at the first `0` (AND) / `1` (OR); a whole of `1`s (AND) or
            // `0`s (OR) folds.
            ExprKind::And(items) => {
                let mut all = true;
                for item in items {
                    match self.expr(item)? {
                        Some(false) => return Ok(Some(false)),
                        Some(true) => {}
                        None => all = false,
                    }
                }
                Ok(all.then_some(true))
            }
            ExprKind::Or(items) => {
                let mut all = true;
                for item in items {
                    match self.expr(item)? {
                        Some(true) => return Ok(Some(true)),
                        Some(false) => {}
                        None => all = false,
                    }
                }
                Ok(all.then_some(false))
            }
            ExprKind::Between {
                expr, low, high, ..
            } => {
                for e in [expr, low, high] {
                    self.expr(e)?;
                }
                Ok(None)
            }
            ExprKind::Array(items) | ExprKind::Tuple(items) | ExprKind::GroupingSet(items) => {
                self.exprs(items)?;
                Ok(None)
            }
            ExprKind::ArrayAccess {
                array, property, ..
            } => {
                if let ExprKind::Constant(Constant::Int(0)) = property.kind {
                    return Ok(None);
                }
                if let ExprKind::Constant(key) = &property.kind
                    && let Some(part) = match key {
                        Constant::Str(s) => Some(ChainPart::Name(s.clone())),
                        Constant::Int(i) => Some(ChainPart::Index(*i)),
                        _ => None,
                    }
                    && self.json_path_access(array, part)?
                {
                    return Ok(None);
                }
                self.expr(array)?;
                self.expr(property)?;
                Ok(None)
            }
            ExprKind::TupleAccess { tuple, index, .. } => {
                if *index != 0 && !self.json_path_access(tuple, ChainPart::Index(*index))? {
                    self.expr(tuple)?;
                }
                Ok(None)
            }
            ExprKind::Lambda { args, expr } => {
                let n = self.lambda_args.len();
                self.lambda_args.extend(args.iter().cloned());
                let body = self.expr(expr);
                self.lambda_args.truncate(n);
                body?;
                Ok(None)
            }
            ExprKind::Call(call) => self.call(call),
            ExprKind::Query(q) => {
                self.query(q)?;
                Ok(None)
            }
            ExprKind::WindowFunction(w) => {
                self.window_function(w)?;
                Ok(None)
            }
            ExprKind::ArraySlice {
                array,
                start: Some(start),
                end: Some(end),
            } => {
                for e in [array, start, end] {
                    self.expr(e)?;
                }
                Ok(None)
            }
            // What the printer refuses: nothing to plan.
            ExprKind::ArraySlice { .. }
            | ExprKind::Placeholder(_)
            | ExprKind::ExprCall { .. }
            | ExprKind::TypeCast { .. }
            | ExprKind::IsDistinctFrom { .. }
            | ExprKind::Dict(_)
            | ExprKind::Columns(_)
            | ExprKind::NamedArgument { .. }
            | ExprKind::PositionalRef(_)
            | ExprKind::HogQLXTag { .. } => Ok(None),
        }
    }

    /// Both sides; two constants compared with `=` or `!=` fold.
    fn compare(&mut self, eq: bool, not_eq: bool, left: &Expr, right: &Expr) -> Result<Fold> {
        self.expr(left)?;
        self.expr(right)?;
        Ok(match (&left.kind, &right.kind) {
            (ExprKind::Constant(a), ExprKind::Constant(b)) if eq => Some(a == b),
            (ExprKind::Constant(a), ExprKind::Constant(b)) if not_eq => Some(a != b),
            _ => None,
        })
    }

    /// `base[key]` / `base.N` on a JSON field: one longer property path (the base itself is not
    /// read). False when `base` is not JSON.
    fn json_path_access(&mut self, base: &Expr, part: ChainPart) -> Result<bool> {
        let Some(chain) = access_chain(base) else {
            return Ok(false);
        };
        let is_json = matches!(
            self.resolve(&chain),
            Some(
                Resolution::LazyColumn { is_json: true, .. }
                    | Resolution::LazyTableColumn { is_json: true, .. }
                    | Resolution::Property { .. }
                    | Resolution::Column {
                        column: schema::Column {
                            value_type: ValueType::StringJson,
                            ..
                        },
                        ..
                    }
            )
        );
        if !is_json {
            return Ok(false);
        }
        let mut longer = chain;
        longer.push(part);
        if let Some(res) = self.resolve(&longer) {
            self.record(res)?;
        }
        Ok(true)
    }

    fn call(&mut self, call: &Call) -> Result<Fold> {
        if call.name == "_caseWithExpression" {
            return self.case_with_expression(&call.args);
        }
        let shape = CallShape {
            args: call.args.len(),
            params: call.params.as_ref().map(Vec::len),
            within_group: call.within_group.is_some(),
        };
        let Ok(resolved) = functions::registry().check_call(&call.name, shape) else {
            return Ok(None);
        };
        match resolved {
            Resolved::Comparison(op) => match call.args.as_slice() {
                [left, right] => self.compare(
                    matches!(op, FnCompareOp::Eq),
                    matches!(op, FnCompareOp::NotEq),
                    left,
                    right,
                ),
                _ => Ok(None),
            },
            Resolved::Aggregation(_) => {
                self.exprs(&call.args)?;
                if let Some(params) = &call.params {
                    self.exprs(params)?;
                }
                if let Some(filter) = &call.filter {
                    self.expr(filter)?;
                }
                Ok(None)
            }
            Resolved::Function(_) => {
                self.exprs(&call.args)?;
                Ok(None)
            }
            Resolved::PostHogFunction(meta) if matches!(meta.target, Target::Template { .. }) => {
                self.exprs(&call.args)?;
                Ok(None)
            }
            Resolved::PostHogFunction(_) => Ok(None),
        }
    }

    /// `CASE x WHEN … THEN … ELSE … END`: the subject, the WHENs, the THENs, the ELSE (the
    /// printer's order), or PostHog's four-argument array form in order.
    fn case_with_expression(&mut self, args: &[Expr]) -> Result<Fold> {
        let is_array = |e: &Expr| matches!(e.kind, ExprKind::Array(_));
        if args.len() == 4 && is_array(&args[1]) && is_array(&args[2]) {
            self.exprs(args)?;
            return Ok(None);
        }
        if args.len() < 4 || !args.len().is_multiple_of(2) {
            return Ok(None);
        }
        let pairs = &args[1..args.len() - 1];
        self.expr(&args[0])?;
        for w in pairs.iter().step_by(2) {
            self.expr(w)?;
        }
        for t in pairs.iter().skip(1).step_by(2) {
            self.expr(t)?;
        }
        self.expr(&args[args.len() - 1])?;
        Ok(None)
    }

    fn window_function(&mut self, w: &WindowFunction) -> Result<()> {
        if functions::registry().resolve(&w.name).is_err() {
            return Ok(());
        }
        self.exprs(&w.exprs)?;
        self.exprs(&w.args)?;
        match (&w.over_expr, &w.over_identifier) {
            (Some(we), _) => self.window_spec(we)?,
            // lag/lead inline a named window (they need its frame).
            (None, Some(id)) if matches!(w.name.as_str(), "lag" | "lead") => {
                let named = self
                    .scopes
                    .last()
                    .and_then(|s| s.windows.iter().find(|(n, _)| n == id))
                    .map(|(_, we)| we.clone());
                if let Some(we) = named {
                    self.window_spec(&we)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The columns a SELECT shows an outer query, by the printer's rule: per name, the first
/// explicit alias, else the last implicit one, else the first reference.
fn visible_columns(columns: Vec<(Option<String>, ColumnName)>) -> Vec<SubColumn> {
    let winners: HashSet<usize> =
        ColumnNameWinners::new(columns.iter().map(|(name, kind)| (name.as_deref(), *kind)))
            .indices()
            .collect();
    columns
        .into_iter()
        .enumerate()
        .filter(|(i, _)| winners.contains(i))
        .filter_map(|(_, (name, _))| {
            Some(SubColumn {
                name: name?,
                nullable: true,
            })
        })
        .collect()
}
