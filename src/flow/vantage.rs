//! Vantage points: which capture was taken on the client side and which on the TURN server.
//!
//! Nothing here assumes addresses or ports. The signals, strongest first:
//! - a success's XOR-MAPPED-ADDRESS differs from the request's source: a NAT sits between this
//!   capture and the server, so this is the client side;
//! - raw traffic between a relayed address and a permitted peer: only the server sees that leg;
//! - for the same transactions in two captures, the request-to-answer time is shorter where the
//!   capture is nearer the server (clock offsets do not matter for this);
//! - answers leaving in one capture that never arrive in the other;
//! - Linux "any" link types (SLL, SLL2), typical of tcpdump on an Expressway;
//! - requests from a private address to a public server address.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::wire::{Class, Method};

use super::case::{Case, CaseTx, Sighting};
use super::is_private;

/// Where a capture was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// At or near the TURN client (the browser or endpoint side).
    Client,
    /// At or near the TURN server (Expressway/CMS side).
    Server,
    /// Neither the command line nor the traffic tells.
    Unknown,
}

impl Role {
    /// Lower-case name as in the JSON: "client", "server", "unknown".
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
            Role::Unknown => "unknown",
        }
    }

    fn opposite(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
            Role::Unknown => Role::Unknown,
        }
    }
}

const LINKTYPE_LINUX_SLL: u32 = 113;
const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Score one capture on its own: positive means server side, negative client side.
fn own_score(case: &Case, cap: usize, why: &mut Vec<String>) -> i32 {
    let c = &case.captures[cap];
    let mut score = 0;
    let (mut nat_seen, mut same_seen) = (None, 0);
    for t in &c.transactions {
        if !matches!(t.method, Method::ALLOCATE | Method::BINDING) {
            continue;
        }
        let (Some(rq), Some(rs)) = (c.request(t), c.final_response(t)) else {
            continue;
        };
        if rq.carried.is_some() || rs.class != Class::Success || rq.ice.is_some() {
            continue;
        }
        if let Some(mapped) = rs.mapped {
            if mapped != rq.src && nat_seen.is_none() {
                nat_seen = Some((rq.src, mapped, rq.frame));
            } else if mapped == rq.src {
                same_seen += 1;
            }
        }
    }
    if let Some((src, mapped, frame)) = nat_seen {
        score -= 4;
        why.push(format!(
            "requests leave from {src} but the server sees {mapped} (NAT in between, frame {frame})"
        ));
    } else if same_seen > 0 {
        score += 1;
        why.push("requests arrive from the address the server reports back".into());
    }
    // The relay leg: relayed address <-> permitted peer, raw.
    // A peer on the allocating client's own host (a local ICE agent) proves nothing.
    let mut permitted: HashSet<std::net::SocketAddr> = HashSet::new();
    let clients: HashSet<std::net::IpAddr> = c.allocations.iter().map(|a| a.client.ip()).collect();
    for a in &c.allocations {
        permitted.extend(
            a.permissions
                .iter()
                .filter(|p| !clients.contains(&p.ip()))
                .copied(),
        );
    }
    for (k, cnt) in &c.traffic {
        let relay_to_peer = case.relayed.contains(&k.src) && permitted.contains(&k.dst);
        let peer_to_relay = case.relayed.contains(&k.dst) && permitted.contains(&k.src);
        if relay_to_peer || peer_to_relay {
            score += 4;
            why.push(format!(
                "relay leg {} -> {} visible (frame {})",
                k.src, k.dst, cnt.first_frame
            ));
            break;
        }
    }
    if c.link_types
        .iter()
        .any(|l| *l == LINKTYPE_LINUX_SLL || *l == LINKTYPE_LINUX_SLL2)
    {
        score += 1;
        why.push("Linux cooked capture (tcpdump -i any)".into());
    }
    // Private source to public TURN endpoint.
    let mut priv_to_pub = false;
    let mut pub_to_priv_relay = false;
    for t in &c.transactions {
        if let Some(rq) = c.request(t) {
            if rq.carried.is_none()
                && case.is_turn_endpoint(rq.dst, rq.transport)
                && is_private(rq.src.ip())
                && !is_private(rq.dst.ip())
            {
                priv_to_pub = true;
            }
            if rq.carried.is_none()
                && !is_private(rq.src.ip())
                && is_private(rq.dst.ip())
                && case.is_turn_endpoint(rq.dst, rq.transport)
            {
                pub_to_priv_relay = true;
            }
        }
    }
    if priv_to_pub {
        score -= 2;
        why.push("requests from a private address to a public TURN address".into());
    }
    if pub_to_priv_relay {
        score += 1;
        why.push("public clients reach a private TURN address (server behind static NAT)".into());
    }
    score
}

fn median(v: &mut [i64]) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// Sightings of one transaction compared pairwise, at most: real cases show a transaction in
/// two or three captures (client, server, a capture in between); one that shows in more
/// (copies of one capture) adds the pairs of its first sightings only, so that the work stays
/// linear in transactions, whatever the number of captures.
pub const MAX_PAIRED_SIGHTINGS: usize = 8;

/// What the transactions two captures share say about them. Index 0 is the lower-numbered
/// capture, 1 the higher.
#[derive(Debug, Default)]
struct PairEvidence {
    /// Request-to-answer times (answers and ICMP errors).
    rtt: [Vec<i64>; 2],
    /// Transactions answered in one capture and not the other.
    answered_only: [u32; 2],
    /// Transactions whose request shows on the wire in both.
    shared: u32,
}

/// The first sightings of a transaction that are compared pairwise.
fn paired(t: &CaseTx) -> &[Sighting] {
    &t.sightings[..t.sightings.len().min(MAX_PAIRED_SIGHTINGS)]
}

/// Evidence for every pair of captures that share a transaction, found through the
/// transactions' sightings (captures that share nothing are never compared).
fn pair_evidence(case: &Case) -> BTreeMap<(usize, usize), PairEvidence> {
    let mut pairs: BTreeMap<(usize, usize), PairEvidence> = BTreeMap::new();
    for t in &case.txs {
        let seen = paired(t);
        for (i, &sa) in seen.iter().enumerate() {
            for &sb in seen.iter().skip(i + 1) {
                // Sightings are in capture order, one per capture.
                let (sa, sb) = if sa.cap < sb.cap { (sa, sb) } else { (sb, sa) };
                let (ta, tb) = (case.tx(sa), case.tx(sb));
                let (ca, cb) = (&case.captures[sa.cap], &case.captures[sb.cap]);
                let (Some(qa), Some(qb)) = (ca.request(ta), cb.request(tb)) else {
                    continue;
                };
                if qa.carried.is_some() || qb.carried.is_some() {
                    continue;
                }
                let e = pairs.entry((sa.cap, sb.cap)).or_default();
                e.shared += 1;
                match (ca.response(ta), cb.response(tb)) {
                    (Some(ra), Some(rb)) => {
                        e.rtt[0].push(ra.ts.0 - qa.ts.0);
                        e.rtt[1].push(rb.ts.0 - qb.ts.0);
                    }
                    (Some(_), None) => e.answered_only[0] += 1,
                    (None, Some(_)) => e.answered_only[1] += 1,
                    _ => {}
                }
            }
        }
    }
    icmp_answers(case, &mut pairs);
    pairs
}

/// ICMP errors quoting a request count like answers for timing, in every pair the request's
/// transaction is compared in.
fn icmp_answers(case: &Case, pairs: &mut BTreeMap<(usize, usize), PairEvidence>) {
    for (x, c) in case.captures.iter().enumerate() {
        for u in &c.unreachable {
            let Some((txid, _, _)) = u.stun else { continue };
            let Some(t) = case.by_txid.get(&txid).and_then(|&i| case.txs.get(i)) else {
                continue;
            };
            let seen = paired(t);
            let Some(q) = seen
                .iter()
                .find(|s| s.cap == x)
                .and_then(|s| case.request(*s))
            else {
                continue;
            };
            if u.ts < q.ts {
                continue;
            }
            for other in seen.iter().filter(|s| s.cap != x) {
                let (key, side) = if x < other.cap {
                    ((x, other.cap), 0)
                } else {
                    ((other.cap, x), 1)
                };
                // Pairs that share no request are not scored: no need to start one here.
                if let Some(e) = pairs.get_mut(&key) {
                    e.rtt[side].push(u.ts.0 - q.ts.0);
                }
            }
        }
    }
}

/// The score (positive: nearer the server) and reasons of one capture of a pair (`me`: 0 or
/// 1 in [`PairEvidence`]) against the other, named `other`.
fn pair_score(
    e: &PairEvidence,
    me: usize,
    medians: [Option<i64>; 2],
    other: &str,
) -> (i32, Vec<String>) {
    let mut why = Vec::new();
    let mut score = 0;
    if e.shared == 0 {
        return (0, why);
    }
    let them = 1 - me;
    if let (Some(ma), Some(mb)) = (medians[me], medians[them]) {
        if ma < mb {
            score += 2;
            why.push(format!(
                "answers come back faster here ({:.3} ms vs {:.3} ms in {other}): nearer the server",
                ma as f64 / 1e6,
                mb as f64 / 1e6,
            ));
        } else if mb < ma {
            score -= 2;
            why.push(format!(
                "answers take longer here ({:.3} ms vs {:.3} ms in {other}): nearer the client",
                ma as f64 / 1e6,
                mb as f64 / 1e6,
            ));
        }
    }
    let (only_me, only_them) = (e.answered_only[me], e.answered_only[them]);
    if only_me > only_them {
        score += 2;
        why.push(format!(
            "{only_me} answer(s) seen here never show in {other}"
        ));
    } else if only_them > only_me {
        score -= 2;
        why.push(format!("{only_them} answer(s) in {other} never show here"));
    }
    (score, why)
}

/// Add every pair's scores and reasons to both of its captures. Reasons come in the order of
/// the other capture, as the pairs are in key order.
fn score_pairs(case: &Case, scores: &mut [i32], whys: &mut [Vec<String>]) {
    for ((a, b), mut e) in pair_evidence(case) {
        let [ra, rb] = &mut e.rtt;
        let medians = [median(ra), median(rb)];
        for (me, other) in [(a, b), (b, a)] {
            let side = usize::from(me == b);
            let (s, why) = pair_score(&e, side, medians, case.name(other));
            if let (Some(score), Some(w)) = (scores.get_mut(me), whys.get_mut(me)) {
                *score += s;
                w.extend(why);
            }
        }
    }
}

/// Decide every capture's role: given hints first, then evidence, then complements.
pub fn assign_roles(case: &mut Case, hints: &[Option<Role>]) {
    let n = case.captures.len();
    let mut scores = vec![0i32; n];
    let mut whys: Vec<Vec<String>> = vec![Vec::new(); n];
    for i in 0..n {
        let mut why = Vec::new();
        scores[i] = own_score(case, i, &mut why);
        whys[i] = why;
    }
    score_pairs(case, &mut scores, &mut whys);
    let mut roles = vec![Role::Unknown; n];
    let mut reasons = vec![String::new(); n];
    let mut doubts = vec![None; n];
    for i in 0..n {
        if let Some(Some(r)) = hints.get(i) {
            roles[i] = *r;
            reasons[i] = "given on the command line".into();
            doubts[i] = doubt(*r, scores[i], &whys[i]);
        } else if scores[i] > 0 {
            roles[i] = Role::Server;
            reasons[i] = whys[i].join("; ");
        } else if scores[i] < 0 {
            roles[i] = Role::Client;
            reasons[i] = whys[i].join("; ");
        }
    }
    // Two captures of one case: one from each side.
    if n == 2 {
        for (i, j) in [(0, 1), (1, 0)] {
            if roles[i] == Role::Unknown && roles[j] != Role::Unknown {
                roles[i] = roles[j].opposite();
                reasons[i] = format!(
                    "the other capture ({}) is the {} side",
                    case.captures[j].name,
                    roles[j].as_str()
                );
            }
        }
        // Both unknown: a capture whose requests to the server go unanswered and nothing else
        // distinguishes is taken as the client side.
        if roles[0] == Role::Unknown && roles[1] == Role::Unknown {
            let stun0 = case.captures[0].msgs.len();
            let stun1 = case.captures[1].msgs.len();
            if stun0 > 0 && stun1 == 0 {
                roles = vec![Role::Client, Role::Server];
                reasons[0] =
                    "the only capture with STUN traffic (the server capture shows none)".into();
                reasons[1] = "shows none of the client's requests".into();
            } else if stun1 > 0 && stun0 == 0 {
                roles = vec![Role::Server, Role::Client];
                reasons[1] =
                    "the only capture with STUN traffic (the server capture shows none)".into();
                reasons[0] = "shows none of the client's requests".into();
            }
        }
    }
    for i in 0..n {
        if roles[i] == Role::Unknown {
            reasons[i] = why_unknown(case, i, &whys[i]);
        }
    }
    case.roles = roles;
    case.role_reasons = reasons;
    case.role_doubts = doubts;
}

/// Evidence this strong (one clear signal: a NAT between capture and server, the relay leg,
/// faster answers than another capture) against a given role is worth saying; a single weak
/// hint (a cooked link type, no NAT seen) is not.
const CONTRADICTION_SCORE: i32 = 2;

/// What the capture's own evidence says against the role given for it, if anything.
fn doubt(given: Role, score: i32, why: &[String]) -> Option<String> {
    let evidence = if score >= CONTRADICTION_SCORE {
        Role::Server
    } else if score <= -CONTRADICTION_SCORE {
        Role::Client
    } else {
        return None;
    };
    (evidence != given).then(|| format!("{} side: {}", evidence.as_str(), why.join("; ")))
}

/// Why a capture's role stayed unknown: no STUN at all, signals that cancel out, or none.
fn why_unknown(case: &Case, cap: usize, why: &[String]) -> String {
    let c = &case.captures[cap];
    if c.stun_messages == 0 {
        return "no STUN/TURN in this capture, so nothing tells the side it was taken on".into();
    }
    if !why.is_empty() {
        return format!(
            "the signals contradict each other and cancel out: {}",
            why.join("; ")
        );
    }
    "nothing tells: no Allocate or Binding answered with a mapped address, no relay leg, no \
     Linux cooked link type, no private-to-public TURN request, and no other capture of the \
     same transactions answering faster or slower"
        .into()
}
