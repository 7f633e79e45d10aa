//! `analyze` throughput on the synthetic capture of `../shared/lab/synth-pcap.py`.
//!
//! Uses /tmp/synth.pcap when present (make it with `python3 ../shared/lab/synth-pcap.py
//! /tmp/synth.pcap 200`), else writes a small one (20 MB) with the same script, else a scripted
//! capture made with the test support module.

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use turnscope::{analyze, AnalyzeOptions, Input};

fn capture() -> PathBuf {
    let big = PathBuf::from("/tmp/synth.pcap");
    if big.exists() {
        return big;
    }
    let small = std::env::temp_dir().join("turnscope-bench-synth-20.pcap");
    if small.exists() {
        return small;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lab/synth-pcap.py");
    let ok = Command::new("python3")
        .arg(&script)
        .arg(&small)
        .arg("20")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        use turnscope::testsupport::{healthy_exchange, Script, Turn};
        let t = Turn::new("turnuser", "cisco", "TANDBERG");
        let mut s = Script::new();
        for i in 0..2000u32 {
            let client = format!("192.0.2.{}:{}", 1 + i % 250, 40000 + i);
            healthy_exchange(
                &mut s,
                &t,
                &client,
                "198.51.100.10:3478",
                &client,
                &format!("198.51.100.10:{}", 24000 + i),
                "203.0.113.5:3480",
                i * 10,
            );
        }
        std::fs::write(&small, s.pcap()).unwrap();
    }
    small
}

fn bench(c: &mut Criterion) {
    let path = capture();
    let len = std::fs::metadata(&path).unwrap().len();
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(len));
    g.bench_function("synth", |b| {
        b.iter(|| {
            let r = analyze(&[Input::path(&path)], &AnalyzeOptions::default());
            assert!(!r.transactions.is_empty());
            r.findings.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
