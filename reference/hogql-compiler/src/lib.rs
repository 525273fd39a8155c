//! Groundwork for the HogQL → ClickHouse compiler: the tables and primitives the resolver and
//! printer consume, independent of the AST.
//!
//! * [`functions`]: the function allowlist (ClickHouse functions, aggregations with generated
//!   combinators, PostHog functions), lookup in PostHog's order, arity checks with PostHog's
//!   error texts, difflib suggestions, comparison re-routing, the `arrayReduce` aggregate list,
//!   template expansion and the table functions.
//! * [`schema`]: the tables HogQL exposes (`events`, `persons`, `sessions`, the `raw_*` tables,
//!   …) with their fields, lazy joins, virtual tables and field traversers, `*` expansion, plus
//!   materialized property columns.
//! * [`escape`]: ClickHouse/HogQL string, identifier and value escaping.
//! * [`difflib`]: CPython-compatible `SequenceMatcher.ratio` / `get_close_matches`.
//!
//! The compiler itself, on top of those:
//!
//! * [`ir`] and [`lower`]: the parser's uniform tree lowered once into typed nodes (spans kept,
//!   unknown shapes are errors, nesting capped at [`lower::MAX_DEPTH`]);
//! * [`context`]: team, timezone, modifiers (PostHog's JSON names), limit context and the
//!   `%(hogql_val_N)s` values map;
//! * [`resolve`]: names in one SELECT scope (tables, aliases, subquery columns, JSON properties,
//!   lazy joins and lazy tables: persons, distinct ids, groups, sessions);
//! * [`session_where`]: the `min_timestamp` pre-filter the sessions subquery takes from the
//!   outer WHERE;
//! * [`lazy`]: the lazy-table pass, run before printing: which lazy joins and lazy-table fields
//!   each SELECT reads (PostHog's `lazy_tables` transform), so the printer prints each SELECT
//!   once;
//! * [`print`](mod@print): the ClickHouse printer; [`compile()`] ties parse → lower → print together;
//! * [`bind`]: [`bind_values`] turns the SQL and its values map into one statement with literals.
//!
//! ```
//! use hogql_compiler::{Context, compile};
//!
//! let mut ctx = Context::new(420);
//! ctx.global_settings = false;
//! let out = compile("select event from events where properties.$browser = 'Chrome'", &mut ctx).unwrap();
//! assert_eq!(
//!     out.clickhouse,
//!     "SELECT events.event AS event FROM events WHERE and(equals(events.team_id, 420), \
//!      ifNull(equals(replaceRegexpAll(nullIf(nullIf(JSONExtractRaw(events.properties, \
//!      %(hogql_val_0)s), ''), 'null'), '^\"|\"$', ''), %(hogql_val_1)s), 0)) LIMIT 50000"
//! );
//! assert_eq!(out.values.len(), 2);
//! ```
//!
//! The crate is pure (no I/O); all data is embedded and validated by the crate's tests.
//!
//! # How the printer uses it
//!
//! ```
//! use hogql_compiler::escape::{Dialect, escape_identifier, escape_string};
//! use hogql_compiler::functions::{self, CallShape, Resolved, render_template};
//! use hogql_compiler::schema::Database;
//!
//! // A call: resolve it and check its shape; unknown names come back with a suggestion.
//! let registry = functions::registry();
//! let err = registry.check_call("tostring", CallShape { args: 1, ..Default::default() });
//! assert_eq!(
//!     err.unwrap_err().to_string(),
//!     "Unsupported function call 'tostring(...)'. Perhaps you meant 'toString(...)'?"
//! );
//! match registry.check_call("date_bin", CallShape { args: 3, ..Default::default() }).unwrap() {
//!     Resolved::Function(meta) => {
//!         let args = ["toIntervalDay(1)".to_owned(), "ts".to_owned(), "o".to_owned()];
//!         let sql = render_template("date_bin", &meta.target, &args).unwrap();
//!         assert_eq!(sql, "toStartOfInterval(ts, toIntervalDay(1), o)");
//!         assert!(meta.tz_aware);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // A table and its fields.
//! let db = Database::posthog_default();
//! let raw_groups = db.table("raw_groups").unwrap();
//! assert_eq!(raw_groups.clickhouse_name, "groups");
//! assert_eq!(db.table("other").unwrap_err().to_string(), "Unknown table `other`.");
//! let (table, field) = db.resolve_chain("events", &["person", "properties"]).unwrap();
//! assert_eq!((table.name, field.name.as_str()), ("persons", "properties"));
//!
//! // Escaping.
//! assert_eq!(escape_string("it's"), r"'it\'s'");
//! assert_eq!(escape_identifier("$browser", Dialect::ClickHouse).unwrap(), "`$browser`");
//! ```

pub mod bind;
pub mod compile;
pub mod context;
pub mod difflib;
mod error;
pub mod escape;
pub mod functions;
pub mod ir;
pub mod lazy;
pub mod lower;
pub mod persons_where;
pub mod print;
pub mod print_hogql;
pub mod resolve;
pub mod schema;
pub mod session_where;

pub use bind::{bind_values, bind_values_counted};
pub use compile::{Bound, CompileError, Compiled, PlaceholderValue, compile, compile_bound};
pub use context::{Context, LimitContext, Limits, Modifiers};
pub use error::{CallTerm, Counted, Error, Expected, Result};
