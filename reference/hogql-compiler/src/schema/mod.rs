//! Database schema (in progress).
