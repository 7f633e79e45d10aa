//! relay.*: the relay port range unreachable, private relayed addresses, one-way relayed data.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use crate::flow::{is_private, AllocOutcome, Allocation, Counter, Role};

use super::Sink;

fn remedy_unreachable(range: (u16, u16)) -> String {
    format!("Open the TURN relay media port range on the external firewall, both ways, for the Expressway-E public address (Expressway-E default UDP 24000-29999; the relays here use {}-{}). Check that the requests reach the Expressway-E tcpdump; if they do and it answers, allow outbound UDP from the relay ports.", range.0, range.1)
}

const REMEDY_PRIVATE: &str = "The relay address handed out is private while clients reach the server on a public address: on a dual-NIC Expressway-E with static NAT set the static NAT address (System > Network interfaces > IP, \"IPv4 static NAT address\") so TURN advertises the public address; check the CMS turnServers clientAddress too.";
const REMEDY_ONE_WAY: &str = "Relayed data flows in one direction only: check the firewall and NAT on the blocked leg (the relay port range towards the peer, or the path back to the client).";

/// Packets to or from a relay address, per remote, in one capture.
struct Leg {
    to_relay: Counter,
    from_relay: Counter,
}

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    // Relayed data through each allocation, over all captures, by relayed address.
    let mut inbound: BTreeMap<SocketAddr, u64> = BTreeMap::new();
    let mut outbound: BTreeMap<SocketAddr, (u64, u64, u64, u64)> = BTreeMap::new(); // out, stun_out, in, stun_in
    let mut healthy = false;
    let mut grants: BTreeMap<SocketAddr, (usize, u32, i64)> = BTreeMap::new();
    // Allocations by relayed address, in capture order.
    let mut by_relay: BTreeMap<SocketAddr, Vec<(usize, &Allocation)>> = BTreeMap::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for a in &c.allocations {
            if let Some(r) = a.relayed {
                by_relay.entry(r).or_default().push((ci, a));
            }
            let (out, inb) = (a.out(), a.inbound());
            if out.packets > 0 && inb.packets > 0 {
                healthy = true;
            }
            let Some(r) = a.relayed else { continue };
            *inbound.entry(r).or_default() += inb.packets;
            let e = outbound.entry(r).or_default();
            e.0 = e.0.max(out.packets);
            e.1 = e.1.max(a.stun_out);
            e.2 = e.2.max(inb.packets);
            e.3 = e.3.max(a.stun_in);
            if let AllocOutcome::Success { msg } = a.outcome {
                let m = c.msg(msg);
                grants.entry(r).or_insert((ci, m.frame, m.ts.0));
            }
            // Private relay address while the client reached a public address.
            if is_private(r.ip()) && !is_private(a.server.ip()) {
                let d = sink.entry("relay.private_address", r.to_string(), || {
                    (
                        format!(
                            "XOR-RELAYED-ADDRESS {r} is a private address while the client reached the server at the public address {}",
                            a.server
                        ),
                        REMEDY_PRIVATE.to_string(),
                    )
                });
                d.count += 1;
                if let AllocOutcome::Success { msg } = a.outcome {
                    let m = c.msg(msg);
                    d.frame(case, ci, m.frame, m.ts.0);
                }
            }
        }
    }
    // Raw traffic to and from relay addresses (known relays, or the server in the relay range).
    let reflected: BTreeSet<(IpAddr, IpAddr)> = sink.reflected.iter().copied().collect();
    let mut legs: BTreeMap<(SocketAddr, usize, SocketAddr), Leg> = BTreeMap::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for (k, cnt) in &c.traffic {
            let (relay, remote, to) = if case.is_relay_address(k.dst)
                && !case.is_turn_endpoint(k.dst, k.transport)
            {
                (k.dst, k.src, true)
            } else if case.is_relay_address(k.src) && !case.is_turn_endpoint(k.src, k.transport) {
                (k.src, k.dst, false)
            } else {
                continue;
            };
            if reflected.contains(&(remote.ip(), relay.ip())) {
                continue;
            }
            let leg = legs.entry((relay, ci, remote)).or_insert(Leg {
                to_relay: Counter::default(),
                from_relay: Counter::default(),
            });
            if to {
                leg.to_relay.merge(cnt);
            } else {
                leg.from_relay.merge(cnt);
            }
        }
    }
    let mut relays: BTreeSet<SocketAddr> = legs.keys().map(|k| k.0).collect();
    relays.extend(outbound.keys().copied());
    for r in relays {
        let got_in = inbound.get(&r).copied().unwrap_or(0);
        let mine: Vec<(&(SocketAddr, usize, SocketAddr), &Leg)> = legs
            .range((r, 0, SocketAddr::from(([0; 4], 0)))..)
            .take_while(|(k, _)| k.0 == r)
            .collect();
        let unanswered_to: Vec<_> = mine
            .iter()
            .filter(|(_, l)| l.to_relay.packets > 0 && l.from_relay.packets == 0)
            .collect();
        let any_to = mine.iter().any(|(_, l)| l.to_relay.packets > 0);
        let unanswered_from: Vec<_> = mine
            .iter()
            .filter(|((_, ci, _), l)| {
                case.roles[*ci] != Role::Client
                    && l.from_relay.packets > 0
                    && l.to_relay.packets == 0
            })
            .collect();
        let blocked = got_in == 0
            && !healthy
            && (!unanswered_to.is_empty() || (!unanswered_from.is_empty() && !any_to));
        if blocked {
            let mut parts = Vec::new();
            for ((_, ci, remote), l) in unanswered_to.iter().take(3) {
                parts.push(format!(
                    "{} packets from {remote} to it get no answer ({})",
                    l.to_relay.packets,
                    case.name(*ci)
                ));
            }
            for ((_, ci, remote), l) in unanswered_from.iter().take(3) {
                parts.push(format!(
                    "{} packets it relays to {remote} never get an answer ({})",
                    l.from_relay.packets,
                    case.name(*ci)
                ));
            }
            let range = case.relay_range();
            let d = sink.entry("relay.unreachable", r.to_string(), || {
                (
                    format!(
                        "relay address {r} (relay ports {}-{}) carries nothing back to the client: {}",
                        range.0,
                        range.1,
                        parts.join("; ")
                    ),
                    remedy_unreachable(range),
                )
            });
            d.count += 1;
            if let Some(&(ci, f, ts)) = grants.get(&r) {
                d.frame(case, ci, f, ts);
            }
            for ((_, ci, _), l) in unanswered_to.iter().chain(unanswered_from.iter()).take(8) {
                let c = if l.to_relay.packets > 0 {
                    l.to_relay
                } else {
                    l.from_relay
                };
                d.frame(case, *ci, c.first_frame, c.first_ts.0);
                if c.last_frame != c.first_frame {
                    d.frame(case, *ci, c.last_frame, c.last_ts.0);
                }
            }
            continue;
        }
        if let Some(&(out, stun_out, inb, stun_in)) = outbound.get(&r) {
            let media_out = out.saturating_sub(stun_out);
            let media_in = inb.saturating_sub(stun_in);
            let dir = if media_out >= 5 && inb == 0 {
                Some(("from the client to peers", out, "none comes back"))
            } else if media_in >= 5 && out == 0 {
                Some(("from peers to the client", inb, "none goes out"))
            } else {
                None
            };
            if let Some((which, n, other)) = dir {
                let d = sink.entry("relay.one_way", r.to_string(), || {
                    (
                        format!(
                            "relayed data through {r} flows {which} only ({n} packets); {other}"
                        ),
                        REMEDY_ONE_WAY.to_string(),
                    )
                });
                d.count += 1;
                if let Some(&(ci, f, ts)) = grants.get(&r) {
                    d.frame(case, ci, f, ts);
                }
                for &(ci, a) in by_relay.get(&r).into_iter().flatten() {
                    for cnt in [a.out(), a.inbound()] {
                        if cnt.packets > 0 {
                            d.frame(case, ci, cnt.first_frame, cnt.first_ts.0);
                        }
                    }
                }
            }
        }
    }
}
