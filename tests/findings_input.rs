//! input.*: the report is honest about its inputs (captures without STUN, credentials that
//! verify nothing, roles given against the evidence, roles nothing could tell).

mod analyze_support;

use analyze_support::*;
use turnscope::flow::Role;
use turnscope::testsupport::{healthy_exchange, tid, Script, Turn};

/// A capture of other UDP traffic only (e.g. a capture filter that left DNS and media out).
fn no_stun_script() -> Script {
    let mut s = Script::new();
    for _ in 0..5 {
        s.udp(
            CLIENT,
            "192.0.2.53:53",
            b"definitely not a STUN message".to_vec(),
        );
        s.after(10.0);
    }
    s
}

fn healthy(user: &str, password: &str) -> Script {
    let t = Turn::new(user, password, "TANDBERG");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, CLIENT, SERVER, NAT, RELAY, PEER, 1);
    s
}

#[test]
fn a_capture_without_stun_says_so() {
    let r = one(&no_stun_script(), &[]);
    let f = r.finding("input.no_stun").expect("input.no_stun");
    assert!(
        f.summary
            .contains("no STUN/TURN in this capture (wrong interface or capture filter?)"),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("c.pcap") && f.summary.contains("5 frames"));
    // It says so instead of a role that nothing could tell.
    assert_absent(&r, "input.role_unknown");
    // Several such captures: one finding naming each.
    let s = no_stun_script();
    let r = run(&[("a.pcap", &s, None), ("b.pcap", &s, None)], &[]);
    let found: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "input.no_stun")
        .collect();
    assert_eq!(found.len(), 1, "{:?}", r.ids());
    let summary = &found[0].summary;
    assert!(
        summary.contains("no STUN/TURN in these 2 captures"),
        "{summary}"
    );
    assert!(
        summary.contains("a.pcap: 5 frames") && summary.contains("b.pcap: 5 frames"),
        "{summary}"
    );
    // A capture with STUN has no such finding.
    assert_absent(&one(&healthy("alice", "pw"), &[]), "input.no_stun");
}

#[test]
fn an_empty_password_is_named() {
    let r = one(&healthy("alice", "pw"), &["alice:"]);
    let f = r
        .finding("input.empty_password")
        .expect("input.empty_password");
    assert!(f.summary.contains("\"alice\""), "{}", f.summary);
    assert_absent(
        &one(&healthy("alice", "pw"), &["alice:pw"]),
        "input.empty_password",
    );
}

#[test]
fn a_credential_that_verifies_nothing_accepted_is_named() {
    // The right user, another password: the server accepted requests that do not verify.
    let r = one(&healthy("alice", "pw"), &["alice:other"]);
    assert_finding(&r, "input.credential_unverified", "c.pcap", &[3]);
    let f = r.finding("input.credential_unverified").expect("finding");
    assert!(f.summary.contains("do not verify"), "{}", f.summary);
    // Another user altogether: the summary names the users the server accepted.
    let r = one(&healthy("alice", "pw"), &["bob:pw"]);
    let f = r.finding("input.credential_unverified").expect("finding");
    assert!(f.summary.contains("\"alice\""), "{}", f.summary);
    // The right credential verifies the accepted requests: nothing to say.
    assert_absent(
        &one(&healthy("alice", "pw"), &["alice:pw"]),
        "input.credential_unverified",
    );
    // Nothing accepted (all rejected): the auth findings speak, not this one.
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(
        SERVER,
        CLIENT,
        t.challenge(turnscope::wire::Method::ALLOCATE, tid(1)),
    );
    s.after(5.0);
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(2)));
    s.after(10.0);
    s.udp(
        SERVER,
        CLIENT,
        t.error(
            turnscope::wire::Method::ALLOCATE,
            tid(2),
            401,
            "Unauthorized",
        ),
    );
    assert_absent(&one(&s, &["alice:other"]), "input.credential_unverified");
}

#[test]
fn a_given_role_against_the_evidence_is_named() {
    // The client side: its Allocate's XOR-MAPPED-ADDRESS shows a NAT in between.
    let s = healthy("alice", "pw");
    let r = run(&[("guest.pcap", &s, Some(Role::Server))], &[]);
    let f = r
        .finding("input.role_contradicted")
        .expect("input.role_contradicted");
    assert!(f.summary.contains("--server guest.pcap"), "{}", f.summary);
    assert!(
        f.summary.contains("client side") && f.summary.contains("NAT"),
        "{}",
        f.summary
    );
    // Given as what it is: nothing to say.
    let r = run(&[("guest.pcap", &s, Some(Role::Client))], &[]);
    assert_absent(&r, "input.role_contradicted");
}

#[test]
fn a_role_left_unknown_says_why() {
    // A public client whose Allocate gets no answer: no NAT to see, no private-to-public
    // request, no relay leg, no other capture to compare with.
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    for i in 0..3 {
        s.udp("192.0.2.50:5000", SERVER, t.allocate(tid(i)));
        s.after(500.0);
    }
    let r = one(&s, &[]);
    assert_eq!(r.captures.first().map(|c| c.role), Some(Role::Unknown));
    let f = r.finding("input.role_unknown").expect("input.role_unknown");
    assert!(f.summary.contains("nothing tells"), "{}", f.summary);
    assert!(
        r.captures
            .first()
            .is_some_and(|c| c.role_reason.contains("nothing tells")),
        "{:?}",
        r.captures
    );
    // A capture whose side is known: no such finding.
    assert_absent(&one(&healthy("alice", "pw"), &[]), "input.role_unknown");
}
