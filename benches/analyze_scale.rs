//! `analyze` as inputs grow where it used to grow faster than them (issue #8): bundles of
//! many small captures (roles and correlation across captures) and a STUN-dense capture (the
//! memory budget). Inputs are made in memory by `benches/scale/gen.rs`; whole-process figures
//! with peak memory come from `benches/analyze-scale.sh`.

#[path = "scale/gen.rs"]
mod gen;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use turnscope::{analyze, AnalyzeOptions, Input};

fn bundles(c: &mut Criterion) {
    let mut g = c.benchmark_group("analyze_bundle");
    g.sample_size(10);
    for n in [500usize, 2000, 8000] {
        let bytes = gen::bundle(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &bytes, |b, bytes| {
            b.iter(|| {
                let r = analyze(
                    &[Input::bytes("bundle.tar.gz", bytes.clone())],
                    &AnalyzeOptions::default(),
                );
                assert_eq!(r.captures.len(), n);
                r.findings.len()
            })
        });
    }
    g.finish();
}

fn dense(c: &mut Criterion) {
    let mut bytes = Vec::new();
    let stats = gen::stun_dense(&mut bytes, 40).expect("write to memory");
    let mut g = c.benchmark_group("analyze_dense");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(stats.bytes));
    g.bench_function("40MB", |b| {
        b.iter(|| {
            let r = analyze(
                &[Input::bytes("dense.pcap", bytes.clone())],
                &AnalyzeOptions::default(),
            );
            assert!(r.captures[0].summarised.is_some());
            r.findings.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bundles, dense);
criterion_main!(benches);
