//! Groundwork for the HogQL → ClickHouse compiler: the tables and primitives the resolver and
//! printer consume, independent of the AST.
//!
//! * [`functions`]: the function allowlist (ClickHouse functions, aggregations with generated
//!   combinators, PostHog functions), lookup in PostHog's order, arity checks with PostHog's
//!   error texts, difflib suggestions, comparison re-routing, the `arrayReduce` aggregate list
//!   and the table functions.
//! * [`schema`]: the tables HogQL exposes (`events`, `persons`, `sessions`, the `raw_*` tables,
//!   …) with their fields, lazy joins, virtual tables and field traversers, plus materialized
//!   property columns.
//! * [`escape`]: ClickHouse/HogQL string, identifier and value escaping.
//!
//! The crate is pure (no I/O); all data is embedded and validated by the crate's tests.

pub mod difflib;
mod error;
pub mod escape;
pub mod functions;
pub mod schema;

pub use error::{CallTerm, Counted, Error, Expected, Result};
