//! version.*: CMS 2.9.2 and earlier send Binding, never Allocate, to the TURN server.
//!
//! The signature is an inside host (the call bridge) that sends plain Binding requests to the
//! TURN port of the Expressway-E at its inside address (LAN1, private), never Allocate. The
//! server is known as a TURN server from the traffic: TURN requests reach that address, or a
//! capture on the Expressway-E shows the address among its own and TURN requests on the same
//! port at another of its addresses (guests allocating on LAN2). A guest that uses the
//! Expressway-E as a STUN server reaches it on its public address, and public STUN servers of
//! other products see no Allocate at all: neither is this.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flow::msg::is_turn_method;
use crate::flow::servers::{is_turn_port_of_a_server, server_addresses};
use crate::flow::{is_private, Msg};
use crate::wire::{Class, Method};

use super::{plural, Sink};

/// What the packets show and the versions they point to. The Chinese guide says both "X12.6.1
/// and later only work with CMS 2.9.2 or later" and "CMS 2.9.2 and earlier send Binding, 2.9.3
/// sends Allocate"; only the second is what a capture can show, so the remedy rests on it.
const REMEDY: &str = "The call bridge asks the Expressway-E's TURN port for Binding only and never for a relay (Allocate): that is how CMS 2.9.2 and earlier behave; CMS 2.9.3 and later send Allocate. Since Expressway X12.6.1 the TURN server changed behaviour and such a call bridge gets no relay: upgrade CMS to 2.9.3 or later (check the Expressway version under Maintenance > Upgrade, or in the bundle's xstat).";

fn is_plain_request(m: &Msg) -> bool {
    m.class == Class::Request && m.carried.is_none() && !m.is_ice_check()
}

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    let servers = server_addresses(case);
    let server_ips: BTreeSet<IpAddr> = servers.iter().flat_map(|s| s.ips.iter().copied()).collect();
    let allocating: BTreeSet<IpAddr> = case
        .captures
        .iter()
        .flat_map(|c| c.msgs.iter())
        .filter(|m| is_plain_request(m) && is_turn_method(m.method))
        .map(|m| m.src.ip())
        .collect();
    let hinted = |m: &Msg| case.hints.turn_port_given && m.dst.port() == case.hints.turn_port;
    let from_a_binder = |m: &Msg| {
        is_plain_request(m)
            && m.method == Method::BINDING
            && (is_turn_port_of_a_server(case, &servers, m.dst) || hinted(m))
            && is_private(m.dst.ip())
            // The call bridge is inside: a guest reaches LAN2 (private behind static NAT)
            // from its public address, and a browser's Binding there is STUN for its
            // server-reflexive candidate.
            && is_private(m.src.ip())
            && !allocating.contains(&m.src.ip())
            && !server_ips.contains(&m.src.ip())
    };
    // binder IP -> (capture, message index) of its Binding requests to a TURN port.
    let mut binders: BTreeMap<IpAddr, Vec<(usize, usize)>> = BTreeMap::new();
    // Binding requests beyond the memory budget, counted into kept transactions, per binder.
    let mut more: BTreeMap<IpAddr, usize> = BTreeMap::new();
    for (ci, c) in case.captures.iter().enumerate() {
        for (i, m) in c.msgs.iter().enumerate() {
            if from_a_binder(m) {
                binders.entry(m.src.ip()).or_default().push((ci, i));
            }
        }
        for t in c
            .transactions
            .iter()
            .filter(|t| t.method == Method::BINDING)
        {
            let extra = t.more_requests as u64 + t.alike.as_ref().map_or(0, |a| a.requests);
            if let Some(m) = c.request(t).filter(|m| extra > 0 && from_a_binder(m)) {
                *more.entry(m.src.ip()).or_default() += extra as usize;
            }
        }
    }
    // Binders that got Binding answers: an Expressway-E from X12.6.1 ignores them instead.
    let answered: BTreeSet<IpAddr> = case
        .captures
        .iter()
        .flat_map(|c| c.msgs.iter())
        .filter(|m| m.method == Method::BINDING && m.class == Class::Success)
        .map(|m| m.dst.ip())
        .filter(|ip| binders.contains_key(ip))
        .collect();
    for (ip, seen) in binders {
        let Some(&(c0, i0)) = seen.first() else {
            continue;
        };
        let Some(m0) = case.captures.get(c0).and_then(|c| c.msgs.get(i0)) else {
            continue;
        };
        let n = seen.len() + more.get(&ip).copied().unwrap_or(0);
        let d = sink.entry("version.cms_binding_only", ip.to_string(), || {
            (
                format!(
                    "the inside host {ip} sends Binding to the TURN server at {} ({}) but never Allocate: the behaviour of CMS 2.9.2 and earlier; {}",
                    m0.dst,
                    plural(n, "Binding request", "Binding requests"),
                    if answered.contains(&ip) {
                        "the server answers them, yet no relay is ever requested"
                    } else {
                        "none is answered (the TURN server ignores Binding on its TURN port, as Expressway X12.6.1 and later do)"
                    }
                ),
                REMEDY.to_string(),
            )
        });
        d.count += n;
        for &(ci, i) in seen.iter().take(6) {
            if let Some(m) = case.captures.get(ci).and_then(|c| c.msgs.get(i)) {
                d.frame(case, ci, m.frame, m.ts.0);
            }
        }
    }
}
