//! Benchmarks (criterion) for every stage, compared with their references in `cargo xtask bench`.
