//! HogQL front end: lexer, parser and AST for the HogQL SELECT language.
//!
//! This crate is a pure core: it does no I/O and knows nothing of ClickHouse, Kafka or HTTP.
