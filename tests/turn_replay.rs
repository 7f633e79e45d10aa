//! `replay::run` on scripted captures: agreement on healthy exchanges, and a concrete `why` for
//! each kind of difference.

use std::net::SocketAddr;

use turnscope::replay::{run, CapturedMessage, ReplayOptions, ReplayReport};
use turnscope::turn::{Profile, Transport};
use turnscope::wire::{attr, Class, Key, MessageBuilder, Method, TransactionId};

const CLIENT: &str = "192.0.2.10:50000";
const SERVER: &str = "198.51.100.10:3478";

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A capture under construction: frames numbered in order, a second apart.
struct Cap {
    name: String,
    msgs: Vec<CapturedMessage>,
    txid: u8,
}

impl Cap {
    fn new(name: &str) -> Cap {
        Cap {
            name: name.into(),
            msgs: Vec::new(),
            txid: 0,
        }
    }
    fn push(&mut self, from_client: bool, bytes: Vec<u8>) -> u32 {
        let frame = self.msgs.len() as u32 + 1;
        let (src, dst) = if from_client {
            (a(CLIENT), a(SERVER))
        } else {
            (a(SERVER), a(CLIENT))
        };
        self.msgs.push(CapturedMessage {
            capture: self.name.clone(),
            frame,
            ts_nanos: 1_700_000_000_000_000_000 + i64::from(frame) * 1_000_000_000,
            transport: Transport::Udp,
            src,
            dst,
            bytes,
        });
        frame
    }
    fn txid(&mut self) -> TransactionId {
        self.txid += 1;
        TransactionId::new([self.txid; 12])
    }
    /// Client request (signed with `pass` when `nonce` is given) and the captured answer.
    fn exchange(
        &mut self,
        method: Method,
        extra: impl Fn(MessageBuilder) -> MessageBuilder,
        auth: Option<(&str, &str, &str, &str)>, // user, realm, pass, nonce
        answer: Option<u16>,                    // None: success; Some(0): no answer
    ) -> u32 {
        let id = self.txid();
        let mut b = extra(MessageBuilder::new(method, Class::Request, id));
        if let Some((u, r, p, n)) = auth {
            b = b
                .username(u)
                .realm(r)
                .nonce(n.as_bytes())
                .integrity(&Key::long_term(u, r, p));
        }
        let frame = self.push(true, b.fingerprint());
        match answer {
            Some(0) => {}
            None => {
                let r = MessageBuilder::new(method, Class::Success, id);
                self.push(false, r.fingerprint());
            }
            Some(code) => {
                let r = MessageBuilder::new(method, Class::Error, id)
                    .error_code(code, "")
                    .realm("TANDBERG")
                    .nonce(b"captured-nonce-2");
                self.push(false, r.fingerprint());
            }
        }
        frame
    }
}

fn alloc(b: MessageBuilder) -> MessageBuilder {
    b.requested_transport(17)
}

fn perm(b: MessageBuilder) -> MessageBuilder {
    b.xor_address(attr::XOR_PEER_ADDRESS, a("203.0.113.5:3480"))
}

fn opts(pass: &str, profile: Profile) -> ReplayOptions {
    ReplayOptions {
        credentials: vec![turnscope::wire::Credential::new("turnuser", pass)],
        realm: None,
        profile,
        user_quota: None,
    }
}

const N: &str = "captured-nonce-1";

fn healthy() -> Cap {
    let mut c = Cap::new("client.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(401));
    let auth = Some(("turnuser", "TANDBERG", "cisco", N));
    c.exchange(Method::ALLOCATE, alloc, auth, None);
    c.exchange(Method::CREATE_PERMISSION, perm, auth, None);
    c.exchange(
        Method::CHANNEL_BIND,
        |b| perm(b).channel_number(0x4000),
        auth,
        None,
    );
    c.exchange(Method::REFRESH, |b| b.lifetime(0), auth, None);
    c
}

#[test]
fn healthy_exchange_agrees() {
    let c = healthy();
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    assert_eq!(
        r,
        ReplayReport {
            requests: 5,
            agree: 5,
            differ: 0,
            differences: vec![]
        }
    );
}

#[test]
fn server_password_differs() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(401));
    let f = c.exchange(
        Method::ALLOCATE,
        alloc,
        Some(("turnuser", "TANDBERG", "cisco", N)),
        Some(431),
    );
    let r = run(&c.msgs, &opts("cisco", Profile::Expressway));
    assert_eq!((r.requests, r.agree, r.differ), (2, 1, 1));
    let d = &r.differences[0];
    assert_eq!(d.frame, f);
    assert_eq!(d.method, "allocate");
    assert_eq!(d.captured, "error 431");
    assert_eq!(d.predicted, "success");
    assert!(
        d.why.contains("verifies with the given password"),
        "{}",
        d.why
    );
    assert!(d.why.contains("stored password"), "{}", d.why);
}

#[test]
fn client_password_differs_agrees_on_431_in_expressway_profile() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(401));
    c.exchange(
        Method::ALLOCATE,
        alloc,
        Some(("turnuser", "TANDBERG", "wrongpass", N)),
        Some(431),
    );
    let r = run(&c.msgs, &opts("cisco", Profile::Expressway));
    assert_eq!((r.agree, r.differ), (2, 0), "{r:?}");
    // The rfc profile answers 401: a difference that names the profile.
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    assert_eq!(r.differ, 1);
    let d = &r.differences[0];
    assert_eq!(
        (d.captured.as_str(), d.predicted.as_str()),
        ("error 431", "error 401")
    );
    assert!(d.why.contains("--profile expressway"), "{}", d.why);
}

#[test]
fn server_accepted_a_password_the_core_does_not() {
    let c = healthy();
    let r = run(&c.msgs, &opts("other", Profile::Rfc));
    assert_eq!(r.requests, 5);
    let first = &r.differences[0];
    assert_eq!(first.captured, "success");
    assert_eq!(first.predicted, "error 401");
    assert!(
        first
            .why
            .contains("does not verify with the given password"),
        "{}",
        first.why
    );
    // Every later request fails authentication the same way.
    assert_eq!(r.differ, 4);
    assert!(r.differences.iter().all(|d| d.predicted == "error 401"));
}

#[test]
fn requests_on_an_allocation_the_core_refused_point_back_at_it() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(401));
    let auth = Some(("turnuser", "TANDBERG", "cisco", N));
    // The captured server allocated an IPv6 relay; the core has no IPv6 relay address -> 440.
    let f = c.exchange(
        Method::ALLOCATE,
        |b| alloc(b).attr(attr::REQUESTED_ADDRESS_FAMILY, &[2, 0, 0, 0]),
        auth,
        None,
    );
    c.exchange(Method::CREATE_PERMISSION, perm, auth, None);
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    assert_eq!(r.differ, 2);
    assert_eq!(r.differences[0].predicted, "error 440");
    let later = &r.differences[1];
    assert_eq!(later.predicted, "error 437");
    assert!(later.why.contains(&format!("frame {f}")), "{}", later.why);
}

#[test]
fn unknown_user_and_realm() {
    let c = healthy();
    let o = ReplayOptions {
        credentials: vec![turnscope::wire::Credential::new("someone", "x")],
        ..ReplayOptions::default()
    };
    let r = run(&c.msgs, &o);
    assert!(r.differences[0]
        .why
        .contains("not among the given credentials"));
    let o = ReplayOptions {
        realm: Some("other".into()),
        ..opts("cisco", Profile::Rfc)
    };
    let r = run(&c.msgs, &o);
    assert!(
        r.differences[0].why.contains("--realm \"TANDBERG\""),
        "{}",
        r.differences[0].why
    );
}

#[test]
fn stale_nonce_as_the_captured_server_decided() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(401));
    let auth = Some(("turnuser", "TANDBERG", "cisco", N));
    c.exchange(Method::ALLOCATE, alloc, auth, None);
    c.exchange(Method::REFRESH, |b| b, auth, Some(438));
    c.exchange(
        Method::REFRESH,
        |b| b,
        Some(("turnuser", "TANDBERG", "cisco", "captured-nonce-2")),
        None,
    );
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    assert_eq!((r.requests, r.agree), (4, 4), "{r:?}");
}

#[test]
fn unanswered_requests_and_retransmissions() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(0));
    // The same request again (same txid): a retransmission, not a new request.
    let again = c.msgs[0].bytes.clone();
    c.push(true, again);
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    assert_eq!((r.requests, r.differ), (1, 1));
    let d = &r.differences[0];
    assert_eq!(
        (d.captured.as_str(), d.predicted.as_str()),
        ("none", "error 401")
    );
    assert!(d.why.contains("no answer was captured"));
}

#[test]
fn a_transaction_in_two_captures_counts_once() {
    let c = healthy();
    let mut s = healthy();
    for m in &mut s.msgs {
        m.capture = "server.pcap".into();
        // Behind a NAT the server sees another client address.
        if m.src == a(CLIENT) {
            m.src = a("198.51.100.1:61000");
        } else {
            m.dst = a("198.51.100.1:61000");
        }
    }
    let mut all = c.msgs.clone();
    all.extend(s.msgs);
    let r = run(&all, &opts("cisco", Profile::Rfc));
    assert_eq!((r.requests, r.agree), (5, 5));
}

#[test]
fn ice_checks_to_relays_are_not_server_requests() {
    let mut c = healthy();
    let check = MessageBuilder::new(
        Method::BINDING,
        Class::Request,
        TransactionId::new([99; 12]),
    )
    .attr(attr::PRIORITY, &[0, 0, 0, 1])
    .fingerprint();
    c.push(true, check);
    let bind = MessageBuilder::new(
        Method::BINDING,
        Class::Request,
        TransactionId::new([98; 12]),
    )
    .fingerprint();
    c.push(true, bind);
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    // The plain Binding to the server counts (unanswered in this capture), the ICE check not.
    assert_eq!(r.requests, 6);
}

#[test]
fn json_has_exactly_the_contract_keys() {
    let mut c = Cap::new("c.pcap");
    c.exchange(Method::ALLOCATE, alloc, None, Some(0));
    let r = run(&c.msgs, &opts("cisco", Profile::Rfc));
    let v = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    let mut want = vec!["requests", "agree", "differ", "differences"];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
    let d = v["differences"][0].as_object().unwrap();
    let mut dk: Vec<&str> = d.keys().map(|k| k.as_str()).collect();
    dk.sort();
    assert_eq!(
        dk,
        vec!["capture", "captured", "frame", "method", "predicted", "why"]
    );
    assert!(v["differences"][0]["frame"].is_u64());
}
