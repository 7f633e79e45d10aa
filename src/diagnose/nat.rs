//! nat.*: relay-to-relay traffic sent to a public relay address never comes back into the DMZ
//! (no NAT reflection / hairpinning on the external firewall).
//!
//! Behind static NAT an Expressway-E (X12.5.2 and earlier), or a cluster peer, sends the media
//! between two of its relays to the relay's public address; only the external firewall's NAT
//! reflection brings it back in. The evidence is the server's own: checks leaving a relay socket
//! toward a public relay address, and none of them arriving at the target relay although a
//! capture there shows that relay. Packets from inside hosts (the CMS's host candidates) to the
//! public address are not evidence: the internal firewall drops them by design and ICE uses
//! another pair.

use crate::flow::hops::hairpins;

use super::{plural, Sink};

const REMEDY: &str = "Enable NAT reflection (hairpinning) for the Expressway-E public address on the external firewall, so that media the Expressway-E relays between its own relays (to its public address) comes back into the DMZ; it is required with Expressway X12.5.2 and earlier on a dual-NIC Expressway-E with static NAT (firewalls usually distrust packets whose source and destination are both their own public address). From X12.5.3 a standalone Expressway no longer needs it: upgrade.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    let paths = hairpins(case, &sink.checks);
    let missing: Vec<_> = paths
        .iter()
        .filter(|h| !h.arrived && h.target_captured)
        .collect();
    // One missing reflection on the external firewall, however many relay pairs show it
    // (each cluster node's relays hairpin toward the others').
    for h in &missing {
        let d = sink.entry("nat.reflection_missing", String::new(), || {
            (
                format!(
                    "the relay {} sends {} to the public relay address {}; none of them comes back into the DMZ to that relay (no NAT reflection on the external firewall)",
                    h.from,
                    plural(h.checks, "connectivity check", "connectivity checks"),
                    h.to
                ),
                REMEDY.to_string(),
            )
        });
        d.count += h.checks;
        for hop in &h.departures {
            d.hop(hop);
        }
    }
    if missing.len() > 1 {
        if let Some(d) = sink.drafts_mut("nat.reflection_missing").into_iter().next() {
            d.summary.push_str(&format!(
                "; the same for {} other relay pairs",
                missing.len() - 1
            ));
        }
    }
}
