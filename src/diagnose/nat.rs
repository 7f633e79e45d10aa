//! nat.*: packets from the inside to the server's own public address never come back (no NAT
//! reflection / hairpinning on the firewall).
//!
//! The server is behind static NAT when the relayed address it hands out has another IP than
//! the one the client reached it on. A host that reaches the server on that inside address and
//! also sends to the public address, without anything coming back, needs NAT reflection.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flow::{AllocOutcome, Counter};

use super::Sink;

const REMEDY: &str = "Enable NAT reflection (hairpinning) for the Expressway-E public address on the external firewall, so that inside hosts (e.g. CMS) can reach the public address; it is required with Expressway X12.5.2 and earlier. From X12.5.3 a standalone Expressway no longer needs it: upgrade.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    // public IP -> inside (local) server IPs, and the inside clients that reach them.
    let mut public: BTreeMap<IpAddr, BTreeSet<IpAddr>> = BTreeMap::new();
    let mut inside_clients: BTreeSet<IpAddr> = BTreeSet::new();
    for c in &case.captures {
        for a in &c.allocations {
            if !matches!(a.outcome, AllocOutcome::Success { .. }) {
                continue;
            }
            let Some(r) = a.relayed else { continue };
            if r.ip() != a.server.ip() {
                public.entry(r.ip()).or_default().insert(a.server.ip());
                inside_clients.insert(a.client.ip());
            }
        }
    }
    if public.is_empty() {
        return;
    }
    let mut reflected = Vec::new();
    for (ci, c) in case.captures.iter().enumerate() {
        // (inside source, public destination): packets to the public address, and back.
        let mut legs: BTreeMap<(IpAddr, IpAddr), (Counter, Counter)> = BTreeMap::new();
        for (k, cnt) in &c.traffic {
            if public.contains_key(&k.dst.ip()) && inside_clients.contains(&k.src.ip()) {
                legs.entry((k.src.ip(), k.dst.ip()))
                    .or_default()
                    .0
                    .merge(cnt);
            } else if public.contains_key(&k.src.ip()) && inside_clients.contains(&k.dst.ip()) {
                legs.entry((k.dst.ip(), k.src.ip()))
                    .or_default()
                    .1
                    .merge(cnt);
            }
        }
        for ((inside, pubip), (to, back)) in legs {
            if to.packets == 0 || back.packets > 0 {
                continue;
            }
            reflected.push((inside, pubip));
            let locals: Vec<String> = public[&pubip].iter().map(|i| i.to_string()).collect();
            let d = sink.entry("nat.reflection_missing", format!("{inside}>{pubip}"), || {
                (
                    format!(
                        "{inside} reaches the TURN server on its inside address {} but its {} packets to the server's public address {pubip} never come back (no NAT reflection)",
                        locals.join(", "),
                        to.packets
                    ),
                    REMEDY.to_string(),
                )
            });
            d.count += 1;
            d.frame(case, ci, to.first_frame, to.first_ts.0);
            if to.last_frame != to.first_frame {
                d.frame(case, ci, to.last_frame, to.last_ts.0);
            }
        }
    }
    sink.reflected = reflected;
}
