//! Rough timings of the capture layer on a file: `cargo run --release --example capture_timing -- FILE`.
use std::time::Instant;
use turnscope::capture::{self, Event};

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/synth.pcap".into());
    let t = Instant::now();
    let f = capture::open(std::path::Path::new(&path)).expect("open");
    println!("open {:?}", t.elapsed());
    for round in 0..3 {
        let t = Instant::now();
        let mut s = 0u64;
        for c in f.bytes().chunks(64) {
            s = s.wrapping_add(u64::from(c[0]));
        }
        let touch = t.elapsed();
        let t = Instant::now();
        let n = f.frame_count();
        let count = t.elapsed();
        let t = Instant::now();
        let mut payloads = 0u64;
        let mut events = 0u64;
        for batch in f.events() {
            events += batch.len() as u64;
            for e in &batch {
                if let Event::Payload(p) = e {
                    payloads += p.data.len() as u64;
                }
            }
        }
        let ev = t.elapsed();
        println!("round {round}: touch {touch:?} ({s}) frame_count {count:?} ({n}) events {ev:?} ({events} events, {payloads} payload bytes)");
    }
}
