//! Helpers shared by the TURN core tests: a scripted client and output collection.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use turnscope::turn::{
    Config, FiveTuple, Handled, Output, SequenceNonces, Server, Time, Transport,
};
use turnscope::wire::{
    attr, Class, FingerprintVerdict, IntegrityVerdict, Key, Message, MessageBuilder, Method,
    TransactionId,
};

pub const USER: &str = "alice";
pub const PASS: &str = "secret";
pub const REALM: &str = "example.org";

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub fn server_addr() -> SocketAddr {
    addr("198.51.100.10:3478")
}

pub fn config() -> Config {
    let mut c = Config::default()
        .credential(USER, PASS)
        .credential("bob", "hunter2");
    c.realm = REALM.to_string();
    c.relay_v4 = Some("198.51.100.10".parse().unwrap());
    c.relay_ports = 50000..=50099;
    c
}

/// A server whose nonces last long enough not to get in the way of a test.
pub fn server(config: Config) -> Server {
    server_with_nonce_lifetime(config, 100_000)
}

pub fn server_with_nonce_lifetime(config: Config, secs: u64) -> Server {
    Server::new(
        config,
        Box::new(SequenceNonces::new(Duration::from_secs(secs))),
    )
}

pub fn t(secs: i64) -> Time {
    Time::from_secs(secs)
}

/// Everything a call produced, with relay binds confirmed (unless `fail_binds`).
#[derive(Debug, Default)]
pub struct Outs {
    pub to_client: Vec<(FiveTuple, Vec<u8>)>,
    pub to_peer: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    pub binds: Vec<SocketAddr>,
    pub releases: Vec<SocketAddr>,
    pub events: Vec<String>,
}

pub fn drain(server: &mut Server, now: Time) -> Outs {
    drain_with(server, now, |_| true)
}

pub fn drain_with(
    server: &mut Server,
    now: Time,
    mut bind_ok: impl FnMut(SocketAddr) -> bool,
) -> Outs {
    let mut o = Outs::default();
    while let Some(out) = server.poll_output() {
        match out {
            Output::ToClient { to, bytes } => o.to_client.push((to, bytes)),
            Output::ToPeer { relay, peer, bytes } => o.to_peer.push((relay, peer, bytes)),
            Output::BindRelay { relay } => {
                o.binds.push(relay);
                let ok = bind_ok(relay);
                server.relay_bound(now, relay, ok);
            }
            Output::ReleaseRelay { relay } => o.releases.push(relay),
            Output::Event(e) => o.events.push(e.to_string()),
        }
    }
    o
}

/// A scripted TURN client.
pub struct Client {
    pub five: FiveTuple,
    pub user: String,
    pub pass: String,
    pub realm: String,
    pub nonce: Vec<u8>,
    pub next_txid: u32,
    pub sha256: bool,
}

pub struct Reply {
    pub handled: Handled,
    pub outs: Outs,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn msg(&self) -> Message<'_> {
        Message::parse(&self.bytes).expect("response parses")
    }
    pub fn code(&self) -> Option<u16> {
        let m = self.msg();
        match m.class() {
            Class::Success => None,
            Class::Error => Some(m.error_code().expect("ERROR-CODE").0),
            c => panic!("not a response: {c:?}"),
        }
    }
    pub fn relay(&self) -> SocketAddr {
        self.msg()
            .xor_relayed_address()
            .expect("XOR-RELAYED-ADDRESS")
    }
}

impl Client {
    pub fn new(client: &str) -> Client {
        Client::on(Transport::Udp, client)
    }

    pub fn on(transport: Transport, client: &str) -> Client {
        Client {
            five: FiveTuple {
                transport,
                client: addr(client),
                server: server_addr(),
            },
            user: USER.into(),
            pass: PASS.into(),
            realm: REALM.into(),
            nonce: Vec::new(),
            next_txid: 1,
            sha256: false,
        }
    }

    pub fn key(&self) -> Key {
        Key::long_term(&self.user, &self.realm, &self.pass)
    }

    pub fn txid(&mut self) -> TransactionId {
        let mut id = [0u8; 12];
        id[..4].copy_from_slice(&self.next_txid.to_be_bytes());
        id[4..8].copy_from_slice(&u32::from(self.five.client.port()).to_be_bytes());
        self.next_txid += 1;
        TransactionId::new(id)
    }

    pub fn request(&mut self, method: Method) -> MessageBuilder {
        let txid = self.txid();
        MessageBuilder::new(method, Class::Request, txid)
    }

    /// Add USERNAME, REALM, NONCE and integrity, then FINGERPRINT.
    pub fn sign(&self, b: MessageBuilder) -> Vec<u8> {
        let b = b.username(&self.user).realm(&self.realm).nonce(&self.nonce);
        let b = if self.sha256 {
            b.integrity_sha256(&self.key())
        } else {
            b.integrity(&self.key())
        };
        b.fingerprint()
    }

    /// Send bytes; return the (single) response to this client, checking FINGERPRINT, and
    /// integrity when present.
    pub fn send(&mut self, server: &mut Server, now: Time, bytes: &[u8]) -> Reply {
        let handled = server.handle_client(
            now,
            self.five.transport,
            self.five.client,
            self.five.server,
            bytes,
        );
        let outs = drain(server, now);
        let mine: Vec<&Vec<u8>> = outs
            .to_client
            .iter()
            .filter(|(to, b)| *to == self.five && b.first().is_some_and(|x| *x < 4))
            .map(|(_, b)| b)
            .collect();
        assert_eq!(
            mine.len(),
            1,
            "expected exactly one response, got {handled:?} {outs:?}"
        );
        let bytes = mine[0].clone();
        let m = Message::parse(&bytes).expect("response parses");
        assert_eq!(m.verify_fingerprint(), FingerprintVerdict::Valid);
        assert!(m.software().is_some(), "SOFTWARE on every response");
        if m.has_integrity() {
            assert!(
                matches!(
                    m.verify_integrity(&self.key()),
                    IntegrityVerdict::Verified(_)
                ),
                "response integrity verifies with the client's key"
            );
        }
        if let Some(n) = m.nonce() {
            self.nonce = n.to_vec();
        }
        Reply {
            handled,
            outs,
            bytes,
        }
    }

    /// A signed request.
    pub fn call(&mut self, server: &mut Server, now: Time, b: MessageBuilder) -> Reply {
        let bytes = self.sign(b);
        self.send(server, now, &bytes)
    }

    /// An unsigned request, answered by a 401 challenge whose NONCE (bound to this 5-tuple)
    /// the client keeps.
    pub fn fetch_nonce(&mut self, server: &mut Server, now: Time) {
        let b = self.request(Method::REFRESH);
        let r = self.send(server, now, &b.fingerprint());
        assert_eq!(r.code(), Some(401));
    }

    /// An unsigned Allocate (the challenge), then the signed one. Returns the final reply.
    pub fn allocate(&mut self, server: &mut Server, now: Time) -> Reply {
        let b = self.request(Method::ALLOCATE).requested_transport(17);
        let r = self.send(server, now, &b.fingerprint());
        assert_eq!(r.code(), Some(401));
        let b = self.request(Method::ALLOCATE).requested_transport(17);
        self.call(server, now, b)
    }

    pub fn allocate_with(
        &mut self,
        server: &mut Server,
        now: Time,
        f: impl FnOnce(MessageBuilder) -> MessageBuilder,
    ) -> Reply {
        let b = f(self.request(Method::ALLOCATE));
        self.call(server, now, b)
    }

    pub fn refresh(&mut self, server: &mut Server, now: Time, lifetime: Option<u32>) -> Reply {
        let mut b = self.request(Method::REFRESH);
        if let Some(l) = lifetime {
            b = b.lifetime(l);
        }
        self.call(server, now, b)
    }

    pub fn permit(&mut self, server: &mut Server, now: Time, peers: &[&str]) -> Reply {
        let mut b = self.request(Method::CREATE_PERMISSION);
        for p in peers {
            b = b.xor_address(attr::XOR_PEER_ADDRESS, addr(p));
        }
        self.call(server, now, b)
    }

    pub fn bind(&mut self, server: &mut Server, now: Time, channel: u16, peer: &str) -> Reply {
        let b = self
            .request(Method::CHANNEL_BIND)
            .channel_number(channel)
            .xor_address(attr::XOR_PEER_ADDRESS, addr(peer));
        self.call(server, now, b)
    }

    pub fn send_indication(&mut self, peer: &str, data: &[u8]) -> Vec<u8> {
        let txid = self.txid();
        MessageBuilder::new(Method::SEND, Class::Indication, txid)
            .xor_address(attr::XOR_PEER_ADDRESS, addr(peer))
            .data(data)
            .fingerprint()
    }

    /// Send raw bytes that may produce no response (data, indications).
    pub fn push(&self, server: &mut Server, now: Time, bytes: &[u8]) -> (Handled, Outs) {
        let h = server.handle_client(
            now,
            self.five.transport,
            self.five.client,
            self.five.server,
            bytes,
        );
        (h, drain(server, now))
    }
}
