//! Criterion bench of Hogref's HogQL parser: `parse_select` (the tree) and parse straight to a JSON string,
//! over the realistic queries of the parse fixtures (8 to 800+ characters) and the linearity series.
//! Timing comes from the environment (see `benches::timing`).

use std::hint::black_box;

use benches::{linearity_series, parse_corpus, parse_select_to_string, spin, spin_ns, timing};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hogql_parser::parse_select;

fn parse(c: &mut Criterion) {
    let mut corpus = parse_corpus(&benches::workspace_root()).expect("reading the parse corpus");
    corpus.extend(linearity_series());
    let t = timing();
    let slow = spin_ns();
    let mut group = c.benchmark_group("hogql_parse");
    group
        .warm_up_time(t.warm_up)
        .measurement_time(t.measurement)
        .sample_size(t.samples);
    for q in &corpus {
        group.throughput(Throughput::Bytes(q.src.len() as u64));
        group.bench_function(format!("parse/{}", q.name), |b| {
            b.iter(|| {
                spin(slow);
                parse_select(black_box(&q.src))
            })
        });
        group.bench_function(format!("parse_json_to_string/{}", q.name), |b| {
            b.iter(|| {
                spin(slow);
                parse_select_to_string(black_box(&q.src), false)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
