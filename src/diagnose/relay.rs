//! relay.*: the relay port range unreachable (and on which way), private relayed addresses,
//! one-way relayed data.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::flow::hops::{relay_hops, RelayHopVerdict};
use crate::flow::{is_private, AllocOutcome, Allocation};

use super::{plural, Sink};

/// "port 24407" or "ports 24000-29999": the relay ports this case shows.
fn ports(range: (u16, u16)) -> String {
    if range.0 == range.1 {
        format!("port {}", range.0)
    } else {
        format!("ports {}-{}", range.0, range.1)
    }
}

fn remedy_unreachable(range: (u16, u16)) -> String {
    format!("Open the TURN relay media port range on the external firewall, both ways, for the Expressway-E public address (Expressway-E default UDP 24000-29999; the relays here use {}). Check that the requests reach the Expressway-E tcpdump; if they do and it answers, allow outbound UDP from the relay ports.", ports(range))
}

fn remedy_inbound(range: (u16, u16)) -> String {
    format!("The checks never reach the Expressway-E: open the TURN relay media ports (Expressway-E default UDP 24000-29999; the relays here use {}) inbound to the Expressway-E public address on the external firewall (LAN2 side).", ports(range))
}

fn remedy_return(range: (u16, u16)) -> String {
    format!("The requests reach the Expressway-E and it answers, but the external firewall drops the way back: allow outbound UDP from the Expressway-E relay ports (source ports; Expressway-E default 24000-29999, here {}) toward the internet on the external firewall (LAN2 side), and check for asymmetric routing.", ports(range))
}

const REMEDY_PRIVATE: &str = "The relay address handed out is private while the client reached the server on a public address. On a dual-NIC Expressway-E this is the symptom of static NAT (the admin guide: with static NAT enabled the relay candidate offered is the Expressway-E's private LAN2 address, and the firewall's static NAT must carry the relays): check that the IPv4 static NAT address is set on LAN2 (System > Network interfaces > IP), that the external firewall maps the relay range (UDP 24000-29999) of that public address to LAN2 both ways, and that the CMS turnServers clientAddress is the public (static NAT) address. A guest outside can use the relay only through that mapping.";
const REMEDY_ONE_WAY: &str = "Relayed data flows in one direction only: check the firewall and NAT on the blocked leg (the relay port range towards the peer, or the path back to the client).";

/// Relayed data through one relayed address, the most any capture saw of it, and the
/// allocations (capture, allocation) behind it.
#[derive(Debug, Clone, Default)]
struct Relayed<'a> {
    out: u64,
    stun_out: u64,
    inbound: u64,
    stun_in: u64,
    allocations: Vec<(usize, &'a Allocation)>,
}

/// Where the server granted a relayed address: capture, frame, time.
type Grants = BTreeMap<SocketAddr, (usize, u32, i64)>;

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    let mut relayed: BTreeMap<SocketAddr, Relayed> = BTreeMap::new();
    let mut grants = Grants::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for a in &c.allocations {
            let Some(r) = a.relayed else { continue };
            let e = relayed.entry(r).or_default();
            e.allocations.push((ci, a));
            e.out = e.out.max(a.out().packets);
            e.stun_out = e.stun_out.max(a.stun_out);
            e.inbound = e.inbound.max(a.inbound().packets);
            e.stun_in = e.stun_in.max(a.stun_in);
            if let AllocOutcome::Success { msg } = a.outcome {
                let m = c.msg(msg);
                grants.entry(r).or_insert((ci, m.frame, m.ts.0));
                // A private relay address while the client reached a public address.
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
                    d.frame(case, ci, m.frame, m.ts.0);
                }
            }
        }
    }
    relay_hop_rules(sink, &grants);
    for (r, totals) in relayed {
        one_way(sink, r, &totals, &grants);
    }
}

/// relay.one_way: media (relayed data other than ICE checks) in one direction only.
fn one_way(sink: &mut Sink<'_>, r: SocketAddr, t: &Relayed<'_>, grants: &Grants) {
    let case = sink.case;
    let media_out = t.out.saturating_sub(t.stun_out);
    let media_in = t.inbound.saturating_sub(t.stun_in);
    let (which, n, other) = if media_out >= 5 && t.inbound == 0 {
        ("from the client to peers", t.out, "none comes back")
    } else if media_in >= 5 && t.out == 0 {
        ("from peers to the client", t.inbound, "none goes out")
    } else {
        return;
    };
    let d = sink.entry("relay.one_way", r.to_string(), || {
        (
            format!("relayed data through {r} flows {which} only ({n} packets); {other}"),
            REMEDY_ONE_WAY.to_string(),
        )
    });
    d.count += 1;
    if let Some(&(ci, f, ts)) = grants.get(&r) {
        d.frame(case, ci, f, ts);
    }
    for &(ci, a) in &t.allocations {
        for cnt in [a.out(), a.inbound()] {
            if cnt.packets > 0 {
                d.frame(case, ci, cnt.first_frame, cnt.first_ts.0);
            }
        }
    }
}

/// relay.unreachable and relay.return_blocked from the checks peers sent straight to relay
/// addresses: unanswered at the peer, and lost on the relay hop (or with no capture on the
/// relay's side to say). Checks the relay passed to its client and that went unanswered there
/// are the far end's silence, not the relay's.
fn relay_hop_rules(sink: &mut Sink<'_>, grants: &BTreeMap<SocketAddr, (usize, u32, i64)>) {
    let case = sink.case;
    let range = case.relay_range();
    for h in relay_hops(case, &sink.checks) {
        let (id, what, remedy) = match h.verdict {
            RelayHopVerdict::ReturnBlocked => (
                "relay.return_blocked",
                "they reach the relay and it sends the answers back out toward the peer, but the peer never gets them (the way back from the relay ports is blocked)",
                remedy_return(range),
            ),
            RelayHopVerdict::InboundBlocked => (
                "relay.unreachable",
                "they never reach the relay (a capture on the Expressway-E side shows none of them)",
                remedy_inbound(range),
            ),
            RelayHopVerdict::NoAnswer => (
                "relay.unreachable",
                "none is answered (no capture on the Expressway-E side says where they are lost)",
                remedy_unreachable(range),
            ),
            _ => continue,
        };
        let summary = format!(
            "{} from {} to the relay address {} (relay {}): {what}",
            plural(h.checks, "connectivity check", "connectivity checks"),
            h.peer,
            h.relay,
            ports(range),
        );
        let d = sink.entry(id, h.relay.to_string(), || (summary, remedy));
        d.count += h.checks;
        if let Some(&(ci, f, ts)) = grants.get(&h.relay) {
            d.frame(case, ci, f, ts);
        }
        for hop in h.evidence.iter().chain([&h.latest]) {
            d.hop(hop);
        }
        // The same loss, seen from the peer, is also the relay being unreachable for it.
        if id == "relay.return_blocked" {
            let summary = format!(
                "{} from {} to the relay address {} (relay {}) get no answer back: the answers are lost on the way out of the relay",
                plural(h.checks, "connectivity check", "connectivity checks"),
                h.peer,
                h.relay,
                ports(range),
            );
            let d = sink.entry("relay.unreachable", h.relay.to_string(), || {
                (summary, remedy_return(range))
            });
            d.count += h.checks;
            for hop in &h.evidence {
                d.hop(hop);
            }
        }
    }
}
