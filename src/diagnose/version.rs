//! version.*: CMS 2.9.2 and earlier send Binding, never Allocate, to the TURN server.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::wire::{Class, Method};

use super::{plural, Sink};

const REMEDY: &str = "CMS 2.9.2 and earlier send Binding requests instead of Allocate to the Expressway-E TURN server, which X12.6.1 and later do not accept for TURN: upgrade CMS to 2.9.3 or later (Expressway X12.6.1 and later work only with CMS 2.9.2+ that allocates).";

pub(super) fn rules(sink: &mut Sink<'_>) {
    let case = sink.case;
    for (ci, c) in case.captures.iter().enumerate() {
        let mut allocating: BTreeSet<IpAddr> = BTreeSet::new();
        let mut binders: BTreeMap<IpAddr, Vec<usize>> = BTreeMap::new();
        for (i, m) in c.msgs.iter().enumerate() {
            if m.class != Class::Request || m.carried.is_some() {
                continue;
            }
            if crate::flow::msg::is_turn_method(m.method) {
                allocating.insert(m.src.ip());
            } else if m.method == Method::BINDING
                && !m.is_ice_check()
                && case.is_turn_endpoint(m.dst, m.transport)
            {
                binders.entry(m.src.ip()).or_default().push(i);
            }
        }
        // Binding requests not kept one by one (beyond the memory budget), per source.
        let mut more: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for t in c
            .transactions
            .iter()
            .filter(|t| t.method == Method::BINDING)
        {
            let extra = t.more_requests as u64 + t.alike.as_ref().map_or(0, |a| a.requests);
            let Some(m) = c.request(t).filter(|_| extra > 0) else {
                continue;
            };
            if m.carried.is_none() && !m.is_ice_check() && case.is_turn_endpoint(m.dst, m.transport)
            {
                *more.entry(m.src.ip()).or_default() += extra as usize;
            }
        }
        for (ip, idx) in binders {
            if allocating.contains(&ip) {
                continue;
            }
            let n = idx.len() + more.get(&ip).copied().unwrap_or(0);
            let m0 = &c.msgs[idx[0]];
            let d = sink.entry("version.cms_binding_only", ip.to_string(), || {
                (
                    format!(
                        "{ip} sends Binding to the TURN server {} ({}) but never Allocate: the behaviour of CMS 2.9.2 and earlier",
                        m0.dst,
                        plural(n, "Binding request", "Binding requests")
                    ),
                    REMEDY.to_string(),
                )
            });
            d.count += n;
            for &i in idx.iter().take(6) {
                let m = &c.msgs[i];
                d.frame(case, ci, m.frame, m.ts.0);
            }
        }
    }
}
