//! auth.* and flow.healthy from scripted exchanges.

mod analyze_support;

use analyze_support::*;
use turnscope::testsupport::{healthy_exchange, tid, Script, Turn};
use turnscope::wire::Method;

/// Challenge, then an authenticated Allocate rejected with `code` (retransmitted once).
fn rejected(t: &Turn, code: u16) -> Script {
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1))); // 1
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1))); // 2
    s.after(5.0);
    s.udp(CLIENT, SERVER, t.allocate_auth(tid(2))); // 3
    s.after(10.0);
    let reason = if code == 431 {
        "Integrity Check Failure"
    } else {
        "Unauthorized"
    };
    s.udp(
        SERVER,
        CLIENT,
        t.error(Method::ALLOCATE, tid(2), code, reason),
    ); // 4
    s.after(3000.0);
    s
}

#[test]
fn healthy_gives_flow_healthy_and_no_error() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, CLIENT, SERVER, NAT, RELAY, PEER, 1);
    let r = one(&s, &[]);
    assert_finding(&r, "flow.healthy", "c.pcap", &[4]);
    assert_no_errors(&r);
    // With the right credential the integrity verifies and still nothing is wrong.
    let r = one(&s, &["alice:pw"]);
    assert!(r.has("flow.healthy"));
    assert_no_errors(&r);
    for id in [
        "auth.rejected",
        "auth.no_credentials",
        "auth.password_mismatch",
    ] {
        assert_absent(&r, id);
    }
}

#[test]
fn healthy_over_ipv6() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    healthy_exchange(
        &mut s,
        &t,
        "[2001:db8::10]:50000",
        "[2001:db8:1::20]:3478",
        "[2001:db8::10]:50000",
        "[2001:db8:1::20]:25000",
        "[2001:db8:2::99]:6000",
        1,
    );
    let r = one(&s, &[]);
    assert!(r.has("flow.healthy"), "{:?}", r.ids());
    assert_no_errors(&r);
}

#[test]
fn rejected_without_credentials() {
    let t = Turn::new("alice", "wrong", "TANDBERG");
    let r = one(&rejected(&t, 401), &[]);
    assert_finding(&r, "auth.rejected", "c.pcap", &[3, 4]);
    assert!(r
        .finding("auth.rejected")
        .unwrap()
        .summary
        .contains("alice"));
    // The first 401 (frame 2) is a challenge, not a failure.
    assert!(!r
        .finding("auth.rejected")
        .unwrap()
        .evidence
        .iter()
        .any(|e| e.frame == 2));
}

#[test]
fn password_mismatch_and_server_password_mismatch() {
    let mut t = Turn::new("alice", "wrong", "TANDBERG");
    t.server_password = "right".into();
    let s = rejected(&t, 401);
    let r = one(&s, &["alice:right"]);
    assert_finding(&r, "auth.password_mismatch", "c.pcap", &[3, 4]);
    assert_absent(&r, "auth.rejected");
    let r = one(&s, &["alice:wrong"]);
    assert_finding(&r, "auth.server_password_mismatch", "c.pcap", &[3, 4]);
}

#[test]
fn every_431_is_a_password_mismatch() {
    let t = Turn::new("alice", "wrong", "TANDBERG");
    let r = one(&rejected(&t, 431), &[]);
    assert_finding(&r, "auth.password_mismatch", "c.pcap", &[3, 4]);
}

#[test]
fn unknown_user() {
    let t = Turn::new("nosuchuser", "pw", "TANDBERG");
    let r = one(&rejected(&t, 401), &["alice:pw"]);
    assert_finding(&r, "auth.unknown_user", "c.pcap", &[3, 4]);
    assert!(r
        .finding("auth.unknown_user")
        .unwrap()
        .summary
        .contains("nosuchuser"));
}

#[test]
fn realm_mismatch() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let other = Turn::new("alice", "pw", "example.org");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    s.after(5.0);
    s.udp(CLIENT, SERVER, other.allocate_auth(tid(2))); // 3: REALM example.org
    s.after(10.0);
    s.udp(
        SERVER,
        CLIENT,
        t.error(Method::ALLOCATE, tid(2), 401, "Unauthorized"),
    );
    s.after(3000.0);
    let r = one(&s, &[]);
    assert_finding(&r, "auth.realm_mismatch", "c.pcap", &[3, 4]);
    let r = one(&s, &["alice:pw"]);
    assert_finding(&r, "auth.realm_mismatch", "c.pcap", &[3]);
}

#[test]
fn no_credentials_after_challenge() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    s.udp(CLIENT, SERVER, t.allocate(tid(1)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    s.after(5000.0);
    s.udp(CLIENT, SERVER, t.allocate(tid(2)));
    s.after(10.0);
    s.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(2)));
    let r = one(&s, &[]);
    assert_finding(&r, "auth.no_credentials", "c.pcap", &[1, 2]);
    assert_absent(&r, "auth.rejected");
}

fn refresh_with_438(retry: bool) -> Script {
    refresh_438(600, retry, false)
}

/// A Refresh with `lifetime` (0: the deallocation) answered 438 Stale Nonce (twice when
/// `duplicated`: a duplicated response), and the retry with the new NONCE if `retry`.
fn refresh_438(lifetime: u32, retry: bool, duplicated: bool) -> Script {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut s = Script::new();
    let n = healthy_exchange(&mut s, &t, CLIENT, SERVER, NAT, RELAY, PEER, 1);
    s.after(1000.0);
    let refresh = s.udp(CLIENT, SERVER, t.refresh(tid(n + 1), lifetime));
    s.after(10.0);
    let mut fresh = t.clone();
    fresh.nonce = "ffeeddccbbaa0099".into();
    let stale = fresh.error(Method::REFRESH, tid(n + 1), 438, "Stale Nonce");
    s.udp(SERVER, CLIENT, stale.clone());
    if duplicated {
        s.udp(SERVER, CLIENT, stale);
    }
    assert_eq!(refresh, 29);
    if retry {
        s.after(10.0);
        s.udp(CLIENT, SERVER, fresh.refresh(tid(n + 2), lifetime)); // 31 (32 if duplicated)
        s.after(10.0);
        s.udp(
            SERVER,
            CLIENT,
            fresh.ok(Method::REFRESH, tid(n + 2), Some(lifetime)),
        );
    }
    s.after(5000.0);
    s.udp(
        CLIENT,
        SERVER,
        turnscope::wire::encode::channel_data(0x4000, &[0x80; 40], false),
    );
    s
}

#[test]
fn stale_nonce_handled_is_info() {
    let r = one(&refresh_with_438(true), &[]);
    assert_finding(&r, "auth.stale_nonce", "c.pcap", &[29, 30, 31]);
    assert_absent(&r, "auth.stale_nonce_unhandled");
    assert_no_errors(&r);
}

#[test]
fn a_duplicated_438_is_still_a_438() {
    let r = one(&refresh_438(600, true, true), &[]);
    assert_finding(&r, "auth.stale_nonce", "c.pcap", &[29, 30, 32]);
    let r = one(&refresh_438(600, false, true), &[]);
    assert_finding(&r, "auth.stale_nonce_unhandled", "c.pcap", &[29, 30]);
}

#[test]
fn stale_nonce_unhandled() {
    let r = one(&refresh_with_438(false), &[]);
    assert_finding(&r, "auth.stale_nonce_unhandled", "c.pcap", &[29, 30]);
    assert_absent(&r, "auth.stale_nonce");
}

#[test]
fn a_cluster_node_rejecting_is_named_and_kept_apart() {
    // The CMS allocates on node 1 (accepted) and on node 2 (431: node 2's stored password
    // differs), with the same username: one finding, naming node 2.
    let t = Turn::new("cms", "pw", "TANDBERG");
    let (cms, node1, node2) = ("10.0.0.40:5000", "10.0.0.36:3478", "10.0.0.37:3478");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, cms, node1, cms, "198.51.100.20:25000", PEER, 1);
    s.after(10.0);
    s.udp("10.0.0.40:5002", node2, t.allocate_auth(tid(50)));
    s.after(10.0);
    s.udp(
        node2,
        "10.0.0.40:5002",
        t.error(Method::ALLOCATE, tid(50), 431, "Integrity Check Failure"),
    );
    let r = one(&s, &["cms:pw"]);
    let rejected: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id.starts_with("auth."))
        .collect();
    assert_eq!(rejected.len(), 1, "{:?}", r.ids());
    assert_eq!(rejected[0].id, "auth.server_password_mismatch");
    assert!(
        rejected[0].summary.contains("10.0.0.37:3478"),
        "{}",
        rejected[0].summary
    );
    assert!(
        !rejected[0].summary.contains("10.0.0.36"),
        "{}",
        rejected[0].summary
    );
    // Both nodes rejecting: two findings, one per server.
    let mut both = Script::new();
    for (i, node) in [node1, node2].into_iter().enumerate() {
        let id = 60 + i as u32;
        both.udp(cms, node, t.allocate_auth(tid(id)));
        both.after(10.0);
        both.udp(
            node,
            cms,
            t.error(Method::ALLOCATE, tid(id), 431, "Integrity Check Failure"),
        );
        both.after(10.0);
    }
    let r = one(&both, &["cms:pw"]);
    let per_server: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "auth.server_password_mismatch")
        .collect();
    assert_eq!(per_server.len(), 2, "{:?}", r.ids());
}

#[test]
fn a_duplicated_438_seen_from_both_sides() {
    for retry in [true, false] {
        let s = refresh_438(600, retry, true);
        let id = if retry {
            "auth.stale_nonce"
        } else {
            "auth.stale_nonce_unhandled"
        };
        let server_only = run(&[("s.pcap", &s, Some(turnscope::flow::Role::Server))], &[]);
        assert!(
            server_only.has(id),
            "server only, retry {retry}: {:?}",
            server_only.ids()
        );
        let both = run(
            &[
                ("c.pcap", &s, Some(turnscope::flow::Role::Client)),
                ("s.pcap", &s, Some(turnscope::flow::Role::Server)),
            ],
            &[],
        );
        assert!(both.has(id), "both, retry {retry}: {:?}", both.ids());
    }
}

#[test]
fn a_refused_deallocation_leaves_the_relay_allocated() {
    // Refresh LIFETIME 0 answered 438 and never retried: the relay stays.
    let r = one(&refresh_438(0, false, false), &[]);
    assert_finding(&r, "alloc.release_failed", "c.pcap", &[29, 30]);
    let f = r.finding("alloc.release_failed").expect("finding");
    assert!(f.summary.contains("198.51.100.20:25000"), "{}", f.summary);
    assert!(f.summary.contains("438"), "{}", f.summary);
    // Retried with the new NONCE and released: nothing left.
    assert_absent(
        &one(&refresh_438(0, true, false), &[]),
        "alloc.release_failed",
    );
    // A refused refresh that keeps the allocation (LIFETIME 600) is not a release.
    assert_absent(
        &one(&refresh_438(600, false, false), &[]),
        "alloc.release_failed",
    );
}
