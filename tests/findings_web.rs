//! dns.*, tls.*, web.* and the TURN-or-web decision of transport.turn_tls, from scripted
//! captures (pcap bytes through the whole pipeline).

mod analyze_support;

use analyze_support::{assert_absent, assert_finding, assert_no_errors};
use turnscope::testsupport::{
    dns_answer, dns_query, dns_tcp, http_response, tid, tls_alert, tls_app_data, tls_certificate,
    tls_certificate_request, tls_change_cipher_spec, tls_client_hello_with,
    tls_server_hello_version, DnsRr, Script, Turn,
};
use turnscope::wire::{Class, MessageBuilder, Method};
use turnscope::{analyze, AnalyzeOptions, Input, Report};

const GUEST: &str = "192.168.1.10:50000";
const GUEST_IP: &str = "192.168.1.10";
const EXT_DNS: &str = "192.0.2.53:53";
const EXPE: &str = "198.51.100.10:443";
const CMS_IP: &str = "172.16.86.180";
const INT_DNS: &str = "172.16.86.53:53";
const WB: &str = "172.16.86.181:443";
const JOIN: &str = "join.example.com";
const A: u16 = 1;
const AAAA: u16 = 28;
const SRV: u16 = 33;

const CA: &[u8] = include_bytes!("../fixtures/web/certs/ca.der");
const CERT_OK: &[u8] = include_bytes!("../fixtures/web/certs/join-ok.der");
const CERT_NOSAN: &[u8] = include_bytes!("../fixtures/web/certs/join-nosan.der");
const CERT_SELF: &[u8] = include_bytes!("../fixtures/web/certs/join-selfsigned.der");
const CERT_EXPIRED: &[u8] = include_bytes!("../fixtures/web/certs/join-expired.der");
const CERT_FUTURE: &[u8] = include_bytes!("../fixtures/web/certs/join-future.der");

fn at(ip: &str, port: u16) -> String {
    format!("{ip}:{port}")
}

fn analyze_with(
    scripts: &[(&str, &Script)],
    join_url: Option<&str>,
    turn_port: Option<u16>,
) -> Report {
    let inputs: Vec<Input> = scripts
        .iter()
        .map(|(name, s)| Input::bytes(*name, s.pcap()))
        .collect();
    let opts = AnalyzeOptions {
        join_url: join_url.map(str::to_string),
        turn_port,
        ..AnalyzeOptions::default()
    };
    let r = analyze(&inputs, &opts);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    r
}

fn guest(s: &Script, join_url: Option<&str>) -> Report {
    analyze_with(&[("g.pcap", s)], join_url, None)
}

/// A lookup: query from `client` to `server`, answer after 15 ms. Returns (query, answer) frames.
fn lookup(
    s: &mut Script,
    client: &str,
    server: &str,
    q: (u16, &str, u16),
    rcode: u8,
    rrs: &[DnsRr<'_>],
) -> (u32, u32) {
    let (id, name, qtype) = q;
    let a = s.udp(client, server, dns_query(id, name, qtype));
    s.after(15.0);
    let b = s.udp(server, client, dns_answer(id, name, qtype, rcode, rrs));
    s.after(5.0);
    (a, b)
}

/// The capture goes on a few seconds more (so nothing is cut by its end).
fn tail(s: &mut Script) {
    s.after(3000.0);
    s.udp("192.168.1.10:5353", "224.0.0.251:5353", vec![0; 12]);
}

/// A browser's HTTPS session to `server` up to the server's first flight (TLS 1.2 with the
/// given chain, cut into small records and segments). Returns (hello, certificate) frames.
fn https_12(s: &mut Script, client: &str, server: &str, sni: &str, chain: &[&[u8]]) -> (u32, u32) {
    s.tcp_handshake(client, server);
    let hello = s.tcp_data(
        client,
        server,
        tls_client_hello_with(sni, &["h2", "http/1.1"], &[0x0304, 0x0303]),
    );
    s.after(10.0);
    let mut flight = tls_server_hello_version(0x0303);
    flight.extend(tls_certificate(chain, 300));
    let (a, b) = flight.split_at(flight.len() / 2);
    s.tcp_data(server, client, a.to_vec());
    let cert = s.tcp_data(server, client, b.to_vec());
    s.after(5.0);
    (hello, cert)
}

#[test]
fn join_url_unresolved_outside() {
    let mut s = Script::new();
    let (q, r) = lookup(&mut s, GUEST, EXT_DNS, (1, JOIN, A), 3, &[]);
    lookup(&mut s, GUEST, EXT_DNS, (2, JOIN, AAAA), 3, &[]);
    tail(&mut s);
    let rep = guest(&s, Some(JOIN));
    assert_finding(&rep, "dns.join_url_unresolved", "g.pcap", &[q, r]);
    let f = rep.finding("dns.join_url_unresolved").unwrap();
    assert!(
        f.summary.contains("NXDOMAIN from 192.0.2.53 (A, AAAA)"),
        "{}",
        f.summary
    );
    assert!(
        f.remedy.contains("public IP address of the Expressway-E"),
        "{}",
        f.remedy
    );
    assert_absent(&rep, "dns.webbridge_unresolved");
    // Without the join URL, a failing name is just a failing name.
    assert_absent(&guest(&s, None), "dns.join_url_unresolved");
    // An empty AAAA beside a good A is a resolved name.
    let mut ok = Script::new();
    lookup(
        &mut ok,
        GUEST,
        EXT_DNS,
        (1, JOIN, A),
        0,
        &[DnsRr::A("198.51.100.10")],
    );
    lookup(&mut ok, GUEST, EXT_DNS, (2, JOIN, AAAA), 0, &[]);
    tail(&mut ok);
    assert_no_errors(&guest(&ok, Some(JOIN)));
}

#[test]
fn join_url_unresolved_over_tcp_and_unanswered() {
    // SERVFAIL over TCP (2-byte framing, split across segments).
    let mut s = Script::new();
    s.tcp_handshake(GUEST, EXT_DNS);
    let q = dns_tcp(&dns_query(9, JOIN, A));
    let q1 = s.tcp_data(GUEST, EXT_DNS, q[..5].to_vec());
    s.tcp_data(GUEST, EXT_DNS, q[5..].to_vec());
    s.after(10.0);
    let r = s.tcp_data(EXT_DNS, GUEST, dns_tcp(&dns_answer(9, JOIN, A, 2, &[])));
    // A query nobody answers.
    let u = s.udp("192.168.1.10:50001", EXT_DNS, dns_query(10, JOIN, AAAA));
    tail(&mut s);
    let rep = guest(&s, Some(JOIN));
    assert_finding(&rep, "dns.join_url_unresolved", "g.pcap", &[q1 + 1, r, u]);
    let f = rep.finding("dns.join_url_unresolved").unwrap();
    assert!(
        f.summary.contains("SERVFAIL") && f.summary.contains("no answer"),
        "{}",
        f.summary
    );
}

#[test]
fn join_url_private_for_an_outside_guest() {
    let mut s = Script::new();
    let (q, _) = lookup(
        &mut s,
        GUEST,
        EXT_DNS,
        (1, JOIN, A),
        0,
        &[DnsRr::A("172.16.86.181")],
    );
    let syn = s.tcp_syn(GUEST, WB);
    s.after(1000.0);
    s.tcp_syn(GUEST, WB);
    tail(&mut s);
    // No --join-url: the name resolved right before the connection to 443 is the join URL.
    let rep = guest(&s, None);
    assert_finding(&rep, "dns.join_url_private", "g.pcap", &[q]);
    assert_finding(&rep, "web.tcp443_unanswered", "g.pcap", &[syn]);
    let f = rep.finding("dns.join_url_private").unwrap();
    assert!(f.summary.contains("172.16.86.181"), "{}", f.summary);
    // An inside user with internal DNS reaching the web bridge directly is fine.
    let mut inside = Script::new();
    let user = "172.16.90.20:50000";
    lookup(
        &mut inside,
        user,
        INT_DNS,
        (1, JOIN, A),
        0,
        &[DnsRr::A("172.16.86.181")],
    );
    inside.tcp_handshake(user, WB);
    tail(&mut inside);
    let rep = guest(&inside, Some(JOIN));
    assert_absent(&rep, "dns.join_url_private");
    assert_no_errors(&rep);
}

#[test]
fn cms_side_names() {
    let cms = at(CMS_IP, 41000);
    let srv = "_xmpp-client._tcp.example.com";
    let mut s = Script::new();
    lookup(
        &mut s,
        &cms,
        INT_DNS,
        (1, srv, SRV),
        0,
        &[DnsRr::Srv {
            port: 5222,
            target: "xmpp.example.com",
        }],
    );
    let (q, r) = lookup(&mut s, &cms, INT_DNS, (2, JOIN, A), 3, &[]);
    tail(&mut s);
    let rep = guest(&s, Some(JOIN));
    assert_finding(&rep, "dns.webbridge_unresolved", "g.pcap", &[q, r]);
    let f = rep.finding("dns.webbridge_unresolved").unwrap();
    assert!(
        f.remedy.contains("dns flush") && f.remedy.contains("(DNS failure)"),
        "{}",
        f.remedy
    );
    assert_absent(&rep, "dns.join_url_unresolved");
    assert_absent(&rep, "dns.xmpp_srv_unresolved");

    // The SRV record missing; answered once among failures is still "can always resolve"? No:
    // any success means the record exists.
    let mut s = Script::new();
    let (q1, r1) = lookup(&mut s, &cms, INT_DNS, (3, srv, SRV), 3, &[]);
    lookup(&mut s, &cms, INT_DNS, (4, srv, SRV), 0, &[]);
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "dns.xmpp_srv_unresolved", "g.pcap", &[q1, r1]);
    let f = rep.finding("dns.xmpp_srv_unresolved").unwrap();
    assert!(
        f.summary.contains("2 lookups") && f.remedy.contains("Unable to connect"),
        "{f:?}"
    );
    let mut s2 = Script::new();
    lookup(&mut s2, &cms, INT_DNS, (3, srv, SRV), 2, &[]);
    lookup(
        &mut s2,
        &cms,
        INT_DNS,
        (4, srv, SRV),
        0,
        &[DnsRr::Srv {
            port: 5222,
            target: "xmpp.example.com",
        }],
    );
    tail(&mut s2);
    assert_absent(&guest(&s2, None), "dns.xmpp_srv_unresolved");
}

#[test]
fn turn_name_unresolved() {
    // The CMS resolves turn.example.com to the Expressway-E's inside address and allocates
    // there; the guest's DNS has no such name.
    let t = Turn::new("turnuser", "cisco", "TANDBERG");
    let (cms, lan1) = (at(CMS_IP, 41000), "172.16.85.168:3478");
    let mut c = Script::new();
    lookup(
        &mut c,
        &at(CMS_IP, 41001),
        INT_DNS,
        (1, "turn.example.com", A),
        0,
        &[DnsRr::A("172.16.85.168")],
    );
    c.udp(&cms, lan1, t.allocate(tid(1)));
    c.after(5.0);
    c.udp(lan1, &cms, t.challenge(Method::ALLOCATE, tid(1)));
    tail(&mut c);
    let mut g = Script::new();
    let (q, r) = lookup(&mut g, GUEST, EXT_DNS, (7, "turn.example.com", A), 3, &[]);
    tail(&mut g);
    let rep = analyze_with(&[("cms.pcap", &c), ("g.pcap", &g)], None, None);
    assert_finding(&rep, "dns.turn_unresolved", "g.pcap", &[q, r]);
    // Alone, the guest capture cannot tell that the name is the TURN server's.
    assert_absent(&guest(&g, None), "dns.turn_unresolved");
}

#[test]
fn certificate_san_and_rejection() {
    let mut s = Script::new();
    let (_, cert) = https_12(&mut s, GUEST, EXPE, JOIN, &[CERT_NOSAN, CA]);
    let alert = s.tcp_data(GUEST, EXPE, tls_alert(2, 42));
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "tls.san_mismatch", "g.pcap", &[cert]);
    assert_finding(&rep, "tls.certificate_rejected", "g.pcap", &[cert, alert]);
    let f = rep.finding("tls.san_mismatch").unwrap();
    assert!(
        f.summary.contains("SAN vcse.example.com") && f.summary.contains(JOIN),
        "{}",
        f.summary
    );
    assert!(
        f.remedy.contains("Subject Alternative Name"),
        "{}",
        f.remedy
    );
    assert!(rep
        .finding("tls.certificate_rejected")
        .unwrap()
        .summary
        .contains("bad_certificate"));
    assert_absent(&rep, "tls.self_signed");
    assert_absent(&rep, "transport.turn_tls");
}

#[test]
fn one_finding_for_both_vantage_points_told_as_the_guest_saw_it() {
    // The Expressway-E's capture (its LAN2 address, the guest's NAT address) comes first in
    // the case; the finding still names the public address the guest used.
    let mut e = Script::new();
    let (_, ecert) = https_12(
        &mut e,
        "203.0.113.10:50000",
        "172.16.245.61:443",
        JOIN,
        &[CERT_NOSAN, CA],
    );
    tail(&mut e);
    let mut g = Script::new();
    let (_, gcert) = https_12(&mut g, GUEST, EXPE, JOIN, &[CERT_NOSAN, CA]);
    tail(&mut g);
    let rep = analyze_with(&[("e.pcap", &e), ("g.pcap", &g)], None, None);
    assert_finding(&rep, "tls.san_mismatch", "e.pcap", &[ecert]);
    assert_finding(&rep, "tls.san_mismatch", "g.pcap", &[gcert]);
    assert_eq!(
        rep.findings
            .iter()
            .filter(|f| f.id == "tls.san_mismatch")
            .count(),
        1
    );
    let f = rep.finding("tls.san_mismatch").unwrap();
    assert!(f.summary.contains("198.51.100.10:443"), "{}", f.summary);
}

#[test]
fn certificate_self_signed() {
    let mut s = Script::new();
    let (_, cert) = https_12(&mut s, GUEST, EXPE, JOIN, &[CERT_SELF]);
    let alert = s.tcp_data(GUEST, EXPE, tls_alert(2, 48));
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "tls.self_signed", "g.pcap", &[cert]);
    assert_finding(&rep, "tls.certificate_rejected", "g.pcap", &[alert]);
    assert!(rep
        .finding("tls.certificate_rejected")
        .unwrap()
        .summary
        .contains("unknown_ca"));
    assert!(rep
        .finding("tls.self_signed")
        .unwrap()
        .remedy
        .contains("third-party certificate authority"));
    assert_absent(&rep, "tls.san_mismatch");
}

#[test]
fn certificate_dates_against_the_capture_clock() {
    for (der, id, absent) in [
        (
            CERT_EXPIRED,
            "tls.certificate_expired",
            "tls.certificate_not_yet_valid",
        ),
        (
            CERT_FUTURE,
            "tls.certificate_not_yet_valid",
            "tls.certificate_expired",
        ),
    ] {
        let mut s = Script::new();
        let (_, cert) = https_12(&mut s, GUEST, EXPE, JOIN, &[der, CA]);
        tail(&mut s);
        let rep = guest(&s, None);
        assert_finding(&rep, id, "g.pcap", &[cert]);
        assert_absent(&rep, absent);
        let f = rep.finding(id).unwrap();
        assert!(f.summary.contains("2023-11-14"), "{}", f.summary);
    }
}

#[test]
fn good_certificate_and_redirect() {
    let mut s = Script::new();
    let http = "192.168.1.10:50100";
    let p80 = "198.51.100.10:80";
    s.tcp_handshake(http, p80);
    s.tcp_data(
        http,
        p80,
        b"GET / HTTP/1.1\r\nHost: join.example.com\r\n\r\n".to_vec(),
    );
    let redirect = s.tcp_data(
        p80,
        http,
        http_response(301, Some("https://join.example.com/")),
    );
    https_12(&mut s, GUEST, EXPE, JOIN, &[CERT_OK, CA]);
    s.tcp_data(GUEST, EXPE, tls_change_cipher_spec());
    s.tcp_data(GUEST, EXPE, tls_alert(2, 48)); // encrypted after ChangeCipherSpec: not an alert
    s.tcp_data(GUEST, EXPE, tls_app_data(200));
    tail(&mut s);
    let rep = guest(&s, None);
    assert_no_errors(&rep);
    assert_finding(&rep, "web.http_redirect", "g.pcap", &[redirect]);
    for id in [
        "tls.san_mismatch",
        "tls.self_signed",
        "tls.certificate_rejected",
        "transport.turn_tls",
        "web.http_no_redirect",
    ] {
        assert_absent(&rep, id);
    }
}

#[test]
fn tls13_hides_the_certificate() {
    let mut s = Script::new();
    s.tcp_handshake(GUEST, EXPE);
    s.tcp_data(GUEST, EXPE, tls_client_hello_with(JOIN, &["h2"], &[0x0304]));
    let sh = s.tcp_data(EXPE, GUEST, tls_server_hello_version(0x0304));
    s.tcp_data(EXPE, GUEST, tls_app_data(2000));
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "tls.certificate_hidden", "g.pcap", &[sh]);
    assert_eq!(
        rep.finding("tls.certificate_hidden").unwrap().severity,
        turnscope::diagnose::Severity::Info
    );
    assert_no_errors(&rep);
    assert_absent(&rep, "transport.turn_tls");
}

#[test]
fn web_bridge_rejects_the_call_bridge() {
    let cb = at(CMS_IP, 42000);
    let mut s = Script::new();
    s.tcp_handshake(&cb, WB);
    s.tcp_data(&cb, WB, tls_client_hello_with(JOIN, &[], &[0x0303]));
    let mut flight = tls_server_hello_version(0x0303);
    flight.extend(tls_certificate(&[CERT_OK], 4000));
    flight.extend(tls_certificate_request());
    s.tcp_data(WB, &cb, flight);
    let ccert = s.tcp_data(&cb, WB, tls_certificate(&[CERT_SELF], 4000));
    let alert = s.tcp_data(WB, &cb, tls_alert(2, 48));
    tail(&mut s);
    let rep = guest(&s, Some("cmsweb.example.local"));
    assert_finding(
        &rep,
        "tls.client_certificate_rejected",
        "g.pcap",
        &[ccert, alert],
    );
    let f = rep.finding("tls.client_certificate_rejected").unwrap();
    assert!(f.remedy.contains("trust bundle"), "{}", f.remedy);
    assert_absent(&rep, "tls.certificate_rejected");
    assert_absent(&rep, "transport.turn_tls");
}

#[test]
fn tcp_443_unanswered_refused_and_port_80() {
    let mut s = Script::new();
    lookup(
        &mut s,
        GUEST,
        EXT_DNS,
        (1, JOIN, A),
        0,
        &[DnsRr::A("198.51.100.10")],
    );
    let syn = s.tcp_syn(GUEST, EXPE);
    s.after(1000.0);
    s.tcp_syn(GUEST, EXPE);
    let p80 = "198.51.100.10:80";
    let syn80 = s.tcp_syn("192.168.1.10:50200", p80);
    let rst80 = s.tcp_rst(p80, "192.168.1.10:50200");
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "web.tcp443_unanswered", "g.pcap", &[syn]);
    assert!(rep
        .finding("web.tcp443_unanswered")
        .unwrap()
        .summary
        .contains("2 SYNs"));
    assert_finding(&rep, "web.http_no_redirect", "g.pcap", &[syn80, rst80]);
    assert!(rep
        .finding("web.http_no_redirect")
        .unwrap()
        .summary
        .contains("refuses"));

    let mut s = Script::new();
    let syn = s.tcp_syn(GUEST, EXPE);
    let rst = s.tcp_rst(EXPE, GUEST);
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "web.tcp443_refused", "g.pcap", &[syn, rst]);
    assert_absent(&rep, "web.tcp443_unanswered");
    // Retransmitted SYNs: the first waited long enough, even if the last is near the end.
    let mut s = Script::new();
    let first = s.tcp_syn(GUEST, EXPE);
    s.after(1000.0);
    s.tcp_syn(GUEST, EXPE);
    s.after(1500.0);
    s.udp("192.168.1.10:5353", "224.0.0.251:5353", vec![0; 12]);
    assert_finding(
        &guest(&s, None),
        "web.tcp443_unanswered",
        "g.pcap",
        &[first],
    );
    // A SYN at the very end of the capture may have its answer after it.
    let mut s = Script::new();
    s.udp("192.168.1.10:5353", "224.0.0.251:5353", vec![0; 12]);
    s.tcp_syn(GUEST, EXPE);
    assert_absent(&guest(&s, None), "web.tcp443_unanswered");
}

/// A TLS session to 443 without HTTP in ALPN: (hello frame).
fn bare_tls(s: &mut Script, client: &str, server: &str, sni: &str, alpn: &[&str]) -> u32 {
    s.tcp_handshake(client, server);
    let h = s.tcp_data(
        client,
        server,
        tls_client_hello_with(sni, alpn, &[0x0304, 0x0303]),
    );
    s.tcp_data(server, client, tls_server_hello_version(0x0304));
    h
}

#[test]
fn turn_over_tls_only_where_it_is_turn() {
    let binding = || MessageBuilder::new(Method::BINDING, Class::Request, tid(5)).fingerprint();
    // Alone on 443, no HTTP offered, nothing else: the web app's (its certificate is hidden).
    let mut s = Script::new();
    bare_tls(&mut s, GUEST, EXPE, "vcse.example.com", &[]);
    tail(&mut s);
    let rep = guest(&s, None);
    assert_absent(&rep, "transport.turn_tls");
    // The same with STUN from the same client to that server: TURN.
    let mut s = Script::new();
    let h = bare_tls(&mut s, GUEST, EXPE, "vcse.example.com", &[]);
    s.udp("192.168.1.10:50010", "198.51.100.10:3478", binding());
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "transport.turn_tls", "g.pcap", &[h]);
    assert!(rep
        .finding("transport.turn_tls")
        .unwrap()
        .summary
        .contains("STUN/TURN"));
    assert_absent(&rep, "tls.certificate_hidden");
    // A browser (HTTP in ALPN) to the same server stays the web app's.
    let mut s = Script::new();
    bare_tls(&mut s, GUEST, EXPE, JOIN, &["h2", "http/1.1"]);
    s.udp("192.168.1.10:50010", "198.51.100.10:3478", binding());
    tail(&mut s);
    let rep = guest(&s, None);
    assert_absent(&rep, "transport.turn_tls");
    assert_finding(&rep, "tls.certificate_hidden", "g.pcap", &[]);
    // ... even when its SNI is not the join URL given.
    let rep = guest(&s, Some("other.example.com"));
    assert_absent(&rep, "transport.turn_tls");
    // Another client allocating on that address makes it the TURN server's: no HTTP in ALPN
    // on 443 there is TURN over TLS.
    let t = Turn::new("turnuser", "cisco", "TANDBERG");
    let mut s = Script::new();
    let h = bare_tls(&mut s, GUEST, EXPE, "vcse.example.com", &[]);
    s.udp("10.9.9.9:40000", "198.51.100.10:3478", t.allocate(tid(3)));
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "transport.turn_tls", "g.pcap", &[h]);
    assert!(rep
        .finding("transport.turn_tls")
        .unwrap()
        .summary
        .contains("TURN server's"));
    // --turn-port 443 says so; RFC 7443's ALPN says so.
    let mut s = Script::new();
    let h = bare_tls(&mut s, GUEST, EXPE, "vcse.example.com", &[]);
    tail(&mut s);
    assert_finding(
        &analyze_with(&[("g.pcap", &s)], None, Some(443)),
        "transport.turn_tls",
        "g.pcap",
        &[h],
    );
    let mut s = Script::new();
    let h = bare_tls(&mut s, GUEST, EXPE, "x", &["stun.turn"]);
    tail(&mut s);
    assert_finding(&guest(&s, None), "transport.turn_tls", "g.pcap", &[h]);
    // Media-like records both ways after the handshake.
    let mut s = Script::new();
    let h = bare_tls(&mut s, GUEST, EXPE, "vcse.example.com", &[]);
    for _ in 0..220 {
        s.after(20.0);
        s.tcp_data(GUEST, EXPE, tls_app_data(180));
        s.tcp_data(EXPE, GUEST, tls_app_data(180));
    }
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "transport.turn_tls", "g.pcap", &[h]);
    assert!(rep
        .finding("transport.turn_tls")
        .unwrap()
        .summary
        .contains("media-like"));
    let _ = GUEST_IP;
}

#[test]
fn turn_name_sni_makes_tls_turn() {
    // The guest resolves turn.example.com, allocates over UDP on it, and opens TLS to 443 of
    // the same address with that SNI: TURN over TLS.
    let t = Turn::new("turnuser", "cisco", "TANDBERG");
    let mut s = Script::new();
    lookup(
        &mut s,
        GUEST,
        EXT_DNS,
        (1, "turn.example.com", A),
        0,
        &[DnsRr::A("198.51.100.10")],
    );
    s.udp(
        "192.168.1.10:50020",
        "198.51.100.10:3478",
        t.allocate(tid(1)),
    );
    s.after(5.0);
    s.udp(
        "198.51.100.10:3478",
        "192.168.1.10:50020",
        t.challenge(Method::ALLOCATE, tid(1)),
    );
    let h = bare_tls(&mut s, GUEST, EXPE, "turn.example.com", &[]);
    tail(&mut s);
    let rep = guest(&s, None);
    assert_finding(&rep, "transport.turn_tls", "g.pcap", &[h]);
}
