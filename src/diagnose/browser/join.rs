//! The join of a chrome://webrtc-internals dump with the case's server-side captures (the
//! Expressway-E's tcpdump), as named verdicts the `browser` rules match on.
//!
//! Chrome's dumps carry no TURN username, so the guest is found in the capture by what the
//! dump does show:
//! - a relay candidate is the XOR-RELAYED-ADDRESS the server granted (behind static NAT, the
//!   public address): the allocation granting it is the guest's (`relay_address`);
//! - a relay candidate's base (`raddr`/`rport`) is the XOR-MAPPED-ADDRESS of that allocation,
//!   and a srflx candidate is the guest's public socket: an allocation from that socket is the
//!   guest's (`public_socket`);
//! - otherwise an allocation from one of the guest's public IP addresses during the dump's
//!   time (`public_ip`).
//!
//! Time: the dump's UTC against the capture's clock. Each allocation matched by address and
//! tied to a dump event (the relay candidate's arrival, a candidate error with a STUN code)
//! gives the offset; their median is the clock estimate, and the tolerance of the time window
//! shrinks from [`UNMATCHED_TOLERANCE_NS`] to [`MATCHED_TOLERANCE_NS`].

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::flow::hops::{CheckPath, Hop, Leg};
use crate::flow::{is_private, AllocOutcome, Allocation, Case, Role};
use crate::sources::webrtc::{
    CandidateError, CandidatePair, CandidateType, EventTime, PairState, PeerConnection,
    RelayProtocol, UtcTime,
};

const SECOND: i64 = 1_000_000_000;
/// Window around the dump's times when no allocation ties the clocks (a guest's PC clock and
/// the Expressway's NTP clock may be minutes apart).
pub const UNMATCHED_TOLERANCE_NS: i64 = 300 * SECOND;
/// Window once matched allocations estimate the offset.
pub const MATCHED_TOLERANCE_NS: i64 = 10 * SECOND;
/// Failed pairs toward relays looked up in the captures, per peer connection: each walks the
/// case's checks once, and a dump of a long call may list hundreds of pairs.
pub const MAX_RELAY_LEGS: usize = 16;
/// Exact socket matches are trusted this far from the dump's time (ports are reused).
const EXACT_MATCH_WINDOW_NS: i64 = 3600 * SECOND;

/// How an allocation of a server-side capture was found to be the guest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchedBy {
    /// The dump's relay candidate is this allocation's XOR-RELAYED-ADDRESS.
    RelayAddress(SocketAddr),
    /// The allocation comes from (or maps to) a public socket the dump shows for the guest.
    PublicSocket(SocketAddr),
    /// The allocation comes from a public IP address the dump shows, during the dump's time.
    PublicIp(IpAddr),
    /// The dump names no public address; the allocation comes from an outside address on
    /// the guest's local port (a NAT that kept the port), during the dump's time.
    LocalPort(SocketAddr),
}

impl MatchedBy {
    /// How the allocation was matched, as a phrase for summaries (`by its relay address 198.51.100.10:24012`).
    pub fn describe(self) -> String {
        match self {
            MatchedBy::RelayAddress(a) => format!("by its relay address {a}"),
            MatchedBy::PublicSocket(a) => format!("by the guest's public address {a}"),
            MatchedBy::PublicIp(ip) => format!("by the guest's public IP address {ip} and time"),
            MatchedBy::LocalPort(a) => format!(
                "by the guest's local port {} (kept by its NAT: {a}) and time",
                a.port()
            ),
        }
    }
}

/// An allocation of the case that is this guest's.
#[derive(Debug, Clone, Copy)]
pub struct GuestAllocation<'c> {
    /// Index of the capture (in the case) that shows the allocation.
    pub cap: usize,
    /// The allocation.
    pub alloc: &'c Allocation,
    /// What tied it to this guest.
    pub matched_by: MatchedBy,
    /// Its outcome's time (else its first request's), on the case's reference clock.
    pub at_ns: i64,
    /// The outcome's frame (else the first request's).
    pub frame: u32,
}

/// Where the dump's clock stands against the captures'.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpClock {
    /// Dump time minus capture (reference) time for the same moment; 0 when not estimated.
    pub offset_ns: i64,
    /// Dump events tied to packets to estimate it (0: not estimated).
    pub ties: usize,
    /// How far apart dump and capture times may be and still be the same moment, in nanoseconds.
    pub tolerance_ns: i64,
    /// The dump wrote its times in the browser's local time without a zone: the offset holds
    /// the zone, estimated here, never assumed.
    pub local: bool,
}

impl DumpClock {
    /// A dump time on the case's reference clock.
    pub fn to_capture(self, t: UtcTime) -> i64 {
        t.micros.saturating_mul(1000) - self.offset_ns
    }

    /// How the clocks were related, as a sentence for summaries.
    pub fn describe(self) -> String {
        if self.ties == 0 {
            format!(
                "no allocation ties the clocks: the dump's UTC taken as the capture clock, +/- {} s",
                self.tolerance_ns / SECOND
            )
        } else if self.local {
            format!(
                "the dump's times are the browser's local time without a zone, {:+.3} s from the capture's clock (zone {}; {} matched {})",
                self.offset_ns as f64 / 1e9,
                zone_of(self.offset_ns),
                self.ties,
                if self.ties == 1 { "event" } else { "events" }
            )
        } else {
            format!(
                "the dump's clock is {:+.3} s from the capture's ({} matched {})",
                self.offset_ns as f64 / 1e9,
                self.ties,
                if self.ties == 1 { "event" } else { "events" }
            )
        }
    }
}

/// What the server-side captures say about the guest's attempt at one TURN URL that the dump
/// reports an error for.
#[derive(Debug, Clone)]
pub enum TurnVerdict<'c> {
    /// The captures cover the time and show no TURN request from this guest (none from any
    /// outside client when the dump names no public address of the guest).
    NeverArrived,
    /// The guest's allocation was refused with this code: the capture's answer is the dump's.
    Refused {
        /// The error code the server answered with (401, 431, 486...).
        code: u16,
        /// The allocation that was refused.
        alloc: GuestAllocation<'c>,
    },
    /// The guest's requests arrived and the server never answered.
    Unanswered {
        /// The allocation whose requests went unanswered.
        alloc: GuestAllocation<'c>,
    },
    /// The server answered, yet the browser reports no answer (701): the answers were lost.
    /// `retried_after_answer`: the capture itself shows the guest retrying after the answers
    /// (what `reach.response_lost` reads from a server-side capture alone).
    AnswerLost {
        /// The allocation whose answers were lost.
        alloc: GuestAllocation<'c>,
        /// The capture shows the guest retrying after the answers left.
        retried_after_answer: bool,
    },
    /// Other outside clients' requests arrived; without the guest's public address the dump
    /// cannot say whether one was this guest's.
    Unattributed {
        /// How many other outside clients sent TURN requests meanwhile.
        outside_clients: usize,
    },
    /// No server-side capture covers the time of the dump.
    NotCovered,
}

/// One TURN URL with the errors the dump reports for it.
#[derive(Debug, Clone)]
pub struct TurnAttempt<'c> {
    /// The TURN URL as the dump names it (credentials never included).
    pub url: String,
    /// The dump's candidate errors for this URL.
    pub errors: Vec<&'c CandidateError>,
    /// What the captures say of it.
    pub verdict: TurnVerdict<'c>,
}

/// What the server-side captures show of the guest's checks to a relay address on a pair
/// that got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayLegVerdict {
    /// The captures show the relay's traffic but none of the guest's checks arriving.
    NeverArrived,
    /// The checks arrived and the relay sent answers out toward the guest, who got none.
    ReturnBlocked,
    /// The checks arrived; no answer left the relay (its client, the far end, did not answer).
    ArrivedNotAnswered,
    /// The captures show that relay port, but the dump names no public address of the guest
    /// (and no outside source on its local port) to find its checks by.
    GuestUnknown,
    /// No server-side capture shows that relay port.
    NotCovered,
}

/// A candidate pair of the dump toward a relay address with requests and no response.
#[derive(Debug, Clone)]
pub struct RelayLeg<'c> {
    /// The dump's candidate pair.
    pub pair: &'c CandidatePair,
    /// The relay address the pair's checks went to.
    pub relay: SocketAddr,
    /// The allocation that granted the relay, when a capture shows it.
    pub owner: Option<(usize, &'c Allocation)>,
    /// What the captures show of those checks.
    pub verdict: RelayLegVerdict,
    /// Sightings behind the verdict (a few).
    pub hops: Vec<Hop>,
}

/// The selected pair's relay found in a capture.
#[derive(Debug, Clone, Copy)]
pub struct SelectedRelay<'c> {
    /// The relay address of the selected pair.
    pub relay: SocketAddr,
    /// The relay is the guest's own (local candidate), not the far end's.
    pub local: bool,
    /// Index of the capture that shows the allocation granting it.
    pub cap: usize,
    /// That allocation.
    pub alloc: &'c Allocation,
}

/// A dump's peer connection joined with the case.
#[derive(Debug, Clone)]
pub struct DumpJoin<'c> {
    /// The dump's peer connection.
    pub pc: &'c PeerConnection,
    /// The guest's public addresses the dump shows.
    pub guest_sockets: BTreeSet<SocketAddr>,
    /// The guest's public IP addresses the dump shows (its server-reflexive candidates, its relay candidates' bases).
    pub guest_ips: BTreeSet<IpAddr>,
    /// The case's allocations that are this guest's.
    pub allocations: Vec<GuestAllocation<'c>>,
    /// The dump's clock against the captures'.
    pub clock: DumpClock,
    /// The dump's time window on the capture clock, tolerance included.
    pub window: Option<(i64, i64)>,
    /// Each TURN URL the dump reports errors for, with what the captures say.
    pub turn: Vec<TurnAttempt<'c>>,
    /// Pairs toward a relay address with requests and no response, with what the captures say.
    pub relay_legs: Vec<RelayLeg<'c>>,
    /// The selected pair's relay, when a capture shows it.
    pub selected_relay: Option<SelectedRelay<'c>>,
}

/// Join one peer connection with the case's server-side captures; `None` when the case has
/// none (a dump alone).
pub fn join<'c>(
    case: &'c Case,
    checks: &[CheckPath],
    pc: &'c PeerConnection,
) -> Option<DumpJoin<'c>> {
    let servers = case.with_role(Role::Server);
    if servers.is_empty() {
        return None;
    }
    let (guest_sockets, guest_ips) = guest_addresses(pc);
    let exact = exact_matches(case, &servers, pc, &guest_sockets);
    let clock = estimate_clock(pc, &exact);
    let window = pc.time_range.map(|r| {
        (
            clock.to_capture(r.first) - clock.tolerance_ns,
            clock.to_capture(r.last) + clock.tolerance_ns,
        )
    });
    let mut allocations = exact;
    if let Some(w) = window {
        let by_ip = ip_matches(case, &servers, &guest_ips, &allocations, w);
        allocations.extend(by_ip);
        if guest_ips.is_empty() {
            let by_port = port_matches(case, &servers, pc, &allocations, w);
            allocations.extend(by_port);
        }
    }
    // An allocation found by the local port names the guest's public address after all.
    let mut guest_ips = guest_ips;
    guest_ips.extend(
        allocations
            .iter()
            .filter(|g| matches!(g.matched_by, MatchedBy::LocalPort(_)))
            .map(|g| g.alloc.client.ip()),
    );
    let mut j = DumpJoin {
        pc,
        guest_sockets,
        guest_ips,
        allocations,
        clock,
        window,
        turn: Vec::new(),
        relay_legs: Vec::new(),
        selected_relay: None,
    };
    j.turn = turn_attempts(case, &servers, &j);
    j.relay_legs = relay_legs(case, checks, &j);
    j.selected_relay = selected_relay(case, &servers, pc);
    Some(j)
}

fn socket(address: &str, port: u16) -> Option<SocketAddr> {
    address
        .parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

/// The guest's public sockets (srflx candidates, relay candidates' bases, public host
/// candidates) and their IP addresses.
pub fn guest_addresses(pc: &PeerConnection) -> (BTreeSet<SocketAddr>, BTreeSet<IpAddr>) {
    let mut sockets = BTreeSet::new();
    for c in &pc.local_candidates {
        let public = match c.candidate_type {
            CandidateType::Srflx | CandidateType::Prflx => socket(&c.address, c.port),
            CandidateType::Host => socket(&c.address, c.port).filter(|a| !is_private(a.ip())),
            CandidateType::Relay => c
                .related_address
                .as_deref()
                .zip(c.related_port)
                .and_then(|(a, p)| socket(a, p)),
            CandidateType::Other(_) => None,
        };
        sockets.extend(public.filter(|a| !is_private(a.ip()) && !a.ip().is_unspecified()));
    }
    let ips = sockets.iter().map(SocketAddr::ip).collect();
    (sockets, ips)
}

/// An allocation's time (outcome, else first request) on the reference clock, and frame.
fn alloc_when(case: &Case, cap: usize, a: &Allocation) -> Option<(i64, u32)> {
    let c = case.captures.get(cap)?;
    let msg = match a.outcome {
        AllocOutcome::Success { msg } | AllocOutcome::Error { msg, .. } => Some(msg),
        _ => a
            .transactions
            .first()
            .and_then(|&t| c.transactions.get(t as usize))
            .and_then(|t| t.requests.first().copied()),
    }?;
    let m = c.msgs.get(msg as usize)?;
    Some((case.to_reference(cap, m.ts.0), m.frame))
}

fn server_allocations<'c>(
    case: &'c Case,
    servers: &[usize],
) -> impl Iterator<Item = (usize, &'c Allocation)> + 'c {
    let servers = servers.to_vec();
    servers.into_iter().flat_map(move |cap| {
        case.captures
            .get(cap)
            .into_iter()
            .flat_map(move |c| c.allocations.iter().map(move |a| (cap, a)))
    })
}

/// Allocations matched by a relay address or a public socket of the guest.
fn exact_matches<'c>(
    case: &'c Case,
    servers: &[usize],
    pc: &PeerConnection,
    guest_sockets: &BTreeSet<SocketAddr>,
) -> Vec<GuestAllocation<'c>> {
    let relays: BTreeSet<SocketAddr> = pc
        .relay_candidates()
        .filter_map(|c| socket(&c.address, c.port))
        .collect();
    let near = |at: i64| {
        pc.time_range.is_none_or(|r| {
            (r.first.micros * 1000 - EXACT_MATCH_WINDOW_NS
                ..=r.last.micros * 1000 + EXACT_MATCH_WINDOW_NS)
                .contains(&at)
        })
    };
    let mut out = Vec::new();
    for (cap, a) in server_allocations(case, servers) {
        let matched_by = if let Some(r) = a.relayed.filter(|r| relays.contains(r)) {
            MatchedBy::RelayAddress(r)
        } else if guest_sockets.contains(&a.client) {
            MatchedBy::PublicSocket(a.client)
        } else if let Some(m) = a.mapped.filter(|m| guest_sockets.contains(m)) {
            MatchedBy::PublicSocket(m)
        } else {
            continue;
        };
        let Some((at_ns, frame)) = alloc_when(case, cap, a) else {
            continue;
        };
        if near(at_ns) {
            out.push(GuestAllocation {
                cap,
                alloc: a,
                matched_by,
                at_ns,
                frame,
            });
        }
    }
    out
}

/// The dump's clock against the captures', from the allocations tied to a dump event: a relay
/// candidate's arrival follows its allocation's success; a candidate error with a STUN code
/// follows the allocation's error answer.
/// The zone a local clock's offset suggests: the nearest quarter hour (`+02:00`, `-05:30`).
pub fn zone_of(offset_ns: i64) -> String {
    const QUARTER_NS: i64 = 15 * 60 * SECOND;
    let quarters = (offset_ns as f64 / QUARTER_NS as f64).round() as i64;
    let minutes = quarters * 15;
    let sign = if minutes < 0 { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", minutes.abs() / 60, minutes.abs() % 60)
}

/// The time of a dump event as the join compares it: UTC, else (`local`) a zoneless local
/// reading, which only an offset estimated from matched events can place.
fn event_instant(at: Option<&EventTime>, local: &mut bool) -> Option<UtcTime> {
    let at = at?;
    at.utc().or_else(|| {
        let reading = at.wall_clock();
        *local |= reading.is_some();
        reading
    })
}

fn estimate_clock(pc: &PeerConnection, matched: &[GuestAllocation<'_>]) -> DumpClock {
    let mut deltas: Vec<i64> = Vec::new();
    let mut local = false;
    for g in matched {
        let dump_time = match (g.matched_by, &g.alloc.outcome) {
            (MatchedBy::RelayAddress(r), _) => pc
                .relay_candidates()
                .find(|c| socket(&c.address, c.port) == Some(r))
                .and_then(|c| event_instant(c.seen_at.as_ref(), &mut local)),
            (_, AllocOutcome::Error { code, .. }) => pc
                .candidate_errors
                .iter()
                .find(|e| e.code == *code && e.is_turn())
                .and_then(|e| event_instant(e.at.as_ref(), &mut local)),
            _ => None,
        };
        if let Some(t) = dump_time {
            deltas.push(t.micros.saturating_mul(1000) - g.at_ns);
        }
    }
    deltas.sort_unstable();
    match deltas.get(deltas.len() / 2) {
        Some(&median) => DumpClock {
            offset_ns: median,
            ties: deltas.len(),
            tolerance_ns: MATCHED_TOLERANCE_NS,
            local,
        },
        None => DumpClock {
            offset_ns: 0,
            ties: 0,
            tolerance_ns: UNMATCHED_TOLERANCE_NS,
            local: false,
        },
    }
}

/// Allocations from a public IP of the guest within the window, not matched already.
fn ip_matches<'c>(
    case: &'c Case,
    servers: &[usize],
    guest_ips: &BTreeSet<IpAddr>,
    already: &[GuestAllocation<'c>],
    window: (i64, i64),
) -> Vec<GuestAllocation<'c>> {
    matches_in_window(case, servers, already, window, |a| {
        guest_ips
            .contains(&a.client.ip())
            .then_some(MatchedBy::PublicIp(a.client.ip()))
    })
}

/// Allocations from an outside address on one of the guest's local ports (host candidates,
/// the ports its candidate errors name) within the window: where the dump shows no public
/// address (its STUN and TURN requests all failed), a NAT that keeps ports still names it.
fn port_matches<'c>(
    case: &'c Case,
    servers: &[usize],
    pc: &PeerConnection,
    already: &[GuestAllocation<'c>],
    window: (i64, i64),
) -> Vec<GuestAllocation<'c>> {
    let ports: BTreeSet<u16> = pc
        .local_candidates
        .iter()
        .filter(|c| c.candidate_type == CandidateType::Host)
        .map(|c| c.port)
        .chain(pc.candidate_errors.iter().filter_map(|e| e.port))
        .filter(|&p| p != 0)
        .collect();
    matches_in_window(case, servers, already, window, |a| {
        (!is_private(a.client.ip()) && ports.contains(&a.client.port()))
            .then_some(MatchedBy::LocalPort(a.client))
    })
}

/// The servers' allocations that `matched_by` names, not matched already, made within the
/// window (capture clock, nanoseconds).
fn matches_in_window<'c>(
    case: &'c Case,
    servers: &[usize],
    already: &[GuestAllocation<'c>],
    window: (i64, i64),
    matched_by: impl Fn(&Allocation) -> Option<MatchedBy>,
) -> Vec<GuestAllocation<'c>> {
    server_allocations(case, servers)
        .filter(|(_, a)| !already.iter().any(|g| std::ptr::eq(g.alloc, *a)))
        .filter_map(|(cap, a)| {
            let matched_by = matched_by(a)?;
            let (at_ns, frame) = alloc_when(case, cap, a)?;
            (window.0..=window.1)
                .contains(&at_ns)
                .then_some(GuestAllocation {
                    cap,
                    alloc: a,
                    matched_by,
                    at_ns,
                    frame,
                })
        })
        .collect()
}

/// The transport a TURN URL makes the browser allocate over, as the capture names it.
fn url_transport(url: &str) -> Option<&'static str> {
    let server = crate::sources::webrtc::config::parse_ice_url(url);
    match server.relay_protocol()? {
        RelayProtocol::Udp => Some("udp"),
        RelayProtocol::Tcp | RelayProtocol::Tls => Some("tcp"),
        RelayProtocol::Other(_) => None,
    }
}

/// Per TURN URL with errors: what the captures show of the guest's attempt.
fn turn_attempts<'c>(case: &'c Case, servers: &[usize], j: &DumpJoin<'c>) -> Vec<TurnAttempt<'c>> {
    let mut urls: Vec<&str> =
        j.pc.candidate_errors
            .iter()
            .filter(|e| e.is_turn())
            .map(|e| e.url.as_str())
            .collect();
    urls.sort_unstable();
    urls.dedup();
    urls.into_iter()
        .map(|url| {
            let errors: Vec<&CandidateError> =
                j.pc.candidate_errors
                    .iter()
                    .filter(|e| e.url == url)
                    .collect();
            let verdict = turn_verdict(case, servers, j, url, &errors);
            TurnAttempt {
                url: url.to_string(),
                errors,
                verdict,
            }
        })
        .collect()
}

fn turn_verdict<'c>(
    case: &'c Case,
    servers: &[usize],
    j: &DumpJoin<'c>,
    url: &str,
    errors: &[&CandidateError],
) -> TurnVerdict<'c> {
    let transport = url_transport(url);
    let mine = j
        .allocations
        .iter()
        .filter(|g| transport.is_none_or(|t| g.alloc.transport.as_str() == t));
    let codes: BTreeSet<u16> = errors.iter().map(|e| e.code).collect();
    let mut answered = None;
    for g in mine {
        match g.alloc.outcome {
            AllocOutcome::Error { code, .. } if codes.contains(&code) => {
                return TurnVerdict::Refused { code, alloc: *g }
            }
            AllocOutcome::NoResponse if codes.contains(&701) => {
                return TurnVerdict::Unanswered { alloc: *g }
            }
            _ if codes.contains(&701) => answered = answered.or(Some(*g)),
            _ => {}
        }
    }
    if let Some(alloc) = answered {
        return TurnVerdict::AnswerLost {
            alloc,
            retried_after_answer: retried_after_answer(case, &alloc),
        };
    }
    let Some(window) = j.window else {
        return TurnVerdict::NotCovered;
    };
    let covered = servers.iter().any(|&cap| {
        let Some(c) = case.captures.get(cap) else {
            return false;
        };
        let (Some(first), Some(last)) = (c.first_ts, c.last_ts) else {
            return false;
        };
        case.to_reference(cap, first.0) <= window.1 && case.to_reference(cap, last.0) >= window.0
    });
    if !covered {
        return TurnVerdict::NotCovered;
    }
    if !j.guest_ips.is_empty() {
        return TurnVerdict::NeverArrived;
    }
    // The dump names no public address: any outside client's allocation in the window may
    // have been this guest's.
    let outside: BTreeSet<IpAddr> = server_allocations(case, servers)
        .filter(|(_, a)| !is_private(a.client.ip()))
        .filter(|(_, a)| transport.is_none_or(|t| a.transport.as_str() == t))
        .filter(|(cap, a)| {
            alloc_when(case, *cap, a).is_some_and(|(at, _)| (window.0..=window.1).contains(&at))
        })
        .map(|(_, a)| a.client.ip())
        .collect();
    if outside.is_empty() {
        TurnVerdict::NeverArrived
    } else {
        TurnVerdict::Unattributed {
            outside_clients: outside.len(),
        }
    }
}

/// The guest sent a request of this allocation again at least twice after its answer.
fn retried_after_answer(case: &Case, g: &GuestAllocation<'_>) -> bool {
    let Some(c) = case.captures.get(g.cap) else {
        return false;
    };
    g.alloc
        .transactions
        .iter()
        .filter_map(|&t| c.transactions.get(t as usize))
        .any(|t| c.requests_after_response(t) >= 2)
}

/// The dump's pairs toward a relay address that sent checks and got no answer, each with what
/// the server-side captures show of those checks at the relay.
fn relay_legs<'c>(case: &'c Case, checks: &[CheckPath], j: &DumpJoin<'c>) -> Vec<RelayLeg<'c>> {
    let mut out = Vec::new();
    for pair in &j.pc.pairs {
        let Some(remote) = pair.remote.as_ref() else {
            continue;
        };
        let Some(relay) = socket(&remote.address, remote.port) else {
            continue;
        };
        let owner = case.captures.iter().enumerate().find_map(|(cap, c)| {
            c.allocations
                .iter()
                .find(|a| a.relayed == Some(relay))
                .map(|a| (cap, a))
        });
        let toward_relay = remote.candidate_type == CandidateType::Relay || owner.is_some();
        let unanswered = pair.requests_sent.unwrap_or(0) > 0
            && pair.responses_received.unwrap_or(0) == 0
            && pair.state != Some(PairState::Succeeded);
        if !toward_relay || !unanswered {
            continue;
        }
        if out.len() == MAX_RELAY_LEGS {
            break;
        }
        let (verdict, hops) = relay_leg_verdict(case, checks, j, pair, relay);
        out.push(RelayLeg {
            pair,
            relay,
            owner,
            verdict,
            hops,
        });
    }
    out
}

/// The relay's side of a failed pair: the guest's checks arriving at the relay port (from a
/// public address of the guest), answers leaving it toward the guest, or only other traffic
/// of that relay port. Matched by port: behind static NAT the capture shows the relay's
/// private address.
fn relay_leg_verdict(
    case: &Case,
    checks: &[CheckPath],
    j: &DumpJoin<'_>,
    pair: &CandidatePair,
    relay: SocketAddr,
) -> (RelayLegVerdict, Vec<Hop>) {
    let on_wire = |h: &&Hop| {
        !matches!(h.leg, Leg::ClientToServer | Leg::ServerToClient)
            && case.roles.get(h.cap) == Some(&Role::Server)
            && j.window.is_none_or(|(a, b)| (a..=b).contains(&h.ts))
    };
    // Without a public address in the dump, a NAT that kept the guest's local port still
    // names it: an outside source on that port.
    let local_port = pair.local.as_ref().map(|c| c.port);
    let is_guest = |a: SocketAddr| {
        j.guest_ips.contains(&a.ip())
            || (j.guest_ips.is_empty() && !is_private(a.ip()) && Some(a.port()) == local_port)
    };
    let from_guest = |h: &&Hop| h.dst.port() == relay.port() && is_guest(h.src);
    let to_guest = |h: &&Hop| h.src.port() == relay.port() && is_guest(h.dst);
    let mut arrivals = Vec::new();
    let mut answers_out = Vec::new();
    let mut covered = false;
    for p in checks {
        for h in p.requests.iter().chain(&p.answers).filter(on_wire) {
            covered |= h.src.port() == relay.port() || h.dst.port() == relay.port();
        }
        arrivals.extend(p.requests.iter().filter(on_wire).filter(from_guest).take(1));
        answers_out.extend(p.answers.iter().filter(on_wire).filter(to_guest).take(1));
    }
    let few = |mut v: Vec<Hop>| {
        v.sort_by_key(|h| (h.ts, h.cap, h.frame));
        v.truncate(4);
        v
    };
    if !answers_out.is_empty() {
        (RelayLegVerdict::ReturnBlocked, few(answers_out))
    } else if !arrivals.is_empty() {
        (RelayLegVerdict::ArrivedNotAnswered, few(arrivals))
    } else if covered && !j.guest_ips.is_empty() {
        (RelayLegVerdict::NeverArrived, Vec::new())
    } else if covered {
        (RelayLegVerdict::GuestUnknown, Vec::new())
    } else {
        (RelayLegVerdict::NotCovered, Vec::new())
    }
}

/// The selected pair's relay (the guest's own, else the far end's) as an allocation of a
/// server-side capture.
fn selected_relay<'c>(
    case: &'c Case,
    servers: &[usize],
    pc: &PeerConnection,
) -> Option<SelectedRelay<'c>> {
    let pair = pc.selected_pair()?;
    let ends = [(pair.local.as_ref(), true), (pair.remote.as_ref(), false)];
    ends.into_iter().find_map(|(c, local)| {
        let c = c.filter(|c| c.candidate_type == CandidateType::Relay)?;
        let relay = socket(&c.address, c.port)?;
        server_allocations(case, servers)
            .find(|(_, a)| a.relayed == Some(relay))
            .map(|(cap, alloc)| SelectedRelay {
                relay,
                local,
                cap,
                alloc,
            })
    })
}
