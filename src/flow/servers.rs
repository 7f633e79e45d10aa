//! The TURN server's own addresses, as its captures show them. An Expressway-E with two NICs
//! answers on LAN2 (the address the public one is statically NATed to) and on LAN1 (the inside
//! address the CMS uses); a capture taken on it shows requests arriving at both. Knowing that
//! two addresses belong to the same server lets a rule recognise its TURN port on an address
//! where nobody allocates.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::wire::Class;

use super::is_private;

use super::case::Case;
use super::msg::is_turn_method;
use super::vantage::Role;

/// The addresses one server-side capture shows as the server's own.
#[derive(Debug, Clone, Default)]
pub struct ServerAddresses {
    /// IPs that STUN / TURN requests (other than ICE checks) arrive at.
    pub ips: BTreeSet<IpAddr>,
    /// Ports on those IPs where TURN requests (Allocate, Refresh, ...) arrive.
    pub turn_ports: BTreeSet<u16>,
}

/// Per server-side capture, the server's own addresses. Requests other than ICE checks seen in a
/// capture taken on the server arrive at the server (it sends none of its own), so their
/// destinations are its addresses.
pub fn server_addresses(case: &Case) -> Vec<ServerAddresses> {
    case.captures
        .iter()
        .enumerate()
        .filter(|(cap, _)| case.roles.get(*cap) == Some(&Role::Server))
        .map(|(_, c)| {
            let mut s = ServerAddresses::default();
            for m in c
                .msgs
                .iter()
                .filter(|m| m.class == Class::Request && m.carried.is_none() && !m.is_ice_check())
            {
                s.ips.insert(m.dst.ip());
                if is_turn_method(m.method) {
                    s.turn_ports.insert(m.dst.port());
                }
            }
            s
        })
        .collect()
}

/// True if `addr` is the TURN port of a TURN server of the case: TURN requests reach it, or a
/// capture on the server shows it as one of its addresses and TURN requests on the same port
/// reach that server at another of its addresses.
pub fn is_turn_port_of_a_server(
    case: &Case,
    servers: &[ServerAddresses],
    addr: SocketAddr,
) -> bool {
    case.turn_endpoints.iter().any(|(a, _)| *a == addr)
        || servers
            .iter()
            .any(|s| s.ips.contains(&addr.ip()) && s.turn_ports.contains(&addr.port()))
}

/// Which leg of the deployment a client's requests to the TURN server travel, and so which
/// firewall and interface a remedy must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientLeg {
    /// An inside host (the call bridge) to the Expressway-E's inside address: through the
    /// internal firewall to LAN1.
    Inside,
    /// A guest from the internet to the public address (LAN2 behind static NAT): through the
    /// external firewall.
    Guest,
}

impl ClientLeg {
    /// From a request as a capture saw it: both ends private is the inside leg (a guest's own
    /// capture shows its private address, but the server's public one; the server's capture
    /// shows the guest's public address arriving on LAN2).
    pub fn of(client: SocketAddr, server: SocketAddr) -> ClientLeg {
        if is_private(client.ip()) && is_private(server.ip()) {
            ClientLeg::Inside
        } else {
            ClientLeg::Guest
        }
    }

    /// "the internal firewall" / "the external firewall".
    pub fn firewall(self) -> &'static str {
        match self {
            ClientLeg::Inside => {
                "the internal firewall (between the call bridge and the Expressway-E's LAN1)"
            }
            ClientLeg::Guest => {
                "the external firewall (in front of the Expressway-E's public address, LAN2)"
            }
        }
    }

    /// How to name the server address the requests go to.
    pub fn server_address(self) -> &'static str {
        match self {
            ClientLeg::Inside => "internal (LAN1) address",
            ClientLeg::Guest => "public address",
        }
    }
}

/// The addresses of the server that owns `ip`, as the server-side capture that shows most of
/// them saw it (a `-i any` capture on a two-NIC Expressway-E shows LAN1 and LAN2): one node
/// of a cluster, whichever interface a client reached it on. `None` when no server-side
/// capture shows the address.
pub fn node_of(servers: &[ServerAddresses], ip: IpAddr) -> Option<&ServerAddresses> {
    servers
        .iter()
        .filter(|s| s.ips.contains(&ip))
        .max_by_key(|s| s.ips.len())
}
