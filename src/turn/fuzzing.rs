//! The `turn_core` fuzz target's logic, in the library so that a test can replay the committed
//! corpus (`fuzz/corpus/turn_core/`) through it on stable Rust.
//!
//! Input: a sequence of `[op, len, payload...]` records. Ops send raw bytes from a client (UDP
//! or TCP), re-sign a payload as an authenticated request (so the fuzzer gets past
//! MESSAGE-INTEGRITY), send peer datagrams to live relays, advance time, fail relay binds and
//! close TCP connections. After every step the invariants are checked and any violation panics
//! (which is what the fuzzer reports).
#![doc(hidden)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::{Config, FiveTuple, Output, PeerPolicy, SequenceNonces, Server, Time, Transport};
use crate::wire::{
    attr, demux, ChannelData, Class, FingerprintVerdict, IntegrityVerdict, Key, Message,
    MessageBuilder,
};

const USER: &str = "fuzz";
const PASS: &str = "pass";
const REALM: &str = "fuzz.example";

fn client_addr(i: u8) -> SocketAddr {
    match i % 4 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40000),
        1 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 40001),
        2 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 40000),
        _ => SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            40000,
        ),
    }
}

fn peer_addr(i: u8) -> SocketAddr {
    match i % 4 {
        0 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)), 3480),
        1 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 6)), 3480),
        2 => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 5000),
        _ => SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5)),
            3480,
        ),
    }
}

fn server_addr(t: Transport) -> SocketAddr {
    match t {
        Transport::Udp => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 3478),
        Transport::Tcp => SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)), 3478),
    }
}

/// The configuration the fuzzer runs: small port range and quotas so exhaustion paths run.
pub fn config() -> Config {
    let mut c = Config::default().credential(USER, PASS);
    c.realm = REALM.to_string();
    c.relay_v4 = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 10)));
    c.relay_v6 = Some(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10)));
    c.relay_ports = 50000..=50007;
    c.user_quota = Some(4);
    c.max_allocations = Some(6);
    c.max_permissions = 8;
    c.max_channels = 8;
    c.peer_policy = PeerPolicy::default();
    c
}

/// What a run reached, so tests can check that seeds go deep.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    pub allocations: u32,
    pub to_peer: u32,
    pub to_client_data: u32,
    pub errors: u32,
}

struct Harness {
    reached: Reached,
    server: Server,
    now: Time,
    key: Key,
    /// The last NONCE each client was given (nonces are bound to the 5-tuple); the fuzzer's
    /// clients are a handful of addresses, so this stays small.
    nonces: HashMap<FiveTuple, Vec<u8>>,
    relays: Vec<SocketAddr>,
    fail_binds: bool,
    /// Failed binds so far: picks the failure reason in turn.
    bind_failures: u32,
}

impl Harness {
    /// Drain outputs, checking each; bind relays as asked.
    fn drain(&mut self) {
        let mut guard = 0u32;
        while let Some(out) = self.server.poll_output() {
            guard += 1;
            assert!(guard < 100_000, "output loop does not end");
            match out {
                Output::ToClient { to, bytes } => self.check_to_client(&to, &bytes),
                Output::ToPeer { relay, peer, bytes } => {
                    self.reached.to_peer += 1;
                    assert!(
                        self.server.has_permission(relay, peer.ip(), self.now),
                        "relayed to {peer} from {relay} without a permission"
                    );
                    assert!(bytes.len() <= usize::from(u16::MAX));
                }
                Output::BindRelay { relay } => {
                    if !self.fail_binds {
                        if !self.relays.contains(&relay) {
                            self.relays.push(relay);
                        }
                        self.server.relay_bound(self.now, relay, true);
                    } else {
                        let why = match self.bind_failures % 3 {
                            0 => super::BindFailure::PortInUse,
                            1 => super::BindFailure::NoDescriptors,
                            _ => super::BindFailure::Other,
                        };
                        self.bind_failures = self.bind_failures.wrapping_add(1);
                        self.server.relay_bind_failed(self.now, relay, why);
                    }
                }
                Output::ReleaseRelay { relay } => {
                    self.relays.retain(|r| *r != relay);
                    assert!(self
                        .server
                        .allocation_by_relay(relay)
                        .is_none_or(|a| !a.active));
                }
                Output::Event(e) => {
                    if matches!(e, super::Event::Allocated { .. }) {
                        self.reached.allocations += 1;
                    }
                    let _ = e.to_string();
                }
            }
        }
    }

    fn check_to_client(&mut self, to: &FiveTuple, bytes: &[u8]) {
        match demux::classify(bytes) {
            demux::PayloadClass::ChannelData => {
                self.reached.to_client_data += 1;
                let cd = ChannelData::parse(bytes, to.transport == Transport::Tcp)
                    .expect("ChannelData to the client parses"); // ok: a fuzz oracle, must abort
                if to.transport == Transport::Tcp {
                    assert_eq!(cd.wire_len, bytes.len());
                    assert_eq!(bytes.len() % 4, 0);
                }
            }
            _ => {
                let m = Message::parse(bytes).expect("STUN to the client parses"); // ok: a fuzz oracle, must abort
                if m.is_rfc3489() {
                    return;
                }
                match m.class() {
                    Class::Success | Class::Error => {
                        if m.class() == Class::Error {
                            self.reached.errors += 1;
                        }
                        assert_eq!(
                            m.verify_fingerprint(),
                            FingerprintVerdict::Valid,
                            "response without a valid FINGERPRINT"
                        );
                        if m.has_integrity() {
                            assert!(
                                matches!(
                                    m.verify_integrity(&self.key),
                                    IntegrityVerdict::Verified(_)
                                ),
                                "response integrity does not verify"
                            );
                        }
                        if let Some(n) = m.nonce() {
                            self.nonces.insert(*to, n.to_vec());
                        }
                    }
                    Class::Indication => {
                        self.reached.to_client_data += 1;
                        assert!(m.data().is_some());
                    }
                    Class::Request => panic!("the server sent a request"),
                }
            }
        }
    }

    /// Rebuild a fuzzer-made message as a signed request from the fuzz user on `five`, with the
    /// last nonce that 5-tuple was given. Attributes the payload has after its own
    /// MESSAGE-INTEGRITY stay after the new one: unprotected, as an attacker appends them.
    fn sign(&self, five: &FiveTuple, payload: &[u8], sha256: bool) -> Option<Vec<u8>> {
        let m = Message::parse(payload).ok()?;
        if m.is_rfc3489() {
            return None;
        }
        let mut b = MessageBuilder::new(m.method(), m.class(), m.transaction_id());
        let mut appended = Vec::new();
        let mut signed_part = true;
        for a in m.attributes().map_while(Result::ok) {
            match a.typ {
                attr::MESSAGE_INTEGRITY | attr::MESSAGE_INTEGRITY_SHA256 => signed_part = false,
                attr::USERNAME | attr::REALM | attr::NONCE | attr::FINGERPRINT => {}
                t if signed_part => b.push(t, a.value),
                t => appended.push((t, a.value)),
            }
        }
        let nonce = self.nonces.get(five).map_or(&b"nonce-0"[..], Vec::as_slice);
        let b = b.username(USER).realm(REALM).nonce(nonce);
        let mut b = if sha256 {
            b.integrity_sha256(&self.key)
        } else {
            b.integrity(&self.key)
        };
        for (t, v) in appended {
            b.push(t, v);
        }
        Some(b.fingerprint())
    }
}

/// Feed one fuzz input through a fresh server. Panics on an invariant violation.
pub fn core(data: &[u8]) -> Reached {
    let mut h = Harness {
        reached: Reached::default(),
        server: Server::new(
            config(),
            Box::new(SequenceNonces::new(Duration::from_secs(30))),
        ),
        now: Time::from_secs(1_000),
        key: Key::long_term(USER, REALM, PASS),
        nonces: HashMap::new(),
        relays: Vec::new(),
        fail_binds: false,
        bind_failures: 0,
    };
    let mut rest = data;
    while let [op, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let sel = op >> 3;
        let transport = if sel & 0x10 != 0 {
            Transport::Tcp
        } else {
            Transport::Udp
        };
        match op & 7 {
            0 | 1 => {
                let t = if op & 7 == 1 {
                    Transport::Tcp
                } else {
                    transport
                };
                let _ = h
                    .server
                    .handle_client(h.now, t, client_addr(sel), server_addr(t), payload);
            }
            2 => {
                let five = FiveTuple {
                    transport,
                    client: client_addr(sel),
                    server: server_addr(transport),
                };
                if let Some(msg) = h.sign(&five, payload, sel & 0x8 != 0) {
                    let _ =
                        h.server
                            .handle_client(h.now, transport, five.client, five.server, &msg);
                }
            }
            3 => {
                let relay = h
                    .relays
                    .get(usize::from(sel) % h.relays.len().max(1))
                    .copied()
                    .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50000));
                let _ = h.server.handle_peer(h.now, relay, peer_addr(sel), payload);
            }
            4 => {
                let secs = payload.first().copied().unwrap_or(1);
                let step = u64::from(secs) * u64::from(payload.get(1).copied().unwrap_or(1).max(1));
                h.now = h.now + Duration::from_millis(step * 250);
                h.server.handle_timeout(h.now);
            }
            5 => h.fail_binds = !h.fail_binds,
            6 => {
                let t = Transport::Tcp;
                h.server.handle_disconnect(
                    h.now,
                    FiveTuple {
                        transport: t,
                        client: client_addr(sel),
                        server: server_addr(t),
                    },
                );
            }
            _ => {
                // ChannelData built from the payload: channel from the first two bytes.
                let ch = 0x4000
                    | u16::from_be_bytes([
                        payload.first().copied().unwrap_or(0) & 0x3f,
                        payload.get(1).copied().unwrap_or(0),
                    ]);
                let padded = transport == Transport::Tcp;
                let bytes = crate::wire::encode::channel_data(ch, payload, padded);
                let _ = h.server.handle_client(
                    h.now,
                    transport,
                    client_addr(sel),
                    server_addr(transport),
                    &bytes,
                );
            }
        }
        h.drain();
        check_lifetimes(&h);
    }
    // Far in the future everything is gone.
    h.now = h.now + Duration::from_secs(10_000);
    h.server.handle_timeout(h.now);
    h.drain();
    assert_eq!(
        h.server.allocation_count(),
        0,
        "allocations outlive their lifetime"
    );
    assert!(
        h.relays.is_empty(),
        "relay sockets outlive their allocations"
    );
    h.reached
}

fn check_lifetimes(h: &Harness) {
    let c = h.server.config();
    for a in h.server.allocations() {
        assert!(a.expires <= h.now + c.max_lifetime);
        for (_, t) in &a.permissions {
            assert!(*t <= h.now + c.permission_lifetime);
        }
        for (_, _, t) in &a.channels {
            assert!(*t <= h.now + c.channel_lifetime);
        }
    }
}
