//! Per-hop verdicts for connectivity checks: where each sighting of a check stands on its path
//! (TURN client to server, relay to peer, peer to relay, direct), and how far the request and
//! its answer got, from every capture that saw them.
//!
//! A check is one STUN transaction id, so the same check is recognised in every capture of the
//! case whatever NAT rewrote and whatever carried it (raw, or inside Send / Data indications and
//! ChannelData). "Answered" means the answer came back to the capture the check left from, not
//! that some capture saw an answer: a peer's answer relayed toward a client whose firewall drops
//! it is an answer lost on a hop, and the hop is named.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::decode::Carrier;
use crate::wire::Class;

use super::case::Case;
use super::vantage::Role;
use super::{HashMap, Msg};

/// How one sighting of a message travels, as its capture shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leg {
    /// From a TURN client to its server, inside a Send indication or ChannelData.
    ClientToServer,
    /// From a TURN server to its client, inside a Data indication or ChannelData.
    ServerToClient,
    /// On the wire from a relay address to a peer that is no relay.
    RelayToPeer,
    /// On the wire from a peer that is no relay to a relay address.
    PeerToRelay,
    /// On the wire from one relay address to another (relay-to-relay, possibly hairpinned
    /// through the firewall's NAT reflection).
    RelayToRelay,
    /// On the wire between two addresses neither of which is a relay.
    Direct,
}

impl Leg {
    /// Words for reports: "relay to peer", "direct", ...
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::ClientToServer => "client to server (relayed data)",
            Leg::ServerToClient => "server to client (relayed data)",
            Leg::RelayToPeer => "relay to peer",
            Leg::PeerToRelay => "peer to relay",
            Leg::RelayToRelay => "relay to relay",
            Leg::Direct => "direct",
        }
    }
}

/// One sighting of a check's request or answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Index of the capture.
    pub cap: usize,
    /// Where on the path this sighting is.
    pub leg: Leg,
    /// Frame number in that capture.
    pub frame: u32,
    /// On the reference capture's clock, nanoseconds.
    pub ts: i64,
    /// As this capture shows them (the carrier's addresses for relayed data).
    pub src: SocketAddr,
    /// Destination as this capture shows it.
    pub dst: SocketAddr,
    /// The peer of relayed data (XOR-PEER-ADDRESS or the channel's peer), when known.
    pub peer: Option<SocketAddr>,
}

/// How far a connectivity check got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckVerdict {
    /// The answer came back to the capture the check left from.
    Answered,
    /// Answered (the answer was last seen at `last`), but it never reached the capture the
    /// check left from.
    AnswerLost {
        /// The last sighting of the answer.
        last: Hop,
    },
    /// Never answered anywhere; the request was last seen at `last`.
    Unanswered {
        /// The last sighting of the request.
        last: Hop,
    },
}

/// One connectivity check (ICE Binding request) across the case.
#[derive(Debug, Clone)]
pub struct CheckPath {
    /// Index into [`Case::txs`].
    pub tx: usize,
    /// The first sighting of the request: where the check left from, as far as captured.
    pub origin: Hop,
    /// True when `origin` is in a client-side capture, i.e. at an ICE agent itself, so
    /// [`CheckVerdict::Answered`] means the agent got the answer.
    pub origin_at_agent: bool,
    /// Every sighting of the request, across the captures.
    pub requests: Vec<Hop>,
    /// Every sighting of an answer, across the captures.
    pub answers: Vec<Hop>,
    /// The answer is an error (487 Role Conflict, 401...), not a success.
    pub error_answer: bool,
    /// An ICMP error about the request (a router or host on the way refused it), if any
    /// capture shows one: capture, frame, and the address that sent it.
    pub icmp: Option<IcmpRefusal>,
    /// How far the check got.
    pub verdict: CheckVerdict,
}

/// An ICMP destination-unreachable error quoting a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpRefusal {
    /// Index of the capture that shows the ICMP error.
    pub cap: usize,
    /// Frame number of the ICMP error.
    pub frame: u32,
    /// The host or router that sent it.
    pub reporter: IpAddr,
}

impl CheckPath {
    /// The request's sightings on a leg.
    pub fn requests_on(&self, leg: Leg) -> impl Iterator<Item = &Hop> + '_ {
        self.requests.iter().filter(move |h| h.leg == leg)
    }

    /// The answer's sightings on a leg.
    pub fn answers_on(&self, leg: Leg) -> impl Iterator<Item = &Hop> + '_ {
        self.answers.iter().filter(move |h| h.leg == leg)
    }
}

/// What the case knows of relay addresses, to place sightings on legs.
struct Relays<'a> {
    case: &'a Case,
    /// Per capture: (TURN client, server) 5-tuples -> relayed address, for ChannelData.
    by_tuple: Vec<HashMap<(SocketAddr, SocketAddr), SocketAddr>>,
    /// Relay sockets as the server's own captures show them (behind static NAT: the private
    /// address, where XOR-RELAYED-ADDRESS gives the public one), learnt from the checks.
    local: std::collections::HashSet<SocketAddr>,
}

impl Relays<'_> {
    fn is_relay(&self, a: SocketAddr) -> bool {
        self.local.contains(&a) || self.case.is_relay_address(a)
    }

    fn leg(&self, cap: usize, m: &Msg) -> Leg {
        match m.carried {
            Some(Carrier::Send) => Leg::ClientToServer,
            Some(Carrier::Data) => Leg::ServerToClient,
            Some(Carrier::ChannelData) => {
                let tuples = self.by_tuple.get(cap);
                if tuples.is_some_and(|t| t.contains_key(&(m.src, m.dst))) {
                    Leg::ClientToServer
                } else if tuples.is_some_and(|t| t.contains_key(&(m.dst, m.src))) {
                    Leg::ServerToClient
                } else if self.case.is_turn_endpoint(m.dst, m.transport) {
                    Leg::ClientToServer
                } else {
                    Leg::ServerToClient
                }
            }
            None => match (self.is_relay(m.src), self.is_relay(m.dst)) {
                (true, true) => Leg::RelayToRelay,
                (true, false) => Leg::RelayToPeer,
                (false, true) => Leg::PeerToRelay,
                (false, false) => Leg::Direct,
            },
        }
    }

    fn hop(&self, cap: usize, m: &Msg) -> Hop {
        Hop {
            cap,
            leg: self.leg(cap, m),
            frame: m.frame,
            ts: self.case.to_reference(cap, m.ts.0),
            src: m.src,
            dst: m.dst,
            peer: m.carrier_peer,
        }
    }
}

/// The path of every connectivity check of the case, in case order.
pub fn check_paths(case: &Case) -> Vec<CheckPath> {
    let relays = Relays {
        case,
        by_tuple: case
            .captures
            .iter()
            .map(|c| c.relayed_by_tuple.iter().copied().collect())
            .collect(),
        local: relay_sockets(case),
    };
    let locals: Vec<BTreeSet<IpAddr>> = (0..case.captures.len())
        .map(|cap| local_ips(case, cap))
        .collect();
    let refusals = icmp_refusals(case);
    let mut out = Vec::new();
    for (ti, t) in case.txs.iter().enumerate() {
        let Some((_, first)) = case.any_request(t) else {
            continue;
        };
        if !first.is_ice_check() {
            continue;
        }
        let mut requests = Vec::new();
        let mut answers = Vec::new();
        let mut error_answer = false;
        for &s in &t.sightings {
            let c = &case.captures[s.cap];
            let tx = case.tx(s);
            requests.extend(tx.requests.iter().map(|&i| relays.hop(s.cap, c.msg(i))));
            for &i in &tx.responses {
                let m = c.msg(i);
                error_answer |= m.class == Class::Error;
                answers.push(relays.hop(s.cap, m));
            }
        }
        let Some(mut path) = path_of(case, &locals, ti, requests, answers, error_answer) else {
            continue;
        };
        path.icmp = refusals.get(&ti).copied();
        out.push(path);
    }
    out
}

fn latest(hops: &[Hop]) -> Option<Hop> {
    hops.iter().max_by_key(|h| (h.ts, h.cap, h.frame)).copied()
}

/// Where a check left from: its sighting at the agent that sent it (a client-side capture
/// whose own address is the source) if any, else the first in a client-side capture, else the
/// first anywhere. Sender before time: clock offsets between captures are estimates, and a
/// packet reaches the next hop within a fraction of a millisecond.
fn origin_of(case: &Case, locals: &[BTreeSet<IpAddr>], requests: &[Hop]) -> Option<Hop> {
    let at_client = |h: &&Hop| case.roles.get(h.cap) == Some(&Role::Client);
    let sent_here = |h: &&Hop| locals.get(h.cap).is_some_and(|l| l.contains(&h.src.ip()));
    let by_time = |h: &&Hop| (h.ts, h.cap, h.frame);
    requests
        .iter()
        .filter(at_client)
        .filter(sent_here)
        .min_by_key(by_time)
        .or_else(|| requests.iter().filter(at_client).min_by_key(by_time))
        .or_else(|| requests.iter().min_by_key(by_time))
        .copied()
}

fn path_of(
    case: &Case,
    locals: &[BTreeSet<IpAddr>],
    tx: usize,
    requests: Vec<Hop>,
    answers: Vec<Hop>,
    error_answer: bool,
) -> Option<CheckPath> {
    let origin = origin_of(case, locals, &requests)?;
    let verdict = if answers.iter().any(|a| a.cap == origin.cap) {
        CheckVerdict::Answered
    } else if let Some(last) = latest(&answers) {
        CheckVerdict::AnswerLost { last }
    } else {
        CheckVerdict::Unanswered {
            last: latest(&requests).unwrap_or(origin),
        }
    };
    Some(CheckPath {
        tx,
        origin,
        origin_at_agent: case.roles.get(origin.cap) == Some(&Role::Client),
        requests,
        answers,
        error_answer,
        icmp: None,
        verdict,
    })
}

/// ICMP errors that quote a request, by case transaction.
fn icmp_refusals(case: &Case) -> std::collections::HashMap<usize, IcmpRefusal> {
    let mut out = std::collections::HashMap::new();
    for (cap, c) in case.captures.iter().enumerate() {
        for u in &c.unreachable {
            let Some((txid, _, Class::Request)) = u.stun else {
                continue;
            };
            if let Some(&ti) = case.by_txid.get(&txid) {
                out.entry(ti).or_insert(IcmpRefusal {
                    cap,
                    frame: u.frame,
                    reporter: u.reporter,
                });
            }
        }
    }
    out
}

/// The IP addresses a capture shows as its own: sources of the requests it saw leave (client
/// side) or destinations of the TURN requests it saw arrive (server side). Used to tell, for a
/// sighting, whether this capture is where it left or where it arrived.
pub fn local_ips(case: &Case, cap: usize) -> BTreeSet<IpAddr> {
    let mut ips = BTreeSet::new();
    let Some(c) = case.captures.get(cap) else {
        return ips;
    };
    let server_side = case.roles.get(cap) == Some(&Role::Server);
    for t in &c.transactions {
        let Some(rq) = c.request(t) else { continue };
        if rq.carried.is_some() || rq.class != Class::Request {
            continue;
        }
        if server_side && case.is_turn_endpoint(rq.dst, rq.transport) {
            ips.insert(rq.dst.ip());
        } else if !server_side && !rq.is_ice_check() {
            ips.insert(rq.src.ip());
        }
    }
    ips
}

/// Relay sockets learnt from checks relayed by the server: a check a TURN client sends to peer P
/// inside a Send indication (or ChannelData) leaves the relay as a raw packet to P, so that
/// packet's source is the relay; a check from P delivered inside a Data indication arrived as a
/// raw packet from P, whose destination is the relay. Nothing about ports or address ranges is
/// assumed: the server's own captures name its relay sockets.
fn relay_sockets(case: &Case) -> std::collections::HashSet<SocketAddr> {
    let mut out = std::collections::HashSet::new();
    for t in &case.txs {
        let mut sent_to = Vec::new();
        let mut delivered_from = Vec::new();
        let mut raw = Vec::new();
        for &s in &t.sightings {
            let c = &case.captures[s.cap];
            let tx = case.tx(s);
            for &i in tx.requests.iter().chain(&tx.responses) {
                let m = c.msg(i);
                match (m.carried, m.carrier_peer) {
                    (Some(Carrier::Send), Some(p)) => sent_to.push(p),
                    (Some(Carrier::Data), Some(p)) => delivered_from.push(p),
                    (None, _) => raw.push((m.src, m.dst)),
                    _ => {}
                }
            }
        }
        for (src, dst) in raw {
            if sent_to.contains(&dst) {
                out.insert(src);
            }
            if delivered_from.contains(&src) {
                out.insert(dst);
            }
        }
    }
    out
}

/// What the checks one peer sent to one relay address say about the relay hop, worst news
/// first among the checks when none was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RelayHopVerdict {
    /// The relay sent the answers out toward the peer, which never got them: the way back
    /// from the relay ports is blocked.
    ReturnBlocked,
    /// A capture on the relay's side saw none of the checks: the way in to the relay ports is
    /// blocked.
    InboundBlocked,
    /// Never answered, and no capture on the relay's side to say where they were lost.
    NoAnswer,
    /// The relay got the checks but did not pass them to its client (no permission for the
    /// peer), or did not send its client's answers out.
    NotRelayed,
    /// A router on the way answered the peer's checks with ICMP unreachable: the peer has no
    /// route toward the relay address (an inside host toward the public address), not the
    /// relay ports blocked.
    Unroutable,
    /// The relay passed the checks to its client, which never answered: not the relay hop.
    FarEndSilent,
    /// The peer's checks on another pair were answered: ICE found its way and this pair's
    /// failure is ICE trying every candidate.
    OtherPairWorks,
    /// At least one check was answered back at the peer.
    Works,
}

/// The checks one peer sent straight to one relay address (the relay port range as the guides
/// follow it: Binding requests to the Expressway-E public address, destination port in the
/// relay range).
#[derive(Debug, Clone)]
pub struct RelayHop {
    /// The relay address as the peer sent to it.
    pub relay: SocketAddr,
    /// The peer as its own capture shows it.
    pub peer: SocketAddr,
    /// Binding requests the peer sent to this relay address.
    pub checks: usize,
    /// Whether the checks got through the relay.
    pub verdict: RelayHopVerdict,
    /// A few sightings behind the verdict: the requests at the peer, and where the last of
    /// them (or its answer) was seen.
    pub evidence: Vec<Hop>,
    /// The peer's latest check toward the relay: how long it kept trying.
    pub latest: Hop,
}

/// Per (relay, peer): what the checks sent from a peer to a relay address say.
pub fn relay_hops(case: &Case, checks: &[CheckPath]) -> Vec<RelayHop> {
    let covered = relays_seen_by_server(case, checks);
    let answered_peers: BTreeSet<SocketAddr> = checks
        .iter()
        .filter(|p| p.verdict == CheckVerdict::Answered)
        .map(|p| p.origin.src)
        .collect();
    let mut groups: std::collections::BTreeMap<(SocketAddr, SocketAddr), RelayHop> =
        std::collections::BTreeMap::new();
    for p in checks.iter().filter(|p| p.origin.leg == Leg::PeerToRelay) {
        let v = hop_verdict(case, p, covered.contains(&p.origin.dst.port()));
        let g = groups
            .entry((p.origin.dst, p.origin.src))
            .or_insert_with(|| RelayHop {
                relay: p.origin.dst,
                peer: p.origin.src,
                checks: 0,
                verdict: v,
                evidence: Vec::new(),
                latest: p.origin,
            });
        g.checks += 1;
        if p.origin.ts >= g.latest.ts {
            g.latest = p.origin;
        }
        // One answered check is enough for the hop to work; otherwise the worst news stands,
        // with the sightings of the first check that brought it.
        let worse = v < g.verdict && g.verdict != RelayHopVerdict::Works;
        if (g.checks == 1 || worse || v == RelayHopVerdict::Works) && g.evidence.len() < 8 {
            g.evidence.push(p.origin);
            if let CheckVerdict::AnswerLost { last } | CheckVerdict::Unanswered { last } = p.verdict
            {
                g.evidence.push(last);
            }
        }
        if v == RelayHopVerdict::Works || worse {
            g.verdict = v;
        }
    }
    // A router that refuses a peer's checks (ICMP unreachable) has no route for it; routers
    // rate-limit ICMP, so one refusal speaks for the peer's other checks it silently dropped.
    let refused: BTreeSet<SocketAddr> = checks
        .iter()
        .filter(|p| p.icmp.is_some() && p.verdict != CheckVerdict::Answered)
        .map(|p| p.origin.src)
        .collect();
    let mut hops: Vec<RelayHop> = groups.into_values().collect();
    for h in &mut hops {
        if h.verdict == RelayHopVerdict::Works {
            continue;
        }
        if answered_peers.contains(&h.peer) {
            h.verdict = RelayHopVerdict::OtherPairWorks;
        } else if refused.contains(&h.peer)
            && matches!(
                h.verdict,
                RelayHopVerdict::InboundBlocked | RelayHopVerdict::NoAnswer
            )
        {
            h.verdict = RelayHopVerdict::Unroutable;
        }
    }
    hops
}

/// One check's word on the relay hop.
fn hop_verdict(case: &Case, p: &CheckPath, relay_side_captured: bool) -> RelayHopVerdict {
    let at_server = |h: &Hop| case.roles.get(h.cap) == Some(&Role::Server);
    match p.verdict {
        CheckVerdict::Answered => RelayHopVerdict::Works,
        CheckVerdict::AnswerLost { last } if last.leg == Leg::RelayToPeer => {
            RelayHopVerdict::ReturnBlocked
        }
        CheckVerdict::AnswerLost { .. } => RelayHopVerdict::NotRelayed,
        CheckVerdict::Unanswered { last } if last.leg == Leg::ServerToClient => {
            RelayHopVerdict::FarEndSilent
        }
        CheckVerdict::Unanswered { last } if at_server(&last) => RelayHopVerdict::NotRelayed,
        CheckVerdict::Unanswered { .. } if p.icmp.is_some() => RelayHopVerdict::Unroutable,
        CheckVerdict::Unanswered { .. } if relay_side_captured => RelayHopVerdict::InboundBlocked,
        CheckVerdict::Unanswered { .. } => RelayHopVerdict::NoAnswer,
    }
}

/// Relay ports a server-side capture shows traffic on (any check's sighting there on a relay
/// leg): a capture that would have seen checks arriving at them.
fn relays_seen_by_server(case: &Case, checks: &[CheckPath]) -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for p in checks {
        for h in p.requests.iter().chain(&p.answers) {
            if case.roles.get(h.cap) != Some(&Role::Server) {
                continue;
            }
            match h.leg {
                Leg::RelayToPeer | Leg::RelayToRelay => {
                    ports.insert(h.src.port());
                }
                Leg::PeerToRelay => {
                    ports.insert(h.dst.port());
                }
                _ => {}
            }
        }
    }
    ports
}

/// Relay-to-relay traffic sent by a relay to a public relay address (behind static NAT): it
/// only comes back into the DMZ through the external firewall's NAT reflection (hairpin).
#[derive(Debug, Clone)]
pub struct Hairpin {
    /// The sending relay socket, as its server's capture shows it.
    pub from: SocketAddr,
    /// The public relay address it sends to.
    pub to: SocketAddr,
    /// Binding requests seen on this relay-to-relay path.
    pub checks: usize,
    /// Some check was seen arriving at the target relay (reflection works).
    pub arrived: bool,
    /// A server-side capture shows the target relay's own socket, so it would have seen the
    /// checks arrive.
    pub target_captured: bool,
    /// The departures (at most a few).
    pub departures: Vec<Hop>,
}

/// Every relay-to-relay path toward a public relay address, with whether anything arrived.
/// A departure is a sighting from a relay socket to an advertised relay address on another IP
/// (behind static NAT, the public one); an arrival is a sighting of the same check addressed to
/// a relay socket that is not an advertised address (the private one, after the firewall's
/// NAT reflection translated it).
pub fn hairpins(case: &Case, checks: &[CheckPath]) -> Vec<Hairpin> {
    let server_ports = relays_seen_by_server(case, checks);
    let mut out: std::collections::BTreeMap<(SocketAddr, SocketAddr), Hairpin> =
        std::collections::BTreeMap::new();
    for p in checks {
        let relay_to_relay: Vec<&Hop> = p
            .requests
            .iter()
            .chain(&p.answers)
            .filter(|h| h.leg == Leg::RelayToRelay)
            .collect();
        let arrived = relay_to_relay
            .iter()
            .any(|h| !case.relayed.contains(&h.dst));
        let departures = relay_to_relay
            .iter()
            .filter(|h| case.relayed.contains(&h.dst) && h.dst.ip() != h.src.ip());
        for d in departures {
            let e = out.entry((d.src, d.dst)).or_insert_with(|| Hairpin {
                from: d.src,
                to: d.dst,
                checks: 0,
                arrived: false,
                target_captured: server_ports.contains(&d.dst.port()),
                departures: Vec::new(),
            });
            e.checks += 1;
            e.arrived |= arrived;
            if e.departures.len() < 4 {
                e.departures.push(**d);
            }
        }
    }
    out.into_values().collect()
}
