//! One support case: the flows of all its captures, their vantage points, the TURN server's
//! addresses as the traffic shows them, and transactions matched across captures.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use crate::capture::Transport;
use crate::wire::{Class, Method, TransactionId};

use super::correlate::{self, ClockOffset, NatMapping, TxPath};
use super::msg::is_turn_method;
use super::vantage::{self, Role};
use super::{CaptureFlows, Msg, Transaction};

/// Where a case-level transaction was seen: capture index and transaction index in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sighting {
    /// Index into [`Case::captures`].
    pub cap: usize,
    /// Index into that capture's [`CaptureFlows::transactions`](super::CaptureFlows::transactions).
    pub tx: u32,
}

/// A transaction of the case: the same transaction id in one or more captures.
#[derive(Debug, Clone)]
pub struct CaseTx {
    /// The transaction id.
    pub txid: TransactionId,
    /// Method of the request.
    pub method: Method,
    /// Every capture that saw it, in capture order.
    pub sightings: Vec<Sighting>,
}

/// Server description given on the command line: defaults only, the traffic comes first.
#[derive(Debug, Clone)]
pub struct ServerHints {
    /// `--turn-port` (3478 when not given): used only when no TURN request reveals the port.
    pub turn_port: u16,
    /// True when `--turn-port` was given (then it also marks TURN traffic the requests do not
    /// show).
    pub turn_port_given: bool,
    /// `--relay-ports`: used only when no allocation reveals relayed addresses.
    pub relay_ports: (u16, u16),
    /// True when `--relay-ports` was given.
    pub relay_ports_given: bool,
}

impl ServerHints {
    /// The hints from what was given (a flag, or the configuration): each value given counts
    /// as given, the others stay at their defaults.
    pub fn given(turn_port: Option<u16>, relay_ports: Option<(u16, u16)>) -> ServerHints {
        let d = ServerHints::default();
        ServerHints {
            turn_port: turn_port.unwrap_or(d.turn_port),
            turn_port_given: turn_port.is_some(),
            relay_ports: relay_ports.unwrap_or(d.relay_ports),
            relay_ports_given: relay_ports.is_some(),
        }
    }
}

impl Default for ServerHints {
    fn default() -> Self {
        ServerHints {
            turn_port: 3478,
            turn_port_given: false,
            relay_ports: (24000, 29999),
            relay_ports_given: false,
        }
    }
}

/// One support case: every capture's flows, their roles, and what the captures share.
#[derive(Debug)]
pub struct Case {
    /// The captures, in command-line order.
    pub captures: Vec<CaptureFlows>,
    /// Vantage point of each capture (same order as `captures`).
    pub roles: Vec<Role>,
    /// Why each role was chosen (for a role left unknown: why nothing told).
    pub role_reasons: Vec<String>,
    /// For a role given on the command line that the capture's own evidence contradicts:
    /// what the evidence says (e.g. "server side: Linux cooked capture; ...").
    pub role_doubts: Vec<Option<String>>,
    /// Case transactions, one per transaction id, in order of first sighting.
    pub txs: Vec<CaseTx>,
    /// Transaction id -> index into `txs`.
    pub by_txid: HashMap<TransactionId, usize>,
    /// TURN server transport addresses (as each capture sees them), from TURN requests.
    pub turn_endpoints: BTreeSet<(SocketAddr, &'static str)>,
    /// Relayed transport addresses granted by the server (any capture).
    pub relayed: BTreeSet<SocketAddr>,
    /// The addresses of `turn_endpoints` whatever the transport, and the server's IP
    /// addresses (endpoints and relays): asked for every message and 5-tuple, so looked up,
    /// never rebuilt or scanned.
    turn_addrs: HashSet<SocketAddr>,
    server_ips: BTreeSet<IpAddr>,
    /// Lowest and highest relayed port granted (any capture).
    relayed_ports: Option<(u16, u16)>,
    /// Server description from the command line (defaults when not given).
    pub hints: ServerHints,
    /// Clock offset of each capture relative to the reference capture (its own clock minus the
    /// reference's), when correlation could tell.
    pub offsets: Vec<Option<ClockOffset>>,
    /// Index of the capture whose clock the others are put on.
    pub reference: usize,
    /// NAT mappings found by matching transactions between client and server captures.
    pub nat: Vec<NatMapping>,
    /// Path of every case transaction seen on both sides (client and server capture).
    pub paths: HashMap<usize, TxPath>,
}

impl Case {
    /// Assemble a case. `hints[i]` is the role given for capture `i` (`--client`/`--server`).
    pub fn build(captures: Vec<CaptureFlows>, hints: &[Option<Role>], server: ServerHints) -> Case {
        let mut txs: Vec<CaseTx> = Vec::new();
        let mut by_txid: HashMap<TransactionId, usize> = HashMap::new();
        for (ci, c) in captures.iter().enumerate() {
            for (ti, t) in c.transactions.iter().enumerate() {
                let i = *by_txid.entry(t.txid).or_insert_with(|| {
                    txs.push(CaseTx {
                        txid: t.txid,
                        method: t.method,
                        sightings: Vec::new(),
                    });
                    txs.len() - 1
                });
                txs[i].sightings.push(Sighting {
                    cap: ci,
                    tx: ti as u32,
                });
            }
        }
        let mut turn_endpoints = BTreeSet::new();
        let mut relayed = BTreeSet::new();
        for c in &captures {
            for t in &c.transactions {
                if !is_turn_method(t.method) {
                    continue;
                }
                if let Some(rq) = c.request(t).filter(|m| m.carried.is_none()) {
                    turn_endpoints.insert((rq.dst, rq.transport.as_str()));
                } else if let Some(rs) = c.response(t).filter(|m| m.carried.is_none()) {
                    turn_endpoints.insert((rs.src, rs.transport.as_str()));
                }
            }
            for a in &c.allocations {
                if let Some(r) = a.relayed {
                    relayed.insert(r);
                }
            }
        }
        let n = captures.len();
        let turn_addrs = turn_endpoints.iter().map(|(a, _)| *a).collect();
        let server_ips = turn_endpoints
            .iter()
            .map(|(a, _)| a.ip())
            .chain(relayed.iter().map(|r| r.ip()))
            .collect();
        let relayed_ports = relayed
            .iter()
            .map(|a| a.port())
            .min()
            .zip(relayed.iter().map(|a| a.port()).max());
        let mut case = Case {
            captures,
            roles: vec![Role::Unknown; n],
            role_reasons: vec![String::new(); n],
            role_doubts: vec![None; n],
            txs,
            by_txid,
            turn_endpoints,
            relayed,
            turn_addrs,
            server_ips,
            relayed_ports,
            hints: server,
            offsets: vec![None; n],
            reference: 0,
            nat: Vec::new(),
            paths: HashMap::new(),
        };
        vantage::assign_roles(&mut case, hints);
        correlate::correlate(&mut case);
        case
    }

    /// The capture's transaction behind a sighting.
    pub fn tx(&self, s: Sighting) -> &Transaction {
        &self.captures[s.cap].transactions[s.tx as usize]
    }

    /// The first request sighting in the sighting's capture, None when it saw only answers.
    pub fn request(&self, s: Sighting) -> Option<&Msg> {
        let c = &self.captures[s.cap];
        c.request(c.transactions.get(s.tx as usize)?)
    }

    /// The first response in the sighting's capture, None when it saw none.
    pub fn response(&self, s: Sighting) -> Option<&Msg> {
        let c = &self.captures[s.cap];
        c.response(c.transactions.get(s.tx as usize)?)
    }

    /// The first request sighting of a case transaction (in capture order of the case).
    pub fn any_request(&self, t: &CaseTx) -> Option<(Sighting, &Msg)> {
        t.sightings
            .iter()
            .find_map(|&s| self.request(s).map(|m| (s, m)))
    }

    /// Any response sighting: the server capture's first, else any.
    pub fn any_response(&self, t: &CaseTx) -> Option<(Sighting, &Msg)> {
        let mut best: Option<(Sighting, &Msg)> = None;
        for &s in &t.sightings {
            let c = &self.captures[s.cap];
            if let Some(m) = c.final_response(self.tx(s)) {
                let better = match best {
                    None => true,
                    Some((b, bm)) => {
                        (self.roles[s.cap] == Role::Server && self.roles[b.cap] != Role::Server)
                            || (bm.class != Class::Success && m.class == Class::Success)
                    }
                };
                if better {
                    best = Some((s, m));
                }
            }
        }
        best
    }

    /// How many transactions a case transaction stands for: itself and those counted into it
    /// beyond the memory budget (the most any capture counted into its sighting there).
    pub fn weight(&self, t: &CaseTx) -> usize {
        t.sightings
            .iter()
            .map(|&s| self.tx(s).weight())
            .max()
            .map_or(1, |w| usize::try_from(w).unwrap_or(usize::MAX))
    }

    /// True when some capture saw a response to the transaction.
    pub fn is_answered(&self, t: &CaseTx) -> bool {
        t.sightings
            .iter()
            .any(|&s| !self.tx(s).responses.is_empty())
    }

    /// Indices of client-role and server-role captures.
    pub fn with_role(&self, role: Role) -> Vec<usize> {
        (0..self.captures.len())
            .filter(|&i| self.roles[i] == role)
            .collect()
    }

    /// A timestamp of capture `cap` on the reference capture's clock, in nanoseconds.
    pub fn to_reference(&self, cap: usize, ts: i64) -> i64 {
        match &self.offsets[cap] {
            Some(o) => ts - o.nanos,
            None => ts,
        }
    }

    /// True if the address is a TURN server endpoint seen in the traffic, or, when the traffic
    /// shows none, one on the TURN port given (default 3478). An address seen with one
    /// transport counts for all: a server listens on the same address for UDP and TCP (the
    /// transport is taken for callers that know it).
    pub fn is_turn_endpoint(&self, addr: SocketAddr, _transport: Transport) -> bool {
        if self.turn_addrs.contains(&addr) {
            return true;
        }
        (self.turn_endpoints.is_empty() || self.hints.turn_port_given)
            && addr.port() == self.hints.turn_port
    }

    /// The TURN server's IP addresses as the traffic shows them.
    pub fn server_ips(&self) -> &BTreeSet<IpAddr> {
        &self.server_ips
    }

    /// True if `addr` is a relayed address granted in the case, or (when no allocation shows
    /// the relay range) an address of the server in the relay port range given.
    pub fn is_relay_address(&self, addr: SocketAddr) -> bool {
        if self.relayed.contains(&addr) {
            return true;
        }
        let (lo, hi) = self.relay_range();
        self.server_ips().contains(&addr.ip()) && (lo..=hi).contains(&addr.port())
    }

    /// The relay port range: observed relayed ports, else `--relay-ports` (default 24000-29999).
    pub fn relay_range(&self) -> (u16, u16) {
        match self.relayed_ports {
            Some(observed) if !self.hints.relay_ports_given => observed,
            _ => self.hints.relay_ports,
        }
    }

    /// Display name of a capture.
    pub fn name(&self, cap: usize) -> &str {
        &self.captures[cap].name
    }
}
