//! Message decode throughput: parse + attribute walk, typed access, and integrity checks.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use turnscope::wire::{
    attr, decode_payload, Class, Decoded, Key, Message, MessageBuilder, Method, TransactionId,
};

fn allocate_success(key: &Key) -> Vec<u8> {
    MessageBuilder::new(
        Method::ALLOCATE,
        Class::Success,
        TransactionId::new([7; 12]),
    )
    .xor_address(
        attr::XOR_RELAYED_ADDRESS,
        "198.51.100.10:24012".parse().expect("addr"),
    )
    .xor_address(
        attr::XOR_MAPPED_ADDRESS,
        "192.0.2.10:40000".parse().expect("addr"),
    )
    .lifetime(600)
    .software("bench")
    .integrity(key)
    .fingerprint()
}

fn ice_check() -> Vec<u8> {
    MessageBuilder::new(Method::BINDING, Class::Request, TransactionId::new([9; 12]))
        .username("abcd:efgh")
        .u32_attr(attr::PRIORITY, 0x6e0001ff)
        .attr(attr::ICE_CONTROLLING, &[1, 2, 3, 4, 5, 6, 7, 8])
        .integrity(&Key::short_term("icepassword"))
        .fingerprint()
}

fn bench(c: &mut Criterion) {
    let key = Key::long_term("turnuser", "example.org", "secret");
    let msgs = [allocate_success(&key), ice_check()];
    let bytes: usize = msgs.iter().map(Vec::len).sum();

    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(msgs.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(Message::parse(black_box(m)).is_ok());
            }
        })
    });
    g.bench_function("decode_payload+typed", |b| {
        b.iter(|| {
            for m in &msgs {
                if let Decoded::Stun(m) = decode_payload(black_box(m), false) {
                    black_box((m.xor_relayed_address(), m.lifetime(), m.username()));
                }
            }
        })
    });
    g.bench_function("fingerprint+integrity", |b| {
        let parsed: Vec<Message<'_>> = msgs.iter().filter_map(|m| Message::parse(m).ok()).collect();
        b.iter(|| {
            for m in &parsed {
                black_box(m.verify_fingerprint());
                black_box(m.verify_integrity(&key));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("parse_bytes", |b| {
        b.iter(|| {
            for m in &msgs {
                black_box(Message::parse(black_box(m)).is_ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
