//! The HogQL dialect printer: a query as PostHog's `print_ast(..., dialect="hogql")` prints it
//! (the `hogql` field of the query API's answer and of `hogref hogql compile`).
//!
//! PostHog prints the *resolved* tree back as HogQL: fields as the chain that was written
//! (`person.properties.$browser`, no table prefix, no lazy join, no team guard), constants
//! inline, operators as functions (`plus(1, 2)`, `equals(a, b)`, `and(…)`), `SELECT *` expanded
//! to the table's columns, a constant string key on a JSON field folded into the chain
//! (`properties['a b']` is `` properties.`a b` ``), and the top-level LIMIT applied as in the
//! ClickHouse output. `pretty` is PostHog's pretty form (the query API's default): one clause
//! per line, indented by four spaces per level of the tree the printer visited.
//!
//! Runs after the ClickHouse printer accepted the query, so what reaches it is a query PostHog
//! compiles; constructs that printer refuses are printed plainly rather than rejected twice.

use crate::compile::{CompileError, grow};
use crate::context::Context;
use crate::escape::{IdentifierStyle, escape_hogql_identifier, escape_string, python_float_repr};
use crate::functions::{self, Target};
use crate::ir::{
    ChainPart, CompareOp, Constant, Expr, ExprKind, FrameBound, JoinExpr, JoinTable, OrderExpr,
    Query, Ratio, SelectQuery, WindowExpr, WindowFunction,
};
use crate::schema::{Database, Table, ValueType};

type Result<T> = std::result::Result<T, CompileError>;

/// Print `query` in PostHog's HogQL dialect for `ctx` (its limit context decides the top-level
/// LIMIT). `pretty` gives PostHog's multi-line form.
pub fn print_hogql(query: &Query, ctx: &Context, pretty: bool) -> Result<String> {
    let db = Database::posthog_default_for(ctx.poe_mode(), ctx.sessions_schema());
    let mut printer = HogqlPrinter {
        ctx,
        db,
        pretty,
        indent: -1,
        scopes: Vec::new(),
    };
    printer.visit_query(query, Position::Root)
}

/// Where a query sits, for LIMIT and parentheses (PostHog reads it off its visit stack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The statement itself.
    Root,
    /// A direct member of the top-level set (`SELECT … UNION ALL SELECT …`).
    TopSetMember,
    /// A member of a nested set.
    SetMember,
    /// A subquery (FROM, IN, an expression).
    Nested,
}

/// A FROM entry as far as `*` and JSON-key folding need it.
#[derive(Debug, Clone)]
struct ScopeTable<'db> {
    /// The name a qualified `*` column is prefixed with (the alias, else the table name).
    name: String,
    source: Source<'db>,
}

#[derive(Debug, Clone)]
enum Source<'db> {
    Table(&'db Table),
    Subquery(Vec<String>),
}

#[derive(Debug)]
struct HogqlPrinter<'a> {
    ctx: &'a Context,
    db: &'static Database,
    pretty: bool,
    /// PostHog's `_indent`: one more for every node being visited.
    indent: i32,
    scopes: Vec<Frame>,
}

/// One SELECT's FROM entries and named windows.
#[derive(Debug, Default)]
struct Frame {
    tables: Vec<ScopeTable<'static>>,
    windows: Vec<(String, WindowExpr)>,
}

fn ident(name: &str) -> Result<String> {
    // PostHog's hogql identifiers escape a backtick with a backslash (test_hogql_properties).
    escape_hogql_identifier(name, IdentifierStyle::Legacy).map_err(|e| CompileError::new(e, None))
}

fn chain_part(part: &ChainPart) -> Result<String> {
    match part {
        ChainPart::Index(i) => Ok(i.to_string()),
        ChainPart::Name(n) if n == "*" => Ok("*".to_owned()),
        ChainPart::Name(n) => ident(n),
    }
}

impl HogqlPrinter<'_> {
    fn pad(&self, extra: i32) -> String {
        " ".repeat(4 * (self.indent + extra).max(0) as usize)
    }

    // ---------------------------------------------------------------- queries

    fn visit_query(&mut self, query: &Query, position: Position) -> Result<String> {
        grow(|| {
            self.indent += 1;
            let out = match query {
                Query::Select(s) => self.select(s, position),
                Query::Set(set) => self.set(set, position),
                Query::Placeholder(e) => self.expr_inner(e),
            };
            self.indent -= 1;
            out
        })
    }

    fn set(&mut self, set: &crate::ir::SelectSetQuery, position: Position) -> Result<String> {
        self.indent -= 1;
        let member = if position == Position::Root {
            Position::TopSetMember
        } else {
            Position::SetMember
        };
        let mut out = self.visit_query(&set.initial, member)?;
        if self.pretty {
            out = out.trim().to_owned();
        }
        for node in &set.subsequent {
            let mut q = self.visit_query(&node.query, member)?;
            if self.pretty {
                q = q.trim().to_owned();
                out.push_str(&format!(
                    "\n{pad}{op}\n{pad}",
                    pad = self.pad(1),
                    op = node.set_operator
                ));
            } else {
                out.push_str(&format!(" {} ", node.set_operator));
            }
            out.push_str(&q);
        }
        self.indent += 1;
        Ok(if position == Position::Root {
            out
        } else {
            format!("({})", out.trim())
        })
    }

    fn select(&mut self, q: &SelectQuery, position: Position) -> Result<String> {
        let mut with = Vec::new();
        for cte in &q.ctes {
            let body = match &cte.expr.kind {
                ExprKind::Query(inner) => {
                    let sql = self.visit_query(inner, Position::Nested)?;
                    if sql.starts_with('(') {
                        sql
                    } else {
                        format!("({sql})")
                    }
                }
                _ => self.expr(&cte.expr)?,
            };
            with.push(format!("{} AS {body}", ident(&cte.name)?));
        }

        let mut scope = Vec::new();
        let mut tables = Vec::new();
        let mut next = q.select_from.as_ref();
        while let Some(join) = next {
            tables.push(self.join(join, &mut scope)?);
            next = join.next_join.as_deref();
        }
        self.scopes.push(Frame {
            tables: scope,
            windows: q.window_exprs.clone(),
        });
        let result = self.select_clauses(q, position, tables);
        self.scopes.pop();
        let sql = result?;
        Ok(if with.is_empty() {
            sql
        } else {
            format!("WITH {} {sql}", with.join(", "))
        })
    }

    fn select_clauses(
        &mut self,
        q: &SelectQuery,
        position: Position,
        tables: Vec<String>,
    ) -> Result<String> {
        let mut columns = Vec::new();
        for column in &q.select {
            if let Some(expanded) = self.asterisk(column)? {
                columns.extend(expanded);
            } else {
                columns.push(self.expr(column)?);
            }
        }
        if columns.is_empty() {
            columns.push("1".to_owned());
        }
        let window = if q.window_exprs.is_empty() {
            None
        } else {
            let mut items = Vec::new();
            for (name, we) in &q.window_exprs {
                self.indent += 1;
                let spec = self.window_expr(we);
                self.indent -= 1;
                items.push(format!("{} AS ({})", ident(name)?, spec?));
            }
            Some(items.join(", "))
        };
        let prewhere = q.prewhere.as_ref().map(|e| self.expr(e)).transpose()?;
        let where_ = q.where_.as_ref().map(|e| self.expr(e)).transpose()?;
        let group_by = self.expr_list(&q.group_by)?;
        let having = q.having.as_ref().map(|e| self.expr(e)).transpose()?;
        let order_by = self.order_list(&q.order_by)?;
        let array_join = match &q.array_join {
            Some(aj) => Some(format!(
                "{} {}",
                aj.op,
                self.expr_list(&aj.list)?.join(", ")
            )),
            None => None,
        };

        let space = if self.pretty {
            format!("\n{}", self.pad(1))
        } else {
            " ".to_owned()
        };
        let comma = if self.pretty {
            format!(",\n{}", self.pad(1))
        } else {
            ", ".to_owned()
        };
        let group_by = if group_by.is_empty() {
            None
        } else {
            Some(match q.group_by_mode.as_deref() {
                Some("grouping_sets") => format!("GROUPING SETS ({})", group_by.join(", ")),
                Some(mode @ ("cube" | "rollup")) => {
                    format!("{}({})", mode.to_ascii_uppercase(), group_by.join(", "))
                }
                _ => group_by.join(&comma),
            })
        };
        let mut clauses: Vec<String> = Vec::new();
        clauses.push(format!(
            "SELECT{space}{}{}",
            if q.distinct { "DISTINCT " } else { "" },
            columns.join(&comma)
        ));
        if !tables.is_empty() {
            clauses.push(format!("FROM{space}{}", tables.join(&space)));
        }
        clauses.extend(array_join);
        if let Some(p) = prewhere {
            clauses.push(format!("PREWHERE{space}{p}"));
        }
        if let Some(w) = where_ {
            clauses.push(format!("WHERE{space}{w}"));
        }
        if let Some(g) = group_by {
            clauses.push(format!("GROUP BY{space}{g}"));
        }
        if let Some(h) = having {
            clauses.push(format!("HAVING{space}{h}"));
        }
        if let Some(w) = window {
            clauses.push(format!("WINDOW{space}{w}"));
        }
        if !order_by.is_empty() {
            clauses.push(format!("ORDER BY{space}{}", order_by.join(&comma)));
        }
        if let Some(lb) = &q.limit_by {
            let n = self.expr(&lb.n)?;
            let offset = match &lb.offset {
                Some(o) => format!("OFFSET {}", self.expr(o)?),
                None => String::new(),
            };
            let exprs = self.expr_list(&lb.exprs)?;
            clauses.push(format!("LIMIT {n} {offset} BY {}", exprs.join(", ")));
        }
        let top = matches!(position, Position::Root | Position::TopSetMember);
        if let Some(limit) = self.limit(q, top)? {
            clauses.push(format!("LIMIT {limit}"));
            if q.limit_with_ties {
                clauses.push("WITH TIES".to_owned());
            }
        }
        if let Some(o) = &q.offset {
            clauses.push(format!("OFFSET {}", self.expr(o)?));
        }

        let response = if self.pretty {
            let pad = self.pad(0);
            clauses
                .iter()
                .map(|c| format!("{pad}{c}"))
                .collect::<Vec<_>>()
                .join("\n")
        } else {
            clauses.join(" ")
        };
        Ok(match position {
            Position::Nested => format!("({})", response.trim()),
            _ => response,
        })
    }

    /// PostHog's top-level LIMIT: the context's limit when absent, capped at the maximum when a
    /// constant, `min2(max, expr)` otherwise; a subquery keeps its own.
    fn limit(&mut self, q: &SelectQuery, top: bool) -> Result<Option<String>> {
        let max = self.ctx.limit_context.max_limit();
        match (&q.limit, top) {
            (None, true) => Ok(Some(self.ctx.limit_context.default_limit().to_string())),
            (None, false) => Ok(None),
            (Some(e), false) => Ok(Some(self.expr(e)?)),
            (Some(e), true) => match &e.kind {
                ExprKind::Constant(Constant::Int(n)) => Ok(Some((*n).min(max).to_string())),
                _ => Ok(Some(format!("min2({max}, {})", self.expr(e)?))),
            },
        }
    }

    fn join(&mut self, j: &JoinExpr, scope: &mut Vec<ScopeTable<'static>>) -> Result<String> {
        let mut parts = Vec::new();
        if let Some(t) = &j.join_type {
            parts.push(t.clone());
        }
        match &j.table {
            JoinTable::Table { chain, args, .. } => {
                let joined = chain.join(".");
                let table = self.db.table(&joined).ok();
                let name = match table {
                    Some(t) => t.name.to_owned(),
                    None => chain
                        .iter()
                        .map(|c| ident(c))
                        .collect::<Result<Vec<_>>>()?
                        .join("."),
                };
                let mut sql = name.clone();
                if let Some(args) = args
                    && !args.is_empty()
                {
                    sql = format!("{sql}({})", self.expr_list(args)?.join(", "));
                }
                parts.push(sql.clone());
                if let Some(alias) = &j.alias
                    && alias != &sql
                {
                    parts.push(format!("AS {}", ident(alias)?));
                }
                if let Some(t) = table {
                    scope.push(ScopeTable {
                        name: j.alias.clone().unwrap_or(name),
                        source: Source::Table(t),
                    });
                }
            }
            JoinTable::Query(inner) => {
                parts.push(self.visit_query(inner, Position::Nested)?);
                if let Some(alias) = &j.alias {
                    parts.push(format!("AS {}", ident(alias)?));
                }
                scope.push(ScopeTable {
                    name: j.alias.clone().unwrap_or_default(),
                    source: Source::Subquery(output_names(inner, self.db)),
                });
            }
            JoinTable::Nested(inner) => {
                let mut inner_scope = Vec::new();
                let mut items = Vec::new();
                let mut next = Some(inner.as_ref());
                while let Some(join) = next {
                    items.push(self.join(join, &mut inner_scope)?);
                    next = join.next_join.as_deref();
                }
                scope.extend(inner_scope);
                parts.push(format!("({})", items.join(" ")));
            }
            JoinTable::Placeholder(e) | JoinTable::Other(e) => {
                parts.push(self.expr(e)?);
                if let Some(alias) = &j.alias {
                    parts.push(format!("AS {}", ident(alias)?));
                }
            }
        }
        if let Some(sample) = &j.sample {
            let is_one = matches!(
                sample.sample_value.left.kind,
                ExprKind::Constant(Constant::Int(1))
            ) && sample.sample_value.right.is_none()
                && sample.offset_value.is_none();
            if !is_one {
                let mut s = format!("SAMPLE {}", self.ratio(&sample.sample_value)?);
                if let Some(o) = &sample.offset_value {
                    s.push_str(&format!(" OFFSET {}", self.ratio(o)?));
                }
                parts.push(s);
            }
        }
        if let Some(c) = &j.constraint {
            // PostHog visits the JoinConstraint node, then its expression.
            self.indent += 1;
            let e = self.expr(&c.expr);
            self.indent -= 1;
            parts.push(format!("{} {}", c.constraint_type, e?));
        }
        Ok(parts.join(" "))
    }

    fn ratio(&mut self, r: &Ratio) -> Result<String> {
        let left = self.expr(&r.left)?;
        Ok(match &r.right {
            Some(right) => format!("{left}/{}", self.expr(right)?),
            None => left,
        })
    }

    /// `*` and `t.*` expanded as PostHog's resolver does: the table's columns (a subquery's
    /// named columns), qualified by the table when several are in scope or one was named.
    fn asterisk(&mut self, column: &Expr) -> Result<Option<Vec<String>>> {
        let ExprKind::Field(chain) = &column.kind else {
            return Ok(None);
        };
        let (prefix, only) = match chain.as_slice() {
            [ChainPart::Name(star)] if star == "*" => (Vec::new(), None),
            [ChainPart::Name(t), ChainPart::Name(star)] if star == "*" => {
                (vec![t.clone()], Some(t.as_str()))
            }
            _ => return Ok(None),
        };
        let Some(scope) = self.scopes.last().map(|f| &f.tables) else {
            return Ok(None);
        };
        let tables: Vec<&ScopeTable<'_>> = match only {
            Some(name) => scope.iter().filter(|t| t.name == name).collect(),
            None => scope.iter().collect(),
        };
        if tables.is_empty() {
            return Ok(None);
        }
        let qualify = only.is_none() && tables.len() > 1;
        let mut out: Vec<String> = Vec::new();
        for table in tables {
            let names: Vec<String> = match &table.source {
                Source::Table(t) => t.asterisk_fields().into_iter().map(str::to_owned).collect(),
                Source::Subquery(cols) => cols.clone(),
            };
            for name in names {
                let mut parts = Vec::new();
                for p in &prefix {
                    parts.push(ident(p)?);
                }
                if qualify {
                    parts.push(ident(&table.name)?);
                }
                parts.push(ident(&name)?);
                out.push(parts.join("."));
            }
        }
        // Nothing known to expand (a subquery whose columns are not named): print `*` itself.
        Ok((!out.is_empty()).then_some(out))
    }

    // ---------------------------------------------------------------- expressions

    /// Visit an expression node (one level of PostHog's visit stack).
    fn expr(&mut self, e: &Expr) -> Result<String> {
        grow(|| {
            self.indent += 1;
            let out = self.expr_inner(e);
            self.indent -= 1;
            out
        })
    }

    fn expr_list(&mut self, items: &[Expr]) -> Result<Vec<String>> {
        items.iter().map(|e| self.expr(e)).collect()
    }

    fn order_list(&mut self, items: &[OrderExpr]) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for o in items {
            self.indent += 1;
            let printed = self.order_expr(o);
            self.indent -= 1;
            out.push(printed?);
        }
        Ok(out)
    }

    fn order_expr(&mut self, o: &OrderExpr) -> Result<String> {
        let mut item = format!(
            "{} {}",
            self.expr(&o.expr)?,
            match o.order {
                crate::ir::Order::Asc => "ASC",
                crate::ir::Order::Desc => "DESC",
            }
        );
        if let Some(fill) = &o.with_fill {
            item.push_str(" WITH FILL");
            for (word, value) in [
                ("FROM", &fill.from),
                ("TO", &fill.to),
                ("STEP", &fill.step),
                ("STALENESS", &fill.staleness),
            ] {
                if let Some(v) = value {
                    item.push_str(&format!(" {word} {}", self.expr(v)?));
                }
            }
        }
        Ok(item)
    }

    fn expr_inner(&mut self, e: &Expr) -> Result<String> {
        Ok(match &e.kind {
            ExprKind::Constant(c) => constant(c),
            ExprKind::Field(chain) => chain
                .iter()
                .map(chain_part)
                .collect::<Result<Vec<_>>>()?
                .join("."),
            ExprKind::Call(call) => self.call(call)?,
            ExprKind::Compare {
                op, left, right, ..
            } => {
                let l = self.expr(left)?;
                let r = self.expr(right)?;
                compare(*op, &l, &r)
            }
            ExprKind::Arithmetic { op, left, right } => format!(
                "{}({}, {})",
                op.clickhouse_function(),
                self.expr(left)?,
                self.expr(right)?
            ),
            ExprKind::And(items) | ExprKind::Or(items) if items.len() == 1 => {
                self.expr(&items[0])?
            }
            ExprKind::And(items) => format!("and({})", self.expr_list(items)?.join(", ")),
            ExprKind::Or(items) => format!("or({})", self.expr_list(items)?.join(", ")),
            ExprKind::Not(inner) => format!("not({})", self.expr(inner)?),
            ExprKind::Between {
                expr,
                low,
                high,
                negated,
            } => format!(
                "{}{} BETWEEN {} AND {}",
                self.expr(expr)?,
                if *negated { " NOT" } else { "" },
                self.expr(low)?,
                self.expr(high)?
            ),
            ExprKind::IsDistinctFrom {
                left,
                right,
                negated,
            } => format!(
                "{} IS {}DISTINCT FROM {}",
                self.expr(left)?,
                if *negated { "NOT " } else { "" },
                self.expr(right)?
            ),
            ExprKind::Alias { expr, hidden, .. } if *hidden => self.expr(expr)?,
            ExprKind::Alias { alias, expr, .. } => {
                let mut inner: &Expr = expr;
                while let ExprKind::Alias {
                    expr: deeper,
                    hidden: true,
                    ..
                } = &inner.kind
                {
                    inner = deeper;
                }
                let mut sql = self.expr(inner)?;
                if matches!(inner.kind, ExprKind::Alias { .. }) {
                    sql = format!("({sql})");
                }
                format!("{sql} AS {}", ident(alias)?)
            }
            ExprKind::Array(items) => format!("[{}]", self.expr_list(items)?.join(", ")),
            ExprKind::Tuple(items) => format!("tuple({})", self.expr_list(items)?.join(", ")),
            ExprKind::Dict(items) => {
                let mut out = "tuple('__hx_tag', '__hx_obj'".to_owned();
                for (k, v) in items {
                    out.push_str(&format!(", {}, {}", self.expr(k)?, self.expr(v)?));
                }
                out.push(')');
                out
            }
            ExprKind::ArrayAccess {
                array,
                property,
                nullish,
            } => {
                if let Some(chain) = self.json_key_chain(array, property) {
                    return chain;
                }
                format!(
                    "{}{}[{}]",
                    self.expr(array)?,
                    if *nullish { "?." } else { "" },
                    self.expr(property)?
                )
            }
            ExprKind::ArraySlice { array, start, end } => {
                let a = self.expr(array)?;
                match (start, end) {
                    (Some(s), Some(en)) => {
                        let s = self.expr(s)?;
                        let en = self.expr(en)?;
                        format!("arraySlice({a}, {s}, plus(minus({en}, {s}), 1))")
                    }
                    (Some(s), None) => format!("arraySlice({a}, {})", self.expr(s)?),
                    (None, Some(en)) => format!("arraySlice({a}, 1, {})", self.expr(en)?),
                    (None, None) => a,
                }
            }
            ExprKind::TupleAccess {
                tuple,
                index,
                nullish,
            } => {
                let t = self.expr(tuple)?;
                let symbol = if *nullish { "?." } else { "." };
                if matches!(
                    tuple.kind,
                    ExprKind::Field(_) | ExprKind::Tuple(_) | ExprKind::Call(_)
                ) {
                    format!("{t}{symbol}{index}")
                } else {
                    format!("({t}){symbol}{index}")
                }
            }
            ExprKind::Lambda { args, expr } => {
                let names = args.iter().map(|a| ident(a)).collect::<Result<Vec<_>>>()?;
                let body = self.expr(expr)?;
                if names.len() == 1 {
                    format!("{} -> {body}", names[0])
                } else {
                    format!("({}) -> {body}", names.join(", "))
                }
            }
            ExprKind::TypeCast {
                expr,
                type_name,
                try_cast,
            } => format!(
                "{}({} AS {type_name})",
                if *try_cast { "TRY_CAST" } else { "CAST" },
                self.expr(expr)?
            ),
            ExprKind::Placeholder(inner) => format!("{{{}}}", self.expr(inner)?),
            ExprKind::Query(q) => {
                // The subquery is the node itself in PostHog's tree: undo this level.
                self.indent -= 1;
                let out = self.visit_query(q, Position::Nested);
                self.indent += 1;
                let sql = out?;
                if sql.starts_with('(') {
                    sql
                } else {
                    format!("({sql})")
                }
            }
            ExprKind::WindowFunction(w) => self.window_function(w)?,
            ExprKind::Columns(_) => "*".to_owned(),
            ExprKind::NamedArgument { name, value } => {
                format!("{} => {}", ident(name)?, self.expr(value)?)
            }
            ExprKind::PositionalRef(i) => format!("${i}"),
            ExprKind::ExprCall { expr, args } => format!(
                "({})({})",
                self.expr(expr)?,
                self.expr_list(args)?.join(", ")
            ),
            ExprKind::GroupingSet(items) => format!("({})", self.expr_list(items)?.join(", ")),
            ExprKind::HogQLXTag { kind, attributes } => {
                let mut tag = format!("<{}", ident(kind)?);
                for (name, value) in attributes {
                    tag.push_str(&format!(" {}={{{}}}", ident(name)?, self.expr(value)?));
                }
                tag.push_str(" />");
                tag
            }
        })
    }

    /// `x['key']` on a JSON field (or a property of one) with a constant string or integer key
    /// is the field chain `x.key`, as PostHog's resolver folds it.
    fn json_key_chain(&mut self, array: &Expr, property: &Expr) -> Option<Result<String>> {
        let key = match &property.kind {
            ExprKind::Constant(Constant::Str(s)) => ChainPart::Name(s.clone()),
            ExprKind::Constant(Constant::Int(i)) => ChainPart::Index(*i),
            _ => return None,
        };
        let mut chain = self.json_chain(array)?;
        chain.push(key);
        Some(
            chain
                .iter()
                .map(chain_part)
                .collect::<Result<Vec<_>>>()
                .map(|parts| parts.join(".")),
        )
    }

    /// The chain of a field that reads a JSON column or a property inside one.
    fn json_chain(&self, e: &Expr) -> Option<Vec<ChainPart>> {
        match &e.kind {
            ExprKind::Field(chain) => self.is_json(chain).then(|| chain.clone()),
            ExprKind::ArrayAccess {
                array, property, ..
            } => {
                let key = match &property.kind {
                    ExprKind::Constant(Constant::Str(s)) => ChainPart::Name(s.clone()),
                    ExprKind::Constant(Constant::Int(i)) => ChainPart::Index(*i),
                    _ => return None,
                };
                let mut chain = self.json_chain(array)?;
                chain.push(key);
                Some(chain)
            }
            _ => None,
        }
    }

    fn is_json(&self, chain: &[ChainPart]) -> bool {
        let names: Vec<&str> = chain
            .iter()
            .map_while(|p| match p {
                ChainPart::Name(n) => Some(n.as_str()),
                ChainPart::Index(_) => None,
            })
            .collect();
        let Some(scope) = self.scopes.last().map(|f| &f.tables) else {
            return false;
        };
        let json_on = |table: &Table, rest: &[&str]| {
            (1..=rest.len()).any(|k| {
                self.db
                    .resolve_chain(table.name, &rest[..k])
                    .is_ok_and(|(_, field)| field_is_json(&field.field))
            })
        };
        for entry in scope {
            let Source::Table(table) = entry.source else {
                continue;
            };
            if names.first() == Some(&entry.name.as_str()) && names.len() > 1 {
                return json_on(table, &names[1..]);
            }
        }
        scope.iter().any(|entry| match entry.source {
            Source::Table(table) => json_on(table, &names),
            Source::Subquery(_) => false,
        })
    }

    fn call(&mut self, call: &crate::ir::Call) -> Result<String> {
        let registry = functions::registry();
        let args = self.expr_list(&call.args)?;
        let mut out = if call.name == "_caseWithExpression" {
            case_with_expression(&args)
        } else if call.within_group.is_some() && call.args.is_empty() {
            // `percentile_cont(0.5) WITHIN GROUP (…)`: the fraction is the call's argument.
            let params = self.expr_list(call.params.as_deref().unwrap_or_default())?;
            format!("{}({})", call.name, params.join(", "))
        } else if registry.find_aggregation(&call.name).is_some() {
            let params = match &call.params {
                Some(p) => format!("({})", self.expr_list(p)?.join(", ")),
                None => String::new(),
            };
            format!(
                "{}{params}({}{})",
                call.name,
                if call.distinct { "DISTINCT " } else { "" },
                args.join(", ")
            )
        } else if let Some(meta) = registry.lookup(&call.name)
            && let Target::Template { text, positional } = &meta.target
            && !meta.aggregate
            && registry.find_posthog_function(&call.name).is_none()
        {
            // PostHog applies a placeholder template in every dialect.
            fill_template(text, *positional, &args)
        } else {
            format!("{}({})", call.name, args.join(", "))
        };
        if let Some(filter) = &call.filter {
            out.push_str(&format!(" FILTER (WHERE {})", self.expr(filter)?));
        }
        if let Some(order) = &call.within_group {
            out.push_str(&format!(
                " WITHIN GROUP (ORDER BY {})",
                self.order_list(order)?.join(", ")
            ));
        }
        Ok(out)
    }

    fn window_function(&mut self, w: &WindowFunction) -> Result<String> {
        let in_frame = matches!(w.name.as_str(), "lag" | "lead");
        let mut exprs = self.expr_list(&w.exprs)?;
        let name = if in_frame {
            if let Some(first) = exprs.first_mut() {
                *first = format!("toNullable({first})");
            }
            format!("{}InFrame", w.name)
        } else {
            ident(&w.name)?
        };
        // lag/lead get ClickHouse's *InFrame variants with the whole partition as the frame
        // when none is given; over a named window, its definition is inlined with that frame.
        let over_expr: Option<WindowExpr> = match (&w.over_expr, &w.over_identifier) {
            (Some(we), _) if in_frame && !we.order_by.is_empty() && we.frame_method.is_none() => {
                Some(with_full_frame(we, false))
            }
            (Some(we), _) => Some(we.clone()),
            (None, None) if in_frame => Some(with_full_frame(&empty_window(), false)),
            (None, Some(id)) if in_frame => self
                .scopes
                .last()
                .and_then(|f| f.windows.iter().find(|(n, _)| n == id))
                .map(|(_, we)| with_full_frame(we, true)),
            _ => None,
        };
        let args = if w.args.is_empty() {
            String::new()
        } else {
            format!("({})", self.expr_list(&w.args)?.join(", "))
        };
        let over = match (&over_expr, &w.over_identifier) {
            (Some(we), _) => {
                self.indent += 1;
                let spec = self.window_expr(we);
                self.indent -= 1;
                format!("({})", spec?)
            }
            (None, Some(id)) => ident(id)?,
            (None, None) => "()".to_owned(),
        };
        Ok(format!("{name}({}){args} OVER {over}", exprs.join(", ")))
    }

    fn window_expr(&mut self, we: &WindowExpr) -> Result<String> {
        let mut parts = Vec::new();
        if let Some(base) = &we.base {
            parts.push(ident(base)?);
        }
        if !we.partition_by.is_empty() {
            parts.push("PARTITION BY".to_owned());
            parts.push(self.expr_list(&we.partition_by)?.join(", "));
        }
        if !we.order_by.is_empty() {
            parts.push("ORDER BY".to_owned());
            parts.push(self.order_list(&we.order_by)?.join(", "));
        }
        if let Some(method) = &we.frame_method {
            parts.push(method.clone());
            match (&we.frame_start, &we.frame_end) {
                (Some(s), None) => parts.push(frame_bound(s)),
                (Some(s), Some(e)) => {
                    parts.push("BETWEEN".to_owned());
                    parts.push(frame_bound(s));
                    parts.push("AND".to_owned());
                    parts.push(frame_bound(e));
                }
                _ => {}
            }
        }
        Ok(parts.join(" "))
    }
}

fn empty_window() -> WindowExpr {
    WindowExpr {
        base: None,
        partition_by: Vec::new(),
        order_by: Vec::new(),
        frame_method: None,
        frame_start: None,
        frame_end: None,
    }
}

/// `we` with ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING; `keep` keeps the
/// bounds and method `we` already has (a named window inlined for lag/lead).
fn with_full_frame(we: &WindowExpr, keep: bool) -> WindowExpr {
    let mut out = we.clone();
    let unbounded = |t: &str| FrameBound {
        frame_type: t.to_owned(),
        frame_value: None,
    };
    if !keep || out.frame_method.is_none() {
        out.frame_method = Some("ROWS".to_owned());
    }
    if !keep || out.frame_start.is_none() {
        out.frame_start = Some(unbounded("PRECEDING"));
    }
    if !keep || out.frame_end.is_none() {
        out.frame_end = Some(unbounded("FOLLOWING"));
    }
    out
}

fn frame_bound(b: &FrameBound) -> String {
    match (b.frame_type.as_str(), b.frame_value) {
        ("CURRENT ROW", _) => "CURRENT ROW".to_owned(),
        (t, Some(v)) => format!("{v} {t}"),
        (t, None) => format!("UNBOUNDED {t}"),
    }
}

fn field_is_json(field: &crate::schema::Field) -> bool {
    match field {
        crate::schema::Field::Column(c) => c.value_type == ValueType::StringJson,
        crate::schema::Field::Expression(e) => e.value_type == ValueType::StringJson,
        _ => false,
    }
}

/// The names a subquery's columns are read by (aliases and plain fields; PostHog exports no
/// other column).
fn output_names(q: &Query, db: &Database) -> Vec<String> {
    match q {
        Query::Select(s) => {
            let mut names = Vec::new();
            for e in &s.select {
                match &e.kind {
                    ExprKind::Alias { alias, .. } => names.push(alias.clone()),
                    // `SELECT *` over one table exports that table's `*` columns.
                    ExprKind::Field(chain) if matches!(chain.as_slice(), [ChainPart::Name(n)] if n == "*") => {
                        if let Some(JoinExpr {
                            table: JoinTable::Table { chain, .. },
                            next_join: None,
                            ..
                        }) = &s.select_from
                            && let Ok(table) = db.table(&chain.join("."))
                        {
                            names.extend(table.asterisk_fields().into_iter().map(str::to_owned));
                        }
                    }
                    ExprKind::Field(chain) => {
                        if let Some(ChainPart::Name(n)) = chain.last() {
                            names.push(n.clone());
                        }
                    }
                    _ => {}
                }
            }
            names
        }
        Query::Set(set) => output_names(&set.initial, db),
        Query::Placeholder(_) => Vec::new(),
    }
}

fn constant(c: &Constant) -> String {
    match c {
        Constant::Null => "NULL".to_owned(),
        Constant::Bool(true) => "true".to_owned(),
        Constant::Bool(false) => "false".to_owned(),
        Constant::Int(i) => i.to_string(),
        Constant::Float(f) => python_float_repr(*f),
        Constant::Number(text) => match text.as_str() {
            "Infinity" | "inf" => "Inf".to_owned(),
            "-Infinity" | "-inf" => "-Inf".to_owned(),
            "NaN" | "nan" => "NaN".to_owned(),
            other => other.to_owned(),
        },
        Constant::Str(s) => escape_string(s),
    }
}

fn compare(op: CompareOp, l: &str, r: &str) -> String {
    match op {
        CompareOp::Eq => format!("equals({l}, {r})"),
        CompareOp::NotEq => format!("notEquals({l}, {r})"),
        CompareOp::Like => format!("like({l}, {r})"),
        CompareOp::NotLike => format!("notLike({l}, {r})"),
        CompareOp::ILike => format!("ilike({l}, {r})"),
        CompareOp::NotILike => format!("notILike({l}, {r})"),
        CompareOp::In => format!("in({l}, {r})"),
        CompareOp::NotIn => format!("notIn({l}, {r})"),
        CompareOp::GlobalIn => format!("globalIn({l}, {r})"),
        CompareOp::GlobalNotIn => format!("globalNotIn({l}, {r})"),
        CompareOp::Regex => format!("match({l}, {r})"),
        CompareOp::NotRegex => format!("not(match({l}, {r}))"),
        CompareOp::IRegex => format!("match({l}, concat('(?i)', {r}))"),
        CompareOp::NotIRegex => format!("not(match({l}, concat('(?i)', {r})))"),
        CompareOp::Gt => format!("greater({l}, {r})"),
        CompareOp::GtEq => format!("greaterOrEquals({l}, {r})"),
        CompareOp::Lt => format!("less({l}, {r})"),
        CompareOp::LtEq => format!("lessOrEquals({l}, {r})"),
        CompareOp::InCohort => format!("{l} IN COHORT {r}"),
        CompareOp::NotInCohort => format!("{l} NOT IN COHORT {r}"),
    }
}

/// `CASE x WHEN a THEN b … ELSE c END` as PostHog's parser builds it: `transform(x, [a, …],
/// [b, …], c)`.
fn case_with_expression(args: &[String]) -> String {
    if args.len() == 4 && args[1].starts_with('[') && args[2].starts_with('[') {
        return format!("transform({})", args.join(", "));
    }
    if args.len() < 4 || !args.len().is_multiple_of(2) {
        return format!("transform({})", args.join(", "));
    }
    let pairs = &args[1..args.len() - 1];
    let whens: Vec<&str> = pairs.iter().step_by(2).map(String::as_str).collect();
    let thens: Vec<&str> = pairs
        .iter()
        .skip(1)
        .step_by(2)
        .map(String::as_str)
        .collect();
    format!(
        "transform({}, [{}], [{}], {})",
        args[0],
        whens.join(", "),
        thens.join(", "),
        args[args.len() - 1]
    )
}

/// Python's `str.format` on a function's template: `{}` in order, or `{N}` by position.
fn fill_template(text: &str, positional: bool, args: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut next = 0;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let inner = &after[..close];
        let index = if positional {
            inner.parse::<usize>().ok()
        } else if inner.is_empty() {
            next += 1;
            Some(next - 1)
        } else {
            None
        };
        match index.and_then(|i| args.get(i)) {
            Some(arg) => out.push_str(arg),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::fill_template;
    use crate::Context;
    use crate::compile::print_hogql_dialect;

    #[test]
    fn star_over_a_star_subquery_expands_both_levels() {
        let ctx = Context::new(1);
        let out = print_hogql_dialect("select * from (select * from events)", &ctx, false).unwrap();
        assert!(
            out.starts_with("SELECT uuid, event, properties, timestamp, distinct_id"),
            "{out}"
        );
        assert!(
            out.contains("FROM (SELECT uuid, event, properties"),
            "{out}"
        );
        // A subquery whose columns have no names keeps `*`.
        let out = print_hogql_dialect("select * from (select 1 + 2)", &ctx, false).unwrap();
        assert_eq!(out, "SELECT * FROM (SELECT plus(1, 2)) LIMIT 50000");
    }

    #[test]
    fn templates_fill_in_order_or_by_position() {
        let args = ["a".to_owned(), "b".to_owned()];
        assert_eq!(fill_template("f({}, {})", false, &args), "f(a, b)");
        assert_eq!(fill_template("g({1}, {0})", true, &args), "g(b, a)");
    }
}
