//! Criterion bench of Hogref's HogQL compiler, per query of the compile corpus (the parse corpus queries
//! the compiler accepts): `compile` (the public entry point: parse, lower, resolve, print, panics caught) and
//! `compile_here` (the same work without catching panics); both run on the caller's thread.
//! Timing comes from the environment (see `benches::timing`); `cargo xtask bench compile` reports the medians.

use std::hint::black_box;

use benches::{compile, compile_corpus, compile_here, spin, spin_ns, timing, workspace_root};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let (corpus, skipped) = compile_corpus(&workspace_root()).expect("reading the parse corpus");
    for (name, why) in &skipped {
        eprintln!("compile bench: leaving out {name} (does not compile: {why})");
    }
    let t = timing();
    let slow = spin_ns();
    let mut group = c.benchmark_group("hogql_compile");
    group
        .warm_up_time(t.warm_up)
        .measurement_time(t.measurement)
        .sample_size(t.samples);
    for q in &corpus {
        group.throughput(Throughput::Bytes(q.src.len() as u64));
        group.bench_function(format!("compile/{}", q.name), |b| {
            b.iter(|| {
                spin(slow);
                compile(black_box(&q.src))
            })
        });
        group.bench_function(format!("compile_here/{}", q.name), |b| {
            b.iter(|| {
                spin(slow);
                compile_here(black_box(&q.src))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
