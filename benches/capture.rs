//! Capture-layer throughput: walk every event of a large UDP capture in order (`events`), and
//! with the parallel stretch walk (`scan`, every datagram taken in the walking threads).
//!
//! Uses /tmp/synth.pcap when present (`python3 ../shared/lab/synth-pcap.py /tmp/synth.pcap 200`,
//! about 250k TURN/ChannelData packets in 200 MB) and the same capture as pcapng
//! (/tmp/synth.pcapng, group `capture-pcapng`), or the captures `TURNSCOPE_BENCH_CAPTURES`
//! names; otherwise builds a 32 MB capture of the same shape in memory. Criterion reports MB/s
//! (throughput in bytes of capture file).

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use turnscope::capture::{self, CaptureFile, DatagramScan, Event, Payload, Scanned};

fn synth(target: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(target + 2048);
    v.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    v.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(&65535u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    let mut seed = 0x1234_5678u32;
    let mut i = 0u32;
    while v.len() < target {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let n = 100 + (seed >> 8) as usize % 1100;
        let mut payload = vec![0x40, 0x01, (n >> 8) as u8, n as u8];
        payload.resize(4 + n.div_ceil(4) * 4, 0x80);
        let udp_len = 8 + payload.len();
        let ip_len = 20 + udp_len;
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0];
        f.extend_from_slice(&[
            0x45,
            0,
            (ip_len >> 8) as u8,
            ip_len as u8,
            0,
            0,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&[192, 0, 2, (i % 250) as u8 + 1, 198, 51, 100, 10]);
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&3478u16.to_be_bytes());
        f.extend_from_slice(&(udp_len as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(&payload);
        for x in [
            1_700_000_000 + i / 1000,
            (i % 1000) * 1000,
            f.len() as u32,
            f.len() as u32,
        ] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(&f);
        i += 1;
    }
    v
}

fn drain(f: &CaptureFile) -> u64 {
    let mut n = 0u64;
    for batch in f.events() {
        for ev in &batch {
            if let Event::Payload(p) = ev {
                n += p.data.len() as u64;
            }
        }
    }
    n
}

/// Takes every UDP datagram in the walking threads, summing the payload bytes.
struct SumDatagrams;

impl DatagramScan for SumDatagrams {
    type Part = u64;
    fn part(&self) -> u64 {
        0
    }
    fn datagram(&self, part: &mut u64, p: &Payload<'_>) -> bool {
        *part += p.data.len() as u64;
        true
    }
}

fn scan(f: &CaptureFile) -> u64 {
    let mut n = 0u64;
    f.scan(&SumDatagrams, |s| match s {
        Scanned::Stretch { part, events, .. } => {
            n += part;
            n += events.len() as u64;
        }
        Scanned::Events(events) => n += events.len() as u64,
    });
    n
}

/// The captures to measure: `TURNSCOPE_BENCH_CAPTURES` (paths separated by `:`), else
/// /tmp/synth.pcap and /tmp/synth.pcapng (`editcap -F pcapng /tmp/synth.pcap /tmp/synth.pcapng`)
/// where present, else a 32 MB capture built in memory.
fn bench_files() -> Vec<CaptureFile> {
    let listed = std::env::var("TURNSCOPE_BENCH_CAPTURES")
        .unwrap_or_else(|_| "/tmp/synth.pcap:/tmp/synth.pcapng".to_string());
    let mut files: Vec<CaptureFile> = listed
        .split(':')
        .map(Path::new)
        .filter(|p| p.exists())
        .map(|p| capture::open(p).unwrap_or_else(|e| panic!("open {}: {e}", p.display())))
        .collect();
    if files.is_empty() {
        eprintln!("{listed}: absent, benchmarking a 32 MB in-memory capture");
        let bytes = synth(32 << 20);
        files.push(CaptureFile::from_bytes("synth".into(), bytes).expect("synthetic capture"));
    }
    files
}

fn bench(c: &mut Criterion) {
    for file in bench_files() {
        let len = file.bytes().len() as u64;
        eprintln!(
            "{}: {} bytes, {} frames",
            file.name(),
            len,
            file.frame_count()
        );
        // One group per format, named like the first one so that earlier figures compare.
        let group = match file.format() {
            capture::CaptureFormat::PcapNg => "capture-pcapng",
            capture::CaptureFormat::Pcap { .. } => "capture",
        };
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Bytes(len));
        g.sample_size(10);
        g.bench_function("events", |b| b.iter(|| drain(&file)));
        g.bench_function("scan", |b| b.iter(|| scan(&file)));
        g.bench_function("frame_count", |b| b.iter(|| file.frame_count()));
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
