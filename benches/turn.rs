//! The sans-IO TURN core in memory: allocations per second (challenge, authenticated Allocate,
//! relay bound, Refresh 0) and ChannelData relays per second in both directions.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use turnscope::turn::{Config, Output, SequenceNonces, Server, Time, Transport};
use turnscope::wire::{attr, encode, Class, Key, Message, MessageBuilder, Method, TransactionId};

const USER: &str = "bench";
const PASS: &str = "pass";
const REALM: &str = "bench.example";

fn server() -> Server {
    let mut c = Config::default().credential(USER, PASS);
    c.realm = REALM.into();
    c.relay_v4 = Some("198.51.100.10".parse().unwrap());
    c.relay_ports = 10000..=60000;
    Server::new(
        c,
        Box::new(SequenceNonces::new(Duration::from_secs(1 << 30))),
    )
}

fn drain(s: &mut Server, now: Time) -> Option<Vec<u8>> {
    let mut last = None;
    while let Some(o) = s.poll_output() {
        match o {
            Output::BindRelay { relay } => {
                s.relay_bound(now, relay, true);
            }
            Output::ToClient { bytes, .. } => last = Some(bytes),
            _ => {}
        }
    }
    last
}

fn txid(n: u64) -> TransactionId {
    let mut id = [0u8; 12];
    id[..8].copy_from_slice(&n.to_be_bytes());
    TransactionId::new(id)
}

fn bench_allocations(c: &mut Criterion) {
    let key = Key::long_term(USER, REALM, PASS);
    let local: SocketAddr = "198.51.100.10:3478".parse().unwrap();
    let client: SocketAddr = "192.0.2.1:40000".parse().unwrap();
    let mut s = server();
    let now = Time::from_secs(1);
    let mut n = 0u64;
    let mut g = c.benchmark_group("turn_core");
    g.throughput(Throughput::Elements(1));
    g.bench_function("allocation (401, Allocate, bind, Refresh 0)", |b| {
        b.iter(|| {
            n += 1;
            let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(n))
                .requested_transport(17)
                .fingerprint();
            s.handle_client(now, Transport::Udp, client, local, &req);
            let challenge = drain(&mut s, now).unwrap();
            let nonce = Message::parse(&challenge)
                .unwrap()
                .nonce()
                .unwrap()
                .to_vec();
            n += 1;
            let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(n))
                .requested_transport(17)
                .username(USER)
                .realm(REALM)
                .nonce(&nonce)
                .integrity(&key)
                .fingerprint();
            s.handle_client(now, Transport::Udp, client, local, &req);
            black_box(drain(&mut s, now).unwrap());
            n += 1;
            let req = MessageBuilder::new(Method::REFRESH, Class::Request, txid(n))
                .lifetime(0)
                .username(USER)
                .realm(REALM)
                .nonce(&nonce)
                .integrity(&key)
                .fingerprint();
            s.handle_client(now, Transport::Udp, client, local, &req);
            black_box(drain(&mut s, now).unwrap());
        })
    });
    g.finish();
}

fn bench_relay(c: &mut Criterion) {
    let key = Key::long_term(USER, REALM, PASS);
    let local: SocketAddr = "198.51.100.10:3478".parse().unwrap();
    let client: SocketAddr = "192.0.2.1:40000".parse().unwrap();
    let peer: SocketAddr = "203.0.113.5:3480".parse().unwrap();
    let mut s = server();
    let now = Time::from_secs(1);
    let req = MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(1))
        .requested_transport(17)
        .fingerprint();
    s.handle_client(now, Transport::Udp, client, local, &req);
    let nonce = Message::parse(&drain(&mut s, now).unwrap())
        .unwrap()
        .nonce()
        .unwrap()
        .to_vec();
    let signed = |b: MessageBuilder| {
        b.username(USER)
            .realm(REALM)
            .nonce(&nonce)
            .integrity(&key)
            .fingerprint()
    };
    let req = signed(
        MessageBuilder::new(Method::ALLOCATE, Class::Request, txid(2)).requested_transport(17),
    );
    s.handle_client(now, Transport::Udp, client, local, &req);
    let ok = drain(&mut s, now).unwrap();
    let relay = Message::parse(&ok).unwrap().xor_relayed_address().unwrap();
    let req = signed(
        MessageBuilder::new(Method::CHANNEL_BIND, Class::Request, txid(3))
            .channel_number(0x4000)
            .xor_address(attr::XOR_PEER_ADDRESS, peer),
    );
    s.handle_client(now, Transport::Udp, client, local, &req);
    drain(&mut s, now);

    let payload = vec![0x5a; 160];
    let cd = encode::channel_data(0x4000, &payload, false);
    let mut g = c.benchmark_group("turn_core");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ChannelData client->peer", |b| {
        b.iter(|| {
            black_box(s.handle_client(now, Transport::Udp, client, local, black_box(&cd)));
            black_box(s.poll_output());
        })
    });
    g.bench_function("peer->client ChannelData", |b| {
        b.iter(|| {
            black_box(s.handle_peer(now, relay, peer, black_box(&payload)));
            black_box(s.poll_output());
        })
    });
    g.finish();
}

criterion_group!(benches, bench_allocations, bench_relay);
criterion_main!(benches);
