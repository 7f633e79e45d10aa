//! reach.*: requests to the TURN server that get no answer, and where they were lost.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use crate::capture::{TcpControl, Transport, UnreachableKind};
use crate::flow::servers::ClientLeg;
use crate::flow::{Case, CaseTx, Msg, Role, Sighting};
use crate::wire::Method;

use super::{method_title, plural, Sink};

/// TCP connections to the TURN port: SYN (frame, ts) list, SYN-ACK seen, first RST.
type Conns = BTreeMap<(SocketAddr, SocketAddr), (Vec<(u32, i64)>, bool, Option<(u32, i64)>)>;

/// An unanswered request at the end of a capture may just be in flight.
const IN_FLIGHT_NS: i64 = 2_000_000_000;

fn remedy_no_response(dst: SocketAddr, t: Transport, leg: ClientLeg) -> String {
    format!("Open {} {} (TURN requests) to the Expressway-E {} {} on {}, and check that TURN services are On (Expressway-E Configuration > Traversal > TURN). Take a tcpdump on the Expressway-E (Maintenance > Diagnostics > Diagnostic logging, \"Take tcpdump while logging\") to see whether the requests arrive.", t.as_str().to_uppercase(), dst.port(), leg.server_address(), dst.ip(), leg.firewall())
}

fn remedy_inbound(dst: SocketAddr, t: Transport, leg: ClientLeg) -> String {
    format!("A firewall between the client and the Expressway-E drops the requests: open {} {} inbound to the Expressway-E {} {} on {} (and any firewall in front of the client).", t.as_str().to_uppercase(), dst.port(), leg.server_address(), dst.ip(), leg.firewall())
}

fn remedy_response_lost(t: Transport, leg: ClientLeg) -> String {
    format!("The Expressway-E answers but its answers never reach the client: allow the return traffic ({} from the Expressway-E TURN port back to the client) on {}, and check for asymmetric routing.", t.as_str().to_uppercase(), leg.firewall())
}

fn remedy_silent(dst: SocketAddr) -> String {
    format!("The requests reach the server but it never answers: check that TURN services are On (Expressway-E Configuration > Traversal > TURN), that the TURN option key (e.g. \"1800 TURN Relays\") is installed, and that the TURN requests port is {}.", dst.port())
}

fn remedy_unreachable(dst: SocketAddr) -> String {
    format!("Nothing listens on {dst}: enable TURN on the Expressway-E (Configuration > Traversal > TURN, TURN services On) and check the TURN requests port; make sure clients (CMS turnServers serverAddress/clientAddress) use the address and port the server listens on.")
}

fn remedy_tcp(dst: SocketAddr) -> String {
    format!("TCP TURN does not listen on {dst}. When TURN on TCP 443 is enabled the Expressway-E no longer answers on TCP 3478: set tcpPortNumberOverride in the CMS turnServers object to the port the Expressway-E listens on, or use UDP 3478.")
}

/// A request the TURN server should answer: TURN methods, and Binding to a TURN endpoint.
fn is_server_request(case: &Case, m: &Msg) -> bool {
    m.carried.is_none()
        && !m.is_ice_check()
        && (crate::flow::msg::is_turn_method(m.method)
            || (m.method == Method::BINDING && case.is_turn_endpoint(m.dst, m.transport)))
}

/// True if the capture went on long enough after the request (or the client retransmitted).
fn given_up(case: &Case, cap: usize, t: &CaseTx) -> bool {
    let c = &case.captures[cap];
    let Some(s) = t.sightings.iter().find(|s| s.cap == cap) else {
        return false;
    };
    let tx = case.tx(*s);
    if c.retransmissions(tx) > 0 {
        return true;
    }
    let (Some(q), Some(last)) = (c.request(tx), c.last_ts) else {
        return false;
    };
    last.0 - q.ts.0 >= IN_FLIGHT_NS
}

/// The time span (reference clock) capture `cap` covers, with some slack for clock offsets;
/// `None` for an empty capture, which covers everything: it saw nothing while the client sent.
fn window(case: &Case, cap: usize) -> Option<(i64, i64)> {
    let c = &case.captures[cap];
    let (Some(a), Some(b)) = (c.first_ts, c.last_ts) else {
        return None;
    };
    let (a, b) = (case.to_reference(cap, a.0), case.to_reference(cap, b.0));
    let slack = if case.offsets[cap].is_some() { 2 } else { 120 } * 1_000_000_000i64;
    Some((a - slack, b + slack))
}

/// The time span every server capture covers (the intersection of their windows), found once:
/// a request seen in it should show in each of them. `None` when none limits it.
fn all_servers_cover(case: &Case) -> Option<(i64, i64)> {
    (0..case.captures.len())
        .filter(|&i| case.roles[i] == Role::Server)
        .filter_map(|i| window(case, i))
        .reduce(|(a, b), (c, d)| (a.max(c), b.min(d)))
}

/// An ICMP error answering a request: capture, frame, time, kind, quoted destination.
#[derive(Debug, Clone, Copy)]
struct IcmpAnswer {
    cap: usize,
    frame: u32,
    ts: i64,
    kind: UnreachableKind,
    dst: SocketAddr,
}

/// Requests of the case by capture, 5-tuple and time (for ICMP errors quoting no STUN header).
type RequestsByTuple = HashMap<(usize, SocketAddr, SocketAddr), BTreeSet<(i64, usize)>>;

fn requests_by_tuple(case: &Case) -> RequestsByTuple {
    let mut out = RequestsByTuple::new();
    for (i, t) in case.txs.iter().enumerate() {
        for &s in &t.sightings {
            if let Some(q) = case.request(s) {
                out.entry((s.cap, q.src, q.dst))
                    .or_default()
                    .insert((q.ts.0, i));
            }
        }
    }
    out
}

/// Requests answered by ICMP unreachable, by transaction id or else by 5-tuple and time (the
/// request up to 5 s before the error): the first error for each request (case transaction).
fn icmp_answers(case: &Case) -> BTreeMap<usize, IcmpAnswer> {
    let mut icmp: BTreeMap<usize, IcmpAnswer> = BTreeMap::new();
    let mut by_tuple: Option<RequestsByTuple> = None;
    for (ci, c) in case.captures.iter().enumerate() {
        for u in &c.unreachable {
            // Only an ICMP error about a request counts: one about a response means the
            // client had gone (closed its socket), not that the server is missing.
            if u.stun
                .is_some_and(|(_, _, class)| class != crate::wire::Class::Request)
            {
                continue;
            }
            let answer = IcmpAnswer {
                cap: ci,
                frame: u.frame,
                ts: u.ts.0,
                kind: u.kind,
                dst: u.dst,
            };
            if let Some(i) = u.stun.and_then(|(id, _, _)| case.by_txid.get(&id).copied()) {
                icmp.entry(i).or_insert(answer);
                continue;
            }
            let index = by_tuple.get_or_insert_with(|| requests_by_tuple(case));
            let Some(requests) = index.get_mut(&(ci, u.src, u.dst)) else {
                continue;
            };
            // Requests matched once need not be looked at again: a later error cannot
            // replace the first.
            let from = (u.ts.0.saturating_sub(5_000_000_000).saturating_add(1), 0);
            let matched: Vec<(i64, usize)> = requests
                .range(from..=(u.ts.0, usize::MAX))
                .copied()
                .collect();
            for m in matched {
                requests.remove(&m);
                icmp.entry(m.1).or_insert(answer);
            }
        }
    }
    icmp
}

struct Group {
    txs: Vec<usize>,
    /// Transactions the group stands for (with those counted into its transactions).
    weight: usize,
    methods: Vec<Method>,
    src: SocketAddr,
    retrans: usize,
    schedule: Vec<f64>,
}

/// (client IP, server address) pairs, as every capture saw them, where the server answered a
/// TURN request (Allocate, Refresh, ...). A server that answers TURN there but not Binding
/// ignores Binding on its TURN port on purpose (coturn `--no-stun`; Expressway X12.6.1 and
/// later): an unanswered Binding from that client is no reachability problem.
fn answering_turn(case: &Case) -> HashSet<(IpAddr, SocketAddr)> {
    let mut out = HashSet::new();
    for t in case.txs.iter().filter(|t| case.is_answered(t)) {
        let turn = case.any_request(t).is_some_and(|(_, q)| {
            q.carried.is_none() && crate::flow::msg::is_turn_method(q.method)
        });
        if !turn {
            continue;
        }
        for &s in &t.sightings {
            if let Some(q) = case.request(s) {
                out.insert((q.src.ip(), q.dst));
            }
        }
    }
    out
}

/// A Binding request to a server that answers the same client's TURN requests there.
fn binding_ignored_by_design(
    case: &Case,
    t: &CaseTx,
    answering: &HashSet<(IpAddr, SocketAddr)>,
) -> bool {
    t.sightings.iter().any(|&s| {
        case.request(s).is_some_and(|q| {
            q.method == Method::BINDING && answering.contains(&(q.src.ip(), q.dst))
        })
    })
}

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    let icmp = icmp_answers(case);
    let answering = answering_turn(case);
    let servers_cover = all_servers_cover(case);
    let role = |s: &&Sighting, r: Role| case.roles.get(s.cap) == Some(&r);
    let has_clients = case.roles.contains(&Role::Client);
    let has_servers = case.roles.contains(&Role::Server);

    // (id, server address as seen) -> group
    let mut groups: BTreeMap<(&'static str, String), Group> = BTreeMap::new();
    for (ti, t) in case.txs.iter().enumerate() {
        let Some((s0, rq)) = case.any_request(t) else {
            continue;
        };
        if !is_server_request(case, rq) {
            continue;
        }
        if let Some(&IcmpAnswer {
            cap,
            frame,
            ts,
            kind,
            dst,
        }) = icmp.get(&ti)
        {
            let what = match kind {
                UnreachableKind::Port => "port unreachable".to_string(),
                UnreachableKind::Host => "host unreachable".to_string(),
                UnreachableKind::Network => "network unreachable".to_string(),
                UnreachableKind::Protocol => "protocol unreachable".to_string(),
                UnreachableKind::AdminProhibited => "administratively prohibited".to_string(),
                UnreachableKind::Other { icmp_type, code } => {
                    format!("type {icmp_type} code {code}")
                }
            };
            let d = sink.entry("reach.port_unreachable", dst.to_string(), || {
                (
                    format!("ICMP {what} returned for {} requests to the TURN address {dst}/{}: nothing listens there", method_title(rq.method), rq.transport.as_str()),
                    remedy_unreachable(dst),
                )
            });
            d.count += case.weight(t);
            if d.evidence.len() < 12 {
                d.frame(case, cap, frame, ts);
                for &x in &t.sightings {
                    d.sighting(case, x);
                }
            }
            continue;
        }
        let answered = case.is_answered(t);
        if !answered && binding_ignored_by_design(case, t, &answering) {
            continue;
        }
        let c_sight = t.sightings.iter().find(|s| role(s, Role::Client)).copied();
        let s_sight = t.sightings.iter().find(|s| role(s, Role::Server)).copied();
        let (id, view) = if !answered {
            if let Some(ss) = s_sight {
                if !given_up(case, ss.cap, t) {
                    continue;
                }
                ("reach.server_silent", ss)
            } else if has_servers
                && servers_cover.is_none_or(|(from, to)| {
                    (from..=to).contains(&case.to_reference(s0.cap, rq.ts.0))
                })
            {
                if !given_up(case, s0.cap, t) {
                    continue;
                }
                ("reach.inbound_blocked", s0)
            } else {
                if !given_up(case, s0.cap, t) {
                    continue;
                }
                ("reach.no_response", s0)
            }
        } else {
            match (c_sight, s_sight) {
                (Some(cs), Some(ss))
                    if case.tx(cs).responses.is_empty() && !case.tx(ss).responses.is_empty() =>
                {
                    ("reach.response_lost", ss)
                }
                (None, Some(ss)) if !has_clients => {
                    let c = &case.captures[ss.cap];
                    if c.requests_after_response(case.tx(ss)) >= 2 {
                        ("reach.response_lost", ss)
                    } else {
                        continue;
                    }
                }
                _ => continue,
            }
        };
        let c = &case.captures[view.cap];
        let tx = case.tx(view);
        let Some(q) = c.request(tx) else { continue };
        let g = groups
            .entry((id, format!("{}/{}", q.dst, q.transport.as_str())))
            .or_insert_with(|| Group {
                txs: Vec::new(),
                weight: 0,
                methods: Vec::new(),
                src: q.src,
                retrans: 0,
                schedule: Vec::new(),
            });
        g.txs.push(ti);
        g.weight += case.weight(t);
        if !g.methods.contains(&q.method) {
            g.methods.push(q.method);
        }
        let r = c.retransmissions(tx);
        if r >= g.retrans {
            g.retrans = r;
            g.schedule = c.schedule_ms(tx);
        }
    }
    for ((id, dst), g) in groups {
        let methods: Vec<String> = g.methods.iter().map(|m| method_title(*m)).collect();
        let n = g.weight;
        let sched = if g.retrans > 0 {
            format!(
                "; each sent up to {} times (at {} s)",
                g.retrans + 1,
                g.schedule
                    .iter()
                    .map(|ms| format!("{:.1}", ms / 1000.0))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            String::new()
        };
        // Every group was made from a request, so this only skips an impossible empty group.
        let Some((_, q0)) = g.txs.first().and_then(|&i| case.any_request(&case.txs[i])) else {
            continue;
        };
        let (dst_addr, transport) = (q0.dst, q0.transport);
        let leg = ClientLeg::of(g.src, dst_addr);
        let reqs = plural(
            n,
            &format!("{} request", methods.join("/")),
            &format!("{} requests", methods.join("/")),
        );
        let summary = match id {
            "reach.no_response" => format!("{reqs} from {} to the TURN server {dst} got no response{sched}", g.src),
            "reach.inbound_blocked" => format!("{reqs} from {} to {dst} never reached the server capture (matched by transaction id through NAT){sched}", g.src),
            "reach.server_silent" => format!("{reqs} from {} reached the server at {dst} and were never answered{sched}", g.src),
            _ => format!("the server at {dst} answered {reqs} from {}, but the answers never reached the client{sched}", g.src),
        };
        let remedy = match id {
            "reach.no_response" => remedy_no_response(dst_addr, transport, leg),
            "reach.inbound_blocked" => remedy_inbound(dst_addr, transport, leg),
            "reach.server_silent" => remedy_silent(dst_addr),
            _ => remedy_response_lost(transport, leg),
        };
        let d = sink.entry(id, dst.clone(), || (summary, remedy));
        d.count += n;
        for &ti in g.txs.iter().take(6) {
            for &x in &case.txs[ti].sightings {
                d.sighting(case, x);
            }
        }
    }
    tcp_refused(sink);
}

/// A TCP connection to a TURN port that never got a SYN-ACK, in one capture.
struct RefusedConn {
    cap: usize,
    src: SocketAddr,
    dst: SocketAddr,
    syns: Vec<(u32, i64)>,
    rst: Option<(u32, i64)>,
}

/// Per capture, the TCP connections to a TURN port that were refused (RST) or never
/// answered (retried, or the capture went on long enough).
fn refused_conns(case: &Case) -> Vec<RefusedConn> {
    let mut out = Vec::new();
    for (ci, c) in case.captures.iter().enumerate() {
        let mut conns: Conns = BTreeMap::new();
        for e in &c.tcp {
            match e.control {
                TcpControl::Syn if case.is_turn_endpoint(e.dst, Transport::Tcp) => {
                    let x = conns.entry((e.src, e.dst)).or_default();
                    x.0.push((e.frame, e.ts.0));
                }
                TcpControl::SynAck => {
                    if let Some(x) = conns.get_mut(&(e.dst, e.src)) {
                        x.1 = true;
                    }
                }
                TcpControl::Rst => {
                    if let Some(x) = conns.get_mut(&(e.dst, e.src)) {
                        if !x.1 && x.2.is_none() {
                            x.2 = Some((e.frame, e.ts.0));
                        }
                    }
                }
                TcpControl::Syn | TcpControl::Fin => {}
            }
        }
        for ((src, dst), (syns, synack, rst)) in conns {
            let Some(&(_, first)) = syns.first() else {
                continue;
            };
            let long_enough =
                c.last_ts.is_some_and(|l| l.0 - first >= IN_FLIGHT_NS) || syns.len() > 1;
            if !synack && (rst.is_some() || long_enough) {
                out.push(RefusedConn {
                    cap: ci,
                    src,
                    dst,
                    syns,
                    rst,
                });
            }
        }
    }
    out
}

/// reach.tcp_refused, one finding per TURN port and outcome: the same connection seen by the
/// guest (to the public address) and by the Expressway-E (to LAN2 behind static NAT) is one
/// problem, with both vantage points as evidence.
fn tcp_refused(sink: &mut Sink<'_>) {
    let case = sink.case;
    for conn in refused_conns(case) {
        let how = if conn.rst.is_some() {
            "answered by RST"
        } else {
            "never answered by SYN-ACK"
        };
        let key = format!("{}|{how}", conn.dst.port());
        let d = sink.entry("reach.tcp_refused", key, || {
            (
                format!(
                    "TCP connection from {} to the TURN port {} {how}",
                    conn.src, conn.dst
                ),
                remedy_tcp(conn.dst),
            )
        });
        d.count += 1;
        // The first connection's address is in the summary already.
        let also = format!("; also seen as {} ({})", conn.dst, case.name(conn.cap));
        d.mention_once(&conn.dst.to_string(), &also, 600);
        for (f, ts) in conn.syns.iter().take(4) {
            d.frame(case, conn.cap, *f, *ts);
        }
        if let Some((f, ts)) = conn.rst {
            d.frame(case, conn.cap, f, ts);
        }
    }
}
