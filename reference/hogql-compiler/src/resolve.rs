//! Name resolution for one SELECT scope: which table, column, JSON property, subquery column,
//! select alias or lambda argument a field chain refers to.
//!
//! Order (PostHog's resolver): lambda arguments, then aliases of the current SELECT, then
//! columns of the tables in FROM (a name must be unique across them), then a table name or alias
//! as the chain's head. Anything else is `Unable to resolve field: x`.
//!
//! Lazy joins (`events.pdi`, `events.pdi.person`, `events.override`, `events.session`,
//! `events.group_N`) resolve to the joined table's field through one or more hops; lazy tables
//! in FROM (`persons`, `person_distinct_ids`, `groups`, `sessions`) to the field their subquery
//! must select (a computed sessions field included); expression fields (`events.person_id` in
//! the override modes) to HogQL text printed against their table. Lazy targets the printer
//! cannot build (`cohort_people`, `$channel_type`) are reported as not supported, never printed
//! wrong.

use crate::ir::ChainPart;
use crate::schema::{
    self, Column, Database, Field, FieldDef, LazyJoin, LazySource, TableKind, ValueType,
};
use crate::{Error, Result};

/// A column of a subquery in FROM, as seen from the outer query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubColumn {
    /// The name the outer query uses.
    pub name: String,
    /// Whether the printer must treat it as nullable.
    pub nullable: bool,
}

/// What a FROM entry reads.
#[derive(Debug, Clone)]
pub enum Source<'db> {
    /// A database table (real table or table function).
    Table(&'db schema::Table),
    /// A subquery (or CTE) with its columns.
    Subquery(Vec<SubColumn>),
    /// A lazy table (`persons`) that becomes a subquery selecting the fields the query reads.
    LazyTable(&'db schema::Table),
}

/// One entry of the FROM list.
#[derive(Debug, Clone)]
pub struct ScopeTable<'db> {
    /// The name HogQL uses for it: the alias, or the table's HogQL name.
    pub name: String,
    /// How the printed SQL refers to it: the alias, or the ClickHouse table name; `None` for an
    /// unaliased subquery.
    pub sql_ref: Option<String>,
    /// What it reads.
    pub source: Source<'db>,
}

/// An alias defined in the SELECT list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeAlias {
    /// The alias.
    pub name: String,
    /// Nullability of its expression (known once printed).
    pub nullable: bool,
}

/// One step through a lazy join: `events` → `pdi`, or `events__pdi` → `person`.
#[derive(Debug, Clone, PartialEq)]
pub struct LazyHop<'db> {
    /// The HogQL name of what it hangs off: a FROM entry (`events`, or its alias) or the alias
    /// of the previous hop (`events__pdi`).
    pub owner_name: String,
    /// How the printed SQL refers to that owner.
    pub owner_sql: String,
    /// The join field's name (`pdi`).
    pub join_name: String,
    /// The join.
    pub join: &'db LazyJoin,
    /// The joined (lazy) table.
    pub target: &'db schema::Table,
}

impl LazyHop<'_> {
    /// The join's alias in the printed SQL: `<owner>__<join>` (`events__pdi`).
    pub fn alias(&self) -> String {
        format!("{}__{}", self.owner_name, self.join_name)
    }
}

/// A field a lazily joined or lazy table must provide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LazyField {
    /// The column alias in the subquery (`person_id`, `properties___email`).
    pub name: String,
    /// The field of the lazy table it reads.
    pub column: String,
    /// The JSON path below that field (empty for the field itself).
    pub path: Vec<ChainPart>,
}

impl LazyField {
    /// A plain field.
    pub fn plain(name: &str) -> Self {
        LazyField {
            name: name.to_owned(),
            column: name.to_owned(),
            path: Vec::new(),
        }
    }
}

/// A lazy join a SELECT uses (`events.pdi`), turned into a JOIN subquery by the printer.
#[derive(Debug, Clone)]
pub struct LazyJoinUse<'db> {
    /// Where it hangs off and what it joins.
    pub hop: LazyHop<'db>,
    /// Fields of the joined table the query reads, in first-use order.
    pub fields: Vec<LazyField>,
}

impl LazyJoinUse<'_> {
    /// The join's alias in the printed SQL.
    pub fn alias(&self) -> String {
        self.hop.alias()
    }

    /// Record that `field` is read (once).
    pub fn require(&mut self, field: LazyField) {
        if !self.fields.contains(&field) {
            self.fields.push(field);
        }
    }
}

/// What the lazy-table pass ([`crate::lazy`]) found a SELECT reads through lazy joins and lazy
/// tables, so the printer can print their subqueries in FROM.
#[derive(Debug, Clone, Default)]
pub struct LazyPlan<'db> {
    /// Lazy joins, parents before children.
    pub joins: Vec<LazyJoinUse<'db>>,
    /// Lazy tables in FROM with their fields.
    pub tables: Vec<(String, &'db schema::Table, Vec<LazyField>)>,
}

/// The names visible inside one SELECT.
#[derive(Debug, Clone, Default)]
pub struct Scope<'db> {
    /// Lazy tables in FROM and the fields read from each: (FROM entry name, table, fields).
    pub lazy_tables: Vec<(String, &'db schema::Table, Vec<LazyField>)>,
    /// The lazy joins and tables the lazy-table pass planned for this SELECT (printing).
    pub plan: Option<LazyPlan<'db>>,
    /// The SELECT's named windows (`WINDOW w AS (…)`).
    pub windows: Vec<(String, crate::ir::WindowExpr)>,
    /// Lazy joins used so far (planning; when printing, checked against the plan).
    pub lazy_joins: Vec<LazyJoinUse<'db>>,
    /// `(is a lazy table, join alias or table name, field)` of every field recorded in
    /// `lazy_joins` and `lazy_tables`, so recording one more is O(1), not a scan.
    pub lazy_fields_seen: std::collections::HashSet<(bool, String, LazyField)>,
    /// FROM entries, in order.
    pub tables: Vec<ScopeTable<'db>>,
    /// Explicit aliases of the SELECT list (add them with [`Scope::add_alias`]).
    pub aliases: Vec<ScopeAlias>,
    /// Index of `aliases` by name, so a SELECT with n aliases resolves in O(n), not O(n²).
    pub alias_index: std::collections::HashMap<String, usize>,
    /// The alias whose own expression is being printed (it cannot refer to itself).
    pub excluded_alias: Option<String>,
    /// Every alias printed in this SELECT (any clause, explicit or implicit), with its span:
    /// checked against the FROM entries once the SELECT is printed, since ClickHouse resolves
    /// an alias before a table of the same name.
    pub printed_aliases: Vec<(String, Option<crate::ir::Span>)>,
}

impl Scope<'_> {
    /// Adds an alias unless one of that name exists (nullable until its column is printed).
    pub fn add_alias(&mut self, name: &str) {
        if !self.alias_index.contains_key(name) {
            self.alias_index.insert(name.to_owned(), self.aliases.len());
            self.aliases.push(ScopeAlias {
                name: name.to_owned(),
                nullable: true,
            });
        }
    }

    /// The alias called `name`.
    pub fn alias(&self, name: &str) -> Option<&ScopeAlias> {
        self.alias_index.get(name).map(|&i| &self.aliases[i])
    }

    /// The alias called `name`, to update.
    pub fn alias_mut(&mut self, name: &str) -> Option<&mut ScopeAlias> {
        let i = *self.alias_index.get(name)?;
        self.aliases.get_mut(i)
    }
}

impl<'db> Scope<'db> {
    /// The scope an expression field (`events.person_id` in the override modes) is resolved
    /// in: its owning table alone, as the printer prints it.
    pub fn of_table(name: String, sql_ref: String, table: &'db schema::Table) -> Self {
        Scope {
            tables: vec![ScopeTable {
                name,
                sql_ref: Some(sql_ref),
                source: Source::Table(table),
            }],
            ..Scope::default()
        }
    }

    /// Whether `hop` hangs off a FROM table of this scope by a computed (expression) field,
    /// such as `events.person_id` in the override modes: its join key is then that expression,
    /// printed against the table, with the joins it needs.
    pub fn joins_by_computed_field(&self, hop: &LazyHop<'db>) -> bool {
        self.tables.iter().any(|t| {
            t.name == hop.owner_name
                && matches!(&t.source, Source::Table(table)
                if table.field(&hop.join.from_field).is_ok_and(|def| {
                    matches!(def.field, Field::Expression(_))
                }))
        })
    }
}

/// How a SELECT column got its name (the printer's rules, which the lazy-table pass follows for
/// the columns a FROM subquery or CTE shows the outer query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnName {
    /// `expr AS name`.
    Explicit,
    /// A field's or call's own name (PostHog's hidden alias).
    Implicit,
    /// A bare reference to an alias (printed without `AS`).
    AliasReference,
}

/// The name a field column gets without `AS`, and how: the field's name, or for a JSON property
/// its key path joined with `__` (none when the path has an array index; `%` stripped, as
/// PostHog does); a reference to an alias prints bare.
pub fn field_column_name(
    res: &Resolution<'_>,
    chain: &[ChainPart],
) -> (Option<String>, ColumnName) {
    let name = match res {
        Resolution::Property { path, .. } => {
            if path.iter().any(|k| matches!(k, ChainPart::Index(_))) {
                None
            } else {
                Some(
                    path.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("__")
                        .replace('%', ""),
                )
            }
        }
        _ => chain.last().map(ToString::to_string),
    };
    let kind = if matches!(res, Resolution::Alias(_)) {
        ColumnName::AliasReference
    } else {
        ColumnName::Implicit
    };
    (name, kind)
}

/// Which column keeps each name of a SELECT list (PostHog keeps "the first visible or last
/// hidden" alias per name): per name, the first explicit alias, else the last implicit one,
/// else the first reference.
#[derive(Debug, Default)]
pub struct ColumnNameWinners<'a> {
    /// Per name: the first explicit column, the last implicit one, the first of any kind.
    seen: std::collections::HashMap<&'a str, [Option<usize>; 3]>,
}

impl<'a> ColumnNameWinners<'a> {
    /// Reads the columns' names and kinds, in SELECT order, in one pass.
    pub fn new(columns: impl IntoIterator<Item = (Option<&'a str>, ColumnName)>) -> Self {
        let mut seen: std::collections::HashMap<&str, [Option<usize>; 3]> =
            std::collections::HashMap::new();
        for (i, (name, kind)) in columns.into_iter().enumerate() {
            let Some(name) = name else {
                continue;
            };
            let slot = seen.entry(name).or_default();
            match kind {
                ColumnName::Explicit => {
                    slot[0].get_or_insert(i);
                }
                ColumnName::Implicit => slot[1] = Some(i),
                ColumnName::AliasReference => {}
            }
            slot[2].get_or_insert(i);
        }
        ColumnNameWinners { seen }
    }

    /// The index of the column that keeps `name`.
    pub fn get(&self, name: &str) -> Option<usize> {
        let slot = self.seen.get(name)?;
        slot[0].or(slot[1]).or(slot[2])
    }

    /// The indices of every winning column.
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.seen
            .values()
            .filter_map(|slot| slot[0].or(slot[1]).or(slot[2]))
    }
}

/// The aliases a SELECT defines, in order, so every clause can refer to them: those of the
/// SELECT list (`true`; an alias under tuple or array access, `(sumMap(…) AS x).1`, is one
/// too), then those of ARRAY JOIN (`false`). Each with the expression that carries it.
pub fn defined_aliases(q: &crate::ir::SelectQuery) -> Vec<(&str, &crate::ir::Expr, bool)> {
    use crate::ir::ExprKind;
    let mut out = Vec::new();
    for e in &q.select {
        let mut e = e;
        while let ExprKind::TupleAccess { tuple: inner, .. }
        | ExprKind::ArrayAccess { array: inner, .. } = &e.kind
        {
            e = inner;
        }
        if let ExprKind::Alias { alias, .. } = &e.kind {
            out.push((alias.as_str(), e, true));
        }
    }
    for e in q.array_join.iter().flat_map(|aj| &aj.list) {
        if let ExprKind::Alias { alias, .. } = &e.kind {
            out.push((alias.as_str(), e, false));
        }
    }
    out
}

/// The field columns `*` (or `t.*`) stands for, at the asterisk's position.
pub fn asterisk_columns(
    chains: Vec<Vec<ChainPart>>,
    span: Option<crate::ir::Span>,
) -> Vec<crate::ir::Expr> {
    chains
        .into_iter()
        .map(|chain| crate::ir::Expr {
            kind: crate::ir::ExprKind::Field(chain),
            span,
        })
        .collect()
}

/// The columns of the CTE called `name`, innermost frame and latest definition first.
pub fn cte_columns(ctes: &[Vec<(String, Vec<SubColumn>)>], name: &str) -> Option<Vec<SubColumn>> {
    ctes.iter()
        .rev()
        .flat_map(|frame| frame.iter().rev())
        .find(|(n, _)| n == name)
        .map(|(_, columns)| columns.clone())
}

/// The name the printed SQL refers to a database table by (before escaping), and whether the
/// FROM entry prints `AS` it: an alias other than the ClickHouse name; a table function is
/// always aliased, by its alias or its HogQL name.
pub fn table_sql_name<'a>(alias: Option<&'a str>, table: &'a schema::Table) -> (&'a str, bool) {
    let is_function = matches!(table.kind, TableKind::Function(_));
    match alias {
        Some(alias) if alias != table.clickhouse_name || is_function => (alias, true),
        _ if is_function => (table.name, true),
        _ => (table.clickhouse_name, false),
    }
}

/// What a field chain resolved to.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution<'db> {
    /// A stored column of a table.
    Column {
        /// The printed table reference.
        table_sql: String,
        /// The column.
        column: &'db Column,
    },
    /// A JSON property below a JSON column: `properties.$browser`.
    Property {
        /// The table the JSON column belongs to.
        table: &'db schema::Table,
        /// The printed table reference.
        table_sql: String,
        /// The JSON column.
        column: &'db Column,
        /// The keys, outermost first (numbers are array indexes).
        path: Vec<ChainPart>,
    },
    /// A subquery column.
    SubqueryColumn {
        /// The printed subquery alias, if any.
        table_sql: Option<String>,
        /// The column.
        column: SubColumn,
    },
    /// An alias of the current SELECT.
    Alias(ScopeAlias),
    /// A lambda argument.
    LambdaArg(String),
    /// `*` or `t.*`: the expanded column chains.
    Asterisk(Vec<Vec<ChainPart>>),
    /// A computed field (`events.person_id` in the override modes): HogQL text to print
    /// against the owning table.
    ExpressionField {
        /// HogQL name of the owning FROM entry.
        owner_name: String,
        /// Printed reference of the owning FROM entry.
        owner_sql: String,
        /// The owning table.
        table: &'db schema::Table,
        /// The expression's HogQL text.
        expr: &'db str,
        /// Declared nullability.
        nullable: bool,
    },
    /// A column of a lazy table in FROM (`persons.id`), read from its subquery.
    LazyTableColumn {
        /// HogQL name of the FROM entry.
        table_name: String,
        /// Printed reference of the FROM entry.
        table_sql: String,
        /// The field the subquery must provide (its column alias is `field.name`).
        field: LazyField,
        /// Whether the printer must treat it as nullable.
        nullable: bool,
        /// It is a JSON document, so `[…]` extends the path.
        is_json: bool,
    },
    /// A field of a lazily joined table (`pdi.person_id`, `pdi.person.properties.email`).
    LazyColumn {
        /// The joins followed, outermost first.
        hops: Vec<LazyHop<'db>>,
        /// The field the last joined table provides.
        field: LazyField,
        /// Whether the printer must treat it as nullable.
        nullable: bool,
        /// It is a JSON document (`person.properties`), so `[…]` extends the path.
        is_json: bool,
    },
}

fn not_supported(what: String) -> Error {
    Error::NotSupported { what }
}

fn chain_text(chain: &[ChainPart]) -> String {
    chain
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn key_text(part: &ChainPart) -> Result<String> {
    match part {
        ChainPart::Name(n) => Ok(n.clone()),
        ChainPart::Index(0) => Err(Error::Query {
            message: "SQL indexes start from one, not from zero. E.g: array.1".into(),
        }),
        ChainPart::Index(i) => Ok(i.to_string()),
    }
}

impl<'db> Scope<'db> {
    fn table_named(&self, name: &str) -> Option<&ScopeTable<'db>> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Resolve a field chain. `lambda_args` are the arguments of the enclosing lambdas.
    pub fn resolve(
        &self,
        chain: &[ChainPart],
        lambda_args: &[String],
        db: &'db Database,
    ) -> Result<Resolution<'db>> {
        let Some(ChainPart::Name(head)) = chain.first() else {
            return Err(Error::UnresolvedField {
                name: chain_text(chain),
            });
        };
        if head == "*" && chain.len() == 1 {
            return self.asterisk(None);
        }
        if lambda_args.iter().any(|a| a == head) {
            if chain.len() > 1 {
                return Err(not_supported(format!(
                    "accessing `{}` on a lambda argument",
                    chain_text(&chain[1..])
                )));
            }
            return Ok(Resolution::LambdaArg(head.clone()));
        }
        if chain.len() == 1
            && self.excluded_alias.as_deref() != Some(head)
            && let Some(alias) = self.alias(head)
        {
            return Ok(Resolution::Alias(alias.clone()));
        }
        // With two or more parts, a table alias in scope wins over a field of the same name
        // (PostHog's resolver looks the first part up in the scope's tables first), so an
        // explicit `JOIN (…) AS pdi` is not rebound to the events table's lazy `pdi` join.
        if chain.len() > 1
            && let Some(table) = self.table_named(head)
        {
            if matches!(&chain[1], ChainPart::Name(n) if n == "*") && chain.len() == 2 {
                return self.asterisk(Some(table));
            }
            return resolve_on(table, &chain[1..], db);
        }
        // A column of exactly one table in scope.
        let mut found = None;
        for table in &self.tables {
            if table_has(table, head) {
                if found.is_some() {
                    return Err(Error::Query {
                        message: format!(
                            "Ambiguous query. Found multiple sources for field: {head}"
                        ),
                    });
                }
                found = Some(table);
            }
        }
        if let Some(table) = found {
            return resolve_on(table, chain, db);
        }
        Err(Error::UnresolvedField { name: head.clone() })
    }

    fn asterisk(&self, only: Option<&ScopeTable<'db>>) -> Result<Resolution<'db>> {
        let tables: Vec<&ScopeTable<'db>> = match only {
            Some(t) => vec![t],
            None => self.tables.iter().collect(),
        };
        let mut chains = Vec::new();
        let qualify = tables.len() > 1 || only.is_some();
        for table in tables {
            let names: Vec<String> = match &table.source {
                Source::Table(t) | Source::LazyTable(t) => {
                    t.asterisk_fields().into_iter().map(str::to_owned).collect()
                }
                Source::Subquery(cols) => cols.iter().map(|c| c.name.clone()).collect(),
            };
            for name in names {
                let mut chain = Vec::new();
                if qualify {
                    chain.push(ChainPart::Name(table.name.clone()));
                }
                chain.push(ChainPart::Name(name));
                chains.push(chain);
            }
        }
        if chains.is_empty() {
            return Err(Error::Query {
                message: "Cannot use '*' when there are no tables in the query".into(),
            });
        }
        Ok(Resolution::Asterisk(chains))
    }
}

fn table_has(table: &ScopeTable<'_>, name: &str) -> bool {
    match &table.source {
        Source::Table(t) | Source::LazyTable(t) => t.has_field(name),
        Source::Subquery(cols) => cols.iter().any(|c| c.name == name),
    }
}

/// Resolve `chain` (without the table name) against one FROM entry.
fn resolve_on<'db>(
    table: &ScopeTable<'db>,
    chain: &[ChainPart],
    db: &'db Database,
) -> Result<Resolution<'db>> {
    let first = key_text(&chain[0])?;
    match &table.source {
        Source::Subquery(cols) => {
            let column = cols
                .iter()
                .find(|c| c.name == first)
                .cloned()
                .ok_or_else(|| Error::FieldNotFound {
                    name: first.clone(),
                })?;
            if chain.len() > 1 {
                return Err(not_supported(format!(
                    "property access `{}` on a subquery column",
                    chain_text(chain)
                )));
            }
            Ok(Resolution::SubqueryColumn {
                table_sql: table.sql_ref.clone(),
                column,
            })
        }
        Source::LazyTable(t) => {
            let field = first;
            let def = t.field(&field)?;
            let table_sql = table.sql_ref.clone().unwrap_or_else(|| t.name.to_owned());
            match &def.field {
                Field::Column(column) if chain.len() == 1 => Ok(Resolution::LazyTableColumn {
                    table_name: table.name.clone(),
                    table_sql,
                    field: LazyField::plain(&field),
                    nullable: column.is_nullable(),
                    is_json: column.value_type == ValueType::StringJson,
                }),
                Field::Column(column) if column.value_type == ValueType::StringJson => {
                    let path = chain[1..].to_vec();
                    let mut name = field.clone();
                    for part in &path {
                        name.push_str("___");
                        name.push_str(&key_text(part)?);
                    }
                    Ok(Resolution::LazyTableColumn {
                        table_name: table.name.clone(),
                        table_sql,
                        field: LazyField {
                            name,
                            column: field,
                            path,
                        },
                        nullable: true,
                        is_json: true,
                    })
                }
                // A computed field (`sessions.$session_duration`), computed by the subquery.
                Field::Expression(expression) if chain.len() == 1 && expression.expr.is_some() => {
                    Ok(Resolution::LazyTableColumn {
                        table_name: table.name.clone(),
                        table_sql,
                        field: LazyField::plain(&field),
                        nullable: true,
                        is_json: false,
                    })
                }
                Field::Column(_) => Err(not_supported(format!(
                    "reading `{}` below a column of the lazy table `{}`",
                    chain_text(&chain[1..]),
                    t.name
                ))),
                _ => Err(not_supported(format!(
                    "the field `{field}` of the lazy table `{}`",
                    t.name
                ))),
            }
        }
        Source::Table(t) => {
            let table_sql = table
                .sql_ref
                .clone()
                .unwrap_or_else(|| t.clickhouse_name.into());
            let owner = Owner {
                name: &table.name,
                sql: table_sql,
                db,
                user_last: chain.last().map(ToString::to_string).unwrap_or_default(),
            };
            resolve_fields(t, &t.fields, &owner, chain, 0)
        }
    }
}

/// The FROM entry a chain is resolved against.
struct Owner<'a, 'db> {
    name: &'a str,
    sql: String,
    db: &'db Database,
    /// The last name of the chain as the user wrote it (for "Can't select a table" errors).
    user_last: String,
}

fn table_not_column(owner: &Owner<'_, '_>) -> Error {
    Error::Query {
        message: format!(
            "Can't select a table when a column is expected: {}",
            owner.user_last
        ),
    }
}

/// Lazy tables whose join subquery the printer can build: persons, the argMax-deduplicated
/// distinct-id and groups tables, and the aggregated sessions table.
pub(crate) fn lazy_join_supported(target: &schema::Table) -> bool {
    match &target.kind {
        TableKind::Lazy(LazySource::ArgMax { .. }) => matches!(
            target.name,
            "persons" | "person_distinct_ids" | "person_distinct_id_overrides" | "groups"
        ),
        TableKind::Lazy(LazySource::Aggregate { .. }) => target.name == "sessions",
        _ => false,
    }
}

fn resolve_fields<'db>(
    table: &'db schema::Table,
    fields: &'db [FieldDef],
    owner: &Owner<'_, 'db>,
    chain: &[ChainPart],
    depth: usize,
) -> Result<Resolution<'db>> {
    let table_sql = owner.sql.clone();
    let name = key_text(&chain[0])?;
    if depth > 16 {
        return Err(Error::FieldNotFound { name });
    }
    let def = fields
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| Error::FieldNotFound { name: name.clone() })?;
    let rest = &chain[1..];
    match &def.field {
        Field::Column(column) => {
            if rest.is_empty() {
                return Ok(Resolution::Column { table_sql, column });
            }
            if column.value_type != ValueType::StringJson {
                return Err(not_supported(format!(
                    "accessing `{}` below the non-JSON field `{name}`",
                    chain_text(rest)
                )));
            }
            for part in rest {
                key_text(part)?;
            }
            let path = rest.to_vec();
            Ok(Resolution::Property {
                table,
                table_sql,
                column,
                path,
            })
        }
        Field::VirtualTable(inner) => {
            if rest.is_empty() {
                return Err(table_not_column(owner));
            }
            resolve_fields(table, inner, owner, rest, depth + 1)
        }
        Field::Traverser(path) => {
            let mut expanded: Vec<ChainPart> =
                path.iter().map(|p| ChainPart::Name((*p).into())).collect();
            expanded.extend_from_slice(rest);
            resolve_fields(table, &table.fields, owner, &expanded, depth + 1)
        }
        Field::LazyJoin(join) => {
            let mut hops = Vec::new();
            let mut hop = LazyHop {
                owner_name: owner.name.to_owned(),
                owner_sql: table_sql,
                join_name: name,
                join,
                target: owner.db.table(join.table)?,
            };
            let mut rest = rest;
            loop {
                if !lazy_join_supported(hop.target) {
                    return Err(not_supported(format!(
                        "the lazy join `{}` (to `{}`)",
                        hop.join_name, hop.join.table
                    )));
                }
                let target = hop.target;
                let alias = hop.alias();
                let join_name = hop.join_name.clone();
                hops.push(hop);
                let Some(first) = rest.first() else {
                    return Err(table_not_column(owner));
                };
                let field = key_text(first)?;
                let def = target.field(&field)?;
                match &def.field {
                    Field::Column(column) if rest.len() == 1 => {
                        return Ok(Resolution::LazyColumn {
                            hops,
                            field: LazyField::plain(&field),
                            nullable: column.is_nullable(),
                            is_json: column.value_type == ValueType::StringJson,
                        });
                    }
                    Field::Column(column) if column.value_type == ValueType::StringJson => {
                        let path = rest[1..].to_vec();
                        let mut name = field.clone();
                        for part in &path {
                            name.push_str("___");
                            name.push_str(&key_text(part)?);
                        }
                        return Ok(Resolution::LazyColumn {
                            hops,
                            field: LazyField {
                                name,
                                column: field,
                                path,
                            },
                            nullable: true,
                            is_json: true,
                        });
                    }
                    // A computed field of the joined table (`session.$session_duration`): its
                    // subquery computes it; a LEFT JOIN may leave it NULL.
                    Field::Expression(expression)
                        if rest.len() == 1 && expression.expr.is_some() =>
                    {
                        return Ok(Resolution::LazyColumn {
                            hops,
                            field: LazyField::plain(&field),
                            nullable: true,
                            is_json: false,
                        });
                    }
                    Field::LazyJoin(_) | Field::VirtualTable(_) if rest.len() == 1 => {
                        return Err(table_not_column(owner));
                    }
                    Field::LazyJoin(inner) => {
                        hop = LazyHop {
                            owner_name: alias.clone(),
                            owner_sql: alias,
                            join_name: field,
                            join: inner,
                            target: owner.db.table(inner.table)?,
                        };
                        rest = &rest[1..];
                    }
                    _ => {
                        return Err(not_supported(format!(
                            "accessing `{}` through the lazy join `{join_name}`",
                            chain_text(rest)
                        )));
                    }
                }
            }
        }
        Field::Expression(expression) => match (&expression.expr, rest.is_empty()) {
            (Some(text), true) => Ok(Resolution::ExpressionField {
                owner_name: owner.name.to_owned(),
                owner_sql: table_sql,
                table,
                expr: text,
                nullable: expression.declared_nullable == Some(true),
            }),
            _ => Err(not_supported(format!("the expression field `{name}`"))),
        },
    }
}
