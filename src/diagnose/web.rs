//! web.*: TCP 443 and port 80 of the web app (the Expressway-E's public address), and the facts
//! the dns.*, tls.* and transport.* rules share: the join URL's names, which TLS connections
//! are TURN and which are the web app's, and the hosts on the CMS side.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use crate::capture::{TcpControl, Transport};
use crate::flow::dns::{DnsLookup, TYPE_A, TYPE_AAAA, TYPE_SRV};
use crate::flow::tls::TlsConn;
use crate::flow::{is_private, CaptureFlows, Case};
use crate::wire::Class;

use super::{plural, DiagnoseOptions, Sink};

pub(super) const HTTPS: u16 = 443;
const HTTP: u16 = 80;
/// The standard TURN over TLS port (RFC 8656).
const TURNS: u16 = 5349;
/// A SYN this close to the end of its capture may simply not have had its answer captured.
const GRACE_NS: i64 = 2_000_000_000;
/// Media through TURN over TLS: records each way, and a rate no web page keeps up both ways.
const MEDIA_RECORDS: u64 = 200;
const MEDIA_RATE: f64 = 20.0;
/// The SRV name the CMS call bridge looks up for its XMPP server.
pub(super) const XMPP_SRV: &str = "_xmpp-client._tcp.";

/// What a TLS connection is, and why it was taken for that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsUse {
    Turn(&'static str),
    Web(&'static str),
}

/// The names classification needs: the join URL's, and the TURN server's as DNS shows them.
struct Names<'a> {
    join: &'a BTreeSet<String>,
    turn: &'a BTreeSet<String>,
}

/// What the web families share about a case.
pub(super) struct Facts {
    /// The join URL's names: `--join-url`, else the names browsers resolved or asked for (SNI)
    /// before their HTTPS sessions to the Expressway-E (see [`Facts::new`]).
    pub join: BTreeSet<String>,
    pub join_given: bool,
    /// Addresses the join URL resolved to (any capture), with the web servers' addresses.
    pub web_ips: BTreeSet<IpAddr>,
    /// Names seen used for TURN (resolved to a TURN server the host then talked to, or the SNI
    /// of TURN over TLS), join names excluded.
    pub turn_names: BTreeSet<String>,
    /// Per capture, per TLS connection (same order as `tls_conns.conns`).
    pub uses: Vec<Vec<TlsUse>>,
    /// Per capture: hosts on the CMS side (they look up the XMPP SRV record, allocate on a
    /// private TURN address, or present a client certificate).
    pub inside: Vec<BTreeSet<IpAddr>>,
}

/// The host sends STUN/TURN requests to `ip` in this capture.
fn talks_stun_to(c: &CaptureFlows, host: IpAddr, ip: IpAddr) -> bool {
    c.msgs.iter().any(|m| {
        m.carried.is_none() && m.class == Class::Request && m.src.ip() == host && m.dst.ip() == ip
    })
}

fn media_like(t: &TlsConn) -> bool {
    let rate = |a: &crate::capture::AppData| match (a.first, a.last) {
        (Some(f), Some(l)) if l.0 > f.0 => a.records as f64 / ((l.0 - f.0) as f64 / 1e9),
        _ => 0.0,
    };
    t.to_server.records >= MEDIA_RECORDS
        && t.to_client.records >= MEDIA_RECORDS
        && rate(&t.to_server) >= MEDIA_RATE
        && rate(&t.to_client) >= MEDIA_RATE
}

/// TURN over TLS or the web app's HTTPS, from what the connection and the case show. A
/// browser fetching the web app always offers HTTP in ALPN and names the join URL; a TURN
/// client offers no HTTP (or RFC 7443's "stun.turn") and talks to the TURN server's address.
fn classify(case: &Case, ci: usize, t: &TlsConn, names: &Names<'_>) -> TlsUse {
    let alpn = |p: &str| {
        t.hello
            .as_ref()
            .is_some_and(|h| h.alpn.iter().any(|a| a == p))
    };
    if alpn("stun.turn") {
        return TlsUse::Turn("the client offered ALPN stun.turn");
    }
    if t.offers_http() {
        return TlsUse::Web("the client offered HTTP in ALPN");
    }
    let sni = t.sni().map(normal);
    if sni.as_ref().is_some_and(|s| names.join.contains(s)) {
        return TlsUse::Web("the SNI is the join URL");
    }
    if t.cert_requested {
        // Mutual TLS (the call bridge to the web bridge); a TURN server never asks.
        return TlsUse::Web("the server asked for a client certificate");
    }
    if sni.as_ref().is_some_and(|s| names.turn.contains(s)) {
        return TlsUse::Turn("the SNI is the TURN server's name");
    }
    let port = t.server.port();
    if port == case.hints.turn_port || port == TURNS {
        return TlsUse::Turn("the TURN port");
    }
    if case.turn_endpoints.iter().any(|(a, _)| *a == t.server) {
        return TlsUse::Turn("TURN requests went to this address");
    }
    if port != HTTPS {
        return TlsUse::Web("not the TURN port");
    }
    let c = &case.captures[ci];
    if case.server_ips().contains(&t.server.ip()) {
        return TlsUse::Turn("the address is the TURN server's");
    }
    if talks_stun_to(c, t.client.ip(), t.server.ip()) {
        return TlsUse::Turn("the client also talks STUN/TURN to this server");
    }
    if media_like(t) {
        return TlsUse::Turn("media-like records both ways");
    }
    TlsUse::Web("TCP 443 without a sign of TURN")
}

fn a_or_aaaa(l: &DnsLookup) -> bool {
    l.qtype == TYPE_A || l.qtype == TYPE_AAAA
}

impl Facts {
    pub fn new(case: &Case, opts: &DiagnoseOptions) -> Facts {
        let given = opts.join_url.as_deref().map(normal);
        let mut join: BTreeSet<String> = given.iter().cloned().collect();
        if join.is_empty() {
            join = infer_join(case);
        }
        let mut turn_names = dns_turn_names(case);
        turn_names.retain(|n| !join.contains(n));
        let names = Names {
            join: &join,
            turn: &turn_names,
        };
        let uses: Vec<Vec<TlsUse>> = (0..case.captures.len())
            .map(|ci| {
                let c = &case.captures[ci];
                c.tls_conns
                    .conns
                    .iter()
                    .map(|t| classify(case, ci, t, &names))
                    .collect()
            })
            .collect();
        let mut f = Facts {
            web_ips: BTreeSet::new(),
            turn_names,
            inside: case
                .captures
                .iter()
                .map(|c| inside_hosts(case, c))
                .collect(),
            join_given: given.is_some(),
            join,
            uses,
        };
        f.web_ips = f.web_addresses(case);
        f.add_tls_turn_names(case);
        f
    }

    /// The join URL's addresses (from DNS answers) and the servers of web connections that
    /// named it.
    fn web_addresses(&self, case: &Case) -> BTreeSet<IpAddr> {
        let mut ips = BTreeSet::new();
        for (ci, c) in case.captures.iter().enumerate() {
            for l in c.dns.lookups.iter().filter(|l| self.join.contains(&l.name)) {
                ips.extend(l.answer.iter().flat_map(|a| a.addresses()));
            }
            for (t, u) in c.tls_conns.conns.iter().zip(&self.uses[ci]) {
                let named = t.sni().is_some_and(|s| self.join.contains(&normal(s)));
                if matches!(u, TlsUse::Web(_)) && named {
                    ips.insert(t.server.ip());
                }
            }
        }
        ips
    }

    /// The SNI of TURN over TLS names the TURN server too.
    fn add_tls_turn_names(&mut self, case: &Case) {
        for (ci, c) in case.captures.iter().enumerate() {
            for (t, u) in c.tls_conns.conns.iter().zip(&self.uses[ci]) {
                if let (TlsUse::Turn(_), Some(s)) = (u, t.sni()) {
                    let s = normal(s);
                    if !self.join.contains(&s) {
                        self.turn_names.insert(s);
                    }
                }
            }
        }
    }

    /// A server the web findings are about: the join URL's, the Expressway-E's (TURN server
    /// address), or any when the case says nothing of either.
    pub fn is_web_server(&self, case: &Case, ip: IpAddr) -> bool {
        self.web_ips.contains(&ip)
            || case.server_ips().contains(&ip)
            || (self.join.is_empty() && case.server_ips().is_empty())
    }
}

/// Names resolved to a TURN server's address that the same host then sent STUN/TURN requests
/// to.
fn dns_turn_names(case: &Case) -> BTreeSet<String> {
    let turn_ips: BTreeSet<IpAddr> = case.turn_endpoints.iter().map(|(a, _)| a.ip()).collect();
    let mut names = BTreeSet::new();
    for c in &case.captures {
        for l in c.dns.lookups.iter().filter(|l| a_or_aaaa(l)) {
            let used = l
                .answer
                .iter()
                .flat_map(|a| a.addresses())
                .any(|ip| turn_ips.contains(&ip) && talks_stun_to(c, l.client.ip(), ip));
            if used {
                names.insert(l.name.clone());
            }
        }
    }
    names
}

/// Lower case, no final dot.
pub(super) fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Without `--join-url`: the SNI of HTTPS sessions (HTTP offered in ALPN) to the Expressway-E
/// (a TURN server address of the case), and names resolved right before a connection to port
/// 443 of their address that is not TLS without HTTP; when the case shows no TURN server, any
/// such session.
fn infer_join(case: &Case) -> BTreeSet<String> {
    let turn = case.server_ips();
    let to_expe = |ip: IpAddr| turn.is_empty() || turn.contains(&ip);
    let mut names = BTreeSet::new();
    for c in &case.captures {
        for t in &c.tls_conns.conns {
            if t.server.port() == HTTPS && t.offers_http() && to_expe(t.server.ip()) {
                names.extend(t.sni().map(normal));
            }
        }
        // A TLS session without HTTP on that connection is not a page load (TURN over TLS).
        let page_load = |client: SocketAddr, server: SocketAddr| {
            c.tls_conns
                .conns
                .iter()
                .find(|t| t.client == client && t.server == server)
                .is_none_or(TlsConn::offers_http)
        };
        for l in c.dns.lookups.iter().filter(|l| a_or_aaaa(l)) {
            let connected = l.answer.iter().flat_map(|a| a.addresses()).any(|ip| {
                to_expe(ip)
                    && c.tcp.iter().any(|s| {
                        s.control == TcpControl::Syn
                            && s.src.ip() == l.client.ip()
                            && s.dst == SocketAddr::new(ip, HTTPS)
                            && s.ts >= l.ts
                            && page_load(s.src, s.dst)
                    })
            });
            if connected {
                names.insert(l.name.clone());
            }
        }
    }
    names
}

/// Hosts of a capture on the CMS side: they look up the call bridge's XMPP SRV record,
/// allocate on a private TURN server address (the CMS turnServers serverAddress), or present
/// a client certificate (call bridge to web bridge).
fn inside_hosts(case: &Case, c: &CaptureFlows) -> BTreeSet<IpAddr> {
    let mut hosts = BTreeSet::new();
    for l in &c.dns.lookups {
        if l.qtype == TYPE_SRV && l.name.starts_with(XMPP_SRV) {
            hosts.insert(l.client.ip());
        }
    }
    for m in c
        .msgs
        .iter()
        .filter(|m| m.carried.is_none() && m.class == Class::Request)
    {
        if is_private(m.dst.ip()) && case.is_turn_endpoint(m.dst, m.transport) {
            hosts.insert(m.src.ip());
        }
    }
    for t in &c.tls_conns.conns {
        if t.client_certs.as_ref().is_some_and(|x| x.count > 0) {
            hosts.insert(t.client.ip());
        }
    }
    hosts
}

/// How the connection attempts to one server port went in one capture.
#[derive(Debug, Default)]
struct Attempts {
    syns: Vec<(u32, i64)>,
    answered: bool,
    refused: Vec<(u32, i64)>,
}

/// Connection attempts per (client, server:port) for the ports asked, in one capture.
fn attempts(c: &CaptureFlows, port: u16) -> BTreeMap<(IpAddr, SocketAddr), Attempts> {
    let mut out: BTreeMap<(IpAddr, SocketAddr), Attempts> = BTreeMap::new();
    for s in &c.tcp {
        match s.control {
            TcpControl::Syn if s.dst.port() == port => {
                out.entry((s.src.ip(), s.dst))
                    .or_default()
                    .syns
                    .push((s.frame, s.ts.0));
            }
            TcpControl::SynAck if s.src.port() == port => {
                out.entry((s.dst.ip(), s.src)).or_default().answered = true;
            }
            TcpControl::Rst if s.src.port() == port => {
                if let Some(a) = out.get_mut(&(s.dst.ip(), s.src)) {
                    a.refused.push((s.frame, s.ts.0));
                }
            }
            _ => {}
        }
    }
    // A firewall that rejects with ICMP instead of a reset.
    for u in c
        .unreachable
        .iter()
        .filter(|u| u.transport == Transport::Tcp)
    {
        if u.dst.port() == port {
            if let Some(a) = out.get_mut(&(u.src.ip(), u.dst)) {
                a.refused.push((u.frame, u.ts.0));
            }
        }
    }
    out
}

/// Connection attempts of every capture to `port`, the guest's view (public server address)
/// first: the same attempts seen on the Expressway-E merge into its findings.
fn all_attempts(case: &Case, port: u16) -> Vec<(usize, IpAddr, SocketAddr, Attempts)> {
    let mut all: Vec<_> = case
        .captures
        .iter()
        .enumerate()
        .flat_map(|(ci, c)| {
            attempts(c, port)
                .into_iter()
                .map(move |((cl, sv), a)| (ci, cl, sv, a))
        })
        .collect();
    all.sort_by_key(|(ci, _, server, _)| (is_private(server.ip()), *ci));
    all
}

fn capture_end(c: &CaptureFlows) -> i64 {
    c.last_ts.map_or(i64::MAX, |t| t.0)
}

pub(super) fn rules(sink: &mut Sink<'_>, facts: &Facts) {
    let case = sink.case;
    for (ci, client, server, a) in all_attempts(case, HTTPS) {
        if a.answered || !facts.is_web_server(case, server.ip()) {
            continue;
        }
        // The first SYN had time for an answer (a retransmitted SYN says it had none).
        let waited = a
            .syns
            .first()
            .is_some_and(|s| capture_end(&case.captures[ci]) - s.1 >= GRACE_NS);
        if !a.refused.is_empty() {
            tcp443_refused(sink, ci, client, server, &a);
        } else if waited {
            tcp443_unanswered(sink, ci, client, server, &a);
        }
    }
    port80(sink, facts);
    for id in ["web.tcp443_unanswered", "web.tcp443_refused"] {
        for d in sink.drafts_mut(id) {
            let n = plural(d.count, "SYN", "SYNs");
            d.summary.push_str(&format!(" ({n})"));
        }
    }
}

fn tcp443_unanswered(
    sink: &mut Sink<'_>,
    ci: usize,
    client: IpAddr,
    server: SocketAddr,
    a: &Attempts,
) {
    let case = sink.case;
    let d = sink.entry("web.tcp443_unanswered", server.to_string(), || {
        (
            format!("TCP 443 to {server} is never answered: no SYN-ACK to the SYNs of {client}"),
            "Open TCP port 443 on the firewall from the public internet to the public IP address of the Expressway-E (the join URL's address); the web app and the WebRTC connections come in on TCP 443.".into(),
        )
    });
    d.count += a.syns.len();
    for &(f, ts) in a.syns.iter().take(6) {
        d.frame(case, ci, f, ts);
    }
}

fn tcp443_refused(
    sink: &mut Sink<'_>,
    ci: usize,
    client: IpAddr,
    server: SocketAddr,
    a: &Attempts,
) {
    let case = sink.case;
    let d = sink.entry("web.tcp443_refused", server.to_string(), || {
        (
            format!("TCP 443 to {server} is refused (reset or ICMP unreachable) for {client}"),
            "Nothing accepts TCP 443 there, or a firewall rejects it: open TCP port 443 from the public internet to the public IP address of the Expressway-E, and make sure 443 is the WebRTC port (Expressway-E System > Administration: Web administrator port moved off 443, e.g. to 445; the Meeting Server web proxy enabled on the Expressway-C).".into(),
        )
    });
    d.count += a.syns.len();
    for &(f, ts) in a.syns.iter().take(3).chain(a.refused.iter().take(3)) {
        d.frame(case, ci, f, ts);
    }
}

/// What port 80 of the web servers does: redirect to HTTPS (as the Expressway-E does), or not.
fn port80(sink: &mut Sink<'_>, facts: &Facts) {
    let case = sink.case;
    for (ci, client, server, a) in all_attempts(case, HTTP) {
        let c = &case.captures[ci];
        let end = capture_end(c);
        let known =
            facts.web_ips.contains(&server.ip()) || case.server_ips().contains(&server.ip());
        if a.syns.is_empty() || !known {
            continue;
        }
        let answers: Vec<_> = c
            .http
            .answers
            .iter()
            .filter(|h| h.server == server && h.client.ip() == client)
            .collect();
        let first = a.syns.first().copied().unwrap_or_default();
        if let Some(h) = answers.iter().find(|h| h.redirects_to_https()) {
            let loc = h.location.clone().unwrap_or_default();
            let d = sink.entry("web.http_redirect", loc.clone(), || {
                (
                    format!("port 80 of {server} redirects to HTTPS ({} to {loc})", h.status),
                    "Nothing to fix: a browser that tries port 80 is redirected to 443, as the Expressway-E does.".into(),
                )
            });
            d.count += 1;
            d.frame(case, ci, first.0, first.1)
                .frame(case, ci, h.frame, h.ts.0);
            continue;
        }
        let how = if let Some(h) = answers.first() {
            format!("answers HTTP {} without a redirect to HTTPS", h.status)
        } else if !a.refused.is_empty() {
            "refuses the connection".to_string()
        } else if a.answered || end - first.1 < GRACE_NS {
            continue;
        } else {
            "never answers".to_string()
        };
        let d = sink.entry("web.http_no_redirect", how.clone(), || {
            (
                format!("port 80 of {server} {how} (from {client})"),
                "A browser that tries port 80 does not get to the web app: the Expressway-E redirects HTTP requests to HTTPS (System > Administration: Redirect HTTP requests to HTTPS On) when port 80 reaches it; open TCP 80 to it or give guests the https:// join URL.".into(),
            )
        });
        d.count += 1;
        d.frame(case, ci, first.0, first.1);
        for &(f, ts) in a.refused.iter().take(2) {
            d.frame(case, ci, f, ts);
        }
    }
}
