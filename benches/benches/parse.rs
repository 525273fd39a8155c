//! Criterion bench of Hogref's HogQL parser: `parse_select` (the tree) and parse straight to a JSON string,
//! over the realistic queries of the parse fixtures (8 to 800+ characters) and the linearity series.

use std::hint::black_box;
use std::time::Duration;

use benches::{linearity_series, parse_corpus, parse_select_to_string, workspace_root};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hogql_parser::parse_select;

fn parse(c: &mut Criterion) {
    let mut corpus = parse_corpus(&workspace_root()).expect("reading the parse corpus");
    corpus.extend(linearity_series());
    let mut group = c.benchmark_group("hogql_parse");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    for q in &corpus {
        group.throughput(Throughput::Bytes(q.src.len() as u64));
        group.bench_function(format!("parse/{}", q.name), |b| {
            b.iter(|| parse_select(black_box(&q.src)))
        });
        group.bench_function(format!("parse_json_to_string/{}", q.name), |b| {
            b.iter(|| parse_select_to_string(black_box(&q.src), false))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
