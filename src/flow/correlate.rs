//! Cross-capture correlation: the same transaction id on both sides of a NAT gives the NAT
//! mapping, the clock offset between the captures and, per transaction, how far it got.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use super::case::Case;
use super::vantage::Role;

/// A capture's clock minus the reference capture's clock.
#[derive(Debug, Clone, Serialize)]
pub struct ClockOffset {
    pub nanos: i64,
    /// How it was found: "round trip" (symmetric delays assumed, error at most `error_ms`) or
    /// "one way" (an upper bound: requests only).
    pub method: &'static str,
    pub error_ms: f64,
    pub transactions: usize,
}

/// What the server sees instead of what the client sent.
#[derive(Debug, Clone, Serialize)]
pub struct NatMapping {
    pub transport: &'static str,
    /// Client side: source and destination as the client capture shows them.
    pub client_src: SocketAddr,
    pub client_dst: SocketAddr,
    /// Server side: the same packets as the server capture shows them.
    pub server_src: SocketAddr,
    pub server_dst: SocketAddr,
    pub transactions: usize,
    pub client_capture: String,
    pub server_capture: String,
    pub client_frame: u32,
    pub server_frame: u32,
}

/// How far a transaction got, on the reference clock (seconds since the epoch).
#[derive(Debug, Clone, Serialize)]
pub struct TxPath {
    pub left_client: Option<f64>,
    pub reached_server: Option<f64>,
    pub answered: Option<f64>,
    pub answer_reached_client: Option<f64>,
    /// "client" (never reached the server), "server" (reached it, never answered),
    /// "answered" (answer never reached the client), "complete".
    pub last_seen: &'static str,
}

fn secs(n: i64) -> f64 {
    n as f64 / 1e9
}

/// Fill in offsets, NAT mappings and paths.
pub fn correlate(case: &mut Case) {
    let clients = case.with_role(Role::Client);
    let servers = case.with_role(Role::Server);
    case.reference = clients.first().copied().unwrap_or(0);
    // Offsets of each capture against the reference: through shared requests.
    let n = case.captures.len();
    let mut offsets = vec![None; n];
    for (x, slot) in offsets.iter_mut().enumerate() {
        if x == case.reference {
            continue;
        }
        *slot = offset_between(case, case.reference, x);
    }
    case.offsets = offsets;

    let mut nat: BTreeMap<
        (SocketAddr, SocketAddr, SocketAddr, SocketAddr, &'static str),
        NatMapping,
    > = BTreeMap::new();
    let mut paths = std::collections::HashMap::new();
    for (ti, t) in case.txs.iter().enumerate() {
        let c_s = t
            .sightings
            .iter()
            .find(|s| clients.contains(&s.cap))
            .copied();
        let s_s = t
            .sightings
            .iter()
            .find(|s| servers.contains(&s.cap))
            .copied();
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
                        transport: cq.transport.as_str(),
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
        if clients.is_empty() || servers.is_empty() {
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
                last_seen,
            },
        );
    }
    case.nat = nat.into_values().collect();
    case.paths = paths;
}

/// Clock of `x` minus clock of `reference`, from transactions seen in both.
fn offset_between(case: &Case, reference: usize, x: usize) -> Option<ClockOffset> {
    // Which one is nearer the client decides the direction of the delays.
    let ref_is_client = case.roles[reference] != Role::Server;
    let mut best: Option<(i64, i64)> = None; // (round trip delay, offset)
    let mut count = 0;
    let mut one_way: Option<i64> = None;
    for t in &case.txs {
        let a = t.sightings.iter().find(|s| s.cap == reference);
        let b = t.sightings.iter().find(|s| s.cap == x);
        let (Some(a), Some(b)) = (a, b) else { continue };
        let (Some(qa), Some(qb)) = (case.request(*a), case.request(*b)) else {
            continue;
        };
        count += 1;
        // d_fwd: request seen at x minus seen at the reference.
        let d_fwd = qb.ts.0 - qa.ts.0;
        match (case.response(*a), case.response(*b)) {
            (Some(ra), Some(rb)) => {
                let d_back = ra.ts.0 - rb.ts.0;
                // Reference nearer the client: x = ref + delay + offset on the way in.
                let (delay, offset) = if ref_is_client {
                    (d_fwd + d_back, (d_fwd - d_back) / 2)
                } else {
                    (-(d_fwd + d_back), (d_fwd - d_back) / 2)
                };
                if best.is_none_or(|(d, _)| delay.abs() < d.abs()) {
                    best = Some((delay, offset));
                }
            }
            _ => {
                let bound = if ref_is_client { d_fwd } else { -d_fwd };
                if one_way.is_none_or(|o| bound < o) {
                    one_way = Some(bound);
                }
            }
        }
    }
    if let Some((delay, offset)) = best {
        return Some(ClockOffset {
            nanos: offset,
            method: "round trip",
            error_ms: delay.abs() as f64 / 2e6,
            transactions: count,
        });
    }
    one_way.map(|o| ClockOffset {
        nanos: if ref_is_client { o } else { -o },
        method: "one way",
        error_ms: 0.0,
        transactions: count,
    })
}
