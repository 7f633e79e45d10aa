//! Property tests of the TURN core's invariants over random client/peer/time sequences:
//! - no relay without a permission (and a live allocation), checked against a model built only
//!   from the responses the clients saw;
//! - nothing outlives its lifetime (allocations, permissions, channels; relay sockets released);
//! - every response is verifiable (FINGERPRINT; MESSAGE-INTEGRITY with the client's key, always
//!   present on successes of authenticated methods).

mod turn_support;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;
use turn_support::*;
use turnscope::turn::{Output, PeerPolicy, Server, Time, Transport};
use turnscope::wire::{
    attr, ChannelData, Class, FingerprintVerdict, IntegrityVerdict, Message, MessageBuilder, Method,
};

#[derive(Debug, Clone)]
enum Op {
    Advance(u16),
    Timeout,
    Allocate(u8, Option<u32>),
    Refresh(u8, Option<u32>),
    Permit(u8, u8),
    Bind(u8, u8, u8),
    Send(u8, u8),
    ChannelData(u8, u8),
    PeerData(u8, u8, u16),
    Garbage(u8, Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    let lifetime = prop_oneof![Just(None), Just(Some(0)), (0u32..4000).prop_map(Some)];
    prop_oneof![
        2 => (0u16..200).prop_map(Op::Advance),
        1 => Just(Op::Timeout),
        2 => (0u8..3, lifetime.clone()).prop_map(|(c, l)| Op::Allocate(c, l)),
        1 => (0u8..3, lifetime).prop_map(|(c, l)| Op::Refresh(c, l)),
        2 => (0u8..3, 0u8..4).prop_map(|(c, p)| Op::Permit(c, p)),
        2 => (0u8..3, 0u8..3, 0u8..4).prop_map(|(c, ch, p)| Op::Bind(c, ch, p)),
        3 => (0u8..3, 0u8..4).prop_map(|(c, p)| Op::Send(c, p)),
        3 => (0u8..3, 0u8..3).prop_map(|(c, ch)| Op::ChannelData(c, ch)),
        3 => (0u8..3, 0u8..4, 0u16..3).prop_map(|(c, p, port)| Op::PeerData(c, p, port)),
        1 => (0u8..3, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(c, b)| Op::Garbage(c, b)),
    ]
}

fn peer_ip(p: u8) -> &'static str {
    ["203.0.113.5", "203.0.113.6", "198.51.100.77", "127.0.0.1"][usize::from(p % 4)]
}

/// What the clients know, from responses only.
#[derive(Default)]
struct Model {
    /// client -> (relay, alive until)
    alloc: HashMap<u8, (SocketAddr, Time)>,
    /// client -> peer ip -> permitted until
    perms: HashMap<u8, HashMap<IpAddr, Time>>,
    /// client -> channel -> peer (from ChannelBind successes)
    channels: HashMap<u8, HashMap<u16, SocketAddr>>,
    /// relays the I/O layer holds
    bound: HashSet<SocketAddr>,
}

struct World {
    s: Server,
    now: Time,
    clients: Vec<Client>,
    m: Model,
}

impl World {
    /// The client whose live allocation holds `relay`. A relay port freed by an expired or
    /// deleted allocation may be handed to another client, so stale entries do not count.
    fn client_of_relay(&self, relay: SocketAddr) -> Option<u8> {
        self.m
            .alloc
            .iter()
            .find(|(_, (r, t))| *r == relay && self.now < *t)
            .map(|(c, _)| *c)
    }

    fn permitted(&self, c: u8, ip: IpAddr) -> bool {
        let alive = self.m.alloc.get(&c).is_some_and(|(_, t)| self.now < *t);
        let perm = self
            .m
            .perms
            .get(&c)
            .and_then(|p| p.get(&ip))
            .is_some_and(|t| self.now < *t);
        alive && perm
    }

    /// Drain, checking every output; return the responses per client index.
    fn drain(&mut self) -> Vec<(usize, Vec<u8>)> {
        let mut responses = Vec::new();
        while let Some(out) = self.s.poll_output() {
            match out {
                Output::BindRelay { relay } => {
                    assert!(self.m.bound.insert(relay), "bound twice");
                    self.s.relay_bound(self.now, relay, true);
                }
                Output::ReleaseRelay { relay } => {
                    assert!(self.m.bound.remove(&relay), "released unbound {relay}");
                }
                Output::ToPeer { relay, peer, .. } => {
                    let c = self
                        .client_of_relay(relay)
                        .expect("relay known to a client");
                    assert!(
                        self.permitted(c, peer.ip()),
                        "relayed to {peer} without a permission the client was granted"
                    );
                }
                Output::ToClient { to, bytes } => {
                    let i = self
                        .clients
                        .iter()
                        .position(|c| c.five == to)
                        .expect("sent to a known client");
                    match bytes.first() {
                        Some(0x40..=0x7F) => {
                            let cd = ChannelData::parse(&bytes, false).expect("ChannelData parses");
                            let c = u8::try_from(i).unwrap();
                            let peer = self.m.channels[&c][&cd.channel];
                            assert!(
                                self.permitted(c, peer.ip()),
                                "ChannelData from unpermitted {peer}"
                            );
                        }
                        _ => {
                            let m = Message::parse(&bytes).expect("STUN parses");
                            if m.class() == Class::Indication {
                                let peer = m.xor_peer_addresses().next().expect("peer");
                                let c = u8::try_from(i).unwrap();
                                assert!(
                                    self.permitted(c, peer.ip()),
                                    "Data from unpermitted {peer}"
                                );
                            } else {
                                responses.push((i, bytes));
                            }
                        }
                    }
                }
                Output::Event(_) => {}
            }
        }
        responses
    }

    /// A request from client `c`, re-sent once after a 401/438 with the new nonce.
    fn call(&mut self, c: u8, make: impl Fn(&mut Client) -> MessageBuilder) -> Option<Vec<u8>> {
        for _ in 0..2 {
            let ci = usize::from(c);
            let b = make(&mut self.clients[ci]);
            let method = Message::parse(&b.clone().build()).unwrap().method();
            let bytes = self.clients[ci].sign(b);
            let five = self.clients[ci].five;
            self.s
                .handle_client(self.now, five.transport, five.client, five.server, &bytes);
            let rs = self.drain();
            assert_eq!(rs.len(), 1, "one response per request");
            let (i, resp) = rs.into_iter().next().unwrap();
            assert_eq!(i, ci);
            let m = Message::parse(&resp).unwrap();
            assert_eq!(m.method(), method);
            assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
            let key = self.clients[ci].key();
            match m.class() {
                Class::Success => assert!(
                    matches!(m.verify_integrity(&key), IntegrityVerdict::Verified(_)),
                    "a success to an authenticated request is signed"
                ),
                _ if m.has_integrity() => assert!(matches!(
                    m.verify_integrity(&key),
                    IntegrityVerdict::Verified(_)
                )),
                _ => {}
            }
            match m.error_code().map(|e| e.0) {
                Some(401) | Some(438) => {
                    self.clients[ci].nonce = m.nonce().expect("NONCE").to_vec();
                }
                _ => return Some(resp),
            }
        }
        None
    }

    fn step(&mut self, op: &Op) {
        let now = self.now;
        match op {
            Op::Advance(s) => self.now = self.now + std::time::Duration::from_secs(u64::from(*s)),
            Op::Timeout => {
                self.s.handle_timeout(now);
                self.drain();
                // After the timer ran, the server holds exactly what the model says is alive.
                let live: HashSet<SocketAddr> = self
                    .m
                    .alloc
                    .values()
                    .filter(|(_, t)| now < *t)
                    .map(|(r, _)| *r)
                    .collect();
                let held: HashSet<SocketAddr> =
                    self.s.allocations().iter().map(|a| a.relay).collect();
                assert_eq!(held, live);
                assert_eq!(self.m.bound, live, "relay sockets held == live allocations");
                for a in self.s.allocations() {
                    for (_, t) in &a.permissions {
                        assert!(now < *t, "expired permission survived the sweep");
                    }
                }
            }
            Op::Allocate(c, l) => {
                let l = *l;
                let r = self.call(*c, |cl| {
                    let mut b = cl.request(Method::ALLOCATE).requested_transport(17);
                    if let Some(l) = l {
                        b = b.lifetime(l);
                    }
                    b
                });
                if let Some(r) = r {
                    let m = Message::parse(&r).unwrap();
                    if m.class() == Class::Success {
                        let relay = m.xor_relayed_address().unwrap();
                        let life = m.lifetime().unwrap();
                        assert!((600..=3600).contains(&life));
                        self.m.alloc.insert(
                            *c,
                            (relay, now + std::time::Duration::from_secs(u64::from(life))),
                        );
                        self.m.perms.remove(c);
                        self.m.channels.remove(c);
                    }
                }
            }
            Op::Refresh(c, l) => {
                let l = *l;
                let r = self.call(*c, |cl| {
                    let mut b = cl.request(Method::REFRESH);
                    if let Some(l) = l {
                        b = b.lifetime(l);
                    }
                    b
                });
                if let Some(r) = r {
                    let m = Message::parse(&r).unwrap();
                    if m.class() == Class::Success {
                        let life = m.lifetime().unwrap();
                        if let Some(a) = self.m.alloc.get_mut(c) {
                            a.1 = now + std::time::Duration::from_secs(u64::from(life));
                        }
                    } else {
                        assert_eq!(m.error_code().unwrap().0, 437);
                        assert!(self.m.alloc.get(c).is_none_or(|(_, t)| *t <= now));
                    }
                }
            }
            Op::Permit(c, p) => {
                let peer: SocketAddr = format!("{}:9", peer_ip(*p)).parse().unwrap();
                let r = self.call(*c, |cl| {
                    cl.request(Method::CREATE_PERMISSION)
                        .xor_address(attr::XOR_PEER_ADDRESS, peer)
                });
                if let Some(r) = r {
                    let m = Message::parse(&r).unwrap();
                    if m.class() == Class::Success {
                        assert_ne!(peer.ip().to_string(), "127.0.0.1", "loopback is denied");
                        self.m
                            .perms
                            .entry(*c)
                            .or_default()
                            .insert(peer.ip(), now + std::time::Duration::from_secs(300));
                    }
                }
            }
            Op::Bind(c, ch, p) => {
                let peer: SocketAddr = format!("{}:9", peer_ip(*p)).parse().unwrap();
                let channel = 0x4000 + u16::from(*ch);
                let r = self.call(*c, |cl| {
                    cl.request(Method::CHANNEL_BIND)
                        .channel_number(channel)
                        .xor_address(attr::XOR_PEER_ADDRESS, peer)
                });
                if let Some(r) = r {
                    let m = Message::parse(&r).unwrap();
                    if m.class() == Class::Success {
                        self.m
                            .perms
                            .entry(*c)
                            .or_default()
                            .insert(peer.ip(), now + std::time::Duration::from_secs(300));
                        self.m.channels.entry(*c).or_default().insert(channel, peer);
                    }
                }
            }
            Op::Send(c, p) => {
                let peer = format!("{}:9", peer_ip(*p));
                let b = self.clients[usize::from(*c)].send_indication(&peer, b"data");
                self.push(*c, &b);
            }
            Op::ChannelData(c, ch) => {
                let b =
                    turnscope::wire::encode::channel_data(0x4000 + u16::from(*ch), b"cd", false);
                self.push(*c, &b);
            }
            Op::PeerData(c, p, port) => {
                let Some((relay, _)) = self.m.alloc.get(c).copied() else {
                    return;
                };
                let peer: SocketAddr = format!("{}:{}", peer_ip(*p), 9 + port).parse().unwrap();
                self.s.handle_peer(now, relay, peer, b"from-peer");
                let rs = self.drain();
                assert!(rs.is_empty());
            }
            Op::Garbage(c, bytes) => {
                self.push(*c, bytes);
            }
        }
        // Nothing the server holds outlives what it told the client.
        for a in self.s.allocations() {
            if let Some(c) = self.clients.iter().position(|c| c.five == a.client) {
                let c = u8::try_from(c).unwrap();
                if a.active {
                    let (relay, until) = self.m.alloc[&c];
                    assert_eq!(a.relay, relay);
                    assert_eq!(
                        a.expires, until,
                        "allocation lifetime is what the client was told"
                    );
                }
            }
        }
    }

    fn push(&mut self, c: u8, bytes: &[u8]) {
        let five = self.clients[usize::from(c)].five;
        self.s
            .handle_client(self.now, five.transport, five.client, five.server, bytes);
        self.drain();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 1..80)) {
        let mut cfg = config();
        cfg.peer_policy = PeerPolicy::default();
        cfg.relay_ports = 50000..=50003;
        let mut w = World {
            s: server_with_nonce_lifetime(cfg, 500),
            now: t(1000),
            clients: vec![
                Client::new("192.0.2.1:40000"),
                Client::on(Transport::Tcp, "192.0.2.1:40000"),
                Client::new("192.0.2.2:40000"),
            ],
            m: Model::default(),
        };
        for op in &ops {
            w.step(op);
        }
        // In the far future everything has ended.
        w.now = w.now + std::time::Duration::from_secs(100_000);
        w.step(&Op::Timeout);
        prop_assert_eq!(w.s.allocation_count(), 0);
        prop_assert!(w.m.bound.is_empty());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), tcp in any::<bool>()) {
        let mut s = server(config());
        let tr = if tcp { Transport::Tcp } else { Transport::Udp };
        let _ = s.handle_client(t(0), tr, addr("192.0.2.1:1"), server_addr(), &bytes);
        let _ = s.handle_peer(t(0), addr("198.51.100.10:50000"), addr("203.0.113.5:1"), &bytes);
        while let Some(o) = s.poll_output() {
            if let Output::ToClient { bytes, .. } = o {
                let m = Message::parse(&bytes).unwrap();
                prop_assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
            }
        }
    }

    #[test]
    fn fuzz_harness_holds(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        turnscope::turn::fuzzing::core(&bytes);
    }
}

#[test]
fn the_loopback_peer_is_never_permitted_by_default() {
    let _ = MessageBuilder::new(
        Method::BINDING,
        Class::Request,
        turnscope::wire::TransactionId::new([0; 12]),
    );
    assert!(PeerPolicy::default()
        .check("127.0.0.1".parse().unwrap())
        .is_err());
}
