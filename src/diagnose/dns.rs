//! dns.*: the names the guides depend on, as the captures resolve them. Outside, the join URL
//! must resolve to the Expressway-E's public address; inside, the call bridge must resolve the
//! join URL to the web bridge and the `_xmpp-client._tcp` SRV record of its domain; the TURN
//! server's name must resolve wherever it is used.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::flow::dns::{DnsLookup, TYPE_A, TYPE_AAAA, TYPE_SRV};
use crate::flow::{is_private, CaptureFlows, Case};

use super::web::{Facts, HTTPS, XMPP_SRV};
use super::{plural, Sink};

/// An unanswered query this close to the end of its capture may have its answer after it.
const GRACE_NS: i64 = 2_000_000_000;

/// Every lookup of one name by one host in one capture (A and AAAA together: a name resolves
/// when either gives an address; an empty AAAA beside a good A is normal).
struct Group<'a> {
    lookups: Vec<&'a DnsLookup>,
}

impl Group<'_> {
    fn resolved(&self) -> bool {
        self.lookups.iter().any(|l| {
            l.answer
                .as_ref()
                .is_some_and(|a| a.addresses().next().is_some())
        })
    }

    fn addresses(&self) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = self
            .lookups
            .iter()
            .flat_map(|l| l.answer.iter().flat_map(|a| a.addresses()))
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// "NXDOMAIN from 192.0.2.53 (A, AAAA)": the outcomes, by server.
    fn outcomes(&self) -> String {
        let mut by: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for l in &self.lookups {
            let what = format!("{} from {}", l.outcome(), l.server.ip());
            let t = crate::flow::dns::type_name(l.qtype);
            let e = by.entry(what).or_default();
            if !e.contains(&t) {
                e.push(t);
            }
        }
        by.into_iter()
            .map(|(k, t)| format!("{k} ({})", t.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn evidence(&self, sink: &mut super::Draft, case: &Case, ci: usize) {
        for l in self.lookups.iter().take(6) {
            if let Some(f) = l.query_frame {
                sink.frame(case, ci, f, l.ts.0);
            }
            if let Some(a) = &l.answer {
                sink.frame(case, ci, a.frame, a.ts.0);
            }
        }
    }
}

/// The lookups of a capture grouped by (host, name), for the types asked; unanswered queries at
/// the very end of the capture are left out.
fn groups<'a>(c: &'a CaptureFlows, types: &[u16]) -> BTreeMap<(IpAddr, &'a str), Group<'a>> {
    let end = c.last_ts.map_or(i64::MAX, |t| t.0);
    let mut out: BTreeMap<(IpAddr, &str), Group<'_>> = BTreeMap::new();
    for l in &c.dns.lookups {
        if !types.contains(&l.qtype) || (l.answer.is_none() && end - l.ts.0 < GRACE_NS) {
            continue;
        }
        out.entry((l.client.ip(), l.name.as_str()))
            .or_insert_with(|| Group {
                lookups: Vec::new(),
            })
            .lookups
            .push(l);
    }
    out
}

pub(super) fn rules(sink: &mut Sink<'_>, facts: &Facts) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        for ((host, name), g) in groups(c, &[TYPE_A, TYPE_AAAA]) {
            let inside = facts.inside[ci].contains(&host);
            if facts.join.contains(name) {
                if !g.resolved() {
                    unresolved_join(sink, facts, ci, host, name, &g, inside);
                } else if !inside {
                    private_join(sink, ci, host, name, &g);
                }
            } else if facts.turn_names.contains(name) && !g.resolved() {
                let d = sink.entry("dns.turn_unresolved", format!("{host}|{name}"), || {
                    (
                        format!("the TURN server's name \"{name}\" does not resolve for {host}: {}", g.outcomes()),
                        format!("Create a DNS record for \"{name}\" in the DNS the client uses (it resolves elsewhere in this case), or give the client the TURN server's address (CMS API turnServers clientAddress for guests, serverAddress for the call bridge)."),
                    )
                });
                g.evidence(d, case, ci);
            }
        }
        for ((host, name), g) in groups(c, &[TYPE_SRV]) {
            if !name.starts_with(XMPP_SRV) || g.lookups.iter().any(|l| !l.failed()) {
                continue;
            }
            let domain = name.get(XMPP_SRV.len()..).unwrap_or_default().to_string();
            let d = sink.entry("dns.xmpp_srv_unresolved", format!("{host}|{name}"), || {
                (
                    format!("the _xmpp-client SRV record {name} does not resolve for {host}: {} ({})", g.outcomes(), plural(g.lookups.len(), "lookup", "lookups")),
                    format!("Make sure CMS can always resolve the _xmpp-client SRV record for the call bridge domain ({domain}) on the internal network (internal DNS: _xmpp-client._tcp.{domain} pointing to the XMPP server, port 5222), and that WebRTC connections work internally. Without it the web app shows \"Unable to connect - try again later\", or stays connecting and goes back to the start page."),
                )
            });
            g.evidence(d, case, ci);
        }
    }
}

fn unresolved_join(
    sink: &mut Sink<'_>,
    facts: &Facts,
    ci: usize,
    host: IpAddr,
    name: &str,
    g: &Group<'_>,
    inside: bool,
) {
    let case = sink.case;
    let how = if facts.join_given {
        "the join URL"
    } else {
        "the join URL (as the case shows it)"
    };
    let d = if inside {
        sink.entry("dns.webbridge_unresolved", format!("{host}|{name}"), || {
            (
                format!("{how} \"{name}\" does not resolve on the CMS side ({host}): {}", g.outcomes()),
                format!("The call bridge cannot resolve the web bridge (CMS logs Web bridge connection to \"{name}\" failed (DNS failure), and guests get no Join call button): create the internal DNS record of the join URL, resolving to the web bridge's IP address (never to the Expressway-E's), then flush the call bridge's DNS cache with the CMS command dns flush."),
            )
        })
    } else {
        sink.entry("dns.join_url_unresolved", format!("{host}|{name}"), || {
            (
                format!("{how} \"{name}\" does not resolve for the guest {host}: {}", g.outcomes()),
                "Create the external DNS record of the web bridge join URL, resolving to the public IP address of the Expressway-E (its static NAT address).".to_string(),
            )
        })
    };
    g.evidence(d, case, ci);
}

/// The join URL resolves to private addresses only, for a guest that is outside: it asked a
/// public DNS server, it talks STUN/TURN to a public address, or its connection to 443 of
/// the address it got fails.
fn private_join(sink: &mut Sink<'_>, ci: usize, host: IpAddr, name: &str, g: &Group<'_>) {
    let case = sink.case;
    let c = &case.captures[ci];
    let addrs = g.addresses();
    if addrs.is_empty() || !addrs.iter().all(|ip| is_private(*ip)) {
        return;
    }
    let public_dns = g.lookups.iter().any(|l| !is_private(l.server.ip()));
    let public_turn = c
        .msgs
        .iter()
        .any(|m| m.carried.is_none() && m.src.ip() == host && !is_private(m.dst.ip()));
    let connected = c.tcp.iter().any(|s| {
        s.control == crate::capture::TcpControl::SynAck
            && s.dst.ip() == host
            && s.src.port() == HTTPS
            && addrs.contains(&s.src.ip())
    });
    let tried = c
        .tcp
        .iter()
        .any(|s| s.src.ip() == host && s.dst.port() == HTTPS && addrs.contains(&s.dst.ip()));
    if !(public_dns || public_turn || (tried && !connected)) {
        return;
    }
    let list = addrs
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let d = sink.entry("dns.join_url_private", format!("{host}|{name}"), || {
        (
            format!("the join URL \"{name}\" resolves to the private address {list} for the guest {host}{}", if tried && !connected { ", which it cannot reach on TCP 443" } else { "" }),
            "The external DNS must resolve the web bridge join URL to the public IP address of the Expressway-E (its static NAT address); only the internal DNS resolves it to the web bridge's address.".to_string(),
        )
    });
    g.evidence(d, case, ci);
}
