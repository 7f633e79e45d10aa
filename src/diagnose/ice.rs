//! ice.*: connectivity checks never answered, 487 Role Conflict, consent lost on the selected pair.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::decode::Carrier;
use crate::flow::{CaptureFlows, Msg};

use super::{by_error_code, plural, Sink};

const REMEDY_FAILED: &str = "No ICE connectivity check was answered on any candidate pair: the media path is blocked. See the relay and reach findings; open the TURN relay port range (Expressway-E default UDP 24000-29999) on the external firewall, both ways. CMS logs this as \"ICE failure\".";
const REMEDY_ROLE: &str = "Both ICE agents claim the same role; the 487 answer normally resolves it. If checks keep failing afterwards, check the endpoints' ICE implementations (ICE-CONTROLLING / ICE-CONTROLLED tie-breakers).";
const REMEDY_CONSENT: &str = "Consent checks on the selected candidate pair went unanswered for 30 s or more: the media path was lost mid-call (firewall or NAT timeout, route change, or the far end went away). Check UDP idle timeouts on the firewalls between the client and the Expressway-E relay ports.";

/// Checks of one candidate pair: (time, answered, frame, how many checks: more than one for
/// checks counted together beyond the memory budget, at the time of the last).
type PairChecks = BTreeMap<(SocketAddr, SocketAddr), Vec<(i64, bool, u32, u64)>>;

/// Consent is lost after this long without an answer (RFC 7675).
const CONSENT_NS: i64 = 30_000_000_000;

/// The candidate pair of a check as ICE sees it: (from, to). For checks relayed inside TURN
/// the relay side is the allocation's relayed address, the other the peer.
pub(crate) fn ice_pair(
    c: &CaptureFlows,
    m: &Msg,
    relayed: &HashMap<(SocketAddr, SocketAddr), SocketAddr>,
) -> (SocketAddr, SocketAddr) {
    match m.carried {
        None => (m.src, m.dst),
        Some(carrier) => {
            let from_client = match carrier {
                Carrier::Send => true,
                Carrier::Data => false,
                Carrier::ChannelData => relayed.contains_key(&(m.src, m.dst)),
            };
            let _ = c;
            if from_client {
                let r = relayed.get(&(m.src, m.dst)).copied().unwrap_or(m.src);
                (r, m.carrier_peer.unwrap_or(m.dst))
            } else {
                let r = relayed.get(&(m.dst, m.src)).copied().unwrap_or(m.dst);
                (m.carrier_peer.unwrap_or(m.src), r)
            }
        }
    }
}

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    by_error_code(
        sink,
        487,
        "ice.role_conflict",
        |m| m == crate::wire::Method::BINDING,
        |_, _| String::new(),
        |rq, rs| {
            format!(
                "ICE check from {} to {} answered with 487 Role Conflict by {}",
                rq.src, rq.dst, rs.src
            )
        },
        REMEDY_ROLE,
    );
    // check_failed: no ICE check of the case got its answer back to where it left from (an
    // answer some capture saw but that was lost on a hop back does not count).
    let mut checks = 0usize;
    let mut answered = 0usize;
    let mut pairs: BTreeMap<(SocketAddr, SocketAddr), usize> = BTreeMap::new();
    let mut first: Vec<crate::flow::Sighting> = Vec::new();
    let relayed: Vec<HashMap<(SocketAddr, SocketAddr), SocketAddr>> = case
        .captures
        .iter()
        .map(|c| c.relayed_by_tuple.iter().copied().collect())
        .collect();
    for p in &sink.checks {
        let Some(t) = case.txs.get(p.tx) else {
            continue;
        };
        let weight = case.weight(t);
        checks += weight;
        if p.verdict == crate::flow::CheckVerdict::Answered {
            answered += weight;
            continue;
        }
        let (Some(c), Some(relayed)) = (case.captures.get(p.origin.cap), relayed.get(p.origin.cap))
        else {
            continue;
        };
        let Some(rq) = t
            .sightings
            .iter()
            .find(|s| s.cap == p.origin.cap)
            .and_then(|&s| case.request(s))
        else {
            continue;
        };
        let pair = ice_pair(c, rq, relayed);
        *pairs.entry(pair).or_default() += weight;
        if first.len() < 8 {
            first.extend(t.sightings.iter().copied());
        }
    }
    if checks > 0 && answered == 0 {
        let list: Vec<String> = pairs
            .iter()
            .take(6)
            .map(|((a, b), n)| format!("{a} -> {b} ({n})"))
            .collect();
        let more = if pairs.len() > 6 {
            format!(" and {} more", pairs.len() - 6)
        } else {
            String::new()
        };
        let d = sink.entry("ice.check_failed", "", || {
            (
                format!(
                    "none of {} on {} was answered: {}{more}",
                    plural(checks, "ICE connectivity check", "ICE connectivity checks"),
                    plural(pairs.len(), "candidate pair", "candidate pairs"),
                    list.join(", ")
                ),
                REMEDY_FAILED.to_string(),
            )
        });
        d.count = checks;
        for s in first {
            d.sighting(case, s);
        }
    }
    consent(sink, &relayed);
}

fn consent(sink: &mut Sink<'_>, relayed: &[HashMap<(SocketAddr, SocketAddr), SocketAddr>]) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        // Per pair: (ts, answered, msg) of each check, in time order.
        let mut per_pair: PairChecks = BTreeMap::new();
        for t in &c.transactions {
            let Some(rq) = c.request(t) else { continue };
            if !rq.is_ice_check() {
                continue;
            }
            let ok = case
                .by_txid
                .get(&t.txid)
                .is_some_and(|&i| case.is_answered(&case.txs[i]));
            let checks = per_pair.entry(ice_pair(c, rq, &relayed[ci])).or_default();
            checks.push((rq.ts.0, ok, rq.frame, 1));
            if let Some(last) = t.alike.as_ref().and_then(|a| a.last_request) {
                checks.push((last.ts.0, ok, last.frame, t.alike_count()));
            }
        }
        for ((a, b), mut v) in per_pair {
            v.sort();
            let Some(last_ok) = v.iter().rposition(|x| x.1) else {
                continue;
            };
            let after = &v[last_ok + 1..];
            if after.is_empty() {
                continue;
            }
            let span = after.last().map_or(0, |x| x.0) - v[last_ok].0;
            if span < CONSENT_NS {
                continue;
            }
            let d = sink.entry("ice.consent_lost", format!("{a}->{b}"), || {
                (
                    format!(
                        "consent checks on the selected pair {a} -> {b} unanswered for {:.0} s ({}) after the last answered check",
                        span as f64 / 1e9,
                        plural(
                            after.iter().map(|x| x.3 as usize).sum(),
                            "check",
                            "checks"
                        )
                    ),
                    REMEDY_CONSENT.to_string(),
                )
            });
            d.count += 1;
            d.frame(case, ci, v[last_ok].2, v[last_ok].0);
            for x in after.iter().take(6) {
                d.frame(case, ci, x.2, x.0);
            }
        }
    }
}
