//! version.*: CMS 2.9.2 and earlier send Binding, never Allocate, to the TURN server.
//!
//! The signature is an inside host (the call bridge) that sends plain Binding requests to the
//! TURN port of the Expressway-E at its inside address (LAN1, private), never Allocate. The
//! server is known as a TURN server from the traffic: TURN requests reach that address, or a
//! capture on the Expressway-E shows the address among its own and TURN requests on the same
//! port at another of its addresses (guests allocating on LAN2). The sender is an inside
//! (private) address too. A guest that uses the
//! Expressway-E as a STUN server reaches it on its public address, and public STUN servers of
//! other products see no Allocate at all: neither is this.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::flow::msg::is_turn_method;
use crate::flow::servers::{is_turn_port_of_a_server, server_addresses};
use crate::flow::{is_private, Msg};
use crate::wire::{Class, Method};

use super::{plural, Sink};

const REMEDY: &str = "CMS 2.9.2 and earlier send Binding requests instead of Allocate to the Expressway-E TURN server, which X12.6.1 and later do not accept for TURN: upgrade CMS to 2.9.3 or later (Expressway X12.6.1 and later work only with CMS 2.9.2+ that allocates).";

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
            // The call bridge is an inside host: a guest reaches LAN2 (static NAT) from a
            // public address, and a Binding of its is STUN, not a CMS that never allocates.
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
                    "{ip} sends Binding to the TURN server's inside address {} ({}) but never Allocate: the behaviour of CMS 2.9.2 and earlier",
                    m0.dst,
                    plural(n, "Binding request", "Binding requests")
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
