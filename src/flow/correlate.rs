//! Cross-capture correlation: the same transaction id on both sides of a NAT gives the NAT
//! mapping, the clock offset between the captures and, per transaction, how far it got.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::case::{Case, Sighting};
use super::vantage::Role;

/// A capture's clock minus the reference capture's clock.
#[derive(Debug, Clone, Serialize)]
pub struct ClockOffset {
    /// Nanoseconds to subtract from this capture's times to get the reference's.
    pub nanos: i64,
    /// How it was found: "round trip" (symmetric delays assumed, error at most `error_ms`) or
    /// "one way" (an upper bound: requests only).
    pub method: &'static str,
    /// Upper bound of the error, milliseconds.
    pub error_ms: f64,
    /// Transactions both captures saw that the offset was computed from.
    pub transactions: usize,
}

/// What the server sees instead of what the client sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NatMapping {
    /// "udp", "tcp" or "tls".
    pub transport: Cow<'static, str>,
    /// Client side: source and destination as the client capture shows them.
    pub client_src: SocketAddr,
    /// Destination as the client capture shows it (normally the server's public address).
    pub client_dst: SocketAddr,
    /// Server side: the same packets as the server capture shows them.
    pub server_src: SocketAddr,
    /// Destination as the server capture shows it.
    pub server_dst: SocketAddr,
    /// Transactions seen on both sides with this mapping.
    pub transactions: usize,
    /// Name of the client-side capture.
    pub client_capture: String,
    /// Name of the server-side capture.
    pub server_capture: String,
    /// Frame of the first such transaction's request in the client capture.
    pub client_frame: u32,
    /// Frame of the same request in the server capture.
    pub server_frame: u32,
}

/// How far a transaction got, on the reference clock (seconds since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxPath {
    /// When the request left the client, None when no client capture saw it.
    pub left_client: Option<f64>,
    /// When the request reached the server, None when no server capture saw it.
    pub reached_server: Option<f64>,
    /// When the server answered, None when no answer was captured.
    pub answered: Option<f64>,
    /// When the answer reached the client, None when the client capture did not see it.
    pub answer_reached_client: Option<f64>,
    /// "client" (never reached the server), "server" (reached it, never answered),
    /// "answered" (answer never reached the client), "complete".
    pub last_seen: Cow<'static, str>,
}

fn secs(n: i64) -> f64 {
    n as f64 / 1e9
}

/// Fill in offsets, NAT mappings and paths.
pub fn correlate(case: &mut Case) {
    let has_clients = case.roles.contains(&Role::Client);
    let has_servers = case.roles.contains(&Role::Server);
    case.reference = case
        .roles
        .iter()
        .position(|r| *r == Role::Client)
        .unwrap_or(0);
    // Offsets of each capture against the reference: through shared requests.
    case.offsets = offsets_from(case, case.reference);
    let clients = |s: &&Sighting| case.roles.get(s.cap) == Some(&Role::Client);
    let servers = |s: &&Sighting| case.roles.get(s.cap) == Some(&Role::Server);

    let mut nat: BTreeMap<
        (SocketAddr, SocketAddr, SocketAddr, SocketAddr, &'static str),
        NatMapping,
    > = BTreeMap::new();
    let mut paths = std::collections::HashMap::new();
    for (ti, t) in case.txs.iter().enumerate() {
        let c_s = t.sightings.iter().find(clients).copied();
        let s_s = t.sightings.iter().find(servers).copied();
        if c_s.is_none() && s_s.is_none() {
            continue;
        }
        let cq = c_s.and_then(|s| case.request(s));
        let cr = c_s.and_then(|s| case.response(s));
        let sq = s_s.and_then(|s| case.request(s));
        let sr = s_s.and_then(|s| case.response(s));
        if let (Some(cq), Some(sq), Some(cs), Some(ss)) = (cq, sq, c_s, s_s) {
            if cq.carried.is_none() && sq.carried.is_none() && cq.transport == sq.transport {
                let e = nat
                    .entry((cq.src, cq.dst, sq.src, sq.dst, cq.transport.as_str()))
                    .or_insert_with(|| NatMapping {
                        transport: cq.transport.as_str().into(),
                        client_src: cq.src,
                        client_dst: cq.dst,
                        server_src: sq.src,
                        server_dst: sq.dst,
                        transactions: 0,
                        client_capture: case.captures[cs.cap].name.clone(),
                        server_capture: case.captures[ss.cap].name.clone(),
                        client_frame: cq.frame,
                        server_frame: sq.frame,
                    });
                e.transactions += 1;
            }
        }
        // Paths only where both sides were captured.
        if !has_clients || !has_servers {
            continue;
        }
        let conv = |cap: Option<usize>, ts: i64| secs(case.to_reference(cap.unwrap_or(0), ts));
        let left_client = cq.map(|m| conv(c_s.map(|s| s.cap), m.ts.0));
        let reached_server = sq.map(|m| conv(s_s.map(|s| s.cap), m.ts.0));
        let answered = sr.map(|m| conv(s_s.map(|s| s.cap), m.ts.0));
        let answer_reached_client = cr.map(|m| conv(c_s.map(|s| s.cap), m.ts.0));
        let last_seen = if answer_reached_client.is_some() {
            "complete"
        } else if answered.is_some() {
            "answered"
        } else if reached_server.is_some() {
            "server"
        } else {
            "client"
        };
        paths.insert(
            ti,
            TxPath {
                left_client,
                reached_server,
                answered,
                answer_reached_client,
                last_seen: last_seen.into(),
            },
        );
    }
    case.nat = nat.into_values().collect();
    case.paths = paths;
}

/// What the transactions one capture shares with the reference say about its clock.
#[derive(Debug, Default, Clone, Copy)]
struct OffsetEvidence {
    /// The answered transaction with the shortest round trip: (round trip delay, offset).
    best: Option<(i64, i64)>,
    /// The tightest bound from requests only.
    one_way: Option<i64>,
    transactions: usize,
}

/// Clock of every capture minus clock of `reference`, from the transactions each shares with
/// it: one pass over the transactions, each looked at in the captures that saw it.
fn offsets_from(case: &Case, reference: usize) -> Vec<Option<ClockOffset>> {
    // Which one is nearer the client decides the direction of the delays.
    let ref_is_client = case.roles.get(reference) != Some(&Role::Server);
    let mut evidence = vec![OffsetEvidence::default(); case.captures.len()];
    for t in &case.txs {
        let Some(a) = t.sightings.iter().find(|s| s.cap == reference) else {
            continue;
        };
        let Some(qa) = case.request(*a) else { continue };
        let ra = case.response(*a);
        for b in t.sightings.iter().filter(|s| s.cap != reference) {
            let (Some(qb), Some(e)) = (case.request(*b), evidence.get_mut(b.cap)) else {
                continue;
            };
            e.transactions += 1;
            // d_fwd: request seen at x minus seen at the reference.
            let d_fwd = qb.ts.0 - qa.ts.0;
            match (ra, case.response(*b)) {
                (Some(ra), Some(rb)) => {
                    let d_back = ra.ts.0 - rb.ts.0;
                    // Reference nearer the client: x = ref + delay + offset on the way in.
                    let (delay, offset) = if ref_is_client {
                        (d_fwd + d_back, (d_fwd - d_back) / 2)
                    } else {
                        (-(d_fwd + d_back), (d_fwd - d_back) / 2)
                    };
                    if e.best.is_none_or(|(d, _)| delay.abs() < d.abs()) {
                        e.best = Some((delay, offset));
                    }
                }
                _ => {
                    let bound = if ref_is_client { d_fwd } else { -d_fwd };
                    if e.one_way.is_none_or(|o| bound < o) {
                        e.one_way = Some(bound);
                    }
                }
            }
        }
    }
    evidence
        .into_iter()
        .enumerate()
        .map(|(x, e)| {
            if x == reference {
                None
            } else {
                offset(e, ref_is_client)
            }
        })
        .collect()
}

fn offset(e: OffsetEvidence, ref_is_client: bool) -> Option<ClockOffset> {
    if let Some((delay, offset)) = e.best {
        return Some(ClockOffset {
            nanos: offset,
            method: "round trip",
            error_ms: delay.abs() as f64 / 2e6,
            transactions: e.transactions,
        });
    }
    e.one_way.map(|o| ClockOffset {
        nanos: if ref_is_client { o } else { -o },
        method: "one way",
        error_ms: 0.0,
        transactions: e.transactions,
    })
}
