//! reach.* from scripted exchanges, on one or both sides of a NAT.

mod analyze_support;

use analyze_support::*;
use turnscope::flow::Role;
use turnscope::testsupport::{healthy_exchange, tid, Script, Turn};
use turnscope::wire::{Class, MessageBuilder, Method};

/// The client's first Allocate, sent at the RFC 8489 schedule (0, 0.5, 1.5, 3.5 s).
fn retransmitted(s: &mut Script, t: &Turn, src: &str, dst: &str) -> Vec<u32> {
    let mut frames = Vec::new();
    for at in [0.0, 500.0, 1500.0, 3500.0] {
        s.at(at);
        frames.push(s.udp(src, dst, t.allocate(tid(1))));
    }
    frames
}

#[test]
fn no_response_client_only() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut c = Script::new();
    retransmitted(&mut c, &t, CLIENT, SERVER);
    let r = one(&c, &[]);
    assert_finding(&r, "reach.no_response", "c.pcap", &[1, 2, 3, 4]);
    let f = r.finding("reach.no_response").unwrap();
    assert!(f.summary.contains("198.51.100.20:3478"), "{}", f.summary);
    assert!(f.summary.contains("4 times"), "{}", f.summary);
    let tx = &r.transactions[0];
    assert_eq!(tx.retransmissions, 3);
    assert_eq!(tx.schedule_ms, vec![0.0, 500.0, 1500.0, 3500.0]);
}

#[test]
fn inbound_blocked_when_the_server_capture_never_sees_them() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut c = Script::new();
    retransmitted(&mut c, &t, CLIENT, SERVER);
    let s = Script::new();
    let r = run(&[("client.pcap", &c, None), ("server.pcap", &s, None)], &[]);
    assert_eq!(r.captures[0].role, Role::Client);
    assert_eq!(r.captures[1].role, Role::Server);
    assert_finding(&r, "reach.inbound_blocked", "client.pcap", &[1, 4]);
    assert_absent(&r, "reach.no_response");
}

/// Client side: requests through the NAT; server side: what arrives. Returns (client, server).
fn two_sided(answer: bool, answer_reaches: bool) -> (Script, Script) {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let (mut c, mut s) = (Script::new(), Script::new());
    for (i, at) in [0.0, 500.0, 1500.0, 3500.0].into_iter().enumerate() {
        c.at(at);
        c.udp(CLIENT, SERVER, t.allocate(tid(1)));
        s.at(at + 12.0);
        s.udp(NAT, SERVER, t.allocate(tid(1)));
        if answer {
            s.after(1.0);
            s.udp(SERVER, NAT, t.challenge(Method::ALLOCATE, tid(1)));
            if answer_reaches && i == 0 {
                c.at(at + 25.0);
                c.udp(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
            }
        }
        if answer_reaches {
            break;
        }
    }
    (c, s)
}

#[test]
fn response_lost_between_server_and_client() {
    let (c, s) = two_sided(true, false);
    let r = run(&[("client.pcap", &c, None), ("server.pcap", &s, None)], &[]);
    assert_eq!(r.captures[1].role, Role::Server, "{:?}", r.captures);
    assert_finding(&r, "reach.response_lost", "server.pcap", &[1, 2]);
    assert_finding(&r, "reach.response_lost", "client.pcap", &[1]);
    // The NAT mapping is learnt from the shared transaction.
    let nat = &r.correlation.nat[0];
    assert_eq!(nat.client_src.to_string(), CLIENT);
    assert_eq!(nat.server_src.to_string(), NAT);
    // Path of the transaction: reached the server, answered, never back.
    let p = r.transactions[0].path.as_ref().unwrap();
    assert_eq!(p.last_seen, "answered");
    // Server capture alone: the client retransmitting after the answers left tells it.
    let r = run(&[("server.pcap", &s, Some(Role::Server))], &[]);
    assert_finding(&r, "reach.response_lost", "server.pcap", &[2]);
}

#[test]
fn server_silent() {
    let (c, s) = two_sided(false, false);
    let r = run(
        &[
            ("client.pcap", &c, Some(Role::Client)),
            ("server.pcap", &s, Some(Role::Server)),
        ],
        &[],
    );
    assert_finding(&r, "reach.server_silent", "server.pcap", &[1, 4]);
    assert_absent(&r, "reach.inbound_blocked");
}

#[test]
fn correlated_healthy_exchange_gives_offset_and_path() {
    let (c, s) = two_sided(true, true);
    let r = run(&[("client.pcap", &c, None), ("server.pcap", &s, None)], &[]);
    assert_eq!(r.captures[0].role, Role::Client, "{:?}", r.captures);
    assert_eq!(r.captures[1].role, Role::Server);
    let o = &r.correlation.clock_offsets[0];
    // Request seen 12 ms later at the server, answer 12 ms on the way back: same clock.
    assert_eq!(o.method, "round trip");
    assert!(o.offset_ms.abs() < 0.01, "{o:?}");
    assert!((o.error_ms - 12.0).abs() < 0.01, "{o:?}");
    assert_eq!(
        r.transactions[0].path.as_ref().unwrap().last_seen,
        "complete"
    );
    // The client never came back with credentials: that, not reachability, is the problem.
    assert!(
        r.ids().iter().all(|id| !id.starts_with("reach.")),
        "{:?}",
        r.ids()
    );
}

#[test]
fn port_unreachable() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut c = Script::new();
    let req = t.allocate(tid(1));
    c.udp(CLIENT, SERVER, req.clone());
    c.after(1.0);
    c.icmp_port_unreachable("198.51.100.20", CLIENT, SERVER, &req);
    c.after(3000.0);
    let r = one(&c, &[]);
    assert_finding(&r, "reach.port_unreachable", "c.pcap", &[1, 2]);
    assert_absent(&r, "reach.no_response");
}

#[test]
fn icmp_about_a_response_is_not_port_unreachable() {
    // The client closed its socket: its host refuses the server's answer.
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut c = Script::new();
    c.udp(CLIENT, SERVER, t.refresh(tid(1), 0));
    c.after(1.0);
    let ans = t.ok(Method::REFRESH, tid(1), Some(0));
    c.udp(SERVER, CLIENT, ans.clone());
    c.icmp_port_unreachable("10.1.1.10", SERVER, CLIENT, &ans);
    let r = one(&c, &[]);
    assert_absent(&r, "reach.port_unreachable");
}

#[test]
fn tcp_refused() {
    let mut c = Script::new();
    c.tcp_syn(CLIENT, SERVER);
    c.after(1.0);
    c.tcp_rst(SERVER, CLIENT);
    let r = one(&c, &[]);
    assert_finding(&r, "reach.tcp_refused", "c.pcap", &[1, 2]);
}

#[test]
fn tcp_refused_seen_from_both_sides_is_one_finding() {
    // The guest's SYN to the public address, and the same SYN at the Expressway-E's LAN2
    // address behind static NAT, both answered by RST.
    let lan2 = "10.0.2.36:3478";
    let (mut g, mut e) = (Script::new(), Script::new());
    g.tcp_syn(CLIENT, SERVER);
    g.after(1.0);
    g.tcp_rst(SERVER, CLIENT);
    e.tcp_syn(NAT, lan2);
    e.tcp_rst(lan2, NAT);
    let r = run(
        &[
            ("guest.pcap", &g, Some(Role::Client)),
            ("expe.pcap", &e, Some(Role::Server)),
        ],
        &[],
    );
    let refused: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "reach.tcp_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{:?}", r.ids());
    assert_finding(&r, "reach.tcp_refused", "guest.pcap", &[1, 2]);
    assert_finding(&r, "reach.tcp_refused", "expe.pcap", &[1, 2]);
    assert!(
        refused[0].summary.contains("also seen as 10.0.2.36:3478"),
        "{}",
        refused[0].summary
    );
}

/// A host allocates on the TURN server (answered), then `binder` sends Binding requests there
/// that are never answered (coturn --no-stun, Expressway X12.6.1+ ignore Binding on the TURN
/// port).
fn ignored_bindings(allocator: &str, binder: &str) -> turnscope::Report {
    let t = Turn::new("guest", "pw", "TANDBERG");
    let mut s = Script::new();
    healthy_exchange(&mut s, &t, allocator, SERVER, NAT, RELAY, PEER, 1);
    for i in 0..4 {
        let binding = MessageBuilder::new(Method::BINDING, Class::Request, tid(100 + i));
        s.udp(binder, SERVER, binding.fingerprint());
        s.after(1000.0);
    }
    s.after(3000.0);
    run(&[("guest.pcap", &s, Some(Role::Client))], &[])
}

#[test]
fn binding_ignored_where_allocate_is_answered_is_no_reach_error() {
    // The browser's own Binding beside its answered Allocate: by design.
    let r = ignored_bindings(CLIENT, "10.1.1.10:50001");
    assert_absent(&r, "reach.no_response");
    assert_absent(&r, "reach.server_silent");
    // Another host whose requests the server never answers at all: not reached.
    let r = ignored_bindings(CLIENT, "10.1.1.99:50001");
    assert_finding(&r, "reach.no_response", "guest.pcap", &[]);
}

#[test]
fn turn_over_tcp_healthy() {
    let t = Turn::new("alice", "pw", "TANDBERG");
    let mut c = Script::new();
    c.tcp_handshake(CLIENT, SERVER);
    c.tcp_data(CLIENT, SERVER, t.allocate(tid(1)));
    c.tcp_data(SERVER, CLIENT, t.challenge(Method::ALLOCATE, tid(1)));
    c.tcp_data(CLIENT, SERVER, t.allocate_auth(tid(2)));
    c.tcp_data(SERVER, CLIENT, t.allocate_ok(tid(2), RELAY, NAT, 600));
    let r = one(&c, &[]);
    assert_eq!(r.allocations[0].outcome, "success", "{}", r.json());
    assert_eq!(r.allocations[0].transport, "tcp");
    assert_absent(&r, "reach.tcp_refused");
    assert_no_errors(&r);
}
