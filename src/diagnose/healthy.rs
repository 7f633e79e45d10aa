//! flow.healthy: an allocation succeeded and relayed media (data other than ICE checks) flowed
//! both ways.

use super::Sink;

const REMEDY: &str = "Nothing to fix on the TURN leg: the allocation succeeded and relayed data flowed both ways. If the call still fails, look at signalling and the CMS event log rather than TURN.";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    let mut relays = std::collections::BTreeSet::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for a in &c.allocations {
            let (out, inb) = (a.out(), a.inbound());
            // Media both ways, not ICE checks: checks relayed both ways (a peer's check in, its
            // client's answer out) say nothing about whether the answers reached the peer.
            let media_out = out.packets.saturating_sub(a.stun_out);
            let media_in = inb.packets.saturating_sub(a.stun_in);
            if !matches!(a.outcome, crate::flow::AllocOutcome::Success { .. })
                || media_out == 0
                || media_in == 0
            {
                continue;
            }
            let d = sink.entry("flow.healthy", "", || {
                (
                    format!(
                        "allocation for {} on {} (relay {}) succeeded; relayed data flowed both ways ({} packets out, {} in)",
                        a.client,
                        a.server,
                        a.relayed.map_or("?".into(), |r| r.to_string()),
                        out.packets,
                        inb.packets
                    ),
                    REMEDY.to_string(),
                )
            });
            if relays.insert(
                a.relayed
                    .map_or_else(|| a.client.to_string(), |r| r.to_string()),
            ) {
                d.count += 1;
            }
            if let crate::flow::AllocOutcome::Success { msg } = a.outcome {
                let m = c.msg(msg);
                d.frame(case, ci, m.frame, m.ts.0);
            }
            d.frame(case, ci, out.first_frame, out.first_ts.0);
            d.frame(case, ci, inb.first_frame, inb.first_ts.0);
        }
    }
    for d in sink.drafts_mut("flow.healthy") {
        if d.count > 1 {
            d.summary
                .push_str(&format!(" ({} healthy allocations in all)", d.count));
        }
    }
}
