//! relay.*, capacity.*, alloc.*, perm.*, ice.*, proto.*, transport.*, version.*, nat.* from
//! scripted exchanges.

mod analyze_support;

use analyze_support::*;
use turnscope::flow::Role;
use turnscope::testsupport::{
    data_indication, healthy_exchange, ice_check, ice_ok, media, send_indication, tid,
    tls_client_hello, tls_server_hello, Script, Turn,
};
use turnscope::wire::{attr, encode::channel_data, Class, MessageBuilder, Method};
use turnscope::Report;

fn allocated(relayed: &str) -> (Script, Turn) {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    s.after(5.0);
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(2)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.allocate_ok(tid(2), relayed, NAT, 600)); // 4
    s.after(5.0);
    s.udp(CLIENT, SERVER, t.create_permission(tid(3), PEER));
    s.after(10.0);
    s.udp(
        SERVER,
        CLIENT,
        t.ok(Method::CREATE_PERMISSION, tid(3), None),
    ); // 6
    (s, t)
}

fn error_answer(code: u16, reason: &str, method: Method) -> Script {
    let (mut s, t) = allocated(RELAY);
    s.after(10.0);
    let req = match method {
        Method::ALLOCATE => t.allocate_auth(tid(9)),
        Method::CREATE_PERMISSION => t.create_permission(tid(9), "10.9.9.9:1000"),
        m => t.authed(m, tid(9), |b| b),
    };
    s.udp(CLIENT, SERVER, req); // 7
    s.after(10.0);
    let mut b = MessageBuilder::new(method, Class::Error, tid(9)).error_code(code, reason);
    if code == 300 {
        b = b.address(attr::ALTERNATE_SERVER, sa("198.51.100.30:3478"));
    }
    if code == 420 {
        b = b.unknown_attributes(&[0x8008, 0x0030]);
    }
    s.udp(SERVER, CLIENT, b.fingerprint()); // 8
    s
}

fn sa(s: &str) -> std::net::SocketAddr {
    s.parse().unwrap()
}

#[test]
fn error_code_findings() {
    for (code, reason, method, id) in [
        (
            486,
            "Allocation Quota Reached",
            Method::ALLOCATE,
            "capacity.quota_reached",
        ),
        (
            508,
            "Insufficient Capacity",
            Method::ALLOCATE,
            "capacity.insufficient",
        ),
        (
            300,
            "Try Alternate",
            Method::ALLOCATE,
            "capacity.alternate_server",
        ),
        (
            437,
            "Allocation Mismatch",
            Method::ALLOCATE,
            "alloc.mismatch",
        ),
        (
            403,
            "Forbidden",
            Method::CREATE_PERMISSION,
            "perm.forbidden",
        ),
        (
            420,
            "Unknown Attribute",
            Method::ALLOCATE,
            "proto.unknown_attribute",
        ),
    ] {
        let r = one(&error_answer(code, reason, method), &[]);
        assert_finding(&r, id, "c.pcap", &[7, 8]);
        let f = r.finding(id).unwrap();
        match code {
            300 => assert!(f.summary.contains("198.51.100.30:3478"), "{}", f.summary),
            420 => assert!(f.summary.contains("0x8008 (MS-VERSION)"), "{}", f.summary),
            403 => assert!(f.summary.contains("10.9.9.9:1000"), "{}", f.summary),
            _ => assert!(f.summary.contains(&code.to_string()), "{}", f.summary),
        }
    }
}

#[test]
fn role_conflict() {
    let mut s = Script::new();
    s.udp("10.1.1.10:40000", "10.1.1.20:40002", ice_check(tid(1)));
    s.after(5.0);
    let e = MessageBuilder::new(Method::BINDING, Class::Error, tid(1))
        .error_code(487, "Role Conflict")
        .fingerprint();
    s.udp("10.1.1.20:40002", "10.1.1.10:40000", e);
    let r = one(&s, &[]);
    assert_finding(&r, "ice.role_conflict", "c.pcap", &[1, 2]);
}

#[test]
fn relay_unreachable_and_ice_check_failed() {
    let (mut s, _) = allocated(RELAY);
    // The peer's checks to the relay address never get an answer, nothing is relayed back.
    for i in 0..5 {
        s.after(100.0);
        s.udp(PEER, RELAY, ice_check(tid(100 + i))); // 7..11
    }
    s.after(3000.0);
    let r = one(&s, &[]);
    assert_finding(&r, "relay.unreachable", "c.pcap", &[4, 7, 11]);
    assert_finding(&r, "ice.check_failed", "c.pcap", &[7]);
    assert!(r
        .finding("relay.unreachable")
        .unwrap()
        .summary
        .contains("198.51.100.20:25000"));
}

/// A server-side and a peer-side capture: the peer's checks reach the relay, the client answers
/// through the server, the relay sends the answers out toward the peer; `arrive` says whether the
/// peer's capture shows them.
fn relayed_answers(arrive: bool) -> Report {
    let (mut expe, _) = allocated(RELAY);
    let mut peer = Script::new();
    peer.at(expe.now_ms());
    for i in 0..4 {
        for s in [&mut expe, &mut peer] {
            s.after(200.0);
            s.udp(PEER, RELAY, ice_check(tid(100 + i)));
        }
        expe.after(1.0);
        expe.udp(
            SERVER,
            CLIENT,
            data_indication(tid(200 + i), PEER, &ice_check(tid(100 + i))),
        );
        expe.after(5.0);
        expe.udp(
            CLIENT,
            SERVER,
            send_indication(tid(300 + i), PEER, &ice_ok(tid(100 + i), PEER)),
        );
        expe.after(1.0);
        expe.udp(RELAY, PEER, ice_ok(tid(100 + i), PEER));
        peer.after(8.0);
        if arrive {
            peer.udp(RELAY, PEER, ice_ok(tid(100 + i), PEER));
        }
    }
    run(
        &[
            ("expe.pcap", &expe, Some(Role::Server)),
            ("peer.pcap", &peer, Some(Role::Client)),
        ],
        &[],
    )
}

#[test]
fn relay_return_blocked() {
    let r = relayed_answers(false);
    let f = r
        .finding("relay.return_blocked")
        .unwrap_or_else(|| panic!("relay.return_blocked missing: {:?}", r.ids()));
    assert!(f.summary.contains("192.0.2.99:6000"), "{}", f.summary);
    assert!(f.summary.contains("relay port 25000"), "{}", f.summary);
    assert!(
        f.evidence.iter().any(|e| e.capture == "expe.pcap"),
        "{:?}",
        f.evidence
    );
    assert!(
        f.evidence.iter().any(|e| e.capture == "peer.pcap"),
        "{:?}",
        f.evidence
    );
    assert_absent(&r, "flow.healthy");
    let ok = relayed_answers(true);
    assert_absent(&ok, "relay.return_blocked");
    assert_absent(&ok, "relay.unreachable");
}

#[test]
fn relay_private_address() {
    let (s, _) = allocated("10.0.0.5:25000");
    let r = one(&s, &[]);
    assert_finding(&r, "relay.private_address", "c.pcap", &[4]);
}

#[test]
fn relay_one_way() {
    // Media goes out through the relay, nothing ever comes back.
    let (mut a, _) = allocated(RELAY);
    for _ in 0..8 {
        a.after(20.0);
        a.udp(CLIENT, SERVER, send_indication(tid(50), PEER, &media(160))); // 7..14
    }
    let r = one(&a, &[]);
    assert_finding(&r, "relay.one_way", "c.pcap", &[4, 7]);
    // Both ways: not one-way.
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, CLIENT, SERVER, NAT, RELAY, PEER, 1);
    assert_absent(&one(&s, &[]), "relay.one_way");
}

#[test]
fn allocation_expires() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.allocate_ok(tid(1), RELAY, NAT, 2)); // lifetime 2 s
    s.after(5000.0);
    s.udp(CLIENT, SERVER, channel_data(0x4000, &media(100), false));
    let r = one(&s, &[]);
    assert_finding(&r, "alloc.expired", "c.pcap", &[2]);
    // A refresh in time keeps it alive.
    let mut ok = Script::new();
    ok.udp(CLIENT, SERVER, t.allocate_auth(tid(1)));
    ok.after(10.0);
    ok.udp(SERVER, CLIENT, t.allocate_ok(tid(1), RELAY, NAT, 2));
    ok.after(1000.0);
    ok.udp(CLIENT, SERVER, t.refresh(tid(2), 600));
    ok.after(10.0);
    ok.udp(SERVER, CLIENT, t.ok(Method::REFRESH, tid(2), Some(600)));
    ok.after(5000.0);
    ok.udp(CLIENT, SERVER, channel_data(0x4000, &media(100), false));
    assert_absent(&one(&ok, &[]), "alloc.expired");
}

#[test]
fn consent_lost_after_30_seconds() {
    let (a, b) = ("10.1.1.10:40000", "192.0.2.50:40002");
    let mut s = Script::new();
    s.udp(a, b, ice_check(tid(1)));
    s.after(5.0);
    s.udp(b, a, ice_ok(tid(1), a)); // 2
    for i in 0..8 {
        s.after(5000.0);
        s.udp(a, b, ice_check(tid(10 + i))); // 3..10
    }
    let r = one(&s, &[]);
    assert_finding(&r, "ice.consent_lost", "c.pcap", &[1, 3]);
    assert_absent(&r, "ice.check_failed");
}

#[test]
fn bad_fingerprint_and_malformed() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    let mut m = t.allocate(tid(1));
    let n = m.len();
    m[n - 1] ^= 0xff; // FINGERPRINT value changed on the way
    s.udp(CLIENT, SERVER, m);
    let mut bad = t.allocate(tid(2));
    bad[3] = bad[3].wrapping_add(40); // length overruns the datagram
    s.udp(CLIENT, SERVER, bad);
    let r = one(&s, &[]);
    assert_finding(&r, "proto.bad_fingerprint", "c.pcap", &[1]);
    assert_finding(&r, "proto.malformed", "c.pcap", &[2]);
}

#[test]
fn attributes_appended_after_the_integrity() {
    let (mut s, t) = allocated(RELAY);
    s.after(10.0);
    let peer = "203.0.113.66:9".parse().expect("address");
    let extended = t.authed_then_appended(
        Method::CREATE_PERMISSION,
        tid(7),
        |b| {
            b.xor_address(
                attr::XOR_PEER_ADDRESS,
                "10.9.9.9:1000".parse().expect("address"),
            )
        },
        |b| b.xor_address(attr::XOR_PEER_ADDRESS, peer),
    );
    s.udp(CLIENT, SERVER, extended); // 7
    s.after(10.0);
    s.udp(
        SERVER,
        CLIENT,
        t.ok(Method::CREATE_PERMISSION, tid(7), None),
    );
    s.after(10.0);
    let refresh = t.authed_then_appended(Method::REFRESH, tid(8), |b| b, |b| b.lifetime(0));
    s.udp(CLIENT, SERVER, refresh); // 9
    let r = one(&s, &[]);
    assert_finding(&r, "proto.unprotected_attribute", "c.pcap", &[7, 9]);
    let f = r.finding("proto.unprotected_attribute").expect("finding");
    assert!(f.summary.contains("XOR-PEER-ADDRESS"), "{}", f.summary);
    assert!(
        f.summary.contains("after MESSAGE-INTEGRITY"),
        "{}",
        f.summary
    );

    // Signed requests with nothing after the integrity raise nothing.
    let (s, _) = allocated(RELAY);
    assert_absent(&one(&s, &[]), "proto.unprotected_attribute");
}

#[test]
fn turn_over_tls_on_443() {
    // TLS on 443 is TURN when the traffic says so: here the same client also sends STUN to
    // that server (tests/findings_web.rs has the other signs, and the web app's HTTPS).
    let (c, srv) = ("10.1.1.10:51000", "198.51.100.20:443");
    let mut s = Script::new();
    s.tcp_handshake(c, srv);
    let hello = s.tcp_data(c, srv, tls_client_hello("turn.example.com")); // 4
    s.tcp_data(srv, c, tls_server_hello());
    s.udp(
        "10.1.1.10:51001",
        "198.51.100.20:3478",
        MessageBuilder::new(Method::BINDING, Class::Request, tid(40)).fingerprint(),
    );
    let r = one(&s, &[]);
    assert_finding(&r, "transport.turn_tls", "c.pcap", &[hello]);
    let f = r.finding("transport.turn_tls").unwrap();
    assert!(f.summary.contains("turn.example.com"), "{}", f.summary);
    assert!(f.summary.contains("ServerHello"), "{}", f.summary);
}

#[test]
fn cms_binding_only() {
    // A capture on a two-NIC Expressway-E: guests allocate on LAN2 (the static NAT target),
    // the call bridge only sends Binding to the same TURN port on LAN1.
    let t = Turn::new("guest", "pw", "TANDBERG");
    let (lan2, lan1, cms) = ("10.0.2.36:3478", "10.0.0.36:3478", "10.0.0.40:5000");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, NAT, lan2, NAT, "175.12.5.1:24010", PEER, 1);
    for i in 0..3 {
        s.after(1000.0);
        s.udp(
            cms,
            lan1,
            MessageBuilder::new(Method::BINDING, Class::Request, tid(50 + i)).fingerprint(),
        );
    }
    let r = run(&[("expe.pcap", &s, Some(Role::Server))], &[]);
    let last = s.len() as u32;
    let bindings = [last - 2, last - 1, last];
    assert_finding(&r, "version.cms_binding_only", "expe.pcap", &bindings);
    assert!(r
        .finding("version.cms_binding_only")
        .unwrap()
        .summary
        .contains("10.0.0.40"));

    // Binding alone to a private 3478 where nothing says TURN (a STUN server of another
    // product) is not this.
    let mut stun_only = Script::new();
    for i in 0..3 {
        stun_only.udp(
            cms,
            lan1,
            MessageBuilder::new(Method::BINDING, Class::Request, tid(i)).fingerprint(),
        );
        stun_only.after(1000.0);
    }
    assert_absent(&one(&stun_only, &[]), "version.cms_binding_only");

    // A client that also allocates is not flagged for its Binding requests.
    let mut h = Script::new();
    healthy_exchange(&mut h, &t, CLIENT, SERVER, NAT, RELAY, PEER, 1);
    h.udp(
        "10.1.1.10:50002",
        SERVER,
        MessageBuilder::new(Method::BINDING, Class::Request, tid(90)).fingerprint(),
    );
    assert_absent(&one(&h, &[]), "version.cms_binding_only");
}

/// A capture on the Expressway-E: two clients allocate relays advertised on the public address
/// (static NAT); the guest's checks toward the CMS's public relay leave the guest's relay socket
/// (its private address); whether they come back in through the firewall is `reflected`.
fn hairpin_case(reflected: bool) -> Script {
    let (guest_t, cms_t) = (
        Turn::new("guest", "pw", "TANDBERG"),
        Turn::new("cms", "pw", "TANDBERG"),
    );
    let (lan2, lan1) = ("10.0.2.36:3478", "10.0.0.36:3478");
    let (guest_relay, cms_relay) = ("175.12.5.1:24020", "175.12.5.1:24010");
    let (guest_sock, cms_sock) = ("10.0.2.36:24020", "10.0.2.36:24010");
    let (cms, guest) = ("10.0.0.40:5000", NAT);
    let mut s = Script::new();
    s.udp(cms, lan1, cms_t.allocate_auth(tid(1)));
    s.after(5.0);
    s.udp(lan1, cms, cms_t.allocate_ok(tid(1), cms_relay, cms, 600));
    s.udp(guest, lan2, guest_t.allocate_auth(tid(2)));
    s.after(5.0);
    s.udp(
        lan2,
        guest,
        guest_t.allocate_ok(tid(2), guest_relay, guest, 600),
    );
    // The CMS's relay reaches the guest's relay: its socket is seen by this capture.
    s.udp(
        cms,
        lan1,
        send_indication(tid(3), guest_relay, &ice_check(tid(40))),
    );
    s.udp(cms_sock, guest_relay, ice_check(tid(40)));
    if reflected {
        s.udp(cms_relay, guest_sock, ice_check(tid(40)));
    }
    for i in 0..4 {
        s.after(200.0);
        s.udp(
            guest,
            lan2,
            send_indication(tid(10 + i), cms_relay, &ice_check(tid(20 + i))),
        );
        s.udp(guest_sock, cms_relay, ice_check(tid(20 + i)));
        if reflected {
            s.udp(guest_relay, cms_sock, ice_check(tid(20 + i)));
        }
    }
    s
}

#[test]
fn nat_reflection_missing() {
    let r = run(
        &[("expe.pcap", &hairpin_case(false), Some(Role::Server))],
        &[],
    );
    // Both relays hairpin toward each other's public address: one missing reflection.
    let found: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "nat.reflection_missing")
        .collect();
    assert_eq!(found.len(), 1, "{:?}", r.ids());
    let f = found[0];
    assert!(
        f.summary.contains("public relay address 175.12.5.1"),
        "{}",
        f.summary
    );
    assert!(
        f.summary.contains("the same for 1 other relay pairs"),
        "{}",
        f.summary
    );
    // Both departures are evidence: the guest relay's (frame 8) and the CMS relay's (6).
    for frame in [6, 8] {
        assert!(
            f.evidence.iter().any(|e| e.frame == frame),
            "{:?}",
            f.evidence
        );
    }
    // The same checks coming back in through the firewall: reflection works.
    let ok = run(
        &[("expe.pcap", &hairpin_case(true), Some(Role::Server))],
        &[],
    );
    assert_absent(&ok, "nat.reflection_missing");
    // CMS host checks to the public relay are dropped by the internal firewall by design; ICE
    // uses another pair: not a reflection problem.
    let t = Turn::new("cms", "pw", "TANDBERG");
    let (cms, inside, public_relay) = ("10.0.0.40:5000", "10.0.0.36:3478", "175.12.5.1:24010");
    let mut s = Script::new();
    s.udp(cms, inside, t.allocate_auth(tid(1)));
    s.after(5.0);
    s.udp(inside, cms, t.allocate_ok(tid(1), public_relay, cms, 600));
    for i in 0..4 {
        s.after(200.0);
        s.udp("10.0.0.40:5002", "175.12.5.1:24020", ice_check(tid(10 + i)));
    }
    assert_absent(&one(&s, &[]), "nat.reflection_missing");
}

#[test]
fn every_catalogue_id_is_covered_by_a_test() {
    // Keep this list in step with src/diagnose/mod.rs CATALOGUE.
    let tested = [
        "flow.healthy",
        "auth.rejected",
        "auth.password_mismatch",
        "auth.server_password_mismatch",
        "auth.unknown_user",
        "auth.realm_mismatch",
        "auth.no_credentials",
        "auth.stale_nonce",
        "auth.stale_nonce_unhandled",
        "reach.no_response",
        "reach.inbound_blocked",
        "reach.response_lost",
        "reach.server_silent",
        "reach.port_unreachable",
        "reach.tcp_refused",
        "relay.unreachable",
        "relay.return_blocked",
        "relay.private_address",
        "relay.one_way",
        "capacity.quota_reached",
        "capacity.insufficient",
        "capacity.alternate_server",
        "alloc.mismatch",
        "alloc.expired",
        // tests/findings_auth.rs
        "alloc.release_failed",
        "perm.forbidden",
        "ice.check_failed",
        "ice.role_conflict",
        "ice.consent_lost",
        "proto.bad_fingerprint",
        "proto.malformed",
        "proto.unknown_attribute",
        "proto.unprotected_attribute",
        "transport.turn_tls",
        "version.cms_binding_only",
        "nat.reflection_missing",
        // tests/findings_web.rs
        "dns.join_url_unresolved",
        "dns.join_url_private",
        "dns.webbridge_unresolved",
        "dns.xmpp_srv_unresolved",
        "dns.turn_unresolved",
        "tls.san_mismatch",
        "tls.self_signed",
        "tls.certificate_expired",
        "tls.certificate_not_yet_valid",
        "tls.certificate_rejected",
        "tls.client_certificate_rejected",
        "tls.certificate_hidden",
        "web.tcp443_unanswered",
        "web.tcp443_refused",
        "web.http_redirect",
        "web.http_no_redirect",
        // tests/findings_logs.rs
        "log.ice_failure",
        // tests/findings_browser.rs
        "browser.no_relay_candidate",
        "browser.turn_error",
        "browser.ice_failed",
        "browser.ice_disconnected",
        "browser.ice_not_connected",
        "browser.relay_tcp_only",
        "browser.selected_pair",
        // tests/findings_input.rs
        "input.no_stun",
        // tests/analyze_bundles.rs (a log-only bundle)
        "input.no_capture",
        "input.empty_password",
        "input.credential_unverified",
        "input.role_contradicted",
        "input.role_unknown",
    ];
    for (id, _) in turnscope::diagnose::CATALOGUE {
        assert!(tested.contains(id), "{id} has no scripted test");
    }
    assert_eq!(tested.len(), turnscope::diagnose::CATALOGUE.len());
}
